//! The fallback collector: the kernel's text tables /proc/net/{tcp,tcp6,udp,udp6}, read when
//! `NETLINK_SOCK_DIAG` is not available.
//!
//! Each table is one header line, then one line per socket (`man 5 proc`):
//!
//! ```text
//!   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
//!    0: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 ...
//! ```
//!
//! An address is 32-bit words printed as hex numbers in the host's byte order (one word for
//! IPv4, four for IPv6), so each word's native-endian bytes are the address octets; a port is
//! a plain hex number. The state, the queues and the uid/inode columns are in the same places
//! in the udp tables, which only add columns at the end. Columns after the inode are ignored.
//!
//! What the text cannot say stays unknown: a listener's tx_queue is printed as 0 (sock_diag
//! gives its backlog limit there), and there is no interface column, so IPv6 scope ids are lost.
//!
//! The kernel serves a table in pages and finds its place again by counting, so a socket can be
//! served twice when others come and go between pages: rows are deduplicated (see `RowKey`).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::kernel_socket::KernelSocket;
use crate::model::{Family, Proto, Socket, States, Timer, TimerKind};
use crate::platform::error::CollectError;

/// Read one kernel table (/proc/net/tcp for (Tcp, Ipv4), tcp6, udp, udp6) and append its
/// sockets to `out`.
///
/// A missing file for an IPv6 table (a kernel without IPv6) appends nothing and is Ok. Other
/// I/O errors, and text that does not parse, are a [`CollectError`] whose context names the
/// file ("reading /proc/net/tcp6").
pub fn read_table(proto: Proto, family: Family, out: &mut Vec<Socket>) -> Result<(), CollectError> {
    read_path(table_path(proto, family), proto, family, out)
}

/// The table of the calling thread's network namespace: /proc/net is the process's (its first
/// thread's), which is not the namespace a `-N` thread entered.
fn table_path(proto: Proto, family: Family) -> &'static str {
    match (proto, family) {
        (Proto::Tcp, Family::Ipv4) => "/proc/thread-self/net/tcp",
        (Proto::Tcp, Family::Ipv6) => "/proc/thread-self/net/tcp6",
        (Proto::Udp, Family::Ipv4) => "/proc/thread-self/net/udp",
        (Proto::Udp, Family::Ipv6) => "/proc/thread-self/net/udp6",
    }
}

/// [`read_table`] on any path, so tests can point it at files that do not exist.
fn read_path(
    path: &str,
    proto: Proto,
    family: Family,
    out: &mut Vec<Socket>,
) -> Result<(), CollectError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        // No tcp6/udp6 means a kernel without IPv6, and so no IPv6 sockets to list.
        Err(err) if err.kind() == io::ErrorKind::NotFound && family == Family::Ipv6 => {
            return Ok(());
        }
        Err(err) => return Err(CollectError::new(format!("reading {path}"), err)),
    };
    parse_table(&text, proto, out).map_err(|err| {
        CollectError::new(
            format!("reading {path}"),
            io::Error::new(io::ErrorKind::InvalidData, err),
        )
    })
}

/// Parse the text of one table and append its sockets to `out`.
///
/// The first line is skipped when it is the header. Sockets in states that
/// `KernelSocket::into_socket` rejects are skipped. A socket served twice is one row, in the
/// place of its first line with the values of its last (the newer). A data line that does not
/// parse is an error naming its line number (1-based, the header being line 1): the kernel's
/// format is fixed, so a bad line means this parser misreads it, not that it should guess. On
/// error, `out` is left as it was.
pub fn parse_table(text: &str, proto: Proto, out: &mut Vec<Socket>) -> Result<(), ParseError> {
    let start = out.len();
    let mut rows: HashMap<RowKey, usize> = HashMap::new();
    let parsed = text.lines().enumerate().try_for_each(|(index, line)| {
        let is_header = index == 0 && line.split_ascii_whitespace().next() == Some("sl");
        if is_header || line.trim_ascii().is_empty() {
            return Ok(());
        }
        let kernel = parse_line(line, proto).map_err(|problem| ParseError {
            line: index + 1,
            problem,
        })?;
        let Some(socket) = kernel.into_socket() else {
            return Ok(());
        };
        match rows.entry(RowKey::of(&kernel)) {
            Entry::Occupied(row) => out[*row.get()] = socket,
            Entry::Vacant(row) => {
                row.insert(out.len());
                out.push(socket);
            }
        }
        Ok(())
    });
    if parsed.is_err() {
        out.truncate(start);
    }
    parsed
}

