//! `--close-connection LOCAL REMOTE` (as `ss -K`) on loopback connections the test owns: the
//! peer sees the reset, a second connection stays open (ss as the oracle), a second attempt
//! says the connection is gone, and without CAP_NET_ADMIN nothing is closed.
#![cfg(target_os = "linux")]

mod common;

use std::process::Command;

use common::holders::{Netns, Python, TWO_CONNECTIONS};
use common::{rnetstat, ss_tuples};

fn established(local: u32, remote: u32) -> (String, String, String, String) {
    (
        "tcp".to_string(),
        format!("127.0.0.1 {local}"),
        format!("127.0.0.1 {remote}"),
        "ESTABLISHED".to_string(),
    )
}

/// `rnetstat [prefix] --close-connection 127.0.0.1:LOCAL 127.0.0.1:REMOTE`: (success, stdout,
/// stderr).
fn close(prefix: &[&str], local: u32, remote: u32) -> (bool, String, String) {
    close_with(
        prefix,
        &[],
        &format!("127.0.0.1:{local}"),
        &format!("127.0.0.1:{remote}"),
    )
}

/// `rnetstat [prefix] [args] --close-connection LOCAL REMOTE`: (success, stdout, stderr).
fn close_with(prefix: &[&str], args: &[&str], local: &str, remote: &str) -> (bool, String, String) {
    let binary = env!("CARGO_BIN_EXE_rnetstat");
    let mut words = prefix.iter().copied().chain([binary]);
    let mut command = Command::new(words.next().unwrap_or_default());
    let output = command
        .args(words)
        .args(args)
        .args(["--close-connection", local, remote])
        .output()
        .expect("run rnetstat");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
#[cfg_attr(not(is_root), ignore = "closing a socket needs root (CAP_NET_ADMIN)")]
fn closes_one_connection_its_peer_sees_the_reset_and_the_other_stays() {
    let mut holder = Python::run(&[], TWO_CONNECTIONS);
    let [listener, first, second, _] = holder.numbers()[..] else {
        panic!("three ports and a pid: {}", holder.line);
    };
    let before = ss_tuples();
    assert!(before.contains(&established(first, listener)), "{before:?}");
    assert!(
        before.contains(&established(second, listener)),
        "{before:?}"
    );

    let (ok, stdout, stderr) = close(&[], first, listener);
    assert!(ok, "{stderr}");
    assert_eq!(
        stdout,
        format!("closed tcp 127.0.0.1:{first} ↔ 127.0.0.1:{listener}\n")
    );
    assert_eq!(stderr, "");
    // The peer of the closed end reads a reset (recv raises ConnectionResetError).
    assert_eq!(holder.next_line(), "reset");

    let after = ss_tuples();
    assert!(
        !after.contains(&established(first, listener)),
        "the closed connection is still there: {after:?}"
    );
    assert!(
        after.contains(&established(second, listener)),
        "the other connection was closed too: {after:?}"
    );
    assert!(after.contains(&established(listener, second)), "{after:?}");

    let (ok, stdout, stderr) = close(&[], first, listener);
    assert!(!ok);
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        format!(
            "rnetstat: no TCP connection 127.0.0.1:{first} ↔ 127.0.0.1:{listener}: the \
             connection is already gone (or never was)\n"
        )
    );
}

/// As [`TWO_CONNECTIONS`], with one connection whose client is bound to `lo` (SO_BINDTODEVICE).
const BOUND_TO_A_DEVICE: &str = r#"
import socket, sys
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(8)
bound = socket.socket()
bound.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"lo")
bound.connect(listener.getsockname())
peer, _ = listener.accept()
print(listener.getsockname()[1], bound.getsockname()[1], flush=True)
peer.settimeout(20)
try:
    print("eof" if peer.recv(1) == b"" else "data", flush=True)
except ConnectionResetError:
    print("reset", flush=True)
except socket.timeout:
    print("nothing in 20 s", flush=True)
sys.stdin.read()
"#;

#[test]
#[cfg_attr(not(is_root), ignore = "closing a socket needs root (CAP_NET_ADMIN)")]
fn closes_a_connection_bound_to_a_device() {
    let mut holder = Python::run(&[], BOUND_TO_A_DEVICE);
    let [listener, bound] = holder.numbers()[..] else {
        panic!("two ports: {}", holder.line);
    };
    let (ok, stdout, stderr) = close(&[], bound, listener);
    assert!(ok, "{stderr}");
    assert_eq!(
        stdout,
        format!("closed tcp 127.0.0.1:{bound} ↔ 127.0.0.1:{listener}\n")
    );
    assert_eq!(holder.next_line(), "reset");
}

