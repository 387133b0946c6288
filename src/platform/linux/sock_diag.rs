//! The socket dump over NETLINK_SOCK_DIAG: what `ss` does, with the kernel's own filters.

use std::io;
use std::net::{IpAddr, SocketAddr, SocketAddrV6};

use netlink_packet_core::{
    DecodeError, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR,
    NLMSG_OVERRUN, NetlinkBuffer, NetlinkHeader, NetlinkMessage, Parseable,
};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{
    AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP, SOCK_DIAG_BY_FAMILY,
};
use netlink_packet_sock_diag::inet::{
    ExtensionFlags, InetRequest, InetResponseHeader, SocketId, StateFlags,
};
use netlink_sys::protocols::NETLINK_SOCK_DIAG;
use netlink_sys::{Socket as NetlinkSocket, SocketAddr as NetlinkAddr};

use super::KernelSocket;
use crate::filter::{Listening, Query};
use crate::model::{Family, Proto, Socket};
use crate::platform::CollectError;

/// Room for many sockets per recv: each costs ~100 bytes on the wire, so fewer syscalls.
const RECV_BUFFER_BYTES: usize = 64 * 1024;

/// Kernel TCP state numbers as bits of the request's state mask.
const TCP_ESTABLISHED_BIT: u32 = 1 << 1;
const TCP_CLOSE_BIT: u32 = 1 << 7;
const TCP_LISTEN_BIT: u32 = 1 << 10;
/// The real states, TCP_ESTABLISHED (1) to TCP_NEW_SYN_RECV (12). Bit 13 (TCP_BOUND_INACTIVE,
/// Linux 6.8) asks for sockets that are only bound, which ss and netstat do not list either.
const ALL_STATES: u32 = ((1 << 13) - 1) & !1;

pub struct Dumper {
    socket: NetlinkSocket,
    buffer: Vec<u8>,
}

impl Dumper {
    pub fn open() -> Result<Dumper, CollectError> {
        let context = "opening a NETLINK_SOCK_DIAG socket";
        let mut socket =
            NetlinkSocket::new(NETLINK_SOCK_DIAG).map_err(|e| CollectError::new(context, e))?;
        socket
            .bind_auto()
            .map_err(|e| CollectError::new(context, e))?;
        socket
            .connect(&NetlinkAddr::new(0, 0))
            .map_err(|e| CollectError::new(context, e))?;
        Ok(Dumper {
            socket,
            buffer: vec![0; RECV_BUFFER_BYTES],
        })
    }

    /// Append the sockets of one (proto, family) table to `out`. On error `out` is left as it was.
    pub fn dump(
        &mut self,
        proto: Proto,
        family: Family,
        query: &Query,
        out: &mut Vec<Socket>,
    ) -> Result<(), CollectError> {
        let before = out.len();
        let result = self
            .request(proto, family, query)
            .and_then(|()| self.receive(proto, out));
        result.map_err(|source| {
            out.truncate(before);
            CollectError::new(
                format!(
                    "dumping {}{} sockets over sock_diag",
                    proto.as_str(),
                    family_suffix(family)
                ),
                source,
            )
        })
    }

    fn request(&mut self, proto: Proto, family: Family, query: &Query) -> io::Result<()> {
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        let (family_code, socket_id) = match family {
            Family::Ipv4 => (AF_INET, SocketId::new_v4()),
            Family::Ipv6 => (AF_INET6, SocketId::new_v6()),
        };
        let request = InetRequest {
            family: family_code,
            protocol: match proto {
                Proto::Tcp => IPPROTO_TCP,
                Proto::Udp => IPPROTO_UDP,
            },
            extensions: ExtensionFlags::empty(),
            states: StateFlags::from_bits_retain(state_mask(proto, query.listening)),
            socket_id,
        };
        let mut message = NetlinkMessage::new(header, SockDiagMessage::InetRequest(request).into());
        message.finalize();
        let mut bytes = vec![0; message.buffer_len()];
        message.serialize(&mut bytes);
        self.socket.send(&bytes, 0)?;
        Ok(())
    }

