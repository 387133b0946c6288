//! The Prometheus text exposition format 0.0.4 of one snapshot (docs/metrics.md).
//!
//! Every family is an aggregate with bounded labels: no series names a remote address or a
//! connection's ephemeral port, and per-process families keep the top [`TOP_PROCESSES`] names.
//! Series come out sorted, so two scrapes of the same sockets are byte-identical.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Display;
use std::io::{self, Write};
use std::time::Duration;

use crate::model::{OwnerCoverage, Proto, Snapshot, Socket, SocketState};

/// What the exposition says about its own collection, and what was read beside the snapshot.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scrape {
    pub duration: Duration,
    /// The kernel's Tcp RetransSegs since boot (`netstat -s`); `None` where the OS does not say.
    pub tcp_retransmitted_segments: Option<u64>,
}

/// The content type of the exposition, for HTTP.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Processes named in per-process families; the rest add up under `process="other"`. Ten
/// fill a dashboard's top list and keep each such family under 12 x 13 (proto, state) series.
pub const TOP_PROCESSES: usize = 10;

/// The `process` label of the sockets owned by processes outside the top [`TOP_PROCESSES`].
pub const OTHER_PROCESSES: &str = "other";

pub fn write_metrics<W: Write>(
    out: &mut W,
    snapshot: &Snapshot,
    scrape: &Scrape,
) -> io::Result<()> {
    let owners: Vec<Cow<'_, str>> = snapshot
        .sockets
        .iter()
        .map(|socket| owner_label(snapshot, socket))
        .collect();
    let ranked = top_processes(&owners);

    family(
        out,
        "rnetstat_build_info",
        "gauge",
        "The rnetstat version that wrote these metrics (always 1).",
    )?;
    sample(
        out,
        "rnetstat_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1,
    )?;

    family(
        out,
        "rnetstat_scrape_duration_seconds",
        "gauge",
        "Time taken to collect this snapshot and the kernel's counters.",
    )?;
    sample(
        out,
        "rnetstat_scrape_duration_seconds",
        &[],
        scrape.duration.as_secs_f64(),
    )?;

    family(
        out,
        "rnetstat_owner_coverage_complete",
        "gauge",
        "1 when every process's sockets could be inspected, 0 when some owners may be missing.",
    )?;
    match snapshot.owners {
        OwnerCoverage::Complete => sample(out, "rnetstat_owner_coverage_complete", &[], 1)?,
        OwnerCoverage::Incomplete(_) => {
            sample(out, "rnetstat_owner_coverage_complete", &[], 0)?;
        }
        OwnerCoverage::NotCollected => {}
    }

    write_sockets(out, snapshot)?;
    write_listeners(out, snapshot, &owners)?;
    write_listener_queues(out, snapshot)?;
    write_connections(out, snapshot, &owners, &ranked)?;
    write_process_sockets(out, snapshot, &owners, &ranked)?;
    write_queued_bytes(out, snapshot)?;

    family(
        out,
        "rnetstat_tcp_retransmits_total",
        "counter",
        "TCP segments retransmitted since boot in this network namespace (Tcp RetransSegs).",
    )?;
    if let Some(segments) = scrape.tcp_retransmitted_segments {
        sample(out, "rnetstat_tcp_retransmits_total", &[], segments)?;
    }
    Ok(())
}

/// `rnetstat_sockets{proto,family,state}`: sockets by protocol, address family and state.
fn write_sockets<W: Write>(out: &mut W, snapshot: &Snapshot) -> io::Result<()> {
    let mut counts: BTreeMap<_, u64> = BTreeMap::new();
    for socket in &snapshot.sockets {
        *counts
            .entry((socket.proto, socket.family(), socket.state))
            .or_default() += 1;
    }
    family(
        out,
        "rnetstat_sockets",
        "gauge",
        "Sockets by protocol, address family and state.",
    )?;
    for ((proto, family, state), count) in counts {
        sample(
            out,
            "rnetstat_sockets",
            &[
                ("proto", proto.as_str()),
                ("family", family.as_str()),
                ("state", state.as_str()),
            ],
            count,
        )?;
    }
    Ok(())
}

