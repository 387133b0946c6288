//! The netstat-style table: `Proto Recv-Q Send-Q Local Address Foreign Address State ...`.

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::format::{
    NO_PEER, escaped_name, push_escaped, push_escaped_name, push_tcp_info, write_local_endpoint,
    write_named_endpoint,
};
use crate::model::{Context, Family, Snapshot, Socket, SocketState, UnixSocket};
use crate::services::Services;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableOptions {
    pub numeric: bool,
    pub programs: bool,
    pub extended: bool,
    pub wide: bool,
    /// The Timer column (-o).
    pub timers: bool,
    pub color: bool,
    /// The column titles line (off with -H).
    pub header: bool,
    /// tcp_info under each TCP row (-i). The query may collect it without -i: -o needs its
    /// retransmit count.
    pub info: bool,
    /// The Container column: what each socket runs as (-e, --all-netns; Linux).
    pub contexts: bool,
    /// `--numeric-ports`: no service names (`-n` implies it).
    pub numeric_ports: bool,
}

/// Without -W, cells longer than these are shortened in the middle (the port stays visible).
const ADDRESS_LIMIT: usize = 45;
const PROGRAM_LIMIT: usize = 40;
/// The fewest characters a shortened owner name keeps (`pyt…`).
const SHORT_NAME: usize = 4;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

struct Column {
    title: &'static str,
    align: Align,
    limit: Option<usize>,
}

/// Every cell of the table in one string, so a 200,000-row table costs a few allocations,
/// not one per cell; `ends[i]` is where cell i stops (u32: half the memory of usize, and a
/// table text over 4 GiB is not a table anyone reads).
struct Cells {
    text: String,
    ends: Vec<u32>,
}

impl Cells {
    fn start(&self) -> usize {
        self.ends.last().map_or(0, |&end| end as usize)
    }

    fn finish_cell(&mut self, limit: Option<usize>) {
        let start = self.start();
        if let Some(limit) = limit {
            shorten_middle(&mut self.text, start, limit);
        }
        self.ends.push(self.text.len() as u32);
    }

    fn get(&self, index: usize) -> &str {
        let start = if index == 0 {
            0
        } else {
            self.ends[index - 1] as usize
        };
        &self.text[start..self.ends[index] as usize]
    }
}

/// Replace the middle of `text[start..]` with `…` so it is at most `limit` characters.
fn shorten_middle(text: &mut String, start: usize, limit: usize) {
    let cell = &text[start..];
    let count = cell.chars().count();
    if count <= limit {
        return;
    }
    let keep_tail = (limit - 1) / 2;
    let keep_head = limit - 1 - keep_tail;
    let head_end = cell
        .char_indices()
        .nth(keep_head)
        .map_or(cell.len(), |(i, _)| i);
    let tail_start = cell
        .char_indices()
        .nth(count - keep_tail)
        .map_or(cell.len(), |(i, _)| i);
    let tail = cell[tail_start..].to_string();
    text.truncate(start + head_end);
    text.push('…');
    text.push_str(&tail);
}

pub fn write_table<W: Write>(
    out: &mut W,
    snapshot: &Snapshot,
    services: &Services,
    options: &TableOptions,
) -> io::Result<()> {
    let namespaces = !snapshot.namespaces.is_empty();
    TableWriter::new(options, namespaces).write(out, snapshot, services)
}

/// A table written a batch of rows at a time (the one-shot stream): the titles with the first
/// batch, each column as wide as its widest cell so far. A later batch with a wider cell
/// widens its column from there on, as ss does past its buffer; one batch is one table.
pub struct TableWriter<'o> {
    options: &'o TableOptions,
    columns: Vec<Column>,
    widths: Vec<usize>,
    titles_written: bool,
}

