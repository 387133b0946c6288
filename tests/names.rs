//! Host names as netstat shows them, never a frame late: each test runs in a mount and network
//! namespace of its own (`unshare -m -n`), with /etc/hosts and /etc/resolv.conf bind-mounted
//! from files of its scratch directory (the machine's own are never touched) and, where DNS is
//! asked, a DNS server of its own on 127.0.0.1:53 inside that namespace. Everything the test
//! starts lives in the namespace and ends with it.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::process::Command;

/// A python3 script that holds a listener on each of `hosts` with one connection to it from
/// 127.0.0.1, writes `host port` lines to `ready`, and waits.
const HOLDER: &str = r#"
import socket, sys, time
hosts, ready = sys.argv[1].split(","), sys.argv[2]
held, lines = [], []
for host in hosts:
    s = socket.socket(); s.bind((host, 0)); s.listen()
    c = socket.socket(); c.bind(("127.0.0.1", 0)); c.connect(s.getsockname())
    a, _ = s.accept()
    held += [s, c, a]
    lines.append("%s %d" % (host, s.getsockname()[1]))
open(ready + ".tmp", "w").write("\n".join(lines) + "\n")
import os; os.rename(ready + ".tmp", ready)
time.sleep(120)
"#;

/// A DNS server that counts the queries it gets in `count` and never answers.
const SILENT_DNS: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
open(sys.argv[1], "w").close()
while True:
    s.recvfrom(4096)
    open(sys.argv[1], "a").write("q\n")
"#;

/// A scratch directory for a namespace whose DNS server never answers: a hosts file naming
/// only localhost, a resolver that would wait 5 s x 3 attempts per address, the holder and the
/// silent server.
fn silent_dns_scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("scratch directory");
    for (name, text) in [
        ("hosts", "127.0.0.1 localhost\n"),
        (
            "resolv.conf",
            "nameserver 127.0.0.1\noptions timeout:5 attempts:3\n",
        ),
        ("holder.py", HOLDER),
        ("dns.py", SILENT_DNS),
    ] {
        std::fs::write(dir.path().join(name), text).expect("write the scratch files");
    }
    dir
}

/// Run `script` with sh in a new mount and network namespace, loopback up, /etc/hosts and
/// /etc/resolv.conf bound from `dir`; its stdout.
fn in_private_namespace(dir: &Path, script: &str) -> String {
    let setup = format!(
        "set -e; ip link set lo up; mount --bind '{d}/hosts' /etc/hosts; \
         mount --bind '{d}/resolv.conf' /etc/resolv.conf; cd '{d}'; {script}",
        d = dir.display()
    );
    let output = Command::new("unshare")
        .args(["-m", "-n", "--", "sh", "-c", &setup])
        .env("RNETSTAT", env!("CARGO_BIN_EXE_rnetstat"))
        .output()
        .expect("unshare");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{script}: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// A script that starts the silent DNS server and the holder for `hosts`, waits for both, then
/// runs `then` (which ends with `kill $holder $dns`).
fn after_silent_dns(hosts: &str, then: &str) -> String {
    format!(
        "python3 dns.py queries > dns.log 2>&1 & dns=$!; {} \
         while [ ! -e queries ]; do sleep 0.05; done; {then}",
        holder_script(hosts)
    )
}

/// Start the holder in the background for `hosts`, and wait for its `ready` file.
fn holder_script(hosts: &str) -> String {
    format!(
        "python3 holder.py {hosts} ready > holder.log 2>&1 & holder=$!; \
         i=0; while [ ! -e ready ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; "
    )
}

/// The (local host, foreign host) pairs of the TCP rows of a netstat-style table.
fn host_pairs(table: &str) -> Vec<(String, String)> {
    let host = |end: &str| end.rsplit_once(':').map_or(end, |(h, _)| h).to_string();
    let mut pairs: Vec<_> = table
        .lines()
        .filter(|l| l.starts_with("tcp "))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (host(f[3]), host(f[4]))
        })
        .filter(|(_, foreign)| foreign != "*" && foreign != "0.0.0.0")
        .collect();
    pairs.sort();
    pairs
}

