//! The command line as a user meets it: bad flags, pipes that close, missing privileges.
// Linux only: these run the Linux collector and read /proc, ss or tmux.
#![cfg(target_os = "linux")]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};

use common::{find_socket, json_of, rnetstat, run, stdout_of};

/// Run a python3 `script` with `args`; it prints one line once its sockets are open, then
/// holds them until its stdin closes. Returns the child and that line.
fn python_holding_sockets(script: &str, args: &[&str]) -> (Child, String) {
    let mut child = Command::new("python3")
        .args(["-c", script])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("the script's first line");
    (child, line)
}

/// Close the script's stdin (it exits) and wait for it.
fn finish(mut child: Child) {
    drop(child.stdin.take());
    let _ = child.wait();
}

#[test]
fn ss_flags_rnetstat_lacks_point_at_what_does_the_job() {
    for (flag, expected) in [
        ("--events", "use --watch"),
        ("-E", "use --watch"),
        ("-tE", "use --watch"),
        ("--kill", "--live, select the socket, press k"),
        ("-K", "--live, select the socket, press k"),
    ] {
        let output = run(&[flag]);
        assert_eq!(output.status.code(), Some(2), "{flag}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.starts_with("rnetstat: "), "{flag}: {stderr}");
        assert!(stderr.contains(expected), "{flag}: {stderr}");
        assert!(
            !stderr.contains("--serve") && !stderr.contains("--all") && !stderr.contains("-- -"),
            "{flag}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{flag}: {stderr}");
    }
}

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
    let output = run(&["-a", "--numeric-hosts"]);
    assert!(!output.stdout.contains(&0x1b));
}

#[test]
fn extended_columns_show_user_and_inode() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let text = String::from_utf8(run(&["-l", "-t", "-e", "--numeric-hosts"]).stdout).unwrap();
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
            // Host names stay off: a lookup would ask the machine's resolver, off loopback.
            &format!(
                "{wrapper} '{}' --numeric-hosts {args}",
                env!("CARGO_BIN_EXE_rnetstat")
            ),
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

const AS_NOBODY: &str = "setpriv --reuid=65534 --regid=65534 --clear-groups";