impl<'o> TableWriter<'o> {
    /// The columns `options` asks for; `namespaces`: the Netns column (`--all-netns`).
    pub fn new(options: &'o TableOptions, namespaces: bool) -> TableWriter<'o> {
        let address_limit = (!options.wide).then_some(ADDRESS_LIMIT);
        let program_limit = (!options.wide).then_some(PROGRAM_LIMIT);
        let mut columns = vec![
            Column {
                title: "Proto",
                align: Align::Left,
                limit: None,
            },
            Column {
                title: "Recv-Q",
                align: Align::Right,
                limit: None,
            },
            Column {
                title: "Send-Q",
                align: Align::Right,
                limit: None,
            },
            Column {
                title: "Local Address",
                align: Align::Left,
                limit: address_limit,
            },
            Column {
                title: "Foreign Address",
                align: Align::Left,
                limit: address_limit,
            },
            Column {
                title: "State",
                align: Align::Left,
                limit: None,
            },
        ];
        if namespaces {
            columns.push(Column {
                title: "Netns",
                align: Align::Left,
                limit: None,
            });
        }
        if options.contexts {
            columns.push(Column {
                title: "Container",
                align: Align::Left,
                limit: program_limit,
            });
        }
        if options.extended {
            columns.push(Column {
                title: "User",
                align: Align::Left,
                limit: None,
            });
            columns.push(Column {
                title: "Inode",
                align: Align::Right,
                limit: None,
            });
        }
        if options.programs {
            columns.push(Column {
                title: "PID/Program",
                align: Align::Left,
                limit: program_limit,
            });
        }
        if options.timers {
            columns.push(Column {
                title: "Timer",
                align: Align::Left,
                limit: None,
            });
        }
        let widths = vec![0; columns.len()];
        TableWriter {
            options,
            columns,
            widths,
            titles_written: false,
        }
    }

    /// The rows of `snapshot` (the titles first, with the first batch).
    pub fn write<W: Write>(
        &mut self,
        out: &mut W,
        snapshot: &Snapshot,
        services: &Services,
    ) -> io::Result<()> {
        let options = self.options;
        let columns = &self.columns;
        let widths = &mut self.widths;

        const STATE_COLUMN: usize = 5;

        // Two passes over one row's buffer: the first measures every column, the second writes.
        // Formatting each row twice costs less than keeping 200,000 rows of text (16 MiB).
        let mut cells = Cells {
            text: String::with_capacity(256),
            ends: Vec::with_capacity(columns.len()),
        };
        let rows = snapshot.sockets.len() + snapshot.unix_sockets.len();
        // Row 0 is the titles (kept empty without a header, so widths fit the data only); row
        // `r` is socket `r - 1`, the TCP/UDP ones first.
        let fill = |cells: &mut Cells, row: usize| {
            cells.text.clear();
            cells.ends.clear();
            if row == 0 {
                for column in columns {
                    if options.header {
                        cells.text.push_str(column.title);
                    }
                    cells.finish_cell(None);
                }
            } else if let Some(socket) = snapshot.sockets.get(row - 1) {
                push_row(cells, columns, snapshot, socket, services, options);
            } else {
                let socket = &snapshot.unix_sockets[row - 1 - snapshot.sockets.len()];
                push_unix_row(cells, columns, snapshot, socket, options);
            }
        };
        let titles = !self.titles_written;
        for row in (if titles { 0 } else { 1 })..=rows {
            fill(&mut cells, row);
            for (column, width) in widths.iter_mut().enumerate() {
                *width = (*width).max(cells.get(column).chars().count());
            }
        }

        let first_row = if options.header && titles { 0 } else { 1 };
        self.titles_written = true;
        let mut info_line = String::new();
        for row in first_row..=rows {
            fill(&mut cells, row);
            for (column_index, column) in columns.iter().enumerate() {
                let text = cells.get(column_index);
                let last = column_index + 1 == columns.len();
                let padding = widths[column_index].saturating_sub(text.chars().count());
                if column_index > 0 {
                    out.write_all(b" ")?;
                }
                if column.align == Align::Right {
                    write_spaces(out, padding)?;
                }
                let colour = if options.color {
                    if row == 0 {
                        Some("\x1b[1m")
                    } else if column_index == STATE_COLUMN {
                        let state = match snapshot.sockets.get(row - 1) {
                            Some(socket) => socket.state,
                            None => snapshot.unix_sockets[row - 1 - snapshot.sockets.len()].state,
                        };
                        Some(state_colour(state))
                    } else {
                        None
                    }
                } else {
                    None
                };
                match colour {
                    Some(code) => write!(out, "{code}{text}\x1b[0m")?,
                    None => out.write_all(text.as_bytes())?,
                }
                if column.align == Align::Left && !last {
                    write_spaces(out, padding)?;
                }
            }
            out.write_all(b"\n")?;
            // As ss -i: the kernel's view of a TCP connection on an indented line under its row.
            // Rows past the TCP/UDP sockets are Unix sockets (-x), which have none.
            if let Some(info) = row
                .checked_sub(1)
                .filter(|_| options.info)
                .and_then(|i| snapshot.sockets.get(i))
                .and_then(|socket| socket.tcp_info.as_deref())
            {
                info_line.clear();
                info_line.push('\t');
                push_tcp_info(&mut info_line, info);
                info_line.push('\n');
                out.write_all(info_line.as_bytes())?;
            }
        }
        Ok(())
    }
}

fn push_row(
    cells: &mut Cells,
    columns: &[Column],
    snapshot: &Snapshot,
    socket: &Socket,
    services: &Services,
    options: &TableOptions,
) {
    let service = |port| {
        if options.numeric || options.numeric_ports {
            None
        } else {
            services.name(port, socket.proto)
        }
    };
    let name = |addr: std::net::SocketAddr| snapshot.host_names.get(&addr.ip()).map(String::as_str);
    cells.text.push_str(socket.proto.as_str());
    if socket.family() == Family::Ipv6 {
        cells.text.push('6');
    }
    cells.finish_cell(None);
    push_optional_number(cells, socket.recv_q.map(u64::from));
    push_optional_number(cells, socket.send_q.map(u64::from));
    write_local_endpoint(
        &mut cells.text,
        socket.local,
        socket.v6only,
        name(socket.local),
        service(socket.local.port()),
    );
    cells.finish_cell(columns[3].limit);
    match socket.remote {
        Some(remote) => write_named_endpoint(
            &mut cells.text,
            remote,
            name(remote),
            service(remote.port()),
        ),
        None => cells.text.push_str(NO_PEER),
    }
    cells.finish_cell(columns[4].limit);
    cells.text.push_str(socket.state.as_str());
    cells.finish_cell(None);
    push_netns(cells, snapshot, socket.netns);
    if options.contexts {
        push_context(cells, columns, snapshot.context_of(socket));
    }
    if options.extended {
        push_user(cells, snapshot, socket.uid, options);
        push_optional_number(cells, socket.inode);
    }
    if options.programs {
        push_owners(cells, columns, snapshot, &socket.pids);
    }
    if options.timers {
        match socket.timer {
            Some(timer) => {
                let _ = write!(cells.text, "{timer}");
            }
            None => cells.text.push('-'),
        }
        cells.finish_cell(None);
    }
}

fn push_user(cells: &mut Cells, snapshot: &Snapshot, uid: Option<u32>, options: &TableOptions) {
    match uid {
        Some(uid) => match snapshot.user_names.get(&uid) {
            Some(name) if !options.numeric => push_escaped(&mut cells.text, name),
            _ => {
                let _ = write!(cells.text, "{uid}");
            }
        },
        None => cells.text.push('-'),
    }
    cells.finish_cell(None);
}

/// The PID/Program cell of a socket held by `pids`.
/// The Netns cell of `--all-netns`: the namespace's name or `netns:[INODE]`. A name is chosen
/// by whoever made it: escaped as a word, so the cell is one awk field.
fn push_netns(cells: &mut Cells, snapshot: &Snapshot, netns: Option<u64>) {
    if snapshot.namespaces.is_empty() {
        return;
    }
    let namespace = snapshot
        .namespaces
        .iter()
        .find(|namespace| Some(namespace.inode) == netns);
    match namespace {
        Some(namespace) => cells.text.push_str(&escaped_name(&namespace.label())),
        None => cells.text.push('-'),
    }
    cells.finish_cell(None);
}

/// The Container cell: `podman:web`, `pod:default/web`, `unit:nginx.service`, `-` for none.
/// Names are the runtimes' and users' choice: escaped as a word, so the cell is one awk field.
fn push_context(cells: &mut Cells, columns: &[Column], context: Option<&Context>) {
    match context {
        Some(context) => cells.text.push_str(&escaped_name(&context.label())),
        None => cells.text.push('-'),
    }
    let column = columns.iter().find(|c| c.title == "Container");
    cells.finish_cell(column.and_then(|c| c.limit));
}

fn push_owners(cells: &mut Cells, columns: &[Column], snapshot: &Snapshot, pids: &[u32]) {
    let start = cells.start();
    let mut any = false;
    for process in pids.iter().filter_map(|pid| snapshot.processes.get(pid)) {
        if any {
            cells.text.push(',');
        }
        any = true;
        let _ = write!(cells.text, "{}/", process.pid);
        push_escaped_name(&mut cells.text, &process.name);
    }
    if !any {
        cells.text.push('-');
    }
    if let Some(limit) = columns.last().and_then(|c| c.limit)
        && cells.text[start..].chars().count() > limit
    {
        let owners: Vec<(u32, String)> = pids
            .iter()
            .filter_map(|pid| snapshot.processes.get(pid))
            .map(|p| (p.pid, escaped_name(&p.name)))
            .collect();
        cells.text.truncate(start);
        push_short_owners(&mut cells.text, &owners, limit);
    }
    cells.finish_cell(None);
}

/// A Unix socket in the same columns, as ss -x lays it out: Netid in Proto, `path inode` as
/// the local address, `peer-path peer-inode` (`*` where unnamed), `*` without a peer, `-` when
/// the source cannot say.
fn push_unix_row(
    cells: &mut Cells,
    columns: &[Column],
    snapshot: &Snapshot,
    socket: &UnixSocket,
    options: &TableOptions,
) {
    cells.text.push_str(socket.kind.netid());
    cells.finish_cell(None);
    push_optional_number(cells, socket.recv_q.map(u64::from));
    push_optional_number(cells, socket.send_q.map(u64::from));
    push_escaped(&mut cells.text, &socket.path.display());
    let _ = write!(cells.text, " {}", socket.inode);
    cells.finish_cell(columns[3].limit);
    match socket.peer_inode {
        Some(peer) => {
            let path = socket
                .peer_path
                .as_ref()
                .map_or("*".into(), |p| p.display());
            push_escaped(&mut cells.text, &path);
            let _ = write!(cells.text, " {peer}");
        }
        None if socket.peer_known => cells.text.push('*'),
        None => cells.text.push('-'),
    }
    cells.finish_cell(columns[4].limit);
    cells.text.push_str(socket.state.as_str());
    cells.finish_cell(None);
    push_netns(cells, snapshot, socket.netns);
    if options.contexts {
        // The kernel does not say which cgroup a Unix socket was made in: its owner's.
        let owner = socket
            .pids
            .first()
            .and_then(|pid| snapshot.processes.get(pid));
        let context = owner.and_then(|p| p.cgroup.as_ref()?.context.as_ref());
        push_context(cells, columns, context);
    }
    if options.extended {
        push_user(cells, snapshot, socket.uid, options);
        push_optional_number(cells, Some(socket.inode));
    }
    if options.programs {
        push_owners(cells, columns, snapshot, &socket.pids);
    }
    // Unix sockets have no TCP timer.
    if options.timers {
        cells.text.push('-');
        cells.finish_cell(None);
    }
}

/// Append `pid/name,pid/name…` in at most `limit` characters where it can: names are shortened
/// (`clc-build-d…`) before owners are left out (`,+3` says how many), and a pid is never cut.
fn push_short_owners(out: &mut String, owners: &[(u32, String)], limit: usize) {
    let digits = |pid: u32| pid.to_string().len();
    for shown in (1..=owners.len()).rev() {
        let hidden = owners.len() - shown;
        let suffix = if hidden > 0 {
            format!(",+{hidden}")
        } else {
            String::new()
        };
        let fixed: usize = owners[..shown]
            .iter()
            .map(|&(pid, _)| digits(pid) + 1)
            .sum::<usize>()
            + (shown - 1)
            + suffix.len();
        let lengths: Vec<usize> = owners[..shown]
            .iter()
            .map(|(_, name)| name.chars().count())
            .collect();
        // A name shortened below a few characters no longer says anything: show fewer owners.
        let least: usize = lengths.iter().map(|&len| len.min(SHORT_NAME)).sum();
        if fixed + least > limit && shown > 1 {
            continue;
        }
        let allowed = share(&lengths, limit.saturating_sub(fixed).max(least));
        for (index, ((pid, name), allowed)) in owners[..shown].iter().zip(allowed).enumerate() {
            if index > 0 {
                out.push(',');
            }
            let _ = write!(out, "{pid}/");
            let count = name.chars().count();
            if count <= allowed {
                out.push_str(name);
            } else {
                out.extend(name.chars().take(allowed.saturating_sub(1)));
                out.push('…');
            }
        }
        out.push_str(&suffix);
        return;
    }
}

/// Split `budget` characters among texts `lengths` long: short ones keep their length, the
/// rest share what is left evenly (earlier texts get the remainder).
fn share(lengths: &[usize], budget: usize) -> Vec<usize> {
    let mut allowed = vec![0; lengths.len()];
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    // Among equal lengths the later text goes first and so takes the rounded-down share.
    order.sort_by_key(|&i| (lengths[i], std::cmp::Reverse(i)));
    let mut left = budget;
    for (position, &i) in order.iter().enumerate() {
        let sharing = lengths.len() - position;
        let fair = left / sharing;
        allowed[i] = lengths[i].min(fair.max(1));
        left = left.saturating_sub(allowed[i]);
    }
    allowed
}

fn push_optional_number(cells: &mut Cells, value: Option<u64>) {
    match value {
        Some(value) => {
            let _ = write!(cells.text, "{value}");
        }
        None => cells.text.push('-'),
    }
    cells.finish_cell(None);
}

fn write_spaces<W: Write>(out: &mut W, count: usize) -> io::Result<()> {
    const SPACES: &[u8; 64] = &[b' '; 64];
    let mut left = count;
    while left > 0 {
        let chunk = left.min(SPACES.len());
        out.write_all(&SPACES[..chunk])?;
        left -= chunk;
    }
    Ok(())
}

fn state_colour(state: SocketState) -> &'static str {
    match state {
        SocketState::Listen | SocketState::Unconn => "\x1b[32m",
        SocketState::Established => "\x1b[36m",
        SocketState::TimeWait | SocketState::Close | SocketState::CloseWait => "\x1b[2m",
        _ => "\x1b[33m",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Process, Proto, Timer};

