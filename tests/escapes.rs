//! Escape injection (issue 17 item 7): a process that names itself with terminal escapes and an
//! abstract Unix socket named the same way reach no output except `--json` raw. Every output
//! for a terminal or a spreadsheet carries the escaped text instead (`\x1b`, `\u{202e}`).

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use common::rnetstat;

/// ESC ] 0 ; PWN BEL (retitles an xterm), RIGHT-TO-LEFT OVERRIDE, and C1 CSI: 12 bytes, within
/// the kernel's 15-byte process name.
const EVIL: &str = "\u{1b}]0;PWN\u{7}\u{202e}\u{9b}";

/// The same as the escaper writes it.
const ESCAPED: &str = "\\x1b]0;PWN\\x07\\u{202e}\\u{9b}";

/// A python3 that renames itself [`EVIL`] (prctl PR_SET_NAME), listens on 127.0.0.1:0 and on
/// the abstract Unix name `\0` + [`EVIL`] + a tag of its pid, and prints its port.
struct Evil {
    child: Child,
    port: u16,
}

impl Evil {
    fn start() -> Evil {
        let code = "import ctypes,os,socket,sys\n\
            evil=sys.argv[1].encode()\n\
            assert ctypes.CDLL(None).prctl(15, evil, 0, 0, 0) == 0\n\
            t=socket.socket(); t.bind(('127.0.0.1',0)); t.listen()\n\
            u=socket.socket(socket.AF_UNIX); u.bind(b'\\0'+evil+b'-'+str(os.getpid()).encode()); u.listen()\n\
            print(t.getsockname()[1], flush=True)\n\
            sys.stdin.read()\n";
        let mut child = Command::new("python3")
            .args(["-c", code, EVIL])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| panic!("{line:?}"));
        let comm = std::fs::read_to_string(format!("/proc/{}/comm", child.id())).unwrap();
        assert_eq!(comm.trim_end_matches('\n'), EVIL, "the rename took");
        Evil { child, port }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }
}

impl Drop for Evil {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a terminal or a spreadsheet must never get: C0 controls and DEL (but the line ends:
/// `\n`, and `\r` only right before it where `crlf`), C1 controls, bidi embeddings, overrides
/// and isolates.
fn assert_clean(what: &str, output: &[u8], crlf: bool) {
    let text = std::str::from_utf8(output).unwrap_or_else(|e| panic!("{what}: not UTF-8: {e}"));
    for (i, c) in text.char_indices() {
        let line_end = c == '\n' || (crlf && c == '\r' && text[i + 1..].starts_with('\n'));
        let bad = (c < ' ' && !line_end)
            || c == '\u{7f}'
            || ('\u{80}'..='\u{9f}').contains(&c)
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c);
        let line = text[..i].lines().count();
        let context = &text[text[..i].rfind('\n').map_or(0, |n| n + 1)..];
        let context = context.lines().next().unwrap_or_default();
        assert!(
            !bad,
            "{what}: raw {:?} (U+{:04X}) on line {line}: {context:?}",
            c, c as u32
        );
    }
}

fn output_of(args: &[&str]) -> Vec<u8> {
    let output = rnetstat().args(args).output().expect("run rnetstat");
    assert!(
        output.status.success(),
        "rnetstat {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

#[test]
#[cfg_attr(not(has_python3), ignore = "needs python3 (apt-get install python3)")]
fn a_renamed_process_and_an_abstract_socket_name_reach_no_output_raw() {
    let evil = Evil::start();
    let pid = evil.pid();
    let port = format!("sport = :{}", evil.port);
    let abstract_name = format!("@{ESCAPED}-{pid}");
    // (what, arguments, CSV line ends, the escaped text it must show)
    let outputs: [(&str, Vec<&str>, bool, &str); 6] = [
        (
            "table -p",
            vec!["-l", "-t", "-p", "-n", &port],
            false,
            ESCAPED,
        ),
        (
            "table -e",
            vec!["-l", "-t", "-e", "-p", "-n", &port],
            false,
            ESCAPED,
        ),
        (
            "table -xa -p",
            vec!["-x", "-a", "-p"],
            false,
            &abstract_name,
        ),
        ("-s -p", vec!["-s", "-p", "pid", &pid], false, ESCAPED),
        // The CSV `processes` cell is JSON text: its own escapes, every control and bidi one.
        (
            "--csv",
            vec!["-l", "-t", "--csv", &port],
            true,
            "\\u001b]0;PWN\\u0007\\u202e\\u009b",
        ),
        ("-xa --csv", vec!["-x", "-a", "--csv"], true, &abstract_name),
    ];
    for (what, args, crlf, shown) in &outputs {
        let output = output_of(args);
        assert_clean(what, &output, *crlf);
        let text = String::from_utf8_lossy(&output);
        assert!(text.contains(shown), "{what}: no {shown:?} in\n{text}");
    }
    // --json escapes per JSON, and keeps the name exact.
    let json = output_of(&["-l", "-t", "--json", &port]);
    assert_clean_c0("--json", &json);
    let doc: serde_json::Value = serde_json::from_slice(&json).expect("valid JSON");
    assert!(has_string(&doc, EVIL), "the JSON name is exact: {doc}");
}

/// JSON escapes C0 controls itself (`\u001b`); C1 and bidi characters are valid JSON text.
fn assert_clean_c0(what: &str, output: &[u8]) {
    let raw = output.iter().position(|&b| b < b' ' && b != b'\n');
    assert_eq!(raw, None, "{what}: raw control byte");
}

fn has_string(value: &serde_json::Value, wanted: &str) -> bool {
    match value {
        serde_json::Value::String(text) => text == wanted,
        serde_json::Value::Array(items) => items.iter().any(|v| has_string(v, wanted)),
        serde_json::Value::Object(map) => map.values().any(|v| has_string(v, wanted)),
        _ => false,
    }
}

#[test]
#[cfg_attr(not(has_python3), ignore = "needs python3 (apt-get install python3)")]
fn watch_lines_escape_a_renamed_owner() {
    let evil = Evil::start();
    let filter = format!("sport = :{}", evil.port);
    let mut watch = rnetstat()
        .args(["--watch", "-l", "-n", &filter])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run rnetstat --watch");
    let mut stdout = watch.stdout.take().unwrap();
    let (sender, received) = channel();
    std::thread::spawn(move || {
        let mut buffer = [0; 4096];
        while let Ok(n @ 1..) = stdout.read(&mut buffer) {
            if sender.send(buffer[..n].to_vec()).is_err() {
                return;
            }
        }
    });
    let mut output = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !output.ends_with(b"\n") || !String::from_utf8_lossy(&output).contains("LISTEN") {
        let left = deadline.saturating_duration_since(Instant::now());
        match received.recv_timeout(left) {
            Ok(bytes) => output.extend(bytes),
            Err(_) => break,
        }
    }
    let _ = watch.kill();
    let _ = watch.wait();
    assert_clean("--watch", &output, false);
    let text = String::from_utf8_lossy(&output);
    assert!(
        text.contains(&format!("{}/{ESCAPED}", evil.pid())),
        "no escaped owner in {text:?}"
    );
}
