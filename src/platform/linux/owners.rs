//! Which processes hold which sockets: one pass over /proc/PID/fd, as ss -p and netstat -p do,
//! but with directory fds and `*at` calls, so no path is formatted and nothing is allocated per fd.

use std::collections::{HashMap, HashSet};
use std::ffi::CStr;
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant, SystemTime};

use crate::model::{OwnerCoverage, OwnerGaps, Refusers, Socket, UnixSocket};
use crate::platform::error::CollectError;

/// Inodes are small unique integers: one multiply spreads them well enough and costs far less
/// than SipHash, which matters at 200,000 lookups.
#[derive(Default)]
struct InodeHasher(u64);

impl Hasher for InodeHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type InodeMap = HashMap<u64, usize, BuildHasherDefault<InodeHasher>>;
type InodeSet = HashSet<u64, BuildHasherDefault<InodeHasher>>;
type PidMap<V> = HashMap<u32, V, BuildHasherDefault<InodeHasher>>;

/// A full scan at least this often (wall clock, whatever the refresh interval) catches what the
/// cheap refreshes cannot see (a socket inherited by a fork, an owner that closed its copy).
const FULL_SCAN_INTERVAL: Duration = Duration::from_secs(10);

/// A full scan comes at most once per this many times what the last one took: on a big
/// machine (a scan of 200,000 fds takes a core for a second) a live view spends a twentieth of
/// its time on them, where every ten seconds was every refresh once `--live` slowed its pace.
const FULL_SCAN_SHARE: u32 = 20;

/// What the last snapshots learned about owners, kept by a live view between refreshes: the
/// owners of every inode seen (possibly none visible), so that a refresh only looks for the
/// sockets that are new since, and stops looking once it has found them all.
pub struct KnownOwners {
    pids_by_inode: HashMap<u64, Holders, BuildHasherDefault<InodeHasher>>,
    /// Start time of every remembered owner: a pid is one process only with the same start
    /// time, so an owner that exited is never confused with a process that reused its pid.
    started_by_pid: PidMap<u64>,
    gaps: OwnerGaps,
    /// The pids in /proc when the last refresh searched it, ascending: a pid not among them
    /// started since, and is searched first (see [`find`]).
    pids_listed: Vec<u32>,
    last_full_scan: Instant,
    /// The same moment by the wall clock, for people.
    full_scan_at: SystemTime,
    /// How long the snapshot with that full scan took.
    full_scan_took: Duration,
}

/// The pids holding one socket, as remembered between refreshes: most sockets have one,
/// kept in place (a `Vec` per socket was 200,000 allocations at 100,000 connections).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Holders {
    One(u32),
    /// None, or more than one.
    Others(Box<[u32]>),
}

impl Holders {
    fn of(pids: &[u32]) -> Holders {
        match *pids {
            [pid] => Holders::One(pid),
            _ => Holders::Others(pids.into()),
        }
    }

    fn as_slice(&self) -> &[u32] {
        match self {
            Holders::One(pid) => std::slice::from_ref(pid),
            Holders::Others(pids) => pids,
        }
    }
}

impl Default for KnownOwners {
    fn default() -> KnownOwners {
        KnownOwners {
            pids_by_inode: HashMap::default(),
            started_by_pid: PidMap::default(),
            gaps: OwnerGaps::default(),
            pids_listed: Vec::new(),
            last_full_scan: Instant::now(),
            full_scan_at: SystemTime::now(),
            full_scan_took: Duration::ZERO,
        }
    }
}

impl KnownOwners {
    pub fn due_for_full_scan(&self) -> bool {
        self.last_full_scan.elapsed()
            >= FULL_SCAN_INTERVAL.max(self.full_scan_took * FULL_SCAN_SHARE)
    }

    /// When the last full scan ran: a process that began sharing a known socket since (an
    /// fd passed over a unix socket, a fork of an older owner) is not listed until the next.
    pub fn full_scan_at(&self) -> SystemTime {
        self.full_scan_at
    }

    /// Remember the owners `sockets` have after a full scan, which (with its dump) `took`.
    pub fn after_full_scan(
        sockets: &[Socket],
        coverage: OwnerCoverage,
        took: Duration,
    ) -> KnownOwners {
        let mut known = KnownOwners {
            gaps: coverage.gaps(),
            full_scan_took: took,
            ..KnownOwners::default()
        };
        if let Ok(proc_dir) = open_dir(None, c"/proc") {
            known.pids_listed = list_pids(&proc_dir);
            known.pids_listed.sort_unstable();
        }
        known.remember(sockets);
        known
    }

    /// Give `sockets` their owners: known inodes from memory, new ones from a scan that stops
    /// as soon as it has found them all, trying the processes that owned sockets before first.
    /// A remembered owner that is no longer the same process (exited, pid reused) is dropped
    /// and its sockets are looked for again.
    pub fn refresh(&mut self, sockets: &mut [Socket]) -> OwnerCoverage {
        let proc_dir = open_dir(None, c"/proc").ok();
        let mut path = PathBuf32::default();
        self.started_by_pid.retain(|&pid, started| {
            proc_dir
                .as_ref()
                .and_then(|dir| start_time(dir, &mut path, pid))
                == Some(*started)
        });
        let mut unknown = InodeSet::default();
        for socket in sockets.iter_mut() {
            let Some(inode) = socket.inode else { continue };
            match self.pids_by_inode.get(&inode).map(Holders::as_slice) {
                Some(pids) => {
                    socket.pids.clear();
                    socket.pids.extend(
                        pids.iter()
                            .filter(|pid| self.started_by_pid.contains_key(pid)),
                    );
                    if socket.pids.len() < pids.len() {
                        unknown.insert(inode);
                    }
                }
                None => {
                    unknown.insert(inode);
                }
            }
        }
        if !unknown.is_empty() {
            let holders = self.pids_by_inode.values().flat_map(Holders::as_slice);
            let mut likely: Vec<u32> = holders.copied().collect();
            likely.sort_unstable();
            likely.dedup();
            let scan = find(&mut unknown, &likely, &mut self.pids_listed);
            self.gaps |= explain(scan.obstacles);
            // Few new sockets: a small map of them, not an index of every socket.
            let mut found: HashMap<u64, Vec<u32>, BuildHasherDefault<InodeHasher>> =
                HashMap::default();
            for Held { inode, pid } in scan.owners {
                found.entry(u64::from(inode)).or_default().push(pid);
            }
            for socket in sockets.iter_mut() {
                if let Some(pids) = socket.inode.and_then(|inode| found.get(&inode)) {
                    socket.pids.extend_from_slice(pids);
                    socket.pids.sort_unstable();
                    socket.pids.dedup();
                }
            }
        }
        self.remember(sockets);
        OwnerCoverage::from_gaps(self.gaps)
    }

