//! `-o/--timers`: the kernel's timer per socket, against `netstat -o` and `ss -o` on the same socket.
// Linux only: SO_KEEPALIVE through libc, and the oracles are Linux's netstat and ss.
#![cfg(target_os = "linux")]

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::Duration;

use common::{find_connection, json_of, rnetstat};

/// The table row (`-tnoa`) of the connection from `local` to `remote`, by the chosen collector.
fn row(collector: &str, local: SocketAddr, remote: SocketAddr) -> String {
    let output = rnetstat()
        .args(["-tnoa"])
        .env("RNETSTAT_COLLECTOR", collector)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let table = String::from_utf8(output.stdout).unwrap();
    let wanted = |line: &&str| {
        let words: Vec<&str> = line.split_whitespace().collect();
        words.get(3) == Some(&local.to_string().as_str())
            && words.get(4) == Some(&remote.to_string().as_str())
    };
    table
        .lines()
        .find(wanted)
        .unwrap_or_else(|| panic!("no row {local} -> {remote} in\n{table}"))
        .to_string()
}

/// The timer column, the last of a netstat-style row: (kind, seconds, "retransmits/probes").
fn timer_cell(row: &str) -> (String, f64, String) {
    let (head, inside) = row
        .trim_end()
        .strip_suffix(')')
        .and_then(|row| row.rsplit_once(" ("))
        .unwrap_or_else(|| panic!("no timer in {row:?}"));
    let kind = head.rsplit(' ').next().unwrap();
    let (seconds, counts) = inside.split_once('/').unwrap();
    (
        kind.to_string(),
        seconds.parse().unwrap(),
        counts.to_string(),
    )
}

fn netstat_row(local: SocketAddr, remote: SocketAddr) -> String {
    let output = Command::new("netstat").args(["-tnoa"]).output().unwrap();
    let table = String::from_utf8(output.stdout).unwrap();
    table
        .lines()
        .find(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            words.get(3) == Some(&local.to_string().as_str())
                && words.get(4) == Some(&remote.to_string().as_str())
        })
        .unwrap_or_else(|| panic!("netstat has no row {local} -> {remote}"))
        .to_string()
}

fn keepalive(stream: &TcpStream) {
    let on: libc::c_int = 1;
    // SAFETY: a valid fd and a pointer to an int of the size given.
    let result = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_KEEPALIVE,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(
        result,
        0,
        "SO_KEEPALIVE: {}",
        std::io::Error::last_os_error()
    );
}

#[test]
#[cfg_attr(
    not(all(has_netstat, has_ss)),
    ignore = "needs netstat and ss (apt-get install net-tools iproute2)"
)]
fn a_keepalive_socket_shows_its_keepalive_timer_as_netstat_and_ss_do() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    keepalive(&client);
    let (server, _) = listener.accept().unwrap();
    let (local, remote) = (client.local_addr().unwrap(), client.peer_addr().unwrap());

    let netstat = netstat_row(local, remote);
    let (netstat_kind, netstat_seconds, netstat_counts) = timer_cell(&netstat);
    assert_eq!(netstat_kind, "keepalive", "{netstat}");
    for collector in ["sock_diag", "procfs"] {
        let ours = row(collector, local, remote);
        let (kind, seconds, counts) = timer_cell(&ours);
        assert_eq!(kind, "keepalive", "{collector}: {ours}");
        // The same timer read a moment apart: within a few seconds of netstat's, and under
        // the kernel's default keepalive time of two hours.
        assert!(
            (seconds - netstat_seconds).abs() < 5.0 && seconds <= 7200.0,
            "{collector}: {ours} vs netstat {netstat}"
        );
        // Both counts as netstat's: sock_diag's header has only the probes of a keepalive
        // timer, so -o asks for tcp_info, which has the retransmits too.
        assert_eq!(
            counts, netstat_counts,
            "{collector}: {ours} vs netstat {netstat}"
        );
        // The accepted end has no keepalive: nothing pending.
        let peer = row(collector, remote, local);
        assert!(peer.ends_with(" off (0.00/0/0)"), "{collector}: {peer}");
    }

    let ss = Command::new("ss")
        .args(["-tnoH", "state", "established"])
        .arg(format!("sport = :{}", local.port()))
        .output()
        .unwrap();
    let ss = String::from_utf8(ss.stdout).unwrap();
    assert!(ss.contains("timer:(keepalive,"), "ss: {ss}");

    let doc = json_of(&["-tna", "--json"]);
    let socket = find_connection(&doc, "tcp", local, remote).expect("our connection");
    let timer = &socket["timer"];
    assert_eq!(timer["kind"], "keepalive", "{socket}");
    let expires = timer["expires_ms"].as_u64().unwrap();
    assert!(
        (7_000_000..=7_200_000).contains(&expires),
        "{timer} (netstat says {netstat_seconds} s)"
    );
    // Without -i no tcp_info is asked for: the retransmits of a keepalive timer are unknown.
    assert!(timer["retransmits"].is_null(), "{timer}");
    assert_eq!(timer["probes"], 0, "{timer}");
    let doc = json_of(&["-tna", "-i", "--json"]);
    let socket = find_connection(&doc, "tcp", local, remote).expect("our connection");
    assert_eq!(socket["timer"]["retransmits"], 0, "{socket}");
    assert_eq!(socket["timer"]["probes"], 0, "{socket}");
    drop(server);
}

#[test]
#[cfg_attr(not(has_netstat), ignore = "needs netstat (apt-get install net-tools)")]
fn time_wait_shows_the_timewait_timer() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    let (local, remote) = (client.local_addr().unwrap(), client.peer_addr().unwrap());
    // The side that closes first keeps TIME_WAIT once the other side has closed too.
    drop(client);
    std::thread::sleep(Duration::from_millis(100));
    drop(server);
    std::thread::sleep(Duration::from_millis(200));

    for collector in ["sock_diag", "procfs"] {
        let ours = row(collector, local, remote);
        assert!(ours.contains(" TIME_WAIT "), "{collector}: {ours}");
        let (kind, seconds, counts) = timer_cell(&ours);
        assert_eq!(kind, "timewait", "{collector}: {ours}");
        assert!(seconds > 0.0 && seconds <= 60.0, "{collector}: {ours}");
        assert_eq!(counts, "0/0", "{collector}: {ours}");
    }
    let netstat = netstat_row(local, remote);
    assert_eq!(timer_cell(&netstat).0, "timewait", "{netstat}");
    let doc = json_of(&["-tna", "--json"]);
    let socket = find_connection(&doc, "tcp", local, remote).expect("our TIME_WAIT");
    assert_eq!(socket["state"], "TIME_WAIT");
    assert_eq!(socket["timer"]["kind"], "timewait", "{socket}");
}
