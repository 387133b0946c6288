//! `--watch`: the real binary reports the sockets this test opens, closes and half-closes.

mod common;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use common::holders::Background;
use common::rnetstat;

/// A running `rnetstat --watch ...` whose stdout lines arrive on a channel, and the lines read
/// so far; killed on drop (by its [`Background`]).
struct Watcher {
    background: Background,
    seen: Vec<String>,
}

impl Watcher {
    fn start(args: &[&str]) -> Watcher {
        Watcher {
            background: Background::start(args),
            seen: Vec::new(),
        }
    }

    /// Read lines until `done` holds for the lines read so far, or `wait` has passed. `done`
    /// is asked again only once the lines that have arrived are all read.
    fn read_until(&mut self, wait: Duration, done: impl Fn(&[String]) -> bool) -> bool {
        let deadline = Instant::now() + wait;
        while !done(&self.seen) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.background.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => return false,
            }
            self.seen.extend(self.background.lines.try_iter());
        }
        true
    }

    /// Every socket event read so far as JSON (the `process` lines that describe owners left
    /// out, see `processes`); a line that is not JSON fails the test.
    fn events(&self) -> Vec<Value> {
        self.all()
            .into_iter()
            .filter(|e| e["event"] != "process")
            .collect()
    }

    /// The `process` lines read so far, their `process` objects.
    fn processes(&self) -> Vec<Value> {
        (self.all().into_iter())
            .filter(|e| e["event"] == "process")
            .map(|e| e["process"].clone())
            .collect()
    }

    fn all(&self) -> Vec<Value> {
        self.seen
            .iter()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect()
    }
}

/// The first line that is not a `process` line.
fn first_socket_line(stdout: &mut impl BufRead) -> String {
    loop {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        if line.is_empty() || !line.contains("\"event\":\"process\"") {
            return line;
        }
    }
}

fn parse(line: &str) -> Option<Value> {
    serde_json::from_str(line).ok()
}

fn port(endpoint: &Value) -> Option<u64> {
    endpoint["port"].as_u64()
}

/// Whether the event's socket joins `a` and `b` (in either direction).
fn joins(event: &Value, a: u16, b: u16) -> bool {
    let socket = &event["socket"];
    let (local, remote) = (port(&socket["local"]), port(&socket["remote"]));
    (local, remote) == (Some(a.into()), Some(b.into()))
        || (local, remote) == (Some(b.into()), Some(a.into()))
}

