//! `--serve ADDR:PORT`: the `/metrics` endpoint. Transport only: the exposition comes from
//! [`crate::output::prometheus`] (through [`crate::metrics::exposition`]).
//!
//! HTTP/1.x on std's `TcpListener`, one thread per connection (at most [`MAX_CONNECTIONS`]),
//! one request per connection (`Connection: close`). Every client has [`CLIENT_TIMEOUT`] to send
//! its request and as long again to take the answer, so a stuck one holds only its own thread.
//! Scrapes share collections: one that arrives while a collection runs waits for its result.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::Error;
use crate::filter::Query;
use crate::model::OwnerCoverage;
use crate::output::prometheus::CONTENT_TYPE;
use crate::platform::Collector;

/// How long a client may take to send its request, and again to take the answer.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once; more are answered 503 and closed.
pub const MAX_CONNECTIONS: usize = 64;
/// The most a request line and its headers may take together.
pub const HEAD_LIMIT: usize = 8 * 1024;
const MAX_HEADERS: usize = 64;

pub fn run(query: &Query, addr: SocketAddr) -> Result<(), Error> {
    #[cfg(unix)]
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .map_err(|e| Error::Run(format!("--serve: handling signals: {e}")))?;
    let listener = TcpListener::bind(addr)
        .map_err(|e| Error::Run(format!("--serve {addr}: {}", reason(&e))))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::Run(format!("--serve {addr}: {}", reason(&e))))?;
    eprintln!("rnetstat: serving metrics on http://{bound}/metrics");
    let scraper = Arc::new(Scraper::new(Collector::new(query.clone())));
    #[cfg(unix)]
    {
        thread::Builder::new()
            .name("accept".to_string())
            .spawn(move || accept_loop(&listener, &scraper))
            .map_err(|e| Error::Run(format!("--serve: starting the accept thread: {e}")))?;
        // SIGINT/SIGTERM are how a server is asked to stop: a clean end, status 0.
        signals.forever().next();
        Ok(())
    }
    #[cfg(not(unix))]
    accept_loop(&listener, &scraper)
}

/// An I/O error as one lower-case phrase, without Rust's "(os error N)".
fn reason(e: &io::Error) -> String {
    let text = e.to_string();
    let text = match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => &text[..at],
        _ => text.as_str(),
    };
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_lowercase().chain(chars).collect()
    })
}

fn accept_loop(listener: &TcpListener, scraper: &Arc<Scraper>) -> ! {
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => {
                // Out of file descriptors or memory: back off instead of spinning, then retry.
                thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if open.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
            open.fetch_sub(1, Ordering::AcqRel);
            refuse_busy(stream);
            continue;
        }
        let slot = OpenConnection(Arc::clone(&open));
        let scraper = Arc::clone(scraper);
        // When no thread can be started, the closure is dropped: the connection closes and
        // its slot is given back.
        let _ = thread::Builder::new()
            .name("http".to_string())
            .spawn(move || {
                let _slot = slot;
                serve_connection(stream, &scraper);
            });
    }
}

