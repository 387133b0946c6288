//! `--watch`'s events: one NDJSON object per line (docs/json.md), or one readable line each.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{self, Write};

use serde::Serialize;

use crate::format::{NO_PEER, push_escaped_name, write_endpoint};
use crate::model::{Event, EventKind, Family, Process};
use crate::output::json::{process_object, rfc3339, socket_object};
use crate::services::Services;

/// Bumped on any change that could break a reader of the event stream; adding a field is not.
pub const EVENT_SCHEMA_VERSION: u32 = 2;

#[derive(Serialize)]
struct EventView<S: Serialize> {
    version: u32,
    event: &'static str,
    at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    existing: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<&'static str>,
    socket: S,
}

fn name(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Open { .. } => "open",
        EventKind::Close => "close",
        EventKind::State { .. } => "state",
    }
}

/// `{"version":2,"event":"process","at":..,"process":{..}}`: an owner described once.
#[derive(Serialize)]
struct ProcessEventView<P: Serialize> {
    version: u32,
    event: &'static str,
    at: String,
    process: P,
}

/// The processes a watch run has described, each with a hash of its description: a socket's
/// owners are pids, and a pid is described (a `process` event) before its first mention and
/// again when its description changed (pid reuse, a new cmdline). Bounded: past
/// [`Described::LIMIT`] pids it forgets them all and describes each again when next mentioned.
#[derive(Default)]
pub struct Described {
    seen: HashMap<u32, u64>,
}

impl Described {
    pub const LIMIT: usize = 65_536;

    /// Whether `process` needs describing, remembering that it is described from now on.
    fn describe(&mut self, process: &Process) -> bool {
        let mut hasher = DefaultHasher::new();
        (
            &process.name,
            &process.user,
            &process.cmdline,
            &process.argv,
        )
            .hash(&mut hasher);
        let hash = hasher.finish();
        if self.seen.get(&process.pid) == Some(&hash) {
            return false;
        }
        if self.seen.len() >= Self::LIMIT {
            self.seen.clear();
        }
        self.seen.insert(process.pid, hash);
        true
    }
}

