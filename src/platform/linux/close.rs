//! Closing one TCP connection (TCPView's "Close connection", `ss -K`): SOCK_DESTROY over
//! NETLINK_SOCK_DIAG, naming the socket by its 4-tuple and its cookie, so the kernel destroys
//! that socket and no other. The socket is looked up again first: it is closed only if a socket
//! with the same 4-tuple and the same cookie is there at that moment. That lookup is a dump of
//! the family's TCP sockets, not the kernel's exact lookup: the exact lookup needs the interface
//! a socket is bound to (SO_BINDTODEVICE), which the model keeps only as an IPv6 scope.

use std::io;
use std::net::{IpAddr, SocketAddr};

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_DUMP_INTR, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, NetlinkBuffer, Parseable,
};
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP, SOCK_DIAG_BY_FAMILY};
use netlink_packet_sock_diag::inet::InetResponseHeader;
use netlink_sys::protocols::NETLINK_SOCK_DIAG;
use netlink_sys::{Socket as NetlinkSocket, SocketAddr as NetlinkAddr};

use super::sock_diag::{
    INET_DIAG_REQ_V2_BYTES, NETLINK_HEADER_BYTES, cookie, dump_request, error_code,
};
use crate::filter::Query;
use crate::platform::Connection;

/// `SOCK_DESTROY` (linux/sock_diag.h).
const SOCK_DESTROY: u16 = 21;
/// `idiag_states` of the dump and of the destroy: every state; the 4-tuple and cookie name it.
const ALL_STATES: u32 = u32::MAX;
/// Room for many sockets of the dump per recv.
const REPLY_BUFFER_BYTES: usize = 64 * 1024;
/// The sequence number of the destroy (the dump's is 0), to tell its reply apart.
const DESTROY_SEQUENCE: u32 = 2;

/// What every refusal that means "not there any more" says.
pub const GONE: &str = "the connection is already gone";

/// One TCP socket as the kernel names it: both ends and its cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub cookie: u64,
}

impl Target {
    /// The socket `connection` names, or why it cannot be named exactly.
    pub fn of(connection: &Connection) -> Result<Target, String> {
        if connection.remote.is_ipv4() != connection.local.is_ipv4() {
            return Err("its two ends are of different address families".to_string());
        }
        let cookie = connection
            .cookie
            .ok_or("the kernel gave no cookie for this socket, so it cannot be named exactly")?;
        Ok(Target {
            local: connection.local,
            remote: connection.remote,
            cookie,
        })
    }
}

/// Ask the kernel to destroy the socket `target` names, in this thread's network namespace,
/// if it is still there; the error is one line saying why nothing was closed.
pub fn close(target: &Target) -> Result<(), String> {
    let mut socket = open().map_err(|e| format!("opening a NETLINK_SOCK_DIAG socket: {e}"))?;
    let Some(interface) = find(&mut socket, target).map_err(|e| refusal(&e))? else {
        return Err(GONE.to_string());
    };
    let destroy = request(
        SOCK_DESTROY,
        NLM_F_REQUEST | NLM_F_ACK,
        DESTROY_SEQUENCE,
        target,
        interface,
    );
    let code = exchange(&mut socket, &destroy, DESTROY_SEQUENCE).map_err(|e| refusal(&e))?;
    match code {
        Some(0) => Ok(()),
        Some(code) => Err(refusal(&io::Error::from_raw_os_error(
            code.saturating_abs(),
        ))),
        None => Err("the kernel sent no answer to SOCK_DESTROY".to_string()),
    }
}

/// [`close`] the socket, in its network namespace: the query's (`-N`), or with
/// `--all-netns` the one the socket was listed in, entered by a thread of its own.
pub fn close_connection(query: &Query, connection: &Connection) -> Result<(), String> {
    let target = Target::of(connection)?;
    let closed = match (&query.netns, connection.netns) {
        (crate::filter::Namespaces::All, Some(inode))
            if Some(inode) != super::netns::own_inode() =>
        {
            let found = super::netns::discover()
                .into_iter()
                .find(|found| found.inode == inode)
                .ok_or("its network namespace is gone")?;
            found.run(None, || Ok(close(&target)))
        }
        _ => super::in_netns(query, || Ok(close(&target))),
    };
    closed.map_err(|e| e.to_string())?
}

