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

/// Run rnetstat with `args` under `wrapper` (a command prefix such as setpriv's), as
/// `bash -c`, returning (exit status success, stdout, stderr).
fn run_wrapped(wrapper: &str, args: &str) -> (bool, String, String) {
    let output = Command::new("bash")
        .args([
            "-c",
            &format!("{wrapper} '{}' {args}", env!("CARGO_BIN_EXE_rnetstat")),
        ])
        .output()
        .expect("sh");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The `owners` object of a `--json` run under `wrapper`, after checking the run succeeded.
fn json_owners_under(wrapper: &str) -> serde_json::Value {
    let (ok, stdout, stderr) = run_wrapped(wrapper, "-l -t --json");
    assert!(ok, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("valid JSON");
    doc["owners"].clone()
}

fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

const AS_NOBODY: &str = "setpriv --reuid=65534 --regid=65534 --clear-groups";

#[test]
fn unprivileged_user_gets_one_hint_and_success() {
    if !is_root() {
        eprintln!("skipped: needs root to drop to another user with setpriv");
        return;
    }
    let _listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let (ok, _, stderr) = run_wrapped(AS_NOBODY, "-a -p");
    assert!(ok, "{stderr}");
    assert_eq!(stderr.matches("run as root").count(), 1, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let owners = json_owners_under(AS_NOBODY);
    assert_eq!(owners["complete"], false, "{owners}");
    assert!(
        owners["reasons"]
            .as_array()
            .unwrap()
            .contains(&"not_root".into()),
        "{owners}"
    );
    assert!(owners["reason"].as_str().unwrap().contains("run as root"));
}

#[test]
fn without_cap_sys_ptrace_owners_are_incomplete_and_say_why() {
    if !is_root() {
        eprintln!("skipped: needs root to drop CAP_SYS_PTRACE with setpriv");
        return;
    }
    // Held by this test process, which keeps every capability: its fd links are unreadable to
    // a root process without CAP_SYS_PTRACE.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let no_ptrace = "setpriv --inh-caps=-sys_ptrace --bounding-set=-sys_ptrace";
    let (ok, stdout, stderr) = run_wrapped(no_ptrace, "-l -t -p -n");
    assert!(ok, "{stderr}");
    let row = stdout
        .lines()
        .find(|l| l.contains(&format!("127.0.0.1:{port} ")))
        .expect("our listener");
    assert!(
        row.trim_end().ends_with('-'),
        "owner should be unknown: {row}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("CAP_SYS_PTRACE"), "{stderr}");
    let owners = json_owners_under(no_ptrace);
    assert_eq!(owners["complete"], false, "{owners}");
    assert_eq!(owners["reasons"], serde_json::json!(["no_cap_sys_ptrace"]));
}

#[test]
fn proc_mounted_with_hidepid_is_named_as_the_reason() {
    if !is_root() {
        eprintln!("skipped: needs root to mount a private /proc with unshare");
        return;
    }
    let can_mount = Command::new("unshare")
        .args([
            "-m",
            "mount",
            "-t",
            "proc",
            "-o",
            "hidepid=2",
            "proc",
            "/proc",
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !can_mount {
        eprintln!(
            "skipped: unshare -m cannot mount a private /proc here (a locked-down container)"
        );
        return;
    }
    let _listener = TcpListener::bind("127.0.0.1:0").unwrap();
    // A private mount namespace: the machine's /proc is untouched.
    let hidepid = format!(
        "unshare -m sh -c 'mount -t proc -o hidepid=2 proc /proc && exec {AS_NOBODY} \"$0\" \"$@\"'"
    );
    let (ok, _, stderr) = run_wrapped(&hidepid, "-l -t -p");
    assert!(ok, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("hidepid"), "{stderr}");
    let owners = json_owners_under(&hidepid);
    assert_eq!(owners["complete"], false, "{owners}");
    assert!(
        owners["reasons"]
            .as_array()
            .unwrap()
            .contains(&"hidepid".into()),
        "{owners}"
    );
}

#[test]
fn hitting_the_open_file_limit_is_named_as_the_reason() {
    let _listener = TcpListener::bind("127.0.0.1:0").unwrap();
    // One descriptor beside stdin, stdout and stderr: whichever of the owner scan's /proc and
    // the dump's netlink socket takes it, the other runs out, and the user must be told.
    for _ in 0..5 {
        let (ok, _, stderr) = run_wrapped("ulimit -n 4;", "-l -t -p");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        if ok {
            assert!(stderr.contains("ulimit -n"), "{stderr}");
        } else {
            assert!(stderr.contains("Too many open files"), "{stderr}");
        }
    }
}

#[test]
fn json_says_whether_owners_are_complete() {
    let owners = json_owners_under("");
    assert!(owners["complete"].is_boolean(), "{owners}");
    let reasons = owners["reasons"].as_array().expect("reasons array");
    assert_eq!(owners["complete"], reasons.is_empty(), "{owners}");
    assert_eq!(owners["reason"].is_null(), reasons.is_empty(), "{owners}");
}

#[test]
fn too_few_threads_allowed_is_neither_a_panic_nor_a_silent_gap() {
    if !is_root() {
        eprintln!("skipped: needs root to run under a fresh uid with setpriv");
        return;
    }
    let _listener = TcpListener::bind("127.0.0.1:0").unwrap();
    // RLIMIT_NPROC counts every thread of the uid (root ignores it): a uid nothing else uses
    // makes the limit exact. 1 allows no thread at all beside main.
    let uid = 61_000 + std::process::id() % 1000;
    for limit in 1..=3 {
        let wrapper =
            format!("ulimit -u {limit}; setpriv --reuid={uid} --regid={uid} --clear-groups");
        let (ok, stdout, stderr) = run_wrapped(&wrapper, "-l -t -p");
        assert!(ok, "ulimit -u {limit}: {stderr}");
        assert!(stdout.starts_with("Proto"), "ulimit -u {limit}: {stdout}");
        // The scan reached root's processes (this test's listener among them) and says so.
        assert_eq!(
            stderr, "rnetstat: owners incomplete: run as root to see other users' processes\n",
            "ulimit -u {limit}"
        );
    }
}