/// What makes two lines of one table the same socket.
///
/// A connected TCP socket's 4-tuple is unique in the kernel at any moment (a TIME_WAIT or an
/// orphan that was a socket with a file a page ago is the same connection), so it alone is the
/// key. Listeners and UDP sockets may share addresses (SO_REUSEPORT): their inode tells them
/// apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct RowKey {
    local: SocketAddr,
    remote: SocketAddr,
    inode: u64,
}

impl RowKey {
    fn of(kernel: &KernelSocket) -> RowKey {
        let connected_tcp = kernel.proto == Proto::Tcp && kernel.remote.port() != 0;
        RowKey {
            local: kernel.local,
            remote: kernel.remote,
            inode: if connected_tcp { 0 } else { kernel.inode },
        }
    }
}

/// A line of a /proc/net table that does not have the kernel's format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number in the file, the header being line 1.
    pub line: usize,
    problem: Problem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Problem {
    /// The line ends before this column.
    Missing(&'static str),
    /// This column's text is not what the kernel prints there.
    Bad { column: &'static str, text: String },
    /// One address is IPv4 and the other IPv6.
    MixedFamilies,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: ", self.line)?;
        match &self.problem {
            Problem::Missing(column) => write!(f, "the line ends before the {column} column"),
            Problem::Bad { column, text } => write!(f, "cannot read {column} from {text:?}"),
            Problem::MixedFamilies => {
                write!(f, "local and remote addresses are of different families")
            }
        }
    }
}

impl std::error::Error for ParseError {}

/// One data line: `sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...`.
fn parse_line(line: &str, proto: Proto) -> Result<KernelSocket, Problem> {
    let mut columns = line.split_ascii_whitespace();
    let mut next = |column: &'static str| columns.next().ok_or(Problem::Missing(column));
    let bad = |column: &'static str, text: &str| Problem::Bad {
        column,
        text: text.to_owned(),
    };

    let slot = next("sl")?;
    if !slot.strip_suffix(':').is_some_and(is_decimal) {
        return Err(bad("sl", slot));
    }
    let text = next("local_address")?;
    let local = parse_endpoint(text).ok_or_else(|| bad("local_address", text))?;
    let text = next("rem_address")?;
    let remote = parse_endpoint(text).ok_or_else(|| bad("rem_address", text))?;
    if local.is_ipv4() != remote.is_ipv4() {
        return Err(Problem::MixedFamilies);
    }
    let text = next("st")?;
    let state = hex(text.as_bytes(), 2)
        .and_then(|state| u8::try_from(state).ok())
        .ok_or_else(|| bad("st", text))?;
    let text = next("tx_queue:rx_queue")?;
    let (send_q, recv_q) = text
        .split_once(':')
        .and_then(|(tx, rx)| Some((hex(tx.as_bytes(), 8)?, hex(rx.as_bytes(), 8)?)))
        .ok_or_else(|| bad("tx_queue:rx_queue", text))?;
    let text = next("tr:tm->when")?;
    let (timer_code, ticks) = text
        .split_once(':')
        .and_then(|(code, when)| {
            let code = u8::try_from(hex(code.as_bytes(), 2)?).ok()?;
            Some((code, u64::from_str_radix(when, 16).ok()?))
        })
        .ok_or_else(|| bad("tr:tm->when", text))?;
    let text = next("retrnsmt")?;
    let retransmits = hex(text.as_bytes(), 8).ok_or_else(|| bad("retrnsmt", text))?;
    let text = next("uid")?;
    let uid = decimal(text).ok_or_else(|| bad("uid", text))?;
    let text = next("timeout")?;
    let probes = decimal(text).ok_or_else(|| bad("timeout", text))?;
    let text = next("inode")?;
    let inode = decimal(text).ok_or_else(|| bad("inode", text))?;

    // For a listener the kernel prints 0 here, not its backlog limit.
    let listener = proto == Proto::Tcp && state == States::LISTEN;
    Ok(KernelSocket {
        proto,
        state,
        local,
        remote,
        recv_q,
        send_q: (!listener).then_some(send_q),
        uid,
        inode,
        timer: Timer {
            kind: TimerKind::from_kernel(timer_code),
            expires_ms: ticks.saturating_mul(1000) / clock_ticks_per_second(),
            retransmits: Some(retransmits),
            probes: Some(probes),
        },
    })
}

