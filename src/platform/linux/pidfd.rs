//! SIGTERM to the process holding a socket, safely. The owner list the user saw may be stale
//! (the process exited and its pid now names another one), so at the moment of sending the
//! target is pinned with a pidfd, shown to still hold the socket's inode, and signalled through
//! that pidfd: a reused pid cannot be hit. A process that reused the pid and inherited the
//! socket is told apart by its start time, recorded when the user chose it and read again
//! through the pinned process.

use std::time::SystemTime;

use crate::format::clock;
use crate::platform::signal::{ProcessStart, refusal};

/// When process `pid` started; `None` if it exited or its /proc entry is unreadable.
pub fn process_start(pid: u32) -> Option<ProcessStart> {
    start_from_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// The start recorded in the text of a /proc/PID/stat.
fn start_from_stat(stat: &str) -> Option<ProcessStart> {
    let ticks = start_ticks(stat)?;
    // SAFETY: sysconf takes a plain integer.
    let per_second = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) })
        .ok()
        .filter(|&hz| hz > 0);
    let at = per_second.zip(boot_time()).map(|(hz, boot)| {
        boot + std::time::Duration::from_secs(ticks / hz)
            + std::time::Duration::from_nanos(ticks % hz * 1_000_000_000 / hz)
    });
    Some(ProcessStart { ticks, at })
}

/// Field 22 (starttime) of a /proc/PID/stat text.
fn start_ticks(stat: &str) -> Option<u64> {
    // `pid (name) state ...`: the name may hold spaces and parentheses, so split after the last `)`.
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(22 - 3)?
        .parse()
        .ok()
}

/// The boot time (`btime` of /proc/stat).
fn boot_time() -> Option<SystemTime> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let seconds = stat
        .lines()
        .find_map(|line| line.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds))
}

/// Whether the process now at `pid` (started `now`) is the one chosen (started `chosen`):
/// anything short of equal start times is refused.
fn same_process(
    pid: u32,
    chosen: Option<ProcessStart>,
    now: Option<ProcessStart>,
) -> Result<(), String> {
    let Some(chosen) = chosen else {
        return Err(format!(
            "the start of pid {pid} was not known when chosen, so a process that reused the pid \
             cannot be told apart: nothing was sent"
        ));
    };
    match now {
        Some(now) if now.ticks == chosen.ticks => Ok(()),
        Some(now) => Err(format!(
            "pid {pid} is now another process (started {}): nothing was sent",
            now.at.map_or_else(|| "unknown".to_string(), clock)
        )),
        None => Err(format!(
            "the start of pid {pid} cannot be read now: nothing was sent"
        )),
    }
}

/// SIGTERM to `pid` if, at this moment, it is still the process that `started` then and holds
/// the socket `inode`; otherwise nothing is sent and the error says why.
pub fn terminate_holder(
    pid: u32,
    inode: Option<u64>,
    started: Option<ProcessStart>,
) -> Result<(), String> {
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
    let now = std::fs::read_to_string(format!("/proc/self/fd/{}/stat", proc_dir.as_raw_fd()))
        .ok()
        .and_then(|stat| start_from_stat(&stat));
    same_process(pid, started, now)?;
    if !holds_inode(proc_dir.as_raw_fd(), inode) {
        return Err(format!(
            "it no longer holds this socket (inode {inode}): nothing sent"
        ));
    }
    send(&pidfd, libc::SIGTERM)
}

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

#[cfg(test)]
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
        assert_eq!(
            terminate_holder(holder.id(), Some(inode), process_start(holder.id())),
            Ok(())
        );
        let status = holder.wait().expect("wait on python3");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGTERM));
    }

    #[test]
    #[cfg_attr(not(has_python3), ignore = "needs python3 (apt-get install python3)")]
    fn sends_nothing_to_a_process_that_does_not_hold_the_socket() {
        let (mut holder, inode) = python_holder();
        let mut innocent = Command::new("sleep").arg("60").spawn().expect("run sleep");
        let result = terminate_holder(innocent.id(), Some(inode), process_start(innocent.id()));
        assert!(
            result
                .as_ref()
                .is_err_and(|why| why.contains("no longer holds this socket")),
            "{result:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(innocent.try_wait().expect("wait on sleep").is_none());
        assert!(terminate_holder(innocent.id(), None, process_start(innocent.id())).is_err());
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(innocent.try_wait().expect("wait on sleep").is_none());
        for child in [&mut holder, &mut innocent] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    #[test]
    #[cfg_attr(not(has_python3), ignore = "needs python3 (apt-get install python3)")]
    fn sends_nothing_to_a_holder_that_started_at_another_time() {
        let (mut holder, inode) = python_holder();
        let started = process_start(holder.id()).expect("python3's start");
        let other = ProcessStart {
            ticks: started.ticks + 1,
            ..started
        };
        let result = terminate_holder(holder.id(), Some(inode), Some(other));
        let expected = format!("pid {} is now another process (started ", holder.id());
        assert!(
            result.as_ref().is_err_and(|why| why.starts_with(&expected)),
            "{result:?}"
        );
        let unknown = terminate_holder(holder.id(), Some(inode), None);
        assert!(
            unknown
                .as_ref()
                .is_err_and(|why| why.contains("was not known")),
            "{unknown:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(holder.try_wait().expect("wait on python3").is_none());
        let _ = holder.kill();
        let _ = holder.wait();
    }

    #[test]
    fn start_time_is_field_22_of_stat_and_near_now_for_a_new_process() {
        let stat = "1234 (a) b) c) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 424242 20 21";
        assert_eq!(start_ticks(stat), Some(424_242));
        assert_eq!(start_ticks("1234 (short) S 1 2"), None);
        let mut child = Command::new("sleep").arg("5").spawn().expect("run sleep");
        let at = process_start(child.id())
            .and_then(|start| start.at)
            .expect("sleep's start as a time");
        let off = at
            .duration_since(SystemTime::now())
            .unwrap_or_else(|e| e.duration());
        assert!(off.as_secs() <= 2, "{at:?} is {off:?} off now");
        let _ = child.kill();
        let _ = child.wait();
    }

    #[test]
    fn only_the_same_start_time_is_the_same_process() {
        let start = |ticks| ProcessStart {
            ticks,
            at: Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(3600 + 61)),
        };
        assert_eq!(same_process(7, Some(start(10)), Some(start(10))), Ok(()));
        assert_eq!(
            same_process(7, Some(start(10)), Some(start(11))),
            Err("pid 7 is now another process (started 01:01:01 UTC): nothing was sent".into())
        );
        assert!(same_process(7, None, Some(start(10))).is_err());
        assert!(same_process(7, Some(start(10)), None).is_err());
    }

    #[test]
    fn an_exited_pid_is_no_such_process() {
        let mut gone = Command::new("true").spawn().expect("run true");
        let pid = gone.id();
        gone.wait().expect("reap true");
        let result = terminate_holder(pid, Some(1), None);
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
            terminate_holder(std::process::id(), Some(inode), None),
            Err("that is rnetstat itself".to_string())
        );
        assert_eq!(
            terminate_holder(1, Some(inode), None),
            Err("pid 1 (init) is never signalled".to_string())
        );
    }
}
