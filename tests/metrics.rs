//! `--metrics` and `--metrics-file`: the exposition checked by promtool, read back by a parser of
//! the format, compared with `ss`, and served by a real node_exporter's textfile collector.
// Linux only: these run the Linux collector, ss, promtool and node_exporter.
#![cfg(target_os = "linux")]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{own_process_name, rnetstat, run, stdout_of};

/// One sample line of the exposition: metric name, labels, value.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parse the text format 0.0.4 (comments skipped), unescaping label values; panics on anything
/// the format does not allow, so a malformed exposition fails the test.
fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name_end = line
            .find(['{', ' '])
            .unwrap_or_else(|| panic!("no value: {line:?}"));
        let name = line[..name_end].to_string();
        let mut rest = &line[name_end..];
        let mut labels = BTreeMap::new();
        if let Some(inner) = rest.strip_prefix('{') {
            let mut chars = inner.char_indices().peekable();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                if c == '}' {
                    end = Some(i);
                    break;
                }
                if c == ',' {
                    continue;
                }
                let eq = inner[i..].find('=').expect("label =") + i;
                let label = inner[i..eq].to_string();
                while chars.peek().is_some_and(|&(j, _)| j <= eq) {
                    chars.next();
                }
                assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line:?}");
                let mut value = String::new();
                loop {
                    match chars.next().map(|(_, c)| c) {
                        Some('\\') => match chars.next().map(|(_, c)| c) {
                            Some('\\') => value.push('\\'),
                            Some('"') => value.push('"'),
                            Some('n') => value.push('\n'),
                            other => panic!("bad escape {other:?} in {line:?}"),
                        },
                        Some('"') => break,
                        Some('\n') | None => panic!("unterminated label value: {line:?}"),
                        Some(c) => value.push(c),
                    }
                }
                assert!(
                    labels.insert(label, value).is_none(),
                    "repeated label: {line:?}"
                );
            }
            let end = end.unwrap_or_else(|| panic!("no closing brace: {line:?}"));
            rest = &inner[end + 1..];
        }
        let value: f64 = rest
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line:?}"));
        samples.push(Sample {
            name,
            labels,
            value,
        });
    }
    samples
}

/// The samples of `name` whose labels include every pair of `with`.
fn select<'a>(samples: &'a [Sample], name: &str, with: &[(&str, &str)]) -> Vec<&'a Sample> {
    samples
        .iter()
        .filter(|s| {
            s.name == name
                && with
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect()
}

/// The one value of `name` with these labels; panics when there is none or several.
fn value_of(samples: &[Sample], name: &str, with: &[(&str, &str)]) -> f64 {
    let found = select(samples, name, with);
    assert_eq!(found.len(), 1, "{name} {with:?}: {found:?}");
    found[0].value
}

/// Every series appears once: a duplicate makes the whole exposition invalid to Prometheus.
fn assert_unique_series(samples: &[Sample]) {
    let mut seen = BTreeSet::new();
    for s in samples {
        assert!(
            seen.insert((s.name.clone(), s.labels.clone())),
            "duplicate series {s:?}"
        );
    }
}

fn require(program: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{program} is not installed: this test needs it (CI installs it in .ci/run)"
    );
}

