//! The protocol counters of `netstat -s`: /proc/net/snmp, /proc/net/netstat, /proc/net/sockstat.

use crate::model::ProtocolCounters;

/// The value of `group`'s `field` in the two-line form of /proc/net/snmp and /proc/net/netstat
/// ("Tcp: Name1 Name2 ..." then "Tcp: 1 2 ..."). A missing group, field or number is `None`.
pub fn field(text: &str, group: &str, field: &str) -> Option<u64> {
    let prefix = format!("{group}:");
    let mut lines = text.lines().filter(|line| {
        line.split_whitespace()
            .next()
            .is_some_and(|first| first == prefix)
    });
    while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
        let position = names
            .split_whitespace()
            .skip(1)
            .position(|name| name == field);
        if let Some(position) = position {
            // MaxConn is -1 on Linux: a signed field is not one of ours, so it reads as unknown.
            return values.split_whitespace().nth(position + 1)?.parse().ok();
        }
    }
    None
}

/// How many sockets of `proto` this thread's network namespace holds, IPv4 and IPv6 (TCP's
/// TIME_WAIT ones too), from /proc/thread-self/net/sockstat{,6}: what a dump is sized by, so
/// its table does not grow by doubling (a quarter of 200,000 sockets' room left unused, and
/// two tables alive while one is copied into the other). `None` when unreadable.
pub fn expected_sockets(proto: crate::model::Proto) -> Option<usize> {
    use crate::model::Proto;
    let read = |name: &str| std::fs::read_to_string(format!("/proc/thread-self/net/{name}"));
    let four = read("sockstat").ok()?;
    let six = read("sockstat6").unwrap_or_default();
    let (group, group6) = match proto {
        Proto::Tcp => ("TCP", "TCP6"),
        Proto::Udp => ("UDP", "UDP6"),
    };
    let inuse = sockstat_field(&four, group, "inuse")?;
    let time_wait = match proto {
        Proto::Tcp => sockstat_field(&four, group, "tw").unwrap_or(0),
        Proto::Udp => 0,
    };
    let inuse6 = sockstat_field(&six, group6, "inuse").unwrap_or(0);
    usize::try_from(inuse + inuse6 + time_wait).ok()
}

/// The value after `key` on /proc/net/sockstat's line for `group` ("TCP: inuse 1 orphan 0 ...").
pub fn sockstat_field(text: &str, group: &str, key: &str) -> Option<u64> {
    let prefix = format!("{group}:");
    let line = text
        .lines()
        .find(|line| line.split_whitespace().next() == Some(prefix.as_str()))?;
    let mut words = line.split_whitespace().skip(1);
    while let (Some(name), Some(value)) = (words.next(), words.next()) {
        if name == key {
            return value.parse().ok();
        }
    }
    None
}

/// Parse the three files' texts; an unreadable file leaves its counters unknown.
pub fn counters_from(snmp: &str, netstat: &str, sockstat: &str) -> ProtocolCounters {
    ProtocolCounters {
        retransmitted_segments: field(snmp, "Tcp", "RetransSegs"),
        resets_sent: field(snmp, "Tcp", "OutRsts"),
        resets_received: field(snmp, "Tcp", "EstabResets"),
        failed_connection_attempts: field(snmp, "Tcp", "AttemptFails"),
        listen_overflows: field(netstat, "TcpExt", "ListenOverflows"),
        listen_drops: field(netstat, "TcpExt", "ListenDrops"),
        orphans: sockstat_field(sockstat, "TCP", "orphan"),
    }
}

/// Read the counters of the calling thread's network namespace (a `-N` thread's too).
pub fn read_counters() -> ProtocolCounters {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    counters_from(
        &read("/proc/thread-self/net/snmp"),
        &read("/proc/thread-self/net/netstat"),
        &read("/proc/thread-self/net/sockstat"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SNMP: &str = "\
Ip: Forwarding DefaultTTL InReceives
Ip: 2 64 32416894
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
Tcp: 1 200 120000 -1 5571312 5571289 6 1246308 0 32434996 32430812 87 0 629937 0
Udp: InDatagrams NoPorts InErrors OutDatagrams
Udp: 48 0 0 92
UdpLite: InDatagrams NoPorts
UdpLite: 0 0
";

    const NETSTAT: &str = "\
TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops
TcpExt: 0 0 49 51
IpExt: InNoRoutes InTruncatedPkts
IpExt: 0 0
";

    const SOCKSTAT: &str = "\
sockets: used 11
TCP: inuse 1 orphan 3 tw 0 alloc 1 mem 0
UDP: inuse 0 mem 0
";

    #[test]
    fn tcp_counters_come_from_the_value_line_under_their_names() {
        let counters = counters_from(SNMP, NETSTAT, SOCKSTAT);
        assert_eq!(
            counters,
            ProtocolCounters {
                retransmitted_segments: Some(87),
                resets_sent: Some(629937),
                resets_received: Some(1246308),
                failed_connection_attempts: Some(6),
                listen_overflows: Some(49),
                listen_drops: Some(51),
                orphans: Some(3),
            }
        );
    }

    #[test]
    fn a_group_prefix_of_another_does_not_match_it() {
        assert_eq!(field(SNMP, "Udp", "InDatagrams"), Some(48));
        assert_eq!(field(SNMP, "UdpLite", "InDatagrams"), Some(0));
        assert_eq!(sockstat_field(SOCKSTAT, "UDP", "inuse"), Some(0));
    }

    #[test]
    fn missing_or_malformed_values_are_unknown_not_zero() {
        assert_eq!(field(SNMP, "Tcp", "MaxConn"), None);
        assert_eq!(field(SNMP, "Tcp", "NoSuchField"), None);
        assert_eq!(field(SNMP, "Sctp", "RetransSegs"), None);
        assert_eq!(
            field("Tcp: RetransSegs OutRsts\nTcp: 5\n", "Tcp", "OutRsts"),
            None
        );
        assert_eq!(field("Tcp: RetransSegs\n", "Tcp", "RetransSegs"), None);
        assert_eq!(
            field("Tcp: RetransSegs\nTcp: x\n", "Tcp", "RetransSegs"),
            None
        );
        assert_eq!(counters_from("", "", ""), ProtocolCounters::default());
        assert_eq!(sockstat_field("TCP: inuse 1 orphan", "TCP", "orphan"), None);
    }
}
