//! The dashboard's state and the one function that changes it, [`App::update`]. No I/O here:
//! effects (quit, kill a process) go back to the loop in `tui/mod.rs` as an [`Effect`], and
//! what came of them comes back as a [`Msg`].

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use super::kill::ProcessStart;
use crate::filter::eval::Owners;
use crate::filter::parse::{parse, split_words};
use crate::filter::{Filter, Query};
use crate::format::{
    NO_PEER, escaped, escaped_name, push_escaped, write_endpoint, write_local_endpoint,
};
use crate::model::{Family, OwnerCoverage, Process, Proto, Snapshot, Socket, SocketState};
use crate::services::Services;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveOptions {
    /// No service labels on endpoints, numeric user ids.
    pub numeric: bool,
    pub interval: Duration,
    /// The filter words given on the command line: the dashboard's starting `/` text.
    pub filter: String,
}

/// How many refreshes a new, gone or state-changed socket stays highlighted.
pub const HIGHLIGHT_REFRESHES: u8 = 3;

/// A key press, already stripped of terminal details (see `event.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Enter,
    Esc,
    Backspace,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
    /// Ctrl-C: quits from anywhere, even while typing a filter.
    Interrupt,
}

#[derive(Debug)]
pub enum Msg {
    Key(Key),
    /// Mouse wheel: move the selection by this many rows (negative: up).
    Scroll(i32),
    /// The terminal's new size.
    Resize {
        width: u16,
        height: u16,
    },
    /// A fresh collection from the collector thread.
    Snapshot(Box<Snapshot>),
    /// The collector could not take a snapshot this time; it tries again next interval.
    CollectFailed(String),
    /// What came of an [`Effect::Kill`].
    Killed {
        pid: u32,
        result: Result<(), String>,
    },
    /// What came of an [`Effect::ReadStartTimes`]: the start of each owner in the kill dialog,
    /// in its order (`None`: exited or unreadable).
    StartTimes(Vec<Option<ProcessStart>>),
    /// Text pasted into the terminal: never keystrokes, only ever filter text.
    Paste(String),
    /// A signal (SIGTERM, SIGHUP) or a lost terminal: leave now.
    Terminate,
}

/// Work with side effects, carried out by the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Quit,
    /// Send SIGTERM to this process if it still holds the socket `inode` and is still the
    /// process that `started` then (not one that reused the pid); the loop answers with
    /// [`Msg::Killed`].
    Kill {
        pid: u32,
        inode: Option<u64>,
        started: Option<ProcessStart>,
    },
    /// The kill dialog opened: record when each of its owners started (the loop answers with
    /// [`Msg::StartTimes`]), so `y` can tell them from a process that reuses the pid later.
    ReadStartTimes,
}

/// A TCPView-style highlight with the number of refreshes it has left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    None,
    New(u8),
    Gone(u8),
    Changed(u8),
}

impl Mark {
    /// One refresh later: a highlight with no refreshes left is over.
    fn aged(self) -> Mark {
        match self {
            Mark::New(n) if n > 1 => Mark::New(n - 1),
            Mark::Changed(n) if n > 1 => Mark::Changed(n - 1),
            Mark::Gone(n) => Mark::Gone(n.saturating_sub(1)),
            _ => Mark::None,
        }
    }

    pub fn is_gone(self) -> bool {
        matches!(self, Mark::Gone(_))
    }

    /// The marker column: colour is never the only cue.
    pub fn symbol(self) -> char {
        match self {
            Mark::None => ' ',
            Mark::New(_) => '+',
            Mark::Gone(_) => '-',
            Mark::Changed(_) => '~',
        }
    }
}

/// Which socket a row is, across snapshots.
///
/// The inode tells apart sockets that share a 4-tuple (SO_REUSEPORT listeners, UDP sockets
/// bound with SO_REUSEADDR). TIME_WAIT sockets have no inode (the kernel keeps only a small
/// timewait record), and Windows/macOS report none at all, so a socket that is not found by
/// its full key is paired with an unmatched old socket of the same 4-tuple before it is called
/// new: ESTABLISHED -> TIME_WAIT then reads as a state change, not as one gone and one new row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketKey {
    pub proto: Proto,
    pub local: SocketAddr,
    pub remote: Option<SocketAddr>,
    pub inode: Option<u64>,
}

impl SocketKey {
    pub fn of(socket: &Socket) -> SocketKey {
        SocketKey {
            proto: socket.proto,
            local: socket.local,
            remote: socket.remote,
            inode: socket.inode.filter(|&inode| inode != 0),
        }
    }

    fn tuple(&self) -> (Proto, SocketAddr, Option<SocketAddr>) {
        (self.proto, self.local, self.remote)
    }
}

/// The table's columns after the marker, in order: key `1` sorts by the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Proto,
    Local,
    Foreign,
    State,
    RecvQ,
    SendQ,
    Pid,
    Program,
    User,
    /// Bytes received per second (tcp_info bytes_received between two refreshes).
    RxRate,
    /// Bytes sent and acknowledged per second (tcp_info bytes_acked).
    TxRate,
}

