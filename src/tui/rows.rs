//! One dashboard row: a socket with its text built once, its highlight, and its traffic rates.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::rc::Rc;

use crate::format::{
    NO_PEER, escaped, escaped_name, push_escaped, write_local_endpoint, write_named_endpoint,
};
use crate::model::{Cgroup, Context, Family, Process, Proto, Socket, SocketKey, context_of};
use crate::services::Services;

/// How many refreshes a new, gone or state-changed socket stays highlighted.
pub const HIGHLIGHT_REFRESHES: u8 = 3;

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
    pub fn aged(self) -> Mark {
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
    /// Its network namespace (`--all-netns`).
    Netns,
    /// What the socket runs as: container, pod or systemd unit (from its cgroup).
    Container,
    /// Bytes received per second (tcp_info bytes_received between two refreshes).
    RxRate,
    /// Bytes sent and acknowledged per second (tcp_info bytes_acked).
    TxRate,
}

impl Column {
    pub const ALL: [Column; 13] = [
        Column::Proto,
        Column::Local,
        Column::Foreign,
        Column::State,
        Column::RecvQ,
        Column::SendQ,
        Column::Pid,
        Column::Program,
        Column::User,
        Column::Netns,
        Column::Container,
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
            Column::Netns => "Netns",
            Column::Container => "Container",
            Column::RxRate => "Rx/s",
            Column::TxRate => "Tx/s",
        }
    }

    /// The sort key of a column: `1`-`9` the first nine, `0` Rx/s and `)` (shift-0) Tx/s.
    pub fn from_key(c: char) -> Option<Column> {
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
    pub mark: Mark,
    /// The first owner's name, escaped as a word (see `escaped_name`); empty when unknown.
    pub program: Label,
    /// The first owner's user (or the socket's uid), escaped; `-` when unknown.
    pub user: Label,
    /// What it runs as (`podman:web`, `pod:default/web`, `unit:nginx.service`), escaped as a
    /// word; `-` when nothing is known.
    pub context: Label,
    /// Its network namespace's name (`--all-netns`), escaped as a word; `-` when one
    /// namespace is listed.
    pub netns: Label,
    /// The container or pod of `context`, empty for none: the by-container group.
    pub container: Label,
    /// The systemd unit of `context`, empty for none: the by-unit group.
    pub unit: Label,
    /// Bytes per second received and sent (acked) since the previous refresh; `None` for UDP,
    /// sockets without tcp_info, a connection first seen this refresh, or counters that went back.
    pub rx_rate: Option<f64>,
    pub tx_rate: Option<f64>,
}

/// A text many rows share (an owner's name, a user, what sockets run as, a namespace's
/// label), kept once for all of them: 200,000 rows of `fixture`, `root` and `-` were six
/// allocations each.
pub type Label = Rc<str>;

/// The dashboard's [`Label`]s, each text once.
#[derive(Debug, Default)]
pub struct Labels(RefCell<HashSet<Label>>);

impl Labels {
    /// More distinct texts than rows ever share (owner names of a busy host): past them the
    /// set starts again (the rows keep theirs).
    const MOST: usize = 100_000;

    /// The label with this text.
    pub fn of(&self, text: &str) -> Label {
        let mut labels = self.0.borrow_mut();
        if let Some(label) = labels.get(text) {
            return Rc::clone(label);
        }
        if labels.len() >= Labels::MOST {
            labels.clear();
        }
        let label: Label = Rc::from(text);
        labels.insert(Rc::clone(&label));
        label
    }
}

#[cfg(test)]
impl Row {
    /// The local end as a table with the built-in services and no host names shows it.
    pub fn local_text(&self) -> String {
        self.endpoints_as_shown().0
    }

    /// The remote end, as [`Row::local_text`].
    pub fn remote_text(&self) -> String {
        self.endpoints_as_shown().1
    }

    fn endpoints_as_shown(&self) -> (String, String) {
        let services = Services::builtin();
        let host_names = HashMap::new();
        self.endpoints(&EndpointNames {
            services: &services,
            numeric: false,
            host_names: &host_names,
        })
    }
}

/// How endpoints are written: with service names and the host names known so far, unless
/// numeric.
pub struct EndpointNames<'a> {
    pub services: &'a Services,
    pub numeric: bool,
    pub host_names: &'a HashMap<std::net::IpAddr, String>,
}

