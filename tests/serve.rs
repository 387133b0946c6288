//! `rnetstat --serve ADDR:PORT`: the real binary serving /metrics on loopback, scraped by a real
//! Prometheus server and by hand-written HTTP clients (well-behaved, silent, half-sent, hostile).
// Linux only: owners come from /proc and the signals are Unix ones.
#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{own_process_name, rnetstat};

/// How long a client waits for an answer before the test calls the server stuck.
const ANSWER_WAIT: Duration = Duration::from_secs(20);

/// A child process killed and reaped when the test ends, passed or failed.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `rnetstat --serve 127.0.0.1:0`, with the address it printed and everything else it says on
/// stderr collected for failure messages.
struct Server {
    process: KillOnDrop,
    addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    fn start() -> Server {
        Server::start_on("127.0.0.1:0")
    }

    fn start_on(addr: &str) -> Server {
        Server::start_with(&["--serve", addr])
    }

    fn start_with(args: &[&str]) -> Server {
        let mut child = rnetstat()
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start rnetstat --serve");
        let stderr = child.stderr.take().expect("piped stderr");
        let process = KillOnDrop(child);
        let (first_line, first_line_received) = mpsc::channel();
        let collected = Arc::new(Mutex::new(String::new()));
        let rest = Arc::clone(&collected);
        thread::spawn(move || {
            let mut lines = BufReader::new(stderr).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = first_line.send(line);
            }
            for line in lines.map_while(Result::ok) {
                let mut rest = rest.lock().unwrap();
                rest.push_str(&line);
                rest.push('\n');
            }
        });
        let line = first_line_received
            .recv_timeout(ANSWER_WAIT)
            .expect("rnetstat --serve printed no first line on stderr");
        let addr = line
            .strip_prefix("rnetstat: serving metrics on http://")
            .and_then(|rest| rest.strip_suffix("/metrics"))
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first stderr line: {line:?}"));
        Server {
            process,
            addr,
            stderr: collected,
        }
    }

    fn get(&self, path: &str) -> Response {
        request(
            self.addr,
            &format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"),
        )
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

#[derive(Debug)]
struct Response {
    status: u16,
    head: String,
    body: String,
}

impl Response {
    /// The value of header `name` (case-insensitive), if the response has it.
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// Send `raw` as it is and read the whole answer (the server closes every connection).
fn request(addr: SocketAddr, raw: &str) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(ANSWER_WAIT)).unwrap();
    stream.write_all(raw.as_bytes()).expect("send request");
    read_response(stream)
}

