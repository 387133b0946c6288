//! `-s/--statistics`: totals against the rows `-a` lists for the test's own sockets, and the
//! counters against /proc/net/snmp and /proc/net/netstat read by the test around the run.
// Linux only: the counters' files are Linux's.
#![cfg(target_os = "linux")]

mod common;

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};

use serde_json::Value;

use common::{json_of, stdout_of};

/// A listener on `host` with `clients` connections to it, accepted: 1 + 2 * clients sockets.
struct Server {
    listener: TcpListener,
    _ends: Vec<TcpStream>,
}

fn server(host: &str, clients: usize) -> Server {
    let listener = TcpListener::bind((host, 0)).unwrap();
    let mut ends = Vec::new();
    for _ in 0..clients {
        ends.push(TcpStream::connect(listener.local_addr().unwrap()).unwrap());
        ends.push(listener.accept().unwrap().0);
    }
    Server {
        listener,
        _ends: ends,
    }
}

/// The filter words selecting every socket with the port at either end.
fn port_filter(port: u16) -> Vec<String> {
    [
        "(",
        "sport",
        "=",
        &format!(":{port}"),
        "or",
        "dport",
        "=",
        &format!(":{port}"),
        ")",
    ]
    .map(str::to_string)
    .to_vec()
}

fn with_filter<'a>(flags: &[&'a str], filter: &'a [String]) -> Vec<&'a str> {
    flags
        .iter()
        .copied()
        .chain(filter.iter().map(String::as_str))
        .collect()
}

#[test]
fn totals_equal_the_rows_a_listing_prints_for_the_same_sockets() {
    let v4 = server("127.0.0.1", 3);
    let v6 = server("::1", 2);
    let v4_port = v4.listener.local_addr().unwrap().port();
    let v6_port = v6.listener.local_addr().unwrap().port();
    // Not TIME_WAIT: a leftover of an earlier connection may hold the same port (the
    // listener binds with SO_REUSEADDR), and the exact count below would take it for ours.
    let filter = [
        vec!["exclude".to_string(), "time-wait".to_string()],
        port_filter(v4_port),
        vec!["or".to_string()],
        port_filter(v6_port),
    ]
    .concat();
    let summary = json_of(&with_filter(&["-s", "--json"], &filter));
    let listing = json_of(&with_filter(&["-a", "--json"], &filter));
    let rows = listing["sockets"].as_array().unwrap();
    let count = |f: &dyn Fn(&Value) -> bool| rows.iter().filter(|s| f(s)).count();
    assert_eq!(summary["version"], 1);
    let totals = &summary["summary"];
    assert_eq!(totals["total"], rows.len(), "{summary}");
    assert_eq!(rows.len(), 7 + 5);
    assert_eq!(totals["by_proto"]["tcp"], rows.len());
    assert!(totals["by_proto"]["udp"].is_null(), "{totals}");
    assert_eq!(
        totals["by_family"]["ipv4"],
        count(&|s| s["family"] == "ipv4")
    );
    assert_eq!(totals["by_family"]["ipv6"], 5);
    for state in ["LISTEN", "ESTABLISHED"] {
        assert_eq!(
            totals["by_state"]["tcp"][state],
            count(&|s| s["state"] == state)
        );
    }
    assert_eq!(totals["by_state"]["tcp"]["LISTEN"], 2);
    assert_eq!(totals["time_wait"], 0);
    // The listener's port has the listener and the accepted ends; each client has its own port.
    let ports = totals["busiest_ports"].as_array().unwrap();
    assert_eq!(ports[0]["port"], v4_port, "{totals}");
    assert_eq!(ports[0]["sockets"], 4);
    assert_eq!(ports[0]["proto"], "tcp");
    assert_eq!(ports[1]["port"], v6_port);
    assert_eq!(ports[1]["sockets"], 3);
    assert_eq!(ports.len(), 7, "2 listening ports and 5 client ports");
    let in_ports: u64 = ports.iter().map(|p| p["sockets"].as_u64().unwrap()).sum();
    assert_eq!(in_ports, 12);
    assert!(totals["busiest_programs"].is_null(), "owners only with -p");

    let only_v6 = json_of(&with_filter(&["-s", "--json", "-6"], &filter));
    assert_eq!(only_v6["summary"]["total"], 5);
    assert!(only_v6["summary"]["by_family"]["ipv4"].is_null());
}