    /// Forget inodes that are gone; remember the current owners (none is an answer too), each
    /// with its start time. An owner that already exited is not remembered, and its socket is
    /// looked for again next time.
    fn remember(&mut self, sockets: &[Socket]) {
        self.pids_by_inode.clear();
        let proc_dir = open_dir(None, c"/proc").ok();
        let mut path = PathBuf32::default();
        // Looked up once per socket owner: at 100,000 sockets the cheap hash matters here too.
        let mut current = PidMap::default();
        current.reserve(self.started_by_pid.len());
        for socket in sockets {
            let Some(inode) = socket.inode else { continue };
            for &pid in &socket.pids {
                if let std::collections::hash_map::Entry::Vacant(entry) = current.entry(pid) {
                    let started = match self.started_by_pid.get(&pid) {
                        Some(&started) => Some(started),
                        None => proc_dir
                            .as_ref()
                            .and_then(|dir| start_time(dir, &mut path, pid)),
                    };
                    if let Some(started) = started {
                        entry.insert(started);
                    }
                }
            }
            self.pids_by_inode.insert(inode, Holders::of(&socket.pids));
        }
        self.started_by_pid = current;
    }
}

/// Look for the owners of `wanted` inodes, stopping once all are found. The order only
/// saves time: rnetstat itself first (a scrape's or a client's connection to it), then the
/// processes that started since the last search (`pids_listed`, updated here: a new socket that
/// no known owner holds mostly belongs to a new process), then the processes that owned sockets
/// before (`likely`), then the rest; newest first within each.
fn find(wanted: &mut InodeSet, likely: &[u32], pids_listed: &mut Vec<u32>) -> OwnerScan {
    let proc_dir = match open_dir(None, c"/proc") {
        Ok(dir) => dir,
        Err(e) => return OwnerScan::failed(&e),
    };
    let mut listed = list_pids(&proc_dir);
    listed.sort_unstable();
    let order = search_order(&listed, pids_listed, likely, std::process::id());
    *pids_listed = listed;
    let mut scan = scan_until(&proc_dir, &order, Some(wanted));
    add_relatives_holding(&proc_dir, &mut scan);
    scan
}

/// The order of [`find`]: `me`, then the pids of `listed` not in `previously_listed` (unless
/// that is empty: nothing is known to be new), then `likely`, then the rest; newest first
/// within each. Every listed pid appears once. All slices ascending.
fn search_order(listed: &[u32], previously_listed: &[u32], likely: &[u32], me: u32) -> Vec<u32> {
    let is_new =
        |pid: u32| !previously_listed.is_empty() && previously_listed.binary_search(&pid).is_err();
    let rank = |pid: u32| {
        if pid == me {
            0
        } else if is_new(pid) {
            1
        } else if likely.binary_search(&pid).is_ok() {
            2
        } else {
            3
        }
    };
    let mut order = listed.to_vec();
    order.sort_by_key(|&pid| (rank(pid), std::cmp::Reverse(pid)));
    order
}

/// Add to `scan` every parent or child (transitively, through processes that hold one of them)
/// of an owner found that holds one of the inodes found too. Costs one fd listing per relative,
/// and only for new sockets: the search above stops at the first holder of each inode.
fn add_relatives_holding(proc_dir: &OwnedFd, scan: &mut OwnerScan) {
    let inodes: InodeSet = scan
        .owners
        .iter()
        .map(|held| u64::from(held.inode))
        .collect();
    let mut queue: Vec<u32> = scan.owners.iter().map(|held| held.pid).collect();
    queue.sort_unstable();
    queue.dedup();
    let mut visited: HashSet<u32> = queue.iter().copied().collect();
    let mut path = PathBuf32::default();
    let mut dirents = vec![0u8; 32 * 1024];
    let mut link = [0u8; 64];
    while let Some(pid) = queue.pop() {
        for relative in relatives(proc_dir, &mut path, pid) {
            if !visited.insert(relative) {
                continue;
            }
            let Ok(fd_dir) = open_dir(Some(proc_dir), path.set(relative, b"/fd")) else {
                continue;
            };
            let mut holds = false;
            for_each_entry(&fd_dir, &mut dirents, |name| {
                let Ok(len) = read_link_into(&fd_dir, name, &mut link) else {
                    return;
                };
                if let Some(inode) = socket_inode(&link[..len]).filter(|i| inodes.contains(i)) {
                    scan.owners.extend(Held::of(inode, relative));
                    holds = true;
                }
            });
            if holds {
                queue.push(relative);
            }
        }
    }
}

