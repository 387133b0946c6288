use std::net::{IpAddr, SocketAddr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    pub fn of(addr: IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        }
    }
}

/// Socket state with netstat's names; `Unconn` is an unconnected UDP socket (ss's UNCONN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SocketState {
    Established,
    SynSent,
    SynRecv,
    FinWait1,
    FinWait2,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Listen,
    Closing,
    Unconn,
}

impl SocketState {
    pub const ALL: [SocketState; 12] = [
        SocketState::Established,
        SocketState::SynSent,
        SocketState::SynRecv,
        SocketState::FinWait1,
        SocketState::FinWait2,
        SocketState::TimeWait,
        SocketState::Close,
        SocketState::CloseWait,
        SocketState::LastAck,
        SocketState::Listen,
        SocketState::Closing,
        SocketState::Unconn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SocketState::Established => "ESTABLISHED",
            SocketState::SynSent => "SYN_SENT",
            SocketState::SynRecv => "SYN_RECV",
            SocketState::FinWait1 => "FIN_WAIT1",
            SocketState::FinWait2 => "FIN_WAIT2",
            SocketState::TimeWait => "TIME_WAIT",
            SocketState::Close => "CLOSE",
            SocketState::CloseWait => "CLOSE_WAIT",
            SocketState::LastAck => "LAST_ACK",
            SocketState::Listen => "LISTEN",
            SocketState::Closing => "CLOSING",
            SocketState::Unconn => "UNCONN",
        }
    }

    /// The Linux kernel's state number (include/net/tcp_states.h, [`States`]) as netstat names it.
    /// UDP sockets reuse these numbers: TCP_CLOSE is an unconnected UDP socket.
    pub fn from_kernel(proto: Proto, state: u8) -> Option<SocketState> {
        Some(match (proto, state) {
            (Proto::Udp, States::ESTABLISHED) => SocketState::Established,
            (Proto::Udp, States::CLOSE) => SocketState::Unconn,
            (Proto::Udp, _) => return None,
            (Proto::Tcp, States::ESTABLISHED) => SocketState::Established,
            (Proto::Tcp, States::SYN_SENT) => SocketState::SynSent,
            // A request socket, which netstat and ss show as SYN_RECV.
            (Proto::Tcp, States::SYN_RECV | States::NEW_SYN_RECV) => SocketState::SynRecv,
            (Proto::Tcp, States::FIN_WAIT1) => SocketState::FinWait1,
            (Proto::Tcp, States::FIN_WAIT2) => SocketState::FinWait2,
            (Proto::Tcp, States::TIME_WAIT) => SocketState::TimeWait,
            (Proto::Tcp, States::CLOSE) => SocketState::Close,
            (Proto::Tcp, States::CLOSE_WAIT) => SocketState::CloseWait,
            (Proto::Tcp, States::LAST_ACK) => SocketState::LastAck,
            (Proto::Tcp, States::LISTEN) => SocketState::Listen,
            (Proto::Tcp, States::CLOSING) => SocketState::Closing,
            (Proto::Tcp, _) => return None,
        })
    }

    /// The kernel's state number as rnetstat names it: SYN_RECV's own (a request socket is
    /// NEW_SYN_RECV too, see [`SocketState::kernel_states`]); an unconnected UDP socket is CLOSE.
    pub const fn kernel_state(self) -> u8 {
        match self {
            SocketState::Established => States::ESTABLISHED,
            SocketState::SynSent => States::SYN_SENT,
            SocketState::SynRecv => States::SYN_RECV,
            SocketState::FinWait1 => States::FIN_WAIT1,
            SocketState::FinWait2 => States::FIN_WAIT2,
            SocketState::TimeWait => States::TIME_WAIT,
            SocketState::Close | SocketState::Unconn => States::CLOSE,
            SocketState::CloseWait => States::CLOSE_WAIT,
            SocketState::LastAck => States::LAST_ACK,
            SocketState::Listen => States::LISTEN,
            SocketState::Closing => States::CLOSING,
        }
    }

    /// Every kernel state the model names so ([`SocketState::from_kernel`] backwards): for
    /// SYN_RECV also NEW_SYN_RECV, the request sockets shown as SYN_RECV.
    pub const fn kernel_states(self) -> States {
        let own = States::of_kernel(self.kernel_state());
        match self {
            SocketState::SynRecv => own.union(States::of_kernel(States::NEW_SYN_RECV)),
            _ => own,
        }
    }

    /// Listening in netstat's sense: a TCP listener or an unconnected UDP socket.
    pub fn is_listening(self) -> bool {
        matches!(self, SocketState::Listen | SocketState::Unconn)
    }
}

