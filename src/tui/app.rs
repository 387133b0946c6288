//! The dashboard's state and the one function that changes it, [`App::update`]. No I/O here:
//! effects (quit, kill a process) go back to the loop in `tui/mod.rs` as an [`Effect`], and
//! what came of them comes back as a [`Msg`]. The rows themselves are [`Table`]'s.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use super::close::{CloseTarget, Connection};
use super::details::{self, Details};
use super::kill::{KillOwner, KillTarget};
use super::layout::table_rows;
use super::msg::{Effect, Key, Msg};
use super::rows::{Column, GroupKey, Row};
use super::table::{Described, Line, Table};
use crate::filter::{Filter, Query};
use crate::model::{Family, OwnerCoverage, Proto, Snapshot, SocketKey};
use crate::platform::refusal;
use crate::platform::resolver::Resolver;
use crate::services::Services;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveOptions {
    /// No service labels on endpoints, numeric user ids.
    pub numeric: bool,
    pub interval: Duration,
    /// Look host names up in the background (the first frame never waits for them); `n`
    /// shows numbers instead.
    pub resolve: bool,
    /// The filter words given on the command line: the dashboard's starting `/` text.
    pub filter: String,
    /// That text as the command line parsed it, so the dashboard does not parse it again.
    pub parsed_filter: Option<Filter>,
}

/// What the selection stays on across refreshes, sorts and filters.
enum Anchor {
    Row(usize),
    Group(GroupKey),
}

#[derive(Debug)]
pub struct App {
    pub numeric: bool,
    /// Looks host names up in the background; `None` with names off (and in tests).
    resolver: Option<Resolver>,
    pub interval: Duration,
    /// How often the rows are refreshed now, when the collector waits longer than
    /// `interval` (a big machine); `None` while it keeps the interval.
    pub slowed: Option<Duration>,
    pub query: Query,
    /// The rows, their order, the `/` filter and the grouping.
    pub table: Table,

    pub hostname: Option<String>,
    pub taken_at: Option<SystemTime>,
    pub coverage: OwnerCoverage,
    /// See [`Snapshot::owners_as_of`].
    pub owners_as_of: Option<SystemTime>,
    /// The newest snapshot that arrived while paused.
    pending: Option<Box<Snapshot>>,

    pub paused: bool,
    /// `/` was pressed and keys go into the filter.
    pub typing: bool,
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
    /// The close dialog, open.
    pub close: Option<CloseTarget>,
    /// One line of news for the footer (kill results, collection errors).
    pub status: Option<String>,
}

impl App {
    /// The dashboard for `query`'s flags, starting with `options.filter` as its `/` text.
    pub fn new(services: Services, query: Query, options: &LiveOptions) -> App {
        let protos: Vec<Proto> = [Proto::Tcp, Proto::Udp]
            .into_iter()
            .filter(|&proto| query.wants_proto(proto))
            .collect();
        let mut app = App {
            numeric: options.numeric,
            resolver: options.resolve.then(Resolver::new),
            interval: options.interval,
            slowed: None,
            query,
            table: Table::new(services, options.numeric, protos),
            hostname: None,
            taken_at: None,
            coverage: OwnerCoverage::NotCollected,
            owners_as_of: None,
            pending: None,
            paused: false,
            typing: false,
            selected: 0,
            offset: 0,
            page: 0,
            screen: (0, 0),
            details: None,
            help: false,
            confirm: None,
            close: None,
            status: None,
        };
        match &options.parsed_filter {
            Some(filter) => app
                .table
                .set_parsed_filter(options.filter.clone(), filter.clone()),
            None => app.set_filter(options.filter.clone()),
        }
        app
    }

    /// Whether the filter text is read as an expression of the filter language.
    pub fn filter_is_expression(&self) -> bool {
        self.table.filter_is_expression()
    }

    /// Why the filter text is a plain search and not an expression: the parser's message and
    /// the word it points at. `None` for an expression or no filter.
    pub fn filter_error(&self) -> Option<&str> {
        self.table.filter_error()
    }

