//! `rnetstat --live` in a real terminal: tmux runs the real binary, the test types into it and
//! reads the screen back. Each test has its own tmux server (`-L`), killed even on failure.
// Linux only: these run the Linux collector and read /proc, ss or tmux.
#![cfg(target_os = "linux")]

mod common;

use std::net::TcpListener;
use std::process::{Command, Output};
use std::thread;
use std::time::{Duration, Instant};

/// How long the screen may take to show what a test waits for.
const WAIT: Duration = Duration::from_secs(15);

/// A private tmux server with one session, `live`, running `command` in a 160x40 pane.
struct Tmux {
    server: String,
}

impl Tmux {
    /// Tests that call this are ignored when the build found no tmux (`has_tmux`).
    fn start(name: &str, command: &str) -> Tmux {
        Tmux::start_sized(name, command, 160, 40)
    }

    /// [`Tmux::start`] in a pane `width` x `height`.
    fn start_sized(name: &str, command: &str, width: u16, height: u16) -> Tmux {
        let tmux = Tmux {
            server: format!("rnetstat-test-{name}-{}", std::process::id()),
        };
        let output = tmux.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "live",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            command,
        ]);
        assert!(
            output.status.success(),
            "tmux new-session failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        tmux
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.server])
            .args(args)
            .output()
            .expect("run tmux")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "live"]).stdout)
            .into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "live"];
        args.extend_from_slice(keys);
        assert!(self.run(&args).status.success(), "tmux send-keys {keys:?}");
    }

    /// Poll the screen until `ready` holds (bounded), and return it.
    fn wait_for(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        self.wait_until(Instant::now() + WAIT, what, ready)
    }

    /// Poll the screen until `ready` holds, failing at `deadline`.
    fn wait_until(&self, deadline: Instant, what: &str, ready: impl Fn(&str) -> bool) -> String {
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen:\n{screen}"
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// The pid of the program the pane's shell is running: the process whose parent it is.
    fn child_of_shell(&self) -> u32 {
        let output = self.run(&["list-panes", "-t", "live", "-F", "#{pane_pid}"]);
        let shell: u32 = String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .expect("pane pid");
        let entries = std::fs::read_dir("/proc").expect("read /proc");
        entries
            .filter_map(|entry| {
                let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                // `pid (comm) state ppid ...`: comm may hold spaces, so split after its `)`.
                let ppid: u32 = stat
                    .rsplit_once(')')?
                    .1
                    .split_whitespace()
                    .nth(1)?
                    .parse()
                    .ok()?;
                (ppid == shell).then_some(pid)
            })
            .next()
            .expect("the pane's shell runs rnetstat")
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// Run the dashboard under bash so that, once it exits, its status lands on the normal screen.
/// No core file: a test may kill it with SIGQUIT.
fn dashboard_command(flags: &str) -> String {
    format!(
        "bash -c \"ulimit -c 0; '{}' --live --numeric-hosts {flags}; echo EXITED:\\$?; sleep 60\"",
        env!("CARGO_BIN_EXE_rnetstat")
    )
}

/// The table's rows on a dashboard screen: between the column titles and the footer.
fn table_rows(screen: &str) -> Vec<&str> {
    screen
        .lines()
        .skip_while(|line| !line.trim_start().starts_with("Proto"))
        .skip(1)
        .filter(|line| {
            !line.trim().is_empty() && !line.contains("q quit ·") && !line.starts_with('/')
        })
        .collect()
}

#[test]
#[cfg_attr(not(has_tmux), ignore = "needs tmux (apt-get install tmux)")]
fn live_dashboard_filters_by_port_and_restores_the_terminal_on_quit() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback listener");
    let port = listener
        .local_addr()
        .expect("local address")
        .port()
        .to_string();
    let tmux = Tmux::start("quit", &dashboard_command("-t -l"));
    tmux.wait_for("the first refresh", |screen| screen.contains("refreshed"));

    tmux.keys(&["/"]);
    tmux.keys(&["-l", &port]);
    let local = format!("127.0.0.1:{port}");
    // Until every row has the port: tmux may show a frame half drawn.
    let screen = tmux.wait_for(
        &format!("only rows with {port} after filtering"),
        |screen| {
            screen.contains(&format!("filter: {port}"))
                && screen.contains(&local)
                && table_rows(screen).iter().all(|row| row.contains(&port))
        },
    );
    let rows = table_rows(&screen);
    let ours = rows
        .iter()
        .find(|row| row.contains(&local))
        .expect("our listener's row");
    assert!(ours.contains("LISTEN"), "{ours}");
    assert!(
        ours.contains(&std::process::id().to_string()),
        "owner pid missing: {ours}"
    );

    tmux.keys(&["Enter"]);
    tmux.keys(&["q"]);
    let screen = tmux.wait_for("the dashboard to exit", |screen| screen.contains("EXITED:"));
    assert!(screen.contains("EXITED:0"), "{screen}");
    assert!(
        !screen.contains("Local Address") && !screen.contains("rnetstat --live"),
        "the alternate screen is still showing:\n{screen}"
    );
}

#[test]
#[cfg_attr(not(has_tmux), ignore = "needs tmux (apt-get install tmux)")]
fn live_dashboard_restores_the_terminal_on_sigterm() {
    let tmux = Tmux::start("sigterm", &dashboard_command("-l"));
    tmux.wait_for("the dashboard", |screen| screen.contains("Local Address"));
    let pid = tmux.child_of_shell();
    let status = Command::new("bash")
        .args(["-c", &format!("kill -TERM {pid}")])
        .status()
        .expect("run kill");
    assert!(status.success());
    let screen = tmux.wait_for("the dashboard to exit", |screen| screen.contains("EXITED:"));
    assert!(screen.contains("EXITED:0"), "{screen}");
    assert!(
        !screen.contains("Local Address"),
        "the alternate screen is still showing:\n{screen}"
    );
}

#[test]
fn live_without_a_terminal_is_a_one_line_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_rnetstat"))
        .arg("--live")
        .output()
        .expect("run rnetstat");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "rnetstat: --live needs a terminal\n"
    );
}