#[test]
#[cfg_attr(
    not(all(is_root, has_setpriv)),
    ignore = "needs root and setpriv (apt-get install util-linux)"
)]
fn unprivileged_user_gets_one_hint_and_success() {
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
#[cfg_attr(
    not(all(is_root, has_setpriv)),
    ignore = "needs root and setpriv (apt-get install util-linux)"
)]
fn without_cap_sys_ptrace_owners_are_incomplete_and_say_why() {
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
#[cfg_attr(
    not(can_mount_private_proc),
    ignore = "needs root and a mount namespace that may mount its own /proc (not a locked-down container)"
)]
fn proc_mounted_with_hidepid_is_named_as_the_reason() {
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
#[cfg_attr(
    not(all(is_root, has_setpriv)),
    ignore = "needs root and setpriv (apt-get install util-linux)"
)]
fn too_few_threads_allowed_is_neither_a_panic_nor_a_silent_gap() {
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

#[test]
#[cfg_attr(not(has_python3), ignore = "needs python3 (apt-get install python3)")]
fn json_argv_keeps_argument_boundaries() {
    let script = "import socket,sys\n\
        s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\n\
        print(s.getsockname()[1], flush=True); sys.stdin.read()\n";
    let (child, line) = python_holding_sockets(script, &["two words", "", "x"]);
    let port: u16 = line.trim().parse().unwrap();
    let doc = json_of(&["-l", "-t", "--json"]);
    let pid = child.id();
    finish(child);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let socket = find_socket(&doc, "tcp", addr).expect("python listener");
    assert!(
        socket["processes"]
            .as_array()
            .unwrap()
            .contains(&pid.into()),
        "pid {pid} not among the owners: {socket}"
    );
    let owner = &doc["processes"][pid.to_string()];
    let argv: Vec<&str> = owner["argv"]
        .as_array()
        .unwrap_or_else(|| panic!("argv is not an array: {owner}"))
        .iter()
        .map(|a| a.as_str().expect("argv strings"))
        .collect();
    assert!(argv[0].ends_with("python3"), "{argv:?}");
    assert_eq!(argv[1..], ["-c", script, "two words", "", "x"]);
    let cmdline = owner["cmdline"].as_str().expect("cmdline stays");
    assert!(cmdline.ends_with(" two words  x"), "{cmdline}");
    // As ps shows it: trailing empty arguments and whitespace dropped (argv keeps them).
    assert!(!cmdline.ends_with(' '), "{cmdline:?}");
}

#[test]
fn interval_below_a_tenth_of_a_second_is_a_usage_error() {
    for bad in ["1e-300", "0.01", "0.099"] {
        let output = run(&["--live", "--interval", bad]);
        assert_eq!(output.status.code(), Some(2), "--interval {bad}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("0.1"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// rnetstat's table on a pseudo-terminal (through `script`), with `TERM` set to `term`.
fn table_on_a_terminal(term: &str) -> String {
    let command = format!("{} -a -t -n", env!("CARGO_BIN_EXE_rnetstat"));
    let output = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .env("TERM", term)
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .expect("script");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn term_dumb_means_no_colour() {
    let _listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let coloured = table_on_a_terminal("xterm");
    assert!(coloured.contains("\x1b[1mProto"), "{coloured:?}");
    let dumb = table_on_a_terminal("dumb");
    assert!(dumb.contains("Proto"), "{dumb:?}");
    assert!(!dumb.contains('\x1b'), "{dumb:?}");
}

/// The table line of the TCP socket bound to `127.0.0.1:port` (the cell is followed by a space
/// or by a service name in parentheses).
fn row_of(table: &str, port: u16) -> &str {
    let plain = format!("127.0.0.1:{port} ");
    let named = format!("127.0.0.1:{port}(");
    table
        .lines()
        .find(|l| l.contains(&plain) || l.contains(&named))
        .unwrap_or_else(|| panic!("127.0.0.1:{port} not listed:\n{table}"))
}

#[test]
#[cfg_attr(not(has_python3), ignore = "needs python3 (apt-get install python3)")]
fn owner_names_cannot_pose_as_owner_lists_or_hide_in_bidi_controls() {
    // The parent calls itself `sshd,1/systemd`, its forked child `a<U+202E>b<U+200B>c`: both
    // hold the listener.
    let script = "import ctypes,os,socket,sys,time\n\
        s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\n\
        ctypes.CDLL(None).prctl(15, b'sshd,1/systemd', 0, 0, 0)\n\
        pid=os.fork()\n\
        if pid==0:\n    ctypes.CDLL(None).prctl(15, 'a\\u202eb\\u200bc'.encode(), 0, 0, 0); time.sleep(30); os._exit(0)\n\
        time.sleep(0.2); print(s.getsockname()[1], pid, flush=True); sys.stdin.read(); os.kill(pid,9)\n";
    let (child, line) = python_holding_sockets(script, &[]);
    let mut parts = line.split_whitespace().map(|p| p.parse::<u32>().unwrap());
    let (port, forked) = (parts.next().unwrap() as u16, parts.next().unwrap());
    let parent = child.id();
    let table = stdout_of(&["-l", "-t", "-p", "-n", "-W"]);
    finish(child);
    let cell = row_of(&table, port).split_whitespace().last().unwrap();
    assert_eq!(
        cell,
        format!("{parent}/sshd\\x2c1/systemd,{forked}/a\\u{{202e}}b\\u{{200b}}c")
    );
    assert!(!table.contains('\u{202e}') && !table.contains('\u{200b}'));
}

#[test]
fn every_table_row_splits_into_the_same_fields_for_awk() {
    // A port that has a service name, so the endpoint cell carries it.
    let services = rnetstat::services::Services::load();
    let (listener, service) = [8080u16, 8443, 9418, 6379, 11211, 5432, 9200, 10000]
        .into_iter()
        .find_map(|port| {
            let name = services.name(port, rnetstat::model::Proto::Tcp)?;
            let listener = TcpListener::bind(("127.0.0.1", port)).ok()?;
            Some((listener, name.to_string()))
        })
        .expect("a free loopback port with a service name");
    let port = listener.local_addr().unwrap().port();
    let output = Command::new("sh")
        .args([
            "-c",
            &format!(
                "{} -a -t --numeric-hosts | awk '{{print NF, $4, $6}}'",
                env!("CARGO_BIN_EXE_rnetstat")
            ),
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let fields = String::from_utf8(output.stdout).unwrap();
    let ours = format!("6 127.0.0.1:{port}({service}) LISTEN");
    assert!(
        fields.lines().any(|l| l == ours),
        "{ours:?} not in:\n{fields}"
    );
    // The title line has two-word titles; every socket line has exactly six fields.
    for line in fields.lines().skip(1) {
        assert!(line.starts_with("6 "), "{line}");
    }
}

#[test]
#[cfg_attr(not(has_python3), ignore = "needs python3 (apt-get install python3)")]
fn shortened_owner_lists_never_cut_a_pid() {
    // Eight processes share one listener: far more than the PID/Program column holds.
    let script = "import os,socket,sys,time\n\
        s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\n\
        kids=[]\n\
        for _ in range(7):\n    pid=os.fork()\n    if pid==0:\n        time.sleep(30); os._exit(0)\n    kids.append(pid)\n\
        print(s.getsockname()[1], *kids, flush=True); sys.stdin.read()\n\
        for k in kids: os.kill(k,9)\n";
    let (child, line) = python_holding_sockets(script, &[]);
    let mut numbers = line.split_whitespace().map(|p| p.parse::<u32>().unwrap());
    let port = numbers.next().unwrap() as u16;
    let mut owners: Vec<u32> = numbers.collect();
    owners.push(child.id());
    let table = stdout_of(&["-l", "-t", "-p", "-n"]);
    let wide = stdout_of(&["-l", "-t", "-p", "-n", "-W"]);
    finish(child);
    let cell = row_of(&table, port).split_whitespace().last().unwrap();
    assert!(cell.chars().count() <= 40, "{cell}");
    let mut shown = 0;
    let mut counted = 0;
    for part in cell.split(',') {
        if let Some(more) = part.strip_prefix('+') {
            counted += more.parse::<usize>().unwrap_or_else(|_| panic!("{cell}"));
            continue;
        }
        let (pid, name) = part.split_once('/').unwrap_or_else(|| panic!("{cell}"));
        let pid: u32 = pid.parse().unwrap_or_else(|_| panic!("cut pid in {cell}"));
        assert!(owners.contains(&pid), "{pid} is no owner: {cell}");
        let kept = name.strip_suffix('…').unwrap_or(name);
        assert!("python3".starts_with(kept) && !kept.is_empty(), "{cell}");
        shown += 1;
    }
    assert_eq!(shown + counted, owners.len(), "{cell}");
    // -W lists every owner in full.
    let full = row_of(&wide, port).split_whitespace().last().unwrap();
    assert_eq!(full.split(',').count(), owners.len(), "{full}");
    assert!(!full.contains('…') && !full.contains('+'), "{full}");
}

/// Processes whose fd links even we cannot read (EACCES/EPERM), with their names.
fn processes_refusing_inspection() -> Vec<(u32, String)> {
    let mut refusing = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let denied = |e: &std::io::Error| e.kind() == std::io::ErrorKind::PermissionDenied;
        let refused = match std::fs::read_dir(entry.path().join("fd")) {
            Err(e) => denied(&e),
            Ok(fds) => fds
                .flatten()
                .any(|fd| std::fs::read_link(fd.path()).is_err_and(|e| denied(&e))),
        };
        if refused {
            let name = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            refusing.push((pid, name.trim_end().to_string()));
        }
    }
    refusing
}

#[test]
#[cfg_attr(
    not(is_root),
    ignore = "needs root: only then is a refusal not just 'not root'"
)]
fn owners_incomplete_names_the_few_processes_that_refuse_root() {
    let refusing = processes_refusing_inspection();
    if refusing.is_empty() || refusing.len() > 3 {
        eprintln!(
            "skipped: this machine has {} processes refusing root, the test needs 1 to 3",
            refusing.len()
        );
        return;
    }
    let output = run(&["-tlp", "--numeric-hosts"]);
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr
        .lines()
        .find(|line| line.starts_with("rnetstat: owners incomplete: "))
        .unwrap_or_else(|| panic!("no owners line for {refusing:?}: {stderr}"));
    for (pid, name) in &refusing {
        assert!(
            line.contains(&format!("{pid} ({name})")),
            "{pid} ({name}) not named: {line}"
        );
    }
    assert!(line.contains("even by root"), "{line}");
    let doc = json_of(&["-tl", "--json"]);
    let reason = doc["owners"]["reason"].as_str().expect("a reason");
    assert!(
        reason.contains(&format!("pid {}", refusing[0].0)),
        "{reason}"
    );
}
