//! `--csv`: the sockets as RFC 4180 CSV with a header row, one row per socket, every field of
//! `--json`'s socket objects in a fixed column order (docs/json.md, "CSV"). The fields come
//! from the JSON printer's own socket objects, laid out in cells by [`flat`](super::flat) as
//! they are serialized, so the two cannot drift apart; the quoting is RFC 4180's, checked
//! against the csv crate's in the unit tests.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use crate::format::is_format_or_separator;
use crate::model::{Process, Snapshot};
use crate::output::flat::{Layout, Row};
use crate::output::json::socket_objects;
use crate::services::Services;

/// Each column's header and the path of its field in a `--json` socket object. An empty cell is
/// `null` (unknown, or not applicable to the row's protocol); `processes` holds the owners as a
/// JSON array of `{"pid", "name"}` (never the argv, which `--json` writes once per process),
/// `pids` the same pids spaced.
pub const COLUMNS: &[(&str, &[&str])] = &[
    ("proto", &["proto"]),
    ("family", &["family"]),
    ("v6only", &["v6only"]),
    ("type", &["type"]),
    ("state", &["state"]),
    ("local_host", &["local", "host"]),
    ("local_port", &["local", "port"]),
    ("local_scope_id", &["local", "scope_id"]),
    ("local_scope", &["local", "scope"]),
    ("local_service", &["local", "service"]),
    ("local_port_class", &["local", "port_class"]),
    ("local_path", &["local", "path"]),
    ("local_inode", &["local", "inode"]),
    ("remote_host", &["remote", "host"]),
    ("remote_port", &["remote", "port"]),
    ("remote_scope_id", &["remote", "scope_id"]),
    ("remote_scope", &["remote", "scope"]),
    ("remote_service", &["remote", "service"]),
    ("remote_port_class", &["remote", "port_class"]),
    ("remote_path", &["remote", "path"]),
    ("remote_inode", &["remote", "inode"]),
    ("recv_q", &["recv_q"]),
    ("send_q", &["send_q"]),
    ("uid", &["uid"]),
    ("inode", &["inode"]),
    ("timer_kind", &["timer", "kind"]),
    ("timer_expires_ms", &["timer", "expires_ms"]),
    ("timer_retransmits", &["timer", "retransmits"]),
    ("timer_probes", &["timer", "probes"]),
    ("pids", &["processes"]),
    ("processes", &["processes"]),
    ("tcp_info_congestion", &["tcp_info", "congestion"]),
    ("tcp_info_rto_us", &["tcp_info", "rto_us"]),
    ("tcp_info_rtt_us", &["tcp_info", "rtt_us"]),
    ("tcp_info_rttvar_us", &["tcp_info", "rttvar_us"]),
    ("tcp_info_min_rtt_us", &["tcp_info", "min_rtt_us"]),
    ("tcp_info_mss", &["tcp_info", "mss"]),
    ("tcp_info_cwnd", &["tcp_info", "cwnd"]),
    ("tcp_info_ssthresh", &["tcp_info", "ssthresh"]),
    ("tcp_info_retrans", &["tcp_info", "retrans"]),
    ("tcp_info_total_retrans", &["tcp_info", "total_retrans"]),
    ("tcp_info_lost", &["tcp_info", "lost"]),
    ("tcp_info_unacked", &["tcp_info", "unacked"]),
    ("tcp_info_notsent", &["tcp_info", "notsent"]),
    ("tcp_info_bytes_sent", &["tcp_info", "bytes_sent"]),
    ("tcp_info_bytes_retrans", &["tcp_info", "bytes_retrans"]),
    ("tcp_info_bytes_acked", &["tcp_info", "bytes_acked"]),
    ("tcp_info_bytes_received", &["tcp_info", "bytes_received"]),
    ("tcp_info_segs_out", &["tcp_info", "segs_out"]),
    ("tcp_info_segs_in", &["tcp_info", "segs_in"]),
    (
        "tcp_info_delivery_rate_bytes_per_s",
        &["tcp_info", "delivery_rate_bytes_per_s"],
    ),
    (
        "tcp_info_pacing_rate_bytes_per_s",
        &["tcp_info", "pacing_rate_bytes_per_s"],
    ),
    ("tcp_info_lastsnd_ms", &["tcp_info", "lastsnd_ms"]),
    ("tcp_info_lastrcv_ms", &["tcp_info", "lastrcv_ms"]),
    ("tcp_info_lastack_ms", &["tcp_info", "lastack_ms"]),
    ("tcp_info_busy_us", &["tcp_info", "busy_us"]),
    ("tcp_info_rwnd_limited_us", &["tcp_info", "rwnd_limited_us"]),
    (
        "tcp_info_sndbuf_limited_us",
        &["tcp_info", "sndbuf_limited_us"],
    ),
    // Added after the first release of the columns: last, so earlier columns keep their places.
    ("netns", &["netns"]),
    ("cgroup_id", &["cgroup_id"]),
    ("cgroup", &["cgroup"]),
    ("context", &["context", "label"]),
    ("local_name", &["local", "name"]),
    ("remote_name", &["remote", "name"]),
];