    fn socket(proto: Proto, state: SocketState, local: &str, remote: Option<&str>) -> Socket {
        Socket {
            remote: remote.map(|r| r.parse().unwrap()),
            recv_q: Some(0),
            send_q: Some(128),
            uid: Some(0),
            inode: Some(4242),
            pids: vec![7],
            ..Socket::new(proto, state, local.parse().unwrap())
        }
    }

    fn render(snapshot: &Snapshot, options: TableOptions) -> String {
        let mut out = Vec::new();
        write_table(&mut out, snapshot, &Services::builtin(), &options).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn plain() -> TableOptions {
        TableOptions {
            header: true,
            info: false,
            contexts: false,
            numeric_ports: false,
            numeric: false,
            programs: false,
            extended: false,
            wide: false,
            timers: false,
            color: false,
        }
    }

    #[test]
    fn a_table_in_batches_has_one_title_line_and_widens_a_column_from_the_batch_that_needs_it() {
        let options = plain();
        let services = Services::builtin();
        let batch = |local: &str| Snapshot {
            sockets: vec![socket(Proto::Tcp, SocketState::Listen, local, None)],
            ..Snapshot::default()
        };
        let mut writer = TableWriter::new(&options, false);
        let mut out = Vec::new();
        for local in ["10.0.0.1:22", "10.0.0.2:22", "[2001:db8::1]:22"] {
            writer.write(&mut out, &batch(local), &services).unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("Proto"), "{text}");
        assert_eq!(text.matches("Proto").count(), 1, "{text}");
        // The first two batches share the first batch's widths; the third widens the address.
        let state_at = |line: &str| line.find("LISTEN").unwrap();
        assert_eq!(state_at(lines[1]), state_at(lines[2]), "{text}");
        assert!(state_at(lines[3]) > state_at(lines[2]), "{text}");
        assert!(lines[3].contains("[2001:db8::1]:22(ssh)"), "{text}");
        // One batch is the whole table, as write_table writes it.
        let whole = batch("10.0.0.1:22");
        let mut one = Vec::new();
        TableWriter::new(&options, false)
            .write(&mut one, &whole, &services)
            .unwrap();
        assert_eq!(String::from_utf8(one).unwrap(), render(&whole, plain()));
    }

    fn sample() -> Snapshot {
        let mut snapshot = Snapshot {
            sockets: vec![
                socket(Proto::Tcp, SocketState::Listen, "0.0.0.0:22", None),
                socket(
                    Proto::Tcp,
                    SocketState::Established,
                    "[::1]:5432",
                    Some("[::1]:50000"),
                ),
                socket(Proto::Udp, SocketState::Unconn, "127.0.0.1:53", None),
            ],
            ..Snapshot::default()
        };
        snapshot.processes.insert(
            7,
            Process {
                pid: 7,
                name: "sshd\x1b[31m".into(),
                user: Some("root".into()),
                cmdline: None,
                argv: None,
                cgroup: None,
            },
        );
        snapshot.user_names.insert(0, "root".into());
        snapshot
    }

    #[test]
    fn columns_align_to_content_with_service_labels() {
        let table = render(&sample(), plain());
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0],
            "Proto Recv-Q Send-Q Local Address          Foreign Address State"
        );
        assert_eq!(
            lines[1],
            "tcp        0    128 0.0.0.0:22(ssh)        *:*             LISTEN"
        );
        assert_eq!(
            lines[2],
            "tcp6       0    128 [::1]:5432(postgresql) [::1]:50000     ESTABLISHED"
        );
        assert_eq!(
            lines[3],
            "udp        0    128 127.0.0.1:53(domain)   *:*             UNCONN"
        );
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn numeric_extended_and_programs_columns() {
        let options = TableOptions {
            header: true,
            info: false,
            contexts: false,
            numeric_ports: false,
            numeric: true,
            programs: true,
            extended: true,
            ..plain()
        };
        let table = render(&sample(), options);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0],
            "Proto Recv-Q Send-Q Local Address Foreign Address State       User Inode PID/Program"
        );
        assert_eq!(
            lines[1],
            "tcp        0    128 0.0.0.0:22    *:*             LISTEN      0     4242 7/sshd\\x1b[31m"
        );
    }

    #[test]
    fn timers_column_is_last_in_netstat_form() {
        let mut snapshot = sample();
        snapshot.sockets[0].timer = Some(Timer::from_sock_diag(0, 0, 0));
        snapshot.sockets[1].timer = Some(Timer::from_sock_diag(2, 7_192_845, 0));
        let options = TableOptions {
            numeric: true,
            programs: true,
            timers: true,
            ..plain()
        };
        let table = render(&snapshot, options);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].ends_with(" PID/Program    Timer"), "{table}");
        assert!(
            lines[1].ends_with(" 7/sshd\\x1b[31m off (0.00/0/0)"),
            "{table}"
        );
        assert!(lines[2].ends_with(" keepalive (7192.84/-/0)"), "{table}");
        assert!(lines[3].ends_with(" -"), "{table}");
        assert!(!render(&snapshot, plain()).contains("off ("));
    }

    #[test]
    fn user_names_show_unless_numeric() {
        let options = TableOptions {
            header: true,
            info: false,
            contexts: false,
            numeric_ports: false,
            extended: true,
            ..plain()
        };
        let table = render(&sample(), options);
        assert!(table.lines().nth(1).unwrap().contains(" root "));
    }

    #[test]
    fn long_addresses_are_shortened_unless_wide() {
        let snapshot = Snapshot {
            sockets: vec![socket(
                Proto::Tcp,
                SocketState::Established,
                "[fd00:1234:5678:9abc:def0:1234:5678:9abc]:443",
                Some("[fd00:1234:5678:9abc:def0:1234:5678:9abd]:61000"),
            )],
            ..Snapshot::default()
        };
        let table = render(&snapshot, plain());
        let row = table.lines().nth(1).unwrap();
        assert!(row.contains('…'), "{row}");
        assert!(
            row.contains(":443(https)"),
            "the port survives shortening: {row}"
        );
        let cell = row.split_whitespace().nth(3).unwrap();
        assert!(cell.chars().count() <= ADDRESS_LIMIT);
        let wide = render(
            &snapshot,
            TableOptions {
                header: true,
                info: false,
                contexts: false,
                numeric_ports: false,
                wide: true,
                ..plain()
            },
        );
        assert!(wide.contains("[fd00:1234:5678:9abc:def0:1234:5678:9abc]:443(https)"));
        assert!(!wide.contains('…'));
    }

    #[test]
    fn colour_marks_header_and_state_only_when_asked() {
        let coloured = render(
            &sample(),
            TableOptions {
                header: true,
                info: false,
                contexts: false,
                numeric_ports: false,
                color: true,
                ..plain()
            },
        );
        assert!(coloured.starts_with("\x1b[1mProto\x1b[0m"));
        assert!(coloured.contains("\x1b[32mLISTEN\x1b[0m"));
        assert!(!render(&sample(), plain()).contains('\x1b'));
    }

    #[test]
    fn shorten_middle_keeps_both_ends() {
        let mut text = String::from("ab0123456789xyz");
        shorten_middle(&mut text, 2, 7);
        assert_eq!(text, "ab012…xyz");
        let mut short = String::from("short");
        shorten_middle(&mut short, 0, 10);
        assert_eq!(short, "short");
    }

    fn owners_cell(owners: &[(u32, &str)], limit: usize) -> String {
        let owners: Vec<(u32, String)> = owners
            .iter()
            .map(|&(pid, name)| (pid, name.to_string()))
            .collect();
        let mut out = String::new();
        push_short_owners(&mut out, &owners, limit);
        out
    }

    #[test]
    fn shortened_owners_keep_every_pid_or_count_the_rest() {
        let two = [(13860, "clc-build-daemon"), (13944, "clc-build-daemon")];
        let cell = owners_cell(&two, 40);
        assert_eq!(cell, "13860/clc-build-dae…,13944/clc-build-da…");
        assert_eq!(cell.chars().count(), 40);
        // A short name keeps its length; the long one takes what is left.
        assert_eq!(
            owners_cell(&[(1, "sh"), (2, "a-very-long-program-name")], 16),
            "1/sh,2/a-very-l…"
        );
        // Too many owners for one character per name: the rest are counted.
        let many: Vec<(u32, &str)> = (100_000..100_010).map(|pid| (pid, "python3")).collect();
        let cell = owners_cell(&many, 40);
        assert_eq!(cell, "100000/pyth…,100001/pyth…,100002/pyt…,+7");
        assert!(cell.chars().count() <= 40);
        // One owner whose pid alone is too long still shows the whole pid.
        assert_eq!(owners_cell(&[(4_194_303, "x-y-z")], 5), "4194303/x-y…");
    }

    #[test]
    fn unix_rows_sit_in_the_same_columns_as_ss_lays_them_out() {
        use crate::model::{UnixPath, UnixType};
        let unix = |kind, state, path, inode, peer: Option<(u64, UnixPath)>| UnixSocket {
            kind,
            state,
            path,
            inode,
            peer_inode: peer.as_ref().map(|p| p.0),
            peer_known: true,
            peer_path: peer.map(|p| p.1),
            recv_q: Some(3),
            send_q: Some(128),
            uid: Some(0),
            pids: vec![7],
            netns: None,
        };
        let mut snapshot = sample();
        snapshot.sockets.truncate(1);
        snapshot.unix_sockets = vec![
            unix(
                UnixType::Stream,
                SocketState::Listen,
                UnixPath::File(b"/run/a\x1b.sock".to_vec()),
                10,
                None,
            ),
            unix(
                UnixType::Seqpacket,
                SocketState::Established,
                UnixPath::Unnamed,
                11,
                Some((12, UnixPath::Abstract(b"name".to_vec()))),
            ),
            UnixSocket {
                peer_known: false,
                recv_q: None,
                send_q: None,
                uid: None,
                ..unix(
                    UnixType::Dgram,
                    SocketState::Unconn,
                    UnixPath::Unnamed,
                    13,
                    None,
                )
            },
        ];
        let options = TableOptions {
            header: true,
            info: false,
            contexts: false,
            numeric_ports: false,
            numeric: true,
            programs: true,
            extended: true,
            ..plain()
        };
        let table = render(&snapshot, options);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[2],
            "u_str      3    128 /run/a\\x1b.sock 10 *               LISTEN      0       10 7/sshd\\x1b[31m"
        );
        assert_eq!(
            lines[3],
            "u_seq      3    128 * 11               @name 12        ESTABLISHED 0       11 7/sshd\\x1b[31m"
        );
        assert_eq!(
            lines[4],
            "u_dgr      -      - * 13               -               UNCONN      -       13 7/sshd\\x1b[31m"
        );
        let coloured = render(
            &snapshot,
            TableOptions {
                header: true,
                info: false,
                contexts: false,
                numeric_ports: false,
                color: true,
                ..plain()
            },
        );
        assert!(coloured.contains("\x1b[36mESTABLISHED\x1b[0m"));
    }

    #[test]
    fn owner_names_cannot_pose_as_a_second_owner() {
        let mut snapshot = sample();
        snapshot.processes.get_mut(&7).unwrap().name = "sshd,1/systemd".into();
        let options = TableOptions {
            header: true,
            info: false,
            contexts: false,
            numeric_ports: false,
            numeric: true,
            programs: true,
            ..plain()
        };
        let table = render(&snapshot, options);
        let row = table.lines().nth(1).unwrap();
        assert!(row.ends_with(" 7/sshd\\x2c1/systemd"), "{row}");
    }
}
