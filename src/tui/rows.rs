//! One dashboard row: a socket with its text built once, its highlight, and its traffic rates.

use std::collections::HashMap;

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
    pub key: SocketKey,
    pub mark: Mark,
    /// `host:port(service)`, from the same formatter as the table printer.
    pub local: String,
    pub remote: String,
    /// The first owner's name, escaped as a word (see `escaped_name`); empty when unknown.
    pub program: String,
    /// The first owner's user (or the socket's uid), escaped; `-` when unknown.
    pub user: String,
    /// What it runs as (`podman:web`, `pod:default/web`, `unit:nginx.service`), escaped as a
    /// word; `-` when nothing is known.
    pub context: String,
    /// Its network namespace's name (`--all-netns`), escaped as a word; `-` when one
    /// namespace is listed.
    pub netns: String,
    /// The container or pod of `context`, empty for none: the by-container group.
    pub container: String,
    /// The systemd unit of `context`, empty for none: the by-unit group.
    pub unit: String,
    /// Bytes per second received and sent (acked) since the previous refresh; `None` for UDP,
    /// sockets without tcp_info, a connection first seen this refresh, or counters that went back.
    pub rx_rate: Option<f64>,
    pub tx_rate: Option<f64>,
    /// The tcp_info byte counters the next refresh's rates start from (received, acked);
    /// `None` when the socket had no tcp_info. The whole tcp_info is kept only for rows in
    /// view (see `Table::merge`): 200,000 rows kept 51 MiB of it for the details pane.
    pub(super) counters: Option<(Option<u64>, Option<u64>)>,
    /// Lower-case local, remote, state, pids and owner names: what the filter matches.
    pub(super) search: String,
}

/// Lookups a row needs to describe its socket.
pub struct RowContext<'a> {
    pub services: &'a Services,
    pub numeric: bool,
    pub processes: &'a HashMap<u32, Process>,
    pub user_names: &'a HashMap<u32, String>,
    /// The sockets' cgroups, for what each runs as.
    pub cgroups: &'a HashMap<u64, Cgroup>,
    /// Namespace labels by inode (`--all-netns`; empty when one namespace is listed).
    pub namespaces: &'a HashMap<u64, String>,
    /// Host names known so far (not when numeric).
    pub host_names: &'a HashMap<std::net::IpAddr, String>,
    /// Seconds between the previous snapshot and this one, when both have a time.
    pub elapsed: Option<f64>,
}

impl Row {
    pub fn new(socket: Socket, context: &RowContext) -> Row {
        let mut row = Row {
            key: SocketKey::of(&socket),
            counters: counters_of(&socket),
            socket,
            mark: Mark::None,
            local: String::new(),
            remote: String::new(),
            program: String::new(),
            user: String::new(),
            context: String::new(),
            netns: String::new(),
            container: String::new(),
            unit: String::new(),
            rx_rate: None,
            tx_rate: None,
            search: String::new(),
        };
        row.describe(context);
        row
    }

    /// Build the row's text again from its socket and `context`.
    pub(super) fn describe(&mut self, context: &RowContext) {
        let socket = &self.socket;
        let service = |port| {
            if context.numeric {
                None
            } else {
                context.services.name(port, socket.proto)
            }
        };
        let name = |addr: std::net::SocketAddr| {
            (!context.numeric)
                .then(|| context.host_names.get(&addr.ip()).map(String::as_str))
                .flatten()
        };
        self.local.clear();
        write_local_endpoint(
            &mut self.local,
            socket.local,
            socket.v6only,
            name(socket.local),
            service(socket.local.port()),
        );
        self.remote.clear();
        match socket.remote {
            Some(remote) => write_named_endpoint(
                &mut self.remote,
                remote,
                name(remote),
                service(remote.port()),
            ),
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
        self.netns = (socket.netns)
            .and_then(|inode| context.namespaces.get(&inode))
            .map_or_else(|| "-".to_string(), |label| escaped_name(label));
        let runs_as = context_of(socket, context.cgroups, context.processes);
        self.context = runs_as.map_or_else(|| "-".to_string(), |c| escaped_name(&c.label()));
        self.container = match runs_as {
            Some(Context::Container(_) | Context::Pod(_)) => self.context.clone(),
            _ => String::new(),
        };
        self.unit = match runs_as {
            Some(Context::Unit(_)) => self.context.clone(),
            _ => String::new(),
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
        if runs_as.is_some() {
            search.push(' ');
            search.push_str(&self.context);
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

    /// The group this row belongs to: by process, its first owner (pid and name); by
    /// container or unit, that label (empty for none).
    pub fn group_key(&self, grouping: Grouping) -> GroupKey {
        match grouping {
            Grouping::Container => GroupKey {
                pid: None,
                name: self.container.clone(),
            },
            Grouping::Unit => GroupKey {
                pid: None,
                name: self.unit.clone(),
            },
            Grouping::None | Grouping::Process => GroupKey {
                pid: self.socket.pids.first().copied(),
                name: self.program.clone(),
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
    let context_found = row.context == "-"
        && socket
            .cgroup
            .is_some_and(|id| context.cgroups.contains_key(&id));
    let key = SocketKey::of(&socket);
    let same_connection = key == row.key;
    let (rx_rate, tx_rate) = match (row.counters, &socket.tcp_info) {
        (Some((received, acked)), Some(now)) if same_connection => (
            counter_rate(received, now.bytes_received, context.elapsed),
            counter_rate(acked, now.bytes_acked, context.elapsed),
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
    row.key = key;
    row.counters = counters_of(&socket);
    row.socket = socket;
    row.rx_rate = rx_rate;
    row.tx_rate = tx_rate;
    if state_changed || owners_changed || context_found {
        row.describe(context);
    }
    moved
}

/// What a row keeps of `socket`'s tcp_info for the next rates.
fn counters_of(socket: &Socket) -> Option<(Option<u64>, Option<u64>)> {
    (socket.tcp_info.as_deref()).map(|info| (info.bytes_received, info.bytes_acked))
}

/// Bytes per second between two readings of a counter `elapsed` seconds apart; `None` when
/// either is unknown or the counter went back (another connection on the same 4-tuple).
fn counter_rate(before: Option<u64>, now: Option<u64>, elapsed: Option<f64>) -> Option<f64> {
    let delta = now?.checked_sub(before?)?;
    Some(delta as f64 / elapsed?)
}