impl Column {
    pub const ALL: [Column; 11] = [
        Column::Proto,
        Column::Local,
        Column::Foreign,
        Column::State,
        Column::RecvQ,
        Column::SendQ,
        Column::Pid,
        Column::Program,
        Column::User,
        Column::RxRate,
        Column::TxRate,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Column::Proto => "Proto",
            Column::Local => "Local Address",
            Column::Foreign => "Foreign Address",
            Column::State => "State",
            Column::RecvQ => "Recv-Q",
            Column::SendQ => "Send-Q",
            Column::Pid => "PID",
            Column::Program => "Program",
            Column::User => "User",
            Column::RxRate => "Rx/s",
            Column::TxRate => "Tx/s",
        }
    }

    /// The sort key of a column: `1`-`9` the first nine, `0` Rx/s and `)` (shift-0) Tx/s.
    fn from_key(c: char) -> Option<Column> {
        match c {
            '0' => Some(Column::RxRate),
            ')' => Some(Column::TxRate),
            _ => {
                let index = c.to_digit(10)?.checked_sub(1)?;
                Column::ALL.get(index as usize).copied()
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub column: Column,
    pub reverse: bool,
}

/// One socket as the dashboard shows it. The text is built once, when the row appears or its
/// state or owners change, never per frame or per keystroke.
#[derive(Debug, Clone)]
pub struct Row {
    pub socket: Socket,
    pub key: SocketKey,
    pub mark: Mark,
    /// `host:port(service)`, from the same formatter as the table printer.
    pub local: String,
    pub remote: String,
    /// The first owner's name, escaped as a word (see `escaped_name`); empty when unknown.
    pub program: String,
    /// The first owner's user (or the socket's uid), escaped; `-` when unknown.
    pub user: String,
    /// Bytes per second received and sent (acked) since the previous refresh; `None` for UDP,
    /// sockets without tcp_info, a connection first seen this refresh, or counters that went back.
    pub rx_rate: Option<f64>,
    pub tx_rate: Option<f64>,
    /// Lower-case local, remote, state, pids and owner names: what the filter matches.
    search: String,
}

/// Lookups a row needs to describe its socket.
struct RowContext<'a> {
    services: &'a Services,
    numeric: bool,
    processes: &'a HashMap<u32, Process>,
    user_names: &'a HashMap<u32, String>,
    /// Seconds between the previous snapshot and this one, when both have a time.
    elapsed: Option<f64>,
}

impl Row {
    fn new(socket: Socket, context: &RowContext) -> Row {
        let mut row = Row {
            key: SocketKey::of(&socket),
            socket,
            mark: Mark::None,
            local: String::new(),
            remote: String::new(),
            program: String::new(),
            user: String::new(),
            rx_rate: None,
            tx_rate: None,
            search: String::new(),
        };
        row.describe(context);
        row
    }

    fn describe(&mut self, context: &RowContext) {
        let socket = &self.socket;
        let service = |port| {
            if context.numeric {
                None
            } else {
                context.services.name(port, socket.proto)
            }
        };
        self.local.clear();
        write_local_endpoint(
            &mut self.local,
            socket.local,
            socket.v6only,
            service(socket.local.port()),
        );
        self.remote.clear();
        match socket.remote {
            Some(remote) => write_endpoint(&mut self.remote, remote, service(remote.port())),
            None => self.remote.push_str(NO_PEER),
        }
        let first_owner = socket
            .pids
            .first()
            .and_then(|pid| context.processes.get(pid));
        self.program = first_owner.map_or_else(String::new, |p| escaped_name(&p.name));
        self.user = match (first_owner.and_then(|p| p.user.as_deref()), socket.uid) {
            (Some(user), _) if !context.numeric => escaped(user),
            (_, Some(uid)) => match context.user_names.get(&uid) {
                Some(name) if !context.numeric => escaped(name),
                _ => uid.to_string(),
            },
            _ => "-".to_string(),
        };

        let mut search = String::with_capacity(self.local.len() + self.remote.len() + 32);
        search.push_str(socket.proto.as_str());
        if socket.family() == Family::Ipv6 {
            search.push('6');
        }
        search.push(' ');
        search.push_str(&self.local);
        search.push(' ');
        search.push_str(&self.remote);
        search.push(' ');
        search.push_str(socket.state.as_str());
        for pid in &socket.pids {
            search.push(' ');
            search.push_str(&pid.to_string());
            if let Some(process) = context.processes.get(pid) {
                search.push(' ');
                push_escaped(&mut search, &process.name);
            }
        }
        self.search = search.to_lowercase();
    }

    pub fn proto_text(&self) -> &'static str {
        match (self.socket.proto, self.socket.family()) {
            (Proto::Tcp, Family::Ipv4) => "tcp",
            (Proto::Tcp, Family::Ipv6) => "tcp6",
            (Proto::Udp, Family::Ipv4) => "udp",
            (Proto::Udp, Family::Ipv6) => "udp6",
        }
    }

    /// The group this row belongs to in the by-process view: its first owner, by pid and name.
    fn group_key(&self) -> GroupKey {
        GroupKey {
            pid: self.socket.pids.first().copied(),
            name: self.program.clone(),
        }
    }
}

/// What the `/` text keeps. Text that parses as a filter (docs/filters.md) is an expression;
/// any other text, such as a word still being typed, is a plain search.
#[derive(Debug)]
enum Matcher {
    /// No text: every row.
    Everything,
    Expression(Filter),
    /// Every word must match the row.
    Search {
        words: Vec<SearchWord>,
        /// Why the text is not an expression (escaped, one line).
        error: String,
    },
}

/// One word of a plain search.
#[derive(Debug, PartialEq, Eq)]
enum SearchWord {
    /// Digits: a port at either end, or an owner's pid, exactly (`8080` is not 58080).
    Number(u32),
    /// `:digits`: a port at either end, exactly (`:4444` is not :44448).
    Port(u16),
    /// Anything else, lower case: part of the row's search text. When it ends in `:digits`
    /// (an address and port), the port ends there too: `127.0.0.1:22` is not 127.0.0.1:2222.
    Text { text: String, ends_in_port: bool },
}

impl Matcher {
    fn of(text: &str, services: &Services, protos: &[Proto]) -> Matcher {
        let words = split_words(&[text]);
        if words.is_empty() {
            return Matcher::Everything;
        }
        match parse(&words, services, protos) {
            Ok(filter) => Matcher::Expression(filter),
            Err(e) => Matcher::Search {
                words: text.split_whitespace().map(SearchWord::of).collect(),
                error: format!("word {}: {}", e.word, escaped(&e.message)),
            },
        }
    }

    fn matches(&self, row: &Row, owners: Owners<'_>) -> bool {
        match self {
            Matcher::Everything => true,
            Matcher::Expression(filter) => filter.matches(&row.socket, owners),
            Matcher::Search { words, .. } => words.iter().all(|word| word.matches(row)),
        }
    }