/// The parent and the children of `pid` (from /proc/PID/stat and /proc/PID/task/*/children).
fn relatives(proc_dir: &OwnedFd, path: &mut PathBuf32, pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut stat = [0u8; 1024];
    if let Some(stat) = read_small(proc_dir, path.set(pid, b"/stat"), &mut stat) {
        // `pid (name) state ppid ...`
        let parent = stat
            .iter()
            .rposition(|&b| b == b')')
            .and_then(|end| stat[end + 1..].split(|&b| b == b' ').nth(2))
            .and_then(parse_decimal);
        found.extend(
            parent
                .and_then(|p| u32::try_from(p).ok())
                .filter(|&p| p > 0),
        );
    }
    let Ok(tasks) = open_dir(Some(proc_dir), path.set(pid, b"/task")) else {
        return found;
    };
    let mut dirents = vec![0u8; 4096];
    // A prefork server's list: up to 64 KiB of pids, read once per owner found.
    let mut children = vec![0u8; 64 * 1024];
    for_each_entry(&tasks, &mut dirents, |task| {
        let mut name = task.to_bytes().to_vec();
        name.extend_from_slice(b"/children\0");
        let Ok(name) = CStr::from_bytes_with_nul(&name) else {
            return;
        };
        if let Some(list) = read_small(&tasks, name, &mut children) {
            found.extend(
                list.split(|&b| b == b' ')
                    .filter_map(parse_decimal)
                    .filter_map(|child| u32::try_from(child).ok()),
            );
        }
    });
    found
}

/// The start of file `name` in `dir`, read once into `buffer`; `None` if it cannot be read.
fn read_small<'a>(dir: &OwnedFd, name: &CStr, buffer: &'a mut [u8]) -> Option<&'a [u8]> {
    // SAFETY: name is NUL-terminated; the returned fd is checked and then owned.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return None;
    }
    // SAFETY: fd is a fresh descriptor that nothing else owns.
    let file = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut filled = 0;
    while filled < buffer.len() {
        let rest = &mut buffer[filled..];
        // SAFETY: rest is writable for its length.
        let read = unsafe { libc::read(file.as_raw_fd(), rest.as_mut_ptr().cast(), rest.len()) };
        match usize::try_from(read) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(_) if filled == 0 => return None,
            Err(_) => break,
        }
    }
    Some(&buffer[..filled])
}

/// One socket fd: its inode and the pid holding it, in 8 bytes. A socket's inode is 32 bits
/// (sockfs numbers them with get_next_ino, an unsigned int; sock_diag's idiag_inode is a
/// __u32): a scan of 1,000,000 fds is 8 MB, not 16. Ordered by inode, then pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Held {
    inode: u32,
    pid: u32,
}

impl Held {
    /// `None` for an inode no socket can have.
    fn of(inode: u64, pid: u32) -> Option<Held> {
        let inode = u32::try_from(inode).ok()?;
        Some(Held { inode, pid })
    }
}

/// Every socket fd of every process we could inspect, and what kept us from the others.
/// Taken while the socket dump runs, so it cannot know which inodes matter yet: `attach`
/// keeps the ones the dump returned.
#[derive(Default)]
pub struct OwnerScan {
    owners: Vec<Held>,
    obstacles: Obstacles,
}

impl OwnerScan {
    /// No scan at all: /proc itself could not be opened.
    fn failed(error: &io::Error) -> OwnerScan {
        let mut obstacles = Obstacles::default();
        obstacles.note(error);
        if !obstacles.out_of_fds {
            obstacles.no_proc = true;
        }
        OwnerScan {
            owners: Vec::new(),
            obstacles,
        }
    }
}

/// What the kernel answered when a /proc entry could not be read; [`explain`] turns it into
/// reasons a user can act on.
#[derive(Debug, Default, Clone, Copy)]
struct Obstacles {
    denied: bool,
    out_of_fds: bool,
    no_proc: bool,
    /// The processes that denied us.
    refusers: Refusers,
}

impl Obstacles {
    /// Note why an entry could not be read. A process or fd that vanished is no obstacle.
    fn note(&mut self, error: &io::Error) {
        match error.raw_os_error() {
            Some(libc::EACCES | libc::EPERM) => self.denied = true,
            Some(libc::EMFILE | libc::ENFILE) => self.out_of_fds = true,
            _ => {}
        }
    }

    /// As [`note`](Self::note), for an entry of process `pid`: a refusal names the process.
    fn note_of(&mut self, error: &io::Error, pid: u32, proc_dir: &OwnedFd, path: &mut PathBuf32) {
        self.note(error);
        if matches!(error.raw_os_error(), Some(libc::EACCES | libc::EPERM)) {
            let mut comm = [0u8; 64];
            let name = read_small(proc_dir, path.set(pid, b"/comm"), &mut comm)
                .map(|name| String::from_utf8_lossy(name.trim_ascii_end()).into_owned());
            self.refusers.add(pid, name.as_deref().unwrap_or("?"));
        }
    }
}

impl std::ops::BitOrAssign for Obstacles {
    fn bitor_assign(&mut self, other: Obstacles) {
        self.denied |= other.denied;
        self.out_of_fds |= other.out_of_fds;
        self.no_proc |= other.no_proc;
        self.refusers.merge(other.refusers);
    }
}

/// Why owners are incomplete, from what the scan met and who we are: a refusal means
/// "not root" to a user, "no CAP_SYS_PTRACE" to root without it, and something stronger than
/// root (a security policy, a container's outer world) to root with it; /proc's `hidepid`
/// hides processes without any refusal at all.
fn explain(obstacles: Obstacles) -> OwnerGaps {
    let has_ptrace = has_cap_sys_ptrace();
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    OwnerGaps {
        not_root: obstacles.denied && !root,
        no_ptrace: obstacles.denied && root && !has_ptrace,
        refused: obstacles.denied && root && has_ptrace,
        hidepid: !has_ptrace && !obstacles.no_proc && proc_hides_processes(),
        fd_limit: obstacles.out_of_fds,
        no_proc: obstacles.no_proc,
        // sock_diag lists every socket, held or not.
        unheld_unlisted: false,
        refusers: obstacles.refusers,
    }
}

