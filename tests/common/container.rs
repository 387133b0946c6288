//! A real podman container for a test: an image made offline from busybox-static (`podman
//! import` of a root file system of one binary), run with runc and no network but its own
//! loopback, holding a TCP listener; removed when dropped, also when the test fails.

use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The image every test container runs; made once, kept in podman's storage for the next run.
pub const IMAGE: &str = "localhost/rnetstat-busybox:test";

/// One test at a time makes the image.
static IMAGE_LOCK: Mutex<()> = Mutex::new(());

pub struct Container {
    pub name: String,
    /// The 64-hex id podman gave it.
    pub id: String,
    /// The host pid of the container's first process (`--init`'s).
    pub init_pid: u32,
    /// The host pid of the listener (busybox httpd), as `ss -p` sees it from the host.
    pub listener_pid: u32,
    pub port: u16,
}

fn podman(args: &[&str]) -> Output {
    Command::new("podman")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("podman {args:?}: {e} (apt-get install podman runc busybox-static)")
        })
}

fn podman_ok(args: &[&str]) -> String {
    let output = podman(args);
    assert!(
        output.status.success(),
        "podman {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// Make [`IMAGE`] from /bin/busybox (busybox-static) unless podman has it.
fn ensure_image() {
    let _one = IMAGE_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    if podman(&["image", "exists", IMAGE]).status.success() {
        return;
    }
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let root = scratch.path().join("root");
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    std::fs::copy("/bin/busybox", bin.join("busybox"))
        .expect("/bin/busybox (apt-get install busybox-static)");
    for applet in ["sh", "httpd", "nc", "sleep"] {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).expect("symlink");
    }
    let tar = scratch.path().join("root.tar");
    let status = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .expect("tar");
    assert!(status.success(), "tar failed");
    podman_ok(&["import", &tar.to_string_lossy(), IMAGE]);
}

impl Container {
    /// Start container `name` with busybox httpd listening on `port` (inside its own network
    /// namespace), and wait until it listens.
    pub fn start(name: &str, port: u16) -> Container {
        ensure_image();
        let _ = podman(&["rm", "-f", "-t", "0", name]);
        let port_text = port.to_string();
        let id = podman_ok(&[
            "run",
            "-d",
            "--runtime",
            "runc",
            "--network=none",
            "--init",
            "--ulimit",
            "nofile=20000:20000",
            "--ulimit",
            "nproc=32768:32768",
            "--name",
            name,
            IMAGE,
            "httpd",
            "-f",
            "-p",
            &port_text,
        ]);
        // Held from here on: a failure below still removes it.
        let mut container = Container {
            name: name.to_string(),
            id,
            init_pid: 0,
            listener_pid: 0,
            port,
        };
        container.init_pid = podman_ok(&["inspect", "--format", "{{.State.Pid}}", name])
            .parse()
            .expect("a pid");
        let start = Instant::now();
        loop {
            if let Some(pid) = container.listener() {
                container.listener_pid = pid;
                return container;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the container's listener did not come up"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The words that run a command in the container's network namespace (ss as the oracle).
    pub fn netns_prefix(&self) -> Vec<String> {
        ["nsenter", "-t", &self.init_pid.to_string(), "-n"]
            .map(String::from)
            .to_vec()
    }

    /// The host pid holding the listener on `port`, from `ss -tlnpH` run in its namespace.
    fn listener(&self) -> Option<u32> {
        let output = Command::new("nsenter")
            .args(["-t", &self.init_pid.to_string(), "-n", "ss", "-tlnpH"])
            .arg(format!("sport = :{}", self.port))
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&output.stdout);
        let at = text.find("pid=")? + 4;
        let digits: String = text[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = podman(&["rm", "-f", "-t", "0", &self.name]);
    }
}
