//! `-s`: totals of one socket walk (by protocol, family and state), the busiest local ports and
//! programs, and the kernel's `netstat -s` counters, as text or one JSON object.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

use serde_json::{Value, json};

use crate::format::escaped_name;
use crate::model::{OwnerCoverage, Proto, ProtocolCounters, Snapshot, SocketState};
use crate::output::json::rfc3339;

/// `--summary --json`'s own schema version (its shape did not change with `--json`'s v2).
pub const SCHEMA_VERSION: u32 = 1;

/// How many ports and programs the "busiest" lists keep.
pub const BUSIEST: usize = 10;

/// The protocol name of a Unix socket in the totals (as JSON's `"proto": "unix"`).
const UNIX: &str = "unix";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortCount {
    pub proto: Proto,
    pub port: u16,
    pub sockets: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramCount {
    pub pid: u32,
    pub name: String,
    pub sockets: usize,
}

/// What `-s` reports; built by [`summarize`] from one snapshot and the counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub total: usize,
    /// "tcp", "udp", "unix" (with -x).
    pub by_proto: BTreeMap<&'static str, usize>,
    /// TCP and UDP sockets only: a Unix socket has no address family of these.
    pub by_family: BTreeMap<&'static str, usize>,
    /// Per protocol, per state, in netstat's state order.
    pub by_state: BTreeMap<&'static str, BTreeMap<SocketState, usize>>,
    pub time_wait: usize,
    /// Most sockets first, then by protocol and port.
    pub busiest_ports: Vec<PortCount>,
    /// `None` when owners were not collected (no -p).
    pub busiest_programs: Option<Vec<ProgramCount>>,
    pub counters: ProtocolCounters,
}

pub fn summarize(snapshot: &Snapshot, counters: ProtocolCounters) -> Summary {
    let mut by_proto = BTreeMap::new();
    let mut by_family = BTreeMap::new();
    let mut by_state: BTreeMap<&'static str, BTreeMap<SocketState, usize>> = BTreeMap::new();
    let mut ports: HashMap<(Proto, u16), usize> = HashMap::new();
    let mut programs: HashMap<u32, usize> = HashMap::new();
    for socket in &snapshot.sockets {
        let proto = socket.proto.as_str();
        *by_proto.entry(proto).or_default() += 1;
        *by_family.entry(socket.family().as_str()).or_default() += 1;
        *by_state
            .entry(proto)
            .or_default()
            .entry(socket.state)
            .or_default() += 1;
        *ports
            .entry((socket.proto, socket.local.port()))
            .or_default() += 1;
        for pid in &socket.pids {
            *programs.entry(*pid).or_default() += 1;
        }
    }
    for socket in &snapshot.unix_sockets {
        *by_proto.entry(UNIX).or_default() += 1;
        *by_state
            .entry(UNIX)
            .or_default()
            .entry(socket.state)
            .or_default() += 1;
        for pid in &socket.pids {
            *programs.entry(*pid).or_default() += 1;
        }
    }
    let mut busiest_ports: Vec<PortCount> = ports
        .into_iter()
        .map(|((proto, port), sockets)| PortCount {
            proto,
            port,
            sockets,
        })
        .collect();
    busiest_ports.sort_by(|a, b| (b.sockets, a.proto, a.port).cmp(&(a.sockets, b.proto, b.port)));
    busiest_ports.truncate(BUSIEST);
    let busiest_programs = (snapshot.owners != OwnerCoverage::NotCollected).then(|| {
        let mut programs: Vec<ProgramCount> = programs
            .into_iter()
            .filter_map(|(pid, sockets)| {
                // A process that exited before it was described has no name to show.
                let process = snapshot.processes.get(&pid)?;
                Some(ProgramCount {
                    pid,
                    name: process.name.clone(),
                    sockets,
                })
            })
            .collect();
        programs.sort_by(|a, b| (b.sockets, a.pid).cmp(&(a.sockets, b.pid)));
        programs.truncate(BUSIEST);
        programs
    });
    let time_wait = by_state
        .get(Proto::Tcp.as_str())
        .and_then(|states| states.get(&SocketState::TimeWait))
        .copied()
        .unwrap_or(0);
    Summary {
        total: snapshot.sockets.len() + snapshot.unix_sockets.len(),
        by_proto,
        by_family,
        by_state,
        time_wait,
        busiest_ports,
        busiest_programs,
        counters,
    }
}

