//! The real binary against sockets this test opens itself on loopback.
// Linux only: these run the Linux collector and read /proc, ss or tmux.
#![cfg(target_os = "linux")]

mod common;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};

use common::{find_connection, find_socket, json_of, own_process_name, stdout_of};
use serde_json::Value;

/// One of everything: TCP listeners on both families, an established pair, bound and connected
/// UDP. The sockets stay open as long as the fixture lives; the addresses are theirs.
struct Fixture {
    _sockets: (
        TcpListener,
        TcpListener,
        TcpStream,
        TcpStream,
        UdpSocket,
        UdpSocket,
    ),
    listener4: SocketAddr,
    listener6: SocketAddr,
    client: SocketAddr,
    server: SocketAddr,
    udp_bound: SocketAddr,
    udp_connected: SocketAddr,
}

impl Fixture {
    fn open() -> Fixture {
        let listener4 = TcpListener::bind("127.0.0.1:0").expect("listen 127.0.0.1");
        let listener6 = TcpListener::bind("[::1]:0").expect("listen [::1]");
        let client = TcpStream::connect(listener4.local_addr().unwrap()).expect("connect");
        let (server, _) = listener4.accept().expect("accept");
        let udp_bound = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        let udp_connected = UdpSocket::bind("[::1]:0").expect("bind udp6");
        udp_connected.connect("[::1]:9").expect("connect udp6");
        Fixture {
            listener4: listener4.local_addr().unwrap(),
            listener6: listener6.local_addr().unwrap(),
            client: client.local_addr().unwrap(),
            server: server.local_addr().unwrap(),
            udp_bound: udp_bound.local_addr().unwrap(),
            udp_connected: udp_connected.local_addr().unwrap(),
            _sockets: (
                listener4,
                listener6,
                client,
                server,
                udp_bound,
                udp_connected,
            ),
        }
    }
}

/// Our pid among the socket's owners, described once in the document's `processes`.
fn assert_owned_by_us(doc: &Value, socket: &Value) {
    let pids = socket["processes"].as_array().expect("processes array");
    let pid = std::process::id();
    assert!(
        pids.contains(&pid.into()),
        "our pid not among owners of {socket}"
    );
    let me = &doc["processes"][pid.to_string()];
    assert_eq!(me["pid"], pid);
    assert_eq!(me["name"], own_process_name());
    assert!(
        me["cmdline"]
            .as_str()
            .is_some_and(|c| c.contains("sockets"))
    );
}

#[test]
fn json_lists_every_socket_we_opened_with_state_and_owner() {
    let f = Fixture::open();
    let doc = json_of(&["-a", "--json"]);
    assert_eq!(doc["version"], 2);
    assert!(doc["taken_at"].as_str().is_some_and(|t| t.ends_with('Z')));

    let listener4 = find_socket(&doc, "tcp", f.listener4).expect("listener4");
    assert_eq!(listener4["state"], "LISTEN");
    assert_eq!(listener4["family"], "ipv4");
    assert!(listener4["remote"].is_null());
    assert_owned_by_us(&doc, listener4);

    let listener6 = find_socket(&doc, "tcp", f.listener6).expect("listener6");
    assert_eq!(listener6["state"], "LISTEN");
    assert_eq!(listener6["family"], "ipv6");
    assert_owned_by_us(&doc, listener6);

    let client = find_connection(&doc, "tcp", f.client, f.listener4).expect("client");
    assert_eq!(client["state"], "ESTABLISHED");
    assert_owned_by_us(&doc, client);

    let server = f.server.port();
    assert_eq!(server, f.listener4.port());
    let accepted = doc["sockets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["local"]["port"] == server
                && s["remote"]["port"] == f.client.port()
                && s["state"] == "ESTABLISHED"
        })
        .expect("accepted side");
    assert_owned_by_us(&doc, accepted);

    let udp = find_socket(&doc, "udp", f.udp_bound).expect("udp");
    assert_eq!(udp["state"], "UNCONN");
    assert!(udp["remote"].is_null());
    assert_eq!(udp["recv_q"], 0);
    assert_owned_by_us(&doc, udp);

    let udp6 = find_socket(&doc, "udp", f.udp_connected).expect("udp6");
    assert_eq!(udp6["state"], "ESTABLISHED");
    assert_eq!(udp6["family"], "ipv6");
    assert_eq!(udp6["remote"]["host"], "::1");
    assert_owned_by_us(&doc, udp6);

    let inode = listener4["inode"].as_u64().expect("inode");
    let uid = listener4["uid"].as_u64().expect("uid");
    assert!(inode > 0);
    // SAFETY: getuid cannot fail.
    assert_eq!(uid, u64::from(unsafe { libc::getuid() }));
}

