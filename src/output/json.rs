//! `--json`: one versioned document (docs/json.md), streamed socket by socket.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde::ser::Serializer;

use crate::model::{
    Cgroup, Context, OwnerCoverage, Process, Proto, Snapshot, Socket, TcpInfo, UnixPath, UnixSocket,
};
use crate::platform::system::interface_name;
use crate::services::{PortClass, Services};

/// Bumped on any change that could break a reader; adding a field is not such a change.
pub const SCHEMA_VERSION: u32 = 2;

/// The document's fields before its sockets; `sockets`, then `processes`, follow.
#[derive(Serialize)]
struct Head<'a> {
    version: u32,
    hostname: Option<&'a str>,
    taken_at: Option<String>,
    owners: Option<CoverageView>,
    /// `--all-netns`: every network namespace listed (empty when one is).
    namespaces: Vec<NamespaceView<'a>>,
}

#[derive(Serialize)]
struct NamespaceView<'a> {
    inode: u64,
    name: Option<&'a str>,
    /// Why its sockets are missing; null when they are listed.
    error: Option<&'a str>,
}

/// Whether `processes` is complete, and if not, why (docs/json.md lists the codes).
#[derive(Serialize)]
struct CoverageView {
    complete: bool,
    reasons: Vec<&'static str>,
    reason: Option<String>,
}

fn coverage_view(coverage: OwnerCoverage) -> Option<CoverageView> {
    let gaps = match coverage {
        OwnerCoverage::NotCollected => return None,
        OwnerCoverage::Complete => Default::default(),
        OwnerCoverage::Incomplete(gaps) => gaps,
    };
    Some(CoverageView {
        complete: gaps.is_empty(),
        reasons: gaps.reasons().map(|r| r.code).collect(),
        reason: (!gaps.is_empty()).then(|| gaps.describe()),
    })
}

#[derive(Serialize)]
pub struct SocketView<'a> {
    proto: &'static str,
    family: &'static str,
    /// IPV6_V6ONLY: `false` is a `[::]` socket that takes IPv4 too; null for IPv4 and unknown.
    v6only: Option<bool>,
    state: &'static str,
    local: EndpointView<'a>,
    remote: Option<EndpointView<'a>>,
    recv_q: Option<u32>,
    send_q: Option<u32>,
    uid: Option<u32>,
    inode: Option<u64>,
    /// The inode of its network namespace (`--all-netns`, a key of `namespaces`); null when
    /// one namespace is listed.
    netns: Option<u64>,
    /// The id of the cgroup v2 the socket was made in (`ss --cgroup`); null where the OS
    /// does not say.
    cgroup_id: Option<u64>,
    /// That cgroup's path; null when not asked for or not found (removed since).
    cgroup: Option<&'a str>,
    /// What the path says: container, pod or systemd unit; null when it names none.
    context: Option<ContextView<'a>>,
    timer: Option<TimerView>,
    processes: Pids<'a>,
    tcp_info: Option<TcpInfoView<'a>>,
}

/// What a cgroup path says, flat (docs/json.md): `kind` is `container`, `pod` or `unit`;
/// the fields another kind has are null.
#[derive(Serialize)]
struct ContextView<'a> {
    kind: &'static str,
    /// What the table's Container column shows: `podman:web`, `pod:default/web`,
    /// `unit:nginx.service`.
    label: String,
    runtime: Option<&'static str>,
    id: Option<&'a str>,
    name: Option<&'a str>,
    pod: Option<PodView<'a>>,
    unit: Option<&'a str>,
}

#[derive(Serialize)]
struct PodView<'a> {
    uid: &'a str,
    namespace: Option<&'a str>,
    name: Option<&'a str>,
}

fn context_view(context: &Context) -> ContextView<'_> {
    let container = context.container();
    ContextView {
        kind: match context {
            Context::Container(_) => "container",
            Context::Pod(_) => "pod",
            Context::Unit(_) => "unit",
        },
        label: context.label(),
        runtime: container.and_then(|c| c.runtime).map(|r| r.as_str()),
        id: container.map(|c| c.id.as_str()),
        name: container.and_then(|c| c.name.as_deref()),
        pod: context.pod().map(|pod| PodView {
            uid: &pod.uid,
            namespace: pod.namespace.as_deref(),
            name: pod.name.as_deref(),
        }),
        unit: context.unit(),
    }
}

