//! `-i/--info`: the kernel's tcp_info of each TCP socket, checked against bytes the test moved
//! itself and against `ss -tinH` on the same sockets.
// Linux only: tcp_info comes from sock_diag, and ss is the oracle.
#![cfg(target_os = "linux")]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{find_connection, json_of, stdout_of};
use serde_json::Value;

/// A loopback connection that has moved a known number of bytes each way, every byte read by
/// its peer: `client` wrote `upload` bytes, `server` (the accepted side) wrote `download`.
struct Connection {
    client: TcpStream,
    server: TcpStream,
    _listener: TcpListener,
}

const UPLOAD: usize = 70_001;
const DOWNLOAD: usize = 123_457;

fn connection() -> Connection {
    connection_on("127.0.0.1:0")
}

fn connection_on(address: &str) -> Connection {
    let listener = TcpListener::bind(address).unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    let writer = std::thread::spawn({
        let mut client = client.try_clone().unwrap();
        let mut server = server.try_clone().unwrap();
        move || {
            client.write_all(&vec![1; UPLOAD]).unwrap();
            server.write_all(&vec![2; DOWNLOAD]).unwrap();
        }
    });
    let mut got = vec![0; UPLOAD];
    server.read_exact(&mut got).unwrap();
    let mut got = vec![0; DOWNLOAD];
    client.read_exact(&mut got).unwrap();
    writer.join().unwrap();
    Connection {
        client,
        server,
        _listener: listener,
    }
}

impl Connection {
    fn ends(&self) -> (SocketAddr, SocketAddr) {
        (
            self.client.local_addr().unwrap(),
            self.server.local_addr().unwrap(),
        )
    }

    /// Both ends' `tcp_info` from `rnetstat -tan -i --json`, restricted to this connection.
    fn info(&self) -> (Value, Value) {
        let (client, server) = self.ends();
        let filter = format!("sport = :{} or dport = :{}", server.port(), server.port());
        let doc = json_of(&["-tan", "-i", "--json", &filter]);
        let of = |local, remote| {
            find_connection(&doc, "tcp", local, remote)
                .unwrap_or_else(|| panic!("{local} -> {remote} not in {doc}"))["tcp_info"]
                .clone()
        };
        (of(client, server), of(server, client))
    }
}