    /// Whether every row `next` keeps is among the rows `self` keeps, when `next`'s text is
    /// this one's with more typed after it.
    fn narrows_to(&self, next: &Matcher) -> bool {
        let (Matcher::Search { words: before, .. }, Matcher::Search { words: after, .. }) =
            (self, next)
        else {
            return false;
        };
        let Some((last, kept)) = before.split_last() else {
            return true;
        };
        if after.len() < before.len() || after[..kept.len()] != *kept {
            return false;
        }
        match (last, &after[kept.len()]) {
            (last, next) if last == next => true,
            // `ab` -> `abc` narrows; `808` -> `8080` or `host:80` -> `host:8080` does not.
            (
                SearchWord::Text {
                    text: last,
                    ends_in_port: false,
                },
                SearchWord::Text { text: next, .. },
            ) => next.starts_with(last.as_str()),
            _ => false,
        }
    }
}

impl SearchWord {
    fn of(word: &str) -> SearchWord {
        let all_digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        if all_digits(word)
            && let Ok(number) = word.parse()
        {
            return SearchWord::Number(number);
        }
        if let Some(port) = word.strip_prefix(':').filter(|port| all_digits(port))
            && let Ok(port) = port.parse()
        {
            return SearchWord::Port(port);
        }
        let ends_in_port = word
            .rsplit_once(':')
            .is_some_and(|(_, port)| all_digits(port));
        SearchWord::Text {
            text: word.to_lowercase(),
            ends_in_port,
        }
    }

    fn matches(&self, row: &Row) -> bool {
        let socket = &row.socket;
        let remote_port = socket.remote.map(|remote| remote.port());
        match self {
            SearchWord::Number(number) => {
                u16::try_from(*number)
                    .is_ok_and(|port| socket.local.port() == port || remote_port == Some(port))
                    || socket.pids.contains(number)
            }
            SearchWord::Port(port) => socket.local.port() == *port || remote_port == Some(*port),
            SearchWord::Text {
                text,
                ends_in_port: false,
            } => row.search.contains(text.as_str()),
            SearchWord::Text {
                text,
                ends_in_port: true,
            } => contains_not_followed_by_digit(&row.search, text),
        }
    }
}

/// Whether `needle` occurs in `haystack` with no digit right after it.
fn contains_not_followed_by_digit(haystack: &str, needle: &str) -> bool {
    let mut from = 0;
    while let Some(found) = haystack[from..].find(needle) {
        let end = from + found + needle.len();
        if !haystack.as_bytes().get(end).is_some_and(u8::is_ascii_digit) {
            return true;
        }
        // A later match may overlap this one.
        from += found + needle.chars().next().map_or(1, char::len_utf8);
    }
    false
}

/// Which process a group is: unrelated processes that share a name are separate groups.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupKey {
    /// `None` for sockets with no known owner.
    pub pid: Option<u32>,
    /// Escaped program name; empty when unknown.
    pub name: String,
}

/// One process in the by-process view (the first owner of each of its sockets).
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Escaped program name; empty when unknown.
    pub name: String,
    /// `None` for the group of sockets with no known owner.
    pub pid: Option<u32>,
    pub sockets: usize,
    /// Sums of the group's known rates (`None` when none of its sockets has one).
    pub rx_rate: Option<f64>,
    pub tx_rate: Option<f64>,
    pub expanded: bool,
}

impl Group {
    fn key(&self) -> GroupKey {
        GroupKey {
            pid: self.pid,
            name: self.name.clone(),
        }
    }
}

/// One line of the table: a socket row, or a program's header in the by-process view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    Group(u32),
    Socket(u32),
}

/// Socket totals of the newest snapshot (gone rows not counted).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    pub tcp: usize,
    pub udp: usize,
    /// By [`SocketState::ALL`] index, TCP sockets only.
    pub tcp_states: [usize; SocketState::ALL.len()],
    /// Sums of the known per-connection rates (`None` when no connection has one yet).
    pub rx_rate: Option<f64>,
    pub tx_rate: Option<f64>,
}

/// The socket in the details pane, followed across refreshes by row.
#[derive(Debug, Clone)]
pub struct Details {
    /// Where the socket is in `App::rows`; `None` once it has left the table.
    row: Option<usize>,
    /// The socket as last seen.
    pub last: Row,
    /// Every owner pid with what is known of it (`None`: it exited before it was described).
    pub owners: Vec<(u32, Option<Process>)>,
    pub gone: bool,
    /// The first line of the popup in view (it scrolls when taller than the screen).
    pub scroll: usize,
    /// See [`Snapshot::owners_as_of`]: `owners` may miss a process that shares it since.
    pub owners_as_of: Option<SystemTime>,
}

/// The kill dialog: every process holding the socket, one of them chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KillTarget {
    /// Every owner, in pid order.
    pub owners: Vec<KillOwner>,
    /// Index into `owners` of the one `y` signals.
    pub selected: usize,
    /// The socket, rechecked at the moment of sending: its owners may have changed since.
    pub inode: Option<u64>,
}

impl KillTarget {
    pub fn pid(&self) -> u32 {
        self.owners[self.selected].pid
    }
}

/// One process the kill dialog offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KillOwner {
    pub pid: u32,
    /// Escaped program name, `?` when unknown.
    pub program: String,
    /// When it started, read as the dialog opened; `None` until read, or if it could not be.
    pub started: Option<ProcessStart>,
}

/// What the selection stays on across refreshes, sorts and filters.
enum Anchor {
    Row(usize),
    Group(GroupKey),
}

#[derive(Debug)]
pub struct App {
    services: Services,
    pub numeric: bool,
    pub interval: Duration,
    pub query: Query,

    pub rows: Vec<Row>,
    index: HashMap<SocketKey, u32>,
    /// All rows in sort order.
    sorted: Vec<u32>,
    /// `sorted` less the rows the filter hides.
    filtered: Vec<u32>,
    /// What the table shows, in order.
    pub lines: Vec<Line>,
    pub groups: Vec<Group>,

    pub hostname: Option<String>,
    pub taken_at: Option<SystemTime>,
    pub coverage: OwnerCoverage,
    /// See [`Snapshot::owners_as_of`].
    pub owners_as_of: Option<SystemTime>,
    processes: HashMap<u32, Process>,
    user_names: HashMap<u32, String>,
    pub counts: Counts,
    pub snapshots_seen: u64,
    /// The newest snapshot that arrived while paused.
    pending: Option<Box<Snapshot>>,