#[test]
fn live_flag_usage_errors_exit_2() {
    for args in [
        &["--live", "--json"][..],
        &["--live", "--interval", "0"],
        &["--live", "--interval", "3601"],
        &["--interval", "1"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_rnetstat"))
            .args(args)
            .output()
            .expect("run rnetstat");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
    }
}

/// Whether the pane shows the alternate screen (a full-screen program is drawing).
fn alternate_screen_on(tmux: &Tmux) -> bool {
    let output = tmux.run(&["display", "-p", "-t", "live", "#{alternate_on}"]);
    String::from_utf8_lossy(&output.stdout).trim() == "1"
}

#[test]
#[cfg_attr(
    not(all(debug_assertions, has_tmux)),
    ignore = "needs a debug build (the panic is injected there only) and tmux (apt-get install tmux)"
)]
fn a_panicking_thread_ends_the_dashboard_with_one_line_and_the_terminal_restored() {
    let command = format!(
        "env RNETSTAT_TEST_PANIC_IN_COLLECTOR=1 {}",
        dashboard_command("-l")
    );
    let tmux = Tmux::start("panic", &command);
    let screen = tmux.wait_for("the dashboard to exit", |screen| screen.contains("EXITED:"));
    assert!(screen.contains("EXITED:101"), "{screen}");
    assert!(!alternate_screen_on(&tmux), "{screen}");
    let said: Vec<&str> = screen
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with("EXITED:"))
        .collect();
    assert_eq!(said.len(), 1, "one line, nothing else: {said:?}");
    assert!(
        said[0].starts_with(
            "rnetstat: internal error: thread 'collector' panicked at src/tui/mod.rs:"
        ) && said[0].ends_with("RNETSTAT_TEST_PANIC_IN_COLLECTOR is set"),
        "{}",
        said[0]
    );
}

fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid}");
}

/// The one-letter state of `pid` in /proc/PID/stat (`T`: stopped).
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

