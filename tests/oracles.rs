//! rnetstat against independent witnesses: `ss`, and its own /proc/net fallback.
// Linux only: these run the Linux collector and read /proc, ss or tmux.
#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::io::Write;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::sync::Mutex;

use common::{json_of, json_tuples, rnetstat, ss_tuples};
use serde_json::Value;

/// The witnesses compare whole-machine socket sets, so the tests here must not run at the
/// same time: one test's short-lived sockets would be churn in the other's comparison.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Loopback sockets of our own, so the comparison is never of an empty machine; some have
/// bytes queued (unread data, a connection not yet accepted), so queues are compared too.
fn open_some_sockets() -> Vec<Box<dyn std::any::Any>> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let listener6 = TcpListener::bind("[::1]:0").unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let server = listener.accept().unwrap().0;
    client.write_all(&[7; 100]).unwrap();
    let pending = TcpStream::connect(listener6.local_addr().unwrap()).unwrap();
    let udp = UdpSocket::bind("[::1]:0").unwrap();
    UdpSocket::bind("[::1]:0")
        .unwrap()
        .send_to(&[7; 100], udp.local_addr().unwrap())
        .unwrap();
    let udp4 = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp4.connect("127.0.0.1:9").unwrap();
    vec![
        Box::new(listener),
        Box::new(listener6),
        Box::new(client),
        Box::new(server),
        Box::new(pending),
        Box::new(udp),
        Box::new(udp4),
    ]
}

/// What `middle` got wrong, given it was taken between `before` and `after`: what both
/// witnesses saw must be in it, and everything in it must have been seen by at least one.
fn disagreements<T: Ord + Debug>(
    before: &BTreeSet<T>,
    middle: &BTreeSet<T>,
    after: &BTreeSet<T>,
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
fn assert_agrees<T: Ord + Debug>(name: &str, mut take: impl FnMut() -> [BTreeSet<T>; 3]) {
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
#[cfg_attr(not(has_ss), ignore = "needs ss (apt-get install iproute2)")]
fn same_sockets_as_ss() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let _sockets = open_some_sockets();
    assert_agrees("rnetstat vs ss -tuanH", || {
        let before = ss_tuples();
        let ours = json_tuples(&json_of(&["-a", "-n", "--json"]));
        [before, ours, ss_tuples()]
    });
}

/// (proto, local, remote, state, recv_q, send_q) of every socket, queues as text (`null` when
/// unknown). /proc/net cannot tell a listener's backlog limit (sock_diag's Send-Q there), so
/// that one is left out; the test checks separately that the fallback says `null`.
fn json_rows_with_queues(doc: &Value) -> BTreeSet<[String; 6]> {
    let endpoint = |e: &Value| match e {
        Value::Null => "*".to_string(),
        e => format!("{} {}", e["host"].as_str().unwrap(), e["port"]),
    };
    doc["sockets"]
        .as_array()
        .expect("sockets array")
        .iter()
        .map(|s| {
            let listener = s["proto"] == "tcp" && s["state"] == "LISTEN";
            let send_q = if listener {
                "backlog".to_string()
            } else {
                s["send_q"].to_string()
            };
            [
                s["proto"].as_str().unwrap().to_string(),
                endpoint(&s["local"]),
                endpoint(&s["remote"]),
                s["state"].as_str().unwrap().to_string(),
                s["recv_q"].to_string(),
                send_q,
            ]
        })
        .collect()
}

#[test]
fn proc_net_fallback_sees_what_sock_diag_sees() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let _sockets = open_some_sockets();
    let netlink = || json_rows_with_queues(&json_of(&["-a", "--json"]));
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
        let doc = procfs();
        let invented = doc["sockets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["proto"] == "tcp" && s["state"] == "LISTEN" && !s["send_q"].is_null());
        assert!(invented.is_none(), "/proc/net has no backlog: {invented:?}");
        let middle = json_rows_with_queues(&doc);
        [before, middle, netlink()]
    });
    let doc = procfs();
    // The fallback must also find owners.
    let me = std::process::id();
    assert!(
        doc["sockets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| { s["processes"].as_array().unwrap().iter().any(|p| p == me) })
    );
}
