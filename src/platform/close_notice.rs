//! What the kernel tells a watch about sockets it destroys.

/// What the kernel's close notices (Linux) tell a watch, or why they stopped.
#[derive(Debug)]
pub enum CloseNotice {
    /// Sockets the kernel destroyed just now: final state, cookie, and a TCP socket's tcp_info.
    Closed {
        sockets: Vec<crate::model::Socket>,
        at: std::time::SystemTime,
    },
    /// The kernel dropped notices (its queue for us overflowed): some closes were not told.
    Overrun,
    /// The notices stopped for good.
    Ended(std::io::Error),
}
