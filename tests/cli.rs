//! The command line as a user meets it: bad flags, pipes that close, missing privileges.
// Linux only: these run the Linux collector and read /proc, ss or tmux.
#![cfg(target_os = "linux")]

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, Stdio};

use common::{rnetstat, run};

#[test]
fn unknown_flag_is_a_usage_error_with_exit_2() {
    let output = run(&["--no-such-flag"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--no-such-flag"), "{stderr}");
    assert!(!stderr.contains("panicked"));
    assert!(output.stdout.is_empty());
}

#[test]
fn bundled_short_flags_work() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let output = run(&["-tulpn"]);
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let port = listener.local_addr().unwrap().port();
    let line = stdout
        .lines()
        .find(|l| l.contains(&format!("127.0.0.1:{port} ")))
        .unwrap();
    assert!(line.contains(&format!("{}/", std::process::id())), "{line}");
}

#[test]
fn help_and_version() {
    let help = run(&["-h"]);
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "-a", "-l", "-t", "-u", "-4", "-6", "-n", "-p", "-e", "-W", "--json",
    ] {
        assert!(text.contains(flag), "help lacks {flag}");
    }
    let version = run(&["-V"]);
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("rnetstat "));
}

#[test]
fn closed_pipe_exits_quietly() {
    // Keep enough sockets that the output outgrows one write.
    let _listeners: Vec<TcpListener> = (0..200)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let mut child = rnetstat()
        .args(["-a", "-n"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Like `| head -0`: the reader is gone before rnetstat writes.
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "exit {status:?}, stderr {stderr}");
    assert_eq!(stderr, "");
}

#[test]
fn piped_into_head_prints_the_header_and_exits_zero() {
    let output = Command::new("bash")
        .args([
            "-c",
            &format!(
                "set -o pipefail; {} -a | head -1",
                env!("CARGO_BIN_EXE_rnetstat")
            ),
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{:?}", output);
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("Proto"));
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn output_to_a_pipe_has_no_colour() {
    let output = run(&["-a"]);
    assert!(!output.stdout.contains(&0x1b));
}

#[test]
fn extended_columns_show_user_and_inode() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let text = String::from_utf8(run(&["-l", "-t", "-e"]).stdout).unwrap();
    assert!(text.lines().next().unwrap().contains("User"));
    let line = text
        .lines()
        .find(|l| l.contains(&format!("127.0.0.1:{port} ")))
        .unwrap();
    let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
    assert!(line.split_whitespace().any(|w| w == user), "{line}");
    let numeric = String::from_utf8(run(&["-l", "-t", "-e", "-n"]).stdout).unwrap();
    let line = numeric
        .lines()
        .find(|l| l.contains(&format!("127.0.0.1:{port} ")))
        .unwrap();
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() }.to_string();
    assert!(line.split_whitespace().any(|w| w == uid), "{line}");
}

#[test]
fn unprivileged_user_gets_one_hint_and_success() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to drop to another user with setpriv");
        return;
    }
    let _listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let output = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            env!("CARGO_BIN_EXE_rnetstat"),
            "-a",
            "-p",
        ])
        .output()
        .expect("setpriv");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stderr.matches("run as root").count(), 1, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
