//! `--watch`: the sockets that open, close and change state, until interrupted.
//!
//! Opens and state changes come from comparing snapshots taken every `--interval`; closes come
//! from the kernel's close notices as they happen (Linux), so a connection shorter than
//! the interval is reported too. Where there are no notices, closes come from the comparison.

use std::collections::HashMap;
use std::io::{self, BufWriter, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime};

use crate::error::Error;
use crate::filter::Query;
use crate::filter::eval::Owners;
use crate::mode::notice::OwnersNotice;
use crate::model::{
    Cgroup, Event, EventKind, FastHash, Process, Proto, Remnants, Snapshot, Socket, SocketKey,
    SocketState, pair,
};
use crate::output::events;
use crate::platform::system::stdout_reader_gone;
use crate::platform::{CloseNotice, Collector};
use crate::services::Services;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchOptions {
    /// NDJSON (`--json`) instead of one readable line per event.
    pub json: bool,
    /// No service labels on endpoints (readable lines only).
    pub numeric: bool,
    /// How often the socket tables are polled for opens and state changes.
    pub interval: Duration,
}

/// How long a socket gone from a snapshot waits for its close notice (which the kernel sends
/// from a work queue, a moment after the socket left its tables) before the comparison reports it.
const NOTICE_GRACE: Duration = Duration::from_millis(250);

/// While connections no snapshot saw keep closing, the next snapshot comes this soon after the
/// last (not before): more short connections are then seen alive, with their owners, whom a
/// close notice cannot name. Idle, snapshots keep to `--interval`.
const CHURN_SNAPSHOT_GAP: Duration = Duration::from_millis(250);

/// Churn snapshots come no sooner than this many times a snapshot takes, so they cost at most a
/// tenth of a core. The shorter of the last two counts: the full owner scan every 10 s makes one
/// slow whether or not more snapshots come.
const CHURN_COST_FACTOR: u32 = 10;

/// How long a closed socket is remembered after its close, or after a snapshot last listed it:
/// longer than a TIME_WAIT remnant lives (60 s) and than `tcp_fin_timeout`'s default (60 s), so
/// a remnant a snapshot misses for a moment is not reported opened again when the next lists it.
const CLOSED_MEMORY: Duration = Duration::from_secs(120);

/// At most this many closed cookies (and as many closed ends) are remembered; beyond, those
/// remembered longest ago are forgotten. The kernel keeps at most `tcp_max_tw_buckets`
/// remnants (262,144 by default on large machines), so this covers them; a few MB at most.
const CLOSED_MEMORY_LIMIT: usize = 1 << 18;

/// The longest sleep between looks at the stop flag: an interrupt ends the watch this soon.
const STOP_CHECK: Duration = Duration::from_millis(200);

/// A socket as the last snapshot saw it, with its owners' descriptions (shared by all the
/// sockets of a process): a close notice carries no inode, so its owners come from here.
#[derive(Debug, Clone)]
struct Seen {
    socket: Socket,
    owners: Vec<Rc<Process>>,
    /// Who held it last, once its owners closed it and the kernel finishes it alone.
    last_held: Option<Held>,
}

/// A socket's file and owners as the last snapshot that saw them saw them.
#[derive(Debug, Clone)]
struct Held {
    inode: Option<u64>,
    pids: Vec<u32>,
    owners: Vec<Rc<Process>>,
}

impl Seen {
    /// Take `next`, the same socket in a later snapshot. An owner that closed its socket leaves
    /// the kernel finishing it (FIN_WAIT1, LAST_ACK...) with no file and no owner: state events
    /// say so, but its close still names who held it.
    fn update(&mut self, next: Socket, describe: impl Fn(&Socket) -> Vec<Rc<Process>>) {
        let orphaned = next.inode.is_none_or(|inode| inode == 0) && next.pids.is_empty();
        if orphaned && !self.socket.pids.is_empty() {
            self.last_held = Some(Held {
                inode: self.socket.inode,
                pids: self.socket.pids.clone(),
                owners: self.owners.clone(),
            });
        }
        if self.socket.pids != next.pids {
            self.owners = describe(&next);
        }
        self.socket = next;
    }

    /// As its close reports it: with the owners who held it last.
    fn closing(mut self) -> Seen {
        if let Some(held) = self.last_held.take() {
            self.socket.inode = held.inode;
            self.socket.pids = held.pids;
            self.owners = held.owners;
        }
        self
    }
}

/// Keys of sockets reported closed, each until a deadline, at most `limit` of them.
#[derive(Debug)]
struct ClosedMemory<K> {
    until: HashMap<K, Instant, FastHash>,
    limit: usize,
}

impl<K: Eq + std::hash::Hash> Default for ClosedMemory<K> {
    fn default() -> Self {
        ClosedMemory {
            until: HashMap::default(),
            limit: CLOSED_MEMORY_LIMIT,
        }
    }
}

impl<K: Eq + std::hash::Hash> ClosedMemory<K> {
    fn contains(&self, key: &K, now: Instant) -> bool {
        self.until.get(key).is_some_and(|until| *until > now)
    }