fn wait_until(what: &str, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "timed out after {WAIT:?} waiting for {what}"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
#[cfg_attr(not(has_tmux), ignore = "needs tmux (apt-get install tmux)")]
fn live_dashboard_restores_the_terminal_then_dies_of_quit_usr1_usr2_and_alrm() {
    for (signal, number) in [("QUIT", 3), ("USR1", 10), ("USR2", 12), ("ALRM", 14)] {
        let tmux = Tmux::start(&format!("sig{number}"), &dashboard_command("-l"));
        tmux.wait_for("the dashboard", |screen| screen.contains("Local Address"));
        assert!(alternate_screen_on(&tmux));
        send_signal(tmux.child_of_shell(), signal);
        let screen = tmux.wait_for("the dashboard to die", |screen| screen.contains("EXITED:"));
        // bash reports death by signal N as 128 + N.
        assert!(
            screen.contains(&format!("EXITED:{}", 128 + number)),
            "SIG{signal}: {screen}"
        );
        assert!(
            !alternate_screen_on(&tmux),
            "SIG{signal} left the alternate screen on:\n{screen}"
        );
        assert!(!screen.contains("Local Address"), "SIG{signal}:\n{screen}");
    }
}

#[test]
#[cfg_attr(not(has_tmux), ignore = "needs tmux (apt-get install tmux)")]
fn live_dashboard_stops_on_sigtstp_with_the_terminal_restored_and_comes_back_on_sigcont() {
    let tmux = Tmux::start("tstp", &dashboard_command("-l"));
    tmux.wait_for("the dashboard", |screen| screen.contains("Local Address"));
    let pid = tmux.child_of_shell();
    send_signal(pid, "TSTP");
    wait_until("rnetstat to stop", || process_state(pid) == Some('T'));
    wait_until("the normal screen", || !alternate_screen_on(&tmux));
    let screen = tmux.screen();
    assert!(!screen.contains("Local Address"), "{screen}");

    send_signal(pid, "CONT");
    let screen = tmux.wait_for("the dashboard again", |screen| {
        screen.contains("Local Address") && screen.contains("rnetstat --live")
    });
    assert!(alternate_screen_on(&tmux), "{screen}");
    assert_ne!(process_state(pid), Some('T'));
}

/// Processes a test started, killed (SIGKILL) when the test ends, however it ends.
struct Reaper(Vec<u32>);

impl Drop for Reaper {
    fn drop(&mut self) {
        for &pid in &self.0 {
            if let Ok(pid) = libc::pid_t::try_from(pid) {
                // SAFETY: kill(2) takes plain integers.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

fn is_alive(pid: u32) -> bool {
    // A zombie has exited: only a process that still runs counts.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .next()?
                .to_string();
            Some(state != "Z" && state != "X")
        })
        .unwrap_or(false)
}

/// A python3 process listening on a free loopback port: (child, port).
fn python_listener() -> (std::process::Child, u16) {
    use std::io::BufRead;
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import socket, time\n\
             s = socket.socket()\n\
             s.bind(('127.0.0.1', 0))\n\
             s.listen()\n\
             print(s.getsockname()[1], flush=True)\n\
             time.sleep(120)\n",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run python3");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("python's stdout"))
        .read_line(&mut line)
        .expect("python3 prints its port");
    let port = line.trim().parse().expect("a port number");
    (child, port)
}

/// A `sleep` process with pid `pid`, made by setting the pid namespace's last pid to `pid - 1`
/// just before the spawn (we are root); retried when another process takes the pid first.
fn sleep_with_pid(pid: u32) -> Option<std::process::Child> {
    for _ in 0..200 {
        std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string()).ok()?;
        let mut child = Command::new("sleep").arg("120").spawn().expect("run sleep");
        if child.id() == pid {
            return Some(child);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    None
}

/// A python3 listener on a free loopback port that, when cued, forks a child sharing the
/// listener, then exits (`parent_exits`) or stays.
struct ForkOnCue {
    parent: std::process::Child,
    stdout: std::io::BufReader<std::process::ChildStdout>,
    port: u16,
}

impl ForkOnCue {
    fn start(parent_exits: bool) -> ForkOnCue {
        use std::io::BufRead;
        let after_fork = if parent_exits {
            "os._exit(0)"
        } else {
            "time.sleep(120)"
        };
        let script = format!(
            "import os, socket, sys, time\n\
             s = socket.socket()\n\
             s.bind(('127.0.0.1', 0))\n\
             s.listen()\n\
             print(s.getsockname()[1], flush=True)\n\
             sys.stdin.readline()\n\
             child = os.fork()\n\
             if child == 0:\n    time.sleep(120)\n    os._exit(0)\n\
             print(child, flush=True)\n\
             {after_fork}\n"
        );
        let mut parent = Command::new("python3")
            .args(["-c", &script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("run python3");
        let mut stdout = std::io::BufReader::new(parent.stdout.take().expect("python's stdout"));
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("python3 prints its port");
        let port = line.trim().parse().expect("a port number");
        ForkOnCue {
            parent,
            stdout,
            port,
        }
    }

    /// Cue the fork; the child's pid.
    fn fork(&mut self) -> u32 {
        use std::io::{BufRead, Write};
        writeln!(self.parent.stdin.as_mut().expect("python's stdin")).expect("cue python3");
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .expect("python3 prints its child");
        line.trim().parse().expect("the child's pid")
    }
}

#[test]
#[cfg_attr(
    not(all(is_root, has_tmux, has_python3)),
    ignore = "needs root, tmux and python3 (apt-get install tmux python3)"
)]
fn kill_never_signals_a_process_that_reused_the_owners_pid() {
    // The owner listens, then forks an heir that keeps the socket, and exits.
    let mut owner = ForkOnCue::start(true);
    let owner_pid = owner.parent.id();
    let mut reaper = Reaper(vec![owner_pid]);
    let port = owner.port;
    let tmux = Tmux::start("reuse", &dashboard_command("-t -l --interval 2"));
    tmux.wait_for("the first refresh", |screen| screen.contains("refreshed"));
    // The first snapshot scanned every process; the next full scan is 10 s away.
    let before_full_scan = Instant::now() + Duration::from_secs(9);
    tmux.keys(&["/"]);
    tmux.keys(&["-l", &format!(":{port}")]);
    tmux.keys(&["Enter"]);
    let local = format!("127.0.0.1:{port}");
    tmux.wait_for("the owner's row", |screen| {
        table_rows(screen)
            .iter()
            .any(|row| row.contains(&local) && row.contains(&owner_pid.to_string()))
    });

    // Between two full scans: the owner hands the socket to its heir and exits, and an
    // innocent process gets the owner's pid.
    let heir_pid = owner.fork();
    reaper.0.push(heir_pid);
    owner
        .parent
        .wait()
        .expect("reap the owner, freeing its pid");
    let mut innocent = sleep_with_pid(owner_pid)
        .unwrap_or_else(|| panic!("could not get pid {owner_pid} back through ns_last_pid"));
    reaper.0.push(innocent.id());

    tmux.keys(&["k"]);
    tmux.wait_for("the kill dialog", |screen| screen.contains("Kill process"));
    tmux.keys(&["y"]);
    let screen = tmux.wait_for("the kill's outcome", |screen| {
        screen.contains("could not kill") || screen.contains("sent SIGTERM")
    });
    thread::sleep(Duration::from_millis(500));
    assert!(
        innocent.try_wait().expect("wait on sleep").is_none(),
        "the process that reused pid {owner_pid} was signalled:\n{screen}"
    );
    // The dialog named the stale pid (refused: it does not hold the socket) or, if a refresh
    // came first, the heir.
    let refused =
        format!("could not kill pid {owner_pid} (python3): it no longer holds this socket");
    let sent = format!("sent SIGTERM to pid {heir_pid} (python3)");
    assert!(
        screen.contains(&refused) || screen.contains(&sent),
        "{screen}"
    );
    if screen.contains(&sent) {
        return;
    }
    assert!(is_alive(heir_pid), "nothing was sent, yet the heir is gone");

    // The next refreshes, before any full scan, name the heir, never the process that reused
    // the pid.
    let screen = tmux.wait_until(before_full_scan, "the heir as the owner", |screen| {
        table_rows(screen)
            .iter()
            .any(|row| row.contains(&local) && row.contains(&heir_pid.to_string()))
    });
    let rows = table_rows(&screen);
    assert!(
        rows.iter()
            .filter(|row| row.contains(&local))
            .all(|row| !row.contains(&format!(" {owner_pid} "))),
        "pid {owner_pid} (now `sleep`) is still shown as the owner:\n{screen}"
    );
}

/// A python3 process listening on a free loopback port with a forked child sharing the
/// listener. When cued, it kills that child and forks another sharing the listener at the
/// same pid (ns_last_pid, root): a pid reuser that holds the socket too.
struct ReuseOnCue {
    parent: std::process::Child,
    stdout: std::io::BufReader<std::process::ChildStdout>,
    port: u16,
    first_child: u32,
}

impl ReuseOnCue {
    fn start() -> ReuseOnCue {
        use std::io::BufRead;
        let script = "import os, socket, sys, time\n\
             s = socket.socket()\n\
             s.bind(('127.0.0.1', 0))\n\
             s.listen()\n\
             def holder():\n    pid = os.fork()\n    if pid == 0:\n        time.sleep(120)\n        os._exit(0)\n    return pid\n\
             first = holder()\n\
             print(s.getsockname()[1], first, flush=True)\n\
             sys.stdin.readline()\n\
             os.kill(first, 9)\n\
             os.waitpid(first, 0)\n\
             new = 0\n\
             for _ in range(200):\n    open('/proc/sys/kernel/ns_last_pid', 'w').write(str(first - 1))\n    new = holder()\n    if new == first:\n        break\n    os.kill(new, 9)\n    os.waitpid(new, 0)\n\
             print(new, flush=True)\n\
             time.sleep(120)\n";
        let mut parent = Command::new("python3")
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("run python3");
        let mut stdout = std::io::BufReader::new(parent.stdout.take().expect("python's stdout"));
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("python3 prints its port and child");
        let mut fields = line
            .split_whitespace()
            .map(|f| f.parse().expect("a number"));
        let port = u16::try_from(fields.next().expect("a port")).expect("a port");
        let first_child = fields.next().expect("a child's pid");
        ReuseOnCue {
            parent,
            stdout,
            port,
            first_child,
        }
    }

    /// Cue the swap; the new child's pid (the first child's, unless the pid could not be had).
    fn swap(&mut self) -> u32 {
        use std::io::{BufRead, Write};
        writeln!(self.parent.stdin.as_mut().expect("python's stdin")).expect("cue python3");
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .expect("python3 prints its new child");
        line.trim().parse().expect("the new child's pid")
    }
}

#[test]
#[cfg_attr(
    not(all(is_root, has_tmux, has_python3)),
    ignore = "needs root, tmux and python3 (apt-get install tmux python3)"
)]
fn kill_never_signals_a_pid_reuser_that_inherited_the_socket() {
    let mut holders = ReuseOnCue::start();
    let (parent_pid, chosen) = (holders.parent.id(), holders.first_child);
    let _reaper = Reaper(vec![parent_pid, chosen]);
    let port = holders.port;
    let tmux = Tmux::start("reuse-holder", &dashboard_command("-t -l --interval 2"));
    tmux.wait_for("the first refresh", |screen| screen.contains("refreshed"));
    tmux.keys(&["/"]);
    tmux.keys(&["-l", &format!(":{port}")]);
    tmux.keys(&["Enter"]);
    let local = format!("127.0.0.1:{port}");
    tmux.wait_for("the listener's row", |screen| {
        table_rows(screen).iter().any(|row| row.contains(&local))
    });
    tmux.keys(&["k"]);
    tmux.wait_for("the kill dialog", |screen| screen.contains("Kill process"));
    // Owners in pid order: the parent, then its child; choose the child.
    if chosen > parent_pid {
        tmux.keys(&["Down"]);
    }
    let dialog = tmux.wait_for("the child chosen", |screen| {
        screen.contains(&format!("> pid {chosen}"))
    });
    assert!(dialog.contains("started"), "no start time shown:\n{dialog}");

    // While the dialog is open the child dies and a new one, holding the same socket, gets its pid.
    let reuser = holders.swap();
    assert_eq!(
        reuser, chosen,
        "could not get pid {chosen} back through ns_last_pid"
    );
    tmux.keys(&["y"]);
    let screen = tmux.wait_for("the kill's outcome", |screen| {
        screen.contains("could not kill") || screen.contains("sent SIGTERM")
    });
    thread::sleep(Duration::from_millis(500));
    assert!(
        is_alive(reuser),
        "the process that reused pid {chosen} and inherited the socket was signalled:\n{screen}"
    );
    assert!(
        screen.contains(&format!("pid {chosen} is now another process (started")),
        "{screen}"
    );
}