/// A set of the kernel's socket states: bit n is state n of include/net/tcp_states.h, the numbers
/// TCP, UDP and Unix sockets share. It is sock_diag's `idiag_states` mask, and what ss's `state`
/// words select. Connected UDP is ESTABLISHED and unconnected UDP CLOSE, as ss shows them.
/// The kernel's state numbers are written here and nowhere else.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct States(pub u32);

impl States {
    pub const ESTABLISHED: u8 = 1;
    pub const SYN_SENT: u8 = 2;
    pub const SYN_RECV: u8 = 3;
    pub const FIN_WAIT1: u8 = 4;
    pub const FIN_WAIT2: u8 = 5;
    pub const TIME_WAIT: u8 = 6;
    pub const CLOSE: u8 = 7;
    pub const CLOSE_WAIT: u8 = 8;
    pub const LAST_ACK: u8 = 9;
    pub const LISTEN: u8 = 10;
    pub const CLOSING: u8 = 11;
    /// A request socket (a connection in the SYN queue); shown as SYN-RECV.
    pub const NEW_SYN_RECV: u8 = 12;
    /// TCP_BOUND_INACTIVE (Linux 6.8): a socket that is only bound, which ss and netstat do not
    /// list (they would show it as CLOSE); never asked for.
    pub const BOUND_INACTIVE: u8 = 13;

    /// Every real state, ESTABLISHED (1) to NEW_SYN_RECV (12): ss's `all`, and "all states" in
    /// a request. Bit 0 is no kernel state (ss's SS_UNKNOWN), BOUND_INACTIVE is left out.
    pub const ALL: States = States(((1 << States::BOUND_INACTIVE) - 1) & !1);
    pub const NONE: States = States(0);

    pub const fn of_kernel(state: u8) -> States {
        States(1 << state)
    }

    /// netstat's listening sockets of one protocol: a TCP listener, an unconnected UDP socket.
    pub const fn listening(proto: Proto) -> States {
        match proto {
            Proto::Tcp => States::of_kernel(States::LISTEN),
            Proto::Udp => States::of_kernel(States::CLOSE),
        }
    }

    /// The others of one protocol: every other TCP state, a connected UDP socket.
    pub const fn not_listening(proto: Proto) -> States {
        match proto {
            Proto::Tcp => States::ALL.without(States::listening(proto)),
            Proto::Udp => States::of_kernel(States::ESTABLISHED),
        }
    }

    /// Whether the set has the state's own number (a `state syn-recv` word is SYN_RECV's).
    pub const fn contains(self, state: SocketState) -> bool {
        self.0 & States::of_kernel(state.kernel_state()).0 != 0
    }

    /// Whether the set has any state the kernel reports as `state` ([`SocketState::kernel_states`]).
    pub const fn keeps(self, state: SocketState) -> bool {
        self.0 & state.kernel_states().0 != 0
    }

    pub const fn union(self, other: States) -> States {
        States(self.0 | other.0)
    }

    pub const fn intersection(self, other: States) -> States {
        States(self.0 & other.0)
    }

    pub const fn without(self, other: States) -> States {
        States(self.0 & !other.0)
    }
}

