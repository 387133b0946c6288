/// The kernel's protocol counters people grep `netstat -s` for, since boot, for this network
/// namespace. `None` is a counter the kernel did not report (or an OS without them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProtocolCounters {
    /// Tcp RetransSegs: "segments retransmitted".
    pub retransmitted_segments: Option<u64>,
    /// Tcp OutRsts: "resets sent".
    pub resets_sent: Option<u64>,
    /// Tcp EstabResets: "connection resets received".
    pub resets_received: Option<u64>,
    /// Tcp AttemptFails: "failed connection attempts".
    pub failed_connection_attempts: Option<u64>,
    /// TcpExt ListenOverflows: "times the listen queue of a socket overflowed".
    pub listen_overflows: Option<u64>,
    /// TcpExt ListenDrops: "SYNs to LISTEN sockets dropped".
    pub listen_drops: Option<u64>,
    /// The kernel's count of orphaned TCP sockets (no file descriptor left), /proc/net/sockstat.
    pub orphans: Option<u64>,
}
