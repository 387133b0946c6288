//! The Linux parsers of kernel output, callable on arbitrary bytes: for the fuzz targets
//! (fuzz/) and the no-panic properties (tests/parser_properties.rs). Not an API.

use std::hint::black_box;

use crate::model::Proto;

use super::{destroy_events, owners, proc_net, snmp, sock_diag, tcp_info, unix_diag};

/// One datagram of sock_diag dump replies, as TCP and UDP, with and without tcp_info; the
/// number of sockets the TCP-with-info reading gave, or `None` for an error.
pub fn sock_diag_batch(datagram: &[u8]) -> Option<usize> {
    let mut found = None;
    for proto in [Proto::Tcp, Proto::Udp] {
        for info in [true, false] {
            let mut out = Vec::new();
            let result = sock_diag::parse_batch(datagram, proto, info, &mut out);
            if proto == Proto::Tcp && info {
                found = result.ok().map(|_| out.len());
            }
            black_box(out);
        }
    }
    // One message's payload as an inet_diag_msg, as a close notice is read.
    black_box(sock_diag::socket_of(datagram, Proto::Tcp, true).ok());
    found
}

/// One datagram of unix_diag dump replies, and the bytes as one message's payload.
pub fn unix_diag_batch(datagram: &[u8]) -> Option<usize> {
    let mut out = Vec::new();
    let result = unix_diag::parse_batch(datagram, &mut out);
    black_box(unix_diag::parse_socket(datagram));
    result.ok().map(|_| out.len())
}

/// An inet_diag message's attributes, read for tcp_info and the congestion algorithm.
pub fn tcp_info_attributes(attributes: &[u8]) -> bool {
    black_box(tcp_info::attributes(attributes).count());
    tcp_info::from_attributes(attributes).is_some()
}

/// One datagram of the kernel's socket-destroyed notices (`--watch`): the sockets it names.
pub fn destroy_notices(datagram: &[u8]) -> usize {
    destroy_events::closed_sockets(datagram).len()
}

/// A /proc/net/{tcp,tcp6,udp,udp6} file: the sockets it lists, or `None` for a parse error.
pub fn proc_net_table(text: &str) -> Option<usize> {
    let mut found = None;
    for proto in [Proto::Tcp, Proto::Udp] {
        let mut out = Vec::new();
        let result = proc_net::parse_table(text, proto, &mut out);
        if proto == Proto::Tcp {
            found = result.ok().map(|()| out.len());
        }
        black_box(out);
    }
    found
}

/// /proc/net/snmp, netstat and sockstat texts: the counters read from `text` used as each.
pub fn snmp_counters(text: &str) {
    black_box(snmp::counters_from(text, text, text));
    black_box(snmp::field(text, "Tcp", "ActiveOpens"));
    black_box(snmp::sockstat_field(text, "TCP", "inuse"));
}

/// A /proc/PID/stat text: its start time (field 22).
pub fn proc_pid_stat(stat: &[u8]) -> Option<u64> {
    owners::start_time_in_stat(stat)
}

/// A /proc/net/unix file (the fallback without unix_diag): the sockets it lists.
pub fn proc_net_unix(file: &[u8]) -> usize {
    file.split(|&b| b == b'\n')
        .skip(1)
        .filter_map(unix_diag::parse_proc_line)
        .count()
}