fn pids(event: &Value) -> Vec<u64> {
    event["socket"]["processes"]
        .as_array()
        .map(|list| list.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

fn is_existing_listener(line: &str, port: u16) -> bool {
    parse(line).is_some_and(|e| {
        e["event"] == "open"
            && e["existing"] == true
            && e["socket"]["state"] == "LISTEN"
            && e["socket"]["local"]["port"] == port
    })
}

#[test]
fn every_short_connection_is_reported_closed_with_its_owner() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let filter = format!("( sport = :{port} or dport = :{port} )");
    let started = Instant::now();
    let mut watcher = Watcher::start(&["--watch", "--json", "-a", &filter]);
    assert!(
        watcher.read_until(Duration::from_secs(20), |lines| lines
            .iter()
            .any(|l| is_existing_listener(l, port))),
        "no existing listener line: {:?}",
        watcher.seen
    );

    let long_client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (long_server, _) = listener.accept().unwrap();
    let long_port = long_client.local_addr().unwrap().port();

    let mut short_ports = Vec::new();
    for _ in 0..300 {
        let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (server, _) = listener.accept().unwrap();
        short_ports.push(client.local_addr().unwrap().port());
        std::thread::sleep(Duration::from_millis(10));
        drop(client);
        drop(server);
    }

    eprintln!("300 connections done after {:?}", started.elapsed());
    let opened_long = |lines: &[String]| {
        lines.iter().filter_map(|l| parse(l)).any(|e| {
            e["event"] == "open"
                && e["socket"]["local"]["port"] == long_port
                && e["existing"].is_null()
        })
    };
    assert!(
        watcher.read_until(Duration::from_secs(10), opened_long),
        "no open event for the long-lived connection from port {long_port}"
    );
    // The client closes, the server does not: the server's socket waits in CLOSE_WAIT.
    drop(long_client);
    let half_closed = |lines: &[String]| {
        lines.iter().filter_map(|l| parse(l)).any(|e| {
            e["event"] == "state"
                && e["from"] == "ESTABLISHED"
                && e["socket"]["state"] == "CLOSE_WAIT"
                && e["socket"]["local"]["port"] == port
                && e["socket"]["remote"]["port"] == long_port
        })
    };
    let all_closed = |lines: &[String]| {
        let events: Vec<Value> = lines.iter().filter_map(|l| parse(l)).collect();
        short_ports.iter().all(|&p| {
            events
                .iter()
                .any(|e| e["event"] == "close" && joins(e, port, p))
        })
    };
    // The client's socket, which polls saw, is closed by the kernel's notice at once.
    let long_closed = |lines: &[String]| {
        lines
            .iter()
            .filter_map(|l| parse(l))
            .any(|e| e["event"] == "close" && e["socket"]["local"]["port"] == long_port)
    };
    watcher.read_until(Duration::from_secs(10), |lines| {
        half_closed(lines) && all_closed(lines) && long_closed(lines)
    });
    let events = watcher.events();
    assert!(
        half_closed(&watcher.seen),
        "no ESTABLISHED -> CLOSE_WAIT state event"
    );
    let closes: Vec<&Value> = events.iter().filter(|e| e["event"] == "close").collect();
    let closed_ports: Vec<u16> = short_ports
        .iter()
        .copied()
        .filter(|&p| closes.iter().any(|e| joins(e, port, p)))
        .collect();
    assert!(
        closed_ports.len() >= 299,
        "close events for {} of 300 short connections",
        closed_ports.len()
    );
    // Every close follows an open of the same socket. A connection no poll saw is an open
    // immediately followed by its close, both at the notice's instant; one a poll saw, perhaps
    // only after its owner had closed it (no inode, no owner), was opened at that poll's time.
    for (i, event) in events.iter().enumerate() {
        if event["event"] != "close" {
            continue;
        }
        let same = |e: &Value| {
            e["socket"]["local"] == event["socket"]["local"]
                && e["socket"]["remote"] == event["socket"]["remote"]
        };
        let opened = events[..i]
            .iter()
            .rposition(|e| e["event"] == "open" && same(e))
            .unwrap_or_else(|| panic!("a close without an open: {event}"));
        if events[opened]["at"] == event["at"] && event["socket"]["inode"].is_null() {
            assert_eq!(
                opened,
                i - 1,
                "an unseen connection's open and close: {event}"
            );
        }
    }
    let me = u64::from(std::process::id());
    // Owners come from what polls saw: whoever is named must be this process.
    let owned = closes.iter().filter(|e| !pids(e).is_empty()).count();
    for event in closes.iter().filter(|e| !pids(e).is_empty()) {
        assert_eq!(pids(event), [me], "{event}");
    }
    eprintln!(
        "{owned} of {} closes name their owner; took {:?}",
        closes.len(),
        started.elapsed()
    );
    for &p in &short_ports[..1] {
        for close in closes.iter().filter(|e| joins(e, port, p)) {
            assert_eq!(close["socket"]["state"], "CLOSE", "{close}");
            assert!(
                close["socket"]["tcp_info"]["bytes_received"].is_u64(),
                "a close from the kernel carries its final tcp_info: {close}"
            );
        }
    }
    // The long-lived client, which polls saw, closed: its notice gets the owner they saw.
    let long_close = closes
        .iter()
        .find(|e| e["socket"]["local"]["port"] == long_port)
        .expect("a close event for the long-lived client");
    assert_eq!(pids(long_close), [me], "{long_close}");
    assert_eq!(long_close["socket"]["state"], "CLOSE", "{long_close}");
    assert!(long_close["socket"]["inode"].is_u64(), "{long_close}");
    assert!(
        long_close["socket"]["tcp_info"]["bytes_acked"].is_u64(),
        "{long_close}"
    );
    drop(long_server);
}

#[test]
fn the_first_lines_are_the_existing_sockets() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut watcher = Watcher::start(&["--watch", "--json", "-a"]);
    assert!(
        watcher.read_until(Duration::from_secs(20), |lines| lines
            .iter()
            .any(|l| is_existing_listener(l, port))),
        "no existing listener line"
    );
    let events = watcher.events();
    let position = events
        .iter()
        .position(|e| is_existing_listener(&e.to_string(), port))
        .unwrap();
    let mine = &events[position];
    assert_eq!(pids(mine), [u64::from(std::process::id())], "{mine}");
    // Our pid was described by a `process` line before.
    assert!(
        (watcher.processes().iter())
            .any(|p| p["pid"] == std::process::id() && p["name"] == common::own_process_name()),
        "{:?}",
        watcher.seen
    );
    assert!(mine["at"].as_str().is_some_and(|at| at.ends_with('Z')));
    // Nothing but existing opens precede the listener's line.
    for event in &events[..position] {
        assert_eq!(event["event"], "open", "{event}");
        assert_eq!(event["existing"], true, "{event}");
    }
    // Later events do not carry "existing".
    let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let client_port = client.local_addr().unwrap().port();
    let (_server, _) = listener.accept().unwrap();
    assert!(watcher.read_until(Duration::from_secs(10), |lines| {
        lines
            .iter()
            .filter_map(|l| parse(l))
            .any(|e| e["event"] == "open" && joins(&e, client_port, port))
    }));
    let opened = watcher
        .events()
        .into_iter()
        .find(|e| e["event"] == "open" && joins(e, client_port, port))
        .unwrap();
    assert!(opened.get("existing").is_none(), "{opened}");
}

