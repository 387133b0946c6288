//! Rows as the kernel gives them: nothing invented, unknown marked unknown. Each test runs the
//! real binary with both collectors (sock_diag and the /proc/net fallback).
// Linux only: these run the Linux collector, python3, ss, netstat and ip netns.
#![cfg(target_os = "linux")]

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Output};

use common::holders::{Netns, Python};
use common::{find_connection, find_socket, rnetstat};
use serde_json::Value;

/// The two ways rnetstat reads the kernel's socket tables.
const COLLECTORS: [Collector; 2] = [Collector::SockDiag, Collector::Procfs];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Collector {
    SockDiag,
    Procfs,
}

impl Collector {
    fn command(self, mut command: Command) -> Command {
        command.env_remove("RNETSTAT_COLLECTOR");
        if self == Collector::Procfs {
            command.env("RNETSTAT_COLLECTOR", "procfs");
        }
        command
    }
}

fn succeeded(what: &str, output: Output) -> String {
    assert!(
        output.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

fn table(collector: Collector, args: &[&str]) -> String {
    let output = collector.command(rnetstat()).args(args).output().unwrap();
    succeeded(&format!("rnetstat {args:?} ({collector:?})"), output)
}

fn json(collector: Collector, args: &[&str]) -> Value {
    serde_json::from_str(&table(collector, args)).expect("valid JSON")
}

/// A table line with its column padding folded to single spaces.
fn squeeze(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn sockets(doc: &Value) -> &Vec<Value> {
    doc["sockets"].as_array().expect("sockets array")
}

fn has_local_port(socket: &Value, host: &str, port: u32) -> bool {
    socket["local"]["host"] == host && socket["local"]["port"] == port
}

#[test]
#[cfg_attr(
    not(all(has_ss, has_netstat, has_python3)),
    ignore = "needs ss, netstat and python3 (apt-get install iproute2 net-tools python3)"
)]
fn bound_but_unused_tcp_sockets_are_not_rows_as_in_ss_and_netstat() {
    // bind() alone: neither listening nor connected.
    let holder = Python::run(
        &[],
        "import socket,sys\n\
         a=socket.socket(); a.bind(('127.0.0.1',0))\n\
         b=socket.socket(socket.AF_INET6); b.bind(('::1',0))\n\
         print(a.getsockname()[1], b.getsockname()[1], flush=True); sys.stdin.read()\n",
    );
    let ports = holder.numbers();
    let (port4, port6) = (ports[0], ports[1]);
    let mentions = |text: &str| {
        text.lines()
            .filter(|l| {
                l.contains(&format!("127.0.0.1:{port4} "))
                    || l.contains(&format!(":{port6} ")) && l.contains("::1")
            })
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let ss = succeeded("ss", Command::new("ss").args(["-tan"]).output().unwrap());
    let netstat = succeeded(
        "netstat",
        Command::new("netstat").args(["-tan"]).output().unwrap(),
    );
    assert_eq!(mentions(&ss), Vec::<String>::new(), "the oracle ss changed");
    assert_eq!(
        mentions(&netstat),
        Vec::<String>::new(),
        "the oracle netstat changed"
    );
    for collector in COLLECTORS {
        for args in [&["-tan"][..], &["-tn"], &["-an"]] {
            let rows = mentions(&table(collector, args));
            assert!(rows.is_empty(), "{collector:?} {args:?}: {rows:#?}");
        }
        let doc = json(collector, &["-a", "-n", "--json"]);
        let rows: Vec<_> = sockets(&doc)
            .iter()
            .filter(|s| has_local_port(s, "127.0.0.1", port4) || has_local_port(s, "::1", port6))
            .collect();
        assert!(rows.is_empty(), "{collector:?}: {rows:#?}");
    }
}

#[test]
fn a_listeners_send_queue_is_unknown_in_proc_net() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // One connection waiting to be accepted: both collectors see the accept queue.
    let _pending = TcpStream::connect(addr).unwrap();

    let netlink = json(Collector::SockDiag, &["-l", "-t", "--json"]);
    let socket = find_socket(&netlink, "tcp", addr).expect("listener over sock_diag");
    assert_eq!(socket["recv_q"], 1, "{socket}");
    assert!(
        socket["send_q"].as_u64().is_some_and(|backlog| backlog > 0),
        "sock_diag gives the backlog limit: {socket}"
    );

    let procfs = json(Collector::Procfs, &["-l", "-t", "--json"]);
    let socket = find_socket(&procfs, "tcp", addr).expect("listener in /proc/net/tcp");
    assert_eq!(socket["recv_q"], 1, "{socket}");
    assert!(socket["send_q"].is_null(), "{socket}");

    let text = table(Collector::Procfs, &["-l", "-t", "-n"]);
    let row = text
        .lines()
        .map(squeeze)
        .find(|l| l.contains(&format!("127.0.0.1:{} ", addr.port())))
        .unwrap_or_else(|| panic!("no row for {addr} in\n{text}"));
    assert!(row.starts_with("tcp 1 - 127.0.0.1:"), "{row}");
}

#[test]
#[cfg_attr(
    not(all(is_root, has_setpriv, has_python3)),
    ignore = "needs root, setpriv and python3 (apt-get install util-linux python3)"
)]
fn an_orphaned_socket_has_no_known_uid() {
    // The client's owner (nobody, not root) closes it; the peer does not: the client's side
    // waits in FIN_WAIT2 (once the peer's ACK is in) with no file, and the kernel prints uid 0
    // for it.
    let holder = Python::run(
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "/usr/bin/env",
            "PATH=/usr/bin:/bin",
        ],
        "import socket,sys,time\n\
         l=socket.socket(); l.bind(('127.0.0.1',0)); l.listen()\n\
         c=socket.socket(); c.connect(l.getsockname()); s,_=l.accept()\n\
         port=c.getsockname()[1]; c.close(); time.sleep(0.2)\n\
         print(port, l.getsockname()[1], flush=True); sys.stdin.read()\n",
    );
    let ports = holder.numbers();
    let client: SocketAddr = format!("127.0.0.1:{}", ports[0]).parse().unwrap();
    let server: SocketAddr = format!("127.0.0.1:{}", ports[1]).parse().unwrap();
    for collector in COLLECTORS {
        let doc = json(collector, &["-t", "--json"]);
        let orphan = find_connection(&doc, "tcp", client, server)
            .unwrap_or_else(|| panic!("{collector:?}: no {client} -> {server}"));
        assert_eq!(orphan["state"], "FIN_WAIT2", "{orphan}");
        assert!(orphan["inode"].is_null(), "{orphan}");
        assert!(orphan["uid"].is_null(), "{collector:?}: {orphan}");
        // Its peer still has its file and its real owner.
        let peer = find_connection(&doc, "tcp", server, client).expect("the peer");
        assert_eq!(peer["uid"], 65534, "{peer}");

        let text = table(collector, &["-t", "-n", "-e"]);
        let row = text
            .lines()
            .map(squeeze)
            .find(|l| l.contains(&format!("{client} {server} ")))
            .unwrap_or_else(|| panic!("no row for {client} in\n{text}"));
        let columns: Vec<&str> = row.split(' ').collect();
        assert_eq!(columns[5..8], ["FIN_WAIT2", "-", "-"], "{row}");
    }
}