    fn receive(&mut self, proto: Proto, out: &mut Vec<Socket>) -> io::Result<()> {
        loop {
            let received = self.socket.recv(&mut &mut self.buffer[..], 0)?;
            let batch = &self.buffer[..received.min(self.buffer.len())];
            if parse_batch(batch, proto, out)? == Batch::Done {
                return Ok(());
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Batch {
    More,
    Done,
}

/// Decode one datagram of dump replies into `out`. The error code of `NLMSG_DONE` and of
/// `NLMSG_ERROR`, and a dump the kernel marks inconsistent, are errors: never a short list.
fn parse_batch(mut rest: &[u8], proto: Proto, out: &mut Vec<Socket>) -> io::Result<Batch> {
    let invalid = |e: DecodeError| io::Error::new(io::ErrorKind::InvalidData, e.to_string());
    while !rest.is_empty() {
        let message = NetlinkBuffer::new_checked(rest).map_err(invalid)?;
        if message.flags() & NLM_F_DUMP_INTR != 0 {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "dump interrupted by concurrent changes",
            ));
        }
        let payload = message.payload();
        match message.message_type() {
            SOCK_DIAG_BY_FAMILY => {
                // The fixed header is all we show; skipping the attributes saves a parse per socket.
                let header = InetResponseHeader::parse(payload).map_err(invalid)?;
                let id = &header.socket_id;
                let raw = KernelSocket {
                    proto,
                    state: header.state,
                    local: local_address(id),
                    remote: SocketAddr::new(id.destination_address, id.destination_port),
                    recv_q: header.recv_queue,
                    send_q: Some(header.send_queue),
                    uid: header.uid,
                    inode: u64::from(header.inode),
                };
                out.extend(raw.into_socket());
            }
            NLMSG_DONE | NLMSG_ERROR => {
                return match error_code(payload) {
                    0 if message.message_type() == NLMSG_DONE => Ok(Batch::Done),
                    0 => Err(io::Error::other("unexpected ACK in a dump")),
                    code => Err(io::Error::from_raw_os_error(code.saturating_abs())),
                };
            }
            NLMSG_OVERRUN => return Err(io::Error::other("netlink buffer overrun")),
            _ => {}
        }
        let aligned = (message.length() as usize + 3) & !3;
        rest = rest.get(aligned..).unwrap_or_default();
    }
    Ok(Batch::More)
}

/// The local address with, for IPv6, the interface the socket is bound to as its scope id: for a
/// link-local address that is its scope (`fe80::1%eth0`), which tells apart listeners on the
/// same address on different links. (An IPv4 address has no scope; ss shows its `%dev` too.)
fn local_address(id: &SocketId) -> SocketAddr {
    match id.source_address {
        IpAddr::V6(ip) => SocketAddrV6::new(ip, id.source_port, 0, id.interface_id).into(),
        ip => SocketAddr::new(ip, id.source_port),
    }
}

/// The errno (negative) that starts an NLMSG_DONE or NLMSG_ERROR payload; a short one is 0.
fn error_code(payload: &[u8]) -> i32 {
    payload
        .get(..4)
        .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

fn family_suffix(family: Family) -> &'static str {
    match family {
        Family::Ipv4 => "",
        Family::Ipv6 => "6",
    }
}

/// The kernel filters by state for us, so unwanted sockets never leave the kernel.
fn state_mask(proto: Proto, listening: Listening) -> u32 {
    match (proto, listening) {
        (_, Listening::All) => ALL_STATES,
        (Proto::Tcp, Listening::Only) => TCP_LISTEN_BIT,
        (Proto::Tcp, Listening::Exclude) => ALL_STATES & !TCP_LISTEN_BIT,
        (Proto::Udp, Listening::Only) => TCP_CLOSE_BIT,
        (Proto::Udp, Listening::Exclude) => TCP_ESTABLISHED_BIT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{NLM_F_MULTIPART, NetlinkPayload};
    use netlink_packet_sock_diag::inet::InetResponse;

    fn encode(payload: NetlinkPayload<SockDiagMessage>, flags: u16) -> Vec<u8> {
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        let mut message = NetlinkMessage::new(header, payload);
        message.finalize();
        let mut bytes = vec![0; message.buffer_len()];
        message.serialize(&mut bytes);
        bytes
    }

    fn response(state: u8, local: &str, remote: &str, inode: u32) -> Vec<u8> {
        scoped_response(state, local, remote, inode, 0)
    }

    fn scoped_response(
        state: u8,
        local: &str,
        remote: &str,
        inode: u32,
        interface_id: u32,
    ) -> Vec<u8> {
        let local: SocketAddr = local.parse().unwrap();
        let remote: SocketAddr = remote.parse().unwrap();
        let header = InetResponseHeader {
            family: if local.is_ipv4() { AF_INET } else { AF_INET6 },
            state,
            timer: None,
            socket_id: SocketId {
                source_port: local.port(),
                destination_port: remote.port(),
                source_address: local.ip(),
                destination_address: remote.ip(),
                interface_id,
                cookie: [0; 8],
            },
            recv_queue: 3,
            send_queue: 4,
            uid: 1000,
            inode,
        };
        let message = SockDiagMessage::InetResponse(Box::new(InetResponse {
            header,
            nlas: Default::default(),
        }));
        encode(NetlinkPayload::InnerMessage(message), NLM_F_MULTIPART)
    }

    /// A control message as the kernel lays it out: nlmsghdr, then the errno.
    fn control(message_type: u16, code: i32) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend(20u32.to_ne_bytes());
        bytes.extend(message_type.to_ne_bytes());
        bytes.extend(NLM_F_MULTIPART.to_ne_bytes());
        bytes.extend([0u8; 8]);
        bytes.extend(code.to_ne_bytes());
        bytes
    }

    fn done(code: i32) -> Vec<u8> {
        control(NLMSG_DONE, code)
    }

    #[test]
    fn responses_then_done() {
        let mut batch = response(10, "127.0.0.1:22", "0.0.0.0:0", 77);
        batch.extend(response(1, "[::1]:5432", "[::1]:40000", 78));
        let mut out = Vec::new();
        assert_eq!(
            parse_batch(&batch, Proto::Tcp, &mut out).unwrap(),
            Batch::More
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].state, crate::model::SocketState::Listen);
        assert_eq!(out[0].remote, None);
        assert_eq!(
            (out[0].recv_q, out[0].send_q, out[0].uid),
            (Some(3), Some(4), Some(1000))
        );
        assert_eq!(
            out[1].remote.unwrap().ip(),
            "::1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            parse_batch(&done(0), Proto::Tcp, &mut out).unwrap(),
            Batch::Done
        );
    }

    #[test]
    fn the_bound_interface_is_an_ipv6_local_address_scope() {
        let mut batch = scoped_response(10, "[fe80::1]:22", "[::]:0", 7, 3);
        batch.extend(scoped_response(10, "[fe80::1]:22", "[::]:0", 8, 4));
        batch.extend(scoped_response(1, "[fe80::1]:22", "[fe80::2]:5000", 9, 3));
        batch.extend(scoped_response(10, "0.0.0.0:80", "0.0.0.0:0", 10, 3));
        let mut out = Vec::new();
        parse_batch(&batch, Proto::Tcp, &mut out).unwrap();
        let addresses: Vec<String> = out
            .iter()
            .map(|s| format!("{} {:?}", s.local, s.remote))
            .collect();
        assert_eq!(
            addresses,
            [
                "[fe80::1%3]:22 None",
                "[fe80::1%4]:22 None",
                "[fe80::1%3]:22 Some([fe80::2]:5000)",
                "0.0.0.0:80 None",
            ]
        );
        assert_ne!(out[0].local, out[1].local);
    }

    #[test]
    fn error_in_done_message_is_an_error_not_an_empty_list() {
        let mut out = Vec::new();
        let error = parse_batch(&done(-libc::ENOENT), Proto::Udp, &mut out).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::ENOENT));
    }

    #[test]
    fn error_message_is_an_error() {
        let mut out = Vec::new();
        let error =
            parse_batch(&control(NLMSG_ERROR, -libc::EACCES), Proto::Tcp, &mut out).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::EACCES));
    }

    #[test]
    fn interrupted_dump_is_an_error() {
        let batch = response(1, "127.0.0.1:1", "127.0.0.1:2", 5);
        let mut interrupted = batch.clone();
        // nlmsg_flags sits after the 4-byte length and 2-byte type.
        let flags = u16::from_ne_bytes([interrupted[6], interrupted[7]]) | NLM_F_DUMP_INTR;
        interrupted[6..8].copy_from_slice(&flags.to_ne_bytes());
        let error = parse_batch(&interrupted, Proto::Tcp, &mut Vec::new()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::Interrupted);
    }

    #[test]
    fn truncated_message_is_invalid_data() {
        let batch = response(1, "127.0.0.1:1", "127.0.0.1:2", 5);
        let error =
            parse_batch(&batch[..batch.len() - 10], Proto::Tcp, &mut Vec::new()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn state_masks_follow_netstat_listening() {
        assert_eq!(state_mask(Proto::Tcp, Listening::Only), 1 << 10);
        assert_eq!(state_mask(Proto::Tcp, Listening::Exclude) & (1 << 10), 0);
        assert_ne!(state_mask(Proto::Tcp, Listening::Exclude) & (1 << 6), 0);
        assert_eq!(state_mask(Proto::Udp, Listening::Only), 1 << 7);
        assert_eq!(state_mask(Proto::Udp, Listening::Exclude), 1 << 1);
        assert_eq!(state_mask(Proto::Udp, Listening::All), 0x1ffe);
    }

    #[test]
    fn bound_inactive_sockets_are_never_asked_for() {
        let bound_inactive = 1 << 13;
        for proto in [Proto::Tcp, Proto::Udp] {
            for listening in [Listening::All, Listening::Only, Listening::Exclude] {
                assert_eq!(state_mask(proto, listening) & bound_inactive, 0);
            }
        }
        assert_ne!(state_mask(Proto::Tcp, Listening::All) & (1 << 12), 0);
    }
}
