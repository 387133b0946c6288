//! Build facts: the git commit `-V` names, and which test tools this machine has, as cfgs that
//! let tests be reported as ignored (with the reason) instead of passing without running.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Tools the integration tests run, each as `has_<cfg>`.
const TOOLS: &[(&str, &str)] = &[
    ("tmux", "tmux"),
    ("ss", "ss"),
    ("netstat", "netstat"),
    ("python3", "python3"),
    ("setpriv", "setpriv"),
    ("unshare", "unshare"),
    ("ip", "ip"),
    ("prometheus", "prometheus"),
    ("promtool", "promtool"),
    ("node_exporter", "prometheus-node-exporter"),
    ("groff", "groff"),
    ("man", "man"),
    ("zsh", "zsh"),
    ("fish", "fish"),
    ("podman", "podman"),
    ("runc", "runc"),
    ("nsenter", "nsenter"),
];

fn main() {
    let source = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(built_from_git)");
    println!("cargo::rustc-check-cfg=cfg(is_root)");
    println!("cargo::rustc-check-cfg=cfg(can_mount_private_proc)");
    for (cfg, _) in TOOLS {
        println!("cargo::rustc-check-cfg=cfg(has_{cfg})");
    }

    let commit = match git_commit(&source) {
        Some(commit) => {
            println!("cargo::rustc-cfg=built_from_git");
            commit
        }
        None => "unknown".to_string(),
    };
    println!("cargo::rustc-env=RNETSTAT_COMMIT={commit}");

    probe_tools();
    if is_root() {
        println!("cargo::rustc-cfg=is_root");
        if can_mount_private_proc() {
            println!("cargo::rustc-cfg=can_mount_private_proc");
        }
    }
}

/// `git` in `dir`, its trimmed output when it succeeds.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// The checkout's commit, `-dirty` when tracked files differ from it; `None` outside a git
/// checkout of this very crate (a crate tarball, or unpacked inside someone else's repository).
fn git_commit(source: &Path) -> Option<String> {
    let toplevel = git(source, &["rev-parse", "--show-toplevel"])?;
    if Path::new(&toplevel).canonicalize().ok()? != source.canonicalize().ok()? {
        return None;
    }
    // A new commit, checkout or staging moves HEAD, the branch's ref or the index.
    for name in ["HEAD", "index", "packed-refs"] {
        watch_git_path(source, name);
    }
    if let Some(branch) = git(source, &["symbolic-ref", "-q", "HEAD"]) {
        watch_git_path(source, &branch);
    }
    // An edit makes the tree dirty: watch every top-level entry but the build output.
    if let Ok(entries) = std::fs::read_dir(source) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name != "target" && name != ".git" {
                println!("cargo::rerun-if-changed={}", entry.path().display());
            }
        }
    }
    let commit = git(source, &["rev-parse", "--short=12", "HEAD"])?;
    // Without optional locks git does not rewrite the index, which would rerun this script.
    let changes = git(
        source,
        &[
            "--no-optional-locks",
            "status",
            "--porcelain",
            "--untracked-files=no",
        ],
    )?;
    Some(if changes.is_empty() {
        commit
    } else {
        format!("{commit}-dirty")
    })
}

/// Rerun when git's file `name` (HEAD, a ref, the index) changes; worktrees keep them apart.
/// A missing file (a packed ref) is not watched: cargo would rerun on every build.
fn watch_git_path(source: &Path, name: &str) {
    let path = git(
        source,
        &["rev-parse", "--path-format=absolute", "--git-path", name],
    );
    if let Some(path) = path.filter(|path| Path::new(path).exists()) {
        println!("cargo::rerun-if-changed={path}");
    }
}

/// Emit `has_<cfg>` for each tool found on PATH; rerun when a PATH directory changes (a tool
/// installed or removed).
fn probe_tools() {
    println!("cargo::rerun-if-env-changed=PATH");
    let dirs: Vec<PathBuf> = env::var_os("PATH")
        .map(|path| env::split_paths(&path).collect())
        .unwrap_or_default();
    for dir in dirs.iter().filter(|dir| dir.is_dir()) {
        println!("cargo::rerun-if-changed={}", dir.display());
    }
    for (cfg, program) in TOOLS {
        if dirs.iter().any(|dir| is_executable(&dir.join(program))) {
            println!("cargo::rustc-cfg=has_{cfg}");
        }
    }
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// Whether the build (and so, as the README asks, the test run) is root: from /proc, as the
/// build script has no libc.
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status.lines().any(|line| {
            line.strip_prefix("Uid:")
                .and_then(|ids| ids.split_whitespace().nth(1))
                == Some("0")
        })
    })
}

/// Whether a private mount namespace can mount its own /proc (not in a locked-down container).
fn can_mount_private_proc() -> bool {
    Command::new("unshare")
        .args([
            "-m",
            "mount",
            "-t",
            "proc",
            "-o",
            "hidepid=2",
            "proc",
            "/proc",
        ])
        .output()
        .is_ok_and(|output| output.status.success())
}