#[test]
fn the_readable_form_is_one_line_per_event_with_the_table_endpoints() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let filter = format!("( sport = :{port} or dport = :{port} )");
    let mut watcher = Watcher::start(&["--watch", "-a", "-n", &filter]);
    let name = common::own_process_name();
    let listener_line = format!("127.0.0.1:{port} -> *:* LISTEN");
    assert!(
        watcher.read_until(Duration::from_secs(20), |lines| lines
            .iter()
            .any(|l| l.contains(&listener_line))),
        "{:?}",
        watcher.seen
    );
    let line = watcher
        .seen
        .iter()
        .find(|l| l.contains(&listener_line))
        .unwrap()
        .clone();
    let words: Vec<&str> = line.split_whitespace().collect();
    assert!(words[0].ends_with('Z'), "{line}");
    assert_eq!(&words[1..4], ["open", "tcp", &format!("127.0.0.1:{port}")]);
    assert!(
        line.ends_with(&format!("{}/{name}", std::process::id())),
        "{line}"
    );
    let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let client_port = client.local_addr().unwrap().port();
    let (server, _) = listener.accept().unwrap();
    drop(client);
    drop(server);
    let closed = format!("close tcp 127.0.0.1:{client_port} -> 127.0.0.1:{port}");
    assert!(
        watcher.read_until(Duration::from_secs(10), |lines| lines.iter().any(|l| l
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .contains(&closed))),
        "{:?}",
        watcher.seen
    );
}

