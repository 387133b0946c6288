//! `--serve ADDR:PORT`: the `/metrics` endpoint. Transport only: the exposition comes from
//! [`crate::output::prometheus`] (through [`super::scrape::exposition`]).
//!
//! HTTP/1.x, one request per connection (`Connection: close`), on one event loop (mio: epoll,
//! kqueue, IOCP) that reads every request head, writes every answer and closes; no thread per
//! connection, so idle or slow clients cost a socket and a buffer, not a thread, and never
//! delay a scrape. A client has [`HEAD_TIMEOUT`] in all to send its request head and
//! [`ANSWER_TIMEOUT`] to take the answer. At most [`MAX_CONNECTIONS`] are open at once; a new
//! one beyond that closes the oldest that has not sent a complete request yet (a full request
//! is answered first). Collections run on one collector thread, at most once per `--interval`:
//! a scrape within the interval of the last collection's start gets its result, and scrapes
//! arriving while one runs share it.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use super::scrape::exposition;
use crate::error::Error;
use crate::filter::{Listening, Query};
use crate::mode::notice::OwnersNotice;
use crate::model::SocketState;
use crate::output::prometheus::CONTENT_TYPE;
use crate::platform::Collector;

/// How long a client may take to send its whole request head, from its connection on.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a client may take to read its answer.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections open at once; one more closes the oldest still sending its request.
pub const MAX_CONNECTIONS: usize = 256;
/// The most a request line and its headers may take together.
pub const HEAD_LIMIT: usize = 8 * 1024;
const MAX_HEADERS: usize = 64;
/// After the answer, what the client still sends is read for this long before closing:
/// closing with unread bytes resets the connection, and a reset can destroy the answer.
const LINGER: Duration = Duration::from_secs(1);
/// Connections accepted before the loop turns to other events.
const ACCEPT_BATCH: usize = 64;
/// The longest the loop sleeps without looking at deadlines.
const TICK: Duration = Duration::from_millis(100);

const LISTENER: Token = Token(0);
const COLLECTED: Token = Token(1);

pub fn run(query: &Query, addr: SocketAddr, interval: Duration) -> Result<(), Error> {
    #[cfg(unix)]
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .map_err(|e| Error::Run(format!("--serve: handling signals: {e}")))?;
    let listener = std::net::TcpListener::bind(addr).map_err(|e| {
        let held = if e.kind() == io::ErrorKind::AddrInUse {
            format!(", {}", holders(addr))
        } else {
            String::new()
        };
        Error::Run(format!("--serve {addr}: {}{held}", reason(&e)))
    })?;
    let failed = |e: io::Error| Error::Run(format!("--serve {addr}: {}", reason(&e)));
    let bound = listener.local_addr().map_err(failed)?;
    listener.set_nonblocking(true).map_err(failed)?;
    let poll = Poll::new().map_err(failed)?;
    let waker = Arc::new(Waker::new(poll.registry(), COLLECTED).map_err(failed)?);
    let collector = CollectorThread::start(Collector::new(query.clone()), waker)?;
    let server = Server {
        listener: TcpListener::from_std(listener),
        poll,
        collector,
        interval,
        connections: HashMap::new(),
        next_token: 2,
        last: None,
        collecting: false,
        accept_again: false,
    };
    #[cfg(unix)]
    {
        let mut server = server;
        thread::Builder::new()
            .name("http".to_string())
            .spawn(move || server.serve())
            .map_err(|e| Error::Run(format!("--serve: starting a thread: {}", reason(&e))))?;
        eprintln!("rnetstat: serving metrics on http://{bound}/metrics");
        // SIGINT/SIGTERM are how a server is asked to stop: a clean end, status 0.
        signals.forever().next();
        Ok(())
    }
    #[cfg(not(unix))]
    {
        eprintln!("rnetstat: serving metrics on http://{bound}/metrics");
        let mut server = server;
        server.serve()
    }
}