    pub fn update(&mut self, msg: Msg) -> Option<Effect> {
        match msg {
            Msg::Key(key) => return self.on_key(key),
            Msg::Scroll(delta) if self.details.is_some() => self.scroll_details(delta as isize),
            Msg::Scroll(delta) => self.move_selection(delta as isize),
            Msg::Resize { width, height } => {
                self.screen = (width, height);
                self.page = table_rows(height);
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
            Msg::Cadence(every) => {
                // A tenth over the interval is the collection's own time, not a slowdown.
                self.slowed = (every > self.interval + self.interval / 10).then_some(every);
            }
            Msg::Killed { pid, result } => {
                let program = self.table.program_of(pid);
                self.status = Some(match result {
                    Ok(()) => format!("sent SIGTERM to pid {pid} ({program})"),
                    Err(why) => format!("could not kill pid {pid} ({program}): {why}"),
                });
            }
            Msg::Closed { connection, result } => {
                let ends = connection.ends();
                self.status = Some(match result {
                    Ok(()) => format!("closed tcp {ends}"),
                    Err(why) => format!("could not close tcp {ends}: {why}"),
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
        self.table.row_at(line)
    }

    /// [`App::keys_in_view`] as the collector knows sockets: by cookie (a socket without one
    /// has no tcp_info either).
    pub fn cookies_in_view(&self) -> HashSet<u64> {
        (self.keys_in_view().into_iter())
            .filter_map(|key| match key {
                SocketKey::Cookie(cookie) => Some(cookie),
                SocketKey::Ends { .. } => None,
            })
            .collect()
    }

    /// The sockets whose whole tcp_info the next refresh keeps for the details pane: the rows
    /// in view and a page either side, and the one being detailed.
    fn keys_in_view(&self) -> HashSet<SocketKey> {
        let page = self.page.max(1);
        let start = self.offset.saturating_sub(page);
        let end = (self.offset + 2 * page).min(self.table.lines.len());
        let mut keys: HashSet<SocketKey> = (start..end)
            .filter_map(|line| self.row_at(line))
            .map(|row| row.key())
            .collect();
        if let Some(details) = &self.details {
            keys.insert(details.last.key());
        }
        keys
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
                Key::Char('y') => match target.owners[target.selected].refused {
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
        if let Some(target) = self.close.take() {
            if key == Key::Char('y') {
                return Some(Effect::Close(target.connection));
            }
            let ends = target.connection.ends();
            self.status = Some(format!("close of tcp {ends} cancelled"));
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
                    let mut filter = self.table.filter.clone();
                    filter.push(c);
                    self.set_filter(filter);
                }
                Key::Backspace => {
                    let mut filter = self.table.filter.clone();
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
                } else if !self.table.filter.is_empty() {
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
                self.table.cycle_grouping();
                self.restore(anchor);
            }
            Key::Char('k') => return self.ask_kill(),
            Key::Char(c @ ('l' | 't' | 'u' | 'f')) => {
                let mut hidden = self.table.hidden;
                match c {
                    'l' => hidden.listeners = !hidden.listeners,
                    't' => hidden.tcp = !hidden.tcp,
                    'u' => hidden.udp = !hidden.udp,
                    _ => {
                        hidden.only_family = match hidden.only_family {
                            None => Some(Family::Ipv4),
                            Some(Family::Ipv4) => Some(Family::Ipv6),
                            Some(Family::Ipv6) => None,
                        }
                    }
                }
                let anchor = self.anchor();
                self.table.set_hidden(hidden);
                self.restore(anchor);
            }
            Key::Char('n') => {
                let anchor = self.anchor();
                self.numeric = !self.numeric;
                self.table.set_numeric(self.numeric);
                self.restore(anchor);
            }
            Key::Char('x') => self.ask_close(),
            Key::Char(c @ ('0'..='9' | ')')) => {
                if let Some(column) = Column::from_key(c) {
                    self.sort_by(column);
                }
            }
            Key::Enter => match self.table.lines.get(self.selected) {
                Some(Line::Group(group)) => self.set_expanded(*group as usize, None),
                Some(Line::Socket(row)) => self.open_details(*row as usize),
                None => {}
            },
            Key::Right => {
                if let Some(Line::Group(group)) = self.table.lines.get(self.selected) {
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
        let (_, page) = details::scroll(details, width, height);
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
        if let Some(details) = &mut self.details {
            let (limit, _) = details::scroll(details, width, height);
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
        let last = self.table.lines.len().saturating_sub(1);
        self.selected = self.selected.saturating_add_signed(delta).min(last);
        self.keep_selection_in_view();
    }

    fn keep_selection_in_view(&mut self) {
        let last = self.table.lines.len().saturating_sub(1);
        self.selected = self.selected.min(last);
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.page > 0 && self.selected >= self.offset + self.page {
            self.offset = self.selected + 1 - self.page;
        }
        // No empty space below the last row when the list shrinks or the screen grows.
        self.offset = self
            .offset
            .min(self.table.lines.len().saturating_sub(self.page.max(1)));
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
        let anchor = self.anchor();
        self.table.sort_by(column);
        self.restore(anchor);
    }

    fn set_filter(&mut self, filter: String) {
        let anchor = self.anchor();
        self.table.set_filter(filter);
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
                    program: self.table.program_of(pid),
                    started: None,
                    refused: refusal(pid),
                })
                .collect(),
            selected: 0,
            inode: row.socket.inode,
        });
        Some(Effect::ReadStartTimes)
    }

    /// Open the close dialog for the selected (or detailed) socket, or say why it is no
    /// connection to close.
    fn ask_close(&mut self) {
        let row = match &self.details {
            Some(details) => Some(&details.last),
            None => self.row_at(self.selected),
        };
        let Some(row) = row else {
            self.status = Some("select a TCP connection to close it".to_string());
            return;
        };
        match Connection::of(&row.socket) {
            Ok(connection) => {
                let owners = row
                    .socket
                    .pids
                    .iter()
                    .map(|&pid| format!("pid {pid} {}", self.table.program_of(pid)))
                    .collect();
                self.close = Some(CloseTarget { connection, owners });
            }
            Err(why) => self.status = Some(format!("cannot close: {why}")),
        }
    }

    /// Pasted text goes into an open filter, control characters dropped (a pasted Enter must
    /// not end the filter and run what follows as keys); anywhere else it is ignored.
    fn on_paste(&mut self, text: &str) {
        if !self.typing || self.confirm.is_some() || self.close.is_some() || self.help {
            self.status = Some("paste ignored: press / to paste into the filter".to_string());
            return;
        }
        let mut filter = self.table.filter.clone();
        filter.extend(text.chars().filter(|c| !c.is_control()));
        self.set_filter(filter);
    }

    fn open_details(&mut self, row: usize) {
        let Some(found) = self.table.rows.get(row) else {
            return;
        };
        let mut details = Details {
            row: Some(row),
            last: found.clone(),
            owners: self.table.owner_details(found),
            cgroup: self.table.cgroup_of(found).cloned(),
            gone: found.mark.is_gone(),
            scroll: 0,
            owners_as_of: self.owners_as_of,
            lines: Vec::new(),
        };
        details.describe(self.coverage, &self.table.endpoint_names());
        self.details = Some(details);
    }

    fn set_expanded(&mut self, group: usize, expanded: Option<bool>) {
        if let Some(key) = self.table.set_expanded(group, expanded) {
            self.restore(Some(Anchor::Group(key)));
        }
    }

    fn collapse_selected(&mut self) {
        if let Some(group) = self.table.group_at(self.selected) {
            self.set_expanded(group, Some(false));
        }
    }

    fn anchor(&self) -> Option<Anchor> {
        match self.table.lines.get(self.selected)? {
            Line::Socket(row) => Some(Anchor::Row(*row as usize)),
            Line::Group(group) => Some(Anchor::Group(self.table.groups[*group as usize].key())),
        }
    }

    /// Put the selection back on the anchored row or group; if it is no longer shown, the
    /// selection stays at the same height, clamped to the table.
    fn restore(&mut self, anchor: Option<Anchor>) {
        let found = anchor.and_then(|anchor| {
            self.table
                .lines
                .iter()
                .position(|line| match (line, &anchor) {
                    (Line::Socket(row), Anchor::Row(wanted)) => *row as usize == *wanted,
                    (Line::Group(group), Anchor::Group(key)) => {
                        let group = &self.table.groups[*group as usize];
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
            namespaces,
            cgroups,
            mut host_names,
        } = snapshot;
        if !self.numeric
            && let Some(resolver) = &self.resolver
        {
            // Never waits: names asked for now come with a later refresh.
            let addresses = (sockets.iter())
                .flat_map(|s| std::iter::once(s.local.ip()).chain(s.remote.map(|r| r.ip())));
            host_names.extend(resolver.resolve(addresses, Duration::ZERO).names);
        }
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
        let described = Described {
            processes,
            user_names,
            cgroups,
            host_names,
            namespaces: namespaces.iter().map(|n| (n.inode, n.label())).collect(),
        };
        let keep_info = self.keys_in_view();
        let remap = self.table.merge(sockets, described, elapsed, &keep_info);

        if let Some(mut details) = self.details.take() {
            details.row = details
                .row
                .and_then(|row| remap.get(row).copied().flatten());
            match details.row.map(|row| &self.table.rows[row]) {
                Some(row) => {
                    details.last = row.clone();
                    details.owners = self.table.owner_details(row);
                    details.cgroup = self.table.cgroup_of(row).cloned();
                    details.owners_as_of = self.owners_as_of;
                    details.gone = row.mark.is_gone();
                }
                None => details.gone = true,
            }
            details.describe(self.coverage, &self.table.endpoint_names());
            self.details = Some(details);
        }

        let anchor = match anchor {
            Some(Anchor::Row(row)) => remap.get(row).copied().flatten().map(Anchor::Row),
            other => other,
        };
        self.restore(anchor);
    }
}
