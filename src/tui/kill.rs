//! The kill dialog: every process holding the chosen socket, the one `y` signals, and what
//! the dialog says of each. The signal itself, with its checks at the instant of sending, is
//! [`crate::platform::terminate_holder`].

use crate::format::clock;
pub use crate::platform::ProcessStart;

/// The kill dialog: every process holding the socket, one of them chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KillTarget {
    /// Every owner, in pid order.
    pub owners: Vec<KillOwner>,
    /// Index into `owners` of the one `y` signals.
    pub selected: usize,
    /// The socket, rechecked at the moment of sending: its owners may have changed since.
    pub inode: Option<u64>,
}

impl KillTarget {
    pub fn pid(&self) -> u32 {
        self.owners[self.selected].pid
    }
}

/// One process the kill dialog offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KillOwner {
    pub pid: u32,
    /// Escaped program name, `?` when unknown.
    pub program: String,
    /// When it started, read as the dialog opened; `None` until read, or if it could not be.
    pub started: Option<ProcessStart>,
    /// Why `y` will not signal it (init, rnetstat itself), decided as the dialog opens.
    pub refused: Option<&'static str>,
}

impl KillOwner {
    /// When it started, for the dialog; `None` until the start was read.
    pub fn started_text(&self) -> Option<String> {
        self.started.is_some().then(|| describe_start(self.started))
    }
}

/// A start time for people: the UTC clock time, or `unknown`.
pub fn describe_start(start: Option<ProcessStart>) -> String {
    match start.and_then(|start| start.at) {
        Some(at) => clock(at),
        None => "unknown".to_string(),
    }
}
