//! rnetstat against independent witnesses: `ss`, and its own /proc/net fallback.

mod common;

use std::collections::BTreeSet;
use std::net::{TcpListener, TcpStream, UdpSocket};

use common::{Tuple, json_of, json_tuples, rnetstat, ss_tuples};

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

/// `middle` was taken between `before` and `after`: what both witnesses saw must be in it, and
/// everything in it must have been seen by at least one (sockets churn between the calls).
fn assert_agrees(
    name: &str,
    before: &BTreeSet<Tuple>,
    middle: &BTreeSet<Tuple>,
    after: &BTreeSet<Tuple>,
) {
    let stable: BTreeSet<_> = before.intersection(after).collect();
    let missing: Vec<_> = stable.iter().filter(|t| !middle.contains(**t)).collect();
    let extra: Vec<_> = middle
        .iter()
        .filter(|t| !before.contains(*t) && !after.contains(*t))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{name}: missing {missing:#?}\nextra {extra:#?}"
    );
    assert!(
        stable.len() >= 6,
        "the test's own sockets should be in both"
    );
}

#[test]
fn same_sockets_as_ss() {
    let _sockets = open_some_sockets();
    let before = ss_tuples();
    let ours = json_tuples(&json_of(&["-a", "-n", "--json"]));
    let after = ss_tuples();
    assert_agrees("rnetstat vs ss -tuanH", &before, &ours, &after);
}

#[test]
fn proc_net_fallback_sees_what_sock_diag_sees() {
    let _sockets = open_some_sockets();
    let netlink = || json_tuples(&json_of(&["-a", "--json"]));
    let before = netlink();
    let output = rnetstat()
        .args(["-a", "--json"])
        .env("RNETSTAT_COLLECTOR", "procfs")
        .output()
        .unwrap();
    assert!(output.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let procfs = json_tuples(&doc);
    let after = netlink();
    assert_agrees("procfs vs sock_diag", &before, &procfs, &after);
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
