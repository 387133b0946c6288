//! cgroup v2, where sockets and processes say what they run as: where the hierarchy is
//! mounted, the path of a cgroup the kernel names by id (a socket's `INET_DIAG_CGROUP_ID`,
//! what `ss --cgroup` shows), and a process's own cgroup (`/proc/PID/cgroup`).
//!
//! Paths are as `/proc/PID/cgroup` and `ss --cgroup` write them: from the root of the cgroup
//! namespace rnetstat runs in.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::DirEntryExt;
use std::path::{Path, PathBuf};

use super::containers::Names;
use crate::model::{Cgroup, Context, Socket};

/// Says what sockets and processes run as. A collector keeps one across snapshots: a cgroup
/// id names one cgroup for the whole boot, so a socket cgroup described once (with its
/// container's name, if it has one) is not looked for again; the runtimes' files are read at
/// most once per snapshot, and only when a path names a container or pod.
#[derive(Default)]
pub struct Contexts {
    root: Option<PathBuf>,
    names: Names,
    /// Socket cgroups described so far, by id.
    known: HashMap<u64, Cgroup>,
}

/// How many described cgroups [`Contexts`] keeps before starting over (removed cgroups
/// would otherwise pile up on a machine that makes many).
const KNOWN_CGROUPS: usize = 10_000;

impl Contexts {
    pub fn new() -> Contexts {
        Contexts {
            root: mount(),
            ..Contexts::default()
        }
    }

    /// The cgroups of `sockets`, by id, with their paths and what those say: those described
    /// before from memory, the others found by one walk of the hierarchy.
    pub fn of_sockets(&mut self, sockets: &[Socket]) -> HashMap<u64, Cgroup> {
        // The runtimes' files as they are now: a container made since has a name.
        self.names = Names::default();
        if self.known.len() > KNOWN_CGROUPS {
            self.known.clear();
        }
        let Some(root) = &self.root else {
            return HashMap::new();
        };
        let ids: HashSet<u64> = sockets.iter().filter_map(|s| s.cgroup).collect();
        let unknown: HashSet<u64> = (ids.iter())
            .filter(|id| !self.known.contains_key(id))
            .copied()
            .collect();
        for (id, path) in paths_of(root, &unknown) {
            let cgroup = self.described(path);
            self.known.insert(id, cgroup);
        }
        let described = (ids.iter())
            .filter_map(|id| Some((*id, self.known.get(id)?.clone())))
            .collect();
        // A container without a name yet (its runtime's files not written) is asked again.
        self.known.retain(|_, cgroup| {
            (cgroup.context.as_ref())
                .and_then(Context::container)
                .is_none_or(|c| c.name.is_some())
        });
        described
    }

    /// Process `pid`'s cgroup and what it says; `None` once it has exited.
    pub fn of_process(&mut self, pid: u32) -> Option<Box<Cgroup>> {
        of_process(pid).map(|path| Box::new(self.described(path)))
    }

    fn described(&mut self, path: String) -> Cgroup {
        let mut context = Context::of_path(&path);
        if let Some(context) = &mut context {
            self.names.fill(context);
        }
        Cgroup { path, context }
    }
}

/// How deep the walk from the root goes; systemd and the kubelet nest 4 to 7 levels.
const MAX_DEPTH: usize = 32;
/// How many cgroups the walk looks at before giving up on the rest.
const MAX_CGROUPS: usize = 200_000;

/// The cgroup2 hierarchy's mount point (`/sys/fs/cgroup` on a pure v2 system,
/// `/sys/fs/cgroup/unified` on a hybrid one), from /proc/self/mountinfo; `None` without one.
pub fn mount() -> Option<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mount_in(&mountinfo)
}