/// The counters with `netstat -s`'s own wording, so a `grep` written for netstat finds them.
fn counter_lines(counters: &ProtocolCounters) -> [(Option<u64>, &'static str, &'static str); 6] {
    [
        (
            counters.retransmitted_segments,
            "retransmitted_segments",
            "segments retransmitted",
        ),
        (counters.resets_sent, "resets_sent", "resets sent"),
        (
            counters.resets_received,
            "resets_received",
            "connection resets received",
        ),
        (
            counters.failed_connection_attempts,
            "failed_connection_attempts",
            "failed connection attempts",
        ),
        (
            counters.listen_overflows,
            "listen_overflows",
            "times the listen queue of a socket overflowed",
        ),
        (
            counters.listen_drops,
            "listen_drops",
            "SYNs to LISTEN sockets dropped",
        ),
    ]
}

fn optional(value: Option<u64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

pub fn write_text<W: Write>(out: &mut W, summary: &Summary) -> io::Result<()> {
    let joined = |counts: &BTreeMap<&'static str, usize>| {
        counts
            .iter()
            .map(|(name, count)| format!("{name} {count}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    writeln!(
        out,
        "Sockets: {} ({})",
        summary.total,
        joined(&summary.by_proto)
    )?;
    if !summary.by_family.is_empty() {
        writeln!(out, "  by family: {}", joined(&summary.by_family))?;
    }
    for (proto, states) in &summary.by_state {
        let total: usize = states.values().sum();
        writeln!(out, "{}: {total}", capitalized(proto))?;
        for (state, count) in states {
            writeln!(out, "    {count} {}", state.as_str())?;
        }
    }
    writeln!(out, "TIME_WAIT: {}", summary.time_wait)?;
    writeln!(
        out,
        "Orphaned TCP sockets (kernel count, /proc/net/sockstat): {}",
        optional(summary.counters.orphans)
    )?;
    writeln!(out, "Busiest local ports:")?;
    for port in &summary.busiest_ports {
        writeln!(
            out,
            "    {} {}/{}",
            port.sockets,
            port.port,
            port.proto.as_str()
        )?;
    }
    match &summary.busiest_programs {
        Some(programs) => {
            writeln!(out, "Busiest programs:")?;
            for program in programs {
                writeln!(
                    out,
                    "    {} {}/{}",
                    program.sockets,
                    program.pid,
                    escaped_name(&program.name)
                )?;
            }
        }
        None => writeln!(out, "Busiest programs: - (add -p)")?,
    }
    writeln!(out, "Tcp counters (since boot, this network namespace):")?;
    for (value, _, wording) in counter_lines(&summary.counters) {
        writeln!(out, "    {} {wording}", optional(value))?;
    }
    Ok(())
}

fn capitalized(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_ascii_uppercase().to_string() + chars.as_str()
    })
}

/// The `--json -s` document (docs/json.md, "Summary document").
pub fn json_value(summary: &Summary, snapshot: &Snapshot) -> Value {
    let by_state: BTreeMap<&str, BTreeMap<&str, usize>> = summary
        .by_state
        .iter()
        .map(|(proto, states)| {
            let states = states.iter().map(|(s, n)| (s.as_str(), *n)).collect();
            (*proto, states)
        })
        .collect();
    let counters: serde_json::Map<String, Value> = counter_lines(&summary.counters)
        .into_iter()
        .map(|(value, key, _)| (key.to_string(), json!(value)))
        .collect();
    json!({
        "version": SCHEMA_VERSION,
        "hostname": snapshot.hostname,
        "taken_at": snapshot.taken_at.map(rfc3339),
        "summary": {
            "total": summary.total,
            "by_proto": summary.by_proto,
            "by_family": summary.by_family,
            "by_state": by_state,
            "time_wait": summary.time_wait,
            "orphans": summary.counters.orphans,
            "busiest_ports": summary.busiest_ports.iter().map(|p| json!({
                "proto": p.proto.as_str(), "port": p.port, "sockets": p.sockets,
            })).collect::<Vec<_>>(),
            "busiest_programs": summary.busiest_programs.as_ref().map(|programs| {
                programs.iter().map(|p| json!({
                    "pid": p.pid, "name": p.name, "sockets": p.sockets,
                })).collect::<Vec<_>>()
            }),
            "tcp_counters": counters,
        }
    })
}

