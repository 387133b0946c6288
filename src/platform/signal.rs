//! What every OS's signal path shares: when a process started, and the processes never
//! signalled whatever a socket says.

use std::time::SystemTime;

/// When a process started: with its pid it names one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessStart {
    /// Clock ticks after boot (field 22 of /proc/PID/stat): compared, never shown.
    pub ticks: u64,
    /// The same moment as wall-clock time, for display; `None` if the boot time is unknown.
    pub at: Option<SystemTime>,
}

/// Pid 1 (init) and rnetstat itself: never signalled, whatever the socket says.
pub fn refusal(pid: u32) -> Option<&'static str> {
    if pid == 1 {
        Some("pid 1 (init) is never signalled")
    } else if pid == std::process::id() {
        Some("that is rnetstat itself")
    } else {
        None
    }
}