/// The kernel's errors, one line each.
pub fn refusal(error: &io::Error) -> String {
    match error.raw_os_error() {
        Some(libc::EOPNOTSUPP) => {
            "this kernel cannot close sockets (no CONFIG_INET_DIAG_DESTROY)".to_string()
        }
        Some(libc::EPERM | libc::EACCES) => {
            "closing a socket needs CAP_NET_ADMIN (run as root)".to_string()
        }
        // ESTALE: a socket has the 4-tuple, but another cookie: ours is gone, that one is not it.
        Some(libc::ENOENT | libc::ESTALE) => GONE.to_string(),
        Some(_) => format!("the kernel refused: {error}"),
        None => error.to_string(),
    }
}

fn open() -> io::Result<NetlinkSocket> {
    let mut socket = NetlinkSocket::new(NETLINK_SOCK_DIAG)?;
    socket.bind_auto()?;
    socket.connect(&NetlinkAddr::new(0, 0))?;
    Ok(socket)
}

/// The interface the socket `target` names is bound to (0: none), if a socket with its 4-tuple
/// and its cookie is in the kernel's table now; `None` if there is none.
fn find(socket: &mut NetlinkSocket, target: &Target) -> io::Result<Option<u32>> {
    let family = if target.local.is_ipv4() {
        AF_INET
    } else {
        AF_INET6
    };
    socket.send(&dump_request(family, IPPROTO_TCP, ALL_STATES, None)?, 0)?;
    let invalid = |e: netlink_packet_core::DecodeError| {
        io::Error::new(io::ErrorKind::InvalidData, e.to_string())
    };
    let mut buffer = vec![0; REPLY_BUFFER_BYTES];
    let (mut found, mut interrupted) = (None, false);
    loop {
        let received = socket.recv(&mut &mut buffer[..], 0)?;
        let mut rest = &buffer[..received.min(buffer.len())];
        while !rest.is_empty() {
            let message = NetlinkBuffer::new_checked(rest).map_err(invalid)?;
            interrupted |= message.flags() & NLM_F_DUMP_INTR != 0;
            match message.message_type() {
                SOCK_DIAG_BY_FAMILY => {
                    let id = InetResponseHeader::parse(message.payload())
                        .map_err(invalid)?
                        .socket_id;
                    if id.source_port == target.local.port()
                        && id.destination_port == target.remote.port()
                        && id.source_address == target.local.ip()
                        && id.destination_address == target.remote.ip()
                        && cookie(&id.cookie) == target.cookie
                    {
                        found = Some(id.interface_id);
                    }
                }
                NLMSG_DONE | NLMSG_ERROR => {
                    return match error_code(message.payload()) {
                        0 if found.is_none() && interrupted => Err(io::Error::new(
                            io::ErrorKind::Interrupted,
                            "the socket table changed while it was read; try again",
                        )),
                        0 => Ok(found),
                        code => Err(io::Error::from_raw_os_error(code.saturating_abs())),
                    };
                }
                _ => {}
            }
            let aligned = (message.length() as usize + 3) & !3;
            rest = rest.get(aligned..).unwrap_or_default();
        }
    }
}

/// Send `bytes` and read one reply datagram: the error code of the NLMSG_ERROR of our
/// sequence number in it (0 for an ACK), `None` when there was none.
fn exchange(socket: &mut NetlinkSocket, bytes: &[u8], sequence: u32) -> io::Result<Option<i32>> {
    socket.send(bytes, 0)?;
    let mut buffer = vec![0; REPLY_BUFFER_BYTES];
    let received = socket.recv(&mut &mut buffer[..], 0)?;
    let mut rest = &buffer[..received.min(buffer.len())];
    let mut code = None;
    while !rest.is_empty() {
        let message = NetlinkBuffer::new_checked(rest)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        if message.sequence_number() == sequence && message.message_type() == NLMSG_ERROR {
            code = Some(error_code(message.payload()));
        }
        let aligned = (message.length() as usize + 3) & !3;
        rest = rest.get(aligned..).unwrap_or_default();
    }
    Ok(code)
}

