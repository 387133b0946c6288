//! `-c/--continuous`: the real binary prints the table again every `--interval` seconds.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use common::{rnetstat, run};

/// Start `rnetstat ARGS` with its stdout read line by line on a thread.
fn spawn_lines(args: &[&str]) -> (Child, Receiver<String>) {
    let mut child = rnetstat()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sender, lines) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if sender.send(line).is_err() {
                return;
            }
        }
    });
    (child, lines)
}

/// The next line, within `wait`.
fn line(lines: &Receiver<String>, wait: Duration) -> String {
    lines.recv_timeout(wait).expect("a line in time")
}

/// The lines of one table, up to the time stamp line that starts the next: (table, that stamp).
fn table(lines: &Receiver<String>, wait: Duration) -> (Vec<String>, String) {
    let mut table = Vec::new();
    loop {
        let line = line(lines, wait);
        if line.starts_with("--- ") {
            return (table, line);
        }
        table.push(line);
    }
}

fn shows_port(table: &[String], port: u16) -> bool {
    let address = format!("127.0.0.1:{port}");
    table
        .iter()
        .any(|line| line.split_whitespace().nth(3) == Some(&address))
}

#[test]
fn a_listener_opened_between_tables_shows_in_the_next_one() {
    let (mut child, lines) = spawn_lines(&["-c", "-tln", "--interval", "1"]);
    let started = Instant::now();
    let first_stamp = line(&lines, Duration::from_secs(10));
    assert!(first_stamp.starts_with("--- "), "{first_stamp:?}");
    let (first, second_stamp) = table(&lines, Duration::from_secs(5));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // The second stamp is written after its snapshot was taken: the third table is the first
    // one collected after the listener opened.
    let (_, third_stamp) = table(&lines, Duration::from_secs(5));
    let (third, _) = table(&lines, Duration::from_secs(5));
    let elapsed = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();

    assert!(
        first[0].starts_with("Proto ") && third[0].starts_with("Proto "),
        "{first:?} {third:?}"
    );
    assert!(!shows_port(&first, port), "{first:?}");
    assert!(shows_port(&third, port), "port {port} missing: {third:?}");
    assert!(first_stamp < second_stamp && second_stamp < third_stamp);
    // Three tables and the stamp of a fourth at a one second interval: about three seconds
    // (generous: the machine is shared).
    assert!(
        elapsed < Duration::from_secs(8),
        "{elapsed:?} for three tables"
    );
}

#[test]
fn a_closed_pipe_ends_it_quietly() {
    let mut child = rnetstat()
        .args(["-c", "-tan", "--interval", "0.2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut start = [0u8; 4];
    stdout.read_exact(&mut start).unwrap();
    assert_eq!(&start, b"--- ");
    // As `rnetstat -c | head` does once it has its lines.
    drop(stdout);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running after its reader left"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{status:?}: {stderr}");
    assert_eq!(stderr, "");
}

#[test]
fn interval_without_live_or_continuous_is_a_usage_error() {
    let output = run(&["--interval", "2"]);
    assert_eq!(output.status.code(), Some(2));
    let output = run(&["-c", "--json"]);
    assert_eq!(output.status.code(), Some(2));
}

#[cfg(unix)]
#[test]
fn piped_into_head_exits_zero_without_a_word() {
    let output = std::process::Command::new("bash")
        .args([
            "-c",
            &format!(
                "set -o pipefail; {} -c -tan --interval 0.2 | head -3",
                env!("CARGO_BIN_EXE_rnetstat")
            ),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
    assert!(stdout.starts_with("--- "), "{stdout}");
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
}