pub fn write_csv<W: Write>(
    out: &mut W,
    snapshot: &Snapshot,
    services: &Services,
) -> io::Result<()> {
    write_csv_header(out)?;
    write_csv_rows(out, snapshot, services)?;
    out.flush()
}

/// The header record, the columns' names.
pub fn write_csv_header<W: Write>(out: &mut W) -> io::Result<()> {
    let mut line = Vec::with_capacity(1024);
    push_record(&mut line, COLUMNS.iter().map(|(header, _)| *header));
    out.write_all(&line)
}

/// A record per socket of `snapshot` (a batch of the one-shot stream, or all of them).
pub fn write_csv_rows<W: Write>(
    out: &mut W,
    snapshot: &Snapshot,
    services: &Services,
) -> io::Result<()> {
    let mut line = Vec::with_capacity(1024);
    let paths: Vec<&[&str]> = COLUMNS.iter().map(|(_, path)| *path).collect();
    let layout = Layout::new(&paths, OWNERS);
    let mut row = Row::new(&layout, COLUMNS.len());
    let mut json = Vec::new();
    let column = |name: &str| COLUMNS.iter().position(|(header, _)| *header == name);
    let (pids_column, processes_column) = (column("pids"), column("processes"));
    for socket in socket_objects(snapshot, services) {
        row.fill(&socket).map_err(io::Error::other)?;
        if let Some(index) = pids_column {
            push_pids(&mut row.cells[index], &row.pids);
        }
        if let Some(index) = processes_column {
            let cell = &mut row.cells[index];
            push_processes(cell, &mut json, &row.pids, &snapshot.processes)?;
        }
        line.clear();
        push_record(&mut line, row.cells.iter().map(String::as_str));
        out.write_all(&line)?;
    }
    Ok(())
}

/// One RFC 4180 record ending in CRLF: a cell holding a comma, a quote or a line break is
/// quoted, its quotes doubled; any other cell is written as it is (what the csv crate's
/// `QuoteStyle::Necessary` writes, which the unit test checks).
fn push_record<'a>(line: &mut Vec<u8>, cells: impl Iterator<Item = &'a str>) {
    for (index, cell) in cells.enumerate() {
        if index > 0 {
            line.push(b',');
        }
        let cell = cell.as_bytes();
        if cell
            .iter()
            .any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
        {
            line.push(b'"');
            for &byte in cell {
                if byte == b'"' {
                    line.push(b'"');
                }
                line.push(byte);
            }
            line.push(b'"');
        } else {
            line.extend_from_slice(cell);
        }
    }
    line.extend_from_slice(b"\r\n");
}

/// The path of the owners' pids in a socket object.
const OWNERS: &str = "processes";

/// The owners' pids, spaced.
fn push_pids(cell: &mut String, pids: &[u64]) {
    for (index, pid) in pids.iter().enumerate() {
        if index > 0 {
            cell.push(' ');
        }
        let _ = write!(cell, "{pid}");
    }
}

/// The owners as a JSON array of `{"name", "pid"}` (keys in order, as serde_json writes an
/// object), every control and format character escaped.
fn push_processes(
    cell: &mut String,
    json: &mut Vec<u8>,
    pids: &[u64],
    processes: &HashMap<u32, Process>,
) -> io::Result<()> {
    let owners = (pids.iter())
        .filter_map(|&pid| processes.get(&u32::try_from(pid).ok()?))
        .map(|p| Owner {
            name: &p.name,
            pid: p.pid,
        });
    json.clear();
    serde_json::to_writer(&mut *json, &owners.collect::<Vec<_>>())?;
    push_json_text(cell, std::str::from_utf8(json).map_err(io::Error::other)?);
    Ok(())
}

#[derive(serde::Serialize)]
struct Owner<'a> {
    name: &'a str,
    pid: u32,
}