/// The cgroup `socket` was made in, when known.
fn cgroup_of<'a>(snapshot: &'a Snapshot, socket: &Socket) -> Option<&'a Cgroup> {
    snapshot.cgroups.get(&socket.cgroup?)
}

/// `tcp_info` with its units in the names where they are not counts (docs/json.md).
#[derive(Serialize)]
struct TcpInfoView<'a> {
    congestion: Option<&'a str>,
    rto_us: u32,
    rtt_us: u32,
    rttvar_us: u32,
    min_rtt_us: Option<u32>,
    mss: u32,
    cwnd: u32,
    ssthresh: Option<u32>,
    retrans: u8,
    total_retrans: u32,
    lost: u32,
    unacked: u32,
    notsent: Option<u32>,
    bytes_sent: Option<u64>,
    bytes_retrans: Option<u64>,
    bytes_acked: Option<u64>,
    bytes_received: Option<u64>,
    segs_out: Option<u32>,
    segs_in: Option<u32>,
    delivery_rate_bytes_per_s: Option<u64>,
    pacing_rate_bytes_per_s: Option<u64>,
    lastsnd_ms: u32,
    lastrcv_ms: u32,
    lastack_ms: u32,
    busy_us: Option<u64>,
    rwnd_limited_us: Option<u64>,
    sndbuf_limited_us: Option<u64>,
}

fn tcp_info_view(info: &TcpInfo) -> TcpInfoView<'_> {
    TcpInfoView {
        congestion: info.congestion.as_deref(),
        rto_us: info.rto_us,
        rtt_us: info.rtt_us,
        rttvar_us: info.rttvar_us,
        min_rtt_us: info.min_rtt_us,
        mss: info.mss,
        cwnd: info.cwnd,
        ssthresh: info.ssthresh,
        retrans: info.retransmits,
        total_retrans: info.total_retrans,
        lost: info.lost,
        unacked: info.unacked,
        notsent: info.notsent,
        bytes_sent: info.bytes_sent,
        bytes_retrans: info.bytes_retrans,
        bytes_acked: info.bytes_acked,
        bytes_received: info.bytes_received,
        segs_out: info.segs_out,
        segs_in: info.segs_in,
        delivery_rate_bytes_per_s: info.delivery_rate,
        pacing_rate_bytes_per_s: info.pacing_rate,
        lastsnd_ms: info.last_send_ms,
        lastrcv_ms: info.last_recv_ms,
        lastack_ms: info.last_ack_ms,
        busy_us: info.busy_us,
        rwnd_limited_us: info.rwnd_limited_us,
        sndbuf_limited_us: info.sndbuf_limited_us,
    }
}

/// A Unix socket: `"proto": "unix"`, its type, and paths where TCP/UDP have hosts and ports.
#[derive(Serialize)]
pub struct UnixView<'a> {
    proto: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    state: &'static str,
    local: UnixEndpointView,
    remote: Option<UnixEndpointView>,
    recv_q: Option<u32>,
    send_q: Option<u32>,
    uid: Option<u32>,
    inode: u64,
    /// `--all-netns`: the inode of its network namespace; null when one is listed.
    netns: Option<u64>,
    processes: Pids<'a>,
}

#[derive(Serialize)]
struct UnixEndpointView {
    /// The path, `@name` for an abstract name, `null` when unnamed (or the peer is unknown).
    path: Option<String>,
    inode: u64,
}

fn unix_view<'a>(snapshot: &'a Snapshot, socket: &'a UnixSocket) -> UnixView<'a> {
    UnixView {
        proto: "unix",
        kind: socket.kind.as_str(),
        state: socket.state.as_str(),
        local: UnixEndpointView {
            path: socket.path.text(),
            inode: socket.inode,
        },
        remote: socket.peer_inode.map(|inode| UnixEndpointView {
            path: socket.peer_path.as_ref().and_then(UnixPath::text),
            inode,
        }),
        recv_q: socket.recv_q,
        send_q: socket.send_q,
        uid: socket.uid,
        inode: socket.inode,
        netns: socket.netns,
        processes: Pids {
            processes: &snapshot.processes,
            pids: &socket.pids,
        },
    }
}

#[derive(Serialize)]
struct TimerView {
    kind: String,
    expires_ms: u64,
    retransmits: Option<u32>,
    probes: Option<u32>,
}