/// Paste `text` into the pane as a terminal would: bracketed when the program asked for it.
fn paste(tmux: &Tmux, text: &str) {
    assert!(
        tmux.run(&["set-buffer", "-b", "test", "--", text])
            .status
            .success()
    );
    assert!(
        tmux.run(&["paste-buffer", "-p", "-b", "test", "-t", "live"])
            .status
            .success()
    );
}

#[test]
#[cfg_attr(
    not(all(has_tmux, has_python3)),
    ignore = "needs tmux and python3 (apt-get install tmux python3)"
)]
fn pasted_text_is_not_typed_as_keys() {
    let (mut holder, port) = python_listener();
    let _reaper = Reaper(vec![holder.id()]);
    let tmux = Tmux::start("paste", &dashboard_command("-t -l"));
    tmux.wait_for("the first refresh", |screen| screen.contains("refreshed"));
    // Once this pasted `/`, typed the port, Enter, then `k` and `y`: a kill.
    paste(&tmux, &format!("/:{port}\rky"));
    thread::sleep(Duration::from_millis(1500));
    let screen = tmux.screen();
    assert!(
        holder.try_wait().expect("wait on python3").is_none(),
        "the paste killed python3:\n{screen}"
    );
    assert!(
        !screen.contains("filter:"),
        "the paste opened the filter:\n{screen}"
    );
    tmux.keys(&["q"]);
    let screen = tmux.wait_for("the dashboard to exit", |screen| screen.contains("EXITED:"));
    assert!(screen.contains("EXITED:0"), "{screen}");
}

#[test]
#[cfg_attr(
    not(all(is_root, has_tmux, has_setpriv)),
    ignore = "needs root, tmux and setpriv (apt-get install tmux util-linux)"
)]
fn live_header_says_why_owners_are_incomplete() {
    // This test process keeps every capability: its fd links are unreadable to the dashboard.
    let _listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback listener");
    let command = format!(
        "setpriv --inh-caps=-sys_ptrace --bounding-set=-sys_ptrace {}",
        dashboard_command("-l")
    );
    let tmux = Tmux::start("noptrace", &command);
    let screen = tmux.wait_for("the first refresh", |screen| screen.contains("refreshed"));
    let header = screen
        .lines()
        .find(|line| line.starts_with("owners:"))
        .expect("the owners line");
    assert!(
        header.starts_with("owners: incomplete, no CAP_SYS_PTRACE"),
        "{header}"
    );
}

#[test]
#[cfg_attr(
    not(all(is_root, has_tmux, has_setpriv)),
    ignore = "needs root, tmux and setpriv (apt-get install tmux util-linux)"
)]
fn live_with_few_threads_allowed_runs_or_fails_with_one_line() {
    // RLIMIT_NPROC counts every thread of the uid (root ignores it): a uid nothing else uses
    // makes the limit exact. Below 4 a thread of the dashboard itself cannot start; from 4 on
    // only the owner scan's threads are missing, and it must make do with fewer.
    let uid = 62_000 + std::process::id() % 1000;
    for limit in 1..=5 {
        let command = format!(
            "bash -c \"ulimit -u {limit}; setpriv --reuid={uid} --regid={uid} --clear-groups \
             '{}' --live --numeric-hosts -l; echo EXITED:\\$?; sleep 60\"",
            env!("CARGO_BIN_EXE_rnetstat")
        );
        let tmux = Tmux::start(&format!("nproc{limit}"), &command);
        let screen = tmux.wait_for("the dashboard or its exit", |screen| {
            screen.contains("refreshed") || screen.contains("EXITED:")
        });
        assert!(!screen.contains("panicked"), "ulimit -u {limit}:\n{screen}");
        if screen.contains("EXITED:") {
            assert!(screen.contains("EXITED:1"), "ulimit -u {limit}:\n{screen}");
            assert!(!alternate_screen_on(&tmux), "ulimit -u {limit}:\n{screen}");
            let said: Vec<&str> = screen
                .lines()
                .filter(|line| !line.trim().is_empty() && !line.starts_with("EXITED:"))
                .collect();
            assert_eq!(said.len(), 1, "ulimit -u {limit}: {said:?}");
            assert!(said[0].starts_with("rnetstat: "), "{}", said[0]);
        } else {
            assert!(alternate_screen_on(&tmux), "ulimit -u {limit}:\n{screen}");
            assert!(
                screen.contains("owners: incomplete, run as root"),
                "the scan ran: ulimit -u {limit}:\n{screen}"
            );
            tmux.keys(&["q"]);
            let screen = tmux.wait_for("the dashboard to exit", |s| s.contains("EXITED:"));
            assert!(screen.contains("EXITED:0"), "ulimit -u {limit}:\n{screen}");
        }
    }
}

