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

use super::http::{Answer, Parsed, Route, answer, parse_request, route};
use super::scrape::exposition;
use crate::error::Error;
use crate::filter::{Listening, Namespaces, Query};
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
        // The port is bound in rnetstat's own namespace: its holders are there.
        netns: Namespaces::Own,
        contexts: false,
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

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn io_reasons_lose_the_os_error_number() {
        let in_use = io::Error::from_raw_os_error(libc::EADDRINUSE);
        assert_eq!(reason(&in_use), "address already in use");
    }
}