    /// Remember `key` for [`CLOSED_MEMORY`] from `now` (again, if a snapshot still lists it).
    fn remember(&mut self, key: K, now: Instant) {
        self.until.insert(key, now + CLOSED_MEMORY);
        if self.until.len() > self.limit {
            self.forget(now);
        }
    }

    /// Forget what expired; over the limit still, the quarter remembered longest ago too, so
    /// a churning watch sheds in batches rather than on every insert.
    fn forget(&mut self, now: Instant) {
        self.until.retain(|_, until| *until > now);
        if self.until.len() > self.limit {
            let mut deadlines: Vec<Instant> = self.until.values().copied().collect();
            let keep = self.limit - self.limit / 4;
            let cut = deadlines.len() - keep;
            let (_, oldest_kept, _) = deadlines.select_nth_unstable(cut);
            let oldest_kept = *oldest_kept;
            self.until.retain(|_, until| *until >= oldest_kept);
            // Closes remembered at the same instant tie at the cut: shed enough of them too.
            let mut excess = self.until.len().saturating_sub(keep);
            self.until.retain(|_, until| {
                let shed = excess > 0 && *until == oldest_kept;
                excess -= usize::from(shed);
                !shed
            });
        }
    }

    fn len(&self) -> usize {
        self.until.len()
    }
}

/// The ends of a TCP connection, which name its TIME_WAIT remnant when the cookies differ.
type Ends = (Proto, SocketAddr, SocketAddr);

/// The watch's memory: what the last snapshot listed, what has left it but may still get its
/// close notice, and which closes were already reported. Pure: time comes in as arguments.
#[derive(Debug, Default)]
pub struct Tracker {
    alive: HashMap<SocketKey, Seen, FastHash>,
    /// Gone from the last snapshot; reported closed by a notice or, at the deadline, by the
    /// comparison.
    vanished: HashMap<SocketKey, (Seen, Instant), FastHash>,
    /// Cookies reported closed while a snapshot may still list them (a TCP connection's
    /// TIME_WAIT remnant keeps its cookie): they are not opened again, for [`CLOSED_MEMORY`]
    /// after the close or after the last snapshot that listed them, whichever is later.
    closed: ClosedMemory<u64>,
    /// The ends of connections reported closed: the remnant of one no snapshot saw gets a
    /// cookie of its own, and is known by its ends (and being a remnant) instead.
    closed_ends: ClosedMemory<Ends>,
    /// Remnants a snapshot listed before any close was reported for their connection: the
    /// close notice, which carries the connection's own cookie, closes the remnant instead.
    remnants: HashMap<Ends, SocketKey, FastHash>,
    /// Account names by uid, for `user` conditions on sockets only a notice saw.
    user_names: HashMap<u32, String>,
    /// The cgroups snapshots described, by id: a closing socket is labelled with its own.
    cgroups: HashMap<u64, Cgroup>,
    snapshots: u64,
}

impl Tracker {
    /// Whether no snapshot was compared yet.
    pub fn is_empty(&self) -> bool {
        self.snapshots == 0
    }

    /// Compare `snapshot` with the last one: opens (`existing` on the first snapshot), state
    /// changes, and closes of what vanished `grace` ago without a notice (at once for zero).
    pub fn snapshot(&mut self, snapshot: Snapshot, now: Instant, grace: Duration) -> Vec<Event> {
        // A table read from /proc/net for once (sock_diag failed just then) has no cookies:
        // compared with cookies, each of its sockets would look closed and opened anew.
        let keyed_by_cookie = self
            .alive
            .keys()
            .next()
            .is_some_and(|key| matches!(key, SocketKey::Cookie(_)));
        if keyed_by_cookie && snapshot.sockets.iter().any(|s| s.cookie.is_none()) {
            return self.expire(now, snapshot.taken_at.unwrap_or_else(SystemTime::now));
        }
        let at = snapshot.taken_at.unwrap_or_else(SystemTime::now);
        let existing = self.snapshots == 0;
        self.snapshots += 1;
        self.user_names.extend(snapshot.user_names);
        self.cgroups.extend(snapshot.cgroups);
        let processes: HashMap<u32, Rc<Process>> = snapshot
            .processes
            .into_iter()
            .map(|(pid, process)| (pid, Rc::new(process)))
            .collect();
        let describe = |socket: &Socket| -> Vec<Rc<Process>> {
            socket
                .pids
                .iter()
                .filter_map(|pid| processes.get(pid).cloned())
                .collect()
        };
        let mut events = Vec::new();
        self.closed.forget(now);
        self.closed_ends.forget(now);
        let alive = &self.alive;
        let pairing = pair(
            &snapshot.sockets,
            |key| alive.contains_key(key).then_some(*key),
            alive.keys().map(|key| (*key, *key)),
            Remnants::Apart,
        );
        for (socket, continues) in snapshot.sockets.into_iter().zip(pairing.continues) {
            let key = SocketKey::of(&socket);
            // A socket listed twice under one key is the same socket, updated twice.
            let previous = continues.or_else(|| self.alive.contains_key(&key).then_some(key));
            // Most sockets are unchanged: updated in place, with no map rebuilt per snapshot.
            if let Some(seen) = previous.and_then(|previous| self.alive.get_mut(&previous)) {
                let from = seen.socket.state;
                seen.update(socket, describe);
                if from != seen.socket.state {
                    events.push(event(EventKind::State { from }, at, seen));
                }
                continue;
            }
            // What remains of a connection already reported closed, listed again: remembered
            // while listed, so a snapshot that misses it for a moment does not make it news.
            let closed_cookie = match key {
                SocketKey::Cookie(cookie) if self.closed.contains(&cookie, now) => Some(cookie),
                _ => None,
            };
            let remnant = remnant_ends(&socket);
            let closed_ends = remnant.filter(|ends| self.closed_ends.contains(ends, now));
            if closed_cookie.is_some() || closed_ends.is_some() {
                if let Some(cookie) = closed_cookie {
                    self.closed.remember(cookie, now);
                }
                if let Some(ends) = closed_ends {
                    self.closed_ends.remember(ends, now);
                }
                continue;
            }
            if let Some(ends) = remnant {
                self.remnants.insert(ends, key);
            }
            let seen = match self.vanished.remove(&key) {
                Some((mut seen, _)) => {
                    let from = seen.socket.state;
                    seen.update(socket, describe);
                    if from != seen.socket.state {
                        events.push(event(EventKind::State { from }, at, &seen));
                    }
                    seen
                }
                None => {
                    let seen = Seen {
                        owners: describe(&socket),
                        socket,
                        last_held: None,
                    };
                    events.push(event(EventKind::Open { existing }, at, &seen));
                    seen
                }
            };
            self.alive.insert(key, seen);
        }
        let deadline = now + grace;
        for key in pairing.gone {
            if let Some(seen) = self.alive.remove(&key) {
                self.vanished.insert(key, (seen, deadline));
            }
        }
        events.extend(self.expire(now, at));
        let (alive, vanished) = (&self.alive, &self.vanished);
        self.remnants
            .retain(|_, key| alive.contains_key(key) || vanished.contains_key(key));
        self.labelled(events)
    }

