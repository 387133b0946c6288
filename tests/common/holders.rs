//! What holds sockets for a test and is cleaned up when dropped, also when the test fails: a
//! python3 script, a network namespace.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};

/// A python3 listener on loopback with two connections to itself. It prints the listener's
/// port, the two client ports and its pid, then reads from the server end of the first connection and
/// prints what came of it: `reset`, `eof`, `data`, or that nothing came.
pub const TWO_CONNECTIONS: &str = r#"
import os, socket, sys
HOST = "127.0.0.1"
listener = socket.socket(socket.AF_INET6 if ":" in HOST else socket.AF_INET)
listener.bind((HOST, 0))
listener.listen(8)
first = socket.create_connection(listener.getsockname()[:2])
first_peer, _ = listener.accept()
second = socket.create_connection(listener.getsockname()[:2])
second_peer, _ = listener.accept()
print(listener.getsockname()[1], first.getsockname()[1], second.getsockname()[1], os.getpid(), flush=True)
first_peer.settimeout(20)
try:
    print("eof" if first_peer.recv(1) == b"" else "data", flush=True)
except ConnectionResetError:
    print("reset", flush=True)
except socket.timeout:
    print("nothing in 20 s", flush=True)
sys.stdin.read()
"#;

/// A python3 script holding sockets until its stdin closes; the holder ends it when dropped,
/// so a failed assertion does not leave it running.
pub struct Python {
    child: Child,
    /// The first line the script printed.
    pub line: String,
    /// The rest of what it prints, for [`Python::next_line`]; kept open so it can print more.
    stdout: BufReader<ChildStdout>,
}

impl Python {
    /// Run `script` with `python3`, through `prefix` (`setpriv ...`, `ip netns exec NS`) if any.
    pub fn run(prefix: &[&str], script: &str) -> Python {
        let mut words = prefix.iter().copied().chain(["python3", "-c", script]);
        let mut command = Command::new(words.next().unwrap_or_default());
        command.args(words);
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        // Held from here on, so a failure below still ends it.
        let mut python = Python {
            child,
            line: String::new(),
            stdout,
        };
        python
            .stdout
            .read_line(&mut python.line)
            .expect("the script's first line");
        assert!(!python.line.is_empty(), "the script printed nothing");
        python
    }

    /// The next line the script prints (waiting for it), without its newline; empty at its end.
    pub fn next_line(&mut self) -> String {
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .expect("a line from the script");
        line.trim_end().to_string()
    }

    pub fn numbers(&self) -> Vec<u32> {
        self.line
            .split_whitespace()
            .map(|n| n.parse().expect("a number"))
            .collect()
    }
}

impl Drop for Python {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        if matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(std::time::Duration::from_millis(50));
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A network namespace of the test's own, deleted when dropped (also when the test fails).
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn create(name: String) -> Netns {
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        let netns = Netns { name };
        netns.ip(&["netns", "add", &netns.name]);
        netns
    }

    /// `ip` with `args`, which must succeed.
    pub fn ip(&self, args: &[&str]) {
        let output = Command::new("ip").args(args).output().expect("ip");
        assert!(
            output.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// `ip -n NS` with `args`.
    pub fn ip_in(&self, args: &[&str]) {
        let mut all = vec!["-n", &self.name];
        all.extend(args);
        self.ip(&all);
    }

    pub fn exec(&self) -> Vec<&str> {
        vec!["ip", "netns", "exec", &self.name]
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// A cgroup v2 directory of the test's own (`/system.slice/NAME.service`), removed when
/// dropped, also when the test fails: what is still in it is killed first. Made under the
/// cgroup2 mount /proc/mounts names (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on a
/// hybrid system).
pub struct CgroupDir {
    /// As /proc/PID/cgroup and `ss --cgroup` write it: `/system.slice/NAME.service`.
    pub path: String,
    /// The directories this made, outermost first: removed innermost first.
    made: Vec<std::path::PathBuf>,
    dir: std::path::PathBuf,
}

impl CgroupDir {
    pub fn create(path: &str) -> CgroupDir {
        let mounts = std::fs::read_to_string("/proc/mounts").expect("/proc/mounts");
        let root = mounts
            .lines()
            .map(|line| line.split(' ').collect::<Vec<_>>())
            .find(|fields| fields.get(2) == Some(&"cgroup2"))
            .map(|fields| std::path::PathBuf::from(fields[1]))
            .expect("a cgroup2 mount in /proc/mounts");
        let mut made = Vec::new();
        let mut dir = root;
        for part in path.trim_start_matches('/').split('/') {
            dir.push(part);
            if !dir.exists() {
                std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {dir:?}: {e}"));
                made.push(dir.clone());
            }
        }
        CgroupDir {
            path: path.to_string(),
            made,
            dir,
        }
    }

    /// Words to put before a command so that it runs in this cgroup from its first
    /// instruction (`sh` moves itself in, then execs the command).
    pub fn prefix(&self) -> Vec<String> {
        let procs = self.dir.join("cgroup.procs");
        vec![
            "sh".to_string(),
            "-c".to_string(),
            format!("echo $$ > '{}' && exec \"$0\" \"$@\"", procs.display()),
        ]
    }

    /// Move process `pid` into this cgroup.
    pub fn enter(&self, pid: u32) {
        std::fs::write(self.dir.join("cgroup.procs"), pid.to_string())
            .unwrap_or_else(|e| panic!("moving {pid} into {}: {e}", self.path));
    }
}

impl Drop for CgroupDir {
    fn drop(&mut self) {
        for dir in self.made.iter().rev() {
            for _ in 0..100 {
                let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
                for pid in procs.split_whitespace() {
                    let _ = Command::new("kill").args(["-KILL", pid]).output();
                }
                if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    }
}

/// rnetstat running in the background (`--watch`), its stdout lines arriving on `lines`;
/// killed when dropped, also when the test fails.
pub struct Background {
    pub child: Child,
    pub lines: std::sync::mpsc::Receiver<String>,
}

impl Background {
    pub fn start(args: &[impl AsRef<std::ffi::OsStr>]) -> Background {
        Background::spawn(super::rnetstat().args(args))
    }

    /// `command` (an rnetstat command line, with its environment) in the background.
    pub fn spawn(command: &mut std::process::Command) -> Background {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start rnetstat");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Background { child, lines }
    }

    /// Stop it and return what it wrote on stderr.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
        }
        stderr
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