#[test]
fn filters_and_families_keep_other_sockets_events_out() {
    let v4 = TcpListener::bind("127.0.0.1:0").unwrap();
    let v6 = TcpListener::bind("[::1]:0").unwrap();
    let (p4, p6) = (
        v4.local_addr().unwrap().port(),
        v6.local_addr().unwrap().port(),
    );
    let either = format!("( sport = :{p4} or dport = :{p4} or sport = :{p6} or dport = :{p6} )");
    let only_p4 = format!("( sport = :{p4} or dport = :{p4} )");
    let mut watchers = [
        (
            "-4",
            Watcher::start(&["--watch", "--json", "-a", "-4", &either]),
        ),
        (
            "-6",
            Watcher::start(&["--watch", "--json", "-a", "-6", &either]),
        ),
        ("p4", Watcher::start(&["--watch", "--json", "-a", &only_p4])),
    ];
    for (_, watcher) in &mut watchers {
        assert!(watcher.read_until(Duration::from_secs(20), |lines| {
            lines.iter().filter_map(|l| parse(l)).any(|e| {
                e["existing"] == true
                    && (e["socket"]["local"]["port"] == p4 || e["socket"]["local"]["port"] == p6)
            })
        }));
    }
    // Short connections (seen by the kernel's close notices only) and a long one on each.
    let mut long = Vec::new();
    for (listener, target) in [
        (&v4, SocketAddr::from(([127, 0, 0, 1], p4))),
        (&v6, format!("[::1]:{p6}").parse().unwrap()),
    ] {
        for _ in 0..5 {
            let client = TcpStream::connect(target).unwrap();
            let (server, _) = listener.accept().unwrap();
            drop(client);
            drop(server);
        }
        let client = TcpStream::connect(target).unwrap();
        let (server, _) = listener.accept().unwrap();
        long.push((client, server));
    }
    let closed_and_open = |wanted: u16| {
        move |lines: &[String]| {
            let events: Vec<Value> = lines.iter().filter_map(|l| parse(l)).collect();
            let on = |e: &Value| {
                e["socket"]["local"]["port"] == wanted || e["socket"]["remote"]["port"] == wanted
            };
            events
                .iter()
                .filter(|e| e["event"] == "close" && on(e))
                .count()
                >= 5
                && events.iter().any(|e| {
                    e["event"] == "open"
                        && e["existing"].is_null()
                        && on(e)
                        && e["socket"]["state"] == "ESTABLISHED"
                })
        }
    };
    for (name, watcher) in &mut watchers {
        let wanted = if *name == "-6" { p6 } else { p4 };
        assert!(
            watcher.read_until(Duration::from_secs(10), closed_and_open(wanted)),
            "{name}: {:?}",
            watcher.seen
        );
    }
    // A last pass of polls, for anything late.
    std::thread::sleep(Duration::from_millis(1500));
    for (name, watcher) in &mut watchers {
        watcher.read_until(Duration::from_millis(200), |_| false);
        for event in watcher.events() {
            let socket = &event["socket"];
            match *name {
                "-4" => assert_eq!(socket["family"], "ipv4", "{name}: {event}"),
                "-6" => assert_eq!(socket["family"], "ipv6", "{name}: {event}"),
                _ => assert!(
                    socket["local"]["port"] == p4 || socket["remote"]["port"] == p4,
                    "{name}: {event}"
                ),
            }
        }
    }
    drop(long);
}

#[test]
fn a_reader_that_goes_away_ends_the_watch_quietly() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let filter = format!("( sport = :{port} or dport = :{port} )");
    let mut child = rnetstat()
        .args(["--watch", "--json", "-a", &filter])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let first = first_socket_line(&mut stdout);
    assert!(is_existing_listener(first.trim_end(), port), "{first}");
    drop(stdout);
    // The next event finds the pipe closed.
    let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (server, _) = listener.accept().unwrap();
    drop(client);
    drop(server);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running after its reader left"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{status:?} {stderr}");
    // Quiet: nothing about the pipe; only a note this machine may cause (owners incomplete).
    for line in stderr.lines() {
        assert!(line.starts_with("rnetstat: owners incomplete"), "{stderr}");
    }
}