fn read_response(mut stream: TcpStream) -> Response {
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).expect("read response");
    let text = String::from_utf8(bytes).expect("utf-8 response");
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of head in {text:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    Response {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

/// `rnetstat_scrape_duration_seconds`' value in an exposition, as written.
fn scrape_duration(body: &str) -> &str {
    body.lines()
        .find_map(|line| line.strip_prefix("rnetstat_scrape_duration_seconds "))
        .unwrap_or_else(|| panic!("no scrape duration in {body}"))
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

/// A directory of its own under the system temporary directory, removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("rnetstat-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temporary directory");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `s` with every byte outside the unreserved set percent-encoded, for a URL query.
fn percent_encoded(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
#[cfg_attr(
    not(has_prometheus),
    ignore = "needs prometheus (apt-get install prometheus)"
)]
fn prometheus_scrapes_the_listener_of_this_test() {
    if Command::new("prometheus")
        .arg("--version")
        .output()
        .is_err()
    {
        panic!("prometheus is not installed: apt-get install prometheus (.ci/run installs it)");
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind test listener");
    let port = listener.local_addr().unwrap().port();
    let server = Server::start();
    let dir = TempDir::new("prometheus");
    let config = dir.0.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n  - job_name: rnetstat\n    static_configs:\n      \
             - targets: ['{}']\n",
            server.addr
        ),
    )
    .expect("write prometheus.yml");
    let web: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let prometheus = KillOnDrop(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.0.join("data").display()
            ))
            .arg(format!("--web.listen-address={web}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.0.join("prometheus.log")).expect("create log"),
            ))
            .spawn()
            .expect("start prometheus"),
    );
    let query = format!("rnetstat_listener_info{{port=\"{port}\"}}");
    let path = format!("/api/v1/query?query={}", percent_encoded(&query));
    let deadline = Instant::now() + Duration::from_secs(45);
    let result = loop {
        // Prometheus still starting up refuses connections or says it is not ready.
        if let Ok(mut stream) = TcpStream::connect(web) {
            stream.set_read_timeout(Some(ANSWER_WAIT)).unwrap();
            let sent =
                stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: {web}\r\n\r\n").as_bytes());
            let mut bytes = Vec::new();
            if sent.is_ok() && stream.read_to_end(&mut bytes).is_ok() {
                let text = String::from_utf8_lossy(&bytes);
                if let Some((_, body)) = text.split_once("\r\n\r\n")
                    && let Ok(answer) = serde_json::from_str::<serde_json::Value>(body)
                    && let Some(found) = answer["data"]["result"].as_array()
                    && !found.is_empty()
                {
                    break found.clone();
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus has no {query} after 45 s; its log:\n{}\nrnetstat's stderr:\n{}",
            std::fs::read_to_string(dir.0.join("prometheus.log")).unwrap_or_default(),
            server.stderr()
        );
        thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(result.len(), 1, "one series for the listener: {result:?}");
    let series = &result[0];
    assert_eq!(series["metric"]["__name__"], "rnetstat_listener_info");
    assert_eq!(series["metric"]["job"], "rnetstat");
    assert_eq!(series["metric"]["instance"], server.addr.to_string());
    assert_eq!(series["metric"]["proto"], "tcp");
    assert_eq!(series["metric"]["address"], "127.0.0.1");
    assert_eq!(series["metric"]["port"], port.to_string());
    assert_eq!(series["metric"]["process"], own_process_name());
    assert_eq!(series["value"][1], "1", "the value of {series}");
    drop(prometheus);
    drop(listener);
}

#[test]
fn port_in_use_is_one_line_and_exit_1() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().unwrap();
    let output = rnetstat()
        .args(["--serve", &addr.to_string()])
        .output()
        .expect("run rnetstat");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "stdout: {:?}", output.stdout);
    // The holder is this test: named with its pid.
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "rnetstat: --serve {addr}: address already in use, held by {} (pid {})\n",
            own_process_name(),
            std::process::id()
        )
    );
}

#[test]
fn an_address_of_another_host_is_one_line_and_exit_1() {
    // TEST-NET-1 (RFC 5737) is not on any interface here: binding fails before any traffic.
    let output = rnetstat()
        .args(["--serve", "192.0.2.1:9100"])
        .output()
        .expect("run rnetstat");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "rnetstat: --serve 192.0.2.1:9100: cannot assign requested address\n"
    );
}

