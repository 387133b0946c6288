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

use crate::model::{Context, OwnerCoverage, Proto, Snapshot, Socket, SocketState};

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

/// The `netns` label of a socket with `--all-netns` (its namespace's name, else `netns:[INODE]`):
/// one value per namespace, on per-listener series only. `None` when one namespace is listed.
fn netns_label(snapshot: &Snapshot, netns: Option<u64>) -> Option<String> {
    if snapshot.namespaces.is_empty() {
        return None;
    }
    Some(
        snapshot
            .namespaces
            .iter()
            .find(|namespace| Some(namespace.inode) == netns)
            .map_or_else(String::new, |namespace| namespace.label()),
    )
}

/// The `container` label of a listener: the label of the container or pod it was made in
/// (`podman:web`, `pod:default/web`), `""` for none. One value per container with a
/// listener: bounded by the listeners, on `rnetstat_listener_info` only.
fn container_label(snapshot: &Snapshot, socket: &Socket) -> String {
    match snapshot.context_of(socket) {
        Some(context @ (Context::Container(_) | Context::Pod(_))) => context.label(),
        _ => String::new(),
    }
}

/// `rnetstat_listener_info{proto,family,address,port,process,user,container} 1` (and `netns`
/// with `--all-netns`): one series per listening socket. Listeners that share every label
/// (SO_REUSEPORT groups of one program) are one series.
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
            netns_label(snapshot, socket.netns),
            container_label(snapshot, socket),
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
    for (netns, container, proto, family, address, port, process, user) in listeners {
        let (address, port) = (address.to_string(), port.to_string());
        let mut labels = vec![
            ("proto", proto.as_str()),
            ("family", family.as_str()),
            ("address", address.as_str()),
            ("port", port.as_str()),
            ("process", process),
            ("user", &user),
            ("container", &container),
        ];
        if let Some(netns) = &netns {
            labels.push(("netns", netns));
        }
        sample(out, "rnetstat_listener_info", &labels, 1)?;
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
    // By namespace too with `--all-netns`: the same port in two namespaces is two listeners.
    let mut ports: BTreeMap<(Option<String>, u16), PortQueue> = BTreeMap::new();
    for socket in &snapshot.sockets {
        if socket.proto != Proto::Tcp || socket.state != SocketState::Listen {
            continue;
        }
        let queue = (socket.recv_q.map(u64::from), socket.send_q.map(u64::from));
        ports
            .entry((netns_label(snapshot, socket.netns), socket.local.port()))
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
    for ((netns, port), (length, _)) in &ports {
        if let Some(length) = length {
            let port = port.to_string();
            let mut labels = vec![("proto", "tcp"), ("port", port.as_str())];
            labels.extend(netns.as_deref().map(|netns| ("netns", netns)));
            sample(out, "rnetstat_listener_queue_length", &labels, length)?;
        }
    }
    family(
        out,
        "rnetstat_listener_queue_max",
        "gauge",
        "The accept queue limits (listen backlogs) of the TCP listeners on a port, summed.",
    )?;
    for ((netns, port), (_, max)) in &ports {
        if let Some(max) = max {
            let port = port.to_string();
            let mut labels = vec![("proto", "tcp"), ("port", port.as_str())];
            labels.extend(netns.as_deref().map(|netns| ("netns", netns)));
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

/// A label value escaped as the format asks (`\\`, `\"`, `\n`), and every other control or
/// invisible format character written as visible text in [`crate::format::escaped`]'s spelling
/// (`\x1b`, `\u{202e}`), its backslash escaped too, so the exposition never carries a raw
/// escape sequence to a terminal (`--metrics`, `curl /metrics`).
fn label_value(text: &str) -> Cow<'_, str> {
    use std::fmt::Write as _;
    let unsafe_char = |c: char| c.is_control() || crate::format::is_format_or_separator(c);
    if !text
        .chars()
        .any(|c| matches!(c, '\\' | '"') || unsafe_char(c))
    {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\\\r"),
            '\t' => escaped.push_str("\\\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(escaped, "\\\\x{:02x}", c as u32);
            }
            c if unsafe_char(c) => {
                let _ = write!(escaped, "\\\\u{{{:x}}}", c as u32);
            }
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{OwnerGaps, Process};

    /// A socket at `local` held by `pids`, with the given queues.
    fn socket(
        proto: Proto,
        state: SocketState,
        local: &str,
        pids: &[u32],
        queues: (Option<u32>, Option<u32>),
    ) -> Socket {
        let mut socket = Socket::new(proto, state, local.parse().unwrap());
        socket.pids = pids.to_vec();
        (socket.recv_q, socket.send_q) = queues;
        socket.uid = Some(0);
        socket
    }

    fn with_processes(sockets: Vec<Socket>, names: &[(u32, &str)]) -> Snapshot {
        Snapshot {
            sockets,
            processes: names
                .iter()
                .map(|&(pid, name)| (pid, Process::named(pid, name)))
                .collect(),
            user_names: [(0, "root".to_string())].into(),
            owners: OwnerCoverage::Complete,
            ..Snapshot::default()
        }
    }

    fn exposition(snapshot: &Snapshot) -> String {
        let scrape = Scrape {
            duration: Duration::from_millis(5),
            tcp_retransmitted_segments: Some(42),
        };
        let mut out = Vec::new();
        write_metrics(&mut out, snapshot, &scrape).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// The sample lines of `name` (its HELP and TYPE lines left out).
    fn series<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
        text.lines()
            .filter(|l| {
                l.strip_prefix(name)
                    .is_some_and(|r| r.starts_with(['{', ' ']))
            })
            .collect()
    }

    const NO_QUEUES: (Option<u32>, Option<u32>) = (None, None);

    #[test]
    fn label_values_carry_no_raw_control_or_format_character() {
        assert_eq!(label_value("nginx"), "nginx");
        assert_eq!(label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
        // ESC, BEL, DEL, CSI (C1), a right-to-left override, a zero-width space.
        assert_eq!(
            label_value("\u{1b}]0;x\u{7}\u{7f}\u{9b}\u{202e}\u{200b}"),
            "\\\\x1b]0;x\\\\x07\\\\x7f\\\\u{9b}\\\\u{202e}\\\\u{200b}"
        );
        assert_eq!(label_value("\t\r"), "\\\\t\\\\r");
    }

    #[test]
    fn a_hostile_process_name_is_escaped_in_every_label() {
        let name = "a\"b\\c\nd}\u{e9}";
        let snapshot = with_processes(
            vec![
                socket(
                    Proto::Tcp,
                    SocketState::Listen,
                    "127.0.0.1:80",
                    &[7],
                    NO_QUEUES,
                ),
                socket(
                    Proto::Tcp,
                    SocketState::Established,
                    "127.0.0.1:80",
                    &[7],
                    NO_QUEUES,
                ),
            ],
            &[(7, name)],
        );
        let text = exposition(&snapshot);
        let escaped = "process=\"a\\\"b\\\\c\\nd}\u{e9}\"";
        assert!(
            series(&text, "rnetstat_listener_info")[0].contains(escaped),
            "{text}"
        );
        assert!(
            series(&text, "rnetstat_connections")[0].contains(escaped),
            "{text}"
        );
        assert_eq!(series(&text, "rnetstat_process_sockets").len(), 2);
        // Every line is a comment or one sample: the newline never reaches the output raw.
        // 11 families of HELP and TYPE; samples: build, duration, coverage, one socket series per
        // state, the listener, the connection, two process series, retransmits (no queue known).
        assert_eq!(text.lines().count(), 2 * 11 + 3 + 2 + 1 + 1 + 2 + 1);
    }

    #[test]
    fn a_listener_in_a_container_says_which_on_its_info_series_only() {
        let id = "2f1e6b6a1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f";
        let mut listener = socket(
            Proto::Tcp,
            SocketState::Listen,
            "0.0.0.0:80",
            &[7],
            (Some(0), Some(5)),
        );
        listener.cgroup = Some(11);
        let mut unit = socket(
            Proto::Tcp,
            SocketState::Listen,
            "0.0.0.0:22",
            &[8],
            NO_QUEUES,
        );
        unit.cgroup = Some(12);
        let mut snapshot = with_processes(vec![listener, unit], &[(7, "httpd"), (8, "sshd")]);
        let mut context = Context::of_path(&format!("/machine.slice/libpod-{id}.scope"));
        if let Some(Context::Container(container)) = &mut context {
            container.name = Some("web".into());
        }
        snapshot.cgroups = [
            (
                11,
                crate::model::Cgroup {
                    path: "/machine.slice/x".into(),
                    context,
                },
            ),
            (
                12,
                crate::model::Cgroup {
                    path: "/system.slice/ssh.service".into(),
                    context: Context::of_path("/system.slice/ssh.service"),
                },
            ),
        ]
        .into();
        let text = exposition(&snapshot);
        let info = series(&text, "rnetstat_listener_info");
        assert!(
            info[0].contains("port=\"22\"") && info[0].contains("container=\"\""),
            "{text}"
        );
        assert!(
            info[1].contains("port=\"80\"") && info[1].contains("container=\"podman:web\""),
            "{text}"
        );
        assert!(!series(&text, "rnetstat_listener_queue_length")[0].contains("container"));
    }

    #[test]
    fn reuseport_listeners_are_one_info_series_and_their_queues_add_up() {
        let snapshot = with_processes(
            vec![
                socket(
                    Proto::Tcp,
                    SocketState::Listen,
                    "0.0.0.0:443",
                    &[1],
                    (Some(2), Some(128)),
                ),
                socket(
                    Proto::Tcp,
                    SocketState::Listen,
                    "0.0.0.0:443",
                    &[2],
                    (Some(3), Some(128)),
                ),
                socket(
                    Proto::Tcp,
                    SocketState::Listen,
                    "[::]:443",
                    &[1],
                    (Some(0), Some(64)),
                ),
            ],
            &[(1, "nginx"), (2, "nginx")],
        );
        let text = exposition(&snapshot);
        assert_eq!(
            series(&text, "rnetstat_listener_info"),
            [
                "rnetstat_listener_info{proto=\"tcp\",family=\"ipv4\",address=\"0.0.0.0\",port=\"443\",process=\"nginx\",user=\"root\",container=\"\"} 1",
                "rnetstat_listener_info{proto=\"tcp\",family=\"ipv6\",address=\"::\",port=\"443\",process=\"nginx\",user=\"root\",container=\"\"} 1",
            ]
        );
        assert_eq!(
            series(&text, "rnetstat_listener_queue_length"),
            ["rnetstat_listener_queue_length{proto=\"tcp\",port=\"443\"} 5"]
        );
        assert_eq!(
            series(&text, "rnetstat_listener_queue_max"),
            ["rnetstat_listener_queue_max{proto=\"tcp\",port=\"443\"} 320"]
        );
        assert_eq!(
            series(&text, "rnetstat_sockets"),
            [
                "rnetstat_sockets{proto=\"tcp\",family=\"ipv4\",state=\"LISTEN\"} 2",
                "rnetstat_sockets{proto=\"tcp\",family=\"ipv6\",state=\"LISTEN\"} 1",
            ]
        );
    }

    #[test]
    fn an_unknown_queue_is_no_series_never_a_zero() {
        let snapshot = with_processes(
            vec![
                // /proc/net gives a listener's accept queue but not its backlog.
                socket(
                    Proto::Tcp,
                    SocketState::Listen,
                    "127.0.0.1:25",
                    &[],
                    (Some(1), None),
                ),
                socket(
                    Proto::Tcp,
                    SocketState::Listen,
                    "127.0.0.1:26",
                    &[],
                    NO_QUEUES,
                ),
                socket(
                    Proto::Udp,
                    SocketState::Unconn,
                    "127.0.0.1:53",
                    &[],
                    (Some(9), Some(0)),
                ),
            ],
            &[],
        );
        let text = exposition(&snapshot);
        assert_eq!(
            series(&text, "rnetstat_listener_queue_length"),
            ["rnetstat_listener_queue_length{proto=\"tcp\",port=\"25\"} 1"]
        );
        assert!(series(&text, "rnetstat_listener_queue_max").is_empty());
        assert!(text.contains("# TYPE rnetstat_listener_queue_max gauge"));
        // A listener's queues count connections, not bytes; the UDP socket's are bytes.
        assert_eq!(
            series(&text, "rnetstat_queued_bytes"),
            [
                "rnetstat_queued_bytes{proto=\"udp\",direction=\"recv\"} 9",
                "rnetstat_queued_bytes{proto=\"udp\",direction=\"send\"} 0",
            ]
        );
        assert!(series(&text, "rnetstat_listener_info")[0].contains("process=\"\""));
        let unknown = Snapshot {
            owners: OwnerCoverage::NotCollected,
            ..Snapshot::default()
        };
        let text = exposition(&unknown);
        assert!(series(&text, "rnetstat_owner_coverage_complete").is_empty());
        let incomplete = Snapshot {
            owners: OwnerCoverage::Incomplete(OwnerGaps {
                no_ptrace: true,
                ..OwnerGaps::default()
            }),
            ..Snapshot::default()
        };
        let text = exposition(&incomplete);
        assert_eq!(
            series(&text, "rnetstat_owner_coverage_complete"),
            ["rnetstat_owner_coverage_complete 0"]
        );
        let text = exposition(&Snapshot::default());
        assert_eq!(
            series(&text, "rnetstat_tcp_retransmits_total"),
            ["rnetstat_tcp_retransmits_total 42"]
        );
    }

    #[test]
    fn connections_name_only_listening_ports_and_the_top_processes() {
        // Process p00 holds 13 connections, p01 12, ... p11 2; a process calling itself "other"
        // (pid 99) holds 20: it ranks first, and p09, p10, p11 fall out of the top 10.
        let mut sockets = vec![socket(
            Proto::Tcp,
            SocketState::Listen,
            "127.0.0.1:80",
            &[0],
            NO_QUEUES,
        )];
        let mut names = Vec::new();
        for pid in 0..12u32 {
            names.push((pid, format!("p{pid:02}")));
            for i in 0..(13 - pid) {
                let local = format!("127.0.0.1:{}", 40000 + pid * 100 + i);
                let mut client = socket(
                    Proto::Tcp,
                    SocketState::Established,
                    &local,
                    &[pid],
                    NO_QUEUES,
                );
                client.remote = Some("127.0.0.1:80".parse().unwrap());
                sockets.push(client);
            }
        }
        names.push((99, "other".to_string()));
        for _ in 0..20 {
            sockets.push(socket(
                Proto::Tcp,
                SocketState::Established,
                "127.0.0.1:80",
                &[99],
                NO_QUEUES,
            ));
        }
        sockets.push(socket(
            Proto::Tcp,
            SocketState::TimeWait,
            "127.0.0.1:80",
            &[],
            NO_QUEUES,
        ));
        let names: Vec<(u32, &str)> = names.iter().map(|(p, n)| (*p, n.as_str())).collect();
        let snapshot = with_processes(sockets, &names);
        let text = exposition(&snapshot);
        let connections = series(&text, "rnetstat_connections");
        assert!(connections.contains(
            &"rnetstat_connections{proto=\"tcp\",state=\"ESTABLISHED\",local_port=\"80\",process=\"other\"} 20"
        ));
        assert!(connections.contains(
            &"rnetstat_connections{proto=\"tcp\",state=\"ESTABLISHED\",local_port=\"\",process=\"p00\"} 13"
        ));
        // p09 (4), p10 (3) and p11 (2) add up under "other".
        assert!(connections.contains(
            &"rnetstat_connections{proto=\"tcp\",state=\"ESTABLISHED\",local_port=\"\",process=\"other\"} 9"
        ));
        assert!(connections.contains(
            &"rnetstat_connections{proto=\"tcp\",state=\"TIME_WAIT\",local_port=\"80\",process=\"\"} 1"
        ));
        assert!(!text.contains("p09") && !text.contains("p10") && !text.contains("p11"));
        // Ten named processes ("other" among them, p00..p08), the rest, and the unknown owner.
        let processes: BTreeSet<&str> = series(&text, "rnetstat_process_sockets")
            .iter()
            .map(|l| l.split('"').nth(1).unwrap())
            .collect();
        assert_eq!(processes.len(), 11, "{processes:?}");
        assert!(processes.contains("") && processes.contains("other") && processes.contains("p08"));
        assert!(!processes.contains("p09"));
    }

    #[test]
    fn the_same_sockets_in_any_order_give_the_same_text() {
        let mut sockets = vec![
            socket(Proto::Udp, SocketState::Unconn, "[::1]:53", &[2], NO_QUEUES),
            socket(
                Proto::Tcp,
                SocketState::Listen,
                "127.0.0.1:22",
                &[1],
                (Some(0), Some(128)),
            ),
            socket(
                Proto::Tcp,
                SocketState::Established,
                "127.0.0.1:22",
                &[1, 2],
                (Some(5), Some(6)),
            ),
            socket(
                Proto::Tcp,
                SocketState::Established,
                "10.0.0.1:5000",
                &[2],
                NO_QUEUES,
            ),
        ];
        let names = [(1, "sshd"), (2, "b"), (3, "a")];
        let forward = exposition(&with_processes(sockets.clone(), &names));
        sockets.reverse();
        assert_eq!(exposition(&with_processes(sockets, &names)), forward);
        // A socket shared by two programs is labelled with both names, sorted.
        assert!(
            forward.contains("local_port=\"22\",process=\"b,sshd\"} 1"),
            "{forward}"
        );
    }
}
