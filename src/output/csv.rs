//! `--csv`: the sockets as RFC 4180 CSV with a header row, one row per socket, every field of
//! `--json`'s socket objects in a fixed column order (docs/json.md, "CSV"). The quoting is the
//! csv crate's; the fields come from the JSON printer's own socket objects, so the two cannot
//! drift apart.

use std::io::{self, Write};

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::format::{escaped, is_format_or_separator};
use crate::model::{Process, Snapshot};
use crate::output::json::socket_values;
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
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    (writer.write_record(COLUMNS.iter().map(|(header, _)| header))).map_err(io_error)?;
    let mut cells: Vec<String> = Vec::with_capacity(COLUMNS.len());
    for socket in socket_values(snapshot, services) {
        let socket = socket.map_err(io::Error::from)?;
        cells.clear();
        cells.extend(
            COLUMNS
                .iter()
                .map(|(header, path)| cell(header, lookup(&socket, path), &snapshot.processes)),
        );
        writer.write_record(&cells).map_err(io_error)?;
    }
    writer.flush()
}

/// The write error itself, so a closed pipe stays a closed pipe (`--csv | head -1`).
fn io_error(error: csv::Error) -> io::Error {
    match error.into_kind() {
        csv::ErrorKind::Io(error) => error,
        other => io::Error::other(format!("{other:?}")),
    }
}

fn lookup<'a>(value: &'a Value, path: &[&str]) -> &'a Value {
    path.iter()
        .try_fold(value, |value, key| value.get(key))
        .unwrap_or(&Value::Null)
}

/// A cell; the owners (`pids`, `processes`) from the socket's array of pids.
fn cell(header: &str, value: &Value, processes: &HashMap<u32, Process>) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => escaped(text),
        Value::Array(pids) if header == "pids" => pids
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join(" "),
        Value::Array(pids) if header == "processes" => {
            let owners = (pids.iter().filter_map(Value::as_u64))
                .filter_map(|pid| processes.get(&u32::try_from(pid).ok()?))
                .map(|p| json!({"pid": p.pid, "name": p.name}));
            json_text(&Value::Array(owners.collect()))
        }
        other => json_text(other),
    }
}

/// `value` as JSON text with every control, format and separator character a `\uXXXX`
/// escape: serde_json escapes C0 controls only, and leaves C1 controls (`\u{9b}` is a CSI to
/// many terminals) and bidi overrides raw, valid JSON that still reaches whoever prints the file.
/// Outside strings JSON text is ASCII, so each such character is inside a string.
fn json_text(value: &Value) -> String {
    let raw = value.to_string();
    let mut text = String::with_capacity(raw.len());
    for c in raw.chars() {
        if c.is_control() || is_format_or_separator(c) {
            for unit in c.encode_utf16(&mut [0; 2]) {
                text.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            text.push(c);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_fields_flatten_and_unknown_is_an_empty_cell() {
        let socket = json!({"local": {"host": "::1", "port": 22}, "remote": null, "uid": null});
        assert_eq!(
            cell(
                "local_host",
                lookup(&socket, &["local", "host"]),
                &HashMap::new()
            ),
            "::1"
        );
        assert_eq!(
            cell(
                "local_port",
                lookup(&socket, &["local", "port"]),
                &HashMap::new()
            ),
            "22"
        );
        assert_eq!(
            cell(
                "remote_host",
                lookup(&socket, &["remote", "host"]),
                &HashMap::new()
            ),
            ""
        );
        assert_eq!(cell("uid", lookup(&socket, &["uid"]), &HashMap::new()), "");
        assert_eq!(
            cell(
                "timer_kind",
                lookup(&socket, &["timer", "kind"]),
                &HashMap::new()
            ),
            ""
        );
    }

    #[test]
    fn owners_are_one_cell_of_json_and_one_of_pids() {
        let process = |pid: u32, name: &str| Process {
            pid,
            name: name.to_string(),
            user: Some("root".into()),
            cmdline: Some("x ".repeat(1000)),
            argv: Some(vec!["x".into(); 1000]),
            cgroup: None,
        };
        let processes = HashMap::from([(7, process(7, "a,\"b\"")), (9, process(9, "c"))]);
        let socket = json!({"processes": [7, 9]});
        let owners = lookup(&socket, &["processes"]);
        assert_eq!(cell("pids", owners, &processes), "7 9");
        let parsed: Value = serde_json::from_str(&cell("processes", owners, &processes)).unwrap();
        assert_eq!(
            parsed,
            json!([{"pid": 7, "name": "a,\"b\""}, {"pid": 9, "name": "c"}])
        );
        assert_eq!(cell("pids", &json!([]), &processes), "");
        assert_eq!(cell("processes", &json!([]), &processes), "[]");
    }

    #[test]
    fn text_cells_are_escaped_and_json_cells_escape_every_control_and_bidi_character() {
        let evil = "\u{1b}]0;PWN\u{7}\u{202e}\u{9b}\\";
        let path = json!({"local": {"path": format!("@{evil}")}});
        assert_eq!(
            cell(
                "local_path",
                lookup(&path, &["local", "path"]),
                &HashMap::new()
            ),
            "@\\x1b]0;PWN\\x07\\u{202e}\\u{9b}\\\\"
        );
        let owners = json!([{"pid": 7, "name": evil}]);
        let text = json_text(&owners);
        assert_eq!(
            text,
            "[{\"name\":\"\\u001b]0;PWN\\u0007\\u202e\\u009b\\\\\",\"pid\":7}]"
        );
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), owners);
        // Beyond the BMP: a surrogate pair.
        let tag = json!(["\u{e0041}"]);
        assert_eq!(json_text(&tag), "[\"\\udb40\\udc41\"]");
        assert_eq!(
            serde_json::from_str::<Value>(&json_text(&tag)).unwrap(),
            tag
        );
    }

    #[test]
    fn quoting_is_rfc_4180() {
        let mut out = Vec::new();
        let mut writer = csv::Writer::from_writer(&mut out);
        writer
            .write_record(["a,b", "say \"hi\"", "two\nlines", "plain"])
            .unwrap();
        drop(writer);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",plain\n"
        );
    }
}
