//! Another network namespace (`-N`): its sockets are dumped from a thread that entered it with
//! setns. setns moves only the calling thread, so the rest of rnetstat (the fd scan, the
//! terminal, `--serve`'s listener) stays where it is; a netlink socket belongs for good to the
//! namespace of the thread that created it.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::cgroup;
use super::containers::Names;
use crate::filter::Netns;
use crate::format::escaped;
use crate::model::{Context, Namespace};
use crate::platform::error::CollectError;

/// Run `work` on a thread of its own inside `netns`, and return what it returned. Threads it
/// starts are in the namespace too.
pub fn run_in<T: Send>(
    netns: &Netns,
    work: impl FnOnce() -> Result<T, CollectError> + Send,
) -> Result<T, CollectError> {
    let file = File::open(&netns.path).map_err(|e| {
        let given = format!("-N {}", escaped(&netns.given));
        let path = escaped(&netns.path.to_string_lossy());
        if e.kind() == std::io::ErrorKind::NotFound {
            CollectError::new(
                given,
                std::io::Error::other(format!("no such network namespace ({path})")),
            )
        } else {
            CollectError::new(format!("{given}: opening {path}"), e)
        }
    })?;
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name("netns".to_string())
            .spawn_scoped(scope, || {
                // SAFETY: setns takes an open fd and a namespace type; it affects this thread only.
                let entered = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                if entered != 0 {
                    let e = std::io::Error::last_os_error();
                    let why = if e.raw_os_error() == Some(libc::EINVAL) {
                        std::io::Error::other("not a network namespace")
                    } else {
                        e
                    };
                    return Err(CollectError::new(
                        format!(
                            "-N {}: entering {}",
                            escaped(&netns.given),
                            escaped(&netns.path.to_string_lossy())
                        ),
                        why,
                    ));
                }
                work()
            })
            .map_err(|e| CollectError::new("starting a thread to enter the namespace", e))?;
        thread.join().unwrap_or_else(|payload| {
            std::panic::resume_unwind(payload);
        })
    })
}

/// A network namespace found on the machine, with a file that names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The nsfs inode: the namespace's identity.
    pub inode: u64,
    /// A file to enter it by: /run/netns/NAME, or /proc/PID/ns/net of a process in it.
    pub path: PathBuf,
    /// Its /run/netns name, `host` for pid 1's namespace, or the label of the container a
    /// process in it runs in (`podman:web`).
    pub name: Option<String>,
}

impl Found {
    /// `work` inside this namespace: right here when it is `own` (rnetstat's), else on a
    /// thread that entered it.
    pub fn run<T: Send>(
        &self,
        own: Option<u64>,
        work: impl FnOnce() -> Result<T, CollectError> + Send,
    ) -> Result<T, CollectError> {
        if Some(self.inode) == own {
            return work();
        }
        let netns = Netns {
            given: self.path.to_string_lossy().into_owned(),
            path: self.path.clone(),
        };
        run_in(&netns, work)
    }

    /// As a snapshot lists it, with why its sockets are missing, if they are.
    pub fn listed(&self, error: Option<String>) -> Namespace {
        Namespace {
            inode: self.inode,
            name: self.name.clone(),
            error,
        }
    }
}

/// The inode of the namespace a namespace file names; `None` if it cannot be read.
fn inode_of(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|meta| meta.ino())
}

/// The namespace a `netns NAME` filter word names: /run/netns/NAME, or pid 1's for `host`.
pub fn inode_named(name: &str) -> Option<u64> {
    if name == "host" {
        return inode_of(Path::new("/proc/1/ns/net"));
    }
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return None;
    }
    inode_of(&Path::new("/run/netns").join(name))
}

/// The namespace rnetstat's threads run in (this thread's).
pub fn own_inode() -> Option<u64> {
    inode_of(Path::new("/proc/thread-self/ns/net"))
}

/// Every network namespace a /run/netns name or a process holds, in inode order, as lsns
/// finds them. A process that exits while we look is skipped: its namespace, if it outlives
/// it, is held by another process or a name.
pub fn discover() -> Vec<Found> {
    let mut found: BTreeMap<u64, Found> = BTreeMap::new();
    let host = inode_of(Path::new("/proc/1/ns/net"));
    // A process that holds each namespace found through /proc: its container names it.
    let mut holders: BTreeMap<u64, u32> = BTreeMap::new();
    // docker keeps its containers' namespaces apart, named by sandbox id: the container's
    // name (from a process in it) says more.
    if let Ok(sandboxes) = std::fs::read_dir("/run/docker/netns") {
        for entry in sandboxes.flatten() {
            let path = entry.path();
            if let Some(inode) = inode_of(&path) {
                found.entry(inode).or_insert(Found {
                    inode,
                    name: None,
                    path,
                });
            }
        }
    }
    if let Ok(names) = std::fs::read_dir("/run/netns") {
        for entry in names.flatten() {
            let path = entry.path();
            if let Some(inode) = inode_of(&path) {
                found.entry(inode).or_insert(Found {
                    inode,
                    name: Some(entry.file_name().to_string_lossy().into_owned()),
                    path,
                });
            }
        }
    }
    if let Ok(processes) = std::fs::read_dir("/proc") {
        for entry in processes.flatten() {
            let name = entry.file_name();
            if !name.as_bytes().iter().all(u8::is_ascii_digit) {
                continue;
            }
            let path = entry.path().join("ns/net");
            if let Some(inode) = inode_of(&path) {
                if let Ok(pid) = name.to_string_lossy().parse::<u32>() {
                    holders.entry(inode).or_insert(pid);
                }
                found.entry(inode).or_insert(Found {
                    inode,
                    path,
                    name: None,
                });
            }
        }
    }
    let mut names = Names::default();
    for namespace in found.values_mut() {
        if Some(namespace.inode) == host {
            namespace.name.get_or_insert_with(|| "host".to_string());
            continue;
        }
        // Named by a runtime (podman's netns-UUID, CNI's cni-UUID) or not at all: the
        // container a process in it runs in says more.
        let generated = namespace
            .name
            .as_deref()
            .is_none_or(|name| name.starts_with("netns-") || name.starts_with("cni-"));
        let Some(&pid) = holders.get(&namespace.inode).filter(|_| generated) else {
            continue;
        };
        let context = cgroup::of_process(pid).and_then(|path| Context::of_path(&path));
        if let Some(mut context @ (Context::Container(_) | Context::Pod(_))) = context {
            names.fill(&mut context);
            namespace.name = Some(context.label());
        }
    }
    // rnetstat's own namespace, even where /proc lists no process (hidepid): it is listed.
    if let Some(inode) = own_inode() {
        found.entry(inode).or_insert(Found {
            inode,
            path: PathBuf::from("/proc/thread-self/ns/net"),
            name: (Some(inode) == host).then(|| "host".to_string()),
        });
    }
    found.into_values().collect()
}