#[test]
#[cfg_attr(
    not(all(has_tmux, has_python3)),
    ignore = "needs tmux and python3 (apt-get install tmux python3)"
)]
fn paste_goes_into_the_open_filter_and_esc_still_works_after_a_long_one() {
    let (mut holder, port) = python_listener();
    let _reaper = Reaper(vec![holder.id()]);
    let tmux = Tmux::start("longpaste", &dashboard_command("-t -l"));
    tmux.wait_for("the first refresh", |screen| screen.contains("refreshed"));
    tmux.keys(&["/"]);
    paste(&tmux, &format!(":{port}\rky"));
    let local = format!("127.0.0.1:{port}");
    // The control character is not Enter: the filter stays open, with the text as typed.
    let screen = tmux.wait_for("the pasted filter", |screen| {
        screen.contains(&format!("filter: :{port}ky"))
    });
    assert!(!screen.contains(&local), "{screen}");
    tmux.keys(&["Escape"]);
    tmux.wait_for("the filter to clear", |screen| !screen.contains("filter:"));

    tmux.keys(&["/"]);
    let long = "x".repeat(4096);
    paste(&tmux, &long);
    tmux.wait_for("the long paste in the filter", |screen| {
        screen.contains("filter: xxxxxxxx")
    });
    tmux.keys(&["Escape"]);
    tmux.wait_for("Esc to clear the filter after a long paste", |screen| {
        !screen.contains("filter:") && screen.contains(&local)
    });
    assert!(holder.try_wait().expect("wait on python3").is_none());
    tmux.keys(&["q"]);
    let screen = tmux.wait_for("the dashboard to exit", |screen| screen.contains("EXITED:"));
    assert!(screen.contains("EXITED:0"), "{screen}");
}

/// A python3 process listening on a free loopback port that forked a child sharing the
/// listener: (parent, port, child's pid).
fn python_forked_listener() -> (std::process::Child, u16, u32) {
    use std::io::BufRead;
    let mut parent = Command::new("python3")
        .args([
            "-c",
            "import os, socket, time\n\
             s = socket.socket()\n\
             s.bind(('127.0.0.1', 0))\n\
             s.listen()\n\
             child = os.fork()\n\
             if child == 0:\n    time.sleep(120)\n    os._exit(0)\n\
             print(s.getsockname()[1], child, flush=True)\n\
             time.sleep(120)\n",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run python3");
    let mut line = String::new();
    std::io::BufReader::new(parent.stdout.take().expect("python's stdout"))
        .read_line(&mut line)
        .expect("python3 prints its port and child");
    let mut fields = line.split_whitespace();
    let port = fields.next().and_then(|p| p.parse().ok()).expect("a port");
    let child = fields.next().and_then(|p| p.parse().ok()).expect("a pid");
    (parent, port, child)
}

#[test]
#[cfg_attr(
    not(all(has_tmux, has_python3)),
    ignore = "needs tmux and python3 (apt-get install tmux python3)"
)]
fn kill_dialog_signals_only_the_owner_chosen() {
    let (mut parent, port, child) = python_forked_listener();
    let _reaper = Reaper(vec![parent.id(), child]);
    let tmux = Tmux::start("choose", &dashboard_command("-t -l"));
    tmux.wait_for("the first refresh", |screen| screen.contains("refreshed"));
    tmux.keys(&["/"]);
    tmux.keys(&["-l", &format!(":{port}")]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("the shared listener", |screen| {
        table_rows(screen)
            .iter()
            .any(|row| row.contains(&format!("127.0.0.1:{port}")))
    });
    tmux.keys(&["k"]);
    let screen = tmux.wait_for("the kill dialog", |screen| screen.contains("Kill process"));
    for pid in [parent.id(), child] {
        assert!(
            screen.contains(&format!("pid {pid}")),
            "pid {pid} is not offered:\n{screen}"
        );
    }
    tmux.keys(&["Down"]);
    tmux.keys(&["y"]);
    let screen = tmux.wait_for("the kill's outcome", |screen| {
        screen.contains(&format!("sent SIGTERM to pid {child} (python3)"))
    });
    let deadline = Instant::now() + WAIT;
    while is_alive(child) {
        assert!(Instant::now() < deadline, "the child survived:\n{screen}");
        thread::sleep(Duration::from_millis(100));
    }
    thread::sleep(Duration::from_millis(300));
    assert!(
        parent.try_wait().expect("wait on python3").is_none(),
        "the parent was signalled too:\n{screen}"
    );
    let _ = parent.kill();
    let _ = parent.wait();
}

#[test]
#[cfg_attr(
    not(all(has_tmux, has_python3)),
    ignore = "needs tmux and python3 (apt-get install tmux python3)"
)]
fn a_new_socket_shared_after_a_fork_shows_every_owner_before_the_next_full_scan() {
    let tmux = Tmux::start("shared", &dashboard_command("-t -l"));
    tmux.wait_for("the first refresh", |screen| screen.contains("refreshed"));
    // The first snapshot scanned every process; the next full scan is 10 s away.
    let before_full_scan = Instant::now() + Duration::from_secs(9);
    let (mut parent, port, child) = python_forked_listener();
    let _reaper = Reaper(vec![parent.id(), child]);
    tmux.keys(&["/"]);
    tmux.keys(&["-l", &format!(":{port}")]);
    tmux.keys(&["Enter"]);
    tmux.wait_until(before_full_scan, "the shared listener", |screen| {
        table_rows(screen)
            .iter()
            .any(|row| row.contains(&format!("127.0.0.1:{port}")))
    });
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_until(before_full_scan, "both owners in the details", |screen| {
        screen.contains("Socket details")
            && screen.contains(&format!("pid {}", parent.id()))
            && screen.contains(&format!("pid {child}"))
    });
    assert!(
        screen.contains("Owners   2 (as of the last full owner scan"),
        "{screen}"
    );
    let _ = parent.kill();
    let _ = parent.wait();
}

