//! The one-shot table, JSON and CSV printed batch by batch as the kernel dumps: more sockets
//! than a batch (4,096) come out whole, each once, with their owners, as the sorted (whole
//! snapshot) path and `ss` list them.
#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::holders::Python;
use common::{json_of, stdout_of};

/// Connections per family: 2 x 1,600 x 2 ends and two listeners, 6,402 sockets.
const CONNECTIONS: usize = 1600;

/// A python3 process holding a listener on 127.0.0.1 and one on ::1, on one port, each with
/// CONNECTIONS connections to itself; it prints the port and its pid. No client takes a port a
/// listener holds, so `sport = :PORT or dport = :PORT` is these sockets and no others.
const MANY_CONNECTIONS: &str = r#"
import os, resource, socket, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 16384), hard))
while True:
    four = socket.socket(socket.AF_INET)
    four.bind(("127.0.0.1", 0))
    port = four.getsockname()[1]
    six = socket.socket(socket.AF_INET6)
    try:
        six.bind(("::1", port))
        break
    except OSError:
        four.close()
        six.close()
held = []
for listener, host in ((four, "127.0.0.1"), (six, "::1")):
    listener.listen(4096)
    held.append(listener)
    for _ in range(CONNECTIONS):
        client = socket.create_connection((host, port))
        server, _ = listener.accept()
        held += [client, server]
print(port, os.getpid(), flush=True)
sys.stdin.read()
"#;

fn hold_many() -> (Python, String, u32) {
    let script = MANY_CONNECTIONS.replace("CONNECTIONS", &CONNECTIONS.to_string());
    let python = Python::run(&[], &script);
    let numbers = python.numbers();
    let filter = format!("( sport = :{0} or dport = :{0} )", numbers[0]);
    (python, filter, numbers[1])
}

/// The table's rows (not its titles), each with its spacing made single.
fn rows(table: &str) -> Vec<String> {
    (table.lines())
        .filter(|line| !line.starts_with("Proto"))
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// `ss`'s local and peer ends of each TCP socket under `filter`, as rnetstat writes them.
fn ss_ends(filter: &str) -> BTreeSet<(String, String)> {
    let output = Command::new("ss")
        .args(["-H", "-tan"])
        .arg(filter)
        .output()
        .expect("run ss");
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    // A listener's peer is `0.0.0.0:*` or `[::]:*` to ss, `*:*` to rnetstat.
    let end = |word: &str| match word.ends_with(":*") {
        true => "*".to_string(),
        false => word.to_string(),
    };
    (text.lines())
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            (end(words[3]), end(words[4]))
        })
        .collect()
}

#[test]
fn a_table_of_more_sockets_than_a_batch_lists_each_once_as_the_sorted_table_and_ss_do() {
    let (_python, filter, _) = hold_many();
    let streamed = stdout_of(&["-tan", &filter]);
    let sorted = stdout_of(&["-tan", "--sort", "local", &filter]);
    assert!(streamed.starts_with("Proto "), "{}", &streamed[..200]);
    assert_eq!(streamed.matches("Proto ").count(), 1, "one title line");
    let streamed_rows = rows(&streamed);
    assert_eq!(streamed_rows.len(), 4 * CONNECTIONS + 2);
    let unique: BTreeSet<&String> = streamed_rows.iter().collect();
    assert_eq!(unique.len(), streamed_rows.len(), "a row listed twice");
    let mut sorted_rows = rows(&sorted);
    sorted_rows.sort();
    let mut streamed_rows = streamed_rows;
    streamed_rows.sort();
    assert_eq!(streamed_rows, sorted_rows);
    // The ends as ss lists them: `Local Address` and `Foreign Address`, `*:*` as `*`.
    let ours: BTreeSet<(String, String)> = (streamed_rows.iter())
        .map(|row| {
            let words: Vec<&str> = row.split(' ').collect();
            (words[3].to_string(), words[4].replace("*:*", "*"))
        })
        .collect();
    assert_eq!(ours, ss_ends(&filter));
}

#[test]
fn every_batch_names_its_owner_in_the_table_the_json_and_the_csv() {
    let (_python, filter, pid) = hold_many();
    let owner = format!("{pid}/python3");
    let table = stdout_of(&["-tanp", &filter]);
    let table_rows = rows(&table);
    assert_eq!(table_rows.len(), 4 * CONNECTIONS + 2);
    let unowned: Vec<&String> = (table_rows.iter())
        .filter(|row| !row.ends_with(&owner))
        .collect();
    assert!(
        unowned.is_empty(),
        "{} rows without {owner}: {:?}",
        unowned.len(),
        &unowned[..unowned.len().min(3)]
    );

    let document = json_of(&["-tan", "--json", &filter]);
    let sockets = document["sockets"].as_array().unwrap();
    assert_eq!(sockets.len(), 4 * CONNECTIONS + 2);
    assert!(
        (sockets.iter()).all(|s| s["processes"] == serde_json::json!([pid])),
        "a socket without its owner"
    );
    let processes = document["processes"].as_object().unwrap();
    assert_eq!(processes.keys().collect::<Vec<_>>(), [&pid.to_string()]);
    assert_eq!(processes[&pid.to_string()]["name"], "python3");

    let csv = stdout_of(&["-ta", "--csv", &filter]);
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("proto,family,"), "{}", lines[0]);
    assert_eq!(csv.matches("proto,family,").count(), 1, "one header");
    assert_eq!(lines.len(), 1 + 4 * CONNECTIONS + 2);
    let with_owner = format!(",{pid},\"[{{\"\"name\"\":\"\"python3\"\",\"\"pid\"\":{pid}}}]\"");
    assert!(
        lines[1..].iter().all(|line| line.contains(&with_owner)),
        "{}",
        lines[1]
    );
}