/// CAP_SYS_PTRACE in our effective set (`CapEff` in /proc/self/status); assumed present when
/// unreadable, so that no reason is claimed without evidence.
fn has_cap_sys_ptrace() -> bool {
    const CAP_SYS_PTRACE: u32 = 19;
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return true;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_none_or(|caps| caps & (1 << CAP_SYS_PTRACE) != 0)
}

/// Whether the /proc we read is mounted with `hidepid` (1/noaccess, 2/invisible, 4/ptraceable)
/// and we are not in its exempt `gid=` group: then other users' processes are out of sight.
fn proc_hides_processes() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(proc_meta) = std::fs::metadata("/proc") else {
        return false;
    };
    let Ok(mountinfo) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let device = proc_meta.dev();
    let device = format!("{}:{}", libc::major(device), libc::minor(device));
    // Mounts stack: the last one on this device is the one in view.
    let Some(options) = mountinfo
        .lines()
        .filter(|line| line.split(' ').nth(2) == Some(device.as_str()))
        .filter_map(|line| line.split_once(" - ")?.1.split(' ').nth(2))
        .next_back()
    else {
        return false;
    };
    hidepid_applies(options, in_group)
}

/// `options` are a proc mount's super options (`rw,hidepid=invisible,gid=27`).
fn hidepid_applies(options: &str, in_group: impl Fn(u32) -> bool) -> bool {
    let mut hidepid = false;
    let mut exempt = false;
    for option in options.split(',') {
        match option.split_once('=') {
            Some(("hidepid", value)) => hidepid = !matches!(value, "0" | "off"),
            Some(("gid", gid)) => exempt = gid.parse().is_ok_and(&in_group),
            _ => {}
        }
    }
    hidepid && !exempt
}

fn in_group(gid: u32) -> bool {
    // SAFETY: getegid has no preconditions; getgroups writes at most `groups.len()` entries.
    unsafe {
        if libc::getegid() == gid {
            return true;
        }
        let mut groups = [0 as libc::gid_t; 256];
        let count = libc::getgroups(groups.len() as libc::c_int, groups.as_mut_ptr());
        count > 0 && groups[..count as usize].contains(&gid)
    }
}

/// Scan every process for socket fds. Processes in other network namespaces too: a process
/// that moved there after opening a socket (`unshare(CLONE_NEWNET)`, systemd's
/// `PrivateNetwork=`) still holds it, and inodes our dump does not contain are simply not used.
pub fn scan_all() -> Result<OwnerScan, CollectError> {
    let proc_dir = match open_dir(None, c"/proc") {
        Ok(dir) => dir,
        Err(e) => return Ok(OwnerScan::failed(&e)),
    };
    let pids = list_pids(&proc_dir);
    scan_in_parallel(&proc_dir, &pids, scan_threads())
}

/// Fill `pids` of every socket found by `scan`. Processes that exited mid-scan are simply
/// absent; processes we could not inspect make the coverage `Incomplete`, with the reasons.
pub fn attach(sockets: &mut [Socket], scan: OwnerScan) -> OwnerCoverage {
    let mut index_by_inode = InodeMap::default();
    index_by_inode.reserve(sockets.len());
    for (index, socket) in sockets.iter().enumerate() {
        if let Some(inode) = socket.inode {
            index_by_inode.insert(inode, index);
        }
    }
    for Held { inode, pid } in scan.owners {
        if let Some(&index) = index_by_inode.get(&u64::from(inode)) {
            sockets[index].pids.push(pid);
        }
    }
    for socket in sockets.iter_mut().filter(|s| s.pids.len() > 1) {
        socket.pids.sort_unstable();
        socket.pids.dedup();
    }
    OwnerCoverage::from_gaps(explain(scan.obstacles))
}

/// A scan's owners sorted by inode, for sockets that come a batch at a time (the one-shot
/// stream): each batch is looked up, instead of indexing every socket at once.
pub struct OwnerIndex {
    owners: Vec<Held>,
    coverage: OwnerCoverage,
}

impl OwnerScan {
    pub fn into_index(self) -> OwnerIndex {
        let mut owners = self.owners;
        owners.sort_unstable();
        owners.dedup();
        OwnerIndex {
            owners,
            coverage: OwnerCoverage::from_gaps(explain(self.obstacles)),
        }
    }
}

impl OwnerIndex {
    /// Whether the scan saw every process (what [`attach`] returns).
    pub fn coverage(&self) -> OwnerCoverage {
        self.coverage
    }

    /// Fill `pids` of each of `sockets` the scan found a holder of, in pid order.
    pub fn attach(&self, sockets: &mut [Socket]) {
        for socket in sockets {
            let Some(inode) = socket.inode else {
                continue;
            };
            let first = self
                .owners
                .partition_point(|held| u64::from(held.inode) < inode);
            let holders = self.owners[first..].iter();
            let pids = holders.take_while(|held| u64::from(held.inode) == inode);
            // Sorted by (inode, pid) and without duplicates: already in pid order, each once.
            socket.pids.extend(pids.map(|held| held.pid));
        }
    }
}

/// Fill `pids` of every Unix socket found by `scan` (the coverage is the one [`attach`] gives).
pub fn attach_unix(sockets: &mut [UnixSocket], scan: &OwnerScan) {
    let index_by_inode: InodeMap = sockets
        .iter()
        .enumerate()
        .map(|(index, socket)| (socket.inode, index))
        .collect();
    for &Held { inode, pid } in &scan.owners {
        if let Some(&index) = index_by_inode.get(&u64::from(inode)) {
            sockets[index].pids.push(pid);
        }
    }
    for socket in sockets.iter_mut().filter(|s| s.pids.len() > 1) {
        socket.pids.sort_unstable();
        socket.pids.dedup();
    }
}

