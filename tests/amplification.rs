//! Output amplification (issue 17 item 6): a process's argv is written once per document (and
//! once per watch run), not once per socket, so the output does not grow as argv size x sockets.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::rnetstat;

/// 50 UDP sockets bound to 127.0.0.1:0 held by a python3 whose argv is 10 arguments of 100 KB.
/// It prints its pid once all are bound, then waits for stdin to close.
fn big_argv_child() -> Child {
    let code = "import socket,sys,os\n\
                s=[socket.socket(socket.AF_INET,socket.SOCK_DGRAM) for _ in range(50)]\n\
                [x.bind(('127.0.0.1',0)) for x in s]\n\
                print(os.getpid(),flush=True)\n\
                sys.stdin.read()\n";
    let big = "x".repeat(100_000);
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(code)
        .args(std::iter::repeat_n(&big, 10))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), child.id().to_string());
    child
}

fn end(mut child: Child) {
    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn json_writes_a_big_argv_once_not_once_per_socket() {
    let child = big_argv_child();
    let pid = child.id().to_string();
    let out = rnetstat()
        .args(["-a", "-u", "--json", "pid", &pid])
        .output()
        .unwrap();
    end(child);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sockets = doc["sockets"].as_array().unwrap();
    assert_eq!(sockets.len(), 50, "{}", sockets.len());
    eprintln!("--json: {} bytes", out.stdout.len());
    assert!(
        out.stdout.len() < 3_000_000,
        "--json wrote {} bytes for 50 sockets of one 1 MB argv",
        out.stdout.len()
    );
}

#[test]
fn watch_json_writes_a_big_argv_once_not_once_per_socket() {
    let child = big_argv_child();
    let pid = child.id().to_string();
    let mut watch = rnetstat()
        .args([
            "--watch",
            "--json",
            "-a",
            "-u",
            "--interval",
            "0.2",
            "pid",
            &pid,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = watch.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = stdout.read_to_end(&mut all);
        all
    });
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = watch.kill();
    let _ = watch.wait();
    let all = reader.join().unwrap();
    end(child);
    let opens = String::from_utf8_lossy(&all)
        .lines()
        .filter(|l| l.contains("\"event\":\"open\""))
        .count();
    eprintln!("--watch --json: {} bytes", all.len());
    assert!(
        all.len() < 3_000_000,
        "--watch --json wrote {} bytes for 50 sockets of one 1 MB argv ({opens} open events)",
        all.len()
    );
    assert_eq!(opens, 50, "{opens} open events");
}