/// One of the [`MAX_CONNECTIONS`]; given back when dropped.
struct OpenConnection(Arc<AtomicUsize>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Over the limit: say so if the socket takes it at once, never wait for the client.
fn refuse_busy(mut stream: TcpStream) {
    let answer = Answer::text(503, "too many connections\n");
    if stream.set_nonblocking(true).is_ok() {
        let _ = stream.write_all(&answer.head());
        let _ = stream.write_all(answer.body());
    }
}

fn serve_connection(mut stream: TcpStream, scraper: &Scraper) {
    let (answer, head_only) = match read_request(&mut stream) {
        Ok(Parsed::Request(request)) => {
            let head_only = request.method == "HEAD";
            (
                answer(route(&request.method, &request.target), scraper),
                head_only,
            )
        }
        Ok(Parsed::Invalid(why)) => (Answer::text(400, &format!("bad request: {why}\n")), false),
        Ok(Parsed::Incomplete) | Err(ReadFailure::Closed) => return,
        Err(ReadFailure::TimedOut { received: false }) => return,
        Err(ReadFailure::TimedOut { received: true }) => {
            (Answer::text(408, "request timed out\n"), false)
        }
    };
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    let head = answer.head();
    let body = if head_only { &[][..] } else { answer.body() };
    if write_by(&mut stream, &head, deadline).is_err()
        || write_by(&mut stream, body, deadline).is_err()
    {
        return;
    }
    let _ = stream.shutdown(Shutdown::Write);
    linger(&mut stream);
}

/// Read what the client still sends (a body, the rest of an oversized head) for at most a
/// second before closing: closing with unread bytes resets the connection, and a reset can
/// destroy the answer still in flight.
fn linger(stream: &mut TcpStream) {
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut sink = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match stream.read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum ReadFailure {
    /// The client closed or reset the connection before its request was complete.
    Closed,
    /// [`CLIENT_TIMEOUT`] passed; `received` says whether the client sent anything at all.
    TimedOut { received: bool },
}

fn read_request(stream: &mut TcpStream) -> Result<Parsed, ReadFailure> {
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    let mut received = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let timed_out = ReadFailure::TimedOut {
            received: !received.is_empty(),
        };
        // A zero timeout means "none" to the OS: the deadline is checked here instead.
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return Err(timed_out);
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Err(ReadFailure::Closed),
            Ok(n) => {
                received.extend_from_slice(&chunk[..n]);
                match parse_request(&received) {
                    Parsed::Incomplete => {}
                    parsed => return Ok(parsed),
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(timed_out);
            }
            Err(_) => return Err(ReadFailure::Closed),
        }
    }
}

/// `write_all` that gives up at `deadline`, however slowly the client reads.
fn write_by(stream: &mut TcpStream, mut bytes: &[u8], deadline: Instant) -> io::Result<()> {
    while !bytes.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        stream.set_write_timeout(Some(left))?;
        match stream.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A request line and headers, as far as this server cares: what to do, and to which path.
#[derive(Debug, PartialEq, Eq)]
struct Request {
    method: String,
    target: String,
}

#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    /// The head has not ended yet and is still within [`HEAD_LIMIT`].
    Incomplete,
    Request(Request),
    /// Not an HTTP/1.x request this server accepts; the reason goes into the 400.
    Invalid(&'static str),
}

/// Parse the start of what a client sent: a request line and headers ending in an empty line
/// (CRLF, or bare LF as RFC 9112 allows). Bodies are never read.
fn parse_request(received: &[u8]) -> Parsed {
    let total = received.len();
    // Empty lines before the request line are to be ignored (RFC 9112 2.2).
    let start = received
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(received.len());
    let received = &received[start..];
    if total > HEAD_LIMIT && head_length(received).is_none_or(|len| len > HEAD_LIMIT) {
        return Parsed::Invalid("request line and headers over 8 KiB");
    }
    let Some(head_len) = head_length(received) else {
        // A request line already known to be wrong need not wait for the rest.
        if let Some(line_end) = received.iter().position(|&b| b == b'\n')
            && let Err(why) = parse_request_line(trim_cr(&received[..line_end]))
        {
            return Parsed::Invalid(why);
        }
        return Parsed::Incomplete;
    };
    let mut lines = received[..head_len]
        .split(|&b| b == b'\n')
        .map(trim_cr)
        .filter(|line| !line.is_empty());
    let Some(request_line) = lines.next() else {
        return Parsed::Invalid("no request line");
    };
    let request = match parse_request_line(request_line) {
        Ok(request) => request,
        Err(why) => return Parsed::Invalid(why),
    };
    let mut headers = 0;
    for line in lines {
        headers += 1;
        if headers > MAX_HEADERS {
            return Parsed::Invalid("too many headers");
        }
        if let Err(why) = check_header(line) {
            return Parsed::Invalid(why);
        }
    }
    Parsed::Request(request)
}

/// [`parse_request`] for the fuzzers (`rnetstat::fuzzing`): what it made of `received`.
pub(crate) fn parse_request_debug(received: &[u8]) -> String {
    format!("{:?}", parse_request(received))
}

/// Where the head ends (after its first empty line), if it has.
fn head_length(received: &[u8]) -> Option<usize> {
    let mut line_start = 0;
    for (at, &byte) in received.iter().enumerate() {
        if byte == b'\n' {
            if at > 0 && trim_cr(&received[line_start..at]).is_empty() {
                return Some(at + 1);
            }
            line_start = at + 1;
        }
    }
    None
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn parse_request_line(line: &[u8]) -> Result<Request, &'static str> {
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("the request line is not METHOD TARGET VERSION");
    };
    if method.is_empty() || method.len() > 16 || !method.iter().all(|&b| is_token(b)) {
        return Err("not a method");
    }
    if !target.starts_with(b"/")
        || target.len() > 2048
        || !target.iter().all(|&b| b.is_ascii_graphic())
    {
        return Err("the target is not a path");
    }
    if version != b"HTTP/1.1" && version != b"HTTP/1.0" {
        return Err("not HTTP/1.0 or HTTP/1.1");
    }
    // Checked as ASCII above: these cannot fail, but OS-free input gets no unwrap either.
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    Ok(Request {
        method: text(method),
        target: text(target),
    })
}

fn check_header(line: &[u8]) -> Result<(), &'static str> {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return Err("a header line without a colon");
    };
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    // A name followed by whitespace, or a line folded onto the last, is refused (RFC 9112 5.1, 5.2).
    if name.is_empty() || !name.iter().all(|&b| is_token(b)) {
        return Err("not a header name");
    }
    if value
        .iter()
        .any(|&b| (b.is_ascii_control() && b != b'\t') || b == 0x7f)
    {
        return Err("a control character in a header value");
    }
    Ok(())
}