/// readlink is the cost, and the kernel serves /proc in parallel: one thread per core, even
/// beside the dump thread (measured on 2 cores: 0.67 s with two scan threads, 0.85 s with one).
fn scan_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4)
}

fn scan_in_parallel(
    proc_dir: &OwnedFd,
    pids: &[u32],
    threads: usize,
) -> Result<OwnerScan, CollectError> {
    if threads < 2 || pids.len() < 64 {
        return Ok(scan(proc_dir, pids));
    }
    // Interleave pids so one thread does not get all the big processes.
    let shares: Vec<Vec<u32>> = (0..threads)
        .map(|t| pids.iter().copied().skip(t).step_by(threads).collect())
        .collect();
    let parts = on_threads(&shares, |share| scan(proc_dir, share)).map_err(|why| {
        CollectError::new("scanning /proc for socket owners", io::Error::other(why))
    })?;
    let mut all = OwnerScan::default();
    for part in parts {
        all.owners.extend(part.owners);
        all.obstacles |= part.obstacles;
    }
    Ok(all)
}

/// `work` on every share, each on its own scoped thread, results in share order. A share whose
/// thread cannot be started (RLIMIT_NPROC, memory) runs on this thread instead; a panic in any
/// thread is an error with its message, never that share's silent empty result.
fn on_threads<S: Sync, R: Send>(
    shares: &[S],
    work: impl Fn(&S) -> R + Sync,
) -> Result<Vec<R>, String> {
    let work = &work;
    std::thread::scope(|scope| {
        let started: Vec<_> = shares
            .iter()
            .map(|share| {
                std::thread::Builder::new()
                    .name("owner-scan".to_string())
                    .spawn_scoped(scope, move || work(share))
                    .map_err(|_| share)
            })
            .collect();
        // Join every thread before looking at any result: an unjoined panicked thread would
        // make `scope` itself panic.
        let joined: Vec<_> = started
            .into_iter()
            .map(|thread| match thread {
                Ok(handle) => handle.join().map_err(|payload| panic_message(&*payload)),
                Err(share) => Ok(work(share)),
            })
            .collect();
        joined.into_iter().collect()
    })
}

/// The text a thread panicked with, for an error line.
pub(super) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message");
    format!("a thread panicked: {text}")
}

fn scan(proc_dir: &OwnedFd, pids: &[u32]) -> OwnerScan {
    scan_until(proc_dir, pids, None)
}

/// Scan `pids` for socket fds. With `wanted`, keep only those inodes, strike each off as it is
/// found, and stop after the process in which the last one turns up.
fn scan_until(proc_dir: &OwnedFd, pids: &[u32], mut wanted: Option<&mut InodeSet>) -> OwnerScan {
    let mut found = OwnerScan::default();
    let mut path = PathBuf32::default();
    let mut dirents = vec![0u8; 32 * 1024];
    let mut link = [0u8; 64];
    for &pid in pids {
        let fd_dir = match open_dir(Some(proc_dir), path.set(pid, b"/fd")) {
            Ok(fd) => fd,
            Err(e) => {
                found.obstacles.note_of(&e, pid, proc_dir, &mut path);
                continue;
            }
        };
        for_each_entry(&fd_dir, &mut dirents, |name| {
            let len = match read_link_into(&fd_dir, name, &mut link) {
                Ok(len) => len,
                Err(e) => {
                    found.obstacles.note_of(&e, pid, proc_dir, &mut path);
                    return;
                }
            };
            let Some(inode) = socket_inode(&link[..len]) else {
                return;
            };
            let keep = match wanted.as_deref_mut() {
                Some(wanted) => wanted.remove(&inode),
                None => true,
            };
            if keep {
                found.owners.extend(Held::of(inode, pid));
            }
        });
        if wanted.as_ref().is_some_and(|w| w.is_empty()) {
            break;
        }
    }
    found
}

/// When process `pid` started (field 22 of /proc/PID/stat, clock ticks after boot): with the
/// pid, what names one process over time. `None` when it has exited.
fn start_time(proc_dir: &OwnedFd, path: &mut PathBuf32, pid: u32) -> Option<u64> {
    // Field 22 ends well within 1 KiB: a 64-byte name and 19 numbers of at most 20 digits.
    let mut stat = [0u8; 1024];
    let stat = read_small(proc_dir, path.set(pid, b"/stat"), &mut stat)?;
    start_time_in_stat(stat)
}

/// Field 22 of the text of a /proc/PID/stat.
pub(super) fn start_time_in_stat(stat: &[u8]) -> Option<u64> {
    // `pid (name) state ...`: the name may hold spaces and parentheses, so split after the last `)`.
    let after_name = &stat[stat.iter().rposition(|&b| b == b')')? + 1..];
    let field = after_name
        .split(|&b| b == b' ')
        .filter(|field| !field.is_empty())
        .nth(22 - 3)?;
    parse_decimal(field)
}

/// Numeric entries of /proc, ascending.
fn list_pids(proc_dir: &OwnedFd) -> Vec<u32> {
    let mut pids = Vec::new();
    let mut dirents = vec![0u8; 32 * 1024];
    for_each_entry(proc_dir, &mut dirents, |name| {
        if let Some(pid) = parse_decimal(name.to_bytes()) {
            pids.push(pid as u32);
        }
    });
    pids.sort_unstable();
    pids
}

/// `PID/suffix` as a C string in a stack buffer, reused for every process.
#[derive(Default)]
struct PathBuf32 {
    bytes: [u8; 32],
}

