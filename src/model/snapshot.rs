use std::collections::HashMap;
use std::time::SystemTime;

use super::context::{Cgroup, Context};
use super::namespace::Namespace;
use super::process::Process;
use super::socket::Socket;
use super::unix::UnixSocket;

/// Whether the owner columns can be trusted to be complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OwnerCoverage {
    /// Owners were not asked for.
    #[default]
    NotCollected,
    /// Every process's sockets were inspected.
    Complete,
    /// Some processes' sockets could not be inspected, for these reasons.
    Incomplete(OwnerGaps),
}

impl OwnerCoverage {
    /// `Complete` when nothing was missed, else `Incomplete` with the reasons.
    pub fn from_gaps(gaps: OwnerGaps) -> OwnerCoverage {
        if gaps.is_empty() {
            OwnerCoverage::Complete
        } else {
            OwnerCoverage::Incomplete(gaps)
        }
    }

    /// The reasons owners are incomplete; none when complete or not collected.
    pub fn gaps(self) -> OwnerGaps {
        match self {
            OwnerCoverage::Incomplete(gaps) => gaps,
            _ => OwnerGaps::default(),
        }
    }
}

/// Why some processes' sockets could not be inspected; several reasons can hold at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OwnerGaps {
    /// Not root: other users' processes are off limits.
    pub not_root: bool,
    /// Root without CAP_SYS_PTRACE: /proc/PID/fd links of more privileged processes are unreadable.
    pub no_ptrace: bool,
    /// /proc is mounted with `hidepid`: other users' processes are not even listed.
    pub hidepid: bool,
    /// The open-file limit (`ulimit -n`) was hit: some fd directories could not be opened.
    pub fd_limit: bool,
    /// Access was refused although we are root with CAP_SYS_PTRACE: an LSM policy, or a
    /// non-dumpable process of a parent user namespace (a container's init).
    pub refused: bool,
    /// /proc itself could not be opened: no owner is known.
    pub no_proc: bool,
    /// The OS lists sockets only through the processes that hold them (macOS): a socket no
    /// process holds (TIME_WAIT, one orphaned after close()) is not listed at all.
    pub unheld_unlisted: bool,
    /// The processes that refused inspection, named in `refused`'s sentence when few.
    pub refusers: Refusers,
}

/// How many processes refused inspection, and the first [`Refusers::NAMED`] of them: named in
/// the message when they are all there are ("owners incomplete" on every run because of one
/// process says which). Fixed-size, so that [`OwnerGaps`] stays `Copy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Refusers {
    /// Processes that refused, each counted once.
    pub count: u32,
    named: [Option<Refuser>; Refusers::NAMED],
    /// The pid added last: a process refuses once per fd, and counts once.
    last: Option<u32>,
}

/// A pid and its name, cut to the kernel's 15-byte `comm`; the name is the process's own
/// choice: untrusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Refuser {
    pid: u32,
    name: [u8; 15],
    name_len: u8,
}

impl Refusers {
    pub const NAMED: usize = 3;

    /// Count process `pid` (named `name`) as refusing, once however often it is noted.
    pub fn add(&mut self, pid: u32, name: &str) {
        if self.last == Some(pid) || self.named.iter().flatten().any(|r| r.pid == pid) {
            return;
        }
        self.last = Some(pid);
        self.count += 1;
        if let Some(slot) = self.named.iter_mut().find(|slot| slot.is_none()) {
            let bytes = &name.as_bytes()[..name.len().min(15)];
            let mut refuser = Refuser {
                pid,
                name: [0; 15],
                name_len: bytes.len() as u8,
            };
            refuser.name[..bytes.len()].copy_from_slice(bytes);
            *slot = Some(refuser);
        }
    }

    /// `pid 7 (name)` or `pids 7 (a), 9 (b)` when every refuser is known by name; the names
    /// escaped (non-ASCII and controls as `\u{..}`, `\x..`).
    pub fn names(&self) -> Option<String> {
        let named: Vec<_> = self.named.iter().flatten().collect();
        if named.is_empty() || self.count as usize != named.len() {
            return None;
        }
        let list = named
            .iter()
            .map(|refuser| {
                let name = String::from_utf8_lossy(&refuser.name[..usize::from(refuser.name_len)]);
                format!("{} ({})", refuser.pid, name.escape_default())
            })
            .collect::<Vec<_>>()
            .join(", ");
        Some(format!(
            "pid{} {list}",
            if named.len() == 1 { "" } else { "s" }
        ))
    }

    /// Add the refusers of another scan (of other processes).
    /// Add the refusers of another scan; a process named in both counts once (the dashboard
    /// merges the gaps of every refresh).
    pub fn merge(&mut self, other: Refusers) {
        let named = other.named.iter().flatten();
        let unnamed = other.count.saturating_sub(named.clone().count() as u32);
        for refuser in named {
            let name = String::from_utf8_lossy(&refuser.name[..usize::from(refuser.name_len)]);
            self.add(refuser.pid, &name);
        }
        self.count += unnamed;
    }
}