/// The first cgroup2 mount point of a mountinfo text.
fn mount_in(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (mount, filesystem) = line.split_once(" - ")?;
        if filesystem.split(' ').next()? != "cgroup2" {
            return None;
        }
        Some(PathBuf::from(unescape_octal(mount.split(' ').nth(4)?)))
    })
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let digits = bytes.get(at + 1..at + 4);
        match digits {
            Some(d) if bytes[at] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)) => {
                out.push((d[0] - b'0') << 6 | (d[1] - b'0') << 3 | (d[2] - b'0'));
                at += 4;
            }
            _ => {
                out.push(bytes[at]);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The paths of the cgroups `ids` (a cgroup's id is its directory's inode in cgroupfs), found
/// by walking the hierarchy under `root`; ids not found (a cgroup removed since, or outside
/// our cgroup namespace) are left out. The walk stops once every id is found.
pub fn paths_of(root: &Path, ids: &HashSet<u64>) -> HashMap<u64, String> {
    let mut found = HashMap::with_capacity(ids.len());
    if ids.is_empty() {
        return found;
    }
    if let Ok(meta) = std::fs::symlink_metadata(root) {
        let ino = std::os::unix::fs::MetadataExt::ino(&meta);
        if ids.contains(&ino) {
            found.insert(ino, "/".to_string());
        }
    }
    let mut pending = vec![(root.to_path_buf(), String::new(), 0)];
    let mut seen = 0;
    while let Some((dir, path, depth)) = pending.pop() {
        if found.len() == ids.len() || seen >= MAX_CGROUPS {
            break;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            // cgroupfs holds directories (cgroups) and files (their knobs), no links.
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            seen += 1;
            let name = entry.file_name();
            let child = format!("{path}/{}", name.to_string_lossy());
            if ids.contains(&entry.ino()) {
                found.insert(entry.ino(), child.clone());
            }
            if depth + 1 < MAX_DEPTH {
                pending.push((entry.path(), child, depth + 1));
            }
        }
    }
    found
}

/// The id of the cgroup at `path` (as `ss --cgroup` writes it) under `root`: what `cgroup
/// PATH` matches. `None` when there is no such cgroup.
pub fn id_of(root: &Path, path: &str) -> Option<u64> {
    let relative = path.trim_start_matches('/');
    if relative.split('/').any(|part| part == "..") {
        return None;
    }
    let meta = std::fs::symlink_metadata(root.join(relative)).ok()?;
    meta.is_dir()
        .then(|| std::os::unix::fs::MetadataExt::ino(&meta))
}

/// A process's cgroup v2 path (the `0::` line of /proc/PID/cgroup); `None` when it has
/// exited or the system has no cgroup2 hierarchy.
pub fn of_process(pid: u32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    v2_path(&text)
}

/// The cgroup2 path of a /proc/PID/cgroup text. A deleted cgroup is marked ` (deleted)`.
fn v2_path(text: &str) -> Option<String> {
    text.lines()
        .find_map(|line| line.strip_prefix("0::"))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cgroup2_mount_is_found_among_v1_ones_and_unescaped() {
        let hybrid = "\
30 24 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
32 30 0:28 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
";
        assert_eq!(
            mount_in(hybrid),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        let odd = "40 1 0:30 / /mnt/my\\040cgroups rw - cgroup2 none rw\n";
        assert_eq!(mount_in(odd), Some(PathBuf::from("/mnt/my cgroups")));
        let v1 = "32 30 0:28 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n";
        assert_eq!(mount_in(v1), None);
    }

    #[test]
    fn the_v2_line_of_a_processes_cgroup_file() {
        let text = "4:memory:/process_api/7cb8\n1:cpu:/\n0::/system.slice/nginx.service\n";
        assert_eq!(v2_path(text), Some("/system.slice/nginx.service".into()));
        assert_eq!(v2_path("4:memory:/a\n"), None);
    }

    #[test]
    fn a_path_that_climbs_out_is_no_cgroup() {
        let root = std::env::temp_dir();
        assert_eq!(id_of(&root, "/../etc"), None);
    }
}