/// Append JSON text `raw` with every control, format and separator character a `\uXXXX`
/// escape: serde_json escapes C0 controls only, and leaves C1 controls (`\u{9b}` is a CSI to
/// many terminals) and bidi overrides raw, valid JSON that still reaches whoever prints the file.
/// Outside strings JSON text is ASCII, so each such character is inside a string.
fn push_json_text(text: &mut String, raw: &str) {
    if raw.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        text.push_str(raw);
        return;
    }
    for c in raw.chars() {
        if c.is_control() || is_format_or_separator(c) {
            for unit in c.encode_utf16(&mut [0; 2]) {
                let _ = write!(text, "\\u{unit:04x}");
            }
        } else {
            text.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        Cgroup, Context, Proto, Socket, SocketState, TcpInfo, Timer, UnixPath, UnixSocket, UnixType,
    };
    use serde_json::{Value, json};

    /// The CSV as the first version built it, through a `serde_json::Value` per socket: the
    /// oracle the serializer's rows must equal byte for byte.
    fn csv_through_values(snapshot: &Snapshot, services: &Services) -> String {
        let mut out = Vec::new();
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut out);
        writer
            .write_record(COLUMNS.iter().map(|(header, _)| header))
            .unwrap();
        for socket in socket_objects(snapshot, services) {
            let socket = serde_json::to_value(&socket).unwrap();
            let cells: Vec<String> = COLUMNS
                .iter()
                .map(|(header, path)| {
                    let value = path
                        .iter()
                        .try_fold(&socket, |value, key| value.get(key))
                        .unwrap_or(&Value::Null);
                    match value {
                        Value::Null => String::new(),
                        Value::String(text) => crate::format::escaped(text),
                        Value::Array(pids) if *header == "pids" => pids
                            .iter()
                            .map(Value::to_string)
                            .collect::<Vec<_>>()
                            .join(" "),
                        Value::Array(pids) => {
                            let owners = (pids.iter().filter_map(Value::as_u64))
                                .filter_map(|pid| snapshot.processes.get(&(pid as u32)))
                                .map(|p| json!({"pid": p.pid, "name": p.name}));
                            let mut cell = String::new();
                            push_json_text(&mut cell, &Value::Array(owners.collect()).to_string());
                            cell
                        }
                        other => {
                            let mut cell = String::new();
                            push_json_text(&mut cell, &other.to_string());
                            cell
                        }
                    }
                })
                .collect();
            writer.write_record(&cells).unwrap();
        }
        drop(writer);
        String::from_utf8(out).unwrap()
    }

    const EVIL: &str = "\u{1b}]0;PWN\u{7}\u{202e}\u{9b}\\,\"x\"\n";

    fn process(pid: u32, name: &str) -> Process {
        Process {
            pid,
            name: name.to_string(),
            user: Some("root".into()),
            cmdline: Some("x ".repeat(1000)),
            argv: Some(vec!["x".into(); 1000]),
            cgroup: None,
        }
    }

    /// Every field filled somewhere: owners with hostile names, a scoped IPv6 peer, a timer,
    /// tcp_info, a namespace, a container's cgroup, host names, and Unix sockets.
    fn rich_snapshot() -> Snapshot {
        let mut snapshot = Snapshot::default();
        let mut tcp = Socket::new(
            Proto::Tcp,
            SocketState::Established,
            "127.0.0.1:8080".parse().unwrap(),
        );
        tcp.remote = Some("127.0.0.2:50000".parse().unwrap());
        tcp.recv_q = Some(0);
        tcp.send_q = Some(4_000_000_000);
        tcp.uid = Some(1000);
        tcp.inode = Some(123_456);
        tcp.pids = vec![7, 9, 11];
        tcp.timer = Some(Timer::from_sock_diag(1, 200, 3));
        tcp.tcp_info = Some(Box::new(TcpInfo {
            congestion: Some(format!("cubic{EVIL}")),
            rtt_us: 51,
            ssthresh: Some(7),
            bytes_acked: Some(u64::MAX),
            ..TcpInfo::default()
        }));
        tcp.cookie = Some(99);
        tcp.netns = Some(4_026_531_840);
        tcp.cgroup = Some(42);
        let mut six = Socket::new(
            Proto::Udp,
            SocketState::Established,
            "[fe80::1%2]:5353".parse().unwrap(),
        );
        six.remote = Some("[2001:db8::9]:53".parse().unwrap());
        six.v6only = Some(false);
        let listener = Socket::new(
            Proto::Tcp,
            SocketState::Listen,
            "0.0.0.0:22".parse().unwrap(),
        );
        snapshot.sockets = vec![tcp, six, listener];
        snapshot.unix_sockets = vec![UnixSocket {
            kind: UnixType::Stream,
            state: SocketState::Established,
            path: UnixPath::Abstract(format!("bus{EVIL}").into_bytes()),
            inode: 5,
            peer_inode: Some(6),
            peer_known: true,
            peer_path: Some(UnixPath::File(b"/run/x.sock".to_vec())),
            recv_q: Some(1),
            send_q: None,
            uid: Some(0),
            pids: vec![7],
            netns: None,
        }];
        snapshot.processes = HashMap::from([(7, process(7, EVIL)), (9, process(9, "c"))]);
        let path = "/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope";
        snapshot.cgroups = HashMap::from([(
            42,
            Cgroup {
                path: path.to_string(),
                context: Context::of_path(path),
            },
        )]);
        snapshot.host_names =
            HashMap::from([("127.0.0.2".parse().unwrap(), format!("peer{EVIL}"))]);
        snapshot
    }

    #[test]
    fn rows_equal_the_json_objects_laid_out_through_values() {
        let services = Services::load();
        let snapshot = rich_snapshot();
        let mut out = Vec::new();
        write_csv(&mut out, &snapshot, &services).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, csv_through_values(&snapshot, &services));
        // Filled where the snapshot says, and empty (unknown) where it does not.
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let headers = reader.headers().unwrap().clone();
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 4);
        let get = |row: usize, column: &str| {
            let index = headers.iter().position(|h| h == column).unwrap();
            rows[row][index].to_string()
        };
        assert_eq!(get(0, "local_host"), "127.0.0.1");
        assert_eq!(get(0, "send_q"), "4000000000");
        assert_eq!(get(0, "pids"), "7 9");
        assert_eq!(get(0, "tcp_info_bytes_acked"), u64::MAX.to_string());
        assert_eq!(get(0, "tcp_info_rtt_us"), "51");
        assert_eq!(get(0, "context"), "docker:0123456789ab");
        assert_eq!(get(0, "timer_kind"), "on");
        assert_eq!(get(1, "local_scope_id"), "2");
        assert_eq!(get(1, "v6only"), "false");
        assert_eq!(get(1, "uid"), "");
        assert_eq!(get(2, "remote_host"), "");
        assert_eq!(get(3, "type"), "stream");
        assert_eq!(get(3, "remote_path"), "/run/x.sock");
        let owners: Value = serde_json::from_str(&get(0, "processes")).unwrap();
        assert_eq!(
            owners,
            json!([{"pid": 7, "name": EVIL}, {"pid": 9, "name": "c"}])
        );
        // No raw control or bidi character anywhere in the file.
        assert!(
            !text
                .chars()
                .any(|c| (c.is_control() && c != '\r' && c != '\n') || is_format_or_separator(c)),
            "{text}"
        );
    }

    #[test]
    fn json_cells_escape_every_control_and_bidi_character() {
        let evil = "\u{1b}]0;PWN\u{7}\u{202e}\u{9b}\\";
        let owners = json!([{"pid": 7, "name": evil}]);
        let mut text = String::new();
        push_json_text(&mut text, &owners.to_string());
        assert_eq!(
            text,
            "[{\"name\":\"\\u001b]0;PWN\\u0007\\u202e\\u009b\\\\\",\"pid\":7}]"
        );
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), owners);
        // Beyond the BMP: a surrogate pair.
        let tag = json!(["\u{e0041}"]);
        let mut text = String::new();
        push_json_text(&mut text, &tag.to_string());
        assert_eq!(text, "[\"\\udb40\\udc41\"]");
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), tag);
    }

    #[test]
    fn quoting_is_rfc_4180_as_the_csv_crate_writes_it() {
        let cells = [
            "a,b",
            "say \"hi\"",
            "two\nlines",
            "cr\rhere",
            "plain",
            "",
            " spaced ",
            "#hash",
            "\"",
            ",",
            "[{\"name\":\"x\",\"pid\":7}]",
            "caf\u{e9}",
        ];
        let mut ours = Vec::new();
        push_record(&mut ours, cells.iter().copied());
        push_record(&mut ours, ["", ""].into_iter());
        let mut theirs = Vec::new();
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .flexible(true)
            .from_writer(&mut theirs);
        writer.write_record(cells).unwrap();
        writer.write_record(["", ""]).unwrap();
        drop(writer);
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            String::from_utf8(theirs).unwrap()
        );
    }
}
