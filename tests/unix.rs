//! `-x`: Unix domain sockets the test makes itself, compared with `ss -xaH` on the same sockets.
// Linux only: UNIX_DIAG, abstract names and ss.
#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram, UnixListener, UnixStream};
use std::process::Command;

use common::{json_of, run};
use serde_json::Value;

/// What both tools say of one socket, keyed by its inode.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    netid: String,
    state: String,
    recv_q: u64,
    send_q: u64,
    path: String,
    peer_inode: u64,
}

fn inode_of(fd: RawFd) -> u64 {
    // SAFETY: fstat on an fd this test owns, into a zeroed stat.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::fstat(fd, &mut stat) }, 0);
    stat.st_ino
}

/// The ss state names ours stand for.
fn ss_state(ours: &str) -> &str {
    match ours {
        "ESTABLISHED" => "ESTAB",
        "SYN_SENT" => "SYN-SENT",
        other => other,
    }
}

/// `ss -xaH`: `Netid State Recv-Q Send-Q Local Inode Peer PeerInode` (our paths have no spaces).
fn ss_rows() -> BTreeMap<u64, Row> {
    let output = Command::new("ss").arg("-xaH").output().expect("run ss");
    assert!(output.status.success());
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [netid, state, recv_q, send_q, path, inode, _peer, peer_inode] = fields[..] else {
                return None;
            };
            Some((
                inode.parse().ok()?,
                Row {
                    netid: netid.to_string(),
                    state: state.to_string(),
                    recv_q: recv_q.parse().ok()?,
                    send_q: send_q.parse().ok()?,
                    path: path.to_string(),
                    peer_inode: peer_inode.parse().ok()?,
                },
            ))
        })
        .collect()
}

fn json_rows(doc: &Value) -> BTreeMap<u64, (Row, &Value)> {
    doc["sockets"]
        .as_array()
        .expect("sockets")
        .iter()
        .filter(|s| s["proto"] == "unix")
        .map(|s| {
            let netid = match s["type"].as_str().unwrap() {
                "stream" => "u_str",
                "dgram" => "u_dgr",
                "seqpacket" => "u_seq",
                other => panic!("type {other}"),
            };
            let row = Row {
                netid: netid.to_string(),
                state: ss_state(s["state"].as_str().unwrap()).to_string(),
                recv_q: s["recv_q"].as_u64().unwrap(),
                send_q: s["send_q"].as_u64().unwrap(),
                path: s["local"]["path"].as_str().unwrap_or("*").to_string(),
                peer_inode: s["remote"]["inode"].as_u64().unwrap_or(0),
            };
            (s["local"]["inode"].as_u64().unwrap(), (row, s))
        })
        .collect()
}

fn seqpacket_pair() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: socketpair fills two fds, which we then own.
    let done = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    assert_eq!(done, 0);
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