    pub paused: bool,
    pub sort: Sort,
    /// The filter as typed.
    pub filter: String,
    /// How `filter` is read: an expression of the filter language, else a plain search.
    matcher: Matcher,
    /// `/` was pressed and keys go into the filter.
    pub typing: bool,
    pub grouped: bool,
    expanded: HashSet<GroupKey>,
    pub selected: usize,
    /// First line in view; `render` may still move the window to keep the selection visible.
    pub offset: usize,
    /// Table rows that fit on screen, from the last [`Msg::Resize`].
    pub page: usize,
    /// The terminal's width and height, from the last [`Msg::Resize`].
    screen: (u16, u16),
    pub details: Option<Details>,
    pub help: bool,
    pub confirm: Option<KillTarget>,
    /// One line of news for the footer (kill results, collection errors).
    pub status: Option<String>,
}

impl App {
    /// The dashboard for `query`'s flags, starting with `options.filter` as its `/` text.
    pub fn new(services: Services, query: Query, options: &LiveOptions) -> App {
        let mut app = App {
            services,
            numeric: options.numeric,
            interval: options.interval,
            query,
            rows: Vec::new(),
            index: HashMap::new(),
            sorted: Vec::new(),
            filtered: Vec::new(),
            lines: Vec::new(),
            groups: Vec::new(),
            hostname: None,
            taken_at: None,
            coverage: OwnerCoverage::NotCollected,
            owners_as_of: None,
            processes: HashMap::new(),
            user_names: HashMap::new(),
            counts: Counts::default(),
            snapshots_seen: 0,
            pending: None,
            paused: false,
            sort: Sort {
                column: Column::Local,
                reverse: false,
            },
            filter: String::new(),
            matcher: Matcher::Everything,
            typing: false,
            grouped: false,
            expanded: HashSet::new(),
            selected: 0,
            offset: 0,
            page: 0,
            screen: (0, 0),
            details: None,
            help: false,
            confirm: None,
            status: None,
        };
        app.set_filter(options.filter.clone());
        app
    }

    /// Whether the filter text is read as an expression of the filter language.
    pub fn filter_is_expression(&self) -> bool {
        matches!(self.matcher, Matcher::Expression(_))
    }

    /// Why the filter text is a plain search and not an expression: the parser's message and
    /// the word it points at. `None` for an expression or no filter.
    pub fn filter_error(&self) -> Option<&str> {
        match &self.matcher {
            Matcher::Search { error, .. } => Some(error),
            _ => None,
        }
    }

    pub fn update(&mut self, msg: Msg) -> Option<Effect> {
        match msg {
            Msg::Key(key) => return self.on_key(key),
            Msg::Scroll(delta) if self.details.is_some() => self.scroll_details(delta as isize),
            Msg::Scroll(delta) => self.move_selection(delta as isize),
            Msg::Resize { width, height } => {
                self.screen = (width, height);
                self.page = super::view::table_rows(height);
                self.keep_selection_in_view();
            }
            Msg::Snapshot(snapshot) => {
                if self.paused {
                    self.pending = Some(snapshot);
                } else {
                    self.apply(*snapshot);
                }
            }
            Msg::CollectFailed(error) => {
                self.status = Some(format!("collecting sockets failed: {error}"));
            }
            Msg::Killed { pid, result } => {
                let program = self.program_of(pid);
                self.status = Some(match result {
                    Ok(()) => format!("sent SIGTERM to pid {pid} ({program})"),
                    Err(why) => format!("could not kill pid {pid} ({program}): {why}"),
                });
            }
            Msg::StartTimes(starts) => {
                if let Some(target) = &mut self.confirm {
                    for (owner, started) in target.owners.iter_mut().zip(starts) {
                        owner.started = started;
                    }
                }
            }
            Msg::Paste(text) => self.on_paste(&text),
            Msg::Terminate => return Some(Effect::Quit),
        }
        None
    }

    pub fn row_at(&self, line: usize) -> Option<&Row> {
        match self.lines.get(line)? {
            Line::Socket(row) => self.rows.get(*row as usize),
            Line::Group(_) => None,
        }
    }

    fn on_key(&mut self, key: Key) -> Option<Effect> {
        if key == Key::Interrupt {
            return Some(Effect::Quit);
        }
        if let Some(mut target) = self.confirm.take() {
            let pid = target.pid();
            match key {
                Key::Up | Key::Down => {
                    target.selected = if key == Key::Up {
                        target.selected.saturating_sub(1)
                    } else {
                        (target.selected + 1).min(target.owners.len() - 1)
                    };
                    self.confirm = Some(target);
                }
                Key::Char('y') => match super::kill::refusal(pid) {
                    Some(why) => self.status = Some(format!("refused to kill pid {pid}: {why}")),
                    None => {
                        return Some(Effect::Kill {
                            pid,
                            inode: target.inode,
                            started: target.owners[target.selected].started,
                        });
                    }
                },
                _ => self.status = Some(format!("kill of pid {pid} cancelled")),
            }
            return None;
        }
        self.status = None;
        if self.help {
            match key {
                Key::Char('q') => return Some(Effect::Quit),
                Key::Esc | Key::Char('?') | Key::Enter => self.help = false,
                _ => {}
            }
            return None;
        }
        if self.typing {
            match key {
                Key::Char(c) => {
                    let mut filter = self.filter.clone();
                    filter.push(c);
                    self.set_filter(filter);
                }
                Key::Backspace => {
                    let mut filter = self.filter.clone();
                    filter.pop();
                    self.set_filter(filter);
                }
                Key::Enter => self.typing = false,
                Key::Esc => {
                    self.typing = false;
                    self.set_filter(String::new());
                }
                other => self.navigate(other),
            }
            return None;
        }
        match key {
            Key::Char('q') => return Some(Effect::Quit),
            Key::Esc => {
                if self.details.is_some() {
                    self.details = None;
                } else if !self.filter.is_empty() {
                    self.set_filter(String::new());
                } else {
                    return Some(Effect::Quit);
                }
            }
            Key::Char('/') => self.typing = true,
            Key::Char('?') => self.help = true,
            Key::Char(' ') => self.toggle_pause(),
            Key::Char('g') => {
                let anchor = self.anchor();
                self.grouped = !self.grouped;
                self.rebuild_lines();
                self.restore(anchor);
            }
            Key::Char('k') => return self.ask_kill(),
            Key::Char(c @ ('0'..='9' | ')')) => {
                if let Some(column) = Column::from_key(c) {
                    self.sort_by(column);
                }
            }
            Key::Enter => match self.lines.get(self.selected) {
                Some(Line::Group(group)) => self.set_expanded(*group as usize, None),
                Some(Line::Socket(row)) => self.open_details(*row as usize),
                None => {}
            },
            Key::Right => {
                if let Some(Line::Group(group)) = self.lines.get(self.selected) {
                    self.set_expanded(*group as usize, Some(true));
                }
            }
            Key::Left => self.collapse_selected(),
            other if self.details.is_some() => self.scroll_details_by_key(other),
            other => self.navigate(other),
        }
        None
    }