impl std::fmt::Debug for States {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "States({:#06x})", self.0)
    }
}

/// One socket as the kernel reports it. `remote` is `None` when the socket has no peer
/// (a listener, an unconnected UDP socket); `None` elsewhere means the OS did not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socket {
    pub proto: Proto,
    pub state: SocketState,
    pub local: SocketAddr,
    pub remote: Option<SocketAddr>,
    pub recv_q: Option<u32>,
    pub send_q: Option<u32>,
    pub uid: Option<u32>,
    pub inode: Option<u64>,
    /// Pids of every process holding this socket, ascending; empty when unknown or not asked for.
    pub pids: Vec<u32>,
    /// The kernel's pending timer (Linux); `None` where the OS does not say.
    pub timer: Option<Timer>,
    /// The kernel's view of a TCP connection (`-i`); `None` when not asked for or not given,
    /// and where a live view keeps only `bytes` of it.
    pub tcp_info: Option<Box<TcpInfo>>,
    /// tcp_info's byte counters, also where the rest of it was not kept (the dashboard's
    /// rows out of view: their rates need only these); `None` when tcp_info was not asked for
    /// or not given.
    pub bytes: Option<ByteCounters>,
    /// The kernel's socket cookie (Linux sock_diag): one socket's name for its whole life, which
    /// the kernel's close notices carry too; `None` where the OS does not give it.
    pub cookie: Option<u64>,
    /// IPV6_V6ONLY of an IPv6 socket (Linux sock_diag): `false` is a `[::]` socket that takes
    /// IPv4 too; `None` for IPv4 and where the OS does not say.
    pub v6only: Option<bool>,
    /// The inode of the network namespace the socket is in (`--all-netns`, see
    /// [`Snapshot::namespaces`](super::Snapshot::namespaces)); `None` when one namespace is listed.
    pub netns: Option<u64>,
    /// The id of the cgroup v2 the socket was made in (Linux `INET_DIAG_CGROUP_ID`, what `ss
    /// --cgroup` shows; a key of [`Snapshot::cgroups`](super::Snapshot::cgroups)); `None`
    /// where the OS does not say.
    pub cgroup: Option<u64>,
}

impl Socket {
    /// A socket of which only the protocol, state and local end are known: everything else is
    /// `None` (the OS did not say) until a collector fills it in.
    pub fn new(proto: Proto, state: SocketState, local: SocketAddr) -> Socket {
        Socket {
            proto,
            state,
            local,
            remote: None,
            recv_q: None,
            send_q: None,
            uid: None,
            inode: None,
            pids: Vec::new(),
            timer: None,
            tcp_info: None,
            bytes: None,
            cookie: None,
            v6only: None,
            netns: None,
            cgroup: None,
        }
    }

    pub fn family(&self) -> Family {
        Family::of(self.local.ip())
    }
}

/// A TCP connection's byte counters from tcp_info; `None` where the kernel's tcp_info is too
/// old to have them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteCounters {
    pub received: Option<u64>,
    /// Sent and acknowledged by the peer.
    pub acked: Option<u64>,
}

/// Which timer the kernel has pending on a socket: the numbers of `/proc/net/tcp`'s `tr` column
/// and of inet_diag_msg's `idiag_timer`, named as `netstat -o` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimerKind {
    Off,
    /// Retransmission (also the loss probe and reordering timeouts).
    On,
    Keepalive,
    TimeWait,
    /// The zero window probe (ss calls it `persist`).
    Probe,
    Unknown(u8),
}

impl TimerKind {
    pub fn from_kernel(code: u8) -> TimerKind {
        match code {
            0 => TimerKind::Off,
            1 => TimerKind::On,
            2 => TimerKind::Keepalive,
            3 => TimerKind::TimeWait,
            4 => TimerKind::Probe,
            other => TimerKind::Unknown(other),
        }
    }

