//! The dashboard's table: every row of the newest snapshot (and the recently gone), merged in
//! place each refresh, kept sorted, filtered by the `/` text and grouped by process. What the
//! table shows is `lines`; selection and scrolling are the app's.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use super::rows::{
    Column, EndpointNames, GroupKey, Grouping, HIGHLIGHT_REFRESHES, Labels, Mark, Row, RowContext,
    Sort, refresh_row,
};
use super::search::Matcher;
use crate::filter::Filter;
use crate::filter::eval::Owners;
use crate::format::escaped_name;
use crate::model::{
    Cgroup, Family, Process, Proto, Remnants, Socket, SocketKey, SocketState, pair,
};
use crate::services::Services;
use hashbrown::hash_table::Entry;
use hashbrown::{DefaultHashBuilder, HashTable};
use std::hash::BuildHasher;

/// What a snapshot says of its sockets' owners, cgroups, hosts and namespaces: what
/// [`Table::merge`] keeps beside the rows.
#[derive(Debug, Default)]
pub struct Described {
    pub processes: HashMap<u32, Process>,
    pub user_names: HashMap<u32, String>,
    pub cgroups: HashMap<u64, Cgroup>,
    pub host_names: HashMap<std::net::IpAddr, String>,
    /// The listed namespaces' labels by inode (`--all-netns`).
    pub namespaces: HashMap<u64, String>,
}

/// What the view keys hide: listeners (`l`), TCP (`t`), UDP (`u`), a family (`f` cycles
/// both, IPv4 only, IPv6 only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hidden {
    pub listeners: bool,
    pub tcp: bool,
    pub udp: bool,
    /// Shown: this family alone; `None` for both.
    pub only_family: Option<Family>,
}

impl Hidden {
    pub fn hides(&self, socket: &Socket) -> bool {
        (self.listeners && socket.state.is_listening())
            || (self.tcp && socket.proto == Proto::Tcp)
            || (self.udp && socket.proto == Proto::Udp)
            || self
                .only_family
                .is_some_and(|family| family != socket.family())
    }

    /// Whether this hides everything `other` hides (so going from `other` to this narrows).
    fn hides_all_of(&self, other: Hidden) -> bool {
        (self.listeners || !other.listeners)
            && (self.tcp || !other.tcp)
            && (self.udp || !other.udp)
            && (other.only_family.is_none() || self.only_family == other.only_family)
    }