#[derive(Serialize)]
struct EndpointView<'a> {
    #[serde(serialize_with = "serialize_display")]
    host: IpAddr,
    port: u16,
    /// An IPv6 scope id (the interface index), `None` when there is none.
    scope_id: Option<u32>,
    /// That interface's name, `None` when it has none (any more).
    scope: Option<String>,
    /// The host's name, with `--resolve` (else null); never a guess.
    name: Option<&'a str>,
    service: Option<&'a str>,
    port_class: &'static str,
}

/// One process as the document's `processes` map and the `process` watch event describe it.
pub fn process_object(p: &Process) -> impl Serialize + '_ {
    ProcessView {
        pid: p.pid,
        name: &p.name,
        user: p.user.as_deref(),
        cmdline: p.cmdline.as_deref(),
        argv: p.argv.as_deref(),
        cgroup: p.cgroup.as_ref().map(|c| c.path.as_str()),
        context: p
            .cgroup
            .as_ref()
            .and_then(|c| c.context.as_ref())
            .map(context_view),
    }
}

#[derive(Serialize)]
struct ProcessView<'a> {
    pid: u32,
    name: &'a str,
    user: Option<&'a str>,
    cmdline: Option<&'a str>,
    argv: Option<&'a [String]>,
    /// Its cgroup v2 path (/proc/PID/cgroup) and what that says; null when not asked for.
    cgroup: Option<&'a str>,
    context: Option<ContextView<'a>>,
}

fn endpoint_view<'a>(
    addr: SocketAddr,
    proto: Proto,
    services: &'a Services,
    names: &'a HashMap<IpAddr, String>,
) -> EndpointView<'a> {
    let scope_id = match addr {
        SocketAddr::V6(addr) if addr.scope_id() != 0 => Some(addr.scope_id()),
        _ => None,
    };
    EndpointView {
        host: addr.ip(),
        port: addr.port(),
        scope_id,
        scope: scope_id.and_then(interface_name),
        name: names.get(&addr.ip()).map(String::as_str),
        service: services.name(addr.port(), proto),
        port_class: PortClass::of(addr.port()).as_str(),
    }
}

/// One TCP/UDP socket as the document lists it, its owners looked up in `processes`: the same
/// object wherever a socket is written (`--json`, `--watch --json`).
pub fn socket_object<'a>(
    processes: &'a HashMap<u32, Process>,
    services: &'a Services,
    socket: &'a Socket,
    cgroup: Option<&'a Cgroup>,
    names: &'a HashMap<IpAddr, String>,
) -> impl Serialize + 'a {
    socket_view(processes, services, socket, cgroup, names)
}

fn socket_view<'a>(
    processes: &'a HashMap<u32, Process>,
    services: &'a Services,
    socket: &'a Socket,
    cgroup: Option<&'a Cgroup>,
    names: &'a HashMap<IpAddr, String>,
) -> SocketView<'a> {
    SocketView {
        proto: socket.proto.as_str(),
        family: socket.family().as_str(),
        v6only: socket.v6only,
        state: socket.state.as_str(),
        local: endpoint_view(socket.local, socket.proto, services, names),
        remote: socket
            .remote
            .map(|r| endpoint_view(r, socket.proto, services, names)),
        recv_q: socket.recv_q,
        send_q: socket.send_q,
        uid: socket.uid,
        inode: socket.inode,
        netns: socket.netns,
        cgroup_id: socket.cgroup,
        cgroup: cgroup.map(|c| c.path.as_str()),
        context: cgroup.and_then(|c| c.context.as_ref()).map(context_view),
        timer: socket.timer.map(|timer| TimerView {
            kind: timer.kind.name().into_owned(),
            expires_ms: timer.expires_ms,
            retransmits: timer.retransmits,
            probes: timer.probes,
        }),
        processes: Pids {
            processes,
            pids: &socket.pids,
        },
        tcp_info: socket.tcp_info.as_deref().map(tcp_info_view),
    }
}

/// The pids of a socket's owners, in pid order, skipping any that exited before we looked (a
/// pid listed is a key of the document's `processes`).
struct Pids<'a> {
    processes: &'a HashMap<u32, Process>,
    pids: &'a [u32],
}

impl Serialize for Pids<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let pids = self
            .pids
            .iter()
            .filter(|pid| self.processes.contains_key(pid));
        serializer.collect_seq(pids)
    }
}

