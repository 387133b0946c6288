//! The socket dump over NETLINK_SOCK_DIAG: what `ss` does, with the kernel's own filters.

use std::collections::HashSet;
use std::io;
use std::net::{IpAddr, SocketAddr, SocketAddrV6};

use netlink_packet_core::{
    DecodeError, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR,
    NLMSG_OVERRUN, NetlinkBuffer, Parseable,
};
use netlink_packet_sock_diag::constants::{
    AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP, SOCK_DIAG_BY_FAMILY,
};
use netlink_packet_sock_diag::inet::{InetResponseHeader, SocketId};
use netlink_sys::protocols::NETLINK_SOCK_DIAG;
use netlink_sys::{Socket as NetlinkSocket, SocketAddr as NetlinkAddr};

use super::kernel_socket::KernelSocket;
use super::tcp_info;
use crate::filter::kernel::Request;
use crate::model::{ByteCounters, Family, Proto, Socket, Timer};
use crate::platform::error::CollectError;

/// Room for many sockets per recv: each costs ~100 bytes on the wire, so fewer syscalls.
const RECV_BUFFER_BYTES: usize = 64 * 1024;

/// `struct nlmsghdr`.
pub(super) const NETLINK_HEADER_BYTES: usize = 16;
/// `struct inet_diag_req_v2`: family, protocol, extensions, padding, states, then the 48-byte
/// `struct inet_diag_sockid`, which names one socket and which a dump ignores (all zero here).
pub(super) const INET_DIAG_REQ_V2_BYTES: usize = 56;
/// `struct rtattr`: length, type.
const ATTRIBUTE_HEADER_BYTES: usize = 4;
/// Where `idiag_ext` (which attributes to send back) sits in a request.
const REQUEST_EXTENSIONS_BYTE: usize = NETLINK_HEADER_BYTES + 2;
/// `struct inet_diag_msg`, the fixed part of each reply; its attributes follow.
const INET_DIAG_MSG_BYTES: usize = 72;
/// The request attribute that carries a filter program (linux/inet_diag.h).
const INET_DIAG_REQ_BYTECODE: u16 = 1;

