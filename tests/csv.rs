//! `--csv`: RFC 4180 as Python's csv module reads it, and field for field what `--json` says.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Command, Stdio};

use common::{rnetstat, stdout_of};

/// Turns the CSV rows back into `--json`'s socket objects (empty cell = null, dotted
/// paths nested, `processes` parsed) and prints whether they equal the JSON's.
const COMPARE: &str = r#"
import csv, json, sys
INTEGERS = {"local_port", "local_scope_id", "local_inode", "remote_port", "remote_scope_id",
            "remote_inode", "recv_q", "send_q", "uid", "inode", "timer_expires_ms",
            "timer_retransmits", "timer_probes", "netns", "cgroup_id"}
NESTED = ("local", "remote", "timer", "tcp_info")
def split(column):
    for head in NESTED:
        if column.startswith(head + "_"):
            return head, column[len(head) + 1:]
    return column, ""
with open(sys.argv[1], newline="") as f:
    raw = f.read()
assert "\r\n" in raw, "RFC 4180 ends records with CRLF"
rows = list(csv.DictReader(raw.splitlines(keepends=True)))
document = json.load(open(sys.argv[2]))
def from_row(row):
    socket = {}
    for column, text in row.items():
        if column == "pids":
            continue
        value = None if text == "" else text
        if column == "processes":
            owners = json.loads(text)
            for owner in owners:
                assert set(owner) == {"pid", "name"}, owner
                assert document["processes"][str(owner["pid"])]["name"] == owner["name"], owner
            value = [owner["pid"] for owner in owners]
        elif value is not None and column == "v6only":
            value = {"true": True, "false": False}[value]
        elif value is not None and (column in INTEGERS or
                                    (column.startswith("tcp_info_") and column != "tcp_info_congestion")):
            value = int(value)
        head, tail = split(column)
        if head in NESTED and tail:
            socket.setdefault(head, {})[tail] = value
        else:
            socket[column] = value
    assert row["pids"] == " ".join(str(p) for p in socket["processes"]), row
    for part in NESTED:
        if all(v is None for v in socket[part].values()):
            socket[part] = None
    return socket
# Milliseconds since the last packet and until a timer fires move between the two runs.
MOVING = {"lastsnd_ms", "lastrcv_ms", "lastack_ms", "expires_ms"}
def canonical(socket):
    full = {}
    for key, value in socket.items():
        if key in NESTED and value is not None:
            value = {k: v for k, v in value.items() if k not in MOVING}
        full[key] = value
    return json.dumps(full, sort_keys=True)
def fill(socket):
    # The CSV has a column for every field of either kind of socket; JSON omits the other kind's.
    socket = dict(socket)
    # The context is one cell: its label.
    if socket.get("context") is not None:
        socket["context"] = socket["context"]["label"]
    for column in [c for c in rows[0].keys()] if rows else []:
        head, tail = split(column)
        if column == "pids":
            continue
        if head in NESTED and tail:
            if socket.get(head) is not None:
                socket[head] = dict(socket[head])
                socket[head].setdefault(tail, None)
        else:
            socket.setdefault(column, None)
    return socket
from_csv = sorted(canonical(from_row(r)) for r in rows)
from_json = sorted(canonical(fill(s)) for s in document["sockets"])
missing = [k for s in document["sockets"] for k in s if k not in rows[0] and k not in NESTED]
print(json.dumps({"rows": len(rows), "equal": from_csv == from_json, "missing": missing,
                  "csv_only": [s for s in from_csv if s not in from_json][:3],
                  "json_only": [s for s in from_json if s not in from_csv][:3]}))
"#;

#[test]
#[cfg_attr(not(has_python3), ignore = "needs python3 (apt-get install python3)")]
fn csv_read_back_by_python_equals_json() {
    // A child whose name needs quoting: a comma, a quote, a line break (prctl PR_SET_NAME).
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import socket,sys,ctypes\nctypes.CDLL(None).prctl(15,sys.argv[1].encode(),0,0,0)\n\
             s=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen()\n\
             print(s.getsockname()[1],flush=True)\nsys.stdin.read()",
            "a,\"b\"\nc",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is needed for this test (CI installs it)");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let child_port: u16 = line.trim().parse().expect("the child's port");

    let listener4 = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener4.local_addr().unwrap()).unwrap();
    let (_served, _) = listener4.accept().unwrap();
    let _listener6 = TcpListener::bind("[::1]:0").unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let peer = UdpSocket::bind("[::1]:0").unwrap();
    let connected = UdpSocket::bind("[::1]:0").unwrap();
    connected.connect(peer.local_addr().unwrap()).unwrap();

    let me = std::process::id().to_string();
    let child_pid = child.id().to_string();
    let filter = ["-a", "-i", "pid", &me, "or", "pid", &child_pid];
    let csv = stdout_of(&[&["--csv"][..], &filter].concat());
    let json = stdout_of(&[&["--json"][..], &filter].concat());
    assert!(
        csv.contains(",cubic,") || csv.contains(",reno,") || csv.contains(",bbr,"),
        "-i fills tcp_info: {csv}"
    );
    let dir = std::env::temp_dir().join(format!("rnetstat-csv-{me}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("out.csv"), &csv).unwrap();
    std::fs::write(dir.join("out.json"), &json).unwrap();
    let compared = Command::new("python3")
        .args(["-c", COMPARE])
        .arg(dir.join("out.csv"))
        .arg(dir.join("out.json"))
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let _ = child.stdin.take().map(|mut stdin| stdin.write_all(b""));
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        compared.status.success(),
        "{}",
        String::from_utf8_lossy(&compared.stderr)
    );
    let verdict: serde_json::Value = serde_json::from_slice(&compared.stdout).unwrap();
    assert_eq!(verdict["equal"], true, "{verdict}\n--- csv\n{csv}");
    assert_eq!(verdict["missing"], serde_json::json!([]), "{verdict}");
    // Ours: two listeners, two ends of one connection, three UDP sockets; and the child's.
    assert!(verdict["rows"].as_u64().unwrap() >= 8, "{verdict}\n{csv}");
    assert!(csv.contains(&format!(",{child_port},")), "{csv}");
    // JSON escapes the quote in the owners cell, then RFC 4180 doubles it.
    assert!(csv.contains(r#"a,\""b\""\nc"#), "quoted: {csv}");
    drop((client, udp, connected));
}

#[test]
fn csv_starts_with_its_header_and_survives_a_closed_pipe() {
    let csv = stdout_of(&["--csv", "-a"]);
    assert!(csv.starts_with("proto,family,v6only,type,state,local_host,local_port,"));
    let piped = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "{} --csv -a | head -1 >/dev/null; exit ${{PIPESTATUS[0]}}",
            env!("CARGO_BIN_EXE_rnetstat")
        ))
        .output()
        .unwrap();
    assert!(piped.status.success(), "{piped:?}");
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(!stderr.contains("rror"), "quiet on a closed pipe: {stderr}");
}

#[test]
fn csv_refuses_to_be_combined_with_json_or_live() {
    for other in ["--json", "--live", "-c", "--watch", "--metrics"] {
        let output = rnetstat().args(["--csv", other]).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "--csv {other}");
    }
}