#[test]
#[cfg_attr(
    not(all(is_root, has_setpriv)),
    ignore = "needs root and setpriv (apt-get install util-linux)"
)]
fn without_cap_net_admin_it_says_so_and_closes_nothing() {
    let holder = Python::run(&[], TWO_CONNECTIONS);
    let [listener, first, _, _] = holder.numbers()[..] else {
        panic!("three ports and a pid: {}", holder.line);
    };
    let nobody = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    let (ok, stdout, stderr) = close(&nobody, first, listener);
    assert!(!ok);
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        format!(
            "rnetstat: could not close tcp 127.0.0.1:{first} ↔ 127.0.0.1:{listener}: closing \
             a socket needs CAP_NET_ADMIN (run as root)\n"
        )
    );
    assert!(ss_tuples().contains(&established(first, listener)));
}

#[test]
fn close_connection_takes_two_tcp_addresses_or_is_a_usage_error() {
    for args in [
        &["--close-connection", "127.0.0.1:1"][..],
        &["--close-connection", "127.0.0.1:1", "nonsense"],
        &["--close-connection", "127.0.0.1:1", "127.0.0.1:2", "--live"],
        &["--close-connection", "127.0.0.1:1", "127.0.0.1:2", "-u"],
    ] {
        let output = rnetstat().args(args).output().expect("run rnetstat");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        // As every flag error: clap's message, naming the flag.
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(stderr.contains("--close-connection"), "{args:?}: {stderr}");
    }
}

#[test]
#[cfg_attr(not(is_root), ignore = "closing a socket needs root (CAP_NET_ADMIN)")]
fn closes_an_ipv6_connection_and_its_peer_sees_the_reset() {
    let mut holder = Python::run(&[], &TWO_CONNECTIONS.replace("\"127.0.0.1\"", "\"::1\""));
    let [listener, first, second, _] = holder.numbers()[..] else {
        panic!("three ports and a pid: {}", holder.line);
    };
    let (ok, stdout, stderr) = close_with(
        &[],
        &[],
        &format!("[::1]:{first}"),
        &format!("[::1]:{listener}"),
    );
    assert!(ok, "{stderr}");
    assert_eq!(
        stdout,
        format!("closed tcp [::1]:{first} ↔ [::1]:{listener}\n")
    );
    assert_eq!(holder.next_line(), "reset");
    let after = ss_tuples();
    let tuple = |local, remote| {
        (
            "tcp".to_string(),
            format!("::1 {local}"),
            format!("::1 {remote}"),
            "ESTABLISHED".to_string(),
        )
    };
    assert!(!after.contains(&tuple(first, listener)), "{after:?}");
    assert!(after.contains(&tuple(second, listener)), "{after:?}");
}

#[test]
#[cfg_attr(
    not(is_root),
    ignore = "needs root, ip and python3 (apt-get install iproute2 python3)"
)]
fn closes_in_the_namespace_minus_n_names_and_nowhere_else() {
    let netns = Netns::create(format!("rnetstat-close-{}", std::process::id()));
    netns.ip_in(&["link", "set", "lo", "up"]);
    let mut holder = Python::run(&netns.exec(), TWO_CONNECTIONS);
    let [listener, first, second, _] = holder.numbers()[..] else {
        panic!("three ports and a pid: {}", holder.line);
    };
    let (local, remote) = (
        format!("127.0.0.1:{first}"),
        format!("127.0.0.1:{listener}"),
    );
    // Not in rnetstat's own namespace.
    let (ok, _, stderr) = close_with(&[], &[], &local, &remote);
    assert!(!ok);
    assert!(
        stderr.contains("the connection is already gone"),
        "{stderr}"
    );
    let (ok, stdout, stderr) = close_with(&[], &["-N", &netns.name], &local, &remote);
    assert!(ok, "{stderr}");
    assert_eq!(stdout, format!("closed tcp {local} ↔ {remote}\n"));
    assert_eq!(holder.next_line(), "reset");
    let inside = common::ss_tuples_through(&netns.exec());
    assert!(
        !inside.contains(&established(first, listener)),
        "{inside:?}"
    );
    assert!(
        inside.contains(&established(second, listener)),
        "{inside:?}"
    );
}