#[test]
#[cfg_attr(
    not(all(is_root, has_ip, has_python3)),
    ignore = "needs root, ip and python3 (apt-get install iproute2 python3)"
)]
fn link_local_listeners_on_two_interfaces_are_two_rows() {
    let netns = Netns::create(format!("rnetstat-rows-{}", std::process::id()));
    // Two links, each with fe80::1 (this kernel has no dummy driver: veth pairs, peers unused).
    for link in ["v0", "v1"] {
        let peer = format!("{link}p");
        netns.ip_in(&["link", "add", link, "type", "veth", "peer", "name", &peer]);
        netns.ip_in(&["link", "set", link, "up"]);
        netns.ip_in(&["link", "set", &peer, "up"]);
        netns.ip_in(&["addr", "add", "fe80::1/64", "dev", link, "nodad"]);
    }
    let holder = Python::run(
        &netns.exec(),
        "import socket,sys\n\
         held=[]\n\
         for name in ('v0','v1'):\n\
         \x20   s=socket.socket(socket.AF_INET6)\n\
         \x20   s.bind(('fe80::1',22,0,socket.if_nametoindex(name))); s.listen(); held.append(s)\n\
         print(socket.if_nametoindex('v0'), socket.if_nametoindex('v1'), flush=True)\n\
         sys.stdin.read()\n",
    );
    let indexes = holder.numbers();
    let in_netns = |collector: Collector, args: &[&str]| {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &netns.name, env!("CARGO_BIN_EXE_rnetstat")]);
        let output = collector.command(command).args(args).output().unwrap();
        succeeded(&format!("rnetstat {args:?} in the netns"), output)
    };

    let doc: Value = serde_json::from_str(&in_netns(Collector::SockDiag, &["-l", "-t", "--json"]))
        .expect("valid JSON");
    let mut scopes: Vec<(Value, Value)> = sockets(&doc)
        .iter()
        .filter(|s| has_local_port(s, "fe80::1", 22))
        .map(|s| (s["local"]["scope"].clone(), s["local"]["scope_id"].clone()))
        .collect();
    scopes.sort_by_key(|(name, _)| name.to_string());
    assert_eq!(
        scopes,
        [
            (Value::from("v0"), Value::from(indexes[0])),
            (Value::from("v1"), Value::from(indexes[1]))
        ],
        "{doc}"
    );

    let text = in_netns(Collector::SockDiag, &["-l", "-t", "-n"]);
    for link in ["v0", "v1"] {
        let endpoint = format!("[fe80::1%{link}]:22 ");
        assert!(
            text.lines()
                .any(|l| l.starts_with("tcp6") && l.contains(&endpoint)),
            "no {endpoint} in\n{text}"
        );
    }

    // /proc/net/tcp6 has no interface column: two rows, both without a scope.
    let doc: Value = serde_json::from_str(&in_netns(Collector::Procfs, &["-l", "-t", "--json"]))
        .expect("valid JSON");
    let scopes: Vec<_> = sockets(&doc)
        .iter()
        .filter(|s| has_local_port(s, "fe80::1", 22))
        .map(|s| (s["local"]["scope"].clone(), s["local"]["scope_id"].clone()))
        .collect();
    assert_eq!(
        scopes,
        [(Value::Null, Value::Null), (Value::Null, Value::Null)]
    );
}