    /// Up/Down, PgUp/PgDn, Home/End while the details are open move through them.
    fn scroll_details_by_key(&mut self, key: Key) {
        let Some(details) = &self.details else {
            return;
        };
        let (width, height) = self.screen;
        let (_, page) = super::view::details_scroll(details, self.coverage, width, height);
        let page = page.max(1) as isize;
        match key {
            Key::Up => self.scroll_details(-1),
            Key::Down => self.scroll_details(1),
            Key::PageUp => self.scroll_details(-page),
            Key::PageDown => self.scroll_details(page),
            Key::Home => self.scroll_details(isize::MIN / 2),
            Key::End => self.scroll_details(isize::MAX / 2),
            _ => {}
        }
    }

    fn scroll_details(&mut self, delta: isize) {
        let (width, height) = self.screen;
        let coverage = self.coverage;
        if let Some(details) = &mut self.details {
            let (limit, _) = super::view::details_scroll(details, coverage, width, height);
            details.scroll = details.scroll.saturating_add_signed(delta).min(limit);
        }
    }

    fn navigate(&mut self, key: Key) {
        let page = self.page.max(1) as isize;
        match key {
            Key::Up => self.move_selection(-1),
            Key::Down => self.move_selection(1),
            Key::PageUp => self.move_selection(-page),
            Key::PageDown => self.move_selection(page),
            Key::Home => self.move_selection(isize::MIN / 2),
            Key::End => self.move_selection(isize::MAX / 2),
            _ => {}
        }
    }

    fn move_selection(&mut self, delta: isize) {
        let last = self.lines.len().saturating_sub(1);
        self.selected = self.selected.saturating_add_signed(delta).min(last);
        self.keep_selection_in_view();
    }

    fn keep_selection_in_view(&mut self) {
        let last = self.lines.len().saturating_sub(1);
        self.selected = self.selected.min(last);
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.page > 0 && self.selected >= self.offset + self.page {
            self.offset = self.selected + 1 - self.page;
        }
        // No empty space below the last row when the list shrinks or the screen grows.
        self.offset = self
            .offset
            .min(self.lines.len().saturating_sub(self.page.max(1)));
    }

    fn toggle_pause(&mut self) {
        self.paused = !self.paused;
        if !self.paused
            && let Some(snapshot) = self.pending.take()
        {
            self.apply(*snapshot);
        }
    }

    fn sort_by(&mut self, column: Column) {
        let reverse = self.sort.column == column && !self.sort.reverse;
        self.sort = Sort { column, reverse };
        let anchor = self.anchor();
        self.resort();
        self.refilter(false);
        self.rebuild_lines();
        self.restore(anchor);
    }

    fn set_filter(&mut self, filter: String) {
        let protos: Vec<Proto> = [Proto::Tcp, Proto::Udp]
            .into_iter()
            .filter(|&proto| self.query.wants_proto(proto))
            .collect();
        let matcher = Matcher::of(&filter, &self.services, &protos);
        // Typing one more character of a search only narrows: search the rows already shown,
        // not all rows. An expression may widen (`sport = :8` -> `:80`): evaluate all rows.
        let narrowing = matches!(self.matcher, Matcher::Everything)
            || (filter.starts_with(&self.filter) && self.matcher.narrows_to(&matcher));
        self.filter = filter;
        self.matcher = matcher;
        let anchor = self.anchor();
        self.refilter(narrowing);
        self.rebuild_lines();
        self.restore(anchor);
    }

    fn ask_kill(&mut self) -> Option<Effect> {
        let row = match &self.details {
            Some(details) => Some(&details.last),
            None => self.row_at(self.selected),
        };
        let Some(row) = row else {
            self.status = Some("select a socket to kill its process".to_string());
            return None;
        };
        if row.socket.pids.is_empty() {
            self.status = Some(match self.coverage {
                OwnerCoverage::Incomplete(gaps) => format!("no known owner: {}", gaps.describe()),
                _ => "no known owner for this socket".to_string(),
            });
            return None;
        }
        self.confirm = Some(KillTarget {
            owners: row
                .socket
                .pids
                .iter()
                .map(|&pid| KillOwner {
                    pid,
                    program: self.program_of(pid),
                    started: None,
                })
                .collect(),
            selected: 0,
            inode: row.socket.inode,
        });
        Some(Effect::ReadStartTimes)
    }

    /// Pasted text goes into an open filter, control characters dropped (a pasted Enter must
    /// not end the filter and run what follows as keys); anywhere else it is ignored.
    fn on_paste(&mut self, text: &str) {
        if !self.typing || self.confirm.is_some() || self.help {
            self.status = Some("paste ignored: press / to paste into the filter".to_string());
            return;
        }
        let mut filter = self.filter.clone();
        filter.extend(text.chars().filter(|c| !c.is_control()));
        self.set_filter(filter);
    }

    fn program_of(&self, pid: u32) -> String {
        self.processes
            .get(&pid)
            .map_or_else(|| "?".to_string(), |p| escaped_name(&p.name))
    }