#[test]
fn a_reader_that_goes_away_ends_the_watch_even_while_nothing_happens() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut child = rnetstat()
        .args(["--watch", "--json", "-l", &format!("sport = :{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let first = first_socket_line(&mut stdout);
    assert!(is_existing_listener(first.trim_end(), port), "{first}");
    drop(stdout);
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running 5 s after its reader left");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    drop(listener);
}

#[test]
fn sigterm_and_sigint_end_the_watch_with_status_zero() {
    for signal in ["TERM", "INT"] {
        let mut watcher = Watcher::start(&["--watch", "--json", "-l"]);
        assert!(watcher.read_until(Duration::from_secs(20), |lines| !lines.is_empty()));
        let pid = watcher.background.child.id().to_string();
        let killed = std::process::Command::new("kill")
            .args(["-s", signal, &pid])
            .status()
            .expect("run kill");
        assert!(killed.success());
        let deadline = Instant::now() + Duration::from_secs(5);
        let status = loop {
            if let Some(status) = watcher.background.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "SIG{signal} did not end it");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "SIG{signal}: {status:?}");
    }
}

#[test]
fn without_close_notices_closes_come_from_comparing_refreshes_and_it_says_so_once() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let filter = format!("( sport = :{port} or dport = :{port} )");
    let mut watcher = Watcher {
        background: Background::spawn(
            rnetstat()
                .args(["--watch", "--json", "-a", "--interval", "0.2", &filter])
                .env("RNETSTAT_COLLECTOR", "procfs"),
        ),
        seen: Vec::new(),
    };
    assert!(watcher.read_until(Duration::from_secs(20), |lines| {
        lines.iter().any(|l| is_existing_listener(l, port))
    }));
    let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let client_port = client.local_addr().unwrap().port();
    let (server, _) = listener.accept().unwrap();
    let event_on = |kind: &'static str| {
        move |lines: &[String]| {
            lines.iter().filter_map(|l| parse(l)).any(|e| {
                e["event"] == kind
                    && e["socket"]["local"]["port"] == client_port
                    && e["socket"]["state"] == "ESTABLISHED"
            })
        }
    };
    assert!(
        watcher.read_until(Duration::from_secs(10), event_on("open")),
        "{:?}",
        watcher.seen
    );
    drop(server);
    drop(client);
    // The last state a refresh saw, since no notice tells the final one.
    let closed = |lines: &[String]| {
        lines.iter().filter_map(|l| parse(l)).any(|e| {
            e["event"] == "close"
                && e["socket"]["local"]["port"] == port
                && e["socket"]["remote"]["port"] == client_port
        })
    };
    assert!(
        watcher.read_until(Duration::from_secs(10), closed),
        "{:?}",
        watcher.seen
    );
    let _ = watcher.background.child.kill();
    let mut stderr = String::new();
    std::io::Read::read_to_string(
        &mut watcher.background.child.stderr.take().unwrap(),
        &mut stderr,
    )
    .unwrap();
    assert_eq!(
        stderr
            .matches("closes come from comparing refreshes")
            .count(),
        1,
        "{stderr}"
    );
}

#[test]
fn unix_sockets_are_not_watched_a_usage_error_says_so() {
    let mut child = rnetstat()
        .args(["--watch", "-x"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rnetstat");
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`--watch -x` is still running: Unix sockets would never be reported");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--watch"), "{stderr}");
}

/// Each socket of 2,000 short connections is opened at most once and closed at most once: the
/// TIME_WAIT remnant of one already reported closed is not opened again (issue 17: 511 of 4,000
/// sockets were, when a snapshot taken before a notice or a dump that missed the remnant made
/// the watch forget the close).
#[test]
fn under_2000_short_connections_each_socket_opens_and_closes_once() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let listen_port = listener.local_addr().unwrap().port();
    // Unfiltered, as the run was: a longer dump lets more notices overtake snapshots
    // (a port filter did not reproduce the double opens here; this did, 58 of 4,000).
    let mut watcher = Watcher::start(&["--watch", "--json", "-a", "-t"]);
    assert!(
        watcher.read_until(Duration::from_secs(20), |lines| lines
            .iter()
            .any(|l| is_existing_listener(l, listen_port))),
        "no existing listener line: {:?}",
        watcher.seen
    );
    let mut client_ports = Vec::new();
    for _ in 0..2000 {
        let client = TcpStream::connect(("127.0.0.1", listen_port)).unwrap();
        let (server, _) = listener.accept().unwrap();
        client_ports.push(client.local_addr().unwrap().port());
        drop(client);
        std::thread::sleep(Duration::from_micros(500));
        drop(server);
    }
    // Long enough for several snapshots to list (or miss) every remnant.
    watcher.read_until(Duration::from_secs(5), |_| false);
    let events = watcher.events();
    let mut history: std::collections::HashMap<(u64, u64), Vec<&Value>> = Default::default();
    for event in &events {
        let socket = &event["socket"];
        let (Some(local), Some(remote)) = (port(&socket["local"]), port(&socket["remote"])) else {
            continue;
        };
        let ours = local == u64::from(listen_port) || remote == u64::from(listen_port);
        if ours && matches!(event["event"].as_str(), Some("open" | "close")) {
            history.entry((local, remote)).or_default().push(event);
        }
    }
    let mut reopened = Vec::new();
    for (ends, list) in &history {
        let kinds: Vec<&str> = list.iter().filter_map(|e| e["event"].as_str()).collect();
        // A 4-tuple may be used again by a new connection (loopback reuses TIME_WAIT ports),
        // whose open can be printed before the old one's close (a poll saw it before the
        // notice was read): what must never come is a remnant (no inode) opened after a close.
        let remnant_after_close = list.windows(2).any(|pair| {
            pair[0]["event"] == "close"
                && pair[1]["event"] == "open"
                && pair[1]["socket"]["inode"].is_null()
        });
        if remnant_after_close {
            reopened.push((ends, kinds));
        }
    }
    eprintln!(
        "{} events for {} 4-tuples of 2000 connections",
        events.len(),
        history.len()
    );
    assert!(
        reopened.is_empty(),
        "{} sockets reopened after their close; first: {:?}",
        reopened.len(),
        reopened.first()
    );
    let closed_clients = client_ports
        .iter()
        .filter(|&&p| {
            history
                .get(&(u64::from(p), u64::from(listen_port)))
                .is_some_and(|list| list.iter().any(|e| e["event"] == "close"))
        })
        .count();
    assert!(
        closed_clients >= 1990,
        "closes for {closed_clients} of 2000 client sockets"
    );
}