#[test]
fn with_p_the_busiest_program_is_the_test_itself() {
    let held = server("127.0.0.1", 2);
    let filter = port_filter(held.listener.local_addr().unwrap().port());
    let summary = json_of(&with_filter(&["-sp", "--json"], &filter));
    let programs = summary["summary"]["busiest_programs"].as_array().unwrap();
    assert_eq!(programs.len(), 1, "{summary}");
    assert_eq!(programs[0]["pid"], std::process::id());
    assert_eq!(programs[0]["sockets"], 5);
    let text = stdout_of(&with_filter(&["-sp"], &filter));
    let line = format!("    5 {}/", std::process::id());
    assert!(text.contains(&line), "{text}");
}

/// `group`'s `field` in /proc/net/snmp or /proc/net/netstat, as the test reads it itself.
fn proc_counter(file: &str, group: &str, field: &str) -> u64 {
    let text = std::fs::read_to_string(file).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with(&format!("{group}: ")))
        .collect();
    let names: Vec<&str> = lines[0].split_whitespace().collect();
    let values: Vec<&str> = lines[1].split_whitespace().collect();
    let at = names.iter().position(|n| *n == field).unwrap();
    values[at].parse().unwrap()
}

const COUNTERS: [(&str, &str, &str, &str, &str); 6] = [
    (
        "/proc/net/snmp",
        "Tcp",
        "RetransSegs",
        "retransmitted_segments",
        "segments retransmitted",
    ),
    (
        "/proc/net/snmp",
        "Tcp",
        "OutRsts",
        "resets_sent",
        "resets sent",
    ),
    (
        "/proc/net/snmp",
        "Tcp",
        "EstabResets",
        "resets_received",
        "connection resets received",
    ),
    (
        "/proc/net/snmp",
        "Tcp",
        "AttemptFails",
        "failed_connection_attempts",
        "failed connection attempts",
    ),
    (
        "/proc/net/netstat",
        "TcpExt",
        "ListenOverflows",
        "listen_overflows",
        "times the listen queue of a socket overflowed",
    ),
    (
        "/proc/net/netstat",
        "TcpExt",
        "ListenDrops",
        "listen_drops",
        "SYNs to LISTEN sockets dropped",
    ),
];

#[test]
fn counters_lie_between_the_proc_values_read_before_and_after() {
    // A refused connection on loopback: one failed attempt and one reset sent, at least.
    let closed = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let closed_addr: SocketAddr = closed.local_addr().unwrap();
    drop(closed);
    let read_all = || COUNTERS.map(|(file, group, field, _, _)| proc_counter(file, group, field));
    let start = read_all();
    assert!(TcpStream::connect(closed_addr).is_err());
    let before = read_all();
    assert!(
        before[3] > start[3],
        "AttemptFails did not count the refused connection"
    );
    let summary = json_of(&["-s", "--json", "-t", "sport", "=", ":1"]);
    let text = stdout_of(&["-s", "-t", "sport", "=", ":1"]);
    let after = read_all();
    for (i, (_, _, field, key, wording)) in COUNTERS.iter().enumerate() {
        let value = summary["summary"]["tcp_counters"][key].as_u64().unwrap();
        assert!(
            (before[i]..=after[i]).contains(&value),
            "{field}: {value} not within {}..={}",
            before[i],
            after[i]
        );
        let shown: u64 = text
            .lines()
            .find_map(|line| line.trim().strip_suffix(wording)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no '{wording}' line in {text}"));
        assert!((before[i]..=after[i]).contains(&shown), "{field}: {shown}");
    }
    assert!(summary["summary"]["orphans"].is_u64());
}

#[test]
fn with_x_unix_sockets_are_counted_by_state_and_owner() {
    use std::os::unix::net::{UnixListener, UnixStream};
    let dir = std::env::temp_dir().join(format!("rnetstat-summary-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.sock");
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    let mut ends = Vec::new();
    // Enough to be among the 10 busiest even beside a desktop's systemd or dbus.
    for _ in 0..100 {
        ends.push(UnixStream::connect(&path).unwrap());
        ends.push(listener.accept().unwrap().0);
    }
    let summary = json_of(&["-sxp", "--json"]);
    let totals = &summary["summary"];
    assert!(
        totals["by_state"]["unix"]["LISTEN"].as_u64().unwrap() >= 1,
        "{totals}"
    );
    assert!(
        totals["by_proto"]["tcp"].is_null(),
        "-x alone counts Unix sockets only"
    );
    let programs = totals["busiest_programs"].as_array().unwrap();
    let own = programs
        .iter()
        .find(|p| p["pid"] == std::process::id())
        .unwrap_or_else(|| panic!("the test's pid is not among {programs:?}"));
    // The other tests here open TCP sockets only: the test process holds exactly these.
    assert_eq!(own["sockets"], 201, "{totals}");
    drop(ends);
    drop(listener);
    let _ = std::fs::remove_dir_all(&dir);
}