/// The peer's ACK of the last bytes can trail the reader by a moment: poll until it is in.
fn settled(connection: &Connection) -> (Value, Value) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (client, server) = connection.info();
        let acked =
            client["bytes_acked"] == UPLOAD as u64 + 1 && server["bytes_acked"] == DOWNLOAD as u64;
        if acked || Instant::now() > deadline {
            return (client, server);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn byte_counters_equal_the_bytes_the_test_moved() {
    for address in ["127.0.0.1:0", "[::1]:0"] {
        byte_counters_equal_the_bytes_moved_on(address);
    }
}

fn byte_counters_equal_the_bytes_moved_on(address: &str) {
    let connection = connection_on(address);
    let (client, server) = settled(&connection);
    assert_eq!(server["bytes_received"], UPLOAD as u64, "{server}");
    assert_eq!(client["bytes_received"], DOWNLOAD as u64, "{client}");
    assert_eq!(server["bytes_acked"], DOWNLOAD as u64, "{server}");
    // The connecting side's SYN takes one sequence number, and the kernel counts its ACK.
    assert_eq!(client["bytes_acked"], UPLOAD as u64 + 1, "{client}");
    // bytes_sent counts retransmissions too: a loaded machine can delay an ACK past the
    // tail-loss probe's timer even on loopback, and the probe resends (seen once in CI-like runs).
    let first_sends = |info: &Value| {
        info["bytes_sent"].as_u64().unwrap() - info["bytes_retrans"].as_u64().unwrap()
    };
    assert_eq!(first_sends(&client), UPLOAD as u64, "{client}");
    assert_eq!(first_sends(&server), DOWNLOAD as u64, "{server}");
    for info in [&client, &server] {
        assert_eq!(info["unacked"], 0, "{info}");
        assert_eq!(info["notsent"], 0, "{info}");
        assert!(info["segs_out"].as_u64().unwrap() > 0, "{info}");
        assert!(info["segs_in"].as_u64().unwrap() > 0, "{info}");
        assert!(info["congestion"].is_string(), "{info}");
        assert!(info["mss"].as_u64().unwrap() > 0, "{info}");
    }
}

/// `ss -tinH` for one connection: (rtt ms, rttvar ms, cwnd, congestion algorithm).
fn ss_info(local: SocketAddr, remote: SocketAddr) -> (f64, f64, u64, String) {
    let filter = format!("src {local} and dst {remote}");
    let output = Command::new("ss")
        .args(["-tinH", &filter])
        .output()
        .expect("ss (iproute2) is the oracle here");
    assert!(output.status.success(), "ss -tinH {filter}: {output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let value = |key: &str| {
        tokens
            .iter()
            .find_map(|t| t.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in ss output {text:?}"))
    };
    let (rtt, rttvar) = value("rtt:").split_once('/').unwrap();
    // The token after the peer address is the congestion algorithm.
    let congestion = tokens[tokens
        .iter()
        .position(|t| t.starts_with("wscale:"))
        .unwrap()
        - 1];
    (
        rtt.parse().unwrap(),
        rttvar.parse().unwrap(),
        value("cwnd:").parse().unwrap(),
        congestion.to_string(),
    )
}

#[test]
#[cfg_attr(not(has_ss), ignore = "needs ss (apt-get install iproute2)")]
fn rtt_and_cwnd_agree_with_ss_on_the_same_socket() {
    let connection = connection();
    let (client, server) = connection.ends();
    let (client_info, server_info) = settled(&connection);
    for ((local, remote), info) in [
        ((client, server), client_info),
        ((server, client), server_info),
    ] {
        let (rtt, rttvar, cwnd, congestion) = ss_info(local, remote);
        let ours_rtt = info["rtt_us"].as_u64().expect("rtt_us") as f64 / 1000.0;
        let ours_rttvar = info["rttvar_us"].as_u64().expect("rttvar_us") as f64 / 1000.0;
        // Nothing moves on the connection between the two reads; the tolerance covers a
        // delayed ACK landing in between.
        assert!(
            (ours_rtt - rtt).abs() <= 0.5_f64.max(rtt * 0.5),
            "{rtt} ms vs {info}"
        );
        assert!(
            (ours_rttvar - rttvar).abs() <= 0.5_f64.max(rttvar * 0.5),
            "{rttvar} vs {info}"
        );
        assert_eq!(info["cwnd"], cwnd, "ss says cwnd:{cwnd}: {info}");
        assert_eq!(info["congestion"], congestion.as_str(), "{info}");
    }
}

/// The filter for the listener on `server` and its connection: a TIME_WAIT left on the same
/// port by an earlier run, or another test's IPv6 listener that got the same port, is not ours.
fn only_this_connection(server: SocketAddr) -> String {
    let port = server.port();
    format!(
        "exclude time-wait src {} and ( sport = :{port} or dport = :{port} )",
        server.ip()
    )
}

#[test]
fn the_table_prints_one_indented_info_line_under_each_tcp_socket() {
    let connection = connection();
    let (client, server) = connection.ends();
    let filter = only_this_connection(server);
    let table = stdout_of(&["-tan", "-i", "-H", &filter]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines.len(),
        6,
        "listener, two ends, each with its line:\n{table}"
    );
    for pair in lines.chunks(2) {
        assert!(pair[0].starts_with("tcp "), "{table}");
        assert!(pair[1].starts_with('\t'), "{table}");
        for key in ["rto:", "rtt:", "mss:", "cwnd:", "bytes_acked:", "lastsnd:"] {
            assert!(pair[1].contains(key), "{key} missing:\n{table}");
        }
    }
    let line_of = |local: SocketAddr, remote: SocketAddr| {
        let ends = [local.to_string(), remote.to_string()];
        let row = lines
            .iter()
            .position(|l| {
                let fields: Vec<&str> = l.split_whitespace().collect();
                fields.get(3..5) == Some(&[ends[0].as_str(), ends[1].as_str()][..])
            })
            .unwrap_or_else(|| panic!("{local} -> {remote} not in\n{table}"));
        lines[row + 1]
    };
    assert!(
        line_of(server, client).contains(&format!(" bytes_received:{UPLOAD} ")),
        "{table}"
    );
    assert!(
        line_of(client, server).contains(&format!(" bytes_received:{DOWNLOAD} ")),
        "{table}"
    );
}

#[test]
fn without_i_the_json_has_a_null_tcp_info_and_the_table_no_info_line() {
    let connection = connection();
    let (client, server) = connection.ends();
    let filter = format!("sport = :{} or dport = :{}", server.port(), server.port());
    let doc = json_of(&["-tan", "--json", &filter]);
    let socket = find_connection(&doc, "tcp", client, server).expect("our connection");
    assert!(
        socket.as_object().unwrap().contains_key("tcp_info") && socket["tcp_info"].is_null(),
        "{socket}"
    );
    let table = stdout_of(&["-tan", "-H", &only_this_connection(server)]);
    assert_eq!(table.lines().count(), 3, "{table}");
    assert!(!table.contains('\t'), "{table}");
}

#[test]
fn the_proc_net_fallback_has_no_tcp_info() {
    let connection = connection();
    let (client, server) = connection.ends();
    let filter = format!("sport = :{} or dport = :{}", server.port(), server.port());
    let output = common::rnetstat()
        .args(["-tan", "-i", "--json", &filter])
        .env("RNETSTAT_COLLECTOR", "procfs")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    let socket = find_connection(&doc, "tcp", client, server).expect("our connection");
    assert!(socket["tcp_info"].is_null(), "{socket}");
}
