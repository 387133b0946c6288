//! The dashboard's one dangerous action: SIGTERM to the process holding a socket. The owner
//! list the user saw may be stale (the process exited and its pid now names another one), so
//! at the moment of sending the target is pinned with a pidfd, shown to still hold the
//! socket's inode, and signalled through that pidfd: a reused pid cannot be hit.

/// Pid 1 (init) and rnetstat itself: never signalled, whatever the socket says.
pub fn refusal(pid: u32) -> Option<&'static str> {
    if pid == 1 {
        Some("pid 1 (init) is never signalled")
    } else if pid == std::process::id() {
        Some("that is rnetstat itself")
    } else {
        None
    }
}

/// SIGTERM to `pid` if, at this moment, it still holds the socket `inode`; otherwise nothing
/// is sent and the error says why.
#[cfg(target_os = "linux")]
pub fn terminate_holder(pid: u32, inode: Option<u64>) -> Result<(), String> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    if let Some(why) = refusal(pid) {
        return Err(why.to_string());
    }
    // 0 and negative pids address process groups: never let a pid turn into one.
    let target = libc::pid_t::try_from(pid)
        .ok()
        .filter(|&p| p > 0)
        .ok_or_else(|| format!("{pid} is not a process id"))?;
    let inode = inode.ok_or("the socket has no inode, so its holder cannot be verified")?;

    // SAFETY: pidfd_open takes a pid and flags; the result is checked before use.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, target, 0) };
    if raw < 0 {
        return Err(os_reason(&std::io::Error::last_os_error()));
    }
    // SAFETY: raw is a fresh descriptor that nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(raw as libc::c_int) };
    let proc_dir = std::fs::File::open(format!("/proc/{pid}"))
        .map_err(|e| format!("reading /proc/{pid}: {}", os_reason(&e)))?;
    // Alive after /proc/PID was opened: the pid was not freed since pidfd_open, so that
    // directory is the pidfd's process (a directory of an exited process only fails reads).
    send(&pidfd, 0)?;
    if !holds_inode(proc_dir.as_raw_fd(), inode) {
        return Err(format!(
            "it no longer holds this socket (inode {inode}): nothing sent"
        ));
    }
    send(&pidfd, libc::SIGTERM)
}

#[cfg(not(target_os = "linux"))]
pub fn terminate_holder(_pid: u32, _inode: Option<u64>) -> Result<(), String> {
    Err("killing processes is not supported on this OS".to_string())
}

#[cfg(target_os = "linux")]
fn send(pidfd: &std::os::fd::OwnedFd, signal: libc::c_int) -> Result<(), String> {
    use std::os::fd::AsRawFd;
    // SAFETY: pidfd_send_signal with a null siginfo and no flags: plain integers only.
    let sent = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if sent == 0 {
        Ok(())
    } else {
        Err(os_reason(&std::io::Error::last_os_error()))
    }
}

/// Whether the process whose /proc directory is `proc_dir` has an fd on socket `inode`.
#[cfg(target_os = "linux")]
fn holds_inode(proc_dir: libc::c_int, inode: u64) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let wanted = format!("socket:[{inode}]");
    let fd_dir = format!("/proc/self/fd/{proc_dir}/fd");
    let Ok(entries) = std::fs::read_dir(&fd_dir) else {
        return false;
    };
    entries.flatten().any(|entry| {
        std::fs::read_link(entry.path())
            .is_ok_and(|target| target.as_os_str().as_bytes() == wanted.as_bytes())
    })
}

#[cfg(target_os = "linux")]
fn os_reason(error: &std::io::Error) -> String {
    match error.raw_os_error() {
        Some(libc::EPERM) => "permission denied (EPERM)".to_string(),
        Some(libc::ESRCH) => "no such process (ESRCH)".to_string(),
        Some(libc::EACCES) => "permission denied (EACCES)".to_string(),
        Some(libc::ENOENT) => "no such process (ENOENT)".to_string(),
        Some(libc::ENOSYS) => {
            "this kernel has no pidfd_open (Linux 5.3 or later needed)".to_string()
        }
        _ => error.to_string(),
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::process::{Command, Stdio};

    /// A python3 child listening on loopback, and its socket's inode.
    fn python_holder() -> (std::process::Child, u64) {
        let mut child = Command::new("python3")
            .args([
                "-c",
                "import os, socket, time\n\
                 s = socket.socket()\n\
                 s.bind(('127.0.0.1', 0))\n\
                 s.listen()\n\
                 print(os.fstat(s.fileno()).st_ino, flush=True)\n\
                 time.sleep(60)\n",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("run python3");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("python3 prints its inode");
        (child, line.trim().parse().expect("an inode"))
    }

    #[test]
    #[cfg_attr(not(has_python3), ignore = "needs python3 (apt-get install python3)")]
    fn signals_the_process_that_holds_the_socket() {
        let (mut holder, inode) = python_holder();
        assert_eq!(terminate_holder(holder.id(), Some(inode)), Ok(()));
        let status = holder.wait().expect("wait on python3");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGTERM));
    }

    #[test]
    #[cfg_attr(not(has_python3), ignore = "needs python3 (apt-get install python3)")]
    fn sends_nothing_to_a_process_that_does_not_hold_the_socket() {
        let (mut holder, inode) = python_holder();
        let mut innocent = Command::new("sleep").arg("60").spawn().expect("run sleep");
        let result = terminate_holder(innocent.id(), Some(inode));
        assert!(
            result
                .as_ref()
                .is_err_and(|why| why.contains("no longer holds this socket")),
            "{result:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(innocent.try_wait().expect("wait on sleep").is_none());
        assert!(terminate_holder(innocent.id(), None).is_err());
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(innocent.try_wait().expect("wait on sleep").is_none());
        for child in [&mut holder, &mut innocent] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    #[test]
    fn an_exited_pid_is_no_such_process() {
        let mut gone = Command::new("true").spawn().expect("run true");
        let pid = gone.id();
        gone.wait().expect("reap true");
        let result = terminate_holder(pid, Some(1));
        assert!(result.is_err(), "{result:?}");
    }

    #[test]
    fn init_and_rnetstat_itself_are_refused() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        use std::os::fd::AsRawFd;
        let link = std::fs::read_link(format!("/proc/self/fd/{}", listener.as_raw_fd()))
            .expect("our socket's fd link");
        let inode: u64 = link
            .to_string_lossy()
            .trim_start_matches("socket:[")
            .trim_end_matches(']')
            .parse()
            .expect("an inode");
        assert_eq!(
            terminate_holder(std::process::id(), Some(inode)),
            Err("that is rnetstat itself".to_string())
        );
        assert_eq!(
            terminate_holder(1, Some(inode)),
            Err("pid 1 (init) is never signalled".to_string())
        );
    }
}
