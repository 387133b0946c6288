//! ss's filter language on the command line: the real binary against `ss` on sockets the
//! test opens itself, and the flags around filters (-F, --sort, -H, pointed usage errors).
// Linux only: these run the Linux collector and ask ss.
#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{json_of, own_process_name, rnetstat, run, stdout_of};
use serde_json::Value;

/// (local, remote, state) in one spelling: `host port`, `*` for no peer, ss's state names.
type Row = (String, String, String);

/// Listeners on 127.0.0.1, ::1 and the IPv4-mapped ::ffff:127.0.0.1, two established
/// connections to each, and one connection per listener closed by its client, whose client
/// end waits in TIME_WAIT.
struct Fixture {
    listeners: Vec<TcpListener>,
    _open: Vec<TcpStream>,
}

impl Fixture {
    fn open() -> Fixture {
        let listeners: Vec<TcpListener> = ["127.0.0.1:0", "[::1]:0", "[::ffff:127.0.0.1]:0"]
            .iter()
            .map(|a| TcpListener::bind(a).expect("bind loopback"))
            .collect();
        let mut open = Vec::new();
        let mut closed_clients = BTreeSet::new();
        for listener in &listeners {
            let target = connect_address(listener);
            for _ in 0..2 {
                open.push(TcpStream::connect(target).unwrap());
                open.push(listener.accept().unwrap().0);
            }
            let client = TcpStream::connect(target).unwrap();
            let mut server = listener.accept().unwrap().0;
            let end = client.local_addr().unwrap();
            closed_clients.insert(format!("{} {}", end.ip(), end.port()));
            client.shutdown(Shutdown::Both).unwrap();
            drop(client);
            let mut rest = Vec::new();
            server.read_to_end(&mut rest).unwrap();
            drop(server);
        }
        let fixture = Fixture {
            listeners,
            _open: open,
        };
        fixture.wait_for_time_wait(&closed_clients);
        fixture
    }

    fn ports(&self) -> Vec<u16> {
        self.listeners
            .iter()
            .map(|l| l.local_addr().unwrap().port())
            .collect()
    }

    /// The listeners' own endpoints and the addresses clients connect to, spelt as rows
    /// spell them.
    fn endpoints(&self) -> BTreeSet<String> {
        self.listeners
            .iter()
            .flat_map(|l| [l.local_addr().unwrap(), connect_address(l)])
            .map(|a| format!("{} {}", a.ip(), a.port()))
            .collect()
    }

    /// Rows of this fixture only: every one of its sockets has a listener's endpoint at one end.
    fn own(&self, rows: BTreeSet<Row>) -> BTreeSet<Row> {
        let endpoints = self.endpoints();
        rows.into_iter()
            .filter(|(local, remote, _)| endpoints.contains(local) || endpoints.contains(remote))
            .collect()
    }

    /// Until each client closed above waits in TIME_WAIT. Counted by the clients' own ends: a
    /// listener's port may still have another test's TIME_WAIT on it, from before it was ours.
    fn wait_for_time_wait(&self, clients: &BTreeSet<String>) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let rows = self.own(ss_rows(&["state time-wait"]));
            let time_wait = rows
                .iter()
                .filter(|(local, _, _)| clients.contains(local))
                .count();
            if time_wait == clients.len() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{time_wait} of {} TIME_WAIT sockets: {rows:?}",
                clients.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Where a client connects to reach `listener` (the mapped listener through 127.0.0.1).
fn connect_address(listener: &TcpListener) -> SocketAddr {
    let addr = listener.local_addr().unwrap();
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => addr,
        },
        SocketAddr::V4(_) => addr,
    }
}