#[test]
#[cfg_attr(
    not(all(has_tmux, has_python3)),
    ignore = "needs tmux and python3 (apt-get install tmux python3)"
)]
fn a_slow_interval_still_rescans_every_process_after_ten_seconds() {
    // An owner known since the first full scan forks: only a full scan can see the child.
    let mut parent = ForkOnCue::start(false);
    let mut reaper = Reaper(vec![parent.parent.id()]);
    let port = parent.port;
    let tmux = Tmux::start("slow", &dashboard_command("-t -l --interval 3"));
    tmux.wait_for("the first refresh", |screen| screen.contains("refreshed"));
    let first_scan = Instant::now();
    reaper.0.push(parent.fork());
    tmux.keys(&["/"]);
    tmux.keys(&["-l", &format!(":{port}")]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("the listener", |screen| {
        table_rows(screen)
            .iter()
            .any(|row| row.contains(&format!("127.0.0.1:{port}")))
    });
    tmux.keys(&["Enter"]);
    // Every 10th refresh would be 30 s away; 10 s of wall clock, and one interval to show it.
    tmux.wait_until(
        first_scan + Duration::from_secs(10 + 3 + 3),
        "the child as a second owner in the details",
        |screen| screen.contains("Owners   2"),
    );
    let _ = parent.parent.kill();
    let _ = parent.parent.wait();
}

/// Two loopback listeners and the text of each one's local address as a row shows it (`-n`).
fn two_listeners() -> (TcpListener, TcpListener, String, String) {
    let bind = || TcpListener::bind("127.0.0.1:0").expect("bind a loopback listener");
    let (kept, dropped) = (bind(), bind());
    let text = |listener: &TcpListener| format!("127.0.0.1:{} ", port_of(listener));
    let (kept_text, dropped_text) = (text(&kept), text(&dropped));
    (kept, dropped, kept_text, dropped_text)
}

fn port_of(listener: &TcpListener) -> u16 {
    listener.local_addr().expect("local address").port()
}

fn shows(screen: &str, local: &str) -> bool {
    table_rows(screen).iter().any(|row| row.contains(local))
}

/// The dashboard filters by `expression` (`sport = :PORT` of `kept`): the header says so, the
/// listener `kept` shows, `dropped` does not, and every row has the port. All in one condition:
/// tmux may show a frame half drawn.
fn filtered_to(screen: &str, expression: &str, kept: &TcpListener, dropped: &str) -> bool {
    let port = format!(":{} ", port_of(kept));
    let kept = format!("127.0.0.1{port}");
    screen.contains(&format!("filter: {expression} (expression)"))
        && shows(screen, &kept)
        && !shows(screen, dropped)
        && table_rows(screen).iter().all(|row| row.contains(&port))
}

#[test]
#[cfg_attr(not(has_tmux), ignore = "needs tmux (apt-get install tmux)")]
fn slash_with_a_filter_expression_keeps_only_what_it_matches() {
    let (first, second, first_text, second_text) = two_listeners();
    let tmux = Tmux::start("expression", &dashboard_command("-t -l -n"));
    tmux.wait_for("both listeners before filtering", |screen| {
        shows(screen, &first_text) && shows(screen, &second_text)
    });
    let expression = format!("sport = :{}", port_of(&first));
    tmux.keys(&["/"]);
    tmux.keys(&["-l", &expression]);
    tmux.wait_for("the expression to keep the first listener only", |screen| {
        filtered_to(screen, &expression, &first, &second_text)
    });

    // Edited to the other port: the second listener shows, the first is gone.
    let digits = port_of(&first).to_string().len();
    tmux.keys(&vec!["BSpace"; digits]);
    tmux.keys(&["-l", &port_of(&second).to_string()]);
    let expression = format!("sport = :{}", port_of(&second));
    tmux.wait_for(
        "the edited expression to keep the second listener only",
        |screen| filtered_to(screen, &expression, &second, &first_text),
    );

    tmux.keys(&["Enter", "q"]);
    let screen = tmux.wait_for("the dashboard to exit", |screen| screen.contains("EXITED:"));
    assert!(screen.contains("EXITED:0"), "{screen}");
    drop((first, second));
}

#[test]
#[cfg_attr(not(has_tmux), ignore = "needs tmux (apt-get install tmux)")]
fn the_command_line_filter_starts_the_dashboard_and_can_be_cleared() {
    let (first, second, _, second_text) = two_listeners();
    let expression = format!("sport = :{}", port_of(&first));
    let tmux = Tmux::start(
        "startfilter",
        &dashboard_command(&format!("-t -l -n '{expression}'")),
    );
    tmux.wait_for("the starting filter in the header and in force", |screen| {
        filtered_to(screen, &expression, &first, &second_text)
    });

    // Not a fixed filter: Esc clears it, and the second listener was collected all along.
    tmux.keys(&["/"]);
    tmux.keys(&["Escape"]);
    tmux.wait_for("the second listener once the filter is cleared", |screen| {
        !screen.contains("filter:") && shows(screen, &second_text)
    });
    tmux.keys(&["q"]);
    let screen = tmux.wait_for("the dashboard to exit", |screen| screen.contains("EXITED:"));
    assert!(screen.contains("EXITED:0"), "{screen}");
    drop((first, second));
}

/// The last two cells of a dashboard row, Rx/s and Tx/s, in bytes per second (`None`: `-`).
fn rates_of(row: &str) -> (Option<f64>, Option<f64>) {
    let mut words: Vec<&str> = row.split_whitespace().collect();
    let mut take_cell = || {
        let unit = words.pop().expect("a rate cell");
        if unit == "-" {
            return None;
        }
        let scale = match unit {
            "B/s" => 1.0,
            "KiB/s" => 1024.0,
            "MiB/s" => 1024.0 * 1024.0,
            "GiB/s" => 1024.0 * 1024.0 * 1024.0,
            other => panic!("not a rate unit: {other:?} in {row:?}"),
        };
        let number: f64 = words
            .pop()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no number before {unit} in {row:?}"));
        Some(number * scale)
    };
    let tx = take_cell();
    let rx = take_cell();
    (rx, tx)
}

#[test]
#[cfg_attr(
    not(all(has_tmux, has_python3)),
    ignore = "needs tmux and python3 (apt-get install tmux python3)"
)]
fn live_shows_a_paced_transfers_rate_within_a_quarter() {
    use std::io::Read;
    const RATE: f64 = 2.0 * 1024.0 * 1024.0;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback listener");
    let port = port_of(&listener);
    let reader = thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept the sender");
        let mut sink = vec![0; 1 << 16];
        while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
    });
    let tmux = Tmux::start(
        "traffic",
        &dashboard_command(&format!("-t --interval 1 sport = :{port}")),
    );
    tmux.wait_for("the first refresh", |screen| screen.contains("refreshed"));

    // Paced against an absolute schedule, so every second carries about RATE bytes.
    let mut sender = Command::new("python3")
        .args([
            "-c",
            &format!(
                "import socket, time\n\
                 s = socket.create_connection(('127.0.0.1', {port}))\n\
                 chunk = b'x' * 16384\n\
                 start = time.monotonic(); sent = 0\n\
                 while time.monotonic() - start < 6:\n\
                 \x20   if sent < (time.monotonic() - start) * {RATE}:\n\
                 \x20       s.sendall(chunk); sent += len(chunk)\n\
                 \x20   else:\n\
                 \x20       time.sleep(0.002)\n\
                 s.close()\n"
            ),
        ])
        .spawn()
        .expect("run python3");
    let _reaper = Reaper(vec![sender.id()]);

    let local = format!("127.0.0.1:{port}");
    let received = |screen: &str| {
        table_rows(screen)
            .into_iter()
            .find(|row| row.contains(&local) && row.contains("ESTABLISHED"))
            .and_then(|row| rates_of(row).0)
    };
    let refreshed = |screen: &str| screen.lines().next().unwrap_or_default().to_string();
    // The first rate may cover the connect; the one after it is a full interval of sending.
    let first = tmux.wait_for("a receive rate", |screen| received(screen).is_some());
    let second = tmux.wait_for("the next refresh", |screen| {
        refreshed(screen) != refreshed(&first) && received(screen).is_some()
    });
    let rate = received(&second).expect("a rate");
    assert!(
        (rate - RATE).abs() <= RATE * 0.25,
        "receiving at {rate:.0} B/s, sent at {RATE} B/s:\n{second}"
    );
    tmux.keys(&["q"]);
    drop(tmux);
    let _ = sender.wait();
    let _ = reader.join();
}