    /// Each event with the cgroup its socket was made in, where a snapshot described it.
    fn labelled(&self, mut events: Vec<Event>) -> Vec<Event> {
        for event in &mut events {
            if event.cgroup.is_none() {
                event.cgroup = (event.socket.cgroup)
                    .and_then(|id| self.cgroups.get(&id))
                    .cloned();
            }
        }
        events
    }

    /// Closes of sockets whose notice did not come by their deadline.
    pub fn expire(&mut self, now: Instant, at: SystemTime) -> Vec<Event> {
        let mut expired: Vec<SocketKey> = self
            .vanished
            .iter()
            .filter(|(_, (_, deadline))| *deadline <= now)
            .map(|(key, _)| *key)
            .collect();
        expired.sort_by_key(|key| match key {
            SocketKey::Cookie(cookie) => (*cookie, None),
            SocketKey::Ends { local, .. } => (0, Some(*local)),
        });
        let mut events = Vec::with_capacity(expired.len());
        for key in expired {
            if let Some((seen, _)) = self.vanished.remove(&key) {
                self.remember_closed(&seen.socket, now);
                events.push(event(EventKind::Close, at, &seen.closing()));
            }
        }
        self.labelled(events)
    }

    /// Keep `socket`'s remnant, if a snapshot lists it again, from being reported opened anew.
    fn remember_closed(&mut self, socket: &Socket, now: Instant) {
        if let Some(cookie) = socket.cookie {
            self.closed.remember(cookie, now);
        }
        if let (Proto::Tcp, Some(remote)) = (socket.proto, socket.remote) {
            self.closed_ends
                .remember((socket.proto, socket.local, remote), now);
        }
    }

    /// How many closed sockets the tracker remembers: bounded however fast connections churn.
    pub fn closed_remembered(&self) -> usize {
        self.closed.len() + self.closed_ends.len() + self.remnants.len()
    }