/// `host port` from `127.0.0.1:80`, `[::1]:80`, `[::ffff:127.0.0.1]:80`; `*` for no peer.
fn endpoint(text: &str) -> String {
    let (host, port) = text.rsplit_once(':').expect("host:port");
    if port == "*" {
        return "*".to_string();
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = host.split('%').next().unwrap_or(host);
    format!("{host} {port}")
}

/// rnetstat's state names spelt as ss spells them.
fn ss_state(netstat: &str) -> String {
    match netstat {
        "ESTABLISHED" => "ESTAB".to_string(),
        "CLOSE" => "UNCONN".to_string(),
        other => other.replace('_', "-"),
    }
}

/// `ss -tanH <filter words>` as rows. ss reads `state` and `exclude` only as arguments of
/// their own, so the words go one per argument.
fn ss_rows(filter: &[&str]) -> BTreeSet<Row> {
    let output = Command::new("ss")
        .arg("-tanH")
        .args(filter.iter().flat_map(|words| words.split_whitespace()))
        .output()
        .expect("run ss");
    assert!(
        output.status.success(),
        "ss {filter:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // ss drops the State column when the filter allows one state only.
            let state_shown = fields.first()?.parse::<u64>().is_err();
            let (state, rest) = if state_shown {
                (fields[0].to_string(), &fields[1..])
            } else {
                (String::new(), &fields[..])
            };
            (rest.len() >= 4).then(|| (endpoint(rest[2]), endpoint(rest[3]), state))
        })
        .collect()
}

/// `rows` without their states when ss hid its State column (a one-state filter).
fn states_as_ss_shows(rows: BTreeSet<Row>, ss: &BTreeSet<Row>) -> BTreeSet<Row> {
    if ss.iter().any(|(_, _, state)| state.is_empty()) {
        rows.into_iter()
            .map(|(local, remote, _)| (local, remote, String::new()))
            .collect()
    } else {
        rows
    }
}

/// `rnetstat -tanW <filter words>` as rows.
fn rnetstat_rows(filter: &[&str]) -> BTreeSet<Row> {
    let args: Vec<&str> = ["-tanW"].iter().chain(filter).copied().collect();
    table_rows(&stdout_of(&args))
}

/// The same from the /proc/net fallback collector.
fn rnetstat_procfs_rows(filter: &[&str]) -> BTreeSet<Row> {
    let output = rnetstat()
        .env("RNETSTAT_COLLECTOR", "procfs")
        .arg("-tanW")
        .args(filter)
        .output()
        .expect("run rnetstat");
    assert!(output.status.success(), "{filter:?}");
    table_rows(&String::from_utf8_lossy(&output.stdout))
}

fn table_rows(table: &str) -> BTreeSet<Row> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.len() >= 6).then(|| {
                (
                    endpoint(fields[3]),
                    endpoint(fields[4]),
                    ss_state(fields[5]),
                )
            })
        })
        .collect()
}

/// Filters that cover every part of ss's language; `{4}`, `{6}`, `{m}` stand for the ports
/// of the IPv4, IPv6 and IPv4-mapped listeners.
const ORACLE_FILTERS: &[&str] = &[
    "state established",
    "state listening",
    "state time-wait",
    "state connected",
    "state synchronized",
    "state bucket",
    "state big",
    "state all",
    "state closed",
    "exclude time-wait",
    "exclude listening exclude established",
    "state established state time-wait",
    "state ESTABLISHED",
    "sport = :{4}",
    "sport == :{4}",
    "sport eq {4}",
    "sport :{6}",
    "dport = :{6}",
    "sport != :{4}",
    "dport ne :{4}",
    "dport neq :{m}",
    "sport < :{6}",
    "sport lt :{6}",
    "sport <= :{6}",
    "sport le :{6}",
    "sport leq :{6}",
    "sport > :{6}",
    "sport gt :{6}",
    "sport >= :{6}",
    "sport ge :{6}",
    "sport geq :{6}",
    "sport > :ssh",
    "sport < :https",
    "dport != :http",
    "dport = :0",
    "src 127.0.0.1",
    "src = 127.0.0.0/8",
    "src 127/8",
    "dst 127.0.0.1:{4}",
    "src 127.0.0.1:{m}",
    "dst *:{6}",
    "src [::1]",
    "src ::1/128",
    "dst [::1]:{6}",
    "src [::ffff:127.0.0.1]",
    "src inet:127.0.0.1",
    "src inet6:*",
    "dst inet6:[::1]:{6} or sport = :{4}",
    "dst [::ffff:127.0.0.0/104]",
    "dst 0.0.0.0",
    "dst 0.0.0.0/0",
    "dst ::/0",
    "src [::/0]",
    "sport = :{4} or sport = :{6}",
    "sport = :{4} || dport = :{6}",
    "sport = :{4} | dport = :{m}",
    "sport = :{4} or sport = :1 and sport = :2",
    "sport = :1 and sport = :2 or sport = :{4}",
    "not sport = :{4}",
    "! dport = :{4}",
    "not ( sport = :{4} or dport = :{4} )",
    "sport = :{4} and dst 127.0.0.1",
    "state established sport = :{4} && dst 127.0.0.1",
    "src 127.0.0.1 & dport = :{4}",
    "src 127.0.0.1 dport = :{4}",
    "state established ( sport = :{4} or dport = :{6} )",
    "state time-wait dst 127.0.0.0/8",
    "exclude time-wait dst [::1]",
    "exclude listening not src [::1] dport >= :{4}",
];

