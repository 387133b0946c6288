//! Shared pieces of the integration tests: run the real binary, read its JSON, ask `ss`.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::{Command, Output};

use serde_json::Value;

#[cfg(target_os = "linux")]
pub mod container;
pub mod holders;

pub fn rnetstat() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rnetstat"))
}

pub fn run(args: &[&str]) -> Output {
    rnetstat().args(args).output().expect("run rnetstat")
}

pub fn stdout_of(args: &[&str]) -> String {
    let output = run(args);
    assert!(
        output.status.success(),
        "rnetstat {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

pub fn json_of(args: &[&str]) -> Value {
    serde_json::from_str(&stdout_of(args)).expect("valid JSON")
}

/// The JSON socket whose local endpoint is `local` for `proto`, if rnetstat listed it. A
/// listener shares its address with the connections it accepted: the one without a peer wins.
pub fn find_socket<'a>(doc: &'a Value, proto: &str, local: SocketAddr) -> Option<&'a Value> {
    let mut matching = doc["sockets"].as_array()?.iter().filter(|s| {
        s["proto"] == proto
            && s["local"]["port"] == local.port()
            && s["local"]["host"] == local.ip().to_string()
    });
    let first = matching.next()?;
    Some(
        std::iter::once(first)
            .chain(matching)
            .find(|s| s["remote"].is_null())
            .unwrap_or(first),
    )
}

/// The JSON socket with both ends given: a local port alone may be reused towards other peers.
pub fn find_connection<'a>(
    doc: &'a Value,
    proto: &str,
    local: SocketAddr,
    remote: SocketAddr,
) -> Option<&'a Value> {
    doc["sockets"].as_array()?.iter().find(|s| {
        s["proto"] == proto
            && s["local"]["port"] == local.port()
            && s["local"]["host"] == local.ip().to_string()
            && s["remote"]["port"] == remote.port()
            && s["remote"]["host"] == remote.ip().to_string()
    })
}

/// The name the kernel gives this test process (what sysinfo and ss report).
pub fn own_process_name() -> String {
    std::fs::read_to_string("/proc/self/comm")
        .expect("read /proc/self/comm")
        .trim_end()
        .to_string()
}

/// (proto, local, remote, state) in one spelling both tools can be turned into.
pub type Tuple = (String, String, String, String);

/// `ss -tuanH`, normalised: interface scopes dropped, wildcard peers as `*`, netstat state names.
pub fn ss_tuples() -> BTreeSet<Tuple> {
    ss_tuples_through(&[])
}

/// [`ss_tuples`] of `ss` run through `prefix` (`ip netns exec NS`).
pub fn ss_tuples_through(prefix: &[&str]) -> BTreeSet<Tuple> {
    let mut words = prefix.iter().copied().chain(["ss", "-tuanH"]);
    let output = Command::new(words.next().unwrap_or_default())
        .args(words)
        .output()
        .expect("run ss");
    assert!(output.status.success(), "ss failed");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 6 {
                return None;
            }
            let state = match fields[1] {
                "ESTAB" => "ESTABLISHED",
                "UNCONN" => "UNCONN",
                "LISTEN" => "LISTEN",
                "TIME-WAIT" => "TIME_WAIT",
                "SYN-SENT" => "SYN_SENT",
                "SYN-RECV" => "SYN_RECV",
                "FIN-WAIT-1" => "FIN_WAIT1",
                "FIN-WAIT-2" => "FIN_WAIT2",
                "CLOSE-WAIT" => "CLOSE_WAIT",
                "LAST-ACK" => "LAST_ACK",
                "CLOSING" => "CLOSING",
                "CLOSED" => "CLOSE",
                other => other,
            };
            // ss calls a closed TCP socket UNCONN too.
            let state = if fields[0] == "tcp" && state == "UNCONN" {
                "CLOSE"
            } else {
                state
            };
            Some((
                fields[0].to_string(),
                ss_endpoint(fields[4]),
                ss_endpoint(fields[5]),
                state.to_string(),
            ))
        })
        .collect()
}

fn ss_endpoint(text: &str) -> String {
    let (host, port) = text.rsplit_once(':').expect("host:port");
    let host = host.split('%').next().unwrap_or(host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = if host == "*" { "" } else { host };
    if port == "*" && (host.is_empty() || host == "0.0.0.0" || host == "::") {
        return "*".to_string();
    }
    let port = if port == "*" { "0" } else { port };
    let host = match host {
        // `*:PORT` is an IPv6 socket that takes IPv4 too (not v6only), bound to `::`.
        "" if text.starts_with('[') || text.starts_with('*') => "::",
        other => other,
    };
    format!("{host} {port}")
}

/// The same tuples from rnetstat's JSON.
pub fn json_tuples(doc: &Value) -> BTreeSet<Tuple> {
    let endpoint = |e: &Value| {
        if e.is_null() {
            "*".to_string()
        } else {
            format!("{} {}", e["host"].as_str().unwrap(), e["port"])
        }
    };
    doc["sockets"]
        .as_array()
        .expect("sockets array")
        .iter()
        .map(|s| {
            (
                s["proto"].as_str().unwrap().to_string(),
                endpoint(&s["local"]),
                endpoint(&s["remote"]),
                s["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}