/// Lookups a row needs to describe its socket.
pub struct RowContext<'a> {
    /// Where the row's shared texts come from.
    pub labels: &'a Labels,
    /// User names as uids.
    pub numeric: bool,
    pub processes: &'a HashMap<u32, Process>,
    pub user_names: &'a HashMap<u32, String>,
    /// The sockets' cgroups, for what each runs as.
    pub cgroups: &'a HashMap<u64, Cgroup>,
    /// Namespace labels by inode (`--all-netns`; empty when one namespace is listed).
    pub namespaces: &'a HashMap<u64, String>,
    /// Seconds between the previous snapshot and this one, when both have a time.
    pub elapsed: Option<f64>,
}

impl Row {
    pub fn new(socket: Socket, context: &RowContext) -> Row {
        let mut row = Row {
            socket,
            mark: Mark::None,
            program: context.labels.of(""),
            user: context.labels.of(""),
            context: context.labels.of(""),
            netns: context.labels.of(""),
            container: context.labels.of(""),
            unit: context.labels.of(""),
            rx_rate: None,
            tx_rate: None,
        };
        row.describe(context);
        row
    }

    /// Build the row's text again from its socket and `context`.
    pub(super) fn describe(&mut self, context: &RowContext) {
        let socket = &self.socket;
        let first_owner = socket
            .pids
            .first()
            .and_then(|pid| context.processes.get(pid));
        let labels = context.labels;
        self.program = labels.of(&first_owner.map_or_else(String::new, |p| escaped_name(&p.name)));
        self.user = labels.of(
            &match (first_owner.and_then(|p| p.user.as_deref()), socket.uid) {
                (Some(user), _) if !context.numeric => escaped(user),
                (_, Some(uid)) => match context.user_names.get(&uid) {
                    Some(name) if !context.numeric => escaped(name),
                    _ => uid.to_string(),
                },
                _ => "-".to_string(),
            },
        );
        self.netns = match (socket.netns).and_then(|inode| context.namespaces.get(&inode)) {
            Some(label) => labels.of(&escaped_name(label)),
            None => labels.of("-"),
        };
        let runs_as = context_of(socket, context.cgroups, context.processes);
        self.context = match runs_as {
            Some(runs_as) => labels.of(&escaped_name(&runs_as.label())),
            None => labels.of("-"),
        };
        self.container = match runs_as {
            Some(Context::Container(_) | Context::Pod(_)) => Rc::clone(&self.context),
            _ => labels.of(""),
        };
        self.unit = match runs_as {
            Some(Context::Unit(_)) => Rc::clone(&self.context),
            _ => labels.of(""),
        };
    }

    /// `host:port(service)` of both ends, from the same formatter as the table printer. Made
    /// for the rows drawn (kept for 200,000 rows they were 22 MiB).
    pub fn endpoints(&self, names: &EndpointNames) -> (String, String) {
        let socket = &self.socket;
        let service = |port| {
            if names.numeric {
                None
            } else {
                names.services.name(port, socket.proto)
            }
        };
        let name = |addr: std::net::SocketAddr| {
            (!names.numeric)
                .then(|| names.host_names.get(&addr.ip()).map(String::as_str))
                .flatten()
        };
        let mut local = String::new();
        write_local_endpoint(
            &mut local,
            socket.local,
            socket.v6only,
            name(socket.local),
            service(socket.local.port()),
        );
        let mut remote = String::new();
        match socket.remote {
            Some(end) => write_named_endpoint(&mut remote, end, name(end), service(end.port())),
            None => remote.push_str(NO_PEER),
        }
        (local, remote)
    }

    /// Lower-case proto, local, remote, state, pids, owner names and what it runs as: what a
    /// plain search matches. Made when a search asks (kept on 200,000 rows it was 20 MiB).
    pub fn search_text(&self, processes: &HashMap<u32, Process>, names: &EndpointNames) -> String {
        let socket = &self.socket;
        let (local, remote) = self.endpoints(names);
        let mut search = String::with_capacity(local.len() + remote.len() + 32);
        search.push_str(self.proto_text());
        search.push(' ');
        search.push_str(&local);
        search.push(' ');
        search.push_str(&remote);
        search.push(' ');
        search.push_str(socket.state.as_str());
        for pid in &socket.pids {
            let _ = write!(search, " {pid}");
            if let Some(process) = processes.get(pid) {
                search.push(' ');
                push_escaped(&mut search, &process.name);
            }
        }
        if &*self.context != "-" {
            search.push(' ');
            search.push_str(&self.context);
        }
        search.make_ascii_lowercase();
        if !search.is_ascii() {
            search = search.to_lowercase();
        }
        search
    }