/// `promtool check metrics` on `text`: the linter's findings on failure.
fn promtool_check(text: &str) {
    require("promtool");
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics failed ({}): {}{}\n{text}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn metrics(filter: &[&str]) -> (String, Vec<Sample>) {
    let mut args = vec!["--metrics"];
    args.extend_from_slice(filter);
    let text = stdout_of(&args);
    let samples = parse_exposition(&text);
    assert_unique_series(&samples);
    (text, samples)
}

/// A python3 process holding a TCP listener on 127.0.0.1 under the name `name` (set with
/// prctl(PR_SET_NAME)): (child, port). It exits when its stdin closes.
fn python_listener_named(name: &str) -> (Child, u16) {
    let script = "import ctypes,socket,sys\n\
        s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\n\
        ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0)\n\
        print(s.getsockname()[1], flush=True); sys.stdin.read()\n";
    let mut child = Command::new("python3")
        .args(["-c", script, name])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run python3");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("python3 prints its port");
    (child, line.trim().parse().expect("a port"))
}

fn finish(mut child: Child) {
    drop(child.stdin.take());
    let _ = child.wait();
}

/// The name of the account running this test, from `id` (an oracle apart from rnetstat).
fn own_user_name() -> String {
    let output = Command::new("id").arg("-un").output().expect("run id");
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

#[test]
#[cfg_attr(
    not(all(has_promtool, has_python3)),
    ignore = "needs promtool and python3 (apt-get install prometheus python3)"
)]
fn promtool_accepts_the_exposition_and_a_hostile_process_name_comes_back_exact() {
    let hostile = "q\"\\\n\u{e9}x{}=,";
    let (child, port) = python_listener_named(hostile);
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", child.id())).unwrap();
    let (text, samples) = metrics(&[]);
    finish(child);
    promtool_check(&text);
    // The kernel keeps the name as given (it fits in 15 bytes), newline included.
    assert_eq!(comm.strip_suffix('\n').unwrap(), hostile);
    let port = port.to_string();
    let listener = select(
        &samples,
        "rnetstat_listener_info",
        &[("port", &port), ("proto", "tcp")],
    );
    assert_eq!(listener.len(), 1, "{listener:?}\n{text}");
    assert_eq!(listener[0].labels["process"], hostile);
    assert_eq!(listener[0].value, 1.0);
    for name in [
        "rnetstat_build_info",
        "rnetstat_scrape_duration_seconds",
        "rnetstat_owner_coverage_complete",
        "rnetstat_tcp_retransmits_total",
        "rnetstat_sockets",
        "rnetstat_connections",
        "rnetstat_process_sockets",
        "rnetstat_queued_bytes",
        "rnetstat_listener_queue_length",
        "rnetstat_listener_queue_max",
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "{name} missing:\n{text}"
        );
    }
    assert!(!text.contains("# EOF"), "OpenMetrics, not 0.0.4");
}

#[test]
fn own_tcp_and_udp_sockets_are_listed_with_port_family_process_and_user() {
    let v4 = TcpListener::bind("127.0.0.1:0").unwrap();
    let v6 = TcpListener::bind("[::1]:0").unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (_, samples) = metrics(&[]);
    let process = own_process_name();
    let user = own_user_name();
    for (proto, family, address, port) in [
        ("tcp", "ipv4", "127.0.0.1", v4.local_addr().unwrap().port()),
        ("tcp", "ipv6", "::1", v6.local_addr().unwrap().port()),
        ("udp", "ipv4", "127.0.0.1", udp.local_addr().unwrap().port()),
    ] {
        let port = port.to_string();
        let found = select(
            &samples,
            "rnetstat_listener_info",
            &[("proto", proto), ("port", &port)],
        );
        assert_eq!(found.len(), 1, "{proto} {port}: {found:?}");
        let labels = &found[0].labels;
        assert_eq!(labels["family"], family);
        assert_eq!(labels["address"], address);
        assert_eq!(labels["process"], process);
        assert_eq!(labels["user"], user);
        assert_eq!(found[0].value, 1.0);
    }
    let (length, max) = (
        "rnetstat_listener_queue_length",
        "rnetstat_listener_queue_max",
    );
    let udp_port = udp.local_addr().unwrap().port().to_string();
    // A UDP socket has no accept queue: no queue series rather than an invented one.
    assert!(select(&samples, length, &[("port", &udp_port), ("proto", "udp")]).is_empty());
    assert!(select(&samples, max, &[("port", &udp_port), ("proto", "udp")]).is_empty());
}

/// `ss -ltnH` for one port: (Recv-Q, Send-Q) of its listener.
fn ss_listener_queues(port: u16) -> (f64, f64) {
    let output = Command::new("ss")
        .args(["-ltnH", &format!("sport = :{port}")])
        .output()
        .expect("run ss");
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    let fields: Vec<&str> = lines[0].split_whitespace().collect();
    (fields[1].parse().unwrap(), fields[2].parse().unwrap())
}

#[test]
#[cfg_attr(not(has_ss), ignore = "needs ss (apt-get install iproute2)")]
fn listener_queue_length_and_max_are_what_ss_shows() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Connected by the kernel, never accepted: they wait in the accept queue.
    let _clients: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(listener.local_addr().unwrap()).unwrap())
        .collect();
    let filter = format!(":{port}");
    let (_, samples) = metrics(&["sport", "=", &filter]);
    let (recv_q, send_q) = ss_listener_queues(port);
    assert_eq!(recv_q, 3.0);
    let port = port.to_string();
    let labels = [("proto", "tcp"), ("port", port.as_str())];
    assert_eq!(
        value_of(&samples, "rnetstat_listener_queue_length", &labels),
        recv_q
    );
    assert_eq!(
        value_of(&samples, "rnetstat_listener_queue_max", &labels),
        send_q
    );
}