impl PathBuf32 {
    fn set(&mut self, pid: u32, suffix: &[u8]) -> &CStr {
        let mut digits = [0u8; 10];
        let mut n = pid;
        let mut start = digits.len();
        loop {
            start -= 1;
            digits[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let digits = &digits[start..];
        let end = digits.len() + suffix.len();
        self.bytes[..digits.len()].copy_from_slice(digits);
        self.bytes[digits.len()..end].copy_from_slice(suffix);
        self.bytes[end] = 0;
        CStr::from_bytes_with_nul(&self.bytes[..=end]).unwrap_or_default()
    }
}

fn open_dir(parent: Option<&OwnedFd>, path: &CStr) -> io::Result<OwnedFd> {
    let dirfd = parent.map_or(libc::AT_FDCWD, |p| p.as_raw_fd());
    // SAFETY: path is NUL-terminated; the returned fd is checked and then owned.
    let fd = unsafe {
        libc::openat(
            dirfd,
            path.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn read_link_into(dir: &OwnedFd, name: &CStr, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: name is NUL-terminated and buf is writable for buf.len() bytes.
    let len = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if len < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(len as usize)
}

/// Call `visit` with the name of every entry of `dir` but `.` and `..`, reading with getdents64
/// into `buffer`. An error mid-way (the directory vanished) ends the walk.
fn for_each_entry(dir: &OwnedFd, buffer: &mut [u8], mut visit: impl FnMut(&CStr)) {
    // linux_dirent64: d_ino u64, d_off i64, d_reclen u16, d_type u8, then the NUL-terminated name.
    const NAME_OFFSET: usize = 19;
    loop {
        // SAFETY: buffer is writable for its length; the kernel writes at most that many bytes.
        let read = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                dir.as_raw_fd(),
                buffer.as_mut_ptr(),
                buffer.len(),
            )
        };
        if read <= 0 {
            return;
        }
        let mut offset = 0;
        while offset + NAME_OFFSET < read as usize {
            let record_len = usize::from(u16::from_ne_bytes([
                buffer[offset + 16],
                buffer[offset + 17],
            ]));
            if record_len == 0 || offset + record_len > read as usize {
                return;
            }
            let record = &buffer[offset + NAME_OFFSET..offset + record_len];
            if let Ok(name) = CStr::from_bytes_until_nul(record)
                && name.to_bytes() != b"."
                && name.to_bytes() != b".."
            {
                visit(name);
            }
            offset += record_len;
        }
    }
}

fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0'))
    })
}

/// The inodes of this process's own sockets (a few fds: its resolver's lookups in flight).
pub fn own_socket_inodes() -> HashSet<u64> {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return HashSet::new();
    };
    entries
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter_map(|link| socket_inode(link.as_os_str().as_encoded_bytes()))
        .collect()
}

