//! The macOS backend's pure part: what one socket fd's `socket_fdinfo` (sys/proc_info.h) says,
//! as plain integers and bytes, turned into the model. No libproc types, so it is unit-tested on
//! every OS.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

use crate::model::{Family, Proto, Socket, SocketState};

/// `insi_vflag`: the address is IPv4, kept in the last 4 of the 16 address bytes.
pub const INI_IPV4: u8 = 0x1;
/// `insi_vflag`: the address is IPv6.
pub const INI_IPV6: u8 = 0x2;

/// One socket fd of one process, as `proc_pidfdinfo(PROC_PIDFDSOCKETINFO)` describes it.
#[derive(Debug, Clone)]
pub struct SocketFd {
    pub pid: u32,
    /// `soi_so`: the kernel address of the socket, the same in every process holding it.
    pub so: u64,
    pub proto: Proto,
    /// From `soi_family`: an IPv6 socket stays IPv6 when it talks IPv4.
    pub family: Family,
    pub vflag: u8,
    /// `insi_laddr` and `insi_faddr`: 16 bytes, network byte order.
    pub local_addr: [u8; 16],
    pub remote_addr: [u8; 16],
    /// `insi_lport` and `insi_fport`: a network-order u16 kept in an int.
    pub local_port: i32,
    pub remote_port: i32,
    /// `tcpsi_state` (BSD `TCPS_*`) for TCP; `None` for UDP.
    pub tcp_state: Option<i32>,
    /// `soi_rcv.sbi_cc` and `soi_snd.sbi_cc`: bytes in the socket buffers.
    pub recv_bytes: u32,
    pub send_bytes: u32,
    /// `soi_qlen` and `soi_qlimit`: a listener's accept queue and backlog.
    pub accept_queue: i16,
    pub backlog: i16,
    /// The socket's credentials (`soi_stat.vst_uid`).
    pub uid: u32,
}

/// The BSD TCP state number (netinet/tcp_fsm.h, `TCPS_*`) as netstat names it.
pub fn tcp_state(bsd_state: i32) -> Option<SocketState> {
    Some(match bsd_state {
        0 => SocketState::Close,
        1 => SocketState::Listen,
        2 => SocketState::SynSent,
        3 => SocketState::SynRecv,
        4 => SocketState::Established,
        5 => SocketState::CloseWait,
        6 => SocketState::FinWait1,
        7 => SocketState::Closing,
        8 => SocketState::LastAck,
        9 => SocketState::FinWait2,
        10 => SocketState::TimeWait,
        _ => return None,
    })
}

/// A port from `insi_lport`/`insi_fport`, which hold the kernel's network-order u16.
pub fn port(raw: i32) -> u16 {
    // Truncation is the point: only the low 16 bits hold the port.
    u16::from_be(raw as u16)
}

/// The address of a socket of `family` from `in_sockinfo`'s 16 bytes and `insi_vflag`;
/// `None` when the flags do not say where it is.
pub fn address(family: Family, vflag: u8, bytes: [u8; 16]) -> Option<IpAddr> {
    let v4 = Ipv4Addr::new(bytes[12], bytes[13], bytes[14], bytes[15]);
    match family {
        Family::Ipv4 if vflag & INI_IPV4 != 0 => Some(IpAddr::V4(v4)),
        Family::Ipv4 => None,
        // Both flags: a dual-stack socket bound to the wildcard, whose bytes are all zero.
        Family::Ipv6 if vflag & INI_IPV6 != 0 => Some(IpAddr::V6(Ipv6Addr::from(bytes))),
        Family::Ipv6 if vflag & INI_IPV4 != 0 => Some(IpAddr::V6(v4.to_ipv6_mapped())),
        Family::Ipv6 => None,
    }
}

/// An endpoint from `in_sockinfo`'s address bytes and port. The BSD kernel keeps the interface
/// of a link-local (or link- and interface-local multicast) IPv6 address inside it, in bytes
/// 2-3; that becomes the scope id, as a `sockaddr_in6` given to a program would carry it.
fn endpoint(family: Family, vflag: u8, bytes: [u8; 16], raw_port: i32) -> Option<SocketAddr> {
    let port = port(raw_port);
    match address(family, vflag, bytes)? {
        IpAddr::V6(ip) if has_embedded_scope(&ip) => {
            let octets = ip.octets();
            let scope_id = u32::from(u16::from_be_bytes([octets[2], octets[3]]));
            let mut cleared = octets;
            cleared[2] = 0;
            cleared[3] = 0;
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(cleared),
                port,
                0,
                scope_id,
            )))
        }
        ip => Some(SocketAddr::new(ip, port)),
    }
}