    fn open_details(&mut self, row: usize) {
        let Some(found) = self.rows.get(row) else {
            return;
        };
        self.details = Some(Details {
            row: Some(row),
            last: found.clone(),
            owners: self.owner_details(found),
            gone: found.mark.is_gone(),
            scroll: 0,
            owners_as_of: self.owners_as_of,
        });
    }

    fn owner_details(&self, row: &Row) -> Vec<(u32, Option<Process>)> {
        row.socket
            .pids
            .iter()
            .map(|&pid| (pid, self.processes.get(&pid).cloned()))
            .collect()
    }

    fn set_expanded(&mut self, group: usize, expanded: Option<bool>) {
        let Some(group) = self.groups.get(group) else {
            return;
        };
        let expand = expanded.unwrap_or(!group.expanded);
        let key = group.key();
        if expand {
            self.expanded.insert(key.clone());
        } else {
            self.expanded.remove(&key);
        }
        let anchor = Some(Anchor::Group(key));
        self.rebuild_lines();
        self.restore(anchor);
    }

    fn collapse_selected(&mut self) {
        let key = match self.lines.get(self.selected) {
            Some(Line::Group(group)) => self.groups[*group as usize].key(),
            Some(Line::Socket(row)) if self.grouped => self.rows[*row as usize].group_key(),
            _ => return,
        };
        if let Some(group) = self.groups.iter().position(|g| g.key() == key) {
            self.set_expanded(group, Some(false));
        }
    }

    fn anchor(&self) -> Option<Anchor> {
        match self.lines.get(self.selected)? {
            Line::Socket(row) => Some(Anchor::Row(*row as usize)),
            Line::Group(group) => Some(Anchor::Group(self.groups[*group as usize].key())),
        }
    }

    /// Put the selection back on the anchored row or group; if it is no longer shown, the
    /// selection stays at the same height, clamped to the table.
    fn restore(&mut self, anchor: Option<Anchor>) {
        let found = anchor.and_then(|anchor| {
            self.lines.iter().position(|line| match (line, &anchor) {
                (Line::Socket(row), Anchor::Row(wanted)) => *row as usize == *wanted,
                (Line::Group(group), Anchor::Group(key)) => {
                    let group = &self.groups[*group as usize];
                    group.pid == key.pid && group.name == key.name
                }
                _ => false,
            })
        });
        if let Some(line) = found {
            self.selected = line;
        }
        self.keep_selection_in_view();
    }

    /// Merge a new snapshot into the rows: match, age highlights, mark new/gone/changed.
    fn apply(&mut self, snapshot: Snapshot) {
        let anchor = self.anchor();
        let first = self.snapshots_seen == 0;
        self.snapshots_seen += 1;
        let Snapshot {
            hostname,
            taken_at,
            sockets,
            processes,
            user_names,
            owners,
            owners_as_of,
            // The dashboard does not show Unix sockets (and -x conflicts with --live).
            unix_sockets: _,
        } = snapshot;
        // Rates need the real time between the two snapshots, never the nominal interval.
        let elapsed = match (self.taken_at, taken_at) {
            (Some(before), Some(now)) => now
                .duration_since(before)
                .ok()
                .map(|d| d.as_secs_f64())
                .filter(|&seconds| seconds > 0.0),
            _ => None,
        };
        self.hostname = hostname;
        self.taken_at = taken_at;
        self.coverage = owners;
        self.owners_as_of = owners_as_of;
        self.processes = processes;
        self.user_names = user_names;
        let context = RowContext {
            services: &self.services,
            numeric: self.numeric,
            processes: &self.processes,
            user_names: &self.user_names,
            elapsed,
        };

        let column = self.sort.column;
        let mut matched = vec![false; self.rows.len()];
        let mut unmatched = Vec::new();
        // Whether a surviving row may have moved in the sort order (then: a full re-sort).
        let mut reorder = false;
        for socket in sockets {
            let key = SocketKey::of(&socket);
            match self.index.get(&key) {
                Some(&row) if !matched[row as usize] => {
                    matched[row as usize] = true;
                    reorder |= refresh_row(&mut self.rows[row as usize], socket, &context, column);
                }
                _ => unmatched.push(socket),
            }
        }

        let mut fresh = Vec::new();
        if !unmatched.is_empty() {
            let mut by_tuple: HashMap<_, Vec<usize>> = HashMap::new();
            for (row, _) in matched.iter().enumerate().filter(|(_, seen)| !**seen) {
                by_tuple
                    .entry(self.rows[row].key.tuple())
                    .or_default()
                    .push(row);
            }
            for socket in unmatched {
                let candidates = by_tuple.get_mut(&SocketKey::of(&socket).tuple());
                match candidates.and_then(|rows| rows.pop()) {
                    Some(row) => {
                        matched[row] = true;
                        refresh_row(&mut self.rows[row], socket, &context, column);
                        // Its key changed (another inode): the index must learn the new one.
                        reorder = true;
                    }
                    None => {
                        let mut row = Row::new(socket, &context);
                        if !first {
                            row.mark = Mark::New(HIGHLIGHT_REFRESHES);
                        }
                        fresh.push(row);
                    }
                }
            }
        }

        // Rows not in this snapshot stay for a few refreshes, marked gone, then leave.
        let mut remap = vec![None; self.rows.len()];
        let mut kept = 0;
        for (old, row) in self.rows.iter_mut().enumerate() {
            if !matched[old] {
                // A connection that is gone carries no traffic: no rate, in no sum.
                let had_rate = row.rx_rate.is_some() || row.tx_rate.is_some();
                reorder |= had_rate && matches!(column, Column::RxRate | Column::TxRate);
                row.rx_rate = None;
                row.tx_rate = None;
                row.mark = match row.mark {
                    Mark::Gone(_) => row.mark.aged(),
                    _ => Mark::Gone(HIGHLIGHT_REFRESHES),
                };
                if row.mark == Mark::Gone(0) {
                    continue;
                }
            }
            remap[old] = Some(kept);
            kept += 1;
        }
        let removed = kept < self.rows.len();
        let mut old = 0;
        self.rows.retain(|_| {
            old += 1;
            remap[old - 1].is_some()
        });
        let first_fresh = self.rows.len();
        let added = !fresh.is_empty();
        self.rows.extend(fresh);

        // An unchanged table (the common case) keeps its index and order: no hashing or
        // sorting of every row each refresh.
        if removed || added || reorder {
            self.index.clear();
            self.index.reserve(self.rows.len());
            for (position, row) in self.rows.iter().enumerate() {
                self.index.entry(row.key).or_insert(position as u32);
            }
        }
        if reorder {
            self.resort();
        } else {
            if removed {
                self.sorted.retain_mut(|row| match remap[*row as usize] {
                    Some(new) => {
                        *row = new as u32;
                        true
                    }
                    None => false,
                });
            }
            if added {
                self.merge_sorted(first_fresh);
            }
        }

        self.counts = Counts::default();
        for row in &self.rows {
            if row.mark.is_gone() {
                continue;
            }
            add_rate(&mut self.counts.rx_rate, row.rx_rate);
            add_rate(&mut self.counts.tx_rate, row.tx_rate);
            match row.socket.proto {
                Proto::Tcp => {
                    self.counts.tcp += 1;
                    if let Some(state) =
                        SocketState::ALL.iter().position(|&s| s == row.socket.state)
                    {
                        self.counts.tcp_states[state] += 1;
                    }
                }
                Proto::Udp => self.counts.udp += 1,
            }
        }

        if let Some(mut details) = self.details.take() {
            details.row = details
                .row
                .and_then(|row| remap.get(row).copied().flatten());
            match details.row.map(|row| &self.rows[row]) {
                Some(row) => {
                    details.last = row.clone();
                    details.owners = self.owner_details(row);
                    details.owners_as_of = self.owners_as_of;
                    details.gone = row.mark.is_gone();
                }
                None => details.gone = true,
            }
            self.details = Some(details);
        }

        let anchor = match anchor {
            Some(Anchor::Row(row)) => remap.get(row).copied().flatten().map(Anchor::Row),
            other => other,
        };
        self.refilter(false);
        self.rebuild_lines();
        self.restore(anchor);
    }