pub struct Dumper {
    socket: NetlinkSocket,
    buffer: Vec<u8>,
    /// The sockets (by cookie) whose whole tcp_info is kept; the others keep only its byte
    /// counters. `None`: every socket's.
    whole_info_of: Option<std::sync::Arc<HashSet<u64>>>,
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
            whole_info_of: None,
        })
    }

    /// Keep the whole tcp_info of these sockets (by cookie) only, and of the others only the
    /// byte counters (`Socket::bytes`): a live view's rows out of view need no more, and
    /// 200,000 boxed tcp_info are 56 MiB. `None`: every socket's.
    pub fn keep_whole_info_of(&mut self, cookies: Option<std::sync::Arc<HashSet<u64>>>) {
        self.whole_info_of = cookies;
    }

    /// Append the sockets of one table, the request's protocol in `family`, to `out`. On error
    /// `out` is left as it was. A program the kernel refuses is an error (EINVAL), never an
    /// empty table.
    pub fn dump(
        &mut self,
        family: Family,
        request: &Request,
        out: &mut Vec<Socket>,
    ) -> Result<(), CollectError> {
        let before = out.len();
        self.dump_passing(family, request, out, &mut |_| true)
            .map(|_| ())
            .inspect_err(|_| out.truncate(before))
    }

    /// As [`Dumper::dump`], calling `pass` after each datagram's sockets are appended to `out`,
    /// so that it may take them away (a table printed as it comes). `pass` returns `false` to
    /// stop the dump there; the result is then `Ok(false)`. On error `out` holds what came.
    pub fn dump_passing(
        &mut self,
        family: Family,
        request: &Request,
        out: &mut Vec<Socket>,
        pass: &mut dyn FnMut(&mut Vec<Socket>) -> bool,
    ) -> Result<bool, CollectError> {
        let proto = request.proto;
        let result = self
            .send(family, request)
            .and_then(|()| self.receive(proto, request.tcp_info, out, pass));
        result.map_err(|source| {
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

    fn send(&mut self, family: Family, request: &Request) -> io::Result<()> {
        let family_code = match family {
            Family::Ipv4 => AF_INET,
            Family::Ipv6 => AF_INET6,
        };
        let protocol = match request.proto {
            Proto::Tcp => IPPROTO_TCP,
            Proto::Udp => IPPROTO_UDP,
        };
        let bytecode = request.bytecode.as_deref();
        let mut bytes = dump_request(family_code, protocol, request.states.0, bytecode)?;
        if request.tcp_info {
            bytes[REQUEST_EXTENSIONS_BYTE] = tcp_info::EXTENSIONS;
        }
        self.socket.send(&bytes, 0)?;
        Ok(())
    }

    fn receive(
        &mut self,
        proto: Proto,
        info: bool,
        out: &mut Vec<Socket>,
        pass: &mut dyn FnMut(&mut Vec<Socket>) -> bool,
    ) -> io::Result<bool> {
        loop {
            let received = self.socket.recv(&mut &mut self.buffer[..], 0)?;
            let batch = &self.buffer[..received.min(self.buffer.len())];
            let before = out.len();
            let done = parse_batch(batch, proto, info, out)? == Batch::Done;
            if let Some(whole) = &self.whole_info_of {
                // Dropped datagram by datagram: a few hundred boxes at a time, reused.
                for socket in &mut out[before..] {
                    if !socket.cookie.is_some_and(|cookie| whole.contains(&cookie)) {
                        socket.tcp_info = None;
                    }
                }
            }
            if !pass(out) {
                // The rest of this dump is still queued on the socket: a stopped dumper is
                // not used again.
                return Ok(false);
            }
            if done {
                return Ok(true);
            }
        }
    }
}

/// One dump request: nlmsghdr, inet_diag_req_v2 and, with a program, an
/// INET_DIAG_REQ_BYTECODE attribute (netlink-packet-sock-diag 0.5 cannot carry attributes).
pub(super) fn dump_request(
    family: u8,
    protocol: u8,
    states: u32,
    bytecode: Option<&[u8]>,
) -> io::Result<Vec<u8>> {
    let attribute = match bytecode {
        None => 0,
        Some(program) => ATTRIBUTE_HEADER_BYTES + program.len(),
    };
    let attribute_length = u16::try_from(attribute).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("a filter program of {attribute} bytes with its header does not fit a request"),
        )
    })?;
    let padded = (attribute + 3) & !3;
    let length = NETLINK_HEADER_BYTES + INET_DIAG_REQ_V2_BYTES + padded;
    let mut out = Vec::with_capacity(length);
    out.extend((length as u32).to_ne_bytes());
    out.extend(SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    out.extend((NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    // Sequence number and port id: one request at a time, and the kernel knows who we are.
    out.extend([0; 8]);
    out.extend([family, protocol, 0, 0]);
    out.extend(states.to_ne_bytes());
    out.extend([0; INET_DIAG_REQ_V2_BYTES - 8]);
    if let Some(program) = bytecode {
        out.extend(attribute_length.to_ne_bytes());
        out.extend(INET_DIAG_REQ_BYTECODE.to_ne_bytes());
        out.extend(program);
        out.resize(length, 0);
    }
    Ok(out)
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Batch {
    More,
    Done,
}

/// Decode one datagram of dump replies into `out`. The error code of `NLMSG_DONE` and of
/// `NLMSG_ERROR`, and a dump the kernel marks inconsistent, are errors: never a short list.
/// With `info`, each TCP socket's tcp_info and congestion algorithm are read from its attributes.
pub(super) fn parse_batch(
    mut rest: &[u8],
    proto: Proto,
    info: bool,
    out: &mut Vec<Socket>,
) -> io::Result<Batch> {
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
                if let Some(socket) = socket_of(payload, proto, info).map_err(invalid)? {
                    out.push(socket);
                }
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

/// One `inet_diag_msg` and its attributes (a dump reply or a close notice) as a model socket;
/// `None` for a state the model has no name for. With `info`, a TCP socket's tcp_info and
/// congestion algorithm are read from the attributes: without, skipping them saves a parse.
pub(super) fn socket_of(
    payload: &[u8],
    proto: Proto,
    info: bool,
) -> Result<Option<Socket>, DecodeError> {
    let header = InetResponseHeader::parse(payload)?;
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
        timer: diag_timer(payload),
    };
    let Some(mut socket) = raw.into_socket() else {
        return Ok(None);
    };
    socket.cookie = Some(cookie(&id.cookie));
    (socket.v6only, socket.cgroup) = unasked_attributes(payload);
    if info {
        let attributes = payload.get(INET_DIAG_MSG_BYTES..).unwrap_or_default();
        socket.tcp_info = tcp_info::from_attributes(attributes);
        socket.bytes = (socket.tcp_info.as_deref()).map(|info| ByteCounters {
            received: info.bytes_received,
            acked: info.bytes_acked,
        });
        if let (Some(timer), Some((retransmits, probes))) =
            (&mut socket.timer, tcp_info::timer_counts(attributes))
        {
            timer.fill_counts(retransmits, probes);
        }
    }
    Ok(Some(socket))
}

/// `INET_DIAG_SKV6ONLY` (linux/inet_diag.h): the kernel adds it to every IPv6 socket's reply
/// unasked, one byte, IPV6_V6ONLY.
const INET_DIAG_SKV6ONLY: u16 = 11;
/// `INET_DIAG_CGROUP_ID` (linux/inet_diag.h, Linux 5.7): the id of the cgroup v2 the socket
/// was made in, a u64 every reply carries unasked (what `ss --cgroup` shows).
const INET_DIAG_CGROUP_ID: u16 = 21;

/// What the kernel says of every socket without being asked, from the attributes after one
/// `inet_diag_msg`: IPV6_V6ONLY of an IPv6 socket (`None` for IPv4), and the socket's cgroup
/// id; each `None` when the kernel does not say.
fn unasked_attributes(payload: &[u8]) -> (Option<bool>, Option<u64>) {
    let ipv6 = payload.first().copied() == Some(AF_INET6);
    let (mut v6only, mut cgroup) = (None, None);
    let attributes = payload.get(INET_DIAG_MSG_BYTES..).unwrap_or_default();
    for (kind, value) in tcp_info::attributes(attributes) {
        match kind {
            INET_DIAG_SKV6ONLY if ipv6 => v6only = value.first().map(|&byte| byte != 0),
            INET_DIAG_CGROUP_ID => {
                cgroup = value
                    .get(..8)
                    .map(|b| u64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]));
            }
            _ => {}
        }
    }
    (v6only, cgroup)
}

/// `idiag_cookie`: two native-endian u32 halves, the low one first (net/core/sock_diag.c).
pub(super) fn cookie(bytes: &[u8; 8]) -> u64 {
    let low = u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let high = u32::from_ne_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    u64::from(low) | u64::from(high) << 32
}

/// inet_diag_msg's timer fields, read from the payload: the crate's parsed header drops the
/// count for keepalive and probe timers. Layout: family, state, timer, retrans (one byte each),
/// the 48-byte inet_diag_sockid, then expires (u32, ms).
fn diag_timer(payload: &[u8]) -> Timer {
    let code = payload.get(2).copied().unwrap_or(0);
    let count = payload.get(3).copied().unwrap_or(0);
    let expires = payload
        .get(52..56)
        .map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
    Timer::from_sock_diag(code, expires, count)
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
pub(super) fn error_code(payload: &[u8]) -> i32 {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::States;
    use netlink_packet_core::{NLM_F_MULTIPART, NetlinkHeader, NetlinkMessage, NetlinkPayload};
    use netlink_packet_sock_diag::SockDiagMessage;
    use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, InetResponse, StateFlags};

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
    fn the_timer_comes_from_the_header_bytes() {
        use netlink_packet_sock_diag::inet::Timer as CrateTimer;
        let mut batch = response(1, "127.0.0.1:40000", "127.0.0.1:22", 77);
        // The payload starts after the 16-byte nlmsghdr: timer code, count, and expires.
        batch[16 + 2] = 2;
        batch[16 + 3] = 4;
        batch[16 + 52..16 + 56].copy_from_slice(&7_192_845u32.to_ne_bytes());
        let mut out = Vec::new();
        parse_batch(&batch, Proto::Tcp, false, &mut out).unwrap();
        let timer = out[0].timer.unwrap();
        assert_eq!(timer.to_string(), "keepalive (7192.84/-/4)");
        // The crate's own encoding agrees on where the fields are.
        let header = InetResponseHeader::parse(&batch[16..]).unwrap();
        assert_eq!(
            header.timer,
            Some(CrateTimer::KeepAlive(std::time::Duration::from_millis(
                7_192_845
            )))
        );
    }

    #[test]
    fn responses_then_done() {
        let mut batch = response(10, "127.0.0.1:22", "0.0.0.0:0", 77);
        batch.extend(response(1, "[::1]:5432", "[::1]:40000", 78));
        let mut out = Vec::new();
        assert_eq!(
            parse_batch(&batch, Proto::Tcp, false, &mut out).unwrap(),
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
            parse_batch(&done(0), Proto::Tcp, false, &mut out).unwrap(),
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
        parse_batch(&batch, Proto::Tcp, false, &mut out).unwrap();
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
        let error = parse_batch(&done(-libc::ENOENT), Proto::Udp, false, &mut out).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::ENOENT));
    }

    #[test]
    fn error_message_is_an_error() {
        let mut out = Vec::new();
        let error = parse_batch(
            &control(NLMSG_ERROR, -libc::EACCES),
            Proto::Tcp,
            false,
            &mut out,
        )
        .unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::EACCES));
    }

    #[test]
    fn interrupted_dump_is_an_error() {
        let batch = response(1, "127.0.0.1:1", "127.0.0.1:2", 5);
        let mut interrupted = batch.clone();
        // nlmsg_flags sits after the 4-byte length and 2-byte type.
        let flags = u16::from_ne_bytes([interrupted[6], interrupted[7]]) | NLM_F_DUMP_INTR;
        interrupted[6..8].copy_from_slice(&flags.to_ne_bytes());
        let error = parse_batch(&interrupted, Proto::Tcp, false, &mut Vec::new()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::Interrupted);
    }

    #[test]
    fn truncated_message_is_invalid_data() {
        let batch = response(1, "127.0.0.1:1", "127.0.0.1:2", 5);
        let error = parse_batch(
            &batch[..batch.len() - 10],
            Proto::Tcp,
            false,
            &mut Vec::new(),
        )
        .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }

    /// What netlink-packet-sock-diag serializes for a request: the oracle for ours.
    fn crate_request(family: u8, protocol: u8, states: u32) -> Vec<u8> {
        let request = InetRequest {
            family,
            protocol,
            extensions: ExtensionFlags::empty(),
            states: StateFlags::from_bits_retain(states),
            socket_id: if family == AF_INET {
                SocketId::new_v4()
            } else {
                SocketId::new_v6()
            },
        };
        encode(
            SockDiagMessage::InetRequest(request).into(),
            NLM_F_REQUEST | NLM_F_DUMP,
        )
    }

    #[test]
    fn a_request_without_a_program_is_what_the_crate_sends() {
        for (family, protocol, states) in [
            (AF_INET, IPPROTO_TCP, States::ALL.0),
            (AF_INET6, IPPROTO_UDP, States::of_kernel(States::CLOSE).0),
            (AF_INET6, IPPROTO_TCP, 0xdead_beef),
        ] {
            assert_eq!(
                dump_request(family, protocol, states, None).unwrap(),
                crate_request(family, protocol, states)
            );
        }
    }

    #[test]
    fn a_program_rides_in_one_bytecode_attribute() {
        let program = [1, 4, 8, 0, 0, 4, 4, 0];
        let bytes = dump_request(
            AF_INET6,
            IPPROTO_TCP,
            States::of_kernel(States::LISTEN).0,
            Some(&program),
        )
        .unwrap();
        let mut expected =
            crate_request(AF_INET6, IPPROTO_TCP, States::of_kernel(States::LISTEN).0);
        expected.extend(12u16.to_ne_bytes());
        expected.extend(1u16.to_ne_bytes());
        expected.extend(program);
        expected[..4].copy_from_slice(&(16u32 + 56 + 12).to_ne_bytes());
        assert_eq!(bytes, expected);
    }

    #[test]
    fn a_program_longer_than_an_attribute_is_refused_before_sending() {
        let program = vec![0; usize::from(u16::MAX)];
        let error = dump_request(AF_INET, IPPROTO_TCP, States::ALL.0, Some(&program)).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    }
}