#[test]
#[cfg_attr(not(has_tmux), ignore = "needs tmux (apt-get install tmux)")]
fn a_deep_pasted_filter_matches_nothing_and_the_dashboard_runs_on() {
    let tmux = Tmux::start("deepfilter", &dashboard_command("-t -l"));
    tmux.wait_for("the first refresh", |screen| screen.contains("refreshed"));
    for deep in [
        format!("{}sport = :1{}", "(".repeat(8000), ")".repeat(8000)),
        // tmux takes a buffer of some 16 KiB in one command.
        format!("{}sport = :1", "! ".repeat(7000)),
    ] {
        tmux.keys(&["/"]);
        paste(&tmux, &deep);
        // Too deep to be an expression, it is searched for as text: nothing has it.
        let screen = tmux.wait_for("the deep filter to be searched for", |screen| {
            screen.contains("no socket matches the filter") || screen.contains("EXITED:")
        });
        assert!(!screen.contains("EXITED:"), "the dashboard died:\n{screen}");
        tmux.keys(&["Escape"]);
        tmux.wait_for("the filter to clear", |screen| !screen.contains("filter:"));
    }
    tmux.keys(&["q"]);
    let screen = tmux.wait_for("the dashboard to exit", |screen| screen.contains("EXITED:"));
    assert!(screen.contains("EXITED:0"), "{screen}");
}

#[test]
#[cfg_attr(
    not(all(is_root, has_tmux, has_podman, has_runc, has_nsenter, has_ss)),
    ignore = "needs root, tmux, podman, runc and nsenter (apt-get install tmux podman runc busybox-static)"
)]
fn live_all_netns_shows_a_containers_listener_and_groups_by_container() {
    let name = format!("rnetstat-live-{}", std::process::id());
    let container = common::container::Container::start(&name, 8082);
    let tmux = Tmux::start("container", &dashboard_command("--all-netns -t -l"));
    tmux.wait_for("the first refresh", |screen| screen.contains("refreshed"));
    tmux.keys(&["/"]);
    tmux.keys(&["-l", &format!("container {name}")]);
    let label = format!("podman:{name}");
    let screen = tmux.wait_for("the container's listener, alone", |screen| {
        let rows = table_rows(screen);
        rows.len() == 1 && rows[0].contains(":8082") && rows[0].contains(&label)
    });
    let row = table_rows(&screen)[0].to_string();
    assert!(row.contains("httpd"), "{row}");
    assert!(row.contains(&container.listener_pid.to_string()), "{row}");
    tmux.keys(&["Enter"]);
    tmux.keys(&["g"]);
    tmux.keys(&["g"]);
    // (The header's `by container` may be cut off on this machine by its long owners note.)
    tmux.wait_for("the container's group", |screen| {
        screen
            .lines()
            .any(|line| line.contains(&format!("▸ {label}  1 socket")))
    });
    tmux.keys(&["q"]);
    tmux.wait_for("the dashboard to exit", |screen| {
        screen.contains("EXITED:0")
    });
}

