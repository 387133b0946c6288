use std::collections::HashMap;
use std::time::SystemTime;

use super::{Process, Socket};

/// Whether the owner columns can be trusted to be complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OwnerCoverage {
    /// Owners were not asked for.
    #[default]
    NotCollected,
    /// Every process's sockets were inspected.
    Complete,
    /// Some processes could not be inspected for lack of privileges.
    LimitedByPrivileges,
}

/// Everything one collection saw at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub hostname: Option<String>,
    pub taken_at: Option<SystemTime>,
    pub sockets: Vec<Socket>,
    pub processes: HashMap<u32, Process>,
    /// Account names by uid, for the uids of `sockets`.
    pub user_names: HashMap<u32, String>,
    pub owners: OwnerCoverage,
    /// When every process was last searched for owners, if before this snapshot (a live
    /// view's refresh between full scans): a process that started sharing a known socket
    /// since then is not listed yet. `None`: every process was searched for this snapshot.
    pub owners_as_of: Option<SystemTime>,
}

impl Snapshot {
    /// The owning processes of `socket`, in pid order, skipping any that exited before we looked.
    pub fn owners_of<'a>(&'a self, socket: &'a Socket) -> impl Iterator<Item = &'a Process> + 'a {
        socket.pids.iter().filter_map(|pid| self.processes.get(pid))
    }
}