#[test]
#[cfg_attr(not(has_ss), ignore = "needs ss (apt-get install iproute2)")]
fn filters_select_what_ss_selects() {
    let fixture = Fixture::open();
    let ports = fixture.ports();
    let mut checked = 0;
    let mut disagreements = Vec::new();
    for template in ORACLE_FILTERS {
        let filter = template
            .replace("{4}", &ports[0].to_string())
            .replace("{6}", &ports[1].to_string())
            .replace("{m}", &ports[2].to_string());
        let ss = fixture.own(ss_rows(&[&filter]));
        let ours = states_as_ss_shows(fixture.own(rnetstat_rows(&[&filter])), &ss);
        let from_proc = states_as_ss_shows(fixture.own(rnetstat_procfs_rows(&[&filter])), &ss);
        for (collector, rows) in [("sock_diag", &ours), ("/proc/net", &from_proc)] {
            if ss != *rows {
                disagreements.push(format!(
                    "{filter} ({collector}):\n  ss only: {:?}\n  rnetstat only: {:?}",
                    ss.difference(rows).collect::<Vec<_>>(),
                    rows.difference(&ss).collect::<Vec<_>>()
                ));
            }
        }
        checked += 1;
    }
    assert!(checked >= 40);
    assert!(
        disagreements.is_empty(),
        "{} of {checked} filters disagree with ss:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    // The comparison is about something: the fixture's sockets are all there, in every state.
    let everything = fixture.own(rnetstat_rows(&[]));
    assert_eq!(everything.len(), 3 * (1 + 4 + 1), "{everything:#?}");
}

#[test]
#[cfg_attr(not(has_ss), ignore = "needs ss (apt-get install iproute2)")]
fn filter_words_may_come_as_many_arguments() {
    let fixture = Fixture::open();
    let port = fixture.ports()[0].to_string();
    let sport = format!(":{port}");
    let one = fixture.own(rnetstat_rows(&[&format!(
        "( sport = :{port} or dport = :{port} )"
    )]));
    let many = fixture.own(rnetstat_rows(&[
        "(", "sport", "=", &sport, "or", "dport", "=", &sport, ")",
    ]));
    let glued = fixture.own(rnetstat_rows(&[
        &format!("(sport = :{port})"),
        "or",
        "(dport",
        "=",
        &format!(":{port})"),
    ]));
    assert_eq!(one.len(), 6, "{one:#?}");
    assert_eq!(one, many);
    assert_eq!(one, glued);
}

#[test]
fn a_filter_that_does_not_parse_exits_2_with_one_line() {
    for (args, expected) in [
        (
            vec!["-tan", "dport", "="],
            "rnetstat: filter: expected a port after 'dport =' at word 3 of 'dport ='\n",
        ),
        (
            vec!["-tan", "state", "listen"],
            "rnetstat: filter: 'listen' is not a state (one of: established, syn-sent, \
             syn-recv, fin-wait-1, fin-wait-2, time-wait, closed, close-wait, last-ack, \
             listening, closing, all, connected, synchronized, bucket, big) at word 2 of \
             'state listen'\n",
        ),
        (
            vec!["-tan", "( sport = :22"],
            "rnetstat: filter: expected ')' to close the '(' of word 1 at word 5 of \
             '( sport = :22'\n",
        ),
    ] {
        let output = run(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&output.stderr), expected);
        assert!(output.stdout.is_empty());
    }
}