/// fe80::/10, ff01::/16 or ff02::/16 with a nonzero second 16-bit word, where a valid address
/// of these scopes has zero.
fn has_embedded_scope(ip: &Ipv6Addr) -> bool {
    let [first, second, ..] = ip.segments();
    let scoped = first & 0xffc0 == 0xfe80 || first == 0xff01 || first == 0xff02;
    scoped && second != 0
}

impl SocketFd {
    /// The socket this fd refers to, without owners; `None` for a state or address the model
    /// has no name for.
    pub fn to_socket(&self) -> Option<Socket> {
        let local = endpoint(self.family, self.vflag, self.local_addr, self.local_port)?;
        let mut remote = endpoint(self.family, self.vflag, self.remote_addr, self.remote_port)?;
        // The model names the interface on the local end only (docs/json.md), as on Linux.
        if let SocketAddr::V6(remote) = &mut remote {
            remote.set_scope_id(0);
        }
        let has_peer = !(remote.port() == 0 && remote.ip().is_unspecified());
        let state = match (self.proto, self.tcp_state) {
            (Proto::Tcp, Some(bsd_state)) => tcp_state(bsd_state)?,
            (Proto::Tcp, None) => return None,
            (Proto::Udp, _) if has_peer => SocketState::Established,
            (Proto::Udp, _) => SocketState::Unconn,
        };
        let (recv_q, send_q) = if state == SocketState::Listen {
            (
                u32::try_from(self.accept_queue).ok(),
                u32::try_from(self.backlog).ok(),
            )
        } else {
            (Some(self.recv_bytes), Some(self.send_bytes))
        };
        Some(Socket {
            remote: (has_peer && !state.is_listening()).then_some(remote),
            recv_q,
            send_q,
            uid: Some(self.uid),
            ..Socket::new(self.proto, state, local)
        })
    }
}