/// `ss -tuanH FILTER` counted by (proto, family, state) in rnetstat's spelling.
fn ss_counts(filter: &str) -> BTreeMap<(String, String, String), f64> {
    let output = Command::new("ss")
        .args(["-tuanH", filter])
        .output()
        .expect("run ss");
    let mut counts = BTreeMap::new();
    for line in String::from_utf8(output.stdout).unwrap().lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let state = match (fields[0], fields[1]) {
            (_, "ESTAB") => "ESTABLISHED",
            ("udp", "UNCONN") => "UNCONN",
            (_, "LISTEN") => "LISTEN",
            (_, "TIME-WAIT") => "TIME_WAIT",
            (_, "SYN-SENT") => "SYN_SENT",
            (_, "CLOSE-WAIT") => "CLOSE_WAIT",
            (_, "FIN-WAIT-2") => "FIN_WAIT2",
            (_, other) => panic!("state {other} not expected here"),
        };
        let family = if fields[4].starts_with('[') {
            "ipv6"
        } else {
            "ipv4"
        };
        *counts
            .entry((fields[0].to_string(), family.to_string(), state.to_string()))
            .or_insert(0.0) += 1.0;
    }
    counts
}

#[test]
#[cfg_attr(not(has_ss), ignore = "needs ss (apt-get install iproute2)")]
fn socket_connection_and_process_counts_agree_with_ss_for_own_ports() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let v6 = TcpListener::bind("[::1]:0").unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (port, v6_port, udp_port) = (
        listener.local_addr().unwrap().port(),
        v6.local_addr().unwrap().port(),
        udp.local_addr().unwrap().port(),
    );
    let mut ends = Vec::new();
    for _ in 0..3 {
        ends.push(TcpStream::connect(listener.local_addr().unwrap()).unwrap());
        ends.push(listener.accept().unwrap().0);
    }
    ends.push(TcpStream::connect(v6.local_addr().unwrap()).unwrap());
    ends.push(v6.accept().unwrap().0);
    let ports = [port, v6_port, udp_port];
    let ss_filter = ports
        .iter()
        .map(|p| format!("sport = :{p} or dport = :{p}"))
        .collect::<Vec<_>>()
        .join(" or ");
    let words: Vec<String> = ports
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            let or = (i > 0).then(|| "or".to_string());
            or.into_iter().chain(
                ["(", "sport", "=", &format!(":{p}"), "or", "dport", "="]
                    .map(str::to_string)
                    .into_iter()
                    .chain([format!(":{p}"), ")".to_string()]),
            )
        })
        .collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let (text, samples) = metrics(&words);
    let expected = ss_counts(&ss_filter);
    let listed: BTreeMap<(String, String, String), f64> = select(&samples, "rnetstat_sockets", &[])
        .into_iter()
        .map(|s| {
            let key = |k: &str| s.labels[k].clone();
            ((key("proto"), key("family"), key("state")), s.value)
        })
        .collect();
    assert_eq!(listed, expected, "{text}");
    // Other tests' sockets may use one of these ports at their far end: at least ours are here.
    assert!(expected.values().sum::<f64>() >= 3.0 + 8.0, "{expected:?}");
    let process = own_process_name();
    let (port, v6_port) = (port.to_string(), v6_port.to_string());
    let connections = |local_port: &str| {
        value_of(
            &samples,
            "rnetstat_connections",
            &[
                ("proto", "tcp"),
                ("state", "ESTABLISHED"),
                ("local_port", local_port),
                ("process", &process),
            ],
        )
    };
    // Accepted ends sit on a listening port; the clients' ephemeral ports aggregate to "".
    assert_eq!(connections(&port), 3.0);
    assert_eq!(connections(&v6_port), 1.0);
    assert_eq!(connections(""), 4.0);
    let own = |proto: &str, state: &str| {
        value_of(
            &samples,
            "rnetstat_process_sockets",
            &[("process", &process), ("proto", proto), ("state", state)],
        )
    };
    assert_eq!(own("tcp", "ESTABLISHED"), 8.0);
    assert_eq!(own("tcp", "LISTEN"), 2.0);
    assert_eq!(own("udp", "UNCONN"), 1.0);
}

/// Raise this process's open-file limit to its hard limit: the test holds a thousand sockets.
fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to an rlimit.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
}