#[test]
fn udp_receive_queue_is_reported() {
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    sender
        .send_to(&[7u8; 100], receiver.local_addr().unwrap())
        .unwrap();
    let doc = json_of(&["-a", "-u", "--json"]);
    let udp = find_socket(&doc, "udp", receiver.local_addr().unwrap()).expect("receiver");
    assert!(udp["recv_q"].as_u64().unwrap() >= 100, "recv_q of {udp}");
}

#[test]
fn table_shows_endpoints_states_and_owners() {
    let f = Fixture::open();
    let table = stdout_of(&["-a", "-n", "-p"]);
    let header = table.lines().next().unwrap();
    for title in [
        "Proto",
        "Recv-Q",
        "Send-Q",
        "Local Address",
        "Foreign Address",
        "State",
        "PID/Program",
    ] {
        assert!(header.contains(title), "{title} missing from {header}");
    }
    let owner = format!("{}/{}", std::process::id(), own_process_name());
    let listener = format!("127.0.0.1:{} ", f.listener4.port());
    let line = table
        .lines()
        .find(|l| l.starts_with("tcp ") && l.contains(&listener))
        .unwrap_or_else(|| panic!("no line for {listener} in\n{table}"));
    assert!(
        line.contains("*:*") && line.contains("LISTEN") && line.contains(&owner),
        "{line}"
    );

    let listener6 = format!("[::1]:{} ", f.listener6.port());
    let line = table
        .lines()
        .find(|l| l.starts_with("tcp6 ") && l.contains(&listener6))
        .unwrap_or_else(|| panic!("no line for {listener6} in\n{table}"));
    assert!(line.contains("LISTEN"), "{line}");

    let udp6 = format!("[::1]:{} ", f.udp_connected.port());
    let line = table
        .lines()
        .find(|l| l.starts_with("udp6 ") && l.contains(&udp6))
        .unwrap_or_else(|| panic!("no line for {udp6}"));
    assert!(line.contains("ESTABLISHED"), "{line}");
}

#[test]
fn table_labels_services_unless_numeric() {
    // 80/tcp may be taken or privileged; a listener on 127.0.0.1 at a named port we can bind:
    // pick the first free one among a few well-known registered services.
    let named = [
        (5432, "postgresql"),
        (6379, "redis"),
        (8080, "http-alt"),
        (3306, "mysql"),
    ];
    let Some((listener, service)) = named.iter().find_map(|&(port, name)| {
        TcpListener::bind(("127.0.0.1", port))
            .ok()
            .map(|l| (l, name))
    }) else {
        panic!("none of the named test ports is free");
    };
    let port = listener.local_addr().unwrap().port();
    let labelled = format!("127.0.0.1:{port}({service})");
    assert!(
        stdout_of(&["-l", "-t", "--numeric-hosts"]).contains(&labelled),
        "-l lacks {labelled}"
    );
    let numeric = stdout_of(&["-l", "-t", "-n"]);
    assert!(!numeric.contains(&labelled) && numeric.contains(&format!("127.0.0.1:{port} ")));
    let doc = json_of(&["-l", "--json"]);
    let socket = find_socket(&doc, "tcp", listener.local_addr().unwrap()).unwrap();
    assert_eq!(socket["local"]["service"], service);
    assert_eq!(socket["local"]["port_class"], "registered");
}

#[test]
fn listening_flag_and_default_split_sockets_as_netstat_does() {
    let f = Fixture::open();
    let listening = stdout_of(&["-l", "-n"]);
    let established = stdout_of(&["-n"]);
    // The accepted socket shares the listener's local address: tell them apart by the peer.
    let listener = format!("127.0.0.1:{} *:*", f.listener4.port());
    let client = format!("{} {} ", f.client, f.listener4);
    // TCP and UDP ports are separate: a TCP socket elsewhere may have the UDP socket's port.
    let udp = format!("udp 0 0 127.0.0.1:{} ", f.udp_bound.port());
    let shows = |table: &str, what: &str| table.lines().any(|l| squeeze(l).contains(what));
    assert!(shows(&listening, &listener) && shows(&listening, &udp));
    assert!(!shows(&listening, &client));
    assert!(shows(&established, &client));
    assert!(!shows(&established, &listener) && !shows(&established, &udp));
}

