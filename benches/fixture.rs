//! Connection fixture for the scale benchmark (`scripts/bench.sh`).
//!
//! `fixture --connections N --processes P [--udp U] [--unix X]` holds N established loopback TCP
//! connections (2N sockets: each client and its accepted peer) plus U bound UDP sockets,
//! spread over P child processes, so that socket listers have a realistic amount of work:
//! many sockets *and* many owning processes. Once everything is in place it prints exactly
//! one line on stdout, `ready connections=N processes=P udp=U unix=X`, and then holds the sockets
//! until its stdin reaches EOF or it receives SIGTERM/SIGINT.
//!
//! Linux only (prctl(PR_SET_PDEATHSIG), signalfd); elsewhere it exits with an error.

#[cfg(target_os = "linux")]
fn main() {
    linux::main()
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("fixture: only supported on Linux");
    std::process::exit(1);
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io::{self, BufRead, BufReader, Write};
    use std::mem;
    use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::process::{self, Child, Command, ExitStatus, Stdio};
    use std::time::Instant;

    const USAGE: &str = "usage: fixture --connections N --processes P [--udp U] [--unix X]\n\
        \n\
        Holds N established loopback TCP connections (2N sockets), U bound UDP sockets\n\
        (default 100) and X connected Unix stream socket pairs (default 0), spread over P child\n\
        processes. Prints one line\n\
        `ready connections=N processes=P udp=U unix=X` when they are all open, then holds them until\n\
        stdin reaches EOF or SIGTERM/SIGINT arrives.";
    const DEFAULT_UDP: usize = 100;
    const MAX_PROCESSES: usize = 10_000;
    /// Each listener port is a fresh 4-tuple space; staying under this keeps a listener's
    /// clients well inside the default ephemeral range (32768-60999, ~28k ports).
    const MAX_CONNECTIONS_PER_LISTENER: usize = 20_000;
    /// Deep backlog so a whole batch of connects fits (the kernel caps it at net.core.somaxconn).
    const LISTEN_BACKLOG: libc::c_int = 4096;
    /// Connects made before draining the accept queue: at most 128 so even an old
    /// somaxconn of 128 never overflows (an overflow drops the SYN and costs a 1 s retry).
    const CONNECT_BATCH: usize = 128;
    /// Descriptors beyond the sockets: stdio, pipes, listeners, the odd library fd.
    const FD_HEADROOM: usize = 64;

    type Result<T> = std::result::Result<T, String>;

    struct Shape {
        connections: usize,
        processes: usize,
        udp: usize,
        unix: usize,
    }

    enum Mode {
        Help,
        Parent(Shape),
        /// Hidden: a re-executed child holding its share (index, connections, udp).
        Child {
            index: usize,
            connections: usize,
            udp: usize,
            unix: usize,
        },
    }

    pub fn main() {
        let mode = match parse_args(std::env::args().skip(1)) {
            Ok(mode) => mode,
            Err(message) => {
                eprintln!("fixture: {message} (see --help)");
                process::exit(2);
            }
        };
        let outcome = match mode {
            Mode::Help => {
                println!("{USAGE}");
                Ok(())
            }
            Mode::Parent(shape) => run_parent(&shape).map_err(|e| format!("fixture: {e}")),
            Mode::Child {
                index,
                connections,
                udp,
                unix,
            } => {
                run_child(connections, udp, unix).map_err(|e| format!("fixture child {index}: {e}"))
            }
        };
        if let Err(message) = outcome {
            eprintln!("{message}");
            process::exit(1);
        }
    }

    fn parse_args(args: impl Iterator<Item = String>) -> Result<Mode> {
        let mut connections = None;
        let mut processes = None;
        let mut udp = None;
        let mut unix = None;
        let mut child_index = None;
        let mut args = args.peekable();
        while let Some(arg) = args.next() {
            // Accept both `--flag value` and `--flag=value`.
            let (flag, inline_value) = match arg.split_once('=') {
                Some((flag, value)) => (flag.to_string(), Some(value.to_string())),
                None => (arg.clone(), None),
            };
            if flag == "--help" || flag == "-h" {
                return Ok(Mode::Help);
            }
            let slot = match flag.as_str() {
                "--connections" => &mut connections,
                "--processes" => &mut processes,
                "--udp" => &mut udp,
                "--unix" => &mut unix,
                "--child" => &mut child_index,
                _ => return Err(format!("unknown argument '{arg}'")),
            };
            let value = match inline_value.or_else(|| args.next()) {
                Some(value) => value,
                None => return Err(format!("{flag} needs a value")),
            };
            let number = value
                .parse::<usize>()
                .map_err(|_| format!("{flag}: expected a non-negative integer, got '{value}'"))?;
            *slot = Some(number);
        }

        let connections = connections.ok_or("--connections is required")?;
        let udp = udp.unwrap_or(DEFAULT_UDP);
        let unix = unix.unwrap_or(0);
        if let Some(index) = child_index {
            return Ok(Mode::Child {
                index,
                connections,
                udp,
                unix,
            });
        }
        let processes = processes.ok_or("--processes is required")?;
        if processes == 0 || processes > MAX_PROCESSES {
            return Err(format!(
                "--processes must be between 1 and {MAX_PROCESSES}, got {processes}"
            ));
        }
        Ok(Mode::Parent(Shape {
            connections,
            processes,
            udp,
            unix,
        }))
    }

    /// Part `index` of `total` split over `parts` as evenly as possible (the first
    /// `total % parts` parts get one extra), so N need not be divisible by P.
    fn share(total: usize, parts: usize, index: usize) -> usize {
        total / parts + usize::from(index < total % parts)
    }

    fn listeners_needed(connections: usize) -> usize {
        connections.div_ceil(MAX_CONNECTIONS_PER_LISTENER)
    }

    fn child_fds_needed(connections: usize, udp: usize, unix: usize) -> usize {
        2 * connections + udp + 2 * unix + listeners_needed(connections) + FD_HEADROOM
    }

    fn os_error(what: &str) -> String {
        format!("{what}: {}", io::Error::last_os_error())
    }

    /// Raises RLIMIT_NOFILE so `needed` descriptors fit; raises the hard limit too when
    /// allowed (root), which children inherit.
    fn raise_fd_limit(needed: usize) -> Result<()> {
        let needed = needed as libc::rlim_t;
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the rlimit we own.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
            return Err(os_error("getrlimit(RLIMIT_NOFILE)"));
        }
        if limit.rlim_cur >= needed {
            return Ok(());
        }
        let hard = limit.rlim_max;
        let wanted = libc::rlimit {
            rlim_cur: needed,
            rlim_max: hard.max(needed),
        };
        // SAFETY: setrlimit only reads the rlimit we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) } != 0 {
            let error = io::Error::last_os_error();
            // Not even root can go past fs.nr_open, so name it when that is the wall hit.
            let kernel_max = std::fs::read_to_string("/proc/sys/fs/nr_open")
                .ok()
                .and_then(|text| text.trim().parse::<libc::rlim_t>().ok())
                .filter(|&max| needed > max)
                .map(|max| format!(", above the kernel maximum fs.nr_open = {max}"))
                .unwrap_or_default();
            return Err(format!(
                "need {needed} open files per process but RLIMIT_NOFILE hard limit is {hard} and \
                 raising it failed ({error}{kernel_max}); use more --processes"
            ));
        }
        Ok(())
    }

    fn run_parent(shape: &Shape) -> Result<()> {
        let started = Instant::now();
        // Share 0 is the largest; raising the limit here first lets children inherit a
        // raised hard limit, and the parent itself holds two pipes per child.
        let largest_child = child_fds_needed(
            share(shape.connections, shape.processes, 0),
            share(shape.udp, shape.processes, 0),
            share(shape.unix, shape.processes, 0),
        );
        raise_fd_limit(largest_child.max(2 * shape.processes + FD_HEADROOM))?;

        let exe = std::env::current_exe()
            .map_err(|e| format!("cannot find own executable to re-run: {e}"))?;
        let parent_pid = process::id();
        let mut children = Children(Vec::with_capacity(shape.processes));
        for index in 0..shape.processes {
            let mut command = Command::new(&exe);
            command
                .arg("--child")
                .arg(index.to_string())
                .arg("--connections")
                .arg(share(shape.connections, shape.processes, index).to_string())
                .arg("--udp")
                .arg(share(shape.udp, shape.processes, index).to_string())
                .arg("--unix")
                .arg(share(shape.unix, shape.processes, index).to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit());
            // SAFETY: the hook only makes async-signal-safe calls (prctl, getppid).
            unsafe {
                command.pre_exec(move || die_with_parent(parent_pid));
            }
            let child = command
                .spawn()
                .map_err(|e| format!("spawning child {index} of {}: {e}", shape.processes))?;
            children.0.push(child);
        }

        for index in 0..children.0.len() {
            wait_until_ready(&mut children.0[index])
                .map_err(|e| format!("child {index} of {}: {e}", shape.processes))?;
        }

        let stop = StopSignals::block()?;
        eprintln!(
            "fixture: ready in {:.2} s: {} tcp connections, {} udp sockets, {} unix socket pairs, \
             {} child processes",
            started.elapsed().as_secs_f64(),
            shape.connections,
            shape.udp,
            shape.unix,
            shape.processes
        );
        let mut stdout = io::stdout().lock();
        writeln!(
            stdout,
            "ready connections={} processes={} udp={} unix={}",
            shape.connections, shape.processes, shape.udp, shape.unix
        )
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("writing ready line: {e}"))?;
        drop(stdout);

        // Check before the first wait too: a child may have died before SIGCHLD was blocked.
        loop {
            if let Some(lost) = children.first_exited() {
                return Err(format!("{lost} while holding its connections; stopping"));
            }
            if let Wake::Stop = stop.wait()? {
                break;
            }
        }
        drop(children); // kills and reaps
        Ok(())
    }

    /// Runs in the forked child just before exec: SIGKILL us if the parent dies, and
    /// bail out if it already died before prctl took effect.
    fn die_with_parent(parent_pid: u32) -> io::Result<()> {
        // SAFETY: prctl and getppid are async-signal-safe and take no pointers here.
        unsafe {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() as u32 != parent_pid {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
        }
        Ok(())
    }

    fn wait_until_ready(child: &mut Child) -> Result<()> {
        let stdout = child.stdout.take().ok_or("child has no stdout pipe")?;
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        if read.is_ok() && line.trim_end() == "ready" {
            return Ok(());
        }
        // The child closed its stdout without reporting ready, so it is exiting: say how.
        let status = child
            .wait()
            .map(|status| describe(&status))
            .unwrap_or_else(|e| format!("status unknown ({e})"));
        let got = match read {
            Err(e) => format!("reading its stdout failed ({e})"),
            Ok(0) => "it exited before reporting ready".to_string(),
            Ok(_) => format!("it printed {:?} instead of ready", line.trim_end()),
        };
        Err(format!("{got}; {status} (its error, if any, is above)"))
    }

    fn describe(status: &ExitStatus) -> String {
        match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit status {code}"),
            (None, Some(signal)) => format!("killed by signal {signal}"),
            _ => status.to_string(),
        }
    }

    /// The parent's children: dropping kills (SIGKILL) and reaps them all, on success and
    /// on every error path alike.
    struct Children(Vec<Child>);

    impl Children {
        /// Describes the first child that has exited, if any (without blocking).
        fn first_exited(&mut self) -> Option<String> {
            self.0
                .iter_mut()
                .enumerate()
                .find_map(|(index, child)| match child.try_wait() {
                    Ok(Some(status)) => {
                        Some(format!("child {index} exited ({})", describe(&status)))
                    }
                    Ok(None) => None,
                    Err(e) => Some(format!("child {index} cannot be waited for ({e})")),
                })
        }
    }

    impl Drop for Children {
        fn drop(&mut self) {
            for child in &mut self.0 {
                let _ = child.kill();
            }
            for child in &mut self.0 {
                let _ = child.wait();
            }
        }
    }

    /// Why the parent's wait ended.
    enum Wake {
        /// stdin reached EOF, or SIGINT/SIGTERM arrived.
        Stop,
        /// SIGCHLD: some child changed state.
        ChildExited,
    }

    /// SIGINT/SIGTERM/SIGCHLD blocked and routed to a signalfd, so one poll() waits for a
    /// signal or EOF on stdin without signal-handler races.
    struct StopSignals {
        signal_fd: OwnedFd,
    }

    impl StopSignals {
        fn block() -> Result<Self> {
            // SAFETY: sigset_t is plain data; the sig* calls only touch the set we own.
            let signal_fd = unsafe {
                let mut mask: libc::sigset_t = mem::zeroed();
                libc::sigemptyset(&mut mask);
                libc::sigaddset(&mut mask, libc::SIGINT);
                libc::sigaddset(&mut mask, libc::SIGTERM);
                libc::sigaddset(&mut mask, libc::SIGCHLD);
                let error = libc::pthread_sigmask(libc::SIG_BLOCK, &mask, std::ptr::null_mut());
                if error != 0 {
                    return Err(format!(
                        "blocking SIGINT/SIGTERM/SIGCHLD: {}",
                        io::Error::from_raw_os_error(error)
                    ));
                }
                let fd = libc::signalfd(-1, &mask, libc::SFD_CLOEXEC);
                if fd < 0 {
                    return Err(os_error("signalfd"));
                }
                OwnedFd::from_raw_fd(fd)
            };
            Ok(StopSignals { signal_fd })
        }

        /// Returns once stdin reaches EOF, a signal arrives, or a child changes state.
        fn wait(&self) -> Result<Wake> {
            const STDIN: RawFd = 0;
            let mut watched = [
                libc::pollfd {
                    fd: STDIN,
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: self.signal_fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            let mut buffer = [0u8; 4096];
            loop {
                // SAFETY: poll reads and writes only the array we own, of the length given.
                let ready = unsafe { libc::poll(watched.as_mut_ptr(), watched.len() as _, -1) };
                if ready < 0 {
                    if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                        continue;
                    }
                    return Err(os_error("poll"));
                }
                if watched[1].revents != 0 {
                    return self.read_signal();
                }
                let stdin_events = watched[0].revents;
                if stdin_events & libc::POLLNVAL != 0 {
                    // stdin is closed outright: only a signal can stop us now.
                    watched[0].fd = -1;
                } else if stdin_events != 0 {
                    // SAFETY: read writes at most buffer.len() bytes into the buffer we own.
                    let count =
                        unsafe { libc::read(STDIN, buffer.as_mut_ptr().cast(), buffer.len()) };
                    let interrupted = count < 0
                        && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted;
                    // Input is discarded; EOF (or a broken stdin) means stop.
                    if count == 0 || (count < 0 && !interrupted) {
                        return Ok(Wake::Stop);
                    }
                }
            }
        }

        /// Consumes one pending signal from the signalfd and says what it means.
        fn read_signal(&self) -> Result<Wake> {
            // SAFETY: signalfd_siginfo is plain data; read fills at most its size.
            let info = unsafe {
                let mut info: libc::signalfd_siginfo = mem::zeroed();
                let size = mem::size_of::<libc::signalfd_siginfo>();
                let count = libc::read(self.signal_fd.as_raw_fd(), (&raw mut info).cast(), size);
                if count != size as isize {
                    return Err(os_error("reading signalfd"));
                }
                info
            };
            if info.ssi_signo == libc::SIGCHLD as u32 {
                Ok(Wake::ChildExited)
            } else {
                Ok(Wake::Stop)
            }
        }
    }

    fn run_child(connections: usize, udp: usize, unix: usize) -> Result<()> {
        raise_fd_limit(child_fds_needed(connections, udp, unix))?;
        let listener_count = listeners_needed(connections);
        let listeners = (0..listener_count)
            .map(|_| loopback_listener())
            .collect::<Result<Vec<_>>>()?;

        let mut tcp_sockets: Vec<TcpStream> = Vec::with_capacity(2 * connections);
        for (index, listener) in listeners.iter().enumerate() {
            let address = listener
                .local_addr()
                .map_err(|e| format!("listener address: {e}"))?;
            let mut remaining = share(connections, listener_count, index);
            while remaining > 0 {
                let batch = remaining.min(CONNECT_BATCH);
                for _ in 0..batch {
                    let client = TcpStream::connect(address).map_err(|e| {
                        format!(
                            "connect to {address} after {} connections: {e} \
                             (out of ephemeral ports or file descriptors?)",
                            tcp_sockets.len() / 2
                        )
                    })?;
                    abort_on_close(&client)?;
                    tcp_sockets.push(client);
                }
                for _ in 0..batch {
                    let (server, _) = listener
                        .accept()
                        .map_err(|e| format!("accept on {address}: {e}"))?;
                    abort_on_close(&server)?;
                    tcp_sockets.push(server);
                }
                remaining -= batch;
            }
        }

        let udp_sockets = (0..udp)
            .map(|_| UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)))
            .collect::<io::Result<Vec<_>>>()
            .map_err(|e| format!("binding udp socket on 127.0.0.1: {e}"))?;
        let unix_pairs = (0..unix)
            .map(|_| std::os::unix::net::UnixStream::pair())
            .collect::<io::Result<Vec<_>>>()
            .map_err(|e| format!("creating a unix socket pair: {e}"))?;

        let mut stdout = io::stdout().lock();
        writeln!(stdout, "ready")
            .and_then(|()| stdout.flush())
            .map_err(|e| format!("reporting ready to parent: {e}"))?;

        // Hold everything until the parent closes our stdin (or dies, which closes it too).
        let _ = io::copy(&mut io::stdin().lock(), &mut io::sink());
        drop((listeners, tcp_sockets, udp_sockets, unix_pairs));
        Ok(())
    }

    /// A listener on 127.0.0.1:0 built by hand because std's bind picks its own backlog.
    fn loopback_listener() -> Result<TcpListener> {
        // SAFETY: plain socket/bind/listen calls; the fd is owned by OwnedFd right away and
        // the sockaddr_in outlives the bind call that reads it.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            if fd < 0 {
                return Err(os_error("socket(AF_INET, SOCK_STREAM)"));
            }
            let socket = OwnedFd::from_raw_fd(fd);
            let mut address: libc::sockaddr_in = mem::zeroed();
            address.sin_family = libc::AF_INET as libc::sa_family_t;
            address.sin_port = 0;
            address.sin_addr.s_addr = u32::from(Ipv4Addr::LOCALHOST).to_be();
            let bound = libc::bind(
                socket.as_raw_fd(),
                (&raw const address).cast(),
                mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            );
            if bound != 0 {
                return Err(os_error("bind 127.0.0.1:0"));
            }
            if libc::listen(socket.as_raw_fd(), LISTEN_BACKLOG) != 0 {
                return Err(os_error("listen"));
            }
            Ok(TcpListener::from(socket))
        }
    }

    /// SO_LINGER {on, 0}: closing sends RST instead of FIN, so stopping the fixture leaves
    /// no TIME_WAIT sockets behind to skew the next run. Set on both ends for certainty.
    fn abort_on_close(socket: &TcpStream) -> Result<()> {
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: setsockopt only reads the linger struct, whose size we pass.
        let result = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&raw const linger).cast(),
                mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        if result != 0 {
            return Err(os_error("setsockopt(SO_LINGER)"));
        }
        Ok(())
    }

    #[cfg(test)]
    mod tests {
        use super::share;

        #[test]
        fn shares_add_up_and_differ_by_at_most_one() {
            for (total, parts) in [(100_000, 200), (10_001, 7), (3, 5), (0, 4)] {
                let shares: Vec<usize> = (0..parts).map(|i| share(total, parts, i)).collect();
                assert_eq!(shares.iter().sum::<usize>(), total);
                let spread = shares.iter().max().unwrap() - shares.iter().min().unwrap();
                assert!(spread <= 1);
            }
        }
    }
}