/// `rnetstat_listener_info{proto,family,address,port,process,user} 1`: one series per listening
/// socket. Listeners that share every label (SO_REUSEPORT groups of one program) are one series.
fn write_listeners<W: Write>(
    out: &mut W,
    snapshot: &Snapshot,
    owners: &[Cow<'_, str>],
) -> io::Result<()> {
    let mut listeners = BTreeSet::new();
    for (socket, process) in snapshot.sockets.iter().zip(owners) {
        if !socket.state.is_listening() {
            continue;
        }
        let user = socket.uid.map_or(Cow::Borrowed(""), |uid| {
            snapshot.user_names.get(&uid).map_or_else(
                || Cow::Owned(uid.to_string()),
                |name| Cow::Borrowed(name.as_str()),
            )
        });
        listeners.insert((
            socket.proto,
            socket.family(),
            socket.local.ip(),
            socket.local.port(),
            process.as_ref(),
            user,
        ));
    }
    family(
        out,
        "rnetstat_listener_info",
        "gauge",
        "One series per listening socket (TCP LISTEN, unconnected UDP), always 1.",
    )?;
    for (proto, family, address, port, process, user) in listeners {
        sample(
            out,
            "rnetstat_listener_info",
            &[
                ("proto", proto.as_str()),
                ("family", family.as_str()),
                ("address", &address.to_string()),
                ("port", &port.to_string()),
                ("process", process),
                ("user", &user),
            ],
            1,
        )?;
    }
    Ok(())
}

/// The accept queue of the TCP listeners on one port, summed over them: (waiting connections,
/// backlog limit), each `None` when the OS did not give it for one of them.
type PortQueue = (Option<u64>, Option<u64>);

/// `rnetstat_listener_queue_length{proto,port}` and `rnetstat_listener_queue_max{proto,port}`.
/// For a TCP listener the kernel reports the accept queue as Recv-Q and the backlog as Send-Q;
/// a UDP socket has no accept queue, so it has no series here.
fn write_listener_queues<W: Write>(out: &mut W, snapshot: &Snapshot) -> io::Result<()> {
    let mut ports: BTreeMap<u16, PortQueue> = BTreeMap::new();
    for socket in &snapshot.sockets {
        if socket.proto != Proto::Tcp || socket.state != SocketState::Listen {
            continue;
        }
        let queue = (socket.recv_q.map(u64::from), socket.send_q.map(u64::from));
        ports
            .entry(socket.local.port())
            .and_modify(|(length, max)| {
                *length = length.zip(queue.0).map(|(a, b)| a + b);
                *max = max.zip(queue.1).map(|(a, b)| a + b);
            })
            .or_insert(queue);
    }
    family(
        out,
        "rnetstat_listener_queue_length",
        "gauge",
        "Connections waiting in the accept queues of the TCP listeners on a port.",
    )?;
    for (port, (length, _)) in &ports {
        if let Some(length) = length {
            let port = port.to_string();
            let labels = [("proto", "tcp"), ("port", port.as_str())];
            sample(out, "rnetstat_listener_queue_length", &labels, length)?;
        }
    }
    family(
        out,
        "rnetstat_listener_queue_max",
        "gauge",
        "The accept queue limits (listen backlogs) of the TCP listeners on a port, summed.",
    )?;
    for (port, (_, max)) in &ports {
        if let Some(max) = max {
            let port = port.to_string();
            let labels = [("proto", "tcp"), ("port", port.as_str())];
            sample(out, "rnetstat_listener_queue_max", &labels, max)?;
        }
    }
    Ok(())
}

/// `rnetstat_connections{proto,state,local_port,process}`: every socket that is not listening;
/// `local_port` names only ports with a listener of the same protocol, others add up under "".
fn write_connections<W: Write>(
    out: &mut W,
    snapshot: &Snapshot,
    owners: &[Cow<'_, str>],
    ranked: &HashSet<&str>,
) -> io::Result<()> {
    let listening: HashSet<(Proto, u16)> = snapshot
        .sockets
        .iter()
        .filter(|s| s.state.is_listening())
        .map(|s| (s.proto, s.local.port()))
        .collect();
    let mut counts: BTreeMap<_, u64> = BTreeMap::new();
    for (socket, owner) in snapshot.sockets.iter().zip(owners) {
        if socket.state.is_listening() {
            continue;
        }
        let port = socket.local.port();
        let local_port = listening.contains(&(socket.proto, port)).then_some(port);
        let process = process_label(owner, ranked);
        *counts
            .entry((socket.proto, socket.state, local_port, process))
            .or_default() += 1;
    }
    family(
        out,
        "rnetstat_connections",
        "gauge",
        "Sockets that are not listening, by the listening port they belong to (\"\" for none) \
         and owning process.",
    )?;
    for ((proto, state, local_port, process), count) in counts {
        let local_port = local_port.map_or_else(String::new, |p| p.to_string());
        sample(
            out,
            "rnetstat_connections",
            &[
                ("proto", proto.as_str()),
                ("state", state.as_str()),
                ("local_port", &local_port),
                ("process", process),
            ],
            count,
        )?;
    }
    Ok(())
}

/// `rnetstat_process_sockets{process,proto,state}`: sockets of the top processes, the rest
/// under `process="other"`, owner unknown under `process=""`.
fn write_process_sockets<W: Write>(
    out: &mut W,
    snapshot: &Snapshot,
    owners: &[Cow<'_, str>],
    ranked: &HashSet<&str>,
) -> io::Result<()> {
    let mut counts: BTreeMap<_, u64> = BTreeMap::new();
    for (socket, owner) in snapshot.sockets.iter().zip(owners) {
        let process = process_label(owner, ranked);
        *counts
            .entry((process, socket.proto, socket.state))
            .or_default() += 1;
    }
    family(
        out,
        "rnetstat_process_sockets",
        "gauge",
        "Sockets by owning process (the top 10 by socket count; \"other\" for the rest, \"\" when \
         unknown), protocol and state.",
    )?;
    for ((process, proto, state), count) in counts {
        sample(
            out,
            "rnetstat_process_sockets",
            &[
                ("process", process),
                ("proto", proto.as_str()),
                ("state", state.as_str()),
            ],
            count,
        )?;
    }
    Ok(())
}

/// `rnetstat_queued_bytes{proto,direction}`: bytes waiting in receive and send queues, summed
/// over the sockets whose queues the OS reported. A TCP listener's queues count connections,
/// not bytes, so listeners are left out.
fn write_queued_bytes<W: Write>(out: &mut W, snapshot: &Snapshot) -> io::Result<()> {
    let mut sums: BTreeMap<(Proto, &str), u64> = BTreeMap::new();
    for socket in &snapshot.sockets {
        if socket.state == SocketState::Listen {
            continue;
        }
        for (direction, queued) in [("recv", socket.recv_q), ("send", socket.send_q)] {
            if let Some(bytes) = queued {
                *sums.entry((socket.proto, direction)).or_default() += u64::from(bytes);
            }
        }
    }
    family(
        out,
        "rnetstat_queued_bytes",
        "gauge",
        "Bytes waiting in socket receive or send queues (listeners excluded).",
    )?;
    for ((proto, direction), bytes) in sums {
        sample(
            out,
            "rnetstat_queued_bytes",
            &[("proto", proto.as_str()), ("direction", direction)],
            bytes,
        )?;
    }
    Ok(())
}

/// The owners of `socket` as one label value: distinct names, sorted, joined with `,`; "" when
/// no owner is known.
fn owner_label<'a>(snapshot: &'a Snapshot, socket: &'a Socket) -> Cow<'a, str> {
    let mut owners = snapshot.owners_of(socket).map(|p| p.name.as_str());
    let Some(first) = owners.next() else {
        return Cow::Borrowed("");
    };
    let mut names: Vec<&str> = std::iter::once(first).chain(owners).collect();
    names.sort_unstable();
    names.dedup();
    if names.len() == 1 {
        Cow::Borrowed(first)
    } else {
        Cow::Owned(names.join(","))
    }
}

/// The [`TOP_PROCESSES`] owner labels holding the most sockets; ties go to the smaller name so
/// the choice is the same on every scrape of the same sockets.
fn top_processes<'a>(owners: &'a [Cow<'_, str>]) -> HashSet<&'a str> {
    let mut totals: HashMap<&str, u64> = HashMap::new();
    for owner in owners.iter().filter(|o| !o.is_empty()) {
        *totals.entry(owner.as_ref()).or_default() += 1;
    }
    let mut ranked: Vec<(&str, u64)> = totals.into_iter().collect();
    ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    ranked
        .into_iter()
        .take(TOP_PROCESSES)
        .map(|(name, _)| name)
        .collect()
}

/// The `process` label in per-process families: the owner when ranked or unknown, else "other".
/// A process that calls itself "other" adds up with the rest: one series, never a duplicate.
fn process_label<'a>(owner: &'a str, ranked: &HashSet<&str>) -> &'a str {
    if owner.is_empty() || ranked.contains(owner) {
        owner
    } else {
        OTHER_PROCESSES
    }
}

fn family<W: Write>(out: &mut W, name: &str, kind: &str, help: &str) -> io::Result<()> {
    writeln!(out, "# HELP {name} {help}")?;
    writeln!(out, "# TYPE {name} {kind}")
}

fn sample<W: Write>(
    out: &mut W,
    name: &str,
    labels: &[(&str, &str)],
    value: impl Display,
) -> io::Result<()> {
    out.write_all(name.as_bytes())?;
    if !labels.is_empty() {
        out.write_all(b"{")?;
        for (i, (label, text)) in labels.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            write!(out, "{label}=\"{}\"", label_value(text))?;
        }
        out.write_all(b"}")?;
    }
    writeln!(out, " {value}")
}

/// A label value escaped as the format asks: backslash, double quote and line feed.
fn label_value(text: &str) -> Cow<'_, str> {
    if !text.contains(['\\', '"', '\n']) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}