/// nlmsghdr, then `struct inet_diag_req_v2` naming the one socket: family, IPPROTO_TCP, no
/// extensions, padding, every state, then `struct inet_diag_sockid` (ports and addresses in
/// network byte order, the interface it is bound to, the cookie as the kernel gave it).
fn request(
    message_type: u16,
    flags: u16,
    sequence: u32,
    target: &Target,
    interface: u32,
) -> Vec<u8> {
    let length = NETLINK_HEADER_BYTES + INET_DIAG_REQ_V2_BYTES;
    let family = if target.local.is_ipv4() {
        AF_INET
    } else {
        AF_INET6
    };
    let mut out = Vec::with_capacity(length);
    out.extend((length as u32).to_ne_bytes());
    out.extend(message_type.to_ne_bytes());
    out.extend(flags.to_ne_bytes());
    out.extend(sequence.to_ne_bytes());
    // Port id 0: the kernel.
    out.extend(0u32.to_ne_bytes());
    out.extend([family, IPPROTO_TCP, 0, 0]);
    out.extend(ALL_STATES.to_ne_bytes());
    out.extend(target.local.port().to_be_bytes());
    out.extend(target.remote.port().to_be_bytes());
    out.extend(address(target.local.ip()));
    out.extend(address(target.remote.ip()));
    out.extend(interface.to_ne_bytes());
    // `idiag_cookie`: two native-endian u32 halves, the low one first, as dumps give it.
    out.extend((target.cookie as u32).to_ne_bytes());
    out.extend(((target.cookie >> 32) as u32).to_ne_bytes());
    out
}