/// A table line with its column padding folded to single spaces.
fn squeeze(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn family_and_protocol_flags_select() {
    let f = Fixture::open();
    let v4 = stdout_of(&["-a", "-n", "-4"]);
    let v6 = stdout_of(&["-a", "-n", "-6"]);
    let udp_only = stdout_of(&["-a", "-n", "-u"]);
    let port4 = format!("127.0.0.1:{} ", f.listener4.port());
    let port6 = format!("[::1]:{} ", f.listener6.port());
    assert!(v4.contains(&port4) && !v4.contains(&port6));
    assert!(v6.contains(&port6) && !v6.contains(&port4));
    assert!(
        v4.lines()
            .skip(1)
            .all(|l| l.starts_with("tcp ") || l.starts_with("udp "))
    );
    assert!(
        v6.lines()
            .skip(1)
            .all(|l| l.starts_with("tcp6 ") || l.starts_with("udp6 "))
    );
    assert!(udp_only.lines().skip(1).all(|l| l.starts_with("udp")));
    assert!(udp_only.contains(&format!("127.0.0.1:{} ", f.udp_bound.port())));
}

/// Run a python3 `script` that opens sockets, prints one line about them, then holds them until
/// its stdin closes. Returns the child and that line.
fn python_holding_sockets(script: &str) -> (Child, String) {
    let mut child = Command::new("python3")
        .args(["-c", script])
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

#[test]
#[cfg_attr(not(has_python3), ignore = "needs python3 (apt-get install python3)")]
fn shared_socket_lists_every_owner() {
    // A forked child inherits the listener: the socket has two owners, as ss -p shows.
    let script = "import os,socket,sys,time\n\
        s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\n\
        pid=os.fork()\n\
        if pid==0:\n    time.sleep(30); os._exit(0)\n\
        print(s.getsockname()[1], pid, flush=True); sys.stdin.read(); os.kill(pid,9)\n";
    let (mut child, line) = python_holding_sockets(script);
    let mut parts = line.split_whitespace().map(|p| p.parse::<u32>().unwrap());
    let (port, forked) = (parts.next().unwrap(), parts.next().unwrap());
    let doc = json_of(&["-l", "-t", "--json"]);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let socket = find_socket(&doc, "tcp", addr)
        .expect("python listener")
        .clone();
    let table = stdout_of(&["-l", "-t", "-p", "-n"]);
    drop(child.stdin.take());
    let _ = child.wait();
    let pids: Vec<u64> = socket["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect();
    assert_eq!(
        pids,
        vec![u64::from(child.id()), u64::from(forked)],
        "{socket}"
    );
    let line = table
        .lines()
        .find(|l| l.contains(&format!("127.0.0.1:{port} ")))
        .unwrap();
    assert!(
        line.contains(&format!("{}/python3,{forked}/python3", child.id())),
        "{line}"
    );
}

#[test]
#[cfg_attr(not(has_python3), ignore = "needs python3 (apt-get install python3)")]
fn control_characters_in_process_names_are_escaped() {
    let script = "import ctypes,socket,sys\n\
        ctypes.CDLL(None).prctl(15, b'ev\\x1b[2Jil', 0, 0, 0)\n\
        s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\n\
        print(s.getsockname()[1], flush=True); sys.stdin.read()\n";
    let (mut child, line) = python_holding_sockets(script);
    let port: u16 = line.trim().parse().unwrap();
    let table = stdout_of(&["-l", "-t", "-p", "-n"]);
    drop(child.stdin.take());
    let _ = child.wait();
    let row = table
        .lines()
        .find(|l| l.contains(&format!("127.0.0.1:{port} ")))
        .unwrap();
    assert!(row.contains("ev\\x1b[2Jil"), "{row:?}");
    assert!(!table.contains('\x1b'), "raw escape reached the table");
}

#[test]
fn a_live_collector_finds_owners_of_sockets_opened_between_refreshes() {
    use rnetstat::filter::{Listening, Query};
    use rnetstat::platform::Collector;

    let query = Query {
        listening: Listening::Only,
        owners: true,
        ..Query::default()
    };
    let owners_of = |snapshot: &rnetstat::model::Snapshot, addr: SocketAddr| {
        snapshot
            .sockets
            .iter()
            .find(|s| s.local == addr)
            .map(|s| s.pids.clone())
    };
    let mut collector = Collector::new(query);
    let before = TcpListener::bind("127.0.0.1:0").unwrap();
    let first = collector.snapshot().unwrap();
    assert_eq!(
        owners_of(&first, before.local_addr().unwrap()),
        Some(vec![std::process::id()])
    );
    // The second snapshot remembers the first's owners and looks only for the new listener.
    let after = TcpListener::bind("[::1]:0").unwrap();
    let second = collector.snapshot().unwrap();
    assert_eq!(
        owners_of(&second, before.local_addr().unwrap()),
        Some(vec![std::process::id()])
    );
    assert_eq!(
        owners_of(&second, after.local_addr().unwrap()),
        Some(vec![std::process::id()])
    );
    let gone = before.local_addr().unwrap();
    drop(before);
    assert_eq!(owners_of(&collector.snapshot().unwrap(), gone), None);
}

#[test]
#[cfg_attr(
    not(all(is_root, has_python3)),
    ignore = "needs root and python3 (apt-get install python3)"
)]
fn a_listener_that_moved_to_another_network_namespace_keeps_its_owner() {
    // The socket stays in our namespace (and in our dump) after its holder calls
    // unshare(CLONE_NEWNET); only the process moved, as under systemd's PrivateNetwork=.
    let script = "import ctypes,socket,sys\n\
        s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\n\
        assert ctypes.CDLL(None, use_errno=True).unshare(0x40000000) == 0\n\
        print(s.getsockname()[1], flush=True); sys.stdin.read()\n";
    let (mut child, line) = python_holding_sockets(script);
    let port: u16 = line.trim().parse().expect("the listener's port");
    let doc = json_of(&["-l", "-t", "--json"]);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let socket = find_socket(&doc, "tcp", addr)
        .expect("the moved listener is still in our namespace")
        .clone();
    drop(child.stdin.take());
    let _ = child.wait();
    let pids: Vec<u64> = socket["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect();
    assert_eq!(pids, vec![u64::from(child.id())], "{socket}");
}

/// A TCP listener on `[::]`, a free port, with IPV6_V6ONLY set as asked; its port.
fn wildcard_v6_listener(v6only: bool) -> (std::os::fd::OwnedFd, u16) {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // SAFETY: plain socket calls on a descriptor this function owns; every result is checked.
    unsafe {
        let fd = libc::socket(libc::AF_INET6, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let fd = OwnedFd::from_raw_fd(fd);
        let on = libc::c_int::from(v6only);
        assert_eq!(
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::IPPROTO_IPV6,
                libc::IPV6_V6ONLY,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            ),
            0
        );
        let mut addr: libc::sockaddr_in6 = std::mem::zeroed();
        addr.sin6_family = libc::AF_INET6 as libc::sa_family_t;
        let len = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
        assert_eq!(
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_in6).cast(),
                len
            ),
            0,
            "bind: {}",
            std::io::Error::last_os_error()
        );
        assert_eq!(libc::listen(fd.as_raw_fd(), 8), 0);
        let mut bound = len;
        assert_eq!(
            libc::getsockname(
                fd.as_raw_fd(),
                (&mut addr as *mut libc::sockaddr_in6).cast(),
                &mut bound
            ),
            0
        );
        (fd, u16::from_be(addr.sin6_port))
    }
}