    /// Sort every row from scratch, in the same order as [`order`]. Each row's sort value is
    /// copied into one contiguous array first (text as its rank among the column's distinct
    /// values): comparing in place would chase two rows across memory per comparison, which
    /// at 200,000 rows costs most of a second.
    fn resort(&mut self) {
        let rows = &self.rows;
        let reverse = self.sort.reverse;
        self.sorted = match self.sort.column {
            Column::Proto => sorted_by(rows, reverse, |_, r| (r.socket.proto, r.socket.family())),
            Column::Local => sorted_by(rows, reverse, |_, r| r.socket.local),
            Column::Foreign => sorted_by(rows, reverse, |_, r| r.socket.remote),
            Column::State => sorted_by(rows, reverse, |_, r| r.socket.state.as_str()),
            Column::RecvQ => sorted_by(rows, reverse, |_, r| r.socket.recv_q),
            Column::SendQ => sorted_by(rows, reverse, |_, r| r.socket.send_q),
            Column::Pid => sorted_by(rows, reverse, |_, r| r.socket.pids.first().copied()),
            Column::Program => {
                let ranks = text_ranks(rows, |r| &r.program);
                sorted_by(rows, reverse, |i, _| ranks[i])
            }
            Column::User => {
                let ranks = text_ranks(rows, |r| &r.user);
                sorted_by(rows, reverse, |i, _| ranks[i])
            }
            Column::RxRate => sorted_by(rows, reverse, |_, r| RateKey(r.rx_rate)),
            Column::TxRate => sorted_by(rows, reverse, |_, r| RateKey(r.tx_rate)),
        };
    }

    /// Put the rows from `first_fresh` on into `sorted`, which holds every older row in order.
    fn merge_sorted(&mut self, first_fresh: usize) {
        let (rows, sort) = (&self.rows, self.sort);
        let mut fresh: Vec<u32> = (first_fresh as u32..rows.len() as u32).collect();
        fresh.sort_unstable_by(|&a, &b| order(rows, sort, a, b));
        let older = std::mem::take(&mut self.sorted);
        let mut merged = Vec::with_capacity(rows.len());
        let (mut i, mut j) = (0, 0);
        while i < older.len() && j < fresh.len() {
            if order(rows, sort, older[i], fresh[j]) == Ordering::Greater {
                merged.push(fresh[j]);
                j += 1;
            } else {
                merged.push(older[i]);
                i += 1;
            }
        }
        merged.extend_from_slice(&older[i..]);
        merged.extend_from_slice(&fresh[j..]);
        self.sorted = merged;
    }

    fn refilter(&mut self, narrowing: bool) {
        let rows = &self.rows;
        let matcher = &self.matcher;
        let owners = Owners {
            processes: &self.processes,
            user_names: &self.user_names,
        };
        if matches!(matcher, Matcher::Everything) {
            self.filtered.clone_from(&self.sorted);
        } else if narrowing {
            self.filtered
                .retain(|&row| matcher.matches(&rows[row as usize], owners));
        } else {
            self.filtered.clear();
            self.filtered.extend(
                self.sorted
                    .iter()
                    .copied()
                    .filter(|&row| matcher.matches(&rows[row as usize], owners)),
            );
        }
    }

    fn rebuild_lines(&mut self) {
        self.lines.clear();
        self.groups.clear();
        if !self.grouped {
            self.lines
                .extend(self.filtered.iter().map(|&row| Line::Socket(row)));
            return;
        }
        // Groups in order of their first row, so the sort column orders the groups too.
        let mut group_of: HashMap<(Option<u32>, &str), usize> = HashMap::new();
        let mut members: Vec<Vec<u32>> = Vec::new();
        for &row in &self.filtered {
            let found = &self.rows[row as usize];
            let pid = found.socket.pids.first().copied();
            let group = *group_of
                .entry((pid, found.program.as_str()))
                .or_insert_with(|| {
                    let key = found.group_key();
                    self.groups.push(Group {
                        expanded: self.expanded.contains(&key),
                        name: key.name,
                        pid: key.pid,
                        sockets: 0,
                        rx_rate: None,
                        tx_rate: None,
                    });
                    members.push(Vec::new());
                    self.groups.len() - 1
                });
            self.groups[group].sockets += 1;
            add_rate(&mut self.groups[group].rx_rate, found.rx_rate);
            add_rate(&mut self.groups[group].tx_rate, found.tx_rate);
            members[group].push(row);
        }
        for (index, group) in self.groups.iter().enumerate() {
            self.lines.push(Line::Group(index as u32));
            if group.expanded {
                self.lines
                    .extend(members[index].iter().map(|&row| Line::Socket(row)));
            }
        }
    }
}