/// The inode in a `socket:[12345]` fd link target.
fn socket_inode(link: &[u8]) -> Option<u64> {
    parse_decimal(link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_index_gives_each_socket_its_holders_in_pid_order_once() {
        use crate::model::{Proto, SocketState};
        let scan = OwnerScan {
            owners: [(30, 9), (10, 4), (30, 2), (20, 7), (30, 9), (40, 1)]
                .into_iter()
                .filter_map(|(inode, pid)| Held::of(inode, pid))
                .collect(),
            obstacles: Obstacles::default(),
        };
        // Wider than any socket's inode: not a socket.
        assert_eq!(Held::of(1 << 32, 1), None);
        let index = scan.into_index();
        assert_eq!(index.coverage(), OwnerCoverage::Complete);
        let socket = |inode: Option<u64>| Socket {
            inode,
            ..Socket::new(
                Proto::Tcp,
                SocketState::Listen,
                "127.0.0.1:1".parse().unwrap(),
            )
        };
        let mut batch = vec![
            socket(Some(30)),
            socket(Some(10)),
            socket(Some(25)),
            socket(None),
            socket(Some(40)),
            socket(Some(50)),
        ];
        index.attach(&mut batch);
        let pids: Vec<Vec<u32>> = batch.into_iter().map(|s| s.pids).collect();
        assert_eq!(pids, [vec![2, 9], vec![4], vec![], vec![], vec![1], vec![]]);
    }

    #[test]
    fn the_search_tries_itself_then_new_processes_then_known_owners_then_the_rest() {
        let listed = [1, 5, 7, 9, 12, 40, 41];
        // 40 and 41 started since the last search; 5 and 9 owned sockets; 12 is rnetstat.
        let order = search_order(&listed, &[1, 5, 7, 9, 12], &[5, 9], 12);
        assert_eq!(order, vec![12, 41, 40, 9, 5, 7, 1]);
        // Nothing listed before: nothing is known to be new.
        let order = search_order(&listed, &[], &[5, 9], 12);
        assert_eq!(order, vec![12, 9, 5, 41, 40, 7, 1]);
    }

    #[test]
    fn parses_socket_links_only() {
        assert_eq!(socket_inode(b"socket:[12345]"), Some(12345));
        assert_eq!(socket_inode(b"pipe:[12345]"), None);
        assert_eq!(socket_inode(b"/dev/null"), None);
        assert_eq!(socket_inode(b"socket:[]"), None);
        let own = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let inode = std::fs::metadata(format!("/proc/self/fd/{}", own.as_raw_fd()))
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .expect("own socket's inode");
        assert!(own_socket_inodes().contains(&inode));
        assert_eq!(socket_inode(b"socket:[12"), None);
        assert_eq!(socket_inode(b"socket:[1a]"), None);
    }

    fn inode_of(socket: &impl AsRawFd) -> u64 {
        let link = std::fs::read_link(format!("/proc/self/fd/{}", socket.as_raw_fd())).unwrap();
        socket_inode(link.as_os_str().as_encoded_bytes()).unwrap()
    }

    #[test]
    fn pid_paths_are_built_without_allocation() {
        let mut path = PathBuf32::default();
        assert_eq!(path.set(0, b"/fd").to_bytes(), b"0/fd");
        assert_eq!(
            path.set(4_294_967_295, b"/ns/net").to_bytes(),
            b"4294967295/ns/net"
        );
        assert_eq!(path.set(42, b"/fd").to_bytes(), b"42/fd");
    }

    #[test]
    fn finds_our_own_socket_and_pid() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut sockets = vec![socket_with_inode(inode_of(&listener))];
        attach(&mut sockets, scan_all().unwrap());
        assert_eq!(sockets[0].pids, vec![std::process::id()]);
    }

    #[test]
    fn split_scan_finds_the_same_owners_as_one_thread() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let proc_dir = open_dir(None, c"/proc").unwrap();
        let pids = list_pids(&proc_dir);
        let inode = inode_of(&listener);
        // Other tests open sockets in this process meanwhile: compare on our listener only.
        let ours = |threads| {
            let scan = scan_in_parallel(&proc_dir, &pids, threads).unwrap();
            (scan.owners.into_iter())
                .map(|held| (u64::from(held.inode), held.pid))
                .filter(|&(i, _)| i == inode)
                .collect::<Vec<_>>()
        };
        assert_eq!(ours(1), vec![(inode, std::process::id())]);
        assert_eq!(ours(3), vec![(inode, std::process::id())]);
    }

    fn socket_with_inode(inode: u64) -> Socket {
        Socket {
            inode: Some(inode),
            ..Socket::new(
                crate::model::Proto::Tcp,
                crate::model::SocketState::Listen,
                "127.0.0.1:1".parse().unwrap(),
            )
        }
    }

    #[test]
    fn refresh_reuses_known_owners_and_finds_new_sockets() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let new_inode = inode_of(&listener);
        let (me, parent) = (std::process::id(), std::os::unix::process::parent_id());
        let mut known = KnownOwners::default();
        known.pids_by_inode.insert(7, Holders::of(&[parent, me]));
        for pid in [me, parent] {
            known.started_by_pid.insert(pid, started(pid));
        }
        // Inode 1 belongs to no process: the search for it must end, and remember that.
        let mut sockets = vec![
            socket_with_inode(7),
            socket_with_inode(new_inode),
            socket_with_inode(1),
        ];
        // Searching for inode 1 visits every process: the same coverage as a full scan's.
        let full_scan = attach(&mut [], scan_all().unwrap());
        assert_eq!(known.refresh(&mut sockets), full_scan);
        assert_eq!(
            sockets[0].pids,
            vec![parent, me],
            "from memory, not from a scan"
        );
        assert_eq!(sockets[1].pids, vec![std::process::id()]);
        assert!(sockets[2].pids.is_empty());
        assert_eq!(known.pids_by_inode.get(&1), Some(&Holders::of(&[])));
        assert_eq!(
            known.pids_by_inode.get(&new_inode),
            Some(&Holders::of(&[std::process::id()]))
        );
    }

    fn started(pid: u32) -> u64 {
        let proc_dir = open_dir(None, c"/proc").unwrap();
        start_time(&proc_dir, &mut PathBuf32::default(), pid).unwrap()
    }

    #[test]
    fn start_time_is_field_22_of_stat() {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let after_name = stat.rsplit_once(')').unwrap().1;
        let field_22: u64 = after_name
            .split_whitespace()
            .nth(19)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(started(std::process::id()), field_22);
        let mut gone = std::process::Command::new("true").spawn().unwrap();
        let pid = gone.id();
        gone.wait().unwrap();
        let proc_dir = open_dir(None, c"/proc").unwrap();
        assert_eq!(start_time(&proc_dir, &mut PathBuf32::default(), pid), None);
    }

    #[test]
    fn refresh_forgets_gone_sockets_and_asks_for_a_full_scan_after_ten_seconds() {
        let mut known = KnownOwners::default();
        known.pids_by_inode.insert(7, Holders::of(&[]));
        known.pids_by_inode.insert(8, Holders::of(&[]));
        let mut sockets = vec![socket_with_inode(7)];
        // However many refreshes: a slow --interval must not stretch the time between scans.
        for _ in 0..50 {
            known.refresh(&mut sockets);
        }
        assert!(!known.due_for_full_scan());
        assert!(!known.pids_by_inode.contains_key(&8));
        known.last_full_scan = Instant::now() - FULL_SCAN_INTERVAL;
        assert!(known.due_for_full_scan());
        // A scan that took a second is not due again for twenty.
        known.full_scan_took = Duration::from_secs(1);
        assert!(!known.due_for_full_scan());
        known.last_full_scan = Instant::now() - Duration::from_secs(20);
        assert!(known.due_for_full_scan());
    }

    #[test]
    fn an_owner_whose_pid_now_names_another_process_is_dropped_and_the_socket_found_again() {
        // Our listener, remembered as held by a process that had `innocent`'s pid before it.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let inode = inode_of(&listener);
        let mut innocent = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let mut known = KnownOwners::default();
        known
            .pids_by_inode
            .insert(inode, Holders::of(&[innocent.id()]));
        known
            .started_by_pid
            .insert(innocent.id(), started(innocent.id()) - 1);
        let mut sockets = vec![socket_with_inode(inode)];
        known.refresh(&mut sockets);
        let _ = innocent.kill();
        let _ = innocent.wait();
        assert_eq!(sockets[0].pids, vec![std::process::id()]);
        // Remembered with its start time from now on: the next refresh trusts it.
        let mut again = vec![socket_with_inode(inode)];
        known.refresh(&mut again);
        assert_eq!(again[0].pids, vec![std::process::id()]);
    }

    #[test]
    fn targeted_search_stops_once_everything_is_found() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let inode = inode_of(&listener);
        let mut wanted: InodeSet = [inode].into_iter().collect();
        let scan = find(&mut wanted, &[std::process::id()], &mut Vec::new());
        assert!(wanted.is_empty());
        assert_eq!(
            scan.owners,
            Held::of(inode, std::process::id())
                .into_iter()
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn hidepid_applies_unless_off_or_exempt_by_group() {
        let never = |_| false;
        assert!(hidepid_applies("rw,hidepid=invisible", never));
        assert!(hidepid_applies("rw,nosuid,hidepid=2", never));
        assert!(hidepid_applies("rw,hidepid=noaccess", never));
        assert!(hidepid_applies("rw,hidepid=ptraceable", never));
        assert!(!hidepid_applies("rw,hidepid=off", never));
        assert!(!hidepid_applies("rw,hidepid=0", never));
        assert!(!hidepid_applies("rw", never));
        assert!(!hidepid_applies("rw,hidepid=2,gid=27", |gid| gid == 27));
        assert!(hidepid_applies("rw,hidepid=2,gid=27", |gid| gid == 28));
    }

    #[test]
    fn a_refusal_names_the_process_that_refused() {
        let proc_dir = open_dir(None, c"/proc").unwrap();
        let mut obstacles = Obstacles::default();
        let denied = io::Error::from_raw_os_error(libc::EACCES);
        let own = std::process::id();
        for _ in 0..3 {
            obstacles.note_of(&denied, own, &proc_dir, &mut PathBuf32::default());
        }
        let gone = io::Error::from_raw_os_error(libc::ENOENT);
        obstacles.note_of(&gone, 1, &proc_dir, &mut PathBuf32::default());
        let gaps = explain(obstacles);
        assert_eq!(gaps.refusers.count, 1);
        let name = std::fs::read_to_string("/proc/self/comm").unwrap();
        assert_eq!(
            gaps.refusers.names(),
            Some(format!("pid {own} ({})", name.trim_end().escape_default()))
        );
        // As root with every capability (how the tests run) that is a refusal to root, named.
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } == 0 && has_cap_sys_ptrace() {
            assert!(
                gaps.describe().starts_with(&format!("pid {own} (")),
                "{gaps:?}"
            );
        }
    }

    #[test]
    fn refusals_are_explained_by_who_we_are() {
        let denied = Obstacles {
            denied: true,
            ..Obstacles::default()
        };
        let gaps = explain(denied);
        // As root with every capability (how the tests run) a refusal is a security policy's.
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } == 0 && has_cap_sys_ptrace() {
            assert!(
                gaps.refused && !gaps.not_root && !gaps.no_ptrace,
                "{gaps:?}"
            );
        }
        assert_eq!(
            [gaps.not_root, gaps.no_ptrace, gaps.refused]
                .iter()
                .filter(|&&g| g)
                .count(),
            1,
            "exactly one explanation: {gaps:?}"
        );
        let out_of_fds = Obstacles {
            out_of_fds: true,
            ..Obstacles::default()
        };
        assert!(explain(out_of_fds).fd_limit);
        let mut no_proc = Obstacles::default();
        no_proc.note(&io::Error::from_raw_os_error(libc::ENOENT));
        assert!(
            !no_proc.denied && !no_proc.out_of_fds,
            "a vanished entry is no obstacle"
        );
    }

    #[test]
    fn a_panic_in_a_scan_thread_is_an_error_not_an_empty_result() {
        let shares = [1u32, 2, 3];
        let result = on_threads(&shares, |&share| {
            assert_ne!(share, 2, "share 2 fails");
            vec![share]
        });
        let error = result.expect_err("a panicked share must not pass for an empty one");
        assert!(error.contains("share 2 fails"), "{error}");
        assert_eq!(
            on_threads(&shares, |&share| share * 2),
            Ok(vec![2, 4, 6]),
            "results in share order"
        );
    }

    #[test]
    #[cfg_attr(not(has_python3), ignore = "needs python3 (apt-get install python3)")]
    fn targeted_search_finds_every_process_sharing_a_socket_after_a_fork() {
        use std::io::BufRead;
        // Parent and child both hold the listener; neither owned anything before.
        let mut python = std::process::Command::new("python3")
            .args([
                "-c",
                "import os, socket, time\n\
                 s = socket.socket()\n\
                 s.bind(('127.0.0.1', 0))\n\
                 s.listen()\n\
                 child = os.fork()\n\
                 if child == 0:\n    time.sleep(60)\n    os._exit(0)\n\
                 print(os.fstat(s.fileno()).st_ino, child, flush=True)\n\
                 time.sleep(60)\n",
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(python.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let mut fields = line.split_whitespace();
        let inode: u64 = fields.next().unwrap().parse().unwrap();
        let child: u32 = fields.next().unwrap().parse().unwrap();
        let mut wanted: InodeSet = [inode].into_iter().collect();
        let scan = find(&mut wanted, &[], &mut Vec::new());
        // SAFETY: kill(2) takes plain integers.
        unsafe { libc::kill(child as i32, libc::SIGKILL) };
        let _ = python.kill();
        let _ = python.wait();
        let mut owners: Vec<(u64, u32)> = (scan.owners.iter())
            .map(|held| (u64::from(held.inode), held.pid))
            .collect();
        owners.sort_unstable();
        // The child's pid is below its parent's after the pid counter wraps.
        let mut expected = vec![(inode, python.id()), (inode, child)];
        expected.sort_unstable();
        assert_eq!(owners, expected);
    }

    #[test]
    fn lists_pids_including_our_own() {
        let proc_dir = open_dir(None, c"/proc").unwrap();
        let pids = list_pids(&proc_dir);
        assert!(pids.contains(&std::process::id()));
        assert!(pids.windows(2).all(|w| w[0] < w[1]));
    }
}