/// RFC 9110's `tchar`: what methods and header names are made of.
fn is_token(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

#[derive(Debug, PartialEq, Eq)]
enum Route {
    Metrics,
    Index,
    NotFound,
    MethodNotAllowed,
}

/// What a request asks for: the path decides first (404), then the method (405).
fn route(method: &str, target: &str) -> Route {
    let path = target.split(['?', '#']).next().unwrap_or(target);
    let page = match path {
        "/metrics" => Route::Metrics,
        "/" => Route::Index,
        _ => return Route::NotFound,
    };
    if method == "GET" || method == "HEAD" {
        page
    } else {
        Route::MethodNotAllowed
    }
}

fn answer(route: Route, scraper: &Scraper) -> Answer {
    match route {
        Route::Metrics => match &*scraper.scrape() {
            Ok(exposition) => Answer {
                status: 200,
                content_type: CONTENT_TYPE,
                allow: false,
                body: Body::Shared(Arc::clone(exposition)),
            },
            Err(why) => Answer::text(500, &format!("collecting sockets failed: {why}\n")),
        },
        Route::Index => Answer::text(
            200,
            &format!(
                "rnetstat {}: socket metrics for Prometheus.\n\n\
                 /metrics  the exposition (text format 0.0.4), a fresh snapshot per scrape\n",
                env!("CARGO_PKG_VERSION")
            ),
        ),
        Route::NotFound => Answer::text(404, "not found: try /metrics\n"),
        Route::MethodNotAllowed => Answer {
            allow: true,
            ..Answer::text(405, "only GET and HEAD\n")
        },
    }
}

struct Answer {
    status: u16,
    content_type: &'static str,
    /// Whether to say `Allow: GET, HEAD` (405).
    allow: bool,
    body: Body,
}

enum Body {
    Own(Vec<u8>),
    /// One exposition handed to every scrape that waited for its collection.
    Shared(Arc<Vec<u8>>),
}

impl Answer {
    fn text(status: u16, text: &str) -> Answer {
        Answer {
            status,
            content_type: "text/plain; charset=utf-8",
            allow: false,
            body: Body::Own(text.as_bytes().to_vec()),
        }
    }

    fn body(&self) -> &[u8] {
        match &self.body {
            Body::Own(bytes) => bytes,
            Body::Shared(bytes) => bytes,
        }
    }

    /// Status line and headers; `Content-Length` is the body's also for HEAD (RFC 9110 8.6).
    fn head(&self) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            408 => "Request Timeout",
            500 => "Internal Server Error",
            503 => "Service Unavailable",
            _ => "",
        };
        let allow = if self.allow {
            "Allow: GET, HEAD\r\n"
        } else {
            ""
        };
        format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{allow}Connection: close\r\n\r\n",
            self.status,
            self.content_type,
            self.body().len()
        )
        .into_bytes()
    }
}

