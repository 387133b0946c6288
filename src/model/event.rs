//! What `--watch` reports: one thing that happened to one socket.

use std::collections::HashMap;
use std::time::SystemTime;

use super::context::Cgroup;
use super::process::Process;
use super::socket::{Socket, SocketState};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A socket seen for the first time; `existing` on the first snapshot's sockets.
    Open {
        existing: bool,
    },
    Close,
    /// The socket's state changed `from` this one to the socket's.
    State {
        from: SocketState,
    },
}

/// One thing that happened to one socket, with the owners known for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    pub at: SystemTime,
    pub socket: Socket,
    /// The owners named by `socket.pids`, as described when a snapshot last saw them.
    pub processes: HashMap<u32, Process>,
    /// The cgroup the socket was made in, with what it says, when a snapshot described it.
    pub cgroup: Option<Cgroup>,
}
