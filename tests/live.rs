//! `rnetstat --live` in a real terminal: tmux runs the real binary, the test types into it and
//! reads the screen back. Each test has its own tmux server (`-L`), killed even on failure.
// Linux only: these run the Linux collector and read /proc, ss or tmux.
#![cfg(target_os = "linux")]

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
    /// `None` (after saying why) when tmux is not installed.
    fn start(name: &str, command: &str) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            eprintln!("skipping {name}: tmux is not installed (apt-get install tmux)");
            return None;
        }
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
            "160",
            "-y",
            "40",
            command,
        ]);
        assert!(
            output.status.success(),
            "tmux new-session failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Some(tmux)
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
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {WAIT:?} waiting for {what}; the screen:\n{screen}"
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
        "bash -c \"ulimit -c 0; '{}' --live {flags}; echo EXITED:\\$?; sleep 60\"",
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
fn live_dashboard_filters_by_port_and_restores_the_terminal_on_quit() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback listener");
    let port = listener
        .local_addr()
        .expect("local address")
        .port()
        .to_string();
    let Some(tmux) = Tmux::start("quit", &dashboard_command("-t -l")) else {
        return;
    };
    tmux.wait_for("the first refresh", |screen| screen.contains("refreshed"));

    tmux.keys(&["/"]);
    tmux.keys(&["-l", &port]);
    let local = format!("127.0.0.1:{port}");
    let screen = tmux.wait_for(&format!("{local} after filtering"), |screen| {
        screen.contains(&format!("filter: {port}")) && screen.contains(&local)
    });
    let rows = table_rows(&screen);
    assert!(!rows.is_empty(), "no rows:\n{screen}");
    for row in &rows {
        assert!(
            row.contains(&port),
            "a row without {port}: {row:?}\n{screen}"
        );
    }
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
fn live_dashboard_restores_the_terminal_on_sigterm() {
    let Some(tmux) = Tmux::start("sigterm", &dashboard_command("-l")) else {
        return;
    };
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
fn a_panicking_thread_ends_the_dashboard_with_one_line_and_the_terminal_restored() {
    if !cfg!(debug_assertions) {
        eprintln!("skipped: the panic is injected by debug builds only");
        return;
    }
    let command = format!(
        "env RNETSTAT_TEST_PANIC_IN_COLLECTOR=1 {}",
        dashboard_command("-l")
    );
    let Some(tmux) = Tmux::start("panic", &command) else {
        return;
    };
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
fn live_dashboard_restores_the_terminal_then_dies_of_quit_usr1_usr2_and_alrm() {
    for (signal, number) in [("QUIT", 3), ("USR1", 10), ("USR2", 12), ("ALRM", 14)] {
        let Some(tmux) = Tmux::start(&format!("sig{number}"), &dashboard_command("-l")) else {
            return;
        };
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
fn live_dashboard_stops_on_sigtstp_with_the_terminal_restored_and_comes_back_on_sigcont() {
    let Some(tmux) = Tmux::start("tstp", &dashboard_command("-l")) else {
        return;
    };
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
    tmux.keys(&["q"]);
    let screen = tmux.wait_for("the dashboard to exit", |screen| screen.contains("EXITED:"));
    assert!(screen.contains("EXITED:0"), "{screen}");
}

#[test]
fn live_header_says_why_owners_are_incomplete() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to drop CAP_SYS_PTRACE with setpriv");
        return;
    }
    // This test process keeps every capability: its fd links are unreadable to the dashboard.
    let _listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback listener");
    let command = format!(
        "setpriv --inh-caps=-sys_ptrace --bounding-set=-sys_ptrace {}",
        dashboard_command("-l")
    );
    let Some(tmux) = Tmux::start("noptrace", &command) else {
        return;
    };
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
fn live_with_few_threads_allowed_runs_or_fails_with_one_line() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to run under a fresh uid with setpriv");
        return;
    }
    // RLIMIT_NPROC counts every thread of the uid (root ignores it): a uid nothing else uses
    // makes the limit exact. Below 4 a thread of the dashboard itself cannot start; from 4 on
    // only the owner scan's threads are missing, and it must make do with fewer.
    let uid = 62_000 + std::process::id() % 1000;
    for limit in 1..=5 {
        let command = format!(
            "bash -c \"ulimit -u {limit}; setpriv --reuid={uid} --regid={uid} --clear-groups \
             '{}' --live -l; echo EXITED:\\$?; sleep 60\"",
            env!("CARGO_BIN_EXE_rnetstat")
        );
        let Some(tmux) = Tmux::start(&format!("nproc{limit}"), &command) else {
            return;
        };
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