/// The real kernel, on loopback sockets this module opens: the program it runs must keep exactly
/// the sockets the expression keeps when evaluated here on the unfiltered dump.
#[cfg(test)]
pub(super) mod kernel_filter_tests {
    use super::*;
    use crate::filter::Query;
    use crate::filter::bytecode::tests::Generator;
    use crate::filter::bytecode::{HostCond, KernelExpr, PortOp, Prefix, Side};
    use crate::filter::kernel::{KernelFilter, request};
    use crate::model::{SocketState, States};
    use std::collections::BTreeSet;
    use std::io::Read;
    use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
    use std::time::{Duration, Instant};

    #[test]
    fn a_dumper_keeps_whole_tcp_info_only_of_the_cookies_asked_and_the_counters_of_all() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (server, _) = listener.accept().unwrap();
        let connected = |sockets: Vec<Socket>| -> Vec<Socket> {
            (sockets.into_iter())
                .filter(|s| s.state == SocketState::Established)
                .filter(|s| s.local.port() == port || s.remote.is_some_and(|r| r.port() == port))
                .collect()
        };
        let query = Query {
            tcp_info: true,
            ..Query::default()
        };
        let request = request(&query, Proto::Tcp);
        let mut dumper = Dumper::open().unwrap();
        let mut dumped = Vec::new();
        dumper.dump(Family::Ipv4, &request, &mut dumped).unwrap();
        let both = connected(dumped);
        assert_eq!(both.len(), 2, "{both:?}");
        for socket in &both {
            let info = socket.tcp_info.as_deref().expect("whole tcp_info");
            let bytes = socket.bytes.expect("the byte counters");
            assert_eq!(
                (bytes.received, bytes.acked),
                (info.bytes_received, info.bytes_acked)
            );
        }
        let kept = both[0].cookie.unwrap();
        dumper.keep_whole_info_of(Some(std::sync::Arc::new(HashSet::from([kept]))));
        let mut dumped = Vec::new();
        dumper.dump(Family::Ipv4, &request, &mut dumped).unwrap();
        let both = connected(dumped);
        assert_eq!(both.len(), 2, "{both:?}");
        for socket in &both {
            assert!(socket.bytes.is_some(), "{socket:?}");
            assert_eq!(
                socket.tcp_info.is_some(),
                socket.cookie == Some(kept),
                "{socket:?}"
            );
        }
        drop((client, server, listener));
    }

    /// The sockets one test holds open, and the ports that tell them from everyone else's.
    pub(in crate::platform::linux) struct Fixture {
        _held: Vec<Box<dyn std::any::Any>>,
        ports: BTreeSet<(Proto, u16)>,
        v4_listener: u16,
        v6_listener: u16,
        mapped_listener: u16,
        udp_v4: u16,
    }

    /// A listener with two established pairs, one pair closed by the client (TIME_WAIT on the
    /// client) and one closed by the server (TIME_WAIT on the accepted socket).
    fn serve(bind: &str, connect_host: &str, held: &mut Vec<Box<dyn std::any::Any>>) -> u16 {
        let listener = TcpListener::bind(bind).unwrap();
        let port = listener.local_addr().unwrap().port();
        let target = format!("{connect_host}:{port}");
        for _ in 0..2 {
            let client = TcpStream::connect(&target).unwrap();
            let (server, _) = listener.accept().unwrap();
            held.push(Box::new((client, server)));
        }
        for client_first in [true, false] {
            let client = TcpStream::connect(&target).unwrap();
            let (server, _) = listener.accept().unwrap();
            let (mut closer, mut peer) = if client_first {
                (client, server)
            } else {
                (server, client)
            };
            // The end that closes first is the one left in TIME_WAIT.
            closer.shutdown(Shutdown::Write).unwrap();
            peer.read_to_end(&mut Vec::new()).unwrap();
            drop(peer);
            closer.read_to_end(&mut Vec::new()).unwrap();
        }
        held.push(Box::new(listener));
        port
    }

    pub(in crate::platform::linux) fn fixture() -> Fixture {
        let mut held: Vec<Box<dyn std::any::Any>> = Vec::new();
        let v4_listener = serve("127.0.0.1:0", "127.0.0.1", &mut held);
        let v6_listener = serve("[::1]:0", "[::1]", &mut held);
        // An IPv6 socket on a v4-mapped address: the accepted sockets have ::ffff:127.0.0.1 ends.
        let mapped_listener = serve("[::ffff:127.0.0.1]:0", "127.0.0.1", &mut held);
        let udp_v4 = UdpSocket::bind("127.0.0.1:0").unwrap();
        let udp_v6 = UdpSocket::bind("[::1]:0").unwrap();
        let udp_v6_peer = UdpSocket::bind("[::1]:0").unwrap();
        udp_v6_peer.connect(udp_v6.local_addr().unwrap()).unwrap();
        let mut ports: BTreeSet<(Proto, u16)> = [v4_listener, v6_listener, mapped_listener]
            .map(|port| (Proto::Tcp, port))
            .into();
        for udp in [&udp_v4, &udp_v6, &udp_v6_peer] {
            ports.insert((Proto::Udp, udp.local_addr().unwrap().port()));
        }
        let udp_v4_port = udp_v4.local_addr().unwrap().port();
        held.push(Box::new((udp_v4, udp_v6, udp_v6_peer)));
        let fixture = Fixture {
            _held: held,
            ports,
            v4_listener,
            v6_listener,
            mapped_listener,
            udp_v4: udp_v4_port,
        };
        // The closes above finish on their own a moment later (the last ACK may wait for a
        // softirq): wait for all six TIME_WAITs and no socket of ours still closing.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let sockets = unfiltered(&fixture);
            let time_waits = sockets
                .iter()
                .filter(|s| s.state == SocketState::TimeWait)
                .count();
            let closing: Vec<&Socket> = sockets
                .iter()
                .filter(|s| {
                    matches!(
                        s.state,
                        SocketState::FinWait1
                            | SocketState::FinWait2
                            | SocketState::CloseWait
                            | SocketState::LastAck
                            | SocketState::Closing
                    )
                })
                .collect();
            if time_waits >= 6 && closing.is_empty() {
                return fixture;
            }
            // At net.ipv4.tcp_max_tw_buckets the kernel closes without a TIME_WAIT.
            let buckets = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_max_tw_buckets");
            assert!(
                Instant::now() < deadline,
                "{time_waits} of our 6 TIME_WAIT sockets (tcp_max_tw_buckets {}; `ss -s` counts \
                 the machine's), still closing: {closing:?}",
                buckets.as_deref().unwrap_or("unknown").trim()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    type Row = (Proto, SocketState, SocketAddr, Option<SocketAddr>);

    /// Every table, each protocol's asked with `request(proto)`.
    fn dump_all(request: impl Fn(Proto) -> Request) -> Result<Vec<Socket>, CollectError> {
        let mut dumper = Dumper::open()?;
        let mut out = Vec::new();
        for proto in [Proto::Tcp, Proto::Udp] {
            let request = request(proto);
            for family in [Family::Ipv4, Family::Ipv6] {
                dumper.dump(family, &request, &mut out)?;
            }
        }
        Ok(out)
    }

    /// The request that carries `filter` for `proto`, with its whole program (a test's fits).
    fn carrying(filter: &KernelFilter, proto: Proto) -> Request {
        let request = filter.clone().into_request(proto, false);
        assert_eq!(request.bytecode, filter.bytecode().unwrap(), "{filter:?}");
        request
    }

    /// The request for every socket, with `program` as its bytecode.
    fn with_program(program: Vec<u8>) -> impl Fn(Proto) -> Request {
        move |proto| {
            let mut request = request(&Query::default(), proto);
            request.bytecode = Some(program.clone());
            request
        }
    }

    pub(in crate::platform::linux) fn ours(fixture: &Fixture, sockets: Vec<Socket>) -> Vec<Socket> {
        sockets
            .into_iter()
            .filter(|s| {
                let ours = |port: u16| fixture.ports.contains(&(s.proto, port));
                ours(s.local.port()) || s.remote.is_some_and(|r| ours(r.port()))
            })
            .collect()
    }

    fn unfiltered(fixture: &Fixture) -> Vec<Socket> {
        ours(
            fixture,
            dump_all(|proto| request(&Query::default(), proto)).unwrap(),
        )
    }

    pub(in crate::platform::linux) fn rows<'a>(
        sockets: impl IntoIterator<Item = &'a Socket>,
    ) -> BTreeSet<Row> {
        sockets
            .into_iter()
            .map(|s| (s.proto, s.state, s.local, s.remote))
            .collect()
    }

    /// Two reads of a live machine's tables can disagree on sockets that were there all along:
    /// a netlink dump and /proc/net both walk hash buckets over several reads, and other
    /// programs' sockets coming and going in between shift the walk. A real difference repeats,
    /// so `read` runs up to three times until its two sides agree; the last pair is returned.
    pub(in crate::platform::linux) fn agree<T: PartialEq>(read: impl Fn() -> (T, T)) -> (T, T) {
        let mut pair = read();
        for _ in 1..3 {
            if pair.0 == pair.1 {
                break;
            }
            pair = read();
        }
        pair
    }

    fn port(side: Side, op: PortOp, port: u16) -> KernelExpr {
        KernelExpr::Port { side, op, port }
    }

    fn host(side: Side, prefix: Option<(&str, u8)>, port: Option<u16>) -> KernelExpr {
        KernelExpr::Host {
            side,
            cond: HostCond {
                prefix: prefix.map(|(a, l)| Prefix::new(a.parse().unwrap(), l).unwrap()),
                port,
            },
        }
    }

    pub(in crate::platform::linux) fn expressions(f: &Fixture) -> Vec<KernelExpr> {
        use PortOp::*;
        use Side::*;
        let mut all = Vec::new();
        for op in [Eq, Ne, Lt, Le, Ge, Gt] {
            all.push(port(Source, op, f.v4_listener));
            all.push(port(Destination, op, f.v6_listener));
            all.push(port(Destination, op, f.mapped_listener));
        }
        all.extend([
            KernelExpr::True,
            KernelExpr::False,
            host(Source, Some(("127.0.0.1", 32)), None),
            host(Destination, Some(("127.0.0.0", 8)), None),
            host(Source, Some(("0.0.0.0", 0)), None),
            host(Destination, Some(("10.0.0.0", 8)), None),
            host(Source, Some(("::1", 128)), None),
            host(Destination, Some(("::", 0)), None),
            host(Source, Some(("::ffff:127.0.0.1", 128)), None),
            host(Destination, Some(("::ffff:127.0.0.0", 104)), None),
            host(Source, Some(("127.0.0.1", 32)), Some(f.mapped_listener)),
            host(
                Destination,
                Some(("127.0.0.1", 32)),
                Some(f.mapped_listener),
            ),
            host(Source, None, Some(f.v6_listener)),
            host(Destination, None, Some(f.v4_listener)),
            host(Source, Some(("::1", 128)), Some(f.udp_v4)),
            host(Source, Some(("127.0.0.1", 32)), Some(f.udp_v4)),
            !port(Source, Eq, f.v4_listener),
            !host(Source, Some(("0.0.0.0", 0)), None),
            port(Source, Eq, f.v4_listener).or(port(Destination, Eq, f.v4_listener)),
            port(Source, Eq, f.mapped_listener)
                .or(port(Destination, Eq, f.mapped_listener))
                .and(!host(Source, Some(("::", 0)), None)),
            !(host(Source, Some(("::1", 128)), None).or(port(Destination, Ge, f.v6_listener)))
                .and(port(Source, Le, f.mapped_listener).or(KernelExpr::False)),
            !(!port(Source, Ne, f.v6_listener)).or(!KernelExpr::True),
            port(Source, Gt, 0)
                .and(port(Destination, Lt, u16::MAX))
                .and(!(port(Source, Eq, f.v4_listener).and(port(Destination, Eq, 0)))),
        ]);
        all
    }

    #[test]
    fn the_kernel_keeps_what_the_expression_keeps() {
        let fixture = fixture();
        let listening = (1 << 10) | (1 << 7);
        for states in [States::ALL.0, 1 << 1, 1 << 6, listening] {
            for expr in expressions(&fixture) {
                let filter = KernelFilter {
                    states: States(states),
                    expr,
                };
                let bytecode = filter.bytecode().unwrap();
                let (kernel, here) = agree(|| {
                    let everything = unfiltered(&fixture);
                    let kernel = dump_all(|proto| carrying(&filter, proto)).unwrap();
                    let kernel = ours(&fixture, kernel);
                    (
                        rows(&kernel),
                        rows(everything.iter().filter(|s| filter.keeps(s))),
                    )
                });
                assert_eq!(
                    kernel, here,
                    "states {states:#x}, {:?}, program {bytecode:?}",
                    filter.expr
                );
            }
        }
    }

    #[test]
    fn the_kernel_keeps_what_generated_expressions_keep() {
        let fixture = fixture();
        let mut ports: Vec<u16> = fixture.ports.iter().map(|&(_, port)| port).collect();
        let listeners = [
            fixture.v4_listener,
            fixture.v6_listener,
            fixture.mapped_listener,
        ];
        ports.extend(
            listeners
                .iter()
                .flat_map(|p| [p.saturating_sub(1), p.saturating_add(1)]),
        );
        ports.extend([0, 1, u16::MAX]);
        let mut generate = Generator::new(
            0x2545_f491_4f6c_dd1d,
            &ports,
            &["127.0.0.1", "127.0.0.2", "10.0.0.1", "0.0.0.0"],
            &[
                "::1",
                "::",
                "::ffff:127.0.0.1",
                "::ffff:10.0.0.1",
                "fe80::1",
            ],
        );
        let masks = [
            States::ALL.0,
            1 << 1,
            1 << 6,
            (1 << 10) | (1 << 7),
            (1 << 1) | (1 << 6),
        ];
        let total = rows(&unfiltered(&fixture)).len();
        let mut selective = 0;
        for round in 0..300 {
            let filter = KernelFilter {
                states: States(masks[round % masks.len()]),
                expr: generate.expr(3),
            };
            let bytecode = filter.bytecode().unwrap();
            let (kernel, here) = agree(|| {
                let everything = unfiltered(&fixture);
                let kernel = dump_all(|proto| carrying(&filter, proto)).unwrap();
                let kernel = ours(&fixture, kernel);
                let here = everything.iter().filter(|s| filter.keeps(s));
                (rows(&kernel), rows(here))
            });
            assert_eq!(kernel, here, "{filter:?}, program {bytecode:?}");
            if !here.is_empty() && here.len() < total {
                selective += 1;
            }
        }
        assert!(
            selective > 100,
            "only {selective} of 300 kept some but not all"
        );
    }

    #[test]
    fn the_fixture_and_the_filters_select_what_they_say() {
        use SocketState::{Established, Listen, TimeWait};
        let fixture = fixture();
        let keep = |expr: KernelExpr| {
            let filter = KernelFilter {
                states: States::ALL,
                expr,
            };
            ours(
                &fixture,
                dump_all(|proto| carrying(&filter, proto)).unwrap(),
            )
        };
        // The v4 listener, its two accepted sockets still open, and the TIME_WAIT of the pair
        // the server closed first (the other pair's TIME_WAIT is on the client's port).
        let (v4, expected) = agree(|| {
            let v4 = keep(port(Side::Source, PortOp::Eq, fixture.v4_listener));
            let states: BTreeSet<SocketState> = v4.iter().map(|s| s.state).collect();
            (
                (v4.len(), states),
                (4, state_set(&[Listen, Established, TimeWait])),
            )
        });
        assert_eq!(v4, expected);
        // Only the IPv6 sockets of the mapped listener have v4-mapped local addresses.
        let (mapped, expected) = agree(|| {
            let mapped: Vec<Socket> = keep(host(Side::Source, Some(("127.0.0.0", 8)), None))
                .into_iter()
                .filter(|s| s.family() == Family::Ipv6)
                .collect();
            let ports: BTreeSet<u16> = mapped.iter().map(|s| s.local.port()).collect();
            (
                (mapped.len(), ports),
                (4, BTreeSet::from([fixture.mapped_listener])),
            )
        });
        assert_eq!(mapped, expected);
        assert!(keep(KernelExpr::False).is_empty());
        let (all, unfiltered) =
            agree(|| (rows(&keep(KernelExpr::True)), rows(&unfiltered(&fixture))));
        assert_eq!(all, unfiltered);
    }

    fn state_set(states: &[SocketState]) -> BTreeSet<SocketState> {
        states.iter().copied().collect()
    }

    #[test]
    fn the_kernel_runs_always_true_and_always_false_programs() {
        let fixture = fixture();
        for (expr, keeps_all) in [(KernelExpr::True, true), (KernelExpr::False, false)] {
            let program = expr.compile().unwrap();
            let (kept, expected) = agree(|| {
                let expected = if keeps_all {
                    unfiltered(&fixture)
                } else {
                    Vec::new()
                };
                let kept = ours(&fixture, dump_all(with_program(program.clone())).unwrap());
                (rows(&kept), rows(&expected))
            });
            assert_eq!(kept, expected, "{expr:?}");
        }
    }

    #[test]
    fn a_program_the_kernel_refuses_is_an_error_not_an_empty_table() {
        // Op code 99 does not exist; a jump into the middle of an op; a yes past the end.
        for program in [
            vec![99, 4, 8, 0],
            vec![11, 8, 6, 0, 0, 0, 80, 0],
            vec![0, 8, 0, 0],
        ] {
            let error = dump_all(with_program(program.clone())).unwrap_err();
            assert_eq!(
                error.source.raw_os_error(),
                Some(libc::EINVAL),
                "{program:?}: {error}"
            );
        }
    }

    /// The TCP sockets `ss -tanH FILTER` lists, as (local, peer); a peer `*:*` is `None`.
    fn ss_rows(fixture: &Fixture, filter: &str) -> BTreeSet<(SocketAddr, Option<SocketAddr>)> {
        let output = std::process::Command::new("ss")
            .args(["-tanH", filter])
            .output()
            .expect("ss (iproute2) is the oracle here");
        assert!(output.status.success(), "ss -tanH {filter:?}: {output:?}");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let local: SocketAddr = fields.get(3)?.parse().ok()?;
                Some((local, fields.get(4)?.parse::<SocketAddr>().ok()))
            })
            .filter(|(local, peer)| {
                let ours = |port: u16| fixture.ports.contains(&(Proto::Tcp, port));
                ours(local.port()) || peer.is_some_and(|p| ours(p.port()))
            })
            .collect()
    }

    #[test]
    #[cfg_attr(not(has_ss), ignore = "needs ss (apt-get install iproute2)")]
    fn ss_with_the_same_filter_keeps_the_same_sockets() {
        use PortOp::*;
        use Side::*;
        let fixture = fixture();
        let (p4, pm) = (fixture.v4_listener, fixture.mapped_listener);
        // The order comparisons pivot on the middle of the fixture's own TCP ports, so that
        // each keeps some of them whatever ports the kernel handed out.
        let tcp_ports: Vec<u16> = fixture
            .ports
            .iter()
            .filter(|(proto, _)| *proto == Proto::Tcp)
            .map(|&(_, port)| port)
            .collect();
        let mid = tcp_ports[tcp_ports.len() / 2];
        let cases = [
            (format!("sport = :{p4}"), port(Source, Eq, p4)),
            (format!("sport != :{p4}"), port(Source, Ne, p4)),
            (format!("dport < :{mid}"), port(Destination, Lt, mid)),
            (format!("dport le :{mid}"), port(Destination, Le, mid)),
            (format!("sport >= :{mid}"), port(Source, Ge, mid)),
            (format!("sport gt :{mid}"), port(Source, Gt, mid)),
            (
                "src 127.0.0.1".to_string(),
                host(Source, Some(("127.0.0.1", 32)), None),
            ),
            (
                "dst 127.0.0.0/8".to_string(),
                host(Destination, Some(("127.0.0.0", 8)), None),
            ),
            (
                "src [::1]".to_string(),
                host(Source, Some(("::1", 128)), None),
            ),
            (
                "src [::ffff:127.0.0.1]".to_string(),
                host(Source, Some(("::ffff:127.0.0.1", 128)), None),
            ),
            (
                format!("dst 127.0.0.1:{pm}"),
                host(Destination, Some(("127.0.0.1", 32)), Some(pm)),
            ),
            (
                format!("( sport = :{p4} or dport = :{p4} ) and not src [::1]"),
                port(Source, Eq, p4)
                    .or(port(Destination, Eq, p4))
                    .and(!host(Source, Some(("::1", 128)), None)),
            ),
        ];
        for (text, expr) in cases {
            let filter = KernelFilter {
                states: States::ALL,
                expr,
            };
            let request = carrying(&filter, Proto::Tcp);
            let (ours, ss) = agree(|| {
                let mut kernel = Vec::new();
                let mut dumper = Dumper::open().unwrap();
                for family in [Family::Ipv4, Family::Ipv6] {
                    dumper.dump(family, &request, &mut kernel).unwrap();
                }
                let ours: BTreeSet<_> = ours(&fixture, kernel)
                    .into_iter()
                    .map(|s| (s.local, s.remote))
                    .collect();
                (ours, ss_rows(&fixture, &text))
            });
            assert!(!ours.is_empty(), "{text}: the fixture has sockets it keeps");
            assert_eq!(ours, ss, "{text}");
        }
    }
}