#[test]
#[cfg_attr(
    not(all(is_root, has_unshare, has_ip, has_python3, has_netstat)),
    ignore = "needs root, unshare, ip, python3 and netstat (apt-get install util-linux iproute2 python3 net-tools)"
)]
fn host_names_come_from_the_hosts_file_as_netstat_shows_them() {
    let dir = tempfile::tempdir().expect("scratch directory");
    std::fs::write(
        dir.path().join("hosts"),
        "127.0.0.1 localhost\n127.0.0.2 myhost.test\n",
    )
    .unwrap();
    // No DNS server listens: a query is refused at once.
    std::fs::write(
        dir.path().join("resolv.conf"),
        "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("holder.py"), HOLDER).unwrap();
    let out = in_private_namespace(
        dir.path(),
        &format!(
            "{} echo '--- rnetstat'; \"$RNETSTAT\" -t; echo '--- netstat'; netstat -t; \
             echo '--- numeric'; \"$RNETSTAT\" -tn; \
             echo '--- json'; \"$RNETSTAT\" --json -t; \
             echo '--- resolved'; \"$RNETSTAT\" --json --resolve -t; kill $holder",
            holder_script("127.0.0.2")
        ),
    );
    let part = |name: &str| {
        let start = out.find(&format!("--- {name}\n")).expect(name) + name.len() + 5;
        let rest = &out[start..];
        rest[..rest.find("\n---").unwrap_or(rest.len())].to_string()
    };
    let ours = host_pairs(&part("rnetstat"));
    assert_eq!(
        ours,
        [
            ("localhost".to_string(), "myhost.test".to_string()),
            ("myhost.test".to_string(), "localhost".to_string())
        ],
        "{out}"
    );
    assert_eq!(ours, host_pairs(&part("netstat")), "{out}");
    // Scripts get numbers unless --resolve; then a name beside each address.
    let names = |doc: &str| -> Vec<(String, String)> {
        let doc: serde_json::Value = serde_json::from_str(doc.trim()).expect("JSON");
        let mut names: Vec<_> = doc["sockets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| !s["remote"].is_null())
            .map(|s| {
                (
                    s["local"]["name"].as_str().unwrap_or("null").to_string(),
                    s["remote"]["name"].as_str().unwrap_or("null").to_string(),
                )
            })
            .collect();
        names.sort();
        names
    };
    assert!(
        names(&part("json"))
            .iter()
            .all(|(l, r)| l == "null" && r == "null"),
        "{out}"
    );
    assert_eq!(names(&part("resolved")), ours, "{out}");
    let numeric = host_pairs(&part("numeric"));
    assert!(
        numeric.contains(&("127.0.0.1".to_string(), "127.0.0.2".to_string())),
        "{out}"
    );
}

#[test]
#[cfg_attr(
    not(all(is_root, has_unshare, has_ip, has_python3)),
    ignore = "needs root, unshare, ip and python3 (apt-get install util-linux iproute2 python3)"
)]
fn a_dns_server_that_never_answers_holds_the_table_no_longer_than_the_deadline() {
    let dir = silent_dns_scratch();
    let out = in_private_namespace(
        dir.path(),
        &after_silent_dns(
            "127.0.0.5,127.0.0.6,127.0.0.7",
            "start=$(date +%s%N); \"$RNETSTAT\" -tn > numeric.txt; end=$(date +%s%N); \
             echo numeric_ms $(( (end - start) / 1000000 )) queries $(wc -l < queries); \
             start=$(date +%s%N); \"$RNETSTAT\" -t --resolve-timeout 1 > named.txt 2> err.txt; \
             end=$(date +%s%N); \
             echo named_ms $(( (end - start) / 1000000 )); sleep 0.3; \
             echo queries $(wc -l < queries); echo '--- err'; cat err.txt; \
             echo '--- named'; cat named.txt; kill $holder $dns",
        ),
    );
    let number = |word: &str| -> u64 {
        out.split_whitespace()
            .skip_while(|w| *w != word)
            .nth(1)
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("no {word}: {out}"))
    };
    // -n sends no query.
    let before: Vec<u64> = out
        .lines()
        .filter_map(|l| {
            l.split_once("queries ")
                .map(|(_, n)| n.trim().parse().unwrap())
        })
        .collect();
    assert_eq!(before.first(), Some(&0), "-n asked DNS: {out}");
    // The named run ends by the deadline (+ 0.5 s), with numbers and one stderr line.
    let named_ms = number("named_ms");
    eprintln!("{out}");
    assert!(named_ms < 1500, "the table took {named_ms} ms: {out}");
    assert!(
        before.last().copied().unwrap_or(0) > 0,
        "the server heard no query: {out}"
    );
    let err = &out[out.find("--- err\n").unwrap() + 8..out.find("--- named").unwrap()];
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("host names unresolved after 1.0 s"), "{err}");
    let named = &out[out.find("--- named\n").unwrap()..];
    for host in ["127.0.0.5", "127.0.0.6", "127.0.0.7"] {
        assert!(
            named.contains(&format!("{host}:")),
            "{host} numeric: {named}"
        );
    }
    assert!(named.contains("localhost:"), "{named}");
}