impl OwnerGaps {
    pub fn is_empty(&self) -> bool {
        *self == OwnerGaps::default()
    }

    /// Each reason that holds: a stable code (JSON), a sentence (stderr, status lines) and a
    /// label short enough for the dashboard's header.
    pub fn reasons(&self) -> impl Iterator<Item = Reason> + '_ {
        [
            (
                self.not_root,
                Reason {
                    code: "not_root",
                    sentence: "run as root to see other users' processes",
                    label: "run as root to see other users' processes",
                },
            ),
            (
                self.no_ptrace,
                Reason {
                    code: "no_cap_sys_ptrace",
                    sentence: "fd links in /proc are unreadable without CAP_SYS_PTRACE",
                    label: "no CAP_SYS_PTRACE",
                },
            ),
            (
                self.hidepid,
                Reason {
                    code: "hidepid",
                    sentence: "/proc is mounted with hidepid: other users' processes are hidden",
                    label: "/proc hidepid",
                },
            ),
            (
                self.fd_limit,
                Reason {
                    code: "fd_limit",
                    sentence: "the open-file limit (ulimit -n) was hit: some processes were skipped",
                    label: "open-file limit hit",
                },
            ),
            (
                self.refused,
                Reason {
                    code: "access_refused",
                    sentence: "some processes refuse inspection even by root \
                               (a security policy, or a process from outside this container)",
                    label: "some refused even to root",
                },
            ),
            (
                self.no_proc,
                Reason {
                    code: "proc_unreadable",
                    sentence: "/proc could not be opened",
                    label: "/proc unreadable",
                },
            ),
            (
                self.unheld_unlisted,
                Reason {
                    code: "unheld_sockets_unlisted",
                    sentence: "sockets no process holds (TIME_WAIT, orphaned after close) are \
                               not listed: this OS shows sockets only through their owners",
                    label: "no TIME_WAIT on this OS",
                },
            ),
        ]
        .into_iter()
        .filter(|(holds, _)| *holds)
        .map(|(_, reason)| reason)
    }

    /// All reasons in one line, `; ` between them; the processes that refused even root
    /// named when few.
    pub fn describe(&self) -> String {
        self.reasons()
            .map(|r| match self.named_refusal(r) {
                Some(names) => format!(
                    "{names} {} inspection even by root \
                     (a security policy, or a process from outside this container)",
                    if self.refusers.count == 1 {
                        "refuses"
                    } else {
                        "refuse"
                    }
                ),
                None => r.sentence.to_string(),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// All reasons in a few words each, for the dashboard's header.
    pub fn labels(&self) -> String {
        self.reasons()
            .map(|r| match self.named_refusal(r) {
                Some(names) => format!("{names} refused even to root"),
                None => r.label.to_string(),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The refusers' names when `reason` is a refusal to root and they are few.
    fn named_refusal(&self, reason: Reason) -> Option<String> {
        (reason.code == "access_refused")
            .then(|| self.refusers.names())
            .flatten()
    }
}

/// One reason owners are incomplete, worded for each reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reason {
    pub code: &'static str,
    pub sentence: &'static str,
    pub label: &'static str,
}

impl std::ops::BitOrAssign for OwnerGaps {
    fn bitor_assign(&mut self, other: OwnerGaps) {
        // Destructured, so a new reason cannot be left out of the merge.
        let OwnerGaps {
            not_root,
            no_ptrace,
            hidepid,
            fd_limit,
            refused,
            no_proc,
            unheld_unlisted,
            refusers,
        } = other;
        self.refusers.merge(refusers);
        self.not_root |= not_root;
        self.no_ptrace |= no_ptrace;
        self.hidepid |= hidepid;
        self.fd_limit |= fd_limit;
        self.refused |= refused;
        self.no_proc |= no_proc;
        self.unheld_unlisted |= unheld_unlisted;
    }
}

/// Everything one collection saw at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub hostname: Option<String>,
    pub taken_at: Option<SystemTime>,
    pub sockets: Vec<Socket>,
    /// Unix domain sockets, only when asked for (`-x`); kept apart so TCP/UDP code is unchanged.
    pub unix_sockets: Vec<UnixSocket>,
    pub processes: HashMap<u32, Process>,
    /// Account names by uid, for the uids of `sockets`.
    pub user_names: HashMap<u32, String>,
    pub owners: OwnerCoverage,
    /// When every process was last searched for owners, if before this snapshot (a live
    /// view's refresh between full scans): a process that started sharing a known socket
    /// since then is not listed yet. `None`: every process was searched for this snapshot.
    pub owners_as_of: Option<SystemTime>,
    /// `--all-netns`: every network namespace listed, in inode order; empty when one is.
    pub namespaces: Vec<Namespace>,
    /// The cgroups of `sockets` by id, with their paths and what those say, when contexts
    /// were asked for (Linux); a socket whose cgroup is not here has none known.
    pub cgroups: HashMap<u64, Cgroup>,
    /// Host names of the sockets' addresses, where asked for and found in time (the table
    /// without `-n`, `--resolve`); an address not here is shown as a number.
    pub host_names: HashMap<std::net::IpAddr, String>,
}

impl Snapshot {
    /// The owning processes of `socket`, in pid order, skipping any that exited before we looked.
    pub fn owners_of<'a>(&'a self, socket: &'a Socket) -> impl Iterator<Item = &'a Process> + 'a {
        socket.pids.iter().filter_map(|pid| self.processes.get(pid))
    }

    /// What `socket` runs as: the context of the cgroup it was made in, else (no cgroup id
    /// from the kernel) its first owner's.
    pub fn context_of(&self, socket: &Socket) -> Option<&Context> {
        context_of(socket, &self.cgroups, &self.processes)
    }
}

/// [`Snapshot::context_of`] over a snapshot's parts: what filters and the dashboard hold.
pub fn context_of<'a>(
    socket: &Socket,
    cgroups: &'a HashMap<u64, Cgroup>,
    processes: &'a HashMap<u32, Process>,
) -> Option<&'a Context> {
    match socket.cgroup {
        Some(id) => cgroups.get(&id)?.context.as_ref(),
        None => socket
            .pids
            .first()
            .and_then(|pid| processes.get(pid)?.cgroup.as_ref()?.context.as_ref()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_name_every_reason_that_holds_in_one_line() {
        assert_eq!(
            OwnerCoverage::from_gaps(OwnerGaps::default()),
            OwnerCoverage::Complete
        );
        let gaps = OwnerGaps {
            no_ptrace: true,
            fd_limit: true,
            ..OwnerGaps::default()
        };
        assert_eq!(OwnerCoverage::from_gaps(gaps).gaps(), gaps);
        let codes: Vec<_> = gaps.reasons().map(|r| r.code).collect();
        assert_eq!(codes, ["no_cap_sys_ptrace", "fd_limit"]);
        assert_eq!(
            gaps.describe(),
            "fd links in /proc are unreadable without CAP_SYS_PTRACE; \
             the open-file limit (ulimit -n) was hit: some processes were skipped"
        );
        let mut merged = OwnerGaps {
            not_root: true,
            ..OwnerGaps::default()
        };
        merged |= gaps;
        assert_eq!(merged.reasons().count(), 3);
        assert_eq!(
            merged.labels(),
            "run as root to see other users' processes; no CAP_SYS_PTRACE; open-file limit hit"
        );
    }

    #[test]
    fn a_few_processes_refusing_root_are_named_many_are_counted() {
        let refused = |pids: &[(u32, &str)]| {
            let mut gaps = OwnerGaps {
                refused: true,
                ..OwnerGaps::default()
            };
            for &(pid, name) in pids {
                // One refusal per fd: the same process noted again counts once.
                gaps.refusers.add(pid, name);
                gaps.refusers.add(pid, name);
            }
            gaps
        };
        let one = refused(&[(1, "process_api")]);
        assert_eq!(
            one.describe(),
            "pid 1 (process_api) refuses inspection even by root \
             (a security policy, or a process from outside this container)"
        );
        assert_eq!(one.labels(), "pid 1 (process_api) refused even to root");
        let three = refused(&[(1, "a"), (7, "evil\u{1b}]0;x\u{7}"), (9, "c")]);
        assert!(
            three
                .describe()
                .starts_with("pids 1 (a), 7 (evil\\u{1b}]0;x\\u{7}), 9 (c) refuse inspection"),
            "{}",
            three.describe()
        );
        let four = refused(&[(1, "a"), (7, "b"), (9, "c"), (11, "d")]);
        assert_eq!(four.refusers.count, 4);
        assert!(
            four.describe()
                .starts_with("some processes refuse inspection even by root")
        );
        // Refreshes merge their gaps: the same process refusing again is still one.
        let mut merged = one;
        merged |= one;
        merged |= refused(&[(5, "other")]);
        assert_eq!(merged.refusers.count, 2);
        assert!(
            merged
                .describe()
                .starts_with("pids 1 (process_api), 5 (other) refuse")
        );
        // Without root, every other user's process refuses: "run as root" says it all.
        let not_root = OwnerGaps {
            not_root: true,
            refusers: one.refusers,
            ..OwnerGaps::default()
        };
        assert_eq!(
            not_root.describe(),
            "run as root to see other users' processes"
        );
    }

    #[test]
    fn sockets_seen_only_through_their_holders_is_a_reason_that_merges() {
        let mut gaps = OwnerGaps::default();
        gaps |= OwnerGaps {
            unheld_unlisted: true,
            ..OwnerGaps::default()
        };
        let codes: Vec<_> = gaps.reasons().map(|r| r.code).collect();
        assert_eq!(codes, ["unheld_sockets_unlisted"]);
        assert!(
            gaps.describe()
                .starts_with("sockets no process holds (TIME_WAIT")
        );
    }
}