/// `__be32 idiag_src[4]`: an IPv4 address in the first four bytes.
fn address(ip: IpAddr) -> [u8; 16] {
    let mut out = [0; 16];
    match ip {
        IpAddr::V4(ip) => out[..4].copy_from_slice(&ip.octets()),
        IpAddr::V6(ip) => out = ip.octets(),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Proto;
    use netlink_packet_core::{NetlinkHeader, NetlinkMessage};
    use netlink_packet_sock_diag::SockDiagMessage;
    use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};

    fn target(local: &str, remote: &str, cookie: u64) -> Target {
        Target {
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
            cookie,
        }
    }

    /// What netlink-packet-sock-diag serializes for an exact request: the oracle for ours.
    fn crate_request(target: &Target, flags: u16, sequence: u32, interface: u32) -> Vec<u8> {
        let family = if target.local.is_ipv4() {
            AF_INET
        } else {
            AF_INET6
        };
        let mut cookie = [0; 8];
        cookie[..4].copy_from_slice(&(target.cookie as u32).to_ne_bytes());
        cookie[4..].copy_from_slice(&((target.cookie >> 32) as u32).to_ne_bytes());
        let request = InetRequest {
            family,
            protocol: IPPROTO_TCP,
            extensions: ExtensionFlags::empty(),
            states: StateFlags::from_bits_retain(ALL_STATES),
            socket_id: SocketId {
                source_port: target.local.port(),
                destination_port: target.remote.port(),
                source_address: target.local.ip(),
                destination_address: target.remote.ip(),
                interface_id: interface,
                cookie,
            },
        };
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = sequence;
        let mut message = NetlinkMessage::new(header, SockDiagMessage::InetRequest(request).into());
        message.finalize();
        let mut bytes = vec![0; message.buffer_len()];
        message.serialize(&mut bytes);
        bytes
    }

    #[test]
    fn the_destroy_request_is_an_inet_diag_req_v2_naming_one_socket() {
        let target = target("127.0.0.1:40000", "127.0.0.2:8080", 0x1122_3344_5566_7788);
        let bytes = request(SOCK_DESTROY, NLM_F_REQUEST | NLM_F_ACK, 7, &target, 0);
        // nlmsghdr (16) + inet_diag_req_v2 (56).
        assert_eq!(bytes.len(), 16 + 56);
        let u32_at = |at: usize| u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap());
        let u16_at = |at: usize| u16::from_ne_bytes(bytes[at..at + 2].try_into().unwrap());
        assert_eq!(u32_at(0), 72, "nlmsg_len");
        assert_eq!(u16_at(4), 21, "nlmsg_type SOCK_DESTROY");
        assert_eq!(u16_at(6), 1 | 4, "NLM_F_REQUEST | NLM_F_ACK");
        assert_eq!(u32_at(8), 7, "nlmsg_seq");
        assert_eq!(u32_at(12), 0, "nlmsg_pid");
        let req = &bytes[16..];
        assert_eq!(&req[..4], &[2, 6, 0, 0], "AF_INET, IPPROTO_TCP, ext, pad");
        assert_eq!(&req[4..8], &u32::MAX.to_ne_bytes(), "every state");
        assert_eq!(&req[8..10], &40000u16.to_be_bytes(), "sport, big-endian");
        assert_eq!(&req[10..12], &8080u16.to_be_bytes(), "dport, big-endian");
        assert_eq!(
            &req[12..28],
            &[127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            &req[28..44],
            &[127, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(&req[44..48], &[0; 4], "no interface");
        assert_eq!(
            &req[48..52],
            &0x5566_7788u32.to_ne_bytes(),
            "cookie, low half"
        );
        assert_eq!(
            &req[52..56],
            &0x1122_3344u32.to_ne_bytes(),
            "cookie, high half"
        );
    }

    #[test]
    fn the_request_is_what_the_crate_would_send_for_the_same_socket() {
        for (target, interface) in [
            (
                target("127.0.0.1:40000", "127.0.0.2:8080", 0x1122_3344_5566_7788),
                0,
            ),
            (target("127.0.0.1:40000", "127.0.0.2:8080", 5), 1),
            (target("[::1]:443", "[2001:db8::7]:51000", 9), 0),
            (target("[fe80::1%3]:22", "[fe80::2]:60000", u64::MAX - 1), 3),
        ] {
            // The crate knows no SOCK_DESTROY: its exact request differs only in the type.
            let mut destroy = request(
                SOCK_DESTROY,
                NLM_F_REQUEST | NLM_F_ACK,
                1,
                &target,
                interface,
            );
            let expected = crate_request(&target, NLM_F_REQUEST | NLM_F_ACK, 1, interface);
            assert_eq!(destroy[4..6], SOCK_DESTROY.to_ne_bytes());
            destroy[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
            assert_eq!(destroy, expected, "{target:?}");
        }
    }

    #[test]
    fn each_kernel_refusal_is_one_line() {
        let said = |code| refusal(&io::Error::from_raw_os_error(code));
        assert_eq!(
            said(libc::EOPNOTSUPP),
            "this kernel cannot close sockets (no CONFIG_INET_DIAG_DESTROY)"
        );
        for code in [libc::EPERM, libc::EACCES] {
            assert_eq!(
                said(code),
                "closing a socket needs CAP_NET_ADMIN (run as root)"
            );
        }
        for code in [libc::ENOENT, libc::ESTALE] {
            assert_eq!(said(code), GONE);
        }
        assert!(said(libc::EINVAL).starts_with("the kernel refused: "));
    }

    fn connected_socket(local: SocketAddr, remote: SocketAddr) -> Option<crate::model::Socket> {
        let mut dumper = super::super::sock_diag::Dumper::open().ok()?;
        let query = crate::filter::Query::default();
        let request = crate::filter::kernel::request(&query, Proto::Tcp);
        let mut out = Vec::new();
        dumper
            .dump(crate::model::Family::Ipv4, &request, &mut out)
            .ok()?;
        out.into_iter()
            .find(|s| s.local == local && s.remote == Some(remote))
    }

    #[test]
    fn a_wrong_cookie_closes_nothing_and_the_right_one_closes_only_that_socket() {
        use std::io::Read;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let (local, remote) = (client.local_addr().unwrap(), client.peer_addr().unwrap());
        let socket = connected_socket(local, remote).expect("the dump lists our connection");
        let right = Target::of(&Connection::of(&socket).unwrap()).unwrap();
        let wrong = Target {
            cookie: right.cookie ^ 1,
            ..right
        };
        assert_eq!(close(&wrong), Err(GONE.to_string()));
        assert!(
            connected_socket(local, remote).is_some(),
            "a wrong cookie closed the socket"
        );
        match close(&right) {
            Ok(()) => {
                server
                    .set_read_timeout(Some(std::time::Duration::from_secs(5)))
                    .unwrap();
                let mut byte = [0; 1];
                let read = server.read(&mut byte);
                assert!(
                    matches!(&read, Err(e) if e.kind() == io::ErrorKind::ConnectionReset),
                    "the peer read {read:?}"
                );
                assert_eq!(close(&right), Err(GONE.to_string()));
            }
            Err(why) => assert_eq!(
                why, "this kernel cannot close sockets (no CONFIG_INET_DIAG_DESTROY)",
                "as root, only a kernel without SOCK_DESTROY may refuse"
            ),
        }
        drop(client);
    }
}