#[test]
#[cfg_attr(
    not(all(is_root, has_tmux, has_python3)),
    ignore = "needs root, tmux and python3 (apt-get install tmux python3)"
)]
fn x_closes_the_selected_connection_after_y_and_its_peer_sees_the_reset() {
    let mut holder = common::holders::Python::run(&[], common::holders::TWO_CONNECTIONS);
    let [listener, first, second, pid] = holder.numbers()[..] else {
        panic!("three ports and a pid: {}", holder.line);
    };
    let tmux = Tmux::start(
        "close",
        &dashboard_command(&format!("-t 'sport = :{first}'")),
    );
    let (local, remote) = (
        format!("127.0.0.1:{first}"),
        format!("127.0.0.1:{listener}"),
    );
    tmux.wait_for("the first connection", |screen| {
        let rows = table_rows(screen);
        rows.len() == 1 && rows[0].contains(&local) && rows[0].contains(&remote)
    });
    tmux.keys(&["x"]);
    let screen = tmux.wait_for("the close dialog", |screen| {
        screen.contains("Close connection")
    });
    for wanted in [
        format!("local   {local}"),
        format!("remote  {remote}"),
        format!("owner   pid {pid} python3"),
    ] {
        assert!(screen.contains(&wanted), "{wanted:?} not in:\n{screen}");
    }
    tmux.keys(&["y"]);
    let closed = format!("closed tcp {local} ↔ {remote}");
    tmux.wait_for("the close's outcome", |screen| screen.contains(&closed));
    assert_eq!(holder.next_line(), "reset");
    let after = common::ss_tuples();
    let established = |local: u32| {
        (
            "tcp".to_string(),
            format!("127.0.0.1 {local}"),
            format!("127.0.0.1 {listener}"),
            "ESTABLISHED".to_string(),
        )
    };
    assert!(!after.contains(&established(first)), "{after:?}");
    assert!(after.contains(&established(second)), "{after:?}");
}

#[test]
#[cfg_attr(
    not(all(is_root, has_tmux, has_python3)),
    ignore = "needs root, ip, tmux and python3 (apt-get install iproute2 tmux python3)"
)]
fn x_under_all_netns_closes_the_connection_in_its_own_namespace() {
    let netns = common::holders::Netns::create(format!("rnetstat-xclose-{}", std::process::id()));
    netns.ip_in(&["link", "set", "lo", "up"]);
    let mut holder = common::holders::Python::run(&netns.exec(), common::holders::TWO_CONNECTIONS);
    let [listener, first, second, _] = holder.numbers()[..] else {
        panic!("three ports and a pid: {}", holder.line);
    };
    let tmux = Tmux::start(
        "closens",
        &dashboard_command(&format!("--all-netns -t 'sport = :{first}'")),
    );
    let (local, remote) = (
        format!("127.0.0.1:{first}"),
        format!("127.0.0.1:{listener}"),
    );
    tmux.wait_for("the connection in the namespace", |screen| {
        let rows = table_rows(screen);
        rows.len() == 1 && rows[0].contains(&local) && rows[0].contains(&remote)
    });
    tmux.keys(&["x"]);
    tmux.wait_for("the close dialog", |screen| {
        screen.contains("Close connection")
    });
    tmux.keys(&["y"]);
    let closed = format!("closed tcp {local} ↔ {remote}");
    tmux.wait_for("the close's outcome", |screen| screen.contains(&closed));
    assert_eq!(holder.next_line(), "reset");
    let inside = common::ss_tuples_through(&netns.exec());
    let established = |local: u32| {
        (
            "tcp".to_string(),
            format!("127.0.0.1 {local}"),
            format!("127.0.0.1 {listener}"),
            "ESTABLISHED".to_string(),
        )
    };
    assert!(!inside.contains(&established(first)), "{inside:?}");
    assert!(inside.contains(&established(second)), "{inside:?}");
}

#[test]
#[cfg_attr(not(has_tmux), ignore = "needs tmux (apt-get install tmux)")]
fn at_80x24_and_200x50_listeners_show_by_default_and_l_hides_them_with_a_shown_of_count() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback listener");
    let port = listener.local_addr().expect("local address").port();
    let _client = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let _server = listener.accept().expect("accept");
    for (width, height) in [(80u16, 24u16), (200, 50)] {
        let tmux = Tmux::start_sized(
            &format!("view{width}"),
            &dashboard_command(&format!("-t 'port {port}'")),
            width,
            height,
        );
        let screen = tmux.wait_for("the listener and its connection", |screen| {
            let rows = table_rows(screen);
            rows.len() == 3 && rows.iter().any(|r| r.contains("LISTEN "))
        });
        // The filter hides the machine's other sockets: the header counts what is shown.
        assert!(screen.contains("3 shown of "), "{screen}");
        // Every IPv4 endpoint keeps its whole address and port, and the program (this test,
        // a long name) at least ten characters (issue 20: not `1…:43840`, not `pytho…`).
        let comm = std::fs::read_to_string("/proc/self/comm").expect("own comm");
        let program: String = comm.trim().chars().take(10).collect();
        for row in table_rows(&screen) {
            assert!(row.contains(&format!("127.0.0.1:{port}")), "{screen}");
            assert!(row.contains(&program), "{program}: {screen}");
        }
        assert!(
            screen
                .lines()
                .all(|line| line.chars().count() <= usize::from(width)),
            "{screen}"
        );
        tmux.keys(&["l"]);
        let screen = tmux.wait_for("listeners hidden", |screen| {
            let rows = table_rows(screen);
            rows.len() == 2 && rows.iter().all(|r| !r.contains("LISTEN "))
        });
        assert!(screen.contains("hiding listeners"), "{screen}");
        assert!(screen.contains("2 shown of "), "{screen}");
        tmux.keys(&["l"]);
        tmux.wait_for("listeners back", |screen| {
            table_rows(screen).iter().any(|r| r.contains("LISTEN "))
                && screen.contains("3 shown of ")
                && !screen.contains("hiding listeners")
        });
        if width >= 200 {
            // Room for every column: the rates are shown.
            assert!(tmux.screen().contains("Rx/s"), "{}", tmux.screen());
        }
        tmux.keys(&["q"]);
        tmux.wait_for("the dashboard to exit", |screen| {
            screen.contains("EXITED:0")
        });
    }
}