/// One exposition, or why its collection failed.
type Exposition = Arc<Result<Arc<Vec<u8>>, String>>;

/// Single-flight scrapes over one [`Collector`], which remembers owners between them (as
/// `--live` does), so a scrape refreshes owners instead of scanning every process.
struct Scraper {
    collection: Mutex<Collection>,
    flight: Mutex<Flight>,
    landed: Condvar,
}

struct Collection {
    collector: Collector,
    warned_incomplete: bool,
}

struct Flight {
    running: bool,
    /// Collections finished so far; a waiter wants the one after the count it saw.
    finished: u64,
    last: Option<Exposition>,
}

impl Scraper {
    fn new(collector: Collector) -> Scraper {
        Scraper {
            collection: Mutex::new(Collection {
                collector,
                warned_incomplete: false,
            }),
            flight: Mutex::new(Flight {
                running: false,
                finished: 0,
                last: None,
            }),
            landed: Condvar::new(),
        }
    }

    /// The exposition of a collection that started no earlier than this call, or the running
    /// one's when a collection is already under way.
    fn scrape(&self) -> Exposition {
        let mut flight = locked(&self.flight);
        if flight.running {
            let awaited = flight.finished + 1;
            while flight.finished < awaited {
                flight = self
                    .landed
                    .wait(flight)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if let Some(last) = &flight.last {
                return Arc::clone(last);
            }
        }
        flight.running = true;
        drop(flight);
        let exposition = Arc::new(self.collect());
        let mut flight = locked(&self.flight);
        flight.running = false;
        flight.finished += 1;
        flight.last = Some(Arc::clone(&exposition));
        self.landed.notify_all();
        exposition
    }

    fn collect(&self) -> Result<Arc<Vec<u8>>, String> {
        let mut collection = locked(&self.collection);
        let (exposition, coverage) =
            crate::metrics::exposition(&mut collection.collector).map_err(|e| e.to_string())?;
        if let OwnerCoverage::Incomplete(gaps) = coverage
            && !collection.warned_incomplete
        {
            // Once is enough: every scrape would repeat the same gaps.
            eprintln!("rnetstat: owners incomplete: {}", gaps.describe());
            collection.warned_incomplete = true;
        }
        Ok(Arc::new(exposition))
    }
}

/// A lock whose holder panicked is still usable: a panic ends the whole program anyway
/// (`install_panic_hook`), so the data is never seen half-changed.
fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, target: &str) -> Parsed {
        Parsed::Request(Request {
            method: method.to_string(),
            target: target.to_string(),
        })
    }

    #[test]
    fn a_complete_get_is_a_request() {
        assert_eq!(
            parse_request(b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n"),
            request("GET", "/metrics")
        );
        assert_eq!(
            parse_request(b"HEAD /?a=b HTTP/1.0\r\n\r\n"),
            request("HEAD", "/?a=b")
        );
    }

    #[test]
    fn bare_line_feeds_and_leading_empty_lines_are_accepted() {
        assert_eq!(
            parse_request(b"\r\n\nGET /metrics HTTP/1.1\nHost: x\n\n"),
            request("GET", "/metrics")
        );
    }

    #[test]
    fn a_body_after_the_head_is_not_read() {
        assert_eq!(
            parse_request(b"POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"),
            request("POST", "/metrics")
        );
    }

    #[test]
    fn a_head_not_yet_ended_is_incomplete() {
        for partial in [
            &b""[..],
            b"\r\n",
            b"GET /metr",
            b"GET /metrics HTTP/1.1\r\n",
            b"GET /metrics HTTP/1.1\r\nHost: x\r\n",
            b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r",
        ] {
            assert_eq!(
                parse_request(partial),
                Parsed::Incomplete,
                "{:?}",
                String::from_utf8_lossy(partial)
            );
        }
    }

    #[test]
    fn garbage_is_invalid() {
        for garbage in [
            &b"\x01\x02 what is this\r\n\r\n"[..],
            b"GET\r\n\r\n",
            b"GET /metrics\r\n\r\n",
            b"GET  /metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/1.1 extra\r\n\r\n",
            b"GET metrics HTTP/1.1\r\n\r\n",
            b"GET http://host/metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/2.0\r\n\r\n",
            b"GET /met\x00rics HTTP/1.1\r\n\r\n",
            b"G\xc3\xa9T /metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nX: a\x1bb\r\n\r\n",
        ] {
            assert!(
                matches!(parse_request(garbage), Parsed::Invalid(_)),
                "{:?}",
                String::from_utf8_lossy(garbage)
            );
        }
    }

    #[test]
    fn a_wrong_request_line_is_invalid_before_the_head_ends() {
        assert!(matches!(
            parse_request(b"\x16\x03\x01 tls hello\r\n"),
            Parsed::Invalid(_)
        ));
    }

    #[test]
    fn a_head_over_the_limit_is_invalid_complete_or_not() {
        let mut long = b"GET /metrics HTTP/1.1\r\nX-Long: ".to_vec();
        long.extend(std::iter::repeat_n(b'a', HEAD_LIMIT));
        assert!(matches!(parse_request(&long), Parsed::Invalid(_)));
        long.extend_from_slice(b"\r\n\r\n");
        assert!(matches!(parse_request(&long), Parsed::Invalid(_)));
        let long_line = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(HEAD_LIMIT));
        assert!(matches!(
            parse_request(long_line.as_bytes()),
            Parsed::Invalid(_)
        ));
    }

    #[test]
    fn too_many_headers_are_invalid() {
        let mut head = b"GET /metrics HTTP/1.1\r\n".to_vec();
        for n in 0..=MAX_HEADERS {
            head.extend_from_slice(format!("X-{n}: y\r\n").as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        assert!(matches!(parse_request(&head), Parsed::Invalid(_)));
    }

    #[test]
    fn routes_by_path_then_method() {
        assert_eq!(route("GET", "/metrics"), Route::Metrics);
        assert_eq!(route("HEAD", "/metrics?x=1"), Route::Metrics);
        assert_eq!(route("GET", "/"), Route::Index);
        assert_eq!(route("GET", "/nope"), Route::NotFound);
        assert_eq!(route("GET", "/metrics/"), Route::NotFound);
        assert_eq!(route("POST", "/nope"), Route::NotFound);
        assert_eq!(route("POST", "/metrics"), Route::MethodNotAllowed);
        assert_eq!(route("DELETE", "/"), Route::MethodNotAllowed);
    }

    #[test]
    fn a_head_answer_states_the_body_length_and_allow_only_for_405() {
        let not_allowed = answer(Route::MethodNotAllowed, &unused_scraper());
        let head = String::from_utf8(not_allowed.head()).unwrap();
        assert!(head.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
        assert!(head.contains("\r\nAllow: GET, HEAD\r\n"));
        assert!(head.contains(&format!(
            "\r\nContent-Length: {}\r\n",
            not_allowed.body().len()
        )));
        assert!(head.ends_with("\r\nConnection: close\r\n\r\n"));
        let missing = answer(Route::NotFound, &unused_scraper());
        assert!(!String::from_utf8(missing.head()).unwrap().contains("Allow"));
    }

    /// A scraper that these tests never ask to collect.
    fn unused_scraper() -> Scraper {
        Scraper::new(Collector::new(Query::default()))
    }

    #[cfg(unix)]
    #[test]
    fn io_reasons_lose_the_os_error_number() {
        let in_use = io::Error::from_raw_os_error(libc::EADDRINUSE);
        assert_eq!(reason(&in_use), "address already in use");
    }
}