    /// The earliest moment [`Tracker::expire`] has something to report.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.vanished.values().map(|(_, deadline)| *deadline).min()
    }

    /// Closes the kernel reported: owners and inode from the memory of snapshots. A socket no
    /// snapshot saw is reported opened then closed, if the query and filter want it.
    pub fn closed(
        &mut self,
        sockets: Vec<Socket>,
        at: SystemTime,
        now: Instant,
        query: &Query,
    ) -> Vec<Event> {
        let mut events = Vec::new();
        for mut socket in sockets {
            let Some(cookie) = socket.cookie else {
                continue;
            };
            if self.closed.contains(&cookie, now) {
                continue;
            }
            // The remnant of a connection no snapshot saw alive, listed under a cookie of its
            // own before this notice came: the same socket, now reported closed.
            let remnant = socket
                .remote
                .map(|remote| (socket.proto, socket.local, remote))
                .and_then(|ends| self.remnants.remove(&ends));
            let remembered = [Some(SocketKey::Cookie(cookie)), remnant]
                .into_iter()
                .flatten()
                .find_map(|key| {
                    self.alive
                        .remove(&key)
                        .or_else(|| self.vanished.remove(&key).map(|(seen, _)| seen))
                })
                .map(Seen::closing);
            if let Some(seen) = &remembered
                && let Some(remnant_cookie) = seen.socket.cookie
            {
                self.closed.remember(remnant_cookie, now);
            }
            let owners = match remembered {
                Some(seen) => {
                    socket.inode = seen.socket.inode;
                    socket.pids = seen.socket.pids;
                    // A notice has no inode, so the kernel's uid 0 in it reads as a placeholder.
                    socket.uid = socket.uid.or(seen.socket.uid);
                    // Nor does it say the socket's cgroup.
                    socket.cgroup = socket.cgroup.or(seen.socket.cgroup);
                    seen.owners
                }
                None => {
                    if !self.wanted_unseen(&socket, query) {
                        continue;
                    }
                    let seen = Seen {
                        socket: socket.clone(),
                        owners: Vec::new(),
                        last_held: None,
                    };
                    events.push(event(EventKind::Open { existing: false }, at, &seen));
                    Vec::new()
                }
            };
            self.remember_closed(&socket, now);
            let seen = Seen {
                socket,
                owners,
                last_held: None,
            };
            events.push(event(EventKind::Close, at, &seen));
        }
        self.labelled(events)
    }

    /// Whether a socket only a close notice saw is one the user asked for. One that never had
    /// a port (created and closed unused) is not; one without a peer was listening (a TCP
    /// listener, an unconnected UDP socket) for `-l`/`-a`; owner conditions find no owner.
    fn wanted_unseen(&self, socket: &Socket, query: &Query) -> bool {
        let no_processes = HashMap::new();
        let owners = Owners {
            processes: &no_processes,
            user_names: &self.user_names,
            cgroups: &self.cgroups,
        };
        let listening = match socket.proto {
            Proto::Tcp => SocketState::Listen,
            Proto::Udp => SocketState::Unconn,
        };
        let wants_state = if socket.remote.is_none() {
            query.wants_state(listening)
        } else {
            query.wants_state(socket.state)
        };
        socket.local.port() != 0
            && query.wants_proto(socket.proto)
            && query.wants_family(socket.family())
            && wants_state
            && query
                .filter
                .as_ref()
                .is_none_or(|filter| filter.matches(socket, owners))
    }
}

/// The ends of a socket that may be what remains of a closed connection: a kernel mini-socket
/// (TIME_WAIT, or FIN_WAIT2 after its owner closed), which has no file and so no inode.
fn remnant_ends(socket: &Socket) -> Option<Ends> {
    let remote = socket.remote?;
    let mini = matches!(socket.state, SocketState::TimeWait | SocketState::FinWait2);
    (mini && socket.inode.is_none()).then_some((socket.proto, socket.local, remote))
}

fn event(kind: EventKind, at: SystemTime, seen: &Seen) -> Event {
    Event {
        kind,
        at,
        socket: seen.socket.clone(),
        processes: seen
            .owners
            .iter()
            .map(|process| (process.pid, Process::clone(process)))
            .collect(),
        cgroup: None,
    }
}

/// Where the events go, flushed after each line: a reader that went away ends the watch.
struct Printer {
    out: BufWriter<io::Stdout>,
    services: Services,
    options: WatchOptions,
    /// The owners `--json` has described so far (`process` events).
    described: events::Described,
}

impl Printer {
    fn print(&mut self, events: &[Event]) -> Result<(), Error> {
        for event in events {
            if self.options.json {
                events::write_json(&mut self.out, event, &self.services, &mut self.described)
            } else {
                events::write_line(&mut self.out, event, &self.services, self.options.numeric)
            }
            .and_then(|()| self.out.flush())
            .map_err(Error::Write)?;
        }
        Ok(())
    }
}

/// Flags raised by SIGINT and SIGTERM: the watch ends with status 0, its output flushed.
fn stop_flag() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // Without the handler the signal keeps its default action, which ends the watch too.
        let _ = signal_hook::flag::register(signal, Arc::clone(&stop));
    }
    stop
}