/// One event as one line of JSON, after a `process` line for each owner not yet described.
pub fn write_json<W: Write>(
    out: &mut W,
    event: &Event,
    services: &Services,
    described: &mut Described,
) -> io::Result<()> {
    let at = rfc3339(event.at);
    let mut pids: Vec<u32> = event.socket.pids.clone();
    pids.sort_unstable();
    pids.dedup();
    for process in pids.iter().filter_map(|pid| event.processes.get(pid)) {
        if described.describe(process) {
            let view = ProcessEventView {
                version: EVENT_SCHEMA_VERSION,
                event: "process",
                at: at.clone(),
                process: process_object(process),
            };
            serde_json::to_writer(&mut *out, &view).map_err(io::Error::from)?;
            out.write_all(b"\n")?;
        }
    }
    // --watch names no hosts: its events go out as they happen, never waiting on DNS.
    let no_names = HashMap::new();
    let view = EventView {
        version: EVENT_SCHEMA_VERSION,
        event: name(event.kind),
        at,
        existing: matches!(event.kind, EventKind::Open { existing: true }).then_some(true),
        from: match event.kind {
            EventKind::State { from } => Some(from.as_str()),
            _ => None,
        },
        socket: socket_object(
            &event.processes,
            services,
            &event.socket,
            event.cgroup.as_ref(),
            &no_names,
        ),
    };
    serde_json::to_writer(&mut *out, &view).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

/// One event as one line: time, event, protocol, local -> remote (the table's endpoints),
/// state (`FROM->TO` for a change), then the owners as `pid/name`, `,` between, `-` for none.
pub fn write_line<W: Write>(
    out: &mut W,
    event: &Event,
    services: &Services,
    numeric: bool,
) -> io::Result<()> {
    let socket = &event.socket;
    let service = |port| {
        if numeric {
            None
        } else {
            services.name(port, socket.proto)
        }
    };
    let mut line = String::with_capacity(128);
    line.push_str(&rfc3339(event.at));
    line.push(' ');
    line.push_str(&format!("{:<5} ", name(event.kind)));
    line.push_str(socket.proto.as_str());
    if socket.family() == Family::Ipv6 {
        line.push('6');
    }
    line.push(' ');
    write_endpoint(&mut line, socket.local, service(socket.local.port()));
    line.push_str(" -> ");
    match socket.remote {
        Some(remote) => write_endpoint(&mut line, remote, service(remote.port())),
        None => line.push_str(NO_PEER),
    }
    line.push(' ');
    if let EventKind::State { from } = event.kind {
        line.push_str(from.as_str());
        line.push_str("->");
    }
    line.push_str(socket.state.as_str());
    line.push(' ');
    let mut owners = socket
        .pids
        .iter()
        .filter_map(|pid| event.processes.get(pid))
        .peekable();
    if owners.peek().is_none() {
        line.push('-');
    }
    for (i, process) in owners.enumerate() {
        if i > 0 {
            line.push(',');
        }
        line.push_str(&process.pid.to_string());
        line.push('/');
        push_escaped_name(&mut line, &process.name);
    }
    line.push('\n');
    out.write_all(line.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Process, Proto, Socket, SocketState};
    use std::collections::HashMap;
    use std::time::{Duration, UNIX_EPOCH};

    fn event(kind: EventKind) -> Event {
        let socket = Socket {
            remote: Some("127.0.0.1:51234".parse().unwrap()),
            pids: vec![4242, 7],
            ..Socket::new(
                Proto::Tcp,
                SocketState::CloseWait,
                "127.0.0.1:8080".parse().unwrap(),
            )
        };
        let process = Process {
            pid: 4242,
            name: "evil\u{1b}[2J name".to_string(),
            user: None,
            cmdline: None,
            argv: None,
            cgroup: None,
        };
        Event {
            kind,
            at: UNIX_EPOCH + Duration::from_millis(1_795_219_199_123),
            socket,
            processes: HashMap::from([(4242, process)]),
            cgroup: None,
        }
    }

    #[test]
    fn a_readable_line_has_the_table_endpoints_and_escaped_owners() {
        let mut out = Vec::new();
        let state = event(EventKind::State {
            from: SocketState::Established,
        });
        write_line(&mut out, &state, &Services::builtin(), false).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2026-11-20T23:59:59.123Z state tcp 127.0.0.1:8080(http-alt) -> 127.0.0.1:51234 \
             ESTABLISHED->CLOSE_WAIT 4242/evil\\x1b[2J\\x20name\n"
        );
        let mut out = Vec::new();
        let mut closed = event(EventKind::Close);
        closed.socket.pids.clear();
        closed.socket.remote = None;
        write_line(&mut out, &closed, &Services::builtin(), true).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2026-11-20T23:59:59.123Z close tcp 127.0.0.1:8080 -> *:* CLOSE_WAIT -\n"
        );
    }

    #[test]
    fn json_events_carry_existing_and_from_only_where_they_mean_something() {
        let json = |kind| {
            let mut out = Vec::new();
            let mut described = Described::default();
            described.describe(&event(kind).processes[&4242]);
            write_json(&mut out, &event(kind), &Services::builtin(), &mut described).unwrap();
            assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
            serde_json::from_slice::<serde_json::Value>(&out).unwrap()
        };
        let existing = json(EventKind::Open { existing: true });
        assert_eq!(existing["version"], EVENT_SCHEMA_VERSION);
        assert_eq!(existing["event"], "open");
        assert_eq!(existing["existing"], true);
        assert_eq!(existing["at"], "2026-11-20T23:59:59.123Z");
        assert_eq!(existing["socket"]["processes"], serde_json::json!([4242]));
        assert_eq!(existing["socket"]["local"]["service"], "http-alt");
        let opened = json(EventKind::Open { existing: false });
        assert!(opened.get("existing").is_none(), "{opened}");
        assert!(opened.get("from").is_none(), "{opened}");
        let changed = json(EventKind::State {
            from: SocketState::Established,
        });
        assert_eq!(changed["from"], "ESTABLISHED");
        assert_eq!(changed["socket"]["state"], "CLOSE_WAIT");
        assert_eq!(json(EventKind::Close)["event"], "close");
    }

    /// A pid is described before its first mention, not again while unchanged, and again when
    /// its description changes (a reused pid).
    #[test]
    fn a_process_is_described_once_and_again_when_it_changes() {
        let mut described = Described::default();
        let lines = |event: &Event, described: &mut Described| {
            let mut out = Vec::new();
            write_json(&mut out, event, &Services::builtin(), described).unwrap();
            let text = String::from_utf8(out).unwrap();
            (text.lines())
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                .collect::<Vec<_>>()
        };
        let first = lines(&event(EventKind::Open { existing: false }), &mut described);
        assert_eq!(first.len(), 2, "{first:?}");
        assert_eq!(first[0]["event"], "process");
        assert_eq!(first[0]["version"], EVENT_SCHEMA_VERSION);
        assert_eq!(first[0]["process"]["pid"], 4242);
        assert_eq!(first[0]["process"]["name"], "evil\u{1b}[2J name");
        assert_eq!(first[1]["event"], "open");
        assert_eq!(lines(&event(EventKind::Close), &mut described).len(), 1);
        let mut reused = event(EventKind::Open { existing: false });
        reused.processes.get_mut(&4242).unwrap().name = "other".into();
        let again = lines(&reused, &mut described);
        assert_eq!(again.len(), 2, "{again:?}");
        assert_eq!(again[0]["process"]["name"], "other");
    }

    #[test]
    fn the_described_set_is_bounded() {
        let mut described = Described::default();
        let mut process = event(EventKind::Close).processes[&4242].clone();
        for pid in 0..(Described::LIMIT as u32 + 10) {
            process.pid = pid;
            assert!(described.describe(&process));
        }
        assert!(described.seen.len() <= Described::LIMIT);
    }
}