    pub fn name(self) -> std::borrow::Cow<'static, str> {
        match self {
            TimerKind::Off => "off".into(),
            TimerKind::On => "on".into(),
            TimerKind::Keepalive => "keepalive".into(),
            TimerKind::TimeWait => "timewait".into(),
            TimerKind::Probe => "probe".into(),
            TimerKind::Unknown(code) => format!("unkn-{code}").into(),
        }
    }
}

/// A socket's timer: when it fires and how often it fired unanswered. sock_diag gives one count
/// per timer (retransmits for `on`, unanswered probes for `keepalive`/`probe`), so the other is
/// `None` there; /proc/net/tcp gives both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timer {
    pub kind: TimerKind,
    /// Milliseconds until it fires.
    pub expires_ms: u64,
    pub retransmits: Option<u32>,
    pub probes: Option<u32>,
}

impl Timer {
    /// The timer as sock_diag reports it (linux/inet_diag.h: idiag_timer, idiag_expires,
    /// idiag_retrans); `off` and `timewait` carry no counts, which the kernel reports as 0.
    pub fn from_sock_diag(code: u8, expires_ms: u32, count: u8) -> Timer {
        let kind = TimerKind::from_kernel(code);
        let count = u32::from(count);
        let (retransmits, probes) = match kind {
            TimerKind::On => (Some(count), None),
            TimerKind::Keepalive | TimerKind::Probe => (None, Some(count)),
            TimerKind::Off | TimerKind::TimeWait => (Some(0), Some(0)),
            TimerKind::Unknown(_) => (None, None),
        };
        Timer {
            kind,
            expires_ms: u64::from(expires_ms),
            retransmits,
            probes,
        }
    }
}

impl Timer {
    /// Fill the counts sock_diag's header left unknown from tcp_info's `tcpi_retransmits` and
    /// `tcpi_probes`, the very counters netstat reads from /proc/net/tcp.
    pub fn fill_counts(&mut self, retransmits: u8, probes: u8) {
        if matches!(self.kind, TimerKind::Unknown(_)) {
            return;
        }
        self.retransmits.get_or_insert(u32::from(retransmits));
        self.probes.get_or_insert(u32::from(probes));
    }
}

impl std::fmt::Display for Timer {
    /// netstat -o's column: `keepalive (7192.84/0/0)`, expiry in seconds / retransmits / probes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = |n: Option<u32>| n.map_or_else(|| "-".to_string(), |n| n.to_string());
        let expires = if self.kind == TimerKind::Off {
            0
        } else {
            self.expires_ms
        };
        write!(
            f,
            "{} ({}.{:02}/{}/{})",
            self.kind.name(),
            expires / 1000,
            expires % 1000 / 10,
            count(self.retransmits),
            count(self.probes)
        )
    }
}