    /// What is hidden, in words for the header; `None` when nothing is.
    pub fn words(&self) -> Option<String> {
        let mut words = Vec::new();
        if self.listeners {
            words.push("listeners");
        }
        if self.tcp {
            words.push("tcp");
        }
        if self.udp {
            words.push("udp");
        }
        match self.only_family {
            Some(Family::Ipv4) => words.push("ipv6"),
            Some(Family::Ipv6) => words.push("ipv4"),
            None => {}
        }
        (!words.is_empty()).then(|| format!("hiding {}", words.join(", ")))
    }
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
    pub fn key(&self) -> GroupKey {
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

#[derive(Debug)]
pub struct Table {
    services: Services,
    /// No service labels on endpoints, numeric user ids.
    numeric: bool,
    /// The protocols the query asks for: what a bare port in the `/` text means.
    protos: Vec<Proto>,
    pub rows: Vec<Row>,
    index: RowIndex,
    /// All rows in sort order.
    sorted: Vec<u32>,
    /// `sorted` less the rows the filter hides.
    filtered: Vec<u32>,
    /// What the table shows, in order.
    pub lines: Vec<Line>,
    pub groups: Vec<Group>,
    pub processes: HashMap<u32, Process>,
    user_names: HashMap<u32, String>,
    /// The sockets' cgroups of the newest snapshot: what each runs as.
    pub cgroups: HashMap<u64, Cgroup>,
    /// Host names known so far; rows show them unless numeric.
    host_names: HashMap<std::net::IpAddr, String>,
    /// The rows' shared texts.
    labels: Labels,
    /// The listed namespaces' labels by inode (`--all-netns`).
    namespaces: HashMap<u64, String>,
    pub counts: Counts,
    pub snapshots_seen: u64,
    pub sort: Sort,
    /// The filter as typed.
    pub filter: String,
    /// How `filter` is read: an expression of the filter language, else a plain search.
    matcher: Matcher,
    pub grouping: Grouping,
    expanded: HashSet<GroupKey>,
    /// What the view keys hide, on top of the filter.
    pub hidden: Hidden,
}

impl Table {
    pub fn new(services: Services, numeric: bool, protos: Vec<Proto>) -> Table {
        Table {
            services,
            numeric,
            protos,
            rows: Vec::new(),
            index: RowIndex::default(),
            sorted: Vec::new(),
            filtered: Vec::new(),
            lines: Vec::new(),
            groups: Vec::new(),
            processes: HashMap::new(),
            user_names: HashMap::new(),
            cgroups: HashMap::new(),
            host_names: HashMap::new(),
            labels: Labels::default(),
            namespaces: HashMap::new(),
            counts: Counts::default(),
            snapshots_seen: 0,
            sort: Sort {
                column: Column::Local,
                reverse: false,
            },
            filter: String::new(),
            matcher: Matcher::Everything,
            grouping: Grouping::None,
            expanded: HashSet::new(),
            hidden: Hidden::default(),
        }
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

    pub fn row_at(&self, line: usize) -> Option<&Row> {
        match self.lines.get(line)? {
            Line::Socket(row) => self.rows.get(*row as usize),
            Line::Group(_) => None,
        }
    }

    /// The escaped name of process `pid`, `?` when unknown.
    pub fn program_of(&self, pid: u32) -> String {
        self.processes
            .get(&pid)
            .map_or_else(|| "?".to_string(), |p| escaped_name(&p.name))
    }

    /// The cgroup `row`'s socket was made in, when known.
    pub fn cgroup_of(&self, row: &Row) -> Option<&Cgroup> {
        self.cgroups.get(&row.socket.cgroup?)
    }

    /// Every owner pid of `row` with what is known of it.
    pub fn owner_details(&self, row: &Row) -> Vec<(u32, Option<Process>)> {
        row.socket
            .pids
            .iter()
            .map(|&pid| (pid, self.processes.get(&pid).cloned()))
            .collect()
    }

    /// Show `filter` (typed or pasted text) instead of the current one.
    pub fn set_filter(&mut self, filter: String) {
        let matcher = Matcher::of(&filter, &self.services, &self.protos);
        self.set_matcher(filter, matcher);
    }

    /// Show the rows `filter` keeps, its text `text`: a filter already parsed (the command
    /// line's) is not parsed again.
    pub fn set_parsed_filter(&mut self, text: String, filter: Filter) {
        self.set_matcher(text, Matcher::Expression(filter));
    }

    fn set_matcher(&mut self, filter: String, matcher: Matcher) {
        // Typing one more character of a search only narrows: search the rows already shown,
        // not all rows. An expression may widen (`sport = :8` -> `:80`): evaluate all rows.
        let narrowing = matches!(self.matcher, Matcher::Everything)
            || (filter.starts_with(&self.filter) && self.matcher.narrows_to(&matcher));
        self.filter = filter;
        self.matcher = matcher;
        self.refilter(narrowing);
        self.rebuild_lines();
    }

    /// Sort by `column`; by the same column again, the other way.
    pub fn sort_by(&mut self, column: Column) {
        let reverse = self.sort.column == column && !self.sort.reverse;
        self.sort = Sort { column, reverse };
        self.resort();
        self.refilter(false);
        self.rebuild_lines();
    }

    /// Numbers (no host, service or user names), or names (`n`): every row is written again.
    /// How this table writes endpoints (see [`Row::endpoints`]).
    pub fn endpoint_names(&self) -> EndpointNames<'_> {
        EndpointNames {
            services: &self.services,
            numeric: self.numeric,
            host_names: &self.host_names,
        }
    }

    pub fn set_numeric(&mut self, numeric: bool) {
        self.numeric = numeric;
        self.describe_all();
        self.resort();
        self.refilter(false);
        self.rebuild_lines();
    }

    fn describe_all(&mut self) {
        let context = RowContext {
            labels: &self.labels,
            numeric: self.numeric,
            processes: &self.processes,
            user_names: &self.user_names,
            cgroups: &self.cgroups,
            namespaces: &self.namespaces,
            elapsed: None,
        };
        for row in &mut self.rows {
            row.describe(&context);
        }
    }

    /// Whether rows are grouped (by process, container or unit).
    pub fn grouped(&self) -> bool {
        self.grouping != Grouping::None
    }

    /// Group by the next of none, process, container, unit (`g`).
    pub fn cycle_grouping(&mut self) {
        self.grouping = self.grouping.next();
        self.rebuild_lines();
    }

    /// Expand or collapse group `group` (`None`: the other way); its key, when there is one.
    pub fn set_expanded(&mut self, group: usize, expanded: Option<bool>) -> Option<GroupKey> {
        let group = self.groups.get(group)?;
        let expand = expanded.unwrap_or(!group.expanded);
        let key = group.key();
        if expand {
            self.expanded.insert(key.clone());
        } else {
            self.expanded.remove(&key);
        }
        self.rebuild_lines();
        Some(key)
    }

    /// The group of the table's `line`: itself, or a grouped socket's group.
    pub fn group_at(&self, line: usize) -> Option<usize> {
        let key = match self.lines.get(line)? {
            Line::Group(group) => return Some(*group as usize),
            Line::Socket(row) if self.grouped() => {
                self.rows[*row as usize].group_key(self.grouping)
            }
            Line::Socket(_) => return None,
        };
        self.groups.iter().position(|g| g.key() == key)
    }

    /// Merge a snapshot's sockets into the rows: match, age highlights, mark new/gone/changed,
    /// keep the order and the filter. `elapsed` is the real time since the last snapshot.
    /// Returns where each old row went (`None`: it left the table).
    /// Merge a new snapshot's `sockets` into the rows. Only the rows whose key is in
    /// `keep_info` (those in view) keep their whole tcp_info; the others keep its two byte
    /// counters, all the rates need.
    pub fn merge(
        &mut self,
        sockets: Vec<Socket>,
        described: Described,
        elapsed: Option<f64>,
        keep_info: &HashSet<SocketKey>,
    ) -> Vec<Option<usize>> {
        let Described {
            processes,
            user_names,
            cgroups,
            host_names,
            namespaces,
        } = described;
        self.namespaces = namespaces;
        let first = self.snapshots_seen == 0;
        self.snapshots_seen += 1;
        self.processes = processes;
        self.user_names = user_names;
        self.cgroups = cgroups;
        // Names that came in since the last refresh show as the rows are drawn.
        self.host_names = host_names;
        let context = RowContext {
            labels: &self.labels,
            numeric: self.numeric,
            processes: &self.processes,
            user_names: &self.user_names,
            cgroups: &self.cgroups,
            namespaces: &self.namespaces,
            elapsed,
        };

        let column = self.sort.column;
        let pairing = {
            let (rows, index) = (&self.rows, &self.index);
            pair(
                &sockets,
                |key| index.get(rows, key),
                rows.iter()
                    .enumerate()
                    .map(|(position, row)| (position, row.key())),
                Remnants::SameEnds,
            )
        };
        let mut matched = vec![false; self.rows.len()];
        // Whether a surviving row may have moved in the sort order (then: a full re-sort).
        let mut reorder = false;
        // Sized exactly: on the first snapshot every socket is fresh, and a doubling Vec of
        // 200,000 rows (600 bytes each) held 157 MiB at its peak.
        let unmatched = pairing.continues.iter().filter(|c| c.is_none()).count();
        let mut fresh = Vec::with_capacity(unmatched);
        for (socket, continues) in sockets.into_iter().zip(pairing.continues) {
            match continues {
                Some(row) => {
                    matched[row] = true;
                    // A key that changed (a remnant paired by its ends) must be learnt by the index.
                    reorder |= self.rows[row].key() != SocketKey::of(&socket);
                    reorder |= refresh_row(&mut self.rows[row], socket, &context, column);
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
        if self.rows.is_empty() {
            // The first snapshot's rows are all fresh: taken as they are, not copied.
            self.rows = fresh;
        } else {
            self.rows.extend(fresh);
        }

        // An unchanged table (the common case) keeps its index and order: no hashing or
        // sorting of every row each refresh.
        if removed || added || reorder {
            self.index.rebuild(&self.rows);
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

        for row in &mut self.rows {
            if row.socket.tcp_info.is_some() && !keep_info.contains(&row.key()) {
                row.socket.tcp_info = None;
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

        self.refilter(false);
        self.rebuild_lines();
        remap
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
                let ranks = text_ranks(rows, |r| &*r.program);
                sorted_by(rows, reverse, |i, _| ranks[i])
            }
            Column::User => {
                let ranks = text_ranks(rows, |r| &*r.user);
                sorted_by(rows, reverse, |i, _| ranks[i])
            }
            Column::Container => {
                let ranks = text_ranks(rows, |r| &*r.context);
                sorted_by(rows, reverse, |i, _| ranks[i])
            }
            Column::Netns => {
                let ranks = text_ranks(rows, |r| &*r.netns);
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

    /// Hide or show what a view key names (`l`, `t`, `u`, `f`), then show the rest.
    pub fn set_hidden(&mut self, hidden: Hidden) {
        // Hiding more only narrows what is shown.
        let narrowing = hidden.hides_all_of(self.hidden);
        self.hidden = hidden;
        self.refilter(narrowing);
        self.rebuild_lines();
    }

    /// How many rows the newest snapshot has (gone ones not counted).
    pub fn total(&self) -> usize {
        self.counts.tcp + self.counts.udp
    }

    /// How many of the newest snapshot's rows are shown (filter and view keys applied).
    pub fn shown(&self) -> usize {
        (self.filtered.iter())
            .filter(|&&row| !self.rows[row as usize].mark.is_gone())
            .count()
    }

    fn refilter(&mut self, narrowing: bool) {
        let rows = &self.rows;
        let hidden = self.hidden;
        let matcher = &self.matcher;
        let owners = Owners {
            processes: &self.processes,
            user_names: &self.user_names,
            cgroups: &self.cgroups,
        };
        let names = EndpointNames {
            services: &self.services,
            numeric: self.numeric,
            host_names: &self.host_names,
        };
        let keep = |row: &Row| !hidden.hides(&row.socket) && matcher.matches(row, owners, &names);
        if matches!(matcher, Matcher::Everything) && hidden == Hidden::default() {
            self.filtered.clone_from(&self.sorted);
        } else if narrowing {
            self.filtered.retain(|&row| keep(&rows[row as usize]));
        } else {
            self.filtered.clear();
            self.filtered.extend(
                self.sorted
                    .iter()
                    .copied()
                    .filter(|&row| keep(&rows[row as usize])),
            );
        }
    }

    fn rebuild_lines(&mut self) {
        self.lines.clear();
        self.groups.clear();
        if !self.grouped() {
            self.lines
                .extend(self.filtered.iter().map(|&row| Line::Socket(row)));
            return;
        }
        // Groups in order of their first row, so the sort column orders the groups too.
        let grouping = self.grouping;
        let mut group_of: HashMap<(Option<u32>, &str), usize> = HashMap::new();
        let mut members: Vec<Vec<u32>> = Vec::new();
        for &row in &self.filtered {
            let found = &self.rows[row as usize];
            let (pid, name) = match grouping {
                Grouping::Container => (None, &*found.container),
                Grouping::Unit => (None, &*found.unit),
                Grouping::None | Grouping::Process => {
                    (found.socket.pids.first().copied(), &*found.program)
                }
            };
            let group = *group_of.entry((pid, name)).or_insert_with(|| {
                let key = found.group_key(grouping);
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

/// Rows by their socket's key: positions only, each hashed by its row's key (a map from keys
/// held a copy of each, 88 bytes a row). The first row of a key is the one found.
#[derive(Default)]
struct RowIndex {
    positions: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

impl std::fmt::Debug for RowIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RowIndex({} rows)", self.positions.len())
    }
}

impl RowIndex {
    fn rebuild(&mut self, rows: &[Row]) {
        let hasher = &self.hasher;
        let hash = |position: &u32| hasher.hash_one(rows[*position as usize].key());
        self.positions.clear();
        self.positions.reserve(rows.len(), hash);
        for (position, row) in rows.iter().enumerate() {
            let key = row.key();
            let same = |other: &u32| rows[*other as usize].key() == key;
            if let Entry::Vacant(vacant) = self.positions.entry(hasher.hash_one(key), same, hash) {
                vacant.insert(position as u32);
            }
        }
    }

    /// The first of `rows` (as last rebuilt) with `key`.
    fn get(&self, rows: &[Row], key: &SocketKey) -> Option<usize> {
        let same = |position: &u32| {
            rows.get(*position as usize)
                .is_some_and(|row| row.key() == *key)
        };
        (self.positions.find(self.hasher.hash_one(key), same)).map(|&position| position as usize)
    }
}

/// Row indices in [`order`]'s order, sorting (value, identity, index) triples where `value`
/// is what `compare` compares (or something ordered the same way).
fn sorted_by<V: Ord>(rows: &[Row], reverse: bool, value: impl Fn(usize, &Row) -> V) -> Vec<u32> {
    fn sort<K: Ord>(rows: &[Row], key: impl Fn(usize, &Row) -> K) -> Vec<u32> {
        let mut keyed: Vec<(K, SocketKey, u32)> = rows
            .iter()
            .enumerate()
            .map(|(i, row)| (key(i, row), row.key(), i as u32))
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
fn text_ranks(rows: &[Row], text: impl Fn(&Row) -> &str) -> Vec<u32> {
    let mut distinct: Vec<&str> = rows
        .iter()
        .map(&text)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    distinct.sort_unstable();
    let rank: HashMap<&str, u32> = distinct
        .into_iter()
        .enumerate()
        .map(|(rank, text)| (text, rank as u32))
        .collect();
    rows.iter().map(|row| rank[text(row)]).collect()
}

/// The table order: the sort column (maybe reversed), then identity, a total order, so rows
/// that tie on the column keep their places between refreshes.
pub fn order(rows: &[Row], sort: Sort, a: u32, b: u32) -> Ordering {
    let (ra, rb) = (&rows[a as usize], &rows[b as usize]);
    let primary = compare(ra, rb, sort.column);
    let primary = if sort.reverse {
        primary.reverse()
    } else {
        primary
    };
    primary
        .then_with(|| ra.key().cmp(&rb.key()))
        .then(a.cmp(&b))
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
        Column::Container => a.context.cmp(&b.context),
        Column::Netns => a.netns.cmp(&b.netns),
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