#[test]
#[cfg_attr(
    not(all(is_root, has_unshare, has_ip, has_python3, has_tmux)),
    ignore = "needs root, unshare, ip, python3 and tmux (apt-get install util-linux iproute2 python3 tmux)"
)]
fn the_dashboards_first_frame_never_waits_for_a_dns_server_that_never_answers() {
    let dir = silent_dns_scratch();
    std::fs::write(dir.path().join("tmux.conf"), "").unwrap();
    // A tmux server of this namespace's own: its socket in the scratch directory.
    let out = in_private_namespace(
        dir.path(),
        &after_silent_dns(
            "127.0.0.5,127.0.0.6",
            "tmux -S tmux.sock -f tmux.conf new-session -d -x 160 -y 30 \
               \"$RNETSTAT --live -t\"; \
             start=$(date +%s%N); i=0; \
             while ! tmux -S tmux.sock capture-pane -p | grep -q '127.0.0.5:' && [ $i -lt 100 ]; \
               do sleep 0.02; i=$((i+1)); done; \
             end=$(date +%s%N); echo first_frame_ms $(( (end - start) / 1000000 )); \
             i=0; while ! tmux -S tmux.sock capture-pane -p | grep -q 'localhost:' && [ $i -lt 150 ]; \
               do sleep 0.02; i=$((i+1)); done; \
             end=$(date +%s%N); echo named_ms $(( (end - start) / 1000000 )); \
             echo queries $(wc -l < queries); echo '--- screen'; tmux -S tmux.sock capture-pane -p; \
             tmux -S tmux.sock kill-server; kill $holder $dns",
        ),
    );
    let ms: u64 = out
        .split_whitespace()
        .skip_while(|w| *w != "first_frame_ms")
        .nth(1)
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    eprintln!("{out}");
    let screen = &out[out.find("--- screen").expect("a screen")..];
    assert!(screen.contains("127.0.0.5:"), "no row for 127.0.0.5: {out}");
    assert!(
        screen.contains("localhost:"),
        "the hosts file's name: {out}"
    );
    // DNS was asked (it never answers), and the rows were there long before any resolver
    // timeout (5 s).
    assert!(ms < 2000, "the first frame took {ms} ms: {out}");
    assert!(
        !out.contains("queries 0\n"),
        "no query reached the server: {out}"
    );
}

#[test]
#[cfg_attr(
    not(all(is_root, has_unshare, has_ip, has_python3)),
    ignore = "needs root, unshare, ip and python3 (apt-get install util-linux iproute2 python3)"
)]
fn the_lookups_of_one_table_of_dash_c_are_not_rows_of_the_next() {
    // A lookup the server never answers stays in flight (5 s x 3) across the tables of -c: its
    // UDP socket, connected to 127.0.0.1:53, is rnetstat's own and not shown as the machine's.
    let dir = silent_dns_scratch();
    let out = in_private_namespace(
        dir.path(),
        &after_silent_dns(
            "127.0.0.5",
            "timeout -s INT 3.6 \"$RNETSTAT\" -tua -c --resolve-timeout 0.2 > tables.txt \
               2> err.txt || true; \
             echo queries $(wc -l < queries); echo '--- tables'; cat tables.txt; kill $holder $dns",
        ),
    );
    let tables = &out[out.find("--- tables\n").expect("tables")..];
    assert!(tables.matches("--- ").count() >= 3, "{out}");
    assert!(!out.contains("queries 0\n"), "no lookup in flight: {out}");
    // The namespace's only UDP sockets are the server's (unconnected) and the resolver's.
    let connected_udp = |text: &str| {
        text.lines()
            .filter(|l| l.starts_with("udp") && l.contains("ESTABLISHED"))
            .count()
    };
    assert_eq!(connected_udp(tables), 0, "{out}");
    assert!(tables.contains("127.0.0.5:"), "{out}");
}