/// The unit of tm->when (USER_HZ), as netstat divides by it.
fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf reads a constant of the running system and has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|&t| t > 0).unwrap_or(100)
}

/// `ADDRESS:PORT`, the address 8 hex digits (IPv4) or 32 (IPv6), the port 4.
fn parse_endpoint(text: &str) -> Option<SocketAddr> {
    let (address, port) = text.split_once(':')?;
    let port = u16::try_from(hex(port.as_bytes(), 4)?).ok()?;
    let address = address.as_bytes();
    let ip = match address.len() {
        8 => IpAddr::V4(Ipv4Addr::from(hex(address, 8)?.to_ne_bytes())),
        32 => {
            let mut octets = [0u8; 16];
            for (word, octets) in address.chunks_exact(8).zip(octets.chunks_exact_mut(4)) {
                octets.copy_from_slice(&hex(word, 8)?.to_ne_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(octets))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Exactly `width` (at most 8) hex digits, as the kernel's `%0<width>X` prints them.
fn hex(digits: &[u8], width: usize) -> Option<u32> {
    if digits.len() != width || width > 8 {
        return None;
    }
    digits.iter().try_fold(0u32, |value, &digit| {
        Some((value << 4) | char::from(digit).to_digit(16)?)
    })
}

/// Decimal digits only (`str::parse` alone would also take a leading `+`).
fn decimal<T: std::str::FromStr>(text: &str) -> Option<T> {
    if is_decimal(text) {
        text.parse().ok()
    } else {
        None
    }
}

fn is_decimal(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;
    use crate::model::SocketState;

    const TCP_HEADER: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
    const TCP6_HEADER: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
    const UDP_HEADER: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops";

    /// An address as the kernel prints it on this host: each 4 octets read as a
    /// native-endian u32, printed as `%08X`.
    fn address_hex(ip: IpAddr) -> String {
        let octets = match ip {
            IpAddr::V4(ip) => ip.octets().to_vec(),
            IpAddr::V6(ip) => ip.octets().to_vec(),
        };
        octets.chunks_exact(4).fold(String::new(), |mut hex, word| {
            let word = u32::from_ne_bytes(word.try_into().unwrap());
            write!(hex, "{word:08X}").unwrap();
            hex
        })
    }

    fn endpoint_hex(endpoint: &str) -> String {
        let endpoint: SocketAddr = endpoint.parse().unwrap();
        format!("{}:{:04X}", address_hex(endpoint.ip()), endpoint.port())
    }

    /// A tcp data line in the kernel's layout.
    #[allow(clippy::too_many_arguments)]
    fn tcp_line(
        slot: u32,
        local: &str,
        remote: &str,
        state: u8,
        tx: u32,
        rx: u32,
        uid: u32,
        inode: u64,
    ) -> String {
        format!(
            "{slot:4}: {} {} {state:02X} {tx:08X}:{rx:08X} 00:00000000 00000000 {uid:5} {:8} {inode} 1 0000000000000000 100 0 0 10 0",
            endpoint_hex(local),
            endpoint_hex(remote),
            0,
        )
    }

    /// A udp data line in the kernel's layout (with its trailing ref, pointer, drops).
    fn udp_line(local: &str, remote: &str, state: u8, uid: u32, inode: u64) -> String {
        format!(
            "  123: {} {} {state:02X} 00000000:00000000 00:00000000 00000000 {uid:5}        0 {inode} 2 0000000000000000 0",
            endpoint_hex(local),
            endpoint_hex(remote),
        )
    }

    fn parse(proto: Proto, lines: &[&str]) -> Vec<Socket> {
        let text = lines.join("\n") + "\n";
        let mut out = Vec::new();
        parse_table(&text, proto, &mut out).unwrap_or_else(|err| panic!("{err}\n{text}"));
        out
    }

    fn parse_one(proto: Proto, header: &str, line: &str) -> Socket {
        let sockets = parse(proto, &[header, line]);
        assert_eq!(sockets.len(), 1, "{sockets:?}");
        sockets.into_iter().next().unwrap()
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn hex_of_loopback_is_the_documented_one_on_little_endian() {
        if cfg!(target_endian = "little") {
            assert_eq!(endpoint_hex("127.0.0.1:22"), "0100007F:0016");
            let line = "   0: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0";
            let socket = parse_one(Proto::Tcp, TCP_HEADER, line);
            assert_eq!(socket.local, addr("127.0.0.1:22"));
        }
    }

    #[test]
    fn tcp_listener() {
        let line = tcp_line(0, "127.0.0.1:22", "0.0.0.0:0", 0x0A, 0, 0, 0, 12345);
        let socket = parse_one(Proto::Tcp, TCP_HEADER, &line);
        assert_eq!(socket.proto, Proto::Tcp);
        assert_eq!(socket.state, SocketState::Listen);
        assert_eq!(socket.local, addr("127.0.0.1:22"));
        assert_eq!(socket.remote, None);
        assert_eq!(socket.uid, Some(0));
        assert_eq!(socket.inode, Some(12345));
        assert_eq!(socket.family(), Family::Ipv4);
        assert!(socket.pids.is_empty());
    }

    #[test]
    fn a_listeners_send_queue_is_unknown_but_its_accept_queue_is_known() {
        let line = tcp_line(0, "127.0.0.1:22", "0.0.0.0:0", 0x0A, 0, 3, 0, 12345);
        let socket = parse_one(Proto::Tcp, TCP_HEADER, &line);
        assert_eq!((socket.recv_q, socket.send_q), (Some(3), None));
        // Everything else keeps the kernel's tx_queue, 0 included.
        let line = tcp_line(1, "127.0.0.1:22", "127.0.0.1:4000", 0x01, 0, 0, 0, 7);
        let socket = parse_one(Proto::Tcp, TCP_HEADER, &line);
        assert_eq!((socket.recv_q, socket.send_q), (Some(0), Some(0)));
        let line = udp_line("0.0.0.0:53", "0.0.0.0:0", 0x07, 0, 8);
        assert_eq!(parse_one(Proto::Udp, UDP_HEADER, &line).send_q, Some(0));
    }

    #[test]
    fn a_time_wait_served_four_times_is_one_row() {
        let time_wait = tcp_line(5, "127.0.0.1:8080", "127.0.0.1:40000", 0x06, 0, 0, 0, 0);
        let other = tcp_line(6, "127.0.0.1:8080", "127.0.0.1:40001", 0x06, 0, 0, 0, 0);
        let lines = [
            TCP_HEADER, &time_wait, &time_wait, &other, &time_wait, &time_wait,
        ];
        let sockets = parse(Proto::Tcp, &lines);
        let peers: Vec<_> = sockets.iter().map(|s| s.remote.unwrap().port()).collect();
        assert_eq!(peers, [40000, 40001]);
    }

    #[test]
    fn a_connection_served_again_after_a_change_keeps_its_place_and_newest_values() {
        let lines = [
            TCP_HEADER.to_owned(),
            tcp_line(0, "127.0.0.1:22", "0.0.0.0:0", 0x0A, 0, 0, 0, 1),
            tcp_line(1, "127.0.0.1:22", "127.0.0.1:5000", 0x01, 0, 9, 1000, 2),
            tcp_line(2, "127.0.0.1:22", "127.0.0.1:5001", 0x01, 0, 0, 1000, 3),
            // Closed by its owner between two pages: now an orphan with no file.
            tcp_line(3, "127.0.0.1:22", "127.0.0.1:5000", 0x04, 1, 0, 0, 0),
            tcp_line(4, "127.0.0.1:22", "0.0.0.0:0", 0x0A, 0, 0, 0, 1),
        ];
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let sockets = parse(Proto::Tcp, &lines);
        let rows: Vec<_> = sockets
            .iter()
            .map(|s| (s.remote.map(|r| r.port()), s.state, s.inode))
            .collect();
        assert_eq!(
            rows,
            [
                (None, SocketState::Listen, Some(1)),
                (Some(5000), SocketState::FinWait1, None),
                (Some(5001), SocketState::Established, Some(3)),
            ]
        );
        assert_eq!(sockets[1].send_q, Some(1));
    }

    #[test]
    fn sockets_sharing_addresses_are_told_apart_by_inode() {
        // SO_REUSEPORT: two listeners, and two connected UDP sockets, on the same addresses.
        let tcp = [
            TCP_HEADER.to_owned(),
            tcp_line(0, "0.0.0.0:80", "0.0.0.0:0", 0x0A, 0, 0, 0, 11),
            tcp_line(1, "0.0.0.0:80", "0.0.0.0:0", 0x0A, 0, 0, 0, 12),
            tcp_line(2, "0.0.0.0:80", "0.0.0.0:0", 0x0A, 0, 0, 0, 11),
        ];
        let tcp: Vec<&str> = tcp.iter().map(String::as_str).collect();
        let inodes: Vec<_> = parse(Proto::Tcp, &tcp).iter().map(|s| s.inode).collect();
        assert_eq!(inodes, [Some(11), Some(12)]);

        let udp = [
            UDP_HEADER.to_owned(),
            udp_line("127.0.0.1:5000", "127.0.0.1:53", 0x01, 0, 21),
            udp_line("127.0.0.1:5000", "127.0.0.1:53", 0x01, 0, 22),
            udp_line("127.0.0.1:5000", "127.0.0.1:53", 0x01, 0, 22),
        ];
        let udp: Vec<&str> = udp.iter().map(String::as_str).collect();
        let inodes: Vec<_> = parse(Proto::Udp, &udp).iter().map(|s| s.inode).collect();
        assert_eq!(inodes, [Some(21), Some(22)]);
    }

    #[test]
    fn timer_columns_become_the_timer_in_milliseconds() {
        let line = tcp_line(7, "127.0.0.1:38930", "127.0.0.1:50419", 0x01, 0, 0, 0, 5)
            .replace(" 00:00000000 00000000 ", " 02:000AFC7C 00000003 ")
            .replace(" 0 5 1 ", " 2 5 1 ");
        let timer = parse_one(Proto::Tcp, TCP_HEADER, &line).timer.unwrap();
        let ticks = clock_ticks_per_second();
        assert_eq!(timer.kind, TimerKind::Keepalive);
        assert_eq!(timer.expires_ms, 0xAFC7C * 1000 / ticks);
        assert_eq!((timer.retransmits, timer.probes), (Some(3), Some(2)));
        if ticks == 100 {
            assert_eq!(timer.to_string(), "keepalive (7199.96/3/2)");
        }
    }

    #[test]
    fn tcp_established_with_queues() {
        let line = tcp_line(
            1,
            "10.1.2.3:51234",
            "93.184.216.34:443",
            0x01,
            0x2A,
            0x10,
            1000,
            987_654,
        );
        let socket = parse_one(Proto::Tcp, TCP_HEADER, &line);
        assert!(line.contains(" 0000002A:00000010 "), "{line}");
        assert_eq!(socket.state, SocketState::Established);
        assert_eq!(socket.send_q, Some(42));
        assert_eq!(socket.recv_q, Some(16));
        assert_eq!(socket.local, addr("10.1.2.3:51234"));
        assert_eq!(socket.remote, Some(addr("93.184.216.34:443")));
        assert_eq!(socket.uid, Some(1000));
        assert_eq!(socket.inode, Some(987_654));
    }

    #[test]
    fn tcp_time_wait_has_no_inode_or_uid() {
        let line = tcp_line(2, "10.0.0.5:80", "10.0.0.9:40000", 0x06, 0, 0, 0, 0);
        let socket = parse_one(Proto::Tcp, TCP_HEADER, &line);
        assert_eq!(socket.state, SocketState::TimeWait);
        assert_eq!(socket.inode, None);
        assert_eq!(socket.uid, None);
        assert_eq!(socket.remote, Some(addr("10.0.0.9:40000")));
    }

    #[test]
    fn tcp6_listener_on_loopback() {
        let line = tcp_line(0, "[::1]:8080", "[::]:0", 0x0A, 0, 0, 1000, 4242);
        let socket = parse_one(Proto::Tcp, TCP6_HEADER, &line);
        assert_eq!(socket.state, SocketState::Listen);
        assert_eq!(socket.local, addr("[::1]:8080"));
        assert_eq!(socket.family(), Family::Ipv6);
        assert_eq!(socket.remote, None);
        assert_eq!(socket.inode, Some(4242));
    }

    #[test]
    fn tcp6_listener_on_any() {
        let line = tcp_line(0, "[::]:443", "[::]:0", 0x0A, 0, 0, 0, 777);
        let socket = parse_one(Proto::Tcp, TCP6_HEADER, &line);
        assert_eq!(socket.state, SocketState::Listen);
        assert_eq!(socket.local, addr("[::]:443"));
        assert_eq!(socket.family(), Family::Ipv6);
        assert_eq!(socket.remote, None);
    }

    #[test]
    fn tcp6_ipv4_mapped_address_stays_ipv6() {
        let line = tcp_line(
            3,
            "[::ffff:127.0.0.1]:5432",
            "[::ffff:127.0.0.1]:60000",
            0x01,
            0,
            0,
            70,
            31337,
        );
        let socket = parse_one(Proto::Tcp, TCP6_HEADER, &line);
        assert_eq!(socket.state, SocketState::Established);
        assert_eq!(socket.family(), Family::Ipv6);
        let IpAddr::V6(local) = socket.local.ip() else {
            panic!("{:?}", socket.local)
        };
        assert_eq!(local.to_ipv4_mapped(), Some(Ipv4Addr::LOCALHOST));
        assert_eq!(socket.local.port(), 5432);
        assert_eq!(socket.remote, Some(addr("[::ffff:127.0.0.1]:60000")));
    }

    #[test]
    fn tcp6_words_are_in_order() {
        // Every octet different, so a swapped word or a wrong byte order shows.
        let ip = "2001:db8:1122:3344:5566:7788:99aa:bbcc";
        let line = tcp_line(0, &format!("[{ip}]:1"), "[::]:0", 0x0A, 0, 0, 0, 1);
        let socket = parse_one(Proto::Tcp, TCP6_HEADER, &line);
        assert_eq!(socket.local.ip(), ip.parse::<IpAddr>().unwrap());
    }

    #[test]
    fn udp_unconnected() {
        let line = udp_line("0.0.0.0:53", "0.0.0.0:0", 0x07, 101, 5555);
        let socket = parse_one(Proto::Udp, UDP_HEADER, &line);
        assert_eq!(socket.proto, Proto::Udp);
        assert_eq!(socket.state, SocketState::Unconn);
        assert_eq!(socket.local, addr("0.0.0.0:53"));
        assert_eq!(socket.remote, None);
        assert_eq!(socket.uid, Some(101));
        assert_eq!(socket.inode, Some(5555));
    }

    #[test]
    fn udp_connected() {
        let line = udp_line("192.168.1.10:40001", "192.168.1.1:53", 0x01, 1000, 6666);
        let socket = parse_one(Proto::Udp, UDP_HEADER, &line);
        assert_eq!(socket.state, SocketState::Established);
        assert_eq!(socket.remote, Some(addr("192.168.1.1:53")));
    }

    #[test]
    fn udp6_unconnected() {
        let line = udp_line("[::]:5353", "[::]:0", 0x07, 0, 8888);
        let socket = parse_one(Proto::Udp, UDP_HEADER, &line);
        assert_eq!(socket.state, SocketState::Unconn);
        assert_eq!(socket.local, addr("[::]:5353"));
        assert_eq!(socket.remote, None);
    }

    #[test]
    fn states_into_socket_rejects_are_skipped() {
        // 0x0A is not a UDP state; 0x0D is no TCP state.
        let udp = udp_line("0.0.0.0:53", "0.0.0.0:0", 0x0A, 0, 1);
        assert!(parse(Proto::Udp, &[UDP_HEADER, &udp]).is_empty());
        let tcp = tcp_line(0, "127.0.0.1:22", "0.0.0.0:0", 0x0D, 0, 0, 0, 1);
        assert!(parse(Proto::Tcp, &[TCP_HEADER, &tcp]).is_empty());
    }

    #[test]
    fn several_lines_in_order() {
        let lines = [
            TCP_HEADER.to_owned(),
            tcp_line(0, "0.0.0.0:22", "0.0.0.0:0", 0x0A, 0, 0, 0, 1),
            tcp_line(1, "127.0.0.1:631", "0.0.0.0:0", 0x0A, 0, 0, 0, 2),
            tcp_line(2, "10.0.0.2:22", "10.0.0.3:50000", 0x01, 0, 0, 0, 3),
        ];
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let sockets = parse(Proto::Tcp, &lines);
        let inodes: Vec<_> = sockets.iter().map(|s| s.inode).collect();
        assert_eq!(inodes, [Some(1), Some(2), Some(3)]);
    }

    #[test]
    fn header_only_gives_nothing() {
        for text in [
            "",
            TCP_HEADER,
            &format!("{TCP_HEADER}\n"),
            &format!("{UDP_HEADER}\n"),
        ] {
            let mut out = Vec::new();
            parse_table(text, Proto::Tcp, &mut out).unwrap();
            assert!(out.is_empty(), "{text:?}");
        }
    }

    #[test]
    fn appends_to_what_is_there() {
        let line = tcp_line(0, "127.0.0.1:22", "0.0.0.0:0", 0x0A, 0, 0, 0, 1);
        let mut out = parse(Proto::Tcp, &[TCP_HEADER, &line]);
        parse_table(&format!("{TCP_HEADER}\n{line}\n"), Proto::Tcp, &mut out).unwrap();
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn malformed_line_names_its_line_number() {
        let good = tcp_line(0, "127.0.0.1:22", "0.0.0.0:0", 0x0A, 0, 0, 0, 1);
        let bad = good.replacen("0100007F:0016", "0100007G:0016", 1);
        assert_ne!(good, bad, "the test line should contain 127.0.0.1:22");
        let text = format!("{TCP_HEADER}\n{good}\n{bad}\n");
        let mut out = Vec::new();
        let err = parse_table(&text, Proto::Tcp, &mut out).unwrap_err();
        assert_eq!(err.line, 3);
        let message = err.to_string();
        assert!(message.contains("line 3"), "{message}");
        assert!(message.contains("local_address"), "{message}");
        assert!(out.is_empty(), "a failed parse appends nothing: {out:?}");
    }

    #[test]
    fn malformed_lines_of_every_kind_are_errors() {
        let good = tcp_line(0, "127.0.0.1:22", "10.0.0.1:5000", 0x01, 0, 0, 0, 1);
        let columns: Vec<&str> = good.split_ascii_whitespace().collect();
        let with = |index: usize, text: &str| {
            let mut columns = columns.clone();
            columns[index] = text;
            columns.join(" ")
        };
        let cases = [
            ("truncated", columns[..9].join(" "), "inode"),
            ("slot", with(0, "0"), "sl"),
            ("short port", with(1, "0100007F:16"), "local_address"),
            ("7-digit address", with(1, "100007F:0016"), "local_address"),
            ("no port", with(2, "0100000A"), "rem_address"),
            (
                "mixed",
                with(2, &format!("{}:0000", "0".repeat(32))),
                "different families",
            ),
            ("state", with(3, "A"), "st"),
            ("queues", with(4, "00000000"), "tx_queue:rx_queue"),
            ("timer", with(5, "02"), "tr:tm->when"),
            ("retransmits", with(6, "0"), "retrnsmt"),
            ("probes", with(8, "x"), "timeout"),
            ("signed uid", with(7, "+0"), "uid"),
            ("negative inode", with(9, "-1"), "inode"),
            ("non-ascii", with(1, "0100007\u{e9}:0016"), "local_address"),
        ];
        for (what, line, expected) in cases {
            let mut out = Vec::new();
            let err = parse_table(&format!("{TCP_HEADER}\n{line}"), Proto::Tcp, &mut out)
                .expect_err(what);
            let message = err.to_string();
            assert!(message.starts_with("line 2: "), "{what}: {message}");
            assert!(message.contains(expected), "{what}: {message}");
        }
    }

    #[test]
    fn missing_ipv6_table_is_empty_but_missing_ipv4_table_is_an_error() {
        let path = "/proc/net/rnetstat-no-such-table";
        let mut out = Vec::new();
        read_path(path, Proto::Tcp, Family::Ipv6, &mut out).unwrap();
        assert!(out.is_empty());
        let err = read_path(path, Proto::Tcp, Family::Ipv4, &mut out).unwrap_err();
        assert_eq!(err.context, format!("reading {path}"));
        assert_eq!(err.source.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn unparseable_file_is_invalid_data_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("rnetstat-proc-net-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tcp6");
        std::fs::write(&path, format!("{TCP6_HEADER}\n   0: nonsense\n")).unwrap();
        let path = path.to_str().unwrap();
        let mut out = Vec::new();
        let err = read_path(path, Proto::Tcp, Family::Ipv6, &mut out).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(err.context, format!("reading {path}"));
        assert_eq!(err.source.kind(), io::ErrorKind::InvalidData);
        assert!(err.source.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn table_paths() {
        assert_eq!(
            table_path(Proto::Tcp, Family::Ipv4),
            "/proc/thread-self/net/tcp"
        );
        assert_eq!(
            table_path(Proto::Tcp, Family::Ipv6),
            "/proc/thread-self/net/tcp6"
        );
        assert_eq!(
            table_path(Proto::Udp, Family::Ipv4),
            "/proc/thread-self/net/udp"
        );
        assert_eq!(
            table_path(Proto::Udp, Family::Ipv6),
            "/proc/thread-self/net/udp6"
        );
    }

    #[test]
    fn real_proc_net_tcp_shows_our_listener() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let local = listener.local_addr().unwrap();
        let mut sockets = Vec::new();
        read_table(Proto::Tcp, Family::Ipv4, &mut sockets).unwrap();
        let ours: Vec<_> = sockets.iter().filter(|s| s.local == local).collect();
        assert!(
            ours.iter()
                .any(|s| s.state == SocketState::Listen && s.remote.is_none() && s.inode.is_some()),
            "{local} not found listening among {} sockets: {ours:?}",
            sockets.len()
        );
    }
}