/// Who holds `addr`'s port, for "address already in use": the owners of the TCP listeners on
/// that port (names escaped), or that they cannot be seen.
fn holders(addr: SocketAddr) -> String {
    let query = Query {
        tcp: true,
        udp: false,
        unix: false,
        ipv4: true,
        ipv6: true,
        listening: Listening::All,
        owners: true,
        tcp_info: false,
        filter: None,
    };
    let Ok(snapshot) = Collector::new(query).snapshot() else {
        return "and its holder could not be looked up".to_string();
    };
    let mut named = Vec::new();
    let mut unowned = false;
    for socket in &snapshot.sockets {
        if socket.local.port() != addr.port() || socket.state != SocketState::Listen {
            continue;
        }
        let mut owners = snapshot.owners_of(socket).peekable();
        if owners.peek().is_none() {
            unowned = true;
        }
        for process in owners {
            let holder = format!(
                "{} (pid {})",
                crate::format::escaped_name(&process.name),
                process.pid
            );
            if !named.contains(&holder) {
                named.push(holder);
            }
        }
    }
    match (named.is_empty(), unowned) {
        (true, _) => "and no listener on that port is visible here (another network namespace, \
                      or a socket bound but not listening)"
            .to_string(),
        (false, false) => format!("held by {}", named.join(", ")),
        (false, true) => format!(
            "held by {} and a process rnetstat cannot see",
            named.join(", ")
        ),
    }
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

/// One exposition, or why its collection failed.
type Exposition = Arc<Result<Arc<Vec<u8>>, String>>;

/// The thread that owns the [`Collector`], which remembers owners between collections (as
/// `--live` does), so a collection refreshes owners instead of scanning every process.
struct CollectorThread {
    wanted: mpsc::Sender<()>,
    /// The finished collection (its start and result), until the event loop takes it.
    done: Arc<Mutex<Option<(Instant, Exposition)>>>,
}

impl CollectorThread {
    fn start(mut collector: Collector, waker: Arc<Waker>) -> Result<CollectorThread, Error> {
        let (wanted, wants) = mpsc::channel::<()>();
        let done = Arc::new(Mutex::new(None));
        let finished = Arc::clone(&done);
        thread::Builder::new()
            .name("collect".to_string())
            .spawn(move || {
                let mut notice = OwnersNotice::default();
                while wants.recv().is_ok() {
                    let started = Instant::now();
                    let exposition = match exposition(&mut collector) {
                        Ok((text, coverage)) => {
                            notice.note(&coverage);
                            Ok(Arc::new(text))
                        }
                        Err(e) => Err(e.to_string()),
                    };
                    *finished.lock().unwrap_or_else(PoisonError::into_inner) =
                        Some((started, Arc::new(exposition)));
                    let _ = waker.wake();
                }
            })
            .map_err(|e| Error::Run(format!("--serve: starting a thread: {}", reason(&e))))?;
        Ok(CollectorThread { wanted, done })
    }
}

struct Server {
    listener: TcpListener,
    poll: Poll,
    collector: CollectorThread,
    interval: Duration,
    connections: HashMap<Token, Connection>,
    next_token: usize,
    /// The last collection: when it started, and its exposition.
    last: Option<(Instant, Exposition)>,
    collecting: bool,
    /// An accept failed (no file descriptor left) or a batch ended: connections may still
    /// wait in the backlog, and the listener will not signal them again.
    accept_again: bool,
}

struct Connection {
    stream: TcpStream,
    accepted: Instant,
    state: State,
}

enum State {
    /// Reading the request head, until [`HEAD_TIMEOUT`] after the connection.
    Head(Vec<u8>),
    /// A complete request for `/metrics`, waiting for a collection.
    Collecting {
        head_only: bool,
    },
    /// Writing the head, then the body (none for HEAD), from `written` on, until `deadline`.
    Answering {
        head: Vec<u8>,
        /// Shared with every scrape answered from the same collection: never copied.
        body: Option<Arc<Vec<u8>>>,
        written: usize,
        deadline: Instant,
    },
    /// Answered and shut down for writing; reading what the client still sends.
    Lingering {
        deadline: Instant,
    },
    Closed,
}

impl Server {
    fn serve(&mut self) -> ! {
        let mut events = Events::with_capacity(256);
        if let Err(e) =
            self.poll
                .registry()
                .register(&mut self.listener, LISTENER, Interest::READABLE)
        {
            eprintln!(
                "rnetstat: --serve: watching the listening socket: {}",
                reason(&e)
            );
            std::process::exit(1);
        }
        loop {
            // Connections left in the backlog: look again at once, after the other events.
            let timeout = if self.accept_again {
                Duration::ZERO
            } else {
                TICK
            };
            if let Err(e) = self.poll.poll(&mut events, Some(timeout))
                && e.kind() != io::ErrorKind::Interrupted
            {
                // Nothing a retry cannot fix is known to come here; do not spin.
                thread::sleep(TICK);
            }
            for event in &events {
                match event.token() {
                    LISTENER => self.accept(),
                    COLLECTED => self.collected(),
                    token => self.drive(token),
                }
            }
            self.expire();
            if self.accept_again {
                self.accept();
            }
        }
    }

    /// Accept what waits, at most [`ACCEPT_BATCH`] at a time so that a flood of connections
    /// cannot starve the requests of those already open.
    fn accept(&mut self) {
        for _ in 0..ACCEPT_BATCH {
            let stream = match self.listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.accept_again = false;
                    return;
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionAborted | io::ErrorKind::Interrupted
                    ) =>
                {
                    continue;
                }
                // Out of file descriptors or memory: the listener's readiness is an edge that
                // came already, so the loop retries after a pause.
                Err(_) => {
                    self.accept_again = true;
                    thread::sleep(Duration::from_millis(10));
                    return;
                }
            };
            if self.connections.len() >= MAX_CONNECTIONS && !self.drop_oldest_unsent() {
                refuse_busy(stream);
                continue;
            }
            let token = Token(self.next_token);
            self.next_token += 1;
            let mut connection = Connection {
                stream,
                accepted: Instant::now(),
                state: State::Head(Vec::with_capacity(1024)),
            };
            if self
                .poll
                .registry()
                .register(
                    &mut connection.stream,
                    token,
                    Interest::READABLE | Interest::WRITABLE,
                )
                .is_ok()
            {
                self.connections.insert(token, connection);
                // Data that came with the connection may already be waiting.
                self.drive(token);
            }
        }
        self.accept_again = true;
    }

    /// Close the oldest connection that has not sent a complete request, else the oldest
    /// already answered (lingering); false if every one waits for or takes its answer.
    fn drop_oldest_unsent(&mut self) -> bool {
        let oldest_in = |state: fn(&State) -> bool| {
            self.connections
                .iter()
                .filter(|(_, c)| state(&c.state))
                .min_by_key(|(_, c)| c.accepted)
                .map(|(token, _)| *token)
        };
        let oldest = oldest_in(|s| matches!(s, State::Head(_)))
            .or_else(|| oldest_in(|s| matches!(s, State::Lingering { .. })));
        oldest.is_some_and(|token| {
            self.close(token);
            true
        })
    }

    fn close(&mut self, token: Token) {
        if let Some(mut connection) = self.connections.remove(&token) {
            let _ = self.poll.registry().deregister(&mut connection.stream);
        }
    }

    /// Move one connection on as far as it goes without waiting.
    fn drive(&mut self, token: Token) {
        let Some(connection) = self.connections.get_mut(&token) else {
            return;
        };
        let request = connection.progress();
        if let Some(route) = request {
            let head_only = route.1;
            match answer(route.0) {
                Some(answer) => connection.answer(&answer, head_only),
                None => {
                    connection.state = State::Collecting { head_only };
                    self.wants_collection(token);
                }
            }
            if let Some(connection) = self.connections.get_mut(&token) {
                connection.progress();
            }
        }
        if matches!(
            self.connections.get(&token).map(|c| &c.state),
            Some(State::Closed)
        ) {
            self.close(token);
        }
    }

    /// A scrape of `/metrics`: the last collection's result when it started within the
    /// interval, else the next collection's (one is started unless one runs).
    fn wants_collection(&mut self, token: Token) {
        if let Some((started, exposition)) = &self.last
            && started.elapsed() < self.interval
        {
            let exposition = Arc::clone(exposition);
            if let Some(connection) = self.connections.get_mut(&token) {
                connection.answer_collection(&exposition);
            }
            return;
        }
        if !self.collecting {
            self.collecting = self.collector.wanted.send(()).is_ok();
            if !self.collecting {
                let failed: Exposition = Arc::new(Err("the collector thread ended".to_string()));
                if let Some(connection) = self.connections.get_mut(&token) {
                    connection.answer_collection(&failed);
                }
            }
        }
    }

    fn collected(&mut self) {
        let finished = self
            .collector
            .done
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some((started, exposition)) = finished else {
            return;
        };
        self.collecting = false;
        self.last = Some((started, Arc::clone(&exposition)));
        let waiting: Vec<Token> = self
            .connections
            .iter()
            .filter(|(_, c)| matches!(c.state, State::Collecting { .. }))
            .map(|(token, _)| *token)
            .collect();
        for token in waiting {
            if let Some(connection) = self.connections.get_mut(&token) {
                connection.answer_collection(&exposition);
                connection.progress();
            }
            if matches!(
                self.connections.get(&token).map(|c| &c.state),
                Some(State::Closed)
            ) {
                self.close(token);
            }
        }
    }

    /// Deadlines: a head not complete in time gets 408 (or nothing, if nothing came), an
    /// answer not taken in time or a linger that ran out closes the connection.
    fn expire(&mut self) {
        let now = Instant::now();
        let mut expired = Vec::new();
        for (token, connection) in &mut self.connections {
            match &connection.state {
                State::Head(received) if now >= connection.accepted + HEAD_TIMEOUT => {
                    if received.is_empty() {
                        expired.push(*token);
                    } else {
                        connection.answer(&Answer::text(408, "request timed out\n"), false);
                        connection.progress();
                    }
                }
                State::Answering { deadline, .. } | State::Lingering { deadline }
                    if now >= *deadline =>
                {
                    expired.push(*token);
                }
                State::Closed => expired.push(*token),
                _ => {}
            }
        }
        for token in expired {
            self.close(token);
        }
    }
}