/// One socket object of the document, TCP/UDP or Unix. Made and written one at a time, never
/// stored: the size of the TCP/UDP one (its tcp_info inline) costs a stack frame, not memory.
#[allow(clippy::large_enum_variant)]
#[derive(Serialize)]
#[serde(untagged)]
pub enum SocketObject<'a> {
    Inet(SocketView<'a>),
    Unix(UnixView<'a>),
}

/// Each socket of the snapshot as the object `--json` writes for it, TCP/UDP first, then
/// Unix: for printers that reshape the same fields (`--csv`).
pub fn socket_objects<'a>(
    snapshot: &'a Snapshot,
    services: &'a Services,
) -> impl Iterator<Item = SocketObject<'a>> + 'a {
    let inet = (snapshot.sockets.iter()).map(|socket| {
        SocketObject::Inet(socket_view(
            &snapshot.processes,
            services,
            socket,
            cgroup_of(snapshot, socket),
            &snapshot.host_names,
        ))
    });
    let unix = (snapshot.unix_sockets.iter())
        .map(|socket| SocketObject::Unix(unix_view(snapshot, socket)));
    inet.chain(unix)
}

/// Write an address as a JSON string without building a String first.
fn serialize_display<S: Serializer>(value: &IpAddr, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

pub fn write_json<W: Write>(
    out: &mut W,
    snapshot: &Snapshot,
    services: &Services,
) -> io::Result<()> {
    let mut writer = JsonWriter::default();
    writer.write(out, snapshot, services)?;
    writer.finish(out)
}

/// One document written a batch of sockets at a time (the one-shot stream): its head with the
/// first batch, then each batch's sockets, and at the end `processes`, each owner of a listed
/// socket once, keyed by its pid as a string (a socket names its owners by pid, so a long argv
/// is written once per document, not once per socket).
#[derive(Default)]
pub struct JsonWriter {
    started: bool,
    /// The owners of the sockets written, by pid.
    processes: BTreeMap<u32, Process>,
}

impl JsonWriter {
    /// The sockets of `snapshot`, TCP/UDP first, then Unix (the head first, with the first
    /// batch: its time, host and owners' coverage are the document's).
    pub fn write<W: Write>(
        &mut self,
        out: &mut W,
        snapshot: &Snapshot,
        services: &Services,
    ) -> io::Result<()> {
        if !self.started {
            self.write_head(out, snapshot)?;
        }
        let sockets = snapshot.sockets.iter().map(|s| &s.pids);
        let pids = sockets.chain(snapshot.unix_sockets.iter().map(|s| &s.pids));
        for &pid in pids.flatten() {
            if let (std::collections::btree_map::Entry::Vacant(entry), Some(process)) =
                (self.processes.entry(pid), snapshot.processes.get(&pid))
            {
                entry.insert(process.clone());
            }
        }
        for socket in socket_objects(snapshot, services) {
            if self.started {
                out.write_all(b",")?;
            }
            self.started = true;
            serde_json::to_writer(&mut *out, &socket).map_err(io::Error::from)?;
        }
        self.started = true;
        Ok(())
    }

    fn write_head<W: Write>(&mut self, out: &mut W, snapshot: &Snapshot) -> io::Result<()> {
        let head = Head {
            version: SCHEMA_VERSION,
            hostname: snapshot.hostname.as_deref(),
            taken_at: snapshot.taken_at.map(rfc3339),
            owners: coverage_view(snapshot.owners),
            namespaces: snapshot
                .namespaces
                .iter()
                .map(|namespace| NamespaceView {
                    inode: namespace.inode,
                    name: namespace.name.as_deref(),
                    error: namespace.error.as_deref(),
                })
                .collect(),
        };
        let mut text = serde_json::to_vec(&head).map_err(io::Error::from)?;
        // `{...}` without its closing brace: the sockets' array comes next.
        text.pop();
        out.write_all(&text)?;
        out.write_all(br#","sockets":["#)
    }

    /// The end of the document: `processes` and the closing brace. A writer given no batch
    /// writes an empty document's head first.
    pub fn finish<W: Write>(mut self, out: &mut W) -> io::Result<()> {
        if !self.started {
            self.write_head(out, &Snapshot::default())?;
        }
        out.write_all(br#"],"processes":"#)?;
        let processes: Vec<(String, _)> = (self.processes.iter())
            .map(|(pid, process)| (pid.to_string(), process_object(process)))
            .collect();
        serde_json::to_writer(&mut *out, &MapOf(&processes)).map_err(io::Error::from)?;
        out.write_all(b"}\n")
    }
}

/// Entries written as a JSON object, in their order.
struct MapOf<'a, V>(&'a [(String, V)]);

impl<V: Serialize> Serialize for MapOf<'_, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(key, value)| (key, value)))
    }
}