pub fn write_json<W: Write>(out: &mut W, summary: &Summary, snapshot: &Snapshot) -> io::Result<()> {
    serde_json::to_writer(&mut *out, &json_value(summary, snapshot)).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Process, Socket};

    fn socket(proto: Proto, state: SocketState, local: &str, pids: &[u32]) -> Socket {
        Socket {
            pids: pids.to_vec(),
            ..Socket::new(proto, state, local.parse().unwrap())
        }
    }

    fn snapshot() -> Snapshot {
        let tcp = |state, local, pids: &[u32]| socket(Proto::Tcp, state, local, pids);
        Snapshot {
            sockets: vec![
                tcp(SocketState::Listen, "0.0.0.0:80", &[7]),
                tcp(SocketState::Established, "10.0.0.1:80", &[7]),
                tcp(SocketState::Established, "10.0.0.1:80", &[7, 9]),
                tcp(SocketState::TimeWait, "[::1]:80", &[]),
                tcp(SocketState::Established, "10.0.0.1:40000", &[9]),
                socket(Proto::Udp, SocketState::Unconn, "0.0.0.0:53", &[9]),
                socket(Proto::Udp, SocketState::Unconn, "[::]:80", &[11]),
            ],
            ..Snapshot::default()
        }
    }

    #[test]
    fn totals_by_protocol_family_state_and_busiest_ports() {
        let summary = summarize(&snapshot(), ProtocolCounters::default());
        assert_eq!(summary.total, 7);
        assert_eq!(summary.by_proto, BTreeMap::from([("tcp", 5), ("udp", 2)]));
        assert_eq!(
            summary.by_family,
            BTreeMap::from([("ipv4", 5), ("ipv6", 2)])
        );
        let tcp: Vec<_> = summary.by_state["tcp"].iter().collect();
        assert_eq!(
            tcp,
            [
                (&SocketState::Established, &3),
                (&SocketState::TimeWait, &1),
                (&SocketState::Listen, &1)
            ]
        );
        assert_eq!(summary.time_wait, 1);
        let ports: Vec<_> = summary
            .busiest_ports
            .iter()
            .map(|p| (p.proto, p.port, p.sockets))
            .collect();
        assert_eq!(
            ports,
            [
                (Proto::Tcp, 80, 4),
                (Proto::Tcp, 40000, 1),
                (Proto::Udp, 53, 1),
                (Proto::Udp, 80, 1)
            ]
        );
        assert_eq!(summary.busiest_programs, None, "owners were not collected");
    }

    #[test]
    fn busiest_programs_count_shared_sockets_once_per_owner_and_skip_vanished_ones() {
        let mut snapshot = snapshot();
        snapshot.owners = OwnerCoverage::Complete;
        for (pid, name) in [(7, "nginx"), (9, "worker\x1b[2J")] {
            snapshot.processes.insert(pid, Process::named(pid, name));
        }
        let summary = summarize(&snapshot, ProtocolCounters::default());
        let programs: Vec<_> = summary
            .busiest_programs
            .clone()
            .unwrap()
            .into_iter()
            .map(|p| (p.pid, p.sockets))
            .collect();
        assert_eq!(
            programs,
            [(7, 3), (9, 3)],
            "pid 11 exited before it was described"
        );
        let mut text = Vec::new();
        write_text(&mut text, &summary).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(!text.contains('\x1b'), "{text}");
        assert!(text.contains("    3 9/worker"), "{text}");
        assert!(
            text.contains("    - segments retransmitted"),
            "unknown is -: {text}"
        );
    }

    #[test]
    fn the_json_object_has_a_version_and_null_for_the_unknown() {
        let summary = summarize(&snapshot(), ProtocolCounters::default());
        let value = json_value(&summary, &snapshot());
        assert_eq!(value["version"], SCHEMA_VERSION);
        assert_eq!(value["summary"]["by_state"]["udp"]["UNCONN"], 2);
        assert!(value["summary"]["busiest_programs"].is_null());
        assert!(value["summary"]["orphans"].is_null());
        assert!(value["summary"]["tcp_counters"]["resets_sent"].is_null());
    }
}