    /// Who the row is across refreshes: its socket's key (the cookie, or its ends).
    pub fn key(&self) -> SocketKey {
        SocketKey::of(&self.socket)
    }

    pub fn proto_text(&self) -> &'static str {
        match (self.socket.proto, self.socket.family()) {
            (Proto::Tcp, Family::Ipv4) => "tcp",
            (Proto::Tcp, Family::Ipv6) => "tcp6",
            (Proto::Udp, Family::Ipv4) => "udp",
            (Proto::Udp, Family::Ipv6) => "udp6",
        }
    }

    /// The group this row belongs to: by process, its first owner (pid and name); by
    /// container or unit, that label (empty for none).
    pub fn group_key(&self, grouping: Grouping) -> GroupKey {
        match grouping {
            Grouping::Container => GroupKey {
                pid: None,
                name: self.container.to_string(),
            },
            Grouping::Unit => GroupKey {
                pid: None,
                name: self.unit.to_string(),
            },
            Grouping::None | Grouping::Process => GroupKey {
                pid: self.socket.pids.first().copied(),
                name: self.program.to_string(),
            },
        }
    }
}

/// How the table groups its rows; `g` cycles through them in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Grouping {
    #[default]
    None,
    Process,
    Container,
    Unit,
}

impl Grouping {
    pub fn next(self) -> Grouping {
        match self {
            Grouping::None => Grouping::Process,
            Grouping::Process => Grouping::Container,
            Grouping::Container => Grouping::Unit,
            Grouping::Unit => Grouping::None,
        }
    }

    /// What the header says; `None` when not grouped.
    pub fn words(self) -> Option<&'static str> {
        match self {
            Grouping::None => None,
            Grouping::Process => Some("by process"),
            Grouping::Container => Some("by container"),
            Grouping::Unit => Some("by unit"),
        }
    }

    /// The title of the group of rows with none (no owner, no container, no unit).
    pub fn none_title(self) -> &'static str {
        match self {
            Grouping::Container => "(no container)",
            Grouping::Unit => "(no unit)",
            Grouping::None | Grouping::Process => "(no known owner)",
        }
    }
}

/// Which group a row is in: by process, a pid and a name (unrelated processes that share a
/// name are separate groups); by container or unit, the label and no pid.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupKey {
    /// `None` for sockets with no known owner.
    pub pid: Option<u32>,
    /// Escaped program name; empty when unknown.
    pub name: String,
}

/// Update a row that is still there with its socket from the newest snapshot. Returns whether
/// its place in the order by `column` (or its identity, the tiebreak) may have changed.
pub fn refresh_row(row: &mut Row, socket: Socket, context: &RowContext, column: Column) -> bool {
    let state_changed = row.socket.state != socket.state;
    let owners_changed = row.socket.pids != socket.pids;
    // A cgroup described for the first time (removed and made again, or missed once).
    let context_found = &*row.context == "-"
        && socket
            .cgroup
            .is_some_and(|id| context.cgroups.contains_key(&id));
    let key = SocketKey::of(&socket);
    let same_connection = key == row.key();
    // The rates start from the counters the row kept (its tcp_info is kept whole only in view).
    let (rx_rate, tx_rate) = match (row.socket.bytes, socket.bytes) {
        (Some(before), Some(now)) if same_connection => (
            counter_rate(before.received, now.received, context.elapsed),
            counter_rate(before.acked, now.acked, context.elapsed),
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
            Column::Container => owners_changed || context_found,
            Column::Netns => false,
        };
    row.mark = if row.mark.is_gone() {
        Mark::New(HIGHLIGHT_REFRESHES)
    } else if state_changed {
        Mark::Changed(HIGHLIGHT_REFRESHES)
    } else {
        row.mark.aged()
    };
    row.socket = socket;
    row.rx_rate = rx_rate;
    row.tx_rate = tx_rate;
    if state_changed || owners_changed || context_found {
        row.describe(context);
    }
    moved
}

/// Bytes per second between two readings of a counter `elapsed` seconds apart; `None` when
/// either is unknown or the counter went back (another connection on the same 4-tuple).
fn counter_rate(before: Option<u64>, now: Option<u64>, elapsed: Option<f64>) -> Option<f64> {
    let delta = now?.checked_sub(before?)?;
    Some(delta as f64 / elapsed?)
}