pub fn run(query: &Query, options: &WatchOptions) -> Result<(), Error> {
    let stop = stop_flag();
    let (sender, notices) = mpsc::channel();
    let mut notices_live = match crate::platform::watch_closes(query, sender) {
        Ok(unsubscribed) => {
            for why in unsubscribed {
                eprintln!("rnetstat: {why}: its closes come from comparing refreshes");
            }
            true
        }
        Err(why) => {
            eprintln!(
                "rnetstat: {why}: closes come from comparing refreshes, and a socket that \
                 opens and closes between two is missed"
            );
            false
        }
    };
    let mut printer = Printer {
        out: BufWriter::new(io::stdout()),
        services: Services::load(),
        options: options.clone(),
        described: events::Described::default(),
    };
    let mut collector = Collector::new(query.clone());
    let mut tracker = Tracker::default();
    let mut owners_notice = OwnersNotice::default();
    let mut warned_overrun = false;
    let mut next_snapshot = Instant::now();
    let mut last_snapshot = next_snapshot;
    let mut snapshots_took = [Duration::MAX; 2];
    while !stop.load(Ordering::Relaxed) {
        if stdout_reader_gone() {
            return Ok(());
        }
        let now = Instant::now();
        if now >= next_snapshot {
            last_snapshot = now;
            let snapshot = collector.snapshot().map_err(Error::Collect)?;
            snapshots_took = [snapshots_took[1], now.elapsed()];
            owners_notice.note(&snapshot.owners);
            let grace = if notices_live {
                NOTICE_GRACE
            } else {
                Duration::ZERO
            };
            let pending: Vec<CloseNotice> = notices.try_iter().collect();
            // The sockets that exist come first of all. Later, notices that came while the
            // snapshot was taken go first: a socket they report closed is then not opened
            // again by the comparison (a TCP connection's TIME_WAIT remnant keeps its cookie).
            let mut snapshot = Some(snapshot);
            if tracker.is_empty()
                && let Some(snapshot) = snapshot.take()
            {
                let events = tracker.snapshot(snapshot, Instant::now(), grace);
                printer.print(&events)?;
            }
            for notice in pending {
                let events = on_notice(notice, &mut tracker, query, &mut warned_overrun);
                printer.print(&events)?;
            }
            if let Some(snapshot) = snapshot {
                let events = tracker.snapshot(snapshot, Instant::now(), grace);
                printer.print(&events)?;
            }
            // Keep the cadence: a slow snapshot shortens the pause, never shifts the next.
            next_snapshot += options.interval;
            if next_snapshot < Instant::now() {
                next_snapshot = Instant::now() + options.interval;
            }
        }
        let now = Instant::now();
        let wake = [Some(next_snapshot), tracker.next_deadline()]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(next_snapshot)
            .min(now + STOP_CHECK);
        let wait = wake.saturating_duration_since(now);
        let events = if notices_live {
            match notices.recv_timeout(wait) {
                Ok(notice) => on_notice(notice, &mut tracker, query, &mut warned_overrun),
                Err(RecvTimeoutError::Timeout) => Vec::new(),
                Err(RecvTimeoutError::Disconnected) => {
                    notices_live = false;
                    Vec::new()
                }
            }
        } else {
            std::thread::sleep(wait);
            Vec::new()
        };
        if events
            .iter()
            .any(|e| e.kind == EventKind::Open { existing: false })
        {
            let took = snapshots_took[0].min(snapshots_took[1]);
            let gap = CHURN_SNAPSHOT_GAP.max(took.saturating_mul(CHURN_COST_FACTOR));
            next_snapshot = next_snapshot.min(last_snapshot + gap);
        }
        printer.print(&events)?;
        let expired = tracker.expire(Instant::now(), SystemTime::now());
        printer.print(&expired)?;
    }
    printer.out.flush().map_err(Error::Write)
}