#[test]
fn metrics_root_and_errors_by_path_and_method() {
    let server = Server::start_with(&["--serve", "127.0.0.1:0", "--interval", "0.1"]);

    let metrics = server.get("/metrics");
    assert_eq!(metrics.status, 200, "{metrics:?}");
    assert_eq!(
        metrics.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(
        metrics.header("Content-Length"),
        Some(metrics.body.len().to_string().as_str())
    );
    assert!(metrics.body.contains("rnetstat_build_info{version=\""));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // A fresh snapshot once the interval has passed: a listener opened after the first scrape
    // is in the next.
    thread::sleep(Duration::from_millis(200));
    let next = server.get("/metrics?from=test");
    assert_eq!(next.status, 200);
    let series = format!(
        "rnetstat_listener_info{{proto=\"tcp\",family=\"ipv4\",address=\"127.0.0.1\",port=\"{port}\",process=\"{}\",user=\"",
        own_process_name()
    );
    assert!(
        next.body
            .lines()
            .any(|l| l.starts_with(&series) && l.ends_with("\"} 1")),
        "{series} not in {}",
        next.body
    );

    let head = request(
        server.addr,
        "HEAD /metrics HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty(), "HEAD has no body: {:?}", head.body);
    assert!(head.header("Content-Length").is_some());

    let root = server.get("/");
    assert_eq!(root.status, 200);
    assert!(root.header("Content-Type").unwrap().starts_with("text/"));
    assert!(root.body.contains("/metrics"), "{}", root.body);

    let nope = server.get("/nope");
    assert_eq!(nope.status, 404, "{nope:?}");

    let post = request(
        server.addr,
        "POST /metrics HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(post.status, 405, "{post:?}");
    assert_eq!(post.header("Allow"), Some("GET, HEAD"));

    let garbage = request(server.addr, "\u{1}\u{2} what is this\r\n\r\n");
    assert_eq!(garbage.status, 400, "{garbage:?}");
    let long_header = format!(
        "GET /metrics HTTP/1.1\r\nX-Long: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(ANSWER_WAIT)).unwrap();
    // The server may answer and close before it has read everything: a reset is fine too.
    let _ = stream.write_all(long_header.as_bytes());
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 400 "),
        "{answer}"
    );

    // Still serving after all of that.
    assert_eq!(server.get("/metrics").status, 200);
    // Other tests on this machine may hold processes that refuse inspection: that one line
    // is allowed, nothing else (no error per request, no panic).
    let stderr = server.stderr();
    assert!(
        stderr
            .lines()
            .all(|line| line.starts_with("rnetstat: owners incomplete: ")),
        "stderr: {stderr}"
    );
    assert!(
        stderr.lines().count() <= 1,
        "warned more than once: {stderr}"
    );
}

#[test]
fn silent_and_half_sent_clients_do_not_delay_a_scrape() {
    let server = Server::start();
    // The first scrape is a full owner scan; the baseline is a refresh, as the measured one.
    assert_eq!(server.get("/metrics").status, 200);
    let started = Instant::now();
    assert_eq!(server.get("/metrics").status, 200);
    let baseline = started.elapsed();

    let silent = TcpStream::connect(server.addr).unwrap();
    let mut half_sent = TcpStream::connect(server.addr).unwrap();
    half_sent.write_all(b"GET /metr").unwrap();
    thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let metrics = server.get("/metrics");
    let with_stuck_clients = started.elapsed();
    assert_eq!(metrics.status, 200);
    assert!(
        with_stuck_clients < baseline + Duration::from_secs(1),
        "a scrape took {with_stuck_clients:?} beside stuck clients, {baseline:?} alone"
    );

    // Both time out: the silent one is closed without a word, the half-sent one gets 408.
    let waited = Instant::now();
    silent.set_read_timeout(Some(ANSWER_WAIT)).unwrap();
    let mut nothing = Vec::new();
    (&silent)
        .read_to_end(&mut nothing)
        .expect("closed, not reset");
    assert!(nothing.is_empty(), "{nothing:?}");
    let timed_out_after = waited.elapsed();
    assert!(
        timed_out_after > Duration::from_secs(3) && timed_out_after < Duration::from_secs(10),
        "closed after {timed_out_after:?}"
    );
    half_sent.set_read_timeout(Some(ANSWER_WAIT)).unwrap();
    let answer = read_response(half_sent);
    assert_eq!(answer.status, 408, "{answer:?}");
}

#[test]
fn concurrent_scrapes_are_complete_and_share_collections() {
    const SCRAPES: usize = 24;
    let server = Server::start();
    let barrier = Arc::new(Barrier::new(SCRAPES));
    let clients: Vec<_> = (0..SCRAPES)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            let addr = server.addr;
            thread::spawn(move || {
                let mut stream = TcpStream::connect(addr).expect("connect");
                stream.set_read_timeout(Some(ANSWER_WAIT)).unwrap();
                barrier.wait();
                stream
                    .write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n")
                    .expect("send");
                read_response(stream)
            })
        })
        .collect();
    let mut durations = BTreeSet::new();
    for client in clients {
        let response = client.join().expect("client thread");
        assert_eq!(response.status, 200);
        assert_eq!(
            response.header("Content-Length"),
            Some(response.body.len().to_string().as_str())
        );
        assert!(response.body.ends_with('\n'));
        durations.insert(scrape_duration(&response.body).to_string());
    }
    // Two collections never take the same time to the nanosecond: an equal duration means
    // those scrapes were answered from one collection.
    assert!(
        durations.len() < SCRAPES,
        "{SCRAPES} overlapping scrapes ran {} collections: {durations:?}",
        durations.len()
    );
}

#[test]
fn sigterm_and_sigint_end_it_with_status_0() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let mut server = Server::start();
        assert_eq!(server.get("/metrics").status, 200);
        let pid = server.process.0.id() as libc::pid_t;
        // SAFETY: kill(2) on our own child, which has not been reaped yet.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
        let deadline = Instant::now() + ANSWER_WAIT;
        let status = loop {
            if let Some(status) = server.process.0.try_wait().expect("wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "still running after signal {signal}"
            );
            thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(0), "after signal {signal}");
    }
}