/// What the kernel says about one TCP connection (Linux `struct tcp_info` and its congestion
/// control). Fields newer kernels added are `None` when this kernel's struct ends before them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TcpInfo {
    /// The congestion control algorithm (`cubic`, `bbr`); `None` when the kernel did not say.
    pub congestion: Option<String>,
    pub rto_us: u32,
    pub rtt_us: u32,
    pub rttvar_us: u32,
    /// The sender's maximum segment size, bytes.
    pub mss: u32,
    /// Congestion window, segments.
    pub cwnd: u32,
    /// Slow start threshold, segments; `None` while it is still the kernel's "infinite".
    pub ssthresh: Option<u32>,
    /// Retransmissions of the segment at the head of the queue right now.
    pub retransmits: u8,
    /// Retransmitted segments over the connection's life.
    pub total_retrans: u32,
    /// Segments the kernel thinks are lost, and sent but not acknowledged.
    pub lost: u32,
    pub unacked: u32,
    /// Milliseconds since data was last sent, received, and since the last ACK came in.
    pub last_send_ms: u32,
    pub last_recv_ms: u32,
    pub last_ack_ms: u32,
    /// Bytes per second; `None` also when unlimited.
    pub pacing_rate: Option<u64>,
    pub bytes_acked: Option<u64>,
    pub bytes_received: Option<u64>,
    pub segs_out: Option<u32>,
    pub segs_in: Option<u32>,
    pub notsent: Option<u32>,
    pub min_rtt_us: Option<u32>,
    /// Bytes per second, of the most recent delivery.
    pub delivery_rate: Option<u64>,
    pub busy_us: Option<u64>,
    pub rwnd_limited_us: Option<u64>,
    pub sndbuf_limited_us: Option<u64>,
    pub bytes_sent: Option<u64>,
    pub bytes_retrans: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_states_is_every_state_the_model_names() {
        let named = SocketState::ALL
            .into_iter()
            .map(SocketState::kernel_states)
            .fold(States::NONE, States::union);
        assert_eq!(States::ALL, named);
    }

    #[test]
    fn every_state_has_its_kernel_number() {
        for state in SocketState::ALL {
            let bits = state.kernel_states().0;
            assert_ne!(bits, 0, "{state:?}");
            for number in 0..16u8 {
                let proto = if state == SocketState::Unconn {
                    Proto::Udp
                } else {
                    Proto::Tcp
                };
                let from_kernel = SocketState::from_kernel(proto, number) == Some(state);
                assert_eq!(bits & (1 << number) != 0, from_kernel, "{state:?} {number}");
            }
        }
    }

    #[test]
    fn listening_and_not_listening_split_each_protocol_as_netstat() {
        for state in SocketState::ALL {
            let proto = if matches!(state, SocketState::Unconn) {
                Proto::Udp
            } else {
                Proto::Tcp
            };
            assert_eq!(
                States::listening(proto).keeps(state),
                state.is_listening(),
                "{state:?}"
            );
            assert_eq!(
                States::not_listening(proto).keeps(state),
                !state.is_listening(),
                "{state:?}"
            );
        }
        assert!(States::not_listening(Proto::Udp).keeps(SocketState::Established));
    }

    #[test]
    fn timers_print_as_netstat_o() {
        let keepalive = Timer::from_sock_diag(2, 7_192_845, 0);
        assert_eq!(keepalive.to_string(), "keepalive (7192.84/-/0)");
        // tcp_info's counts fill only what the header left unknown.
        let mut filled = keepalive;
        filled.fill_counts(1, 5);
        assert_eq!(filled.to_string(), "keepalive (7192.84/1/0)");
        let mut on = Timer::from_sock_diag(1, 204, 3);
        on.fill_counts(9, 2);
        assert_eq!(on.to_string(), "on (0.20/3/2)");
        let mut unknown = Timer::from_sock_diag(9, 1_000, 1);
        unknown.fill_counts(1, 1);
        assert_eq!(unknown.to_string(), "unkn-9 (1.00/-/-)");
        let off = Timer::from_sock_diag(0, 0, 0);
        assert_eq!(off.to_string(), "off (0.00/0/0)");
        let on = Timer::from_sock_diag(1, 204, 3);
        assert_eq!(on.to_string(), "on (0.20/3/-)");
        assert_eq!(
            Timer::from_sock_diag(3, 59_790, 0).to_string(),
            "timewait (59.79/0/0)"
        );
        assert_eq!(
            Timer::from_sock_diag(4, 5, 2).to_string(),
            "probe (0.00/-/2)"
        );
        assert_eq!(
            Timer::from_sock_diag(9, 1_000, 1).to_string(),
            "unkn-9 (1.00/-/-)"
        );
        let both = Timer {
            kind: TimerKind::Keepalive,
            expires_ms: 12_345_670,
            retransmits: Some(1),
            probes: Some(2),
        };
        assert_eq!(both.to_string(), "keepalive (12345.67/1/2)");
    }
}
