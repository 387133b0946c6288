//! Which processes hold which sockets: one pass over /proc/PID/fd, as ss -p and netstat -p do.

use std::collections::HashMap;
use std::fs;
use std::io;

use crate::model::{OwnerCoverage, Socket};

/// Fill `pids` of every socket that has an inode. Processes that exit mid-scan are skipped;
/// processes we may not inspect make the coverage `LimitedByPrivileges`.
pub fn attach(sockets: &mut [Socket]) -> OwnerCoverage {
    let mut index_by_inode: HashMap<u64, usize> = HashMap::with_capacity(sockets.len());
    for (index, socket) in sockets.iter().enumerate() {
        if let Some(inode) = socket.inode {
            index_by_inode.insert(inode, index);
        }
    }
    if index_by_inode.is_empty() {
        return OwnerCoverage::Complete;
    }
    let mut coverage = OwnerCoverage::Complete;
    let Ok(proc_dir) = fs::read_dir("/proc") else {
        return OwnerCoverage::LimitedByPrivileges;
    };
    for entry in proc_dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        match scan_fds(pid, &index_by_inode, sockets) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                coverage = OwnerCoverage::LimitedByPrivileges;
            }
            // The process exited while we looked: normal, not an error.
            Err(_) => {}
        }
    }
    coverage
}

fn scan_fds(
    pid: u32,
    index_by_inode: &HashMap<u64, usize>,
    sockets: &mut [Socket],
) -> io::Result<()> {
    let fd_dir = format!("/proc/{pid}/fd");
    for entry in fs::read_dir(&fd_dir)? {
        let Ok(entry) = entry else { continue };
        let Ok(target) = fs::read_link(entry.path()) else {
            continue;
        };
        let Some(inode) = socket_inode(target.as_os_str().as_encoded_bytes()) else {
            continue;
        };
        if let Some(&index) = index_by_inode.get(&inode) {
            let pids = &mut sockets[index].pids;
            // Several fds of one process may hold the same socket: list the process once.
            if pids.last() != Some(&pid) {
                pids.push(pid);
            }
        }
    }
    Ok(())
}

/// The inode in a `socket:[12345]` fd link target.
fn socket_inode(link: &[u8]) -> Option<u64> {
    let digits = link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_socket_links_only() {
        assert_eq!(socket_inode(b"socket:[12345]"), Some(12345));
        assert_eq!(socket_inode(b"pipe:[12345]"), None);
        assert_eq!(socket_inode(b"/dev/null"), None);
        assert_eq!(socket_inode(b"socket:[]"), None);
        assert_eq!(socket_inode(b"socket:[12"), None);
    }
}