#[test]
fn a_connection_over_the_cap_closes_the_oldest_idle_one_and_is_answered() {
    let server = Server::start();
    assert_eq!(server.get("/metrics").status, 200);
    let mut held: Vec<TcpStream> = (0..rnetstat::mode::metrics::serve::MAX_CONNECTIONS)
        .map(|_| TcpStream::connect(server.addr).expect("connect"))
        .collect();
    // Let the server accept them all, in order.
    thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let metrics = server.get("/metrics");
    assert_eq!(metrics.status, 200, "{metrics:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "answered only after {:?}",
        started.elapsed()
    );
    // The oldest silent connection made room: it is closed without a word, long before its
    // head deadline; the newest is still open.
    let oldest = held.remove(0);
    oldest
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut nothing = Vec::new();
    (&oldest)
        .read_to_end(&mut nothing)
        .expect("the oldest idle connection was closed");
    assert!(nothing.is_empty(), "{nothing:?}");
    let newest = held.pop().unwrap();
    newest.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    assert!(
        matches!((&newest).read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the newest connection was closed too"
    );
}

#[test]
fn serves_on_ipv6_loopback_with_the_address_in_brackets() {
    let server = Server::start_on("[::1]:0");
    assert!(server.addr.is_ipv6(), "{}", server.addr);
    let listener = TcpListener::bind("[::1]:0").expect("bind [::1]:0");
    let port = listener.local_addr().unwrap().port();
    let metrics = server.get("/metrics");
    assert_eq!(metrics.status, 200);
    let series = format!("address=\"::1\",port=\"{port}\"");
    assert!(
        metrics.body.contains(&series),
        "{series} not in {}",
        metrics.body
    );
}

/// Clients that open a connection and send one byte every 500 ms, forever (slowloris): when the
/// server closes one, another takes its place. They stop when `stop` is dropped.
fn slowloris(addr: SocketAddr, clients: usize) -> mpsc::Sender<()> {
    let (stop, stopped) = mpsc::channel::<()>();
    thread::spawn(move || {
        let connect = || {
            let stream = TcpStream::connect(addr).ok()?;
            stream.set_nonblocking(true).ok()?;
            Some(stream)
        };
        let mut streams: Vec<Option<TcpStream>> = (0..clients).map(|_| connect()).collect();
        let head = b"GET /metrics HTTP/1.1\r\nX-Slow: ";
        let mut sent = 0usize;
        loop {
            match stopped.recv_timeout(Duration::from_millis(500)) {
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                _ => return,
            }
            let byte = head.get(sent).copied().unwrap_or(b'a');
            sent += 1;
            for slot in &mut streams {
                let alive = slot.as_mut().is_some_and(|s| s.write_all(&[byte]).is_ok());
                if !alive {
                    *slot = connect();
                }
            }
        }
    });
    stop
}

#[test]
fn two_hundred_slowloris_clients_do_not_stop_scrapes() {
    let server = Server::start();
    assert_eq!(server.get("/metrics").status, 200);
    let _stop = slowloris(server.addr, 200);
    thread::sleep(Duration::from_millis(1500));
    let mut latencies = Vec::new();
    for _ in 0..8 {
        let started = Instant::now();
        let metrics = server.get("/metrics");
        let took = started.elapsed();
        latencies.push(took);
        assert_eq!(metrics.status, 200, "{metrics:?} after {latencies:?}");
        assert!(
            took < Duration::from_secs(3),
            "a scrape took {took:?} beside 200 slow clients: {latencies:?}"
        );
        thread::sleep(Duration::from_millis(400));
    }
    eprintln!("scrape latencies beside 200 slowloris clients: {latencies:?}");
}

/// A uid no account uses, so that RLIMIT_NPROC counts only the process under test.
const UNUSED_UID: libc::uid_t = 64_971;

#[test]
fn without_threads_it_fails_with_one_line_instead_of_serving_nothing() {
    use std::os::unix::process::CommandExt;
    let mut command = rnetstat();
    command
        .args(["--serve", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: only async-signal-safe calls between fork and exec. Root ignores RLIMIT_NPROC,
    // so root drops to an unused uid first; anyone else already has more tasks than 2.
    unsafe {
        command.pre_exec(|| {
            if libc::geteuid() == 0
                && (libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(UNUSED_UID) != 0
                    || libc::setuid(UNUSED_UID) != 0)
            {
                return Err(std::io::Error::last_os_error());
            }
            let limit = libc::rlimit {
                rlim_cur: 2,
                rlim_max: 2,
            };
            if libc::setrlimit(libc::RLIMIT_NPROC, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = KillOnDrop(command.spawn().expect("start rnetstat --serve"));
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 10 s after start with RLIMIT_NPROC=2"
        );
        thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    let _ = child.0.stderr.take().unwrap().read_to_string(&mut stderr);
    assert_eq!(status.code(), Some(1), "{status}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("rnetstat: --serve: starting a thread: "),
        "{stderr}"
    );
}

#[test]
fn rapid_scrapes_within_the_interval_share_one_collection() {
    let server = Server::start();
    let first = server.get("/metrics");
    assert_eq!(first.status, 200);
    let first_answered = Instant::now();
    let mut durations = BTreeSet::new();
    let mut within = 0;
    for _ in 0..20 {
        let metrics = server.get("/metrics");
        assert_eq!(metrics.status, 200);
        // Only scrapes answered within the default interval (1 s) after the first are counted:
        // a later one may rightly start a new collection.
        if first_answered.elapsed() < Duration::from_millis(900) {
            within += 1;
            durations.insert(scrape_duration(&metrics.body).to_string());
        }
    }
    assert!(
        within >= 3,
        "only {within} scrapes in 0.9 s: too slow a machine to tell"
    );
    // The first scrape's collection answers them all; two collections never take the same time
    // to the nanosecond.
    durations.insert(scrape_duration(&first.body).to_string());
    assert!(
        durations.len() <= 2,
        "{within} scrapes within the interval ran {} collections: {durations:?}",
        durations.len()
    );
    // After the interval, a scrape collects again and sees a new listener.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = format!("port=\"{}\"", listener.local_addr().unwrap().port());
    thread::sleep(Duration::from_millis(1100));
    let later = server.get("/metrics");
    assert!(later.body.contains(&port), "{port} not in {}", later.body);
}

#[test]
fn serve_takes_localhost_and_a_bare_port_and_shows_a_valid_form_otherwise() {
    for (given, expected) in [("localhost:0", "127.0.0.1"), ("0", "127.0.0.1")] {
        let server = Server::start_on(given);
        assert_eq!(server.addr.ip().to_string(), expected, "--serve {given}");
        assert_eq!(server.get("/metrics").status, 200);
    }
    for bad in [
        "example.com:9470",
        "localhost",
        "127.0.0.1",
        "1.2.3.4.5:80",
        "[::1]",
    ] {
        let output = rnetstat()
            .args(["--serve", bad])
            .output()
            .expect("run rnetstat");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "--serve {bad}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "--serve {bad}: {stderr}");
        assert!(
            stderr.contains("expected ADDR:PORT, e.g. 127.0.0.1:9470 or [::1]:9470"),
            "--serve {bad}: {stderr}"
        );
    }
}

#[test]
fn serve_accepts_an_interval() {
    let server = Server::start_with(&["--serve", "127.0.0.1:0", "--interval", "0.2"]);
    assert_eq!(server.get("/metrics").status, 200);
}

#[test]
fn a_process_named_with_terminal_escapes_reaches_a_scraper_as_visible_text() {
    let script = "import ctypes,socket,sys\n\
        s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\n\
        ctypes.CDLL(None).prctl(15, b'\\x1b]0;PWN\\x07', 0, 0, 0)\n\
        print(s.getsockname()[1], flush=True); sys.stdin.read()\n";
    let mut child = KillOnDrop(
        Command::new("python3")
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run python3 (apt-get install python3)"),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("python3 prints its port");
    let port = line.trim();
    let server = Server::start();
    let metrics = server.get("/metrics");
    assert_eq!(metrics.status, 200);
    let raw: Vec<char> = metrics
        .body
        .chars()
        .filter(|&c| c.is_control() && c != '\n')
        .collect();
    assert!(
        raw.is_empty(),
        "raw control characters {raw:?} in the exposition"
    );
    let series = format!("port=\"{port}\",process=\"\\\\x1b]0;PWN\\\\x07\"");
    assert!(
        metrics.body.contains(&series),
        "{series} not in {}",
        metrics.body
    );
    drop(child.0.stdin.take());
}