#[test]
#[cfg_attr(not(has_ss), ignore = "needs ss (apt-get install iproute2)")]
fn dual_stack_and_v6_only_wildcard_listeners_differ_as_in_ss() {
    let (_dual, dual_port) = wildcard_v6_listener(false);
    let (_v6, v6_port) = wildcard_v6_listener(true);
    let ss = Command::new("ss").args(["-ltnH"]).output().unwrap();
    let ss = String::from_utf8(ss.stdout).unwrap();
    // The Local Address column of the row whose local port is `port`.
    let local_of = |table: &str, column: usize, port: u16| -> String {
        table
            .lines()
            .filter_map(|line| line.split_whitespace().nth(column))
            .find(|local| local.ends_with(&format!(":{port}")))
            .unwrap_or_else(|| panic!("no listener on port {port} in\n{table}"))
            .to_string()
    };
    let ours = stdout_of(&["-ltn"]);
    for port in [dual_port, v6_port] {
        assert_eq!(
            local_of(&ours, 3, port),
            local_of(&ss, 3, port),
            "{ours}\n{ss}"
        );
    }
    assert_eq!(local_of(&ours, 3, dual_port), format!("*:{dual_port}"));
    assert_eq!(local_of(&ours, 3, v6_port), format!("[::]:{v6_port}"));

    let doc = json_of(&["-ltn", "--json"]);
    let wildcard = |port| SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, port));
    for (port, v6only) in [(dual_port, false), (v6_port, true)] {
        let socket = find_socket(&doc, "tcp", wildcard(port)).expect("our listener");
        assert_eq!(socket["v6only"], v6only, "{socket}");
        assert_eq!(socket["local"]["host"], "::", "{socket}");
    }
    // IPv4 sockets have no such option; /proc/net/tcp6 does not say.
    let listener4 = TcpListener::bind("127.0.0.1:0").unwrap();
    let doc = json_of(&["-ltn", "--json"]);
    let socket = find_socket(&doc, "tcp", listener4.local_addr().unwrap()).expect("IPv4");
    assert!(socket["v6only"].is_null(), "{socket}");
    let output = common::rnetstat()
        .args(["-ltn", "--json"])
        .env("RNETSTAT_COLLECTOR", "procfs")
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    let socket = find_socket(&doc, "tcp", wildcard(dual_port)).expect("our listener");
    assert!(socket["v6only"].is_null(), "{socket}");
}