/// `2026-11-21T05:30:00.123Z`: UTC, millisecond precision.
pub fn rfc3339(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since_epoch.as_secs();
    let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
    let of_day = seconds % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        since_epoch.subsec_millis()
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_document_in_batches_is_the_document_of_the_whole_snapshot() {
        use crate::model::{Process, SocketState};
        let services = Services::builtin();
        let socket = |local: &str, pid: u32| Socket {
            pids: vec![pid],
            inode: Some(u64::from(pid) * 10),
            ..Socket::new(Proto::Tcp, SocketState::Listen, local.parse().unwrap())
        };
        let process = Process::named;
        let whole = Snapshot {
            sockets: vec![
                socket("127.0.0.1:80", 9),
                socket("127.0.0.1:81", 3),
                socket("[::1]:82", 9),
            ],
            processes: HashMap::from([(9, process(9, "web")), (3, process(3, "db"))]),
            hostname: Some("host".into()),
            taken_at: Some(UNIX_EPOCH + Duration::from_secs(86_400)),
            owners: OwnerCoverage::Complete,
            ..Snapshot::default()
        };
        let mut one = Vec::new();
        write_json(&mut one, &whole, &services).unwrap();
        // Two batches, as the one-shot stream gives them: the second's owners include the
        // first's (and one no listed socket names, which is left out).
        let mut writer = JsonWriter::default();
        let mut batched = Vec::new();
        let first = Snapshot {
            sockets: whole.sockets[..1].to_vec(),
            processes: HashMap::from([(9, process(9, "web"))]),
            ..whole.clone()
        };
        let second = Snapshot {
            sockets: whole.sockets[1..].to_vec(),
            processes: HashMap::from([
                (9, process(9, "web")),
                (3, process(3, "db")),
                (5, process(5, "unlisted")),
            ]),
            ..whole.clone()
        };
        writer.write(&mut batched, &first, &services).unwrap();
        writer.write(&mut batched, &second, &services).unwrap();
        writer.finish(&mut batched).unwrap();
        assert_eq!(
            String::from_utf8(batched).unwrap(),
            String::from_utf8(one.clone()).unwrap()
        );
        let document: serde_json::Value = serde_json::from_slice(&one).unwrap();
        assert_eq!(document["sockets"].as_array().unwrap().len(), 3);
        let pids: Vec<&String> = document["processes"].as_object().unwrap().keys().collect();
        assert_eq!(pids, ["3", "9"]);
        assert_eq!(document["taken_at"], "1970-01-02T00:00:00.000Z");
        // No socket at all: still one whole document.
        let mut empty = Vec::new();
        JsonWriter::default().finish(&mut empty).unwrap();
        let document: serde_json::Value = serde_json::from_slice(&empty).unwrap();
        assert_eq!(document["sockets"], serde_json::json!([]));
        assert_eq!(document["processes"], serde_json::json!({}));
    }

    fn endpoint_json(addr: &str) -> serde_json::Value {
        let services = Services::builtin();
        let no_names = HashMap::new();
        let view = endpoint_view(addr.parse().unwrap(), Proto::Tcp, &services, &no_names);
        serde_json::to_value(view).unwrap()
    }

    #[test]
    fn an_endpoint_without_scope_has_null_scope_fields() {
        for addr in ["127.0.0.1:22", "[::1]:22", "[fe80::1]:22"] {
            let json = endpoint_json(addr);
            assert!(
                json["scope_id"].is_null() && json["scope"].is_null(),
                "{json}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_scoped_endpoint_keeps_its_host_bare_and_names_the_interface() {
        let lo = crate::platform::system::interface_index("lo").expect("no loopback interface");
        let json = endpoint_json(&format!("[fe80::1%{lo}]:22"));
        assert_eq!(json["host"], "fe80::1");
        assert_eq!(json["scope_id"], lo);
        assert_eq!(json["scope"], "lo");
        let json = endpoint_json("[fe80::1%4000000000]:22");
        assert_eq!(json["scope_id"], 4_000_000_000u32);
        assert!(json["scope"].is_null(), "{json}");
    }

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_millis(951_782_400_250)),
            "2000-02-29T00:00:00.250Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_795_219_199)),
            "2026-11-20T23:59:59.000Z"
        );
    }
}
