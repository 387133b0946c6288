//! No output but `--json` carries a raw control, C1 or bidi character that a process or another
//! user chose: a real process renamed to a terminal escape and a real abstract Unix socket named
//! with one, through every printer (issue 17: `-xa --csv` retitled root's terminal).

#![cfg(target_os = "linux")]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::rnetstat;

/// A python3 child renamed `ESC ]0;PWN BEL U+202E`, holding a TCP listener on 127.0.0.1 and an
/// abstract Unix listener named with ESC, BEL, C1 CSI and U+202E; killed on drop.
struct Hostile {
    child: Child,
    port: u16,
}

impl Hostile {
    fn start() -> Hostile {
        let code = "import ctypes, socket, sys\n\
            ctypes.CDLL(None).prctl(15, '\\x1b]0;PWN\\x07\\u202e'.encode(), 0, 0, 0)\n\
            u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n\
            u.bind(b'\\0rnetstat-test-' + str(__import__('os').getpid()).encode() + '\\x1b]0;PWN\\x07\\u009b\\u202e'.encode())\n\
            u.listen()\n\
            t = socket.socket()\n\
            t.bind(('127.0.0.1', 0))\n\
            t.listen()\n\
            print(t.getsockname()[1], flush=True)\n\
            sys.stdin.read()\n";
        let mut child = Command::new("python3")
            .args(["-c", code])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start python3");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("the child's port");
        Hostile { child, port }
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The characters of `text` that may act on a terminal: C0 but for line ends and tabs, DEL, C1,
/// and the bidi controls.
fn raw_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| {
            (c < ' ' && !matches!(c, '\n' | '\r' | '\t'))
                || ('\u{7f}'..='\u{9f}').contains(&c)
                || ('\u{202a}'..='\u{202e}').contains(&c)
                || ('\u{2066}'..='\u{2069}').contains(&c)
        })
        .collect()
}

fn output_of(args: &[&str]) -> String {
    let output = rnetstat().args(args).output().expect("run rnetstat");
    assert!(output.status.success(), "rnetstat {args:?}: {output:?}");
    String::from_utf8(output.stdout).expect("utf-8")
}

#[test]
fn no_printer_writes_a_raw_control_character_a_process_or_a_socket_name_chose() {
    let hostile = Hostile::start();
    let pid = hostile.child.id().to_string();
    let filter = format!("sport = :{}", hostile.port);
    let mut outputs: Vec<(String, String)> = Vec::new();
    for args in [
        vec!["-xa", "-W"],
        vec!["-xap"],
        vec!["-xa", "-e"],
        vec!["-xa", "--csv"],
        vec!["-lp", "-e", "--numeric-hosts", &filter],
        vec!["-lp", "--csv", &filter],
        vec!["-s", "-p", "-a"],
        vec!["--metrics"],
    ] {
        outputs.push((format!("{args:?}"), output_of(&args)));
    }
    // The readable watch: its first lines are the sockets that exist.
    let watch = rnetstat()
        .args(["--watch", "-a", "-p", &filter])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the watch");
    std::thread::sleep(Duration::from_secs(2));
    // SAFETY: kill(2) takes plain integers.
    unsafe { libc::kill(watch.id() as i32, libc::SIGTERM) };
    let watched = watch.wait_with_output().expect("the watch's output");
    outputs.push((
        "--watch".to_string(),
        String::from_utf8(watched.stdout).unwrap(),
    ));

    for (args, text) in &outputs {
        let raw = raw_controls(text);
        assert!(raw.is_empty(), "rnetstat {args} wrote {raw:?}:\n{text}");
    }
    // The names are there, escaped.
    let shown = |args: &str| &outputs.iter().find(|(a, _)| a == args).unwrap().1;
    for args in [r#"["-xa", "-W"]"#, r#"["-xa", "--csv"]"#] {
        assert!(
            shown(args).contains(r"\x1b]0;PWN\x07\u{9b}\u{202e}"),
            "{args}: no escaped abstract name:\n{}",
            shown(args)
        );
    }
    let program = format!(r"{pid}/\x1b]0;PWN\x07\u{{202e}}");
    assert!(
        shown(&format!(
            "{:?}",
            vec!["-lp", "-e", "--numeric-hosts", &filter]
        ))
        .contains(&program),
        "no escaped process name {program}"
    );
    assert!(
        shown("--watch").contains(r"\x1b]0;PWN\x07"),
        "watch: {}",
        shown("--watch")
    );
}