impl Connection {
    /// Read, write or linger until the socket would block; a complete request comes back as
    /// its route and whether it is a HEAD.
    fn progress(&mut self) -> Option<(Route, bool)> {
        loop {
            match &mut self.state {
                State::Head(received) => {
                    let mut chunk = [0u8; 2048];
                    match self.stream.read(&mut chunk) {
                        Ok(0) => self.state = State::Closed,
                        Ok(n) => {
                            received.extend_from_slice(&chunk[..n]);
                            match parse_request(received) {
                                Parsed::Incomplete => {}
                                Parsed::Invalid(why) => self.answer(
                                    &Answer::text(400, &format!("bad request: {why}\n")),
                                    false,
                                ),
                                Parsed::Request(request) => {
                                    return Some((
                                        route(&request.method, &request.target),
                                        request.method == "HEAD",
                                    ));
                                }
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                        Err(_) => self.state = State::Closed,
                    }
                }
                State::Answering {
                    head,
                    body,
                    written,
                    deadline: _,
                } => {
                    let body = body.as_deref().map_or(&[][..], Vec::as_slice);
                    let left = match head.get(*written..) {
                        Some(rest) if !rest.is_empty() => rest,
                        _ => &body[(*written - head.len()).min(body.len())..],
                    };
                    if left.is_empty() {
                        let _ = self.stream.shutdown(Shutdown::Write);
                        self.state = State::Lingering {
                            deadline: Instant::now() + LINGER,
                        };
                        continue;
                    }
                    match self.stream.write(left) {
                        Ok(0) => self.state = State::Closed,
                        Ok(n) => *written += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                        Err(_) => self.state = State::Closed,
                    }
                }
                State::Lingering { .. } => {
                    let mut sink = [0u8; 4096];
                    match self.stream.read(&mut sink) {
                        Ok(0) => self.state = State::Closed,
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                        Err(_) => self.state = State::Closed,
                    }
                }
                State::Collecting { .. } | State::Closed => return None,
            }
        }
    }

    fn answer(&mut self, answer: &Answer, head_only: bool) {
        self.state = State::Answering {
            head: answer.head(),
            body: (!head_only).then(|| Arc::clone(&answer.body)),
            written: 0,
            deadline: Instant::now() + ANSWER_TIMEOUT,
        };
    }

    /// Answer a waiting `/metrics` scrape with a collection's result.
    fn answer_collection(&mut self, exposition: &Exposition) {
        let head_only = match self.state {
            State::Collecting { head_only } => head_only,
            _ => return,
        };
        let answer = match &**exposition {
            Ok(text) => Answer {
                status: 200,
                content_type: CONTENT_TYPE,
                allow: false,
                body: Arc::clone(text),
            },
            Err(why) => Answer::text(500, &format!("collecting sockets failed: {why}\n")),
        };
        self.answer(&answer, head_only);
    }
}

/// No room even after closing idle connections: say so if the socket takes it at once, never
/// wait for the client.
fn refuse_busy(mut stream: TcpStream) {
    let answer = Answer::text(503, "too many connections\n");
    let mut bytes = answer.head();
    bytes.extend_from_slice(&answer.body);
    let _ = stream.write(&bytes);
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

/// The answer to a route, or `None` for `/metrics`, which waits for a collection.
fn answer(route: Route) -> Option<Answer> {
    Some(match route {
        Route::Metrics => return None,
        Route::Index => Answer::text(
            200,
            &format!(
                "rnetstat {}: socket metrics for Prometheus.\n\n\
                 /metrics  the exposition (text format 0.0.4), collected at most once per --interval\n",
                env!("CARGO_PKG_VERSION")
            ),
        ),
        Route::NotFound => Answer::text(404, "not found: try /metrics\n"),
        Route::MethodNotAllowed => Answer {
            allow: true,
            ..Answer::text(405, "only GET and HEAD\n")
        },
    })
}

struct Answer {
    status: u16,
    content_type: &'static str,
    /// Whether to say `Allow: GET, HEAD` (405).
    allow: bool,
    body: Arc<Vec<u8>>,
}

impl Answer {
    fn text(status: u16, text: &str) -> Answer {
        Answer {
            status,
            content_type: "text/plain; charset=utf-8",
            allow: false,
            body: Arc::new(text.as_bytes().to_vec()),
        }
    }

    fn body(&self) -> &[u8] {
        &self.body
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
        let not_allowed = answer(Route::MethodNotAllowed).unwrap();
        let head = String::from_utf8(not_allowed.head()).unwrap();
        assert!(head.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
        assert!(head.contains("\r\nAllow: GET, HEAD\r\n"));
        assert!(head.contains(&format!(
            "\r\nContent-Length: {}\r\n",
            not_allowed.body().len()
        )));
        assert!(head.ends_with("\r\nConnection: close\r\n\r\n"));
        let missing = answer(Route::NotFound).unwrap();
        assert!(!String::from_utf8(missing.head()).unwrap().contains("Allow"));
    }

    #[cfg(unix)]
    #[test]
    fn io_reasons_lose_the_os_error_number() {
        let in_use = io::Error::from_raw_os_error(libc::EADDRINUSE);
        assert_eq!(reason(&in_use), "address already in use");
    }
}