/// Each socket is reported opened at most once and closed at most once, however fast
/// connections come and go: the TIME_WAIT remnant of a connection reported closed stays quiet
/// even when a refresh misses it for a moment (a busy hash table, a dump that skipped it).
#[test]
fn under_churn_each_socket_opens_at_most_once_and_closes_at_most_once() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let filter = format!("( sport = :{port} or dport = :{port} )");
    let mut watcher = Watcher::start(&["--watch", "--json", "-a", "--interval", "0.2", &filter]);
    assert!(
        watcher.read_until(Duration::from_secs(20), |lines| lines
            .iter()
            .any(|l| is_existing_listener(l, port))),
        "no existing listener line: {:?}",
        watcher.seen
    );
    let started = Instant::now();
    for i in 0..2000 {
        let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (server, _) = listener.accept().unwrap();
        // Either side closes first: client remnants and server remnants both.
        if i % 2 == 0 {
            drop(client);
            drop(server);
        } else {
            drop(server);
            drop(client);
        }
    }
    eprintln!("2000 connections in {:?}", started.elapsed());
    // Refreshes keep listing the remnants (TIME_WAIT lasts 60 s) while the count is taken.
    watcher.read_until(Duration::from_secs(15), |_| false);
    let mut opens: std::collections::HashMap<String, usize> = Default::default();
    let mut closes: std::collections::HashMap<String, usize> = Default::default();
    for event in watcher.events() {
        let socket = &event["socket"];
        if socket["remote"].is_null() {
            continue;
        }
        let key = format!(
            "{}:{} -> {}:{}",
            socket["local"]["host"],
            socket["local"]["port"],
            socket["remote"]["host"],
            socket["remote"]["port"]
        );
        match event["event"].as_str() {
            Some("open") => *opens.entry(key).or_default() += 1,
            Some("close") => *closes.entry(key).or_default() += 1,
            _ => {}
        }
    }
    let reopened: Vec<_> = opens.iter().filter(|(_, n)| **n > 1).collect();
    let reclosed: Vec<_> = closes.iter().filter(|(_, n)| **n > 1).collect();
    eprintln!(
        "{} sockets opened, {} closed; {} opened twice or more, {} closed twice or more",
        opens.len(),
        closes.len(),
        reopened.len(),
        reclosed.len()
    );
    assert!(
        closes.len() >= 3900,
        "closes for only {} of 4000 sockets",
        closes.len()
    );
    assert!(
        reopened.is_empty() && reclosed.is_empty(),
        "{} of {} sockets opened more than once ({:?}...), {} closed more than once ({:?}...)",
        reopened.len(),
        opens.len(),
        reopened.iter().take(3).collect::<Vec<_>>(),
        reclosed.len(),
        reclosed.iter().take(3).collect::<Vec<_>>()
    );
}