/// One socket per kernel socket (`soi_so`), however many fds and processes hold it, in the
/// order first seen; with `with_pids`, every holder's pid, ascending.
pub fn sockets_by_identity(
    fds: impl IntoIterator<Item = SocketFd>,
    with_pids: bool,
) -> Vec<Socket> {
    let mut index_by_so: HashMap<u64, usize> = HashMap::new();
    let mut sockets: Vec<Socket> = Vec::new();
    for fd in fds {
        let index = match index_by_so.get(&fd.so) {
            Some(&index) => index,
            None => {
                let Some(socket) = fd.to_socket() else {
                    continue;
                };
                sockets.push(socket);
                index_by_so.insert(fd.so, sockets.len() - 1);
                sockets.len() - 1
            }
        };
        if with_pids {
            sockets[index].pids.push(fd.pid);
        }
    }
    for socket in &mut sockets {
        socket.pids.sort_unstable();
        socket.pids.dedup();
    }
    sockets
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

    use crate::model::{Family, Proto, SocketState};

    /// A sockaddr's 16 address bytes as `in_sockinfo` holds an IPv4 address: 12 pad bytes, then
    /// the address in network byte order (`struct in4in6_addr`).
    fn v4_bytes(addr: Ipv4Addr) -> [u8; 16] {
        let mut bytes = [0; 16];
        bytes[12..].copy_from_slice(&addr.octets());
        bytes
    }

    /// A port as `insi_lport` holds it: the network-order u16 stored in an int, read natively.
    fn raw_port(port: u16) -> i32 {
        i32::from(u16::from_ne_bytes(port.to_be_bytes()))
    }

    fn tcp_fd(pid: u32, so: u64, state: i32) -> SocketFd {
        SocketFd {
            pid,
            so,
            proto: Proto::Tcp,
            family: Family::Ipv4,
            vflag: INI_IPV4,
            local_addr: v4_bytes(Ipv4Addr::LOCALHOST),
            local_port: raw_port(8080),
            remote_addr: v4_bytes(Ipv4Addr::new(127, 0, 0, 2)),
            remote_port: raw_port(50000),
            tcp_state: Some(state),
            recv_bytes: 10,
            send_bytes: 20,
            accept_queue: 3,
            backlog: 128,
            uid: 501,
        }
    }

    /// The local `sockaddr_in` of a real socket, as the kernel fills it: the same network-order
    /// port and address bytes that xnu copies into `in_sockinfo`.
    #[cfg(unix)]
    fn kernel_sockaddr_in(socket: &std::net::UdpSocket) -> libc::sockaddr_in {
        use std::os::fd::AsRawFd;
        // SAFETY: sockaddr_in is plain data; all zeroes is a valid value.
        let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        // SAFETY: addr and len describe a writable sockaddr_in of the given size.
        let rc = unsafe {
            libc::getsockname(
                socket.as_raw_fd(),
                (&raw mut addr).cast::<libc::sockaddr>(),
                &raw mut len,
            )
        };
        assert_eq!(rc, 0, "getsockname: {}", std::io::Error::last_os_error());
        addr
    }

    #[cfg(unix)]
    #[test]
    fn a_real_kernel_sockaddr_reads_back_as_the_bound_address_and_port() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let bound = socket.local_addr().unwrap();
        let kernel = kernel_sockaddr_in(&socket);
        // insi_lport holds the sockaddr's u16 widened to an int; the address keeps its memory order.
        let raw_port = i32::from(kernel.sin_port);
        let mut bytes = [0; 16];
        bytes[12..].copy_from_slice(&kernel.sin_addr.s_addr.to_ne_bytes());
        let read = SocketAddr::new(
            address(Family::Ipv4, INI_IPV4, bytes).unwrap(),
            port(raw_port),
        );
        assert_eq!(read, bound);
    }

    #[test]
    fn tcp_states_follow_bsd_numbering_not_linux() {
        let expected = [
            (0, SocketState::Close),
            (1, SocketState::Listen),
            (2, SocketState::SynSent),
            (3, SocketState::SynRecv),
            (4, SocketState::Established),
            (5, SocketState::CloseWait),
            (6, SocketState::FinWait1),
            (7, SocketState::Closing),
            (8, SocketState::LastAck),
            (9, SocketState::FinWait2),
            (10, SocketState::TimeWait),
        ];
        for (bsd, state) in expected {
            assert_eq!(tcp_state(bsd), Some(state), "TCPS_* {bsd}");
        }
        assert_eq!(tcp_state(11), None);
        assert_eq!(tcp_state(-1), None);
    }

    #[test]
    fn ports_are_read_from_network_byte_order() {
        assert_eq!(port(raw_port(443)), 443);
        assert_eq!(port(raw_port(8080)), 8080);
        assert_eq!(port(raw_port(65535)), 65535);
        // 443 is 0x01bb: on a little-endian host the int reads 0xbb01.
        if cfg!(target_endian = "little") {
            assert_eq!(port(0xbb01), 443);
        }
    }

    #[test]
    fn addresses_are_read_by_family_and_vflag() {
        let v4 = Ipv4Addr::new(192, 0, 2, 7);
        assert_eq!(
            address(Family::Ipv4, INI_IPV4, v4_bytes(v4)),
            Some(IpAddr::V4(v4))
        );
        let v6: Ipv6Addr = "2001:db8::1".parse().unwrap();
        assert_eq!(
            address(Family::Ipv6, INI_IPV6, v6.octets()),
            Some(IpAddr::V6(v6))
        );
        // An IPv6 socket talking IPv4 keeps the IPv4 address in the last 4 bytes: shown mapped,
        // as Linux shows the same socket.
        assert_eq!(
            address(Family::Ipv6, INI_IPV4, v4_bytes(Ipv4Addr::LOCALHOST)),
            Some(IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped()))
        );
        // A dual-stack wildcard listener (both flags) is [::], not [::ffff:0.0.0.0].
        assert_eq!(
            address(Family::Ipv6, INI_IPV4 | INI_IPV6, [0; 16]),
            Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED))
        );
        assert_eq!(
            address(
                Family::Ipv6,
                INI_IPV4 | INI_IPV6,
                Ipv6Addr::LOCALHOST.octets()
            ),
            Some(IpAddr::V6(Ipv6Addr::LOCALHOST))
        );
        assert_eq!(address(Family::Ipv4, INI_IPV6, v6.octets()), None);
        assert_eq!(address(Family::Ipv4, 0, [0; 16]), None);
    }

    #[test]
    fn a_link_local_scope_embedded_in_the_address_becomes_the_scope_id() {
        // The BSD kernel keeps a link-local address's interface in bytes 2-3: fe80:4::1 is
        // fe80::1 on interface 4.
        let embedded: Ipv6Addr = "fe80:4::1".parse().unwrap();
        let mut fd = tcp_fd(7, 1, 4);
        fd.family = Family::Ipv6;
        fd.vflag = INI_IPV6;
        fd.local_addr = embedded.octets();
        fd.remote_addr = "fe80:4::2".parse::<Ipv6Addr>().unwrap().octets();
        let socket = fd.to_socket().unwrap();
        let expected_local: SocketAddr = "[fe80::1%4]:8080".parse().unwrap();
        assert_eq!(socket.local, expected_local);
        assert_eq!(socket.remote, Some("[fe80::2]:50000".parse().unwrap()));
        // A multicast group of link-local scope carries it the same way; a global address
        // keeps every byte and has no scope.
        fd.local_addr = "ff02:4::fb".parse::<Ipv6Addr>().unwrap().octets();
        assert_eq!(
            fd.to_socket().unwrap().local,
            "[ff02::fb%4]:8080".parse().unwrap()
        );
        fd.local_addr = "2001:4::1".parse::<Ipv6Addr>().unwrap().octets();
        assert_eq!(
            fd.to_socket().unwrap().local,
            "[2001:4::1]:8080".parse().unwrap()
        );
        // Not embedded (a scope-less link-local address): no scope id, nothing changed.
        fd.local_addr = "fe80::1".parse::<Ipv6Addr>().unwrap().octets();
        assert_eq!(
            fd.to_socket().unwrap().local,
            "[fe80::1]:8080".parse().unwrap()
        );
    }

    #[test]
    fn a_tcp_fd_becomes_a_socket_with_queues_and_uid() {
        let socket = tcp_fd(7, 0xff01, 4).to_socket().unwrap();
        assert_eq!(socket.proto, Proto::Tcp);
        assert_eq!(socket.state, SocketState::Established);
        assert_eq!(
            socket.local,
            "127.0.0.1:8080".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(socket.remote, Some("127.0.0.2:50000".parse().unwrap()));
        assert_eq!((socket.recv_q, socket.send_q), (Some(10), Some(20)));
        assert_eq!(socket.uid, Some(501));
        assert_eq!((socket.inode, socket.timer), (None, None));
        assert!(socket.tcp_info.is_none());
    }

    #[test]
    fn a_listener_has_no_peer_and_shows_accept_queue_and_backlog() {
        let mut fd = tcp_fd(7, 0xff01, 1);
        fd.remote_addr = [0; 16];
        fd.remote_port = 0;
        let socket = fd.to_socket().unwrap();
        assert_eq!(socket.state, SocketState::Listen);
        assert_eq!(socket.remote, None);
        assert_eq!((socket.recv_q, socket.send_q), (Some(3), Some(128)));
        fd.backlog = -1;
        assert_eq!(fd.to_socket().unwrap().send_q, None);
    }

    #[test]
    fn udp_is_unconnected_without_a_peer_and_established_with_one() {
        let mut fd = tcp_fd(7, 0xff01, 0);
        fd.proto = Proto::Udp;
        fd.tcp_state = None;
        fd.family = Family::Ipv6;
        fd.vflag = INI_IPV6;
        fd.local_addr = Ipv6Addr::LOCALHOST.octets();
        fd.remote_addr = Ipv6Addr::LOCALHOST.octets();
        let connected = fd.to_socket().unwrap();
        assert_eq!(connected.state, SocketState::Established);
        assert_eq!(connected.remote, Some("[::1]:50000".parse().unwrap()));
        fd.remote_addr = [0; 16];
        fd.remote_port = 0;
        let unconnected = fd.to_socket().unwrap();
        assert_eq!(unconnected.state, SocketState::Unconn);
        assert_eq!(unconnected.remote, None);
        assert_eq!(
            (unconnected.recv_q, unconnected.send_q),
            (Some(10), Some(20))
        );
    }

    #[test]
    fn an_unknown_tcp_state_or_address_drops_the_fd() {
        assert_eq!(tcp_fd(7, 1, 42).to_socket(), None);
        let mut fd = tcp_fd(7, 1, 4);
        fd.vflag = 0;
        assert_eq!(fd.to_socket(), None);
    }

    #[test]
    fn fds_of_one_kernel_socket_become_one_socket_with_every_pid_ascending() {
        let fds = [
            tcp_fd(30, 0xaaaa, 4),
            tcp_fd(7, 0xbbbb, 1),
            tcp_fd(12, 0xaaaa, 4),
            tcp_fd(30, 0xaaaa, 4),
            tcp_fd(9, 0xaaaa, 4),
        ];
        let sockets = sockets_by_identity(fds, true);
        assert_eq!(sockets.len(), 2);
        let shared = sockets
            .iter()
            .find(|s| s.state == SocketState::Established)
            .unwrap();
        assert_eq!(shared.pids, [9, 12, 30]);
        let listener = sockets
            .iter()
            .find(|s| s.state == SocketState::Listen)
            .unwrap();
        assert_eq!(listener.pids, [7]);
    }

    #[test]
    fn pids_are_left_out_when_owners_were_not_asked_for() {
        let sockets = sockets_by_identity([tcp_fd(30, 1, 4), tcp_fd(9, 1, 4)], false);
        assert_eq!(sockets.len(), 1);
        assert!(sockets[0].pids.is_empty());
    }
}