#[test]
fn five_hundred_connections_add_no_series_per_connection() {
    raise_fd_limit();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut ends = Vec::new();
    for _ in 0..500 {
        ends.push(TcpStream::connect(listener.local_addr().unwrap()).unwrap());
        ends.push(listener.accept().unwrap().0);
    }
    let filter = format!(":{port}");
    let (text, samples) = metrics(&["(", "sport", "=", &filter, "or", "dport", "=", &filter, ")"]);
    let connections: f64 = select(&samples, "rnetstat_connections", &[])
        .iter()
        .map(|s| s.value)
        .sum();
    assert_eq!(connections, 1000.0, "{text}");
    // 1001 sockets, yet a handful of series: none names a client's ephemeral port.
    assert!(samples.len() <= 20, "{} series:\n{text}", samples.len());
    for end in ends.iter().step_by(2) {
        let ephemeral = format!("\"{}\"", end.local_addr().unwrap().port());
        assert!(!text.contains(&ephemeral), "{ephemeral} in:\n{text}");
    }
}

/// A fresh empty directory for one test, removed when dropped (a failed assertion included).
struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("rnetstat-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
#[cfg_attr(
    not(has_promtool),
    ignore = "needs promtool (apt-get install prometheus)"
)]
fn metrics_file_once_writes_the_exposition_and_leaves_no_temp_file() {
    let dir = temp_dir("once");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let path = dir.join("rnetstat.prom");
    let output = run(&["--metrics-file", path.to_str().unwrap(), "--once"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.stdout.is_empty());
    assert_eq!(entries(&dir), ["rnetstat.prom"]);
    let text = std::fs::read_to_string(&path).unwrap();
    promtool_check(&text);
    let samples = parse_exposition(&text);
    assert_unique_series(&samples);
    let port = listener.local_addr().unwrap().port().to_string();
    assert_eq!(
        select(&samples, "rnetstat_listener_info", &[("port", &port)]).len(),
        1
    );
}

/// Wait until `path` holds text for which `done` is true; panics after 10 s.
fn wait_for_file(path: &Path, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && done(&text)
        {
            return text;
        }
        assert!(Instant::now() < deadline, "{} never came", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, signal: i32) {
    // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
}

#[test]
#[cfg_attr(
    not(has_promtool),
    ignore = "needs promtool (apt-get install prometheus)"
)]
fn metrics_file_is_rewritten_every_interval_and_a_signal_leaves_no_temp_file() {
    for (name, sig) in [("term", libc::SIGTERM), ("int", libc::SIGINT)] {
        let dir = temp_dir(&format!("interval-{name}"));
        let path = dir.join("rnetstat.prom");
        let mut child = KillOnDrop(
            rnetstat()
                .args([
                    "--metrics-file",
                    path.to_str().unwrap(),
                    "--interval",
                    "0.2",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let first = wait_for_file(&path, |t| t.contains("rnetstat_build_info"));
        let first_modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        // A listener opened after the first write shows up in a later one.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = format!("port=\"{}\"", listener.local_addr().unwrap().port());
        assert!(!first.contains(&port));
        wait_for_file(&path, |t| t.contains(&port));
        assert!(std::fs::metadata(&path).unwrap().modified().unwrap() > first_modified);
        // The temporary file exists while a write is under way; a signal then must not leave it.
        for delay in [0, 13, 37, 71, 113] {
            std::thread::sleep(Duration::from_millis(delay));
            let names = entries(&dir);
            assert!(names.len() <= 2 && names.contains(&"rnetstat.prom".to_string()));
        }
        signal(&child.0, sig);
        let status = child.0.wait().unwrap();
        let mut stderr = String::new();
        child
            .0
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert!(status.success(), "{status}: {stderr}");
        assert_eq!(entries(&dir), ["rnetstat.prom"]);
        promtool_check(&std::fs::read_to_string(&path).unwrap());
    }
}

#[test]
fn metrics_file_in_a_missing_or_unusable_directory_is_one_line_and_exit_1() {
    let dir = temp_dir("missing");
    let not_a_dir = dir.join("file");
    std::fs::write(&not_a_dir, "").unwrap();
    let a_dir = dir.join("dir.prom");
    std::fs::create_dir(&a_dir).unwrap();
    for path in [
        dir.join("no/such/dir/rnetstat.prom"),
        not_a_dir.join("x.prom"),
        a_dir.clone(),
    ] {
        let output = run(&["--metrics-file", path.to_str().unwrap(), "--once"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("rnetstat: "), "{stderr}");
        assert!(
            stderr.contains(path.parent().unwrap().to_str().unwrap()),
            "{stderr}"
        );
    }
    assert_eq!(entries(&dir), ["dir.prom", "file"]);
    assert!(entries(&a_dir).is_empty());
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// GET `path` from 127.0.0.1:`port` over plain HTTP/1.0: the body, if the server answered 200.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200")
        .then(|| body.to_string())
        .or_else(|| head.starts_with("HTTP/1.0 200").then(|| body.to_string()))
}

/// Stops the exporter even when an assertion fails first.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
#[cfg_attr(
    not(has_node_exporter),
    ignore = "needs prometheus-node-exporter (apt-get install prometheus-node-exporter)"
)]
fn node_exporter_textfile_collector_serves_the_metrics_file() {
    require("prometheus-node-exporter");
    let dir = temp_dir("textfile");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let path = dir.join("rnetstat.prom");
    let output = run(&["--metrics-file", path.to_str().unwrap(), "--once"]);
    assert!(output.status.success());
    let web_port = free_port();
    let exporter = KillOnDrop(
        Command::new("prometheus-node-exporter")
            .args([
                "--collector.disable-defaults",
                "--collector.textfile",
                &format!("--collector.textfile.directory={}", dir.display()),
                &format!("--web.listen-address=127.0.0.1:{web_port}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run prometheus-node-exporter"),
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    let body = loop {
        if let Some(body) = http_get(web_port, "/metrics") {
            break body;
        }
        assert!(Instant::now() < deadline, "node_exporter never answered");
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(exporter);
    let samples = parse_exposition(&body);
    // node_exporter says 1 here when it could not read or parse a file.
    assert_eq!(
        value_of(&samples, "node_textfile_scrape_error", &[]),
        0.0,
        "{body}"
    );
    let found = select(
        &samples,
        "rnetstat_listener_info",
        &[("port", &port), ("proto", "tcp"), ("address", "127.0.0.1")],
    );
    assert_eq!(found.len(), 1, "{body}");
    assert_eq!(found[0].labels["process"], own_process_name());
    assert_eq!(found[0].value, 1.0);
}

/// What `lstat` says `path` is, in words, or `missing`.
fn kind_of(path: &Path) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path) {
        Err(_) => "missing",
        Ok(meta) => {
            let kind = meta.file_type();
            if kind.is_symlink() {
                "symlink"
            } else if kind.is_file() {
                "file"
            } else if kind.is_dir() {
                "directory"
            } else if kind.is_fifo() {
                "fifo"
            } else if kind.is_char_device() {
                "char device"
            } else if kind.is_socket() {
                "socket"
            } else {
                "other"
            }
        }
    }
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

#[test]
fn metrics_file_never_follows_a_symlink_planted_as_its_temporary_file() {
    let dir = temp_dir("planted");
    let elsewhere = temp_dir("victim");
    let victim = elsewhere.join("victim");
    std::fs::write(&victim, "victim\n").unwrap();
    let path = dir.join("rnetstat.prom");
    let mut child = KillOnDrop(
        rnetstat()
            .args([
                "--metrics-file",
                path.to_str().unwrap(),
                "--interval",
                "0.1",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Whoever can write in the directory can guess a name made of PATH and the pid: plant a
    // symlink to a file elsewhere under each such name, for this pid and its neighbours.
    let pid = child.0.id();
    let mut planted = Vec::new();
    for guess in pid.saturating_sub(2)..=pid + 2 {
        let name = dir.join(format!(".rnetstat.prom.{guess}.tmp"));
        std::os::unix::fs::symlink(&victim, &name).unwrap();
        planted.push(name);
    }
    wait_for_file(&path, |t| t.contains("rnetstat_build_info"));
    // Several rewrites after the plant.
    std::thread::sleep(Duration::from_millis(800));
    signal(&child.0, libc::SIGTERM);
    let status = child.0.wait().unwrap();
    let mut stderr = String::new();
    let _ = child.0.stderr.take().unwrap().read_to_string(&mut stderr);
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "victim\n",
        "the file a planted symlink points to was overwritten; {status} {stderr}"
    );
    assert_eq!(
        kind_of(&path),
        "file",
        "{} is not a regular file",
        path.display()
    );
    for name in &planted {
        assert_eq!(
            std::fs::read_link(name).unwrap(),
            victim,
            "{}",
            name.display()
        );
    }
    let mut expected: Vec<String> = planted
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    expected.push("rnetstat.prom".to_string());
    expected.sort();
    assert_eq!(entries(&dir), expected, "{status} {stderr}");
    assert!(status.success(), "{status}: {stderr}");
}

#[test]
fn metrics_file_refuses_a_path_that_is_not_a_regular_file_and_touches_nothing() {
    let dir = temp_dir("not-regular");
    let elsewhere = temp_dir("not-regular-victim");
    let victim = elsewhere.join("victim");
    std::fs::write(&victim, "victim\n").unwrap();
    let link = dir.join("link.prom");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let fifo = dir.join("fifo.prom");
    mkfifo(&fifo);
    // A char device like /dev/null (1, 3), made here: the machine's own /dev is never touched.
    let device = dir.join("null.prom");
    let made = Command::new("mknod")
        .args([device.to_str().unwrap(), "c", "1", "3"])
        .status()
        .expect("run mknod");
    assert!(
        made.success(),
        "mknod needs root (CAP_MKNOD): run the tests as root"
    );
    let socket = dir.join("socket.prom");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let directory = dir.join("dir.prom");
    std::fs::create_dir(&directory).unwrap();
    let before = entries(&dir);
    for (path, kind) in [
        (&link, "symlink"),
        (&fifo, "fifo"),
        (&device, "char device"),
        (&socket, "socket"),
        (&directory, "directory"),
    ] {
        let output = run(&["--metrics-file", path.to_str().unwrap(), "--once"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(1),
            "--metrics-file on a {kind}: {}; stderr: {stderr}",
            output.status
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("rnetstat: "), "{stderr}");
        assert!(stderr.contains(path.to_str().unwrap()), "{stderr}");
        assert_eq!(kind_of(path), kind, "{} was replaced", path.display());
        assert_eq!(entries(&dir), before);
    }
    assert_eq!(std::fs::read_link(&link).unwrap(), victim);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "victim\n");
    assert!(entries(&directory).is_empty());
}

#[test]
fn metrics_file_stops_when_path_becomes_a_fifo_between_writes() {
    let dir = temp_dir("becomes-fifo");
    let path = dir.join("rnetstat.prom");
    let mut child = KillOnDrop(
        rnetstat()
            .args([
                "--metrics-file",
                path.to_str().unwrap(),
                "--interval",
                "0.1",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    wait_for_file(&path, |t| t.contains("rnetstat_build_info"));
    std::fs::remove_file(&path).unwrap();
    mkfifo(&path);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 10 s after PATH became a FIFO; PATH is now a {}",
            kind_of(&path)
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    let _ = child.0.stderr.take().unwrap().read_to_string(&mut stderr);
    assert_eq!(status.code(), Some(1), "{stderr}");
    // Processes of other tests may refuse inspection: that warning may come first.
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.starts_with("rnetstat: owners incomplete: "))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains(path.to_str().unwrap()), "{stderr}");
    assert_eq!(kind_of(&path), "fifo");
    assert_eq!(entries(&dir), ["rnetstat.prom"]);
}

/// True for a character a terminal acts on instead of showing: C0 and C1 controls (a line feed
/// ends a line of the format and is allowed), DEL, and the invisible format characters.
fn is_terminal_control(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c as u32, 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x206F | 0xFEFF)
}

#[test]
#[cfg_attr(
    not(all(has_promtool, has_python3)),
    ignore = "needs promtool and python3 (apt-get install prometheus python3)"
)]
fn a_process_named_with_terminal_escapes_is_written_as_visible_text() {
    // OSC 0 (set the window title) ended by BEL, then a right-to-left override.
    let hostile = "\u{1b}]0;PWN\u{7}\u{202e}x";
    let (child, port) = python_listener_named(hostile);
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", child.id())).unwrap();
    let (text, samples) = metrics(&[]);
    finish(child);
    assert_eq!(comm.strip_suffix('\n').unwrap(), hostile);
    let raw: Vec<(usize, char)> = text
        .char_indices()
        .filter(|&(_, c)| is_terminal_control(c))
        .collect();
    assert!(raw.is_empty(), "raw control characters at {raw:?}");
    promtool_check(&text);
    let port = port.to_string();
    let listener = select(
        &samples,
        "rnetstat_listener_info",
        &[("port", &port), ("proto", "tcp")],
    );
    assert_eq!(listener.len(), 1, "{listener:?}");
    assert_eq!(listener[0].labels["process"], "\\x1b]0;PWN\\x07\\u{202e}x");
    assert!(
        text.contains("process=\"\\\\x1b]0;PWN\\\\x07\\\\u{202e}x\""),
        "{text}"
    );
}