#[test]
#[cfg_attr(not(has_ss), ignore = "needs ss (apt-get install iproute2)")]
fn unix_sockets_match_ss_with_queues_peers_and_owners() {
    let pid = std::process::id();
    let dir = std::env::temp_dir().join(format!("rnetstat-unix-{pid}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    // A named listener with three connections nobody accepted.
    let named_path = dir.join("named.sock");
    let named = UnixListener::bind(&named_path).unwrap();
    let pending: Vec<UnixStream> = (0..3)
        .map(|_| UnixStream::connect(&named_path).unwrap())
        .collect();

    // An abstract listener with one accepted connection holding 5 unread bytes.
    let abstract_name = format!("rnetstat-test-{pid}");
    let abstract_addr = SocketAddr::from_abstract_name(abstract_name.as_bytes()).unwrap();
    let abstract_listener = UnixListener::bind_addr(&abstract_addr).unwrap();
    let mut client = UnixStream::connect_addr(&abstract_addr).unwrap();
    let (accepted, _) = abstract_listener.accept().unwrap();
    client.write_all(b"hello").unwrap();

    // An unnamed pair with 7 unread bytes, a seqpacket pair, and datagrams waiting.
    let (mut left, right) = UnixStream::pair().unwrap();
    left.write_all(b"1234567").unwrap();
    let (seq_a, seq_b) = seqpacket_pair();
    let dgram_path = dir.join("dgram.sock");
    let dgram = UnixDatagram::bind(&dgram_path).unwrap();
    let sender = UnixDatagram::unbound().unwrap();
    sender.send_to(b"abc", &dgram_path).unwrap();
    sender.send_to(b"de", &dgram_path).unwrap();

    let fds = [
        named.as_raw_fd(),
        pending[0].as_raw_fd(),
        pending[1].as_raw_fd(),
        pending[2].as_raw_fd(),
        abstract_listener.as_raw_fd(),
        client.as_raw_fd(),
        accepted.as_raw_fd(),
        left.as_raw_fd(),
        right.as_raw_fd(),
        seq_a.as_raw_fd(),
        seq_b.as_raw_fd(),
        dgram.as_raw_fd(),
        sender.as_raw_fd(),
    ];
    let ours: Vec<u64> = fds.iter().map(|&fd| inode_of(fd)).collect();

    let doc = json_of(&["-xa", "--json"]);
    let ss = ss_rows();
    let rows = json_rows(&doc);
    for inode in &ours {
        let (row, json) = rows
            .get(inode)
            .unwrap_or_else(|| panic!("inode {inode} missing: {doc}"));
        assert_eq!(Some(row), ss.get(inode), "inode {inode}");
        let pids: Vec<u64> = json["processes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_u64().unwrap())
            .collect();
        assert_eq!(pids, [u64::from(pid)], "owners of {inode}: {json}");
    }

    let row = |fd: RawFd| rows[&inode_of(fd)].0.clone();
    let named_row = row(named.as_raw_fd());
    assert_eq!((named_row.state.as_str(), named_row.recv_q), ("LISTEN", 3));
    assert_eq!(named_row.path, named_path.to_str().unwrap());
    assert_eq!(
        row(abstract_listener.as_raw_fd()).path,
        format!("@{abstract_name}")
    );
    assert_eq!(row(accepted.as_raw_fd()).recv_q, 5);
    assert_eq!(row(right.as_raw_fd()).recv_q, 7);
    assert_eq!(row(right.as_raw_fd()).path, "*");
    assert_eq!(row(seq_a.as_raw_fd()).netid, "u_seq");
    // For a datagram socket the kernel counts the next datagram only (as SIOCINQ does).
    assert_eq!(row(dgram.as_raw_fd()).recv_q, 3);
    assert_eq!(row(dgram.as_raw_fd()).state, "UNCONN");
    // The peer's path comes from the peer's own entry: the client's peer is the accepted socket.
    let client_json = rows[&inode_of(client.as_raw_fd())].1;
    assert_eq!(client_json["remote"]["path"], format!("@{abstract_name}"));
    assert_eq!(
        client_json["remote"]["inode"],
        inode_of(accepted.as_raw_fd())
    );
    assert!(rows[&inode_of(named.as_raw_fd())].1["remote"].is_null());

    // Without -a: connected sockets only, as netstat and ss.
    let connected_doc = json_of(&["-x", "--json"]);
    let connected = json_rows(&connected_doc);
    assert!(connected.contains_key(&inode_of(right.as_raw_fd())));
    assert!(!connected.contains_key(&inode_of(named.as_raw_fd())));
    assert!(!connected.contains_key(&inode_of(dgram.as_raw_fd())));

    // The table: ss's Netid and `path inode` cells, owners with -p.
    let table = String::from_utf8(run(&["-xlp", "-W"]).stdout).unwrap();
    let line = table
        .lines()
        .find(|l| l.contains(named_path.to_str().unwrap()))
        .unwrap_or_else(|| panic!("{table}"));
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cells[..3], ["u_str", "3", &named_row.send_q.to_string()]);
    assert_eq!(cells[4], inode_of(named.as_raw_fd()).to_string());
    assert_eq!(cells[5..7], ["*", "LISTEN"]);
    assert!(
        line.ends_with(&format!(" {pid}/{}", common::own_process_name())),
        "{line}"
    );

    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unix_sockets_only_when_asked_and_combinable() {
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port();
    let (left, _right) = UnixStream::pair().unwrap();
    let inode = inode_of(left.as_raw_fd());
    let has_unix = |doc: &Value| json_rows(doc).contains_key(&inode);
    let has_tcp = |doc: &Value| {
        doc["sockets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["proto"] == "tcp" && s["local"]["port"] == port)
    };
    let default = json_of(&["-a", "--json"]);
    assert!(has_tcp(&default) && !has_unix(&default));
    let both = json_of(&["-tax", "--json"]);
    assert!(has_tcp(&both) && has_unix(&both));
    let unix_only = json_of(&["-ax", "--json"]);
    assert!(!has_tcp(&unix_only) && has_unix(&unix_only));
    assert!(
        unix_only["sockets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["proto"] == "unix")
    );
}

#[test]
fn proc_net_unix_fallback_lists_the_same_sockets_with_unknown_queues() {
    let dir = std::env::temp_dir().join(format!("rnetstat-unix-proc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("l.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let (left, _right) = UnixStream::pair().unwrap();
    let output = common::rnetstat()
        .args(["-xa", "--json"])
        .env("RNETSTAT_COLLECTOR", "procfs")
        .output()
        .unwrap();
    assert!(output.status.success());
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    let rows = json_rows_unknown_queues(&doc);
    let listener_row = &rows[&inode_of(listener.as_raw_fd())];
    assert_eq!(listener_row["state"], "LISTEN");
    assert_eq!(listener_row["local"]["path"], path.to_str().unwrap());
    assert!(listener_row["recv_q"].is_null() && listener_row["send_q"].is_null());
    let pair_row = &rows[&inode_of(left.as_raw_fd())];
    assert_eq!(pair_row["state"], "ESTABLISHED");
    assert!(pair_row["local"]["path"].is_null());
    std::fs::remove_dir_all(&dir).unwrap();
}

fn json_rows_unknown_queues(doc: &Value) -> BTreeMap<u64, &Value> {
    doc["sockets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["proto"] == "unix")
        .map(|s| (s["local"]["inode"].as_u64().unwrap(), s))
        .collect()
}