#[test]
#[cfg_attr(not(has_ss), ignore = "needs ss (apt-get install iproute2)")]
fn a_filter_file_is_read_as_ss_reads_one() {
    let fixture = Fixture::open();
    let port = fixture.ports()[1];
    let dir = std::env::temp_dir().join(format!("rnetstat-filter-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("filter.txt");
    let mut file = std::fs::File::create(&path).unwrap();
    writeln!(
        file,
        "# established towards the IPv6 listener\nstate established"
    )
    .unwrap();
    writeln!(file, "( dport = :{port} )").unwrap();
    drop(file);
    let path_text = path.to_str().unwrap();
    let from_file = fixture.own(rnetstat_rows(&["-F", path_text]));
    let from_words = fixture.own(rnetstat_rows(&[&format!(
        "state established dport = :{port}"
    )]));
    assert_eq!(from_file.len(), 2, "{from_file:#?}");
    assert_eq!(from_file, from_words);
    let mut child = rnetstat()
        .args(["-tanW", "-F", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let from_stdin = fixture.own(table_rows(&String::from_utf8_lossy(&output.stdout)));
    assert_eq!(from_stdin, from_file);
    let missing = run(&["-tan", "-F", "/nonexistent/filter.txt"]);
    assert_eq!(missing.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.starts_with("rnetstat: -F /nonexistent/filter.txt: "),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[cfg_attr(not(has_ss), ignore = "needs ss (apt-get install iproute2)")]
fn process_and_pid_filters_find_the_test_process_and_imply_owners() {
    let fixture = Fixture::open();
    let port = fixture.ports()[0];
    let own_local = |doc: &Value| -> BTreeSet<String> {
        doc["sockets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["local"]["port"] == port)
            .map(|s| format!("{} {}", s["local"]["port"], s["remote"]["port"]))
            .collect()
    };
    let pid = std::process::id().to_string();
    let name = own_process_name();
    let by_pid = own_local(&json_of(&["-ta", "--json", "pid", &pid]));
    let by_name = own_local(&json_of(&["-ta", "--json", "process", &name]));
    let by_pattern = own_local(&json_of(&[
        "-ta",
        "--json",
        &format!("process /^{}$/", regex_escape(&name)),
    ]));
    // The listener and the two accepted connections on its port.
    assert_eq!(by_pid.len(), 3, "{by_pid:?}");
    assert_eq!(by_name, by_pid);
    assert_eq!(by_pattern, by_pid);
    let other = own_local(&json_of(&["-ta", "--json", "pid", "1"]));
    assert!(other.is_empty(), "{other:?}");
    let not_ours = own_local(&json_of(&["-ta", "--json", "not", "pid", &pid]));
    assert!(not_ours.is_empty(), "{not_ours:?}");
    // Without -p the table still filters by owner: owners are collected for the filter.
    let table = stdout_of(&[
        "-tan",
        "pid",
        &pid,
        "and",
        "sport",
        "=",
        &format!(":{port}"),
    ]);
    assert_eq!(table.lines().count(), 1 + 3, "{table}");
    let uid = unsafe_free_uid();
    let by_user = own_local(&json_of(&["-ta", "--json", "user", &uid.to_string()]));
    assert_eq!(by_user, by_pid);
}

/// This process's uid, read from /proc (no libc needed in the test).
fn unsafe_free_uid() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|uid| uid.parse().ok())
        .expect("effective uid")
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$-".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

#[test]
fn netstat_flags_rnetstat_lacks_get_a_pointed_message() {
    for (flag, expected) in [
        ("-r", "routes are shown by `ip route`"),
        ("--interfaces", "interfaces are shown by `ip -s link`"),
        ("-tulr", "routes are shown by `ip route`"),
        ("--inet", "use -4 for IPv4 sockets"),
        ("--inet6", "use -6 for IPv6 sockets"),
    ] {
        let output = run(&[flag]);
        assert_eq!(output.status.code(), Some(2), "{flag}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{flag}: {stderr}");
        assert!(!stderr.contains("--interval"), "{flag}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{flag}: {stderr}");
    }
}

#[test]
#[cfg_attr(not(has_ss), ignore = "needs ss (apt-get install iproute2)")]
fn sort_orders_table_and_json_and_no_header_drops_the_title_line() {
    let fixture = Fixture::open();
    let port = fixture.ports()[0];
    let filter = format!("sport = :{port} or dport = :{port}");
    let table = stdout_of(&["-tanH", "--sort", "state,-remote", &filter]);
    assert!(!table.contains("Proto"), "{table}");
    let rows: Vec<(String, String)> = table
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[5].to_string(), f[4].to_string())
        })
        .collect();
    let states: Vec<&str> = rows.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        states,
        [
            "ESTABLISHED",
            "ESTABLISHED",
            "ESTABLISHED",
            "ESTABLISHED",
            "TIME_WAIT",
            "LISTEN"
        ],
        "{table}"
    );
    let remote_ports: Vec<u16> = rows[..4]
        .iter()
        .map(|(_, r)| r.rsplit_once(':').unwrap().1.parse().unwrap())
        .collect();
    let mut descending = remote_ports.clone();
    descending.sort_by(|a, b| b.cmp(a));
    assert_eq!(remote_ports, descending, "{table}");

    let doc = json_of(&["-ta", "--json", "--sort", "-local,state", &filter]);
    let locals: Vec<u64> = doc["sockets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["local"]["port"].as_u64().unwrap())
        .collect();
    let mut sorted = locals.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(locals, sorted);

    let bad = run(&["--sort", "colour"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("colour"));
}

/// A directory of this test's own under the temp dir, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("rnetstat-filters-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn file(&self, name: &str, contents: &[u8]) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path.to_str().unwrap().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run rnetstat, killing it if it has not exited within `limit` (a runaway must not hang the
/// suite or eat the machine's memory).
fn run_within(args: &[&str], limit: Duration) -> std::process::Output {
    let mut child = rnetstat()
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run rnetstat");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "rnetstat {:?} still running after {limit:?}",
                &args[..args.len().min(4)]
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::process::Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Exit 2, nothing on stdout, one short line on stderr that contains `expected`.
fn assert_one_line_usage_error(what: &str, output: &std::process::Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let shown: String = stderr.chars().take(400).collect();
    assert_eq!(output.status.code(), Some(2), "{what}: {shown}");
    assert!(output.stdout.is_empty(), "{what}");
    assert_eq!(stderr.lines().count(), 1, "{what}: {shown}");
    assert!(stderr.starts_with("rnetstat: "), "{what}: {shown}");
    assert!(stderr.contains(expected), "{what}: {shown}");
    assert!(
        stderr.len() < 1000,
        "{what}: {} bytes: {shown}",
        stderr.len()
    );
}

#[test]
fn deep_filters_get_a_one_line_error_not_a_crash() {
    let scratch = Scratch::new("deep");
    let parens = format!("{}sport = :1{}", "( ".repeat(8000), " )".repeat(8000));
    let nots = format!("{}sport = :1", "not ".repeat(20_000));
    // One precedence, grouping from the left: each switch between `and` and `or` nests.
    let mut alternating = String::from("sport = :1");
    for i in 1..50_000 {
        let op = if i % 2 == 0 { "and" } else { "or" };
        alternating += &format!("\n{op} sport = :{}", i % 1000 + 1);
    }
    for (name, text) in [
        ("parentheses", &parens),
        ("nots", &nots),
        ("alternating", &alternating),
    ] {
        let path = scratch.file(name, text.as_bytes());
        let output = run_within(&["-tan", "-F", &path], Duration::from_secs(60));
        assert_one_line_usage_error(name, &output, "nests deeper than 256 levels");
    }
    // The same through argv, one word per argument.
    let mut args = vec!["-tan"];
    args.extend(std::iter::repeat_n("(", 8000));
    args.extend(["sport", "=", ":1"]);
    args.extend(std::iter::repeat_n(")", 8000));
    let output = run_within(&args, Duration::from_secs(60));
    assert_one_line_usage_error("argv parentheses", &output, "nests deeper than 256 levels");
    // Up to the limit is an answer.
    let fine = format!("{}sport = :1{}", "( ".repeat(200), " )".repeat(200));
    let path = scratch.file("fine", fine.as_bytes());
    let output = run_within(&["-tan", "-F", &path], Duration::from_secs(60));
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_50000_term_or_chain_of_ports_keeps_exactly_the_listeners_it_names() {
    let listeners: Vec<TcpListener> = (0..4)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    let (named, unnamed) = (&ports[..3], ports[3]);
    let filler = (1..=u16::MAX).filter(|p| !ports.contains(p));
    let mut chain: Vec<u16> = filler.take(50_000 - named.len()).collect();
    chain.insert(0, named[0]);
    chain.insert(25_000, named[1]);
    chain.push(named[2]);
    assert_eq!(chain.len(), 50_000);
    let text = chain
        .iter()
        .map(|p| format!("sport = :{p}"))
        .collect::<Vec<_>>()
        .join(" or\n");
    let scratch = Scratch::new("or-chain");
    let path = scratch.file("ports", text.as_bytes());
    for collector in ["sock_diag", "procfs"] {
        let output = rnetstat()
            .args(["-tl", "--json", "-F", &path])
            .env("RNETSTAT_COLLECTOR", collector)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{collector}: {}",
            stderr.chars().take(400).collect::<String>()
        );
        let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
        let listed = |port: u16| {
            common::find_socket(&doc, "tcp", SocketAddr::from(([127, 0, 0, 1], port))).is_some()
        };
        for &port in named {
            assert!(listed(port), "{collector}: listener on {port} missing");
        }
        assert!(
            !listed(unnamed),
            "{collector}: listener on {unnamed} listed"
        );
    }
}

#[test]
fn a_filter_file_over_1_mib_is_refused_with_one_line() {
    let scratch = Scratch::new("big");
    // Comments only: what counts is the size, not what it says.
    let line = "# a comment line that says nothing at all, over and over again.........\n";
    let big = line.repeat(2 * 1024 * 1024 / line.len() + 1);
    let path = scratch.file("big", big.as_bytes());
    let output = run_within(&["-tan", "-F", &path], Duration::from_secs(60));
    assert_one_line_usage_error("2 MiB file", &output, "longer than 1 MiB");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with(&format!("rnetstat: -F {path}: ")),
        "{stderr}"
    );
    let mut child = rnetstat()
        .args(["-tan", "-F", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // rnetstat may stop reading at the limit and close the pipe: a failed write is fine.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(big.as_bytes());
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_one_line_usage_error("2 MiB on stdin", &output, "longer than 1 MiB");
}

#[test]
fn a_filter_file_that_never_ends_stops_at_the_limit() {
    // Reading /dev/zero changes nothing on the machine.
    let output = run_within(&["-tan", "-F", "/dev/zero"], Duration::from_secs(30));
    assert_one_line_usage_error("/dev/zero", &output, "longer than 1 MiB");
}

#[test]
fn an_unknown_user_or_a_mistyped_address_is_a_usage_error() {
    let output = run(&["-tan", "user", "nosuchuser"]);
    assert_one_line_usage_error("user nosuchuser", &output, "no user named 'nosuchuser'");
    // A numeric uid needs no account.
    let output = run(&["-tan", "user", "3999999999"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = run(&["-tan", "dst", "10.0.0.300"]);
    assert_one_line_usage_error(
        "dst 10.0.0.300",
        &output,
        "'10.0.0.300' is not an IP address",
    );
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains("host names"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = run(&["-tan", "dst", "fe80::zz/64"]);
    assert_one_line_usage_error("dst fe80::zz", &output, "'fe80::zz' is not an IP address");
    let output = run(&["-tan", "dst", "example.com"]);
    assert_one_line_usage_error("dst example.com", &output, "host names are not looked up");
}
