//! rnetstat against independent witnesses: `ss`, and its own /proc/net fallback.
// Linux only: these run the Linux collector and read /proc, ss or tmux.
#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeSet;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::sync::Mutex;

use common::{Tuple, json_of, json_tuples, rnetstat, ss_tuples};

/// The witnesses compare whole-machine socket sets, so the tests here must not run at the
/// same time: one test's short-lived sockets would be churn in the other's comparison.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Loopback sockets of our own, so the comparison is never of an empty machine.
fn open_some_sockets() -> Vec<Box<dyn std::any::Any>> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let listener6 = TcpListener::bind("[::1]:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let server = listener.accept().unwrap().0;
    let udp = UdpSocket::bind("[::1]:0").unwrap();
    let udp4 = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp4.connect("127.0.0.1:9").unwrap();
    vec![
        Box::new(listener),
        Box::new(listener6),
        Box::new(client),
        Box::new(server),
        Box::new(udp),
        Box::new(udp4),
    ]
}

/// What `middle` got wrong, given it was taken between `before` and `after`: what both
/// witnesses saw must be in it, and everything in it must have been seen by at least one.
fn disagreements(
    before: &BTreeSet<Tuple>,
    middle: &BTreeSet<Tuple>,
    after: &BTreeSet<Tuple>,
) -> Option<String> {
    let stable: BTreeSet<_> = before.intersection(after).collect();
    assert!(
        stable.len() >= 6,
        "the test's own sockets should be in both"
    );
    let missing: Vec<_> = stable.iter().filter(|t| !middle.contains(**t)).collect();
    let extra: Vec<_> = middle
        .iter()
        .filter(|t| !before.contains(*t) && !after.contains(*t))
        .collect();
    (!missing.is_empty() || !extra.is_empty())
        .then(|| format!("missing {missing:#?}\nextra {extra:#?}"))
}

/// Other programs open and close sockets while the three snapshots are taken, and a socket
/// that lives only between `before` and `after` looks like an error. Churn does not repeat;
/// a real disagreement does: three tries, all reported if all fail.
fn assert_agrees(name: &str, mut take: impl FnMut() -> [BTreeSet<Tuple>; 3]) {
    let mut reports = Vec::new();
    for _ in 0..3 {
        let [before, middle, after] = take();
        match disagreements(&before, &middle, &after) {
            None => return,
            Some(report) => reports.push(report),
        }
    }
    panic!("{name} disagreed three times:\n{}", reports.join("\n---\n"));
}

#[test]
fn same_sockets_as_ss() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let _sockets = open_some_sockets();
    assert_agrees("rnetstat vs ss -tuanH", || {
        let before = ss_tuples();
        let ours = json_tuples(&json_of(&["-a", "-n", "--json"]));
        [before, ours, ss_tuples()]
    });
}

#[test]
fn proc_net_fallback_sees_what_sock_diag_sees() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let _sockets = open_some_sockets();
    let netlink = || json_tuples(&json_of(&["-a", "--json"]));
    let procfs = || {
        let output = rnetstat()
            .args(["-a", "--json"])
            .env("RNETSTAT_COLLECTOR", "procfs")
            .output()
            .unwrap();
        assert!(output.status.success());
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
    };
    assert_agrees("procfs vs sock_diag", || {
        let before = netlink();
        let middle = json_tuples(&procfs());
        [before, middle, netlink()]
    });
    let doc = procfs();
    // The fallback must also find owners.
    let me = std::process::id();
    assert!(doc["sockets"].as_array().unwrap().iter().any(|s| {
        s["processes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["pid"] == me)
    }));
}