fn on_notice(
    notice: CloseNotice,
    tracker: &mut Tracker,
    query: &Query,
    warned_overrun: &mut bool,
) -> Vec<Event> {
    match notice {
        CloseNotice::Closed { sockets, at } => tracker.closed(sockets, at, Instant::now(), query),
        CloseNotice::Overrun => {
            if !*warned_overrun {
                eprintln!(
                    "rnetstat: the kernel dropped close notices (too many at once): closes \
                     are found by comparing refreshes until it catches up, and a socket that \
                     opened and closed meanwhile is missed"
                );
                *warned_overrun = true;
            }
            Vec::new()
        }
        CloseNotice::Ended(e) => {
            eprintln!(
                "rnetstat: the kernel's close notices stopped ({e}): closes come from \
                 comparing refreshes from now on"
            );
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::Listening;
    use crate::model::TcpInfo;

    fn tcp(local: &str, remote: &str, state: SocketState, cookie: u64) -> Socket {
        Socket {
            remote: Some(remote.parse().unwrap()),
            uid: Some(0),
            inode: Some(cookie + 1000),
            pids: vec![42],
            cookie: Some(cookie),
            ..Socket::new(Proto::Tcp, state, local.parse().unwrap())
        }
    }

    fn process() -> Process {
        Process {
            pid: 42,
            name: "server".to_string(),
            user: None,
            cmdline: None,
            argv: None,
            cgroup: None,
        }
    }

    fn snapshot(sockets: Vec<Socket>) -> Snapshot {
        Snapshot {
            sockets,
            processes: HashMap::from([(42, process())]),
            taken_at: Some(SystemTime::UNIX_EPOCH),
            ..Snapshot::default()
        }
    }

    /// What the kernel says of a destroyed socket: state CLOSE, no inode, no owner, final bytes.
    fn notice_of(socket: &Socket) -> Socket {
        Socket {
            inode: None,
            uid: None,
            pids: Vec::new(),
            tcp_info: Some(Box::new(TcpInfo {
                bytes_received: Some(7),
                ..TcpInfo::default()
            })),
            state: SocketState::Close,
            ..socket.clone()
        }
    }

    fn kinds(events: &[Event]) -> Vec<(EventKind, u16)> {
        events
            .iter()
            .map(|e| (e.kind, e.socket.local.port()))
            .collect()
    }

    #[test]
    fn a_socket_its_owner_closed_is_reported_closed_with_that_owner() {
        let mut tracker = Tracker::default();
        let start = Instant::now();
        let established = tcp(
            "127.0.0.1:5000",
            "127.0.0.1:80",
            SocketState::Established,
            1,
        );
        tracker.snapshot(snapshot(vec![established.clone()]), start, NOTICE_GRACE);
        // The owner closed it: the kernel finishes it with no file and no owner.
        let orphan = Socket {
            inode: None,
            pids: Vec::new(),
            state: SocketState::FinWait1,
            ..established.clone()
        };
        let events = tracker.snapshot(snapshot(vec![orphan.clone()]), start, NOTICE_GRACE);
        assert_eq!(events.len(), 1);
        assert!(
            events[0].socket.pids.is_empty(),
            "the state event tells the truth"
        );
        let events = tracker.closed(
            vec![notice_of(&orphan)],
            SystemTime::UNIX_EPOCH,
            start,
            &all(),
        );
        assert_eq!(kinds(&events), [(EventKind::Close, 5000)]);
        assert_eq!(events[0].socket.pids, [42]);
        assert_eq!(events[0].socket.inode, established.inode);
        assert_eq!(events[0].processes[&42].name, "server");
        // Closed by the comparison instead (no notice): the same owner.
        let mut tracker = Tracker::default();
        tracker.snapshot(snapshot(vec![established]), start, Duration::ZERO);
        tracker.snapshot(snapshot(vec![orphan]), start, Duration::ZERO);
        let events = tracker.snapshot(snapshot(vec![]), start, Duration::ZERO);
        assert_eq!(kinds(&events), [(EventKind::Close, 5000)]);
        assert_eq!(events[0].socket.pids, [42]);
    }

    const OPEN: EventKind = EventKind::Open { existing: false };
    const EXISTING: EventKind = EventKind::Open { existing: true };

    fn all() -> Query {
        Query {
            listening: Listening::All,
            ..Query::default()
        }
    }

    #[test]
    fn snapshots_compared_give_opens_state_changes_and_closes() {
        let mut tracker = Tracker::default();
        let now = Instant::now();
        let a = tcp("127.0.0.1:1", "127.0.0.1:9", SocketState::Established, 1);
        let b = tcp("127.0.0.1:2", "127.0.0.1:9", SocketState::Established, 2);
        let events = tracker.snapshot(snapshot(vec![a.clone(), b.clone()]), now, Duration::ZERO);
        assert_eq!(kinds(&events), [(EXISTING, 1), (EXISTING, 2)]);
        assert_eq!(events[0].processes[&42].name, "server");
        let c = tcp("127.0.0.1:3", "127.0.0.1:9", SocketState::SynSent, 3);
        let b_waits = Socket {
            state: SocketState::CloseWait,
            ..b
        };
        let events = tracker.snapshot(snapshot(vec![b_waits, c]), now, Duration::ZERO);
        let from = SocketState::Established;
        assert_eq!(
            kinds(&events),
            [
                (EventKind::State { from }, 2),
                (OPEN, 3),
                (EventKind::Close, 1)
            ]
        );
        assert_eq!(events[0].socket.state, SocketState::CloseWait);
        // The comparison's close shows the socket as last seen, with its owners.
        assert_eq!(events[2].socket, a);
        assert_eq!(events[2].processes[&42], process());
    }

    #[test]
    fn a_notice_closes_a_seen_socket_with_its_remembered_owners_and_once_only() {
        let mut tracker = Tracker::default();
        let now = Instant::now();
        let grace = Duration::from_millis(250);
        let a = tcp("127.0.0.1:1", "127.0.0.1:9", SocketState::Established, 1);
        tracker.snapshot(snapshot(vec![a.clone()]), now, grace);
        // Gone from the next snapshot; the notice comes within the grace.
        assert!(tracker.snapshot(snapshot(vec![]), now, grace).is_empty());
        assert_eq!(tracker.next_deadline(), Some(now + grace));
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(5);
        let events = tracker.closed(vec![notice_of(&a)], at, now, &all());
        assert_eq!(kinds(&events), [(EventKind::Close, 1)]);
        let closed = &events[0];
        assert_eq!(closed.at, at);
        assert_eq!(closed.socket.state, SocketState::Close);
        assert_eq!(closed.socket.inode, a.inode);
        assert_eq!(closed.socket.uid, Some(0));
        assert_eq!(closed.socket.pids, [42]);
        assert_eq!(closed.processes[&42], process());
        assert_eq!(
            closed.socket.tcp_info.as_ref().unwrap().bytes_received,
            Some(7)
        );
        assert!(tracker.expire(now + grace, at).is_empty());
        assert_eq!(tracker.next_deadline(), None);
        // The same notice again (or a second look) reports nothing more.
        assert!(
            tracker
                .closed(vec![notice_of(&a)], at, now, &all())
                .is_empty()
        );
    }

    #[test]
    fn a_socket_gone_without_a_notice_is_closed_at_its_deadline() {
        let mut tracker = Tracker::default();
        let now = Instant::now();
        let grace = Duration::from_millis(250);
        let a = tcp("127.0.0.1:1", "127.0.0.1:9", SocketState::TimeWait, 1);
        tracker.snapshot(snapshot(vec![a]), now, grace);
        tracker.snapshot(snapshot(vec![]), now, grace);
        let at = SystemTime::UNIX_EPOCH;
        assert!(tracker.expire(now + grace / 2, at).is_empty());
        assert_eq!(
            kinds(&tracker.expire(now + grace, at)),
            [(EventKind::Close, 1)]
        );
    }

    #[test]
    fn a_socket_back_before_its_deadline_was_never_closed() {
        let mut tracker = Tracker::default();
        let now = Instant::now();
        let grace = Duration::from_millis(250);
        let a = tcp("127.0.0.1:1", "127.0.0.1:9", SocketState::Established, 1);
        tracker.snapshot(snapshot(vec![a.clone()]), now, grace);
        tracker.snapshot(snapshot(vec![]), now, grace);
        assert!(tracker.snapshot(snapshot(vec![a]), now, grace).is_empty());
        assert!(
            tracker
                .expire(now + grace, SystemTime::UNIX_EPOCH)
                .is_empty()
        );
    }

    #[test]
    fn a_connection_no_snapshot_saw_opens_then_closes_and_its_remnant_stays_quiet() {
        let mut tracker = Tracker::default();
        let now = Instant::now();
        tracker.snapshot(snapshot(vec![]), now, Duration::ZERO);
        let short = tcp("127.0.0.1:5", "127.0.0.1:9", SocketState::Established, 5);
        let at = SystemTime::UNIX_EPOCH;
        let events = tracker.closed(vec![notice_of(&short)], at, now, &all());
        assert_eq!(kinds(&events), [(OPEN, 5), (EventKind::Close, 5)]);
        assert!(events[1].processes.is_empty());
        assert!(events[1].socket.pids.is_empty());
        // Its TIME_WAIT remnant: the same cookie, or a cookie of its own and no inode.
        let same_cookie = Socket {
            inode: None,
            pids: vec![],
            state: SocketState::TimeWait,
            ..short.clone()
        };
        let own_cookie = Socket {
            cookie: Some(77),
            ..same_cookie.clone()
        };
        for remnant in [same_cookie, own_cookie] {
            let events = tracker.snapshot(snapshot(vec![remnant]), now, Duration::ZERO);
            assert!(events.is_empty(), "{events:?}");
        }
        // A connection on the same ends that is not a remnant is news.
        tracker.snapshot(snapshot(vec![]), now, Duration::ZERO);
        let again = Socket {
            cookie: Some(78),
            inode: None,
            ..short
        };
        let events = tracker.snapshot(snapshot(vec![again]), now, Duration::ZERO);
        assert_eq!(kinds(&events), [(OPEN, 5)]);
    }

    /// The churn that doubled connections: a refresh lists the TIME_WAIT remnant of a
    /// connection no refresh saw alive (a cookie of its own, no inode) before the kernel's
    /// close notice of the connection arrives. One open, one close: the remnant's.
    #[test]
    fn a_remnant_listed_before_its_connections_notice_is_one_socket() {
        let mut tracker = Tracker::default();
        let now = Instant::now();
        tracker.snapshot(snapshot(vec![]), now, NOTICE_GRACE);
        let short = tcp("127.0.0.1:5", "127.0.0.1:9", SocketState::Established, 5);
        let remnant = Socket {
            cookie: Some(77),
            inode: None,
            uid: None,
            pids: vec![],
            state: SocketState::TimeWait,
            ..short.clone()
        };
        let events = tracker.snapshot(snapshot(vec![remnant.clone()]), now, NOTICE_GRACE);
        assert_eq!(kinds(&events), [(OPEN, 5)]);
        let at = SystemTime::UNIX_EPOCH;
        let events = tracker.closed(vec![notice_of(&short)], at, now, &all());
        assert_eq!(kinds(&events), [(EventKind::Close, 5)]);
        // The remnant stays listed for its 60 s, then goes: nothing more either way.
        let events = tracker.snapshot(snapshot(vec![remnant]), now, NOTICE_GRACE);
        assert!(events.is_empty(), "{events:?}");
        tracker.snapshot(snapshot(vec![]), now, NOTICE_GRACE);
        assert!(tracker.expire(now + NOTICE_GRACE, at).is_empty());
    }

    /// A refresh that misses a closed connection's remnant once (the kernel's dump skips
    /// sockets that move while it walks a busy table) does not make the remnant news when the
    /// next refresh lists it again, whether a notice or the comparison reported the close.
    #[test]
    fn a_remnant_a_refresh_missed_once_is_not_opened_again() {
        let at = SystemTime::UNIX_EPOCH;
        let now = Instant::now();
        let a = tcp("127.0.0.1:5", "127.0.0.1:9", SocketState::Established, 5);
        let remnant = Socket {
            inode: None,
            uid: None,
            pids: vec![],
            state: SocketState::TimeWait,
            ..a.clone()
        };
        // Closed by the kernel's notice.
        let mut tracker = Tracker::default();
        tracker.snapshot(snapshot(vec![a.clone()]), now, NOTICE_GRACE);
        let events = tracker.closed(vec![notice_of(&a)], at, now, &all());
        assert_eq!(kinds(&events), [(EventKind::Close, 5)]);
        for listed in [vec![remnant.clone()], vec![], vec![remnant.clone()]] {
            let events = tracker.snapshot(snapshot(listed), now, NOTICE_GRACE);
            assert!(events.is_empty(), "{events:?}");
        }
        // Closed by the comparison: the remnant was listed, then missed past the grace.
        let mut tracker = Tracker::default();
        tracker.snapshot(snapshot(vec![remnant.clone()]), now, Duration::ZERO);
        let events = tracker.snapshot(snapshot(vec![]), now, Duration::ZERO);
        assert_eq!(kinds(&events), [(EventKind::Close, 5)]);
        let events = tracker.snapshot(snapshot(vec![remnant]), now, Duration::ZERO);
        assert!(events.is_empty(), "{events:?}");
    }

    #[test]
    fn the_memory_of_closes_is_bounded_in_time_and_count() {
        let mut tracker = Tracker::default();
        tracker.closed.limit = 100;
        tracker.closed_ends.limit = 100;
        let now = Instant::now();
        tracker.snapshot(snapshot(vec![]), now, Duration::ZERO);
        for i in 0..1000u16 {
            let short = tcp(
                &format!("127.0.0.1:{}", 10_000 + i),
                "127.0.0.1:9",
                SocketState::Established,
                u64::from(i) + 1,
            );
            let events =
                tracker.closed(vec![notice_of(&short)], SystemTime::UNIX_EPOCH, now, &all());
            assert_eq!(events.len(), 2);
            assert!(tracker.closed.len() <= 100 && tracker.closed_ends.len() <= 100);
        }
        assert!(tracker.closed_remembered() >= 150, "the newest are kept");
        // Past the memory, with no snapshot listing them, all is forgotten.
        tracker.snapshot(snapshot(vec![]), now + CLOSED_MEMORY, Duration::ZERO);
        assert_eq!(tracker.closed_remembered(), 0);
    }

    #[test]
    fn sockets_only_a_notice_saw_are_kept_only_when_the_query_wants_them() {
        use crate::filter::parse::{parse, split_words};
        let at = SystemTime::UNIX_EPOCH;
        let v4 = tcp("127.0.0.1:5", "127.0.0.1:9", SocketState::Established, 5);
        let v6 = tcp("[::1]:6", "[::1]:9", SocketState::Established, 6);
        let unbound = Socket {
            remote: None,
            ..tcp("0.0.0.0:0", "0.0.0.0:0", SocketState::Close, 7)
        };
        let listener = Socket {
            remote: None,
            ..tcp("127.0.0.1:8", "0.0.0.0:0", SocketState::Listen, 8)
        };
        let ports = |query: &Query| {
            let mut tracker = Tracker::default();
            let notices = [&v4, &v6, &unbound, &listener].map(notice_of).to_vec();
            let events = tracker.closed(notices, at, Instant::now(), query);
            let mut ports: Vec<u16> = events.iter().map(|e| e.socket.local.port()).collect();
            ports.dedup();
            ports
        };
        assert_eq!(ports(&all()), [5, 6, 8]);
        let connected_only = Query {
            listening: Listening::Exclude,
            ..Query::default()
        };
        assert_eq!(ports(&connected_only), [5, 6]);
        let only_v4 = Query {
            ipv6: false,
            ..all()
        };
        assert_eq!(ports(&only_v4), [5, 8]);
        let listening = Query {
            listening: Listening::Only,
            ..Query::default()
        };
        assert_eq!(ports(&listening), [8]);
        let words = split_words(&["sport = :6".to_string()]);
        let filter = parse(&words, &Services::builtin(), &[Proto::Tcp, Proto::Udp]).unwrap();
        let filtered = Query {
            filter: Some(filter),
            ..all()
        };
        assert_eq!(ports(&filtered), [6]);
        let words = split_words(&["process server".to_string()]);
        let filter = parse(&words, &Services::builtin(), &[Proto::Tcp, Proto::Udp]).unwrap();
        let by_owner = Query {
            filter: Some(filter),
            ..all()
        };
        assert!(ports(&by_owner).is_empty());
    }

    #[test]
    fn a_snapshot_without_cookies_among_cookie_keyed_ones_is_not_compared() {
        let mut tracker = Tracker::default();
        let now = Instant::now();
        let a = tcp("127.0.0.1:1", "127.0.0.1:9", SocketState::Established, 1);
        tracker.snapshot(snapshot(vec![a.clone()]), now, Duration::ZERO);
        let from_proc = Socket {
            cookie: None,
            ..a.clone()
        };
        assert!(
            tracker
                .snapshot(snapshot(vec![from_proc]), now, Duration::ZERO)
                .is_empty()
        );
        assert!(
            tracker
                .snapshot(snapshot(vec![a]), now, Duration::ZERO)
                .is_empty()
        );
    }

    #[test]
    fn without_cookies_sockets_are_known_by_their_ends_and_inode() {
        let mut tracker = Tracker::default();
        let now = Instant::now();
        let plain = |inode| Socket {
            cookie: None,
            inode: Some(inode),
            ..tcp("127.0.0.1:1", "127.0.0.1:9", SocketState::Established, 1)
        };
        tracker.snapshot(snapshot(vec![plain(10)]), now, Duration::ZERO);
        assert!(
            tracker
                .snapshot(snapshot(vec![plain(10)]), now, Duration::ZERO)
                .is_empty()
        );
        let events = tracker.snapshot(snapshot(vec![plain(11)]), now, Duration::ZERO);
        assert_eq!(kinds(&events), [(OPEN, 1), (EventKind::Close, 1)]);
        assert_eq!(events[1].socket.inode, Some(10));
    }
}