/// Update a row that is still there with its socket from the newest snapshot. Returns whether
/// its place in the order by `column` (or its identity, the tiebreak) may have changed.
fn refresh_row(row: &mut Row, socket: Socket, context: &RowContext, column: Column) -> bool {
    let state_changed = row.socket.state != socket.state;
    let owners_changed = row.socket.pids != socket.pids;
    let key = SocketKey::of(&socket);
    let same_connection = key == row.key;
    let (rx_rate, tx_rate) = match (&row.socket.tcp_info, &socket.tcp_info) {
        (Some(before), Some(now)) if same_connection => (
            counter_rate(before.bytes_received, now.bytes_received, context.elapsed),
            counter_rate(before.bytes_acked, now.bytes_acked, context.elapsed),
        ),
        _ => (None, None),
    };
    let moved = !same_connection
        || match column {
            Column::RxRate => row.rx_rate != rx_rate,
            Column::TxRate => row.tx_rate != tx_rate,
            Column::Proto | Column::Local | Column::Foreign => false,
            Column::State => state_changed,
            Column::RecvQ => row.socket.recv_q != socket.recv_q,
            Column::SendQ => row.socket.send_q != socket.send_q,
            Column::Pid | Column::Program | Column::User => owners_changed,
        };
    row.mark = if row.mark.is_gone() {
        Mark::New(HIGHLIGHT_REFRESHES)
    } else if state_changed {
        Mark::Changed(HIGHLIGHT_REFRESHES)
    } else {
        row.mark.aged()
    };
    row.key = key;
    row.socket = socket;
    row.rx_rate = rx_rate;
    row.tx_rate = tx_rate;
    if state_changed || owners_changed {
        row.describe(context);
    }
    moved
}

/// Row indices in [`order`]'s order, sorting (value, identity, index) triples where `value`
/// is what `compare` compares (or something ordered the same way).
fn sorted_by<V: Ord>(rows: &[Row], reverse: bool, value: impl Fn(usize, &Row) -> V) -> Vec<u32> {
    fn sort<K: Ord>(rows: &[Row], key: impl Fn(usize, &Row) -> K) -> Vec<u32> {
        let mut keyed: Vec<(K, SocketKey, u32)> = rows
            .iter()
            .enumerate()
            .map(|(i, row)| (key(i, row), row.key, i as u32))
            .collect();
        keyed.sort_unstable();
        keyed.into_iter().map(|(_, _, i)| i).collect()
    }
    if reverse {
        sort(rows, |i, row| std::cmp::Reverse(value(i, row)))
    } else {
        sort(rows, value)
    }
}

/// Each row's text (by `text`) as its rank among the distinct texts: same order, cheap compare.
fn text_ranks(rows: &[Row], text: impl Fn(&Row) -> &String) -> Vec<u32> {
    let mut distinct: Vec<&String> = rows
        .iter()
        .map(&text)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    distinct.sort_unstable();
    let rank: HashMap<&String, u32> = distinct
        .into_iter()
        .enumerate()
        .map(|(rank, text)| (text, rank as u32))
        .collect();
    rows.iter().map(|row| rank[text(row)]).collect()
}

/// The table order: the sort column (maybe reversed), then identity, a total order, so rows
/// that tie on the column keep their places between refreshes.
pub(super) fn order(rows: &[Row], sort: Sort, a: u32, b: u32) -> Ordering {
    let (ra, rb) = (&rows[a as usize], &rows[b as usize]);
    let primary = compare(ra, rb, sort.column);
    let primary = if sort.reverse {
        primary.reverse()
    } else {
        primary
    };
    primary.then_with(|| ra.key.cmp(&rb.key)).then(a.cmp(&b))
}

fn compare(a: &Row, b: &Row, column: Column) -> Ordering {
    let (x, y) = (&a.socket, &b.socket);
    match column {
        Column::Proto => (x.proto, x.family()).cmp(&(y.proto, y.family())),
        Column::Local => x.local.cmp(&y.local),
        Column::Foreign => x.remote.cmp(&y.remote),
        Column::State => x.state.as_str().cmp(y.state.as_str()),
        Column::RecvQ => x.recv_q.cmp(&y.recv_q),
        Column::SendQ => x.send_q.cmp(&y.send_q),
        Column::Pid => x.pids.first().cmp(&y.pids.first()),
        Column::Program => a.program.cmp(&b.program),
        Column::User => a.user.cmp(&b.user),
        Column::RxRate => RateKey(a.rx_rate).cmp(&RateKey(b.rx_rate)),
        Column::TxRate => RateKey(a.tx_rate).cmp(&RateKey(b.tx_rate)),
    }
}

/// A rate as a sort key: unknown first, then by value (rates are finite and not negative).
#[derive(Debug, Clone, Copy, PartialEq)]
struct RateKey(Option<f64>);

impl Eq for RateKey {}

impl PartialOrd for RateKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RateKey {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.0, other.0) {
            (Some(a), Some(b)) => a.total_cmp(&b),
            (a, b) => a.is_some().cmp(&b.is_some()),
        }
    }
}

/// Add a known rate to a sum that stays `None` until something is known.
fn add_rate(sum: &mut Option<f64>, rate: Option<f64>) {
    if let Some(rate) = rate {
        *sum = Some(sum.unwrap_or(0.0) + rate);
    }
}

/// Bytes per second between two readings of a counter `elapsed` seconds apart; `None` when
/// either is unknown or the counter went back (another connection on the same 4-tuple).
fn counter_rate(before: Option<u64>, now: Option<u64>, elapsed: Option<f64>) -> Option<f64> {
    let delta = now?.checked_sub(before?)?;
    Some(delta as f64 / elapsed?)
}
