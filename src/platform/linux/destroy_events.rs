//! The kernel's close notices: NETLINK_SOCK_DIAG's socket-destroy multicast groups, which report
//! every TCP/UDP socket as it is destroyed, with its cookie and final tcp_info (what `ss -E` shows).

use std::io;
use std::os::fd::AsRawFd;
use std::sync::mpsc::Sender;
use std::time::SystemTime;

use netlink_packet_core::{NLMSG_OVERRUN, NetlinkBuffer};
use netlink_packet_sock_diag::constants::{IPPROTO_TCP, IPPROTO_UDP, SOCK_DIAG_BY_FAMILY};
use netlink_sys::Socket as NetlinkSocket;
use netlink_sys::protocols::NETLINK_SOCK_DIAG;

use super::kernel_socket::TABLES;
use super::{sock_diag, tcp_info};
use crate::filter::Query;
use crate::model::{Family, Proto, Socket};
use crate::platform::close_notice::CloseNotice;

/// `enum sknetlink_groups` (linux/sock_diag.h).
const SKNLGRP_INET_TCP_DESTROY: u32 = 1;
const SKNLGRP_INET_UDP_DESTROY: u32 = 2;
const SKNLGRP_INET6_TCP_DESTROY: u32 = 3;
const SKNLGRP_INET6_UDP_DESTROY: u32 = 4;

/// The attribute naming the socket's protocol (linux/inet_diag.h): one socket hears all groups.
const INET_DIAG_PROTOCOL: u16 = 10;
/// `struct inet_diag_msg`, the fixed part each notice starts with.
const INET_DIAG_MSG_BYTES: usize = 72;

/// Room for thousands of notices queued in the kernel while the reader is busy: a burst of
/// closes must not overrun it.
const RECEIVE_BUFFER_BYTES: libc::c_int = 32 << 20;
/// One notice is a few hundred bytes; a datagram holds one.
const DATAGRAM_BYTES: usize = 64 * 1024;

fn group(proto: Proto, family: Family) -> u32 {
    match (proto, family) {
        (Proto::Tcp, Family::Ipv4) => SKNLGRP_INET_TCP_DESTROY,
        (Proto::Udp, Family::Ipv4) => SKNLGRP_INET_UDP_DESTROY,
        (Proto::Tcp, Family::Ipv6) => SKNLGRP_INET6_TCP_DESTROY,
        (Proto::Udp, Family::Ipv6) => SKNLGRP_INET6_UDP_DESTROY,
    }
}

/// Subscribe to the close notices of the query's protocols and families and send them on
/// `sender` from a thread of its own. Linux lets any user subscribe (sock_diag's groups are
/// NL_CFG_F_NONROOT_RECV); an old kernel without them, or a sandbox, refuses.
/// `netns` labels the closed sockets with their namespace (`--all-netns`).
pub fn start(query: &Query, sender: Sender<CloseNotice>, netns: Option<u64>) -> io::Result<()> {
    let socket = subscribe(query, RECEIVE_BUFFER_BYTES)?;
    std::thread::Builder::new()
        .name("close-notices".to_string())
        .spawn(move || read_notices(&socket, &sender, netns))?;
    Ok(())
}

/// A socket that hears the query's close notices, with room for `buffer_bytes` of them.
fn subscribe(query: &Query, buffer_bytes: libc::c_int) -> io::Result<NetlinkSocket> {
    let mut socket = NetlinkSocket::new(NETLINK_SOCK_DIAG)?;
    socket.bind_auto()?;
    for (proto, family) in TABLES {
        if query.wants_proto(proto) && query.wants_family(family) {
            socket.add_membership(group(proto, family))?;
        }
    }
    set_receive_buffer(&socket, buffer_bytes);
    Ok(socket)
}

/// SO_RCVBUFFORCE passes the system's limit (as root); SO_RCVBUF is capped by it.
fn set_receive_buffer(socket: &NetlinkSocket, size: libc::c_int) {
    for option in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: a valid socket fd and an int option value of the size given.
        let result = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                option,
                (&raw const size).cast(),
                std::mem::size_of_val(&size) as libc::socklen_t,
            )
        };
        if result == 0 {
            return;
        }
    }
}

fn read_notices(socket: &NetlinkSocket, sender: &Sender<CloseNotice>, netns: Option<u64>) {
    let mut buffer = vec![0u8; DATAGRAM_BYTES];
    loop {
        let notice = match socket.recv(&mut &mut buffer[..], 0) {
            Ok(received) => {
                let datagram = &buffer[..received.min(buffer.len())];
                let mut sockets = closed_sockets(datagram);
                if sockets.is_empty() {
                    continue;
                }
                for socket in &mut sockets {
                    socket.netns = netns;
                }
                CloseNotice::Closed {
                    sockets,
                    at: SystemTime::now(),
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => CloseNotice::Overrun,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = sender.send(CloseNotice::Ended(e));
                return;
            }
        };
        // Nobody listens any more: the watch has ended.
        if sender.send(notice).is_err() {
            return;
        }
    }
}

/// The sockets one datagram of notices reports destroyed; anything unreadable is skipped (a
/// notice is never an error that could stop the others).
pub(super) fn closed_sockets(mut rest: &[u8]) -> Vec<Socket> {
    let mut sockets = Vec::new();
    while let Ok(message) = NetlinkBuffer::new_checked(rest) {
        let payload = message.payload();
        match message.message_type() {
            SOCK_DIAG_BY_FAMILY => {
                let attributes = payload.get(INET_DIAG_MSG_BYTES..).unwrap_or_default();
                let proto = tcp_info::attributes(attributes)
                    .find(|&(kind, _)| kind == INET_DIAG_PROTOCOL)
                    .and_then(|(_, value)| match value.first().copied()? {
                        IPPROTO_TCP => Some(Proto::Tcp),
                        IPPROTO_UDP => Some(Proto::Udp),
                        _ => None,
                    });
                let socket = proto.and_then(|proto| {
                    sock_diag::socket_of(payload, proto, proto == Proto::Tcp)
                        .ok()
                        .flatten()
                });
                if let Some(mut socket) = socket {
                    // The kernel fills no timer in a notice: its zeros are not a reading.
                    socket.timer = None;
                    sockets.push(socket);
                }
            }
            NLMSG_OVERRUN => break,
            _ => {}
        }
        let aligned = (message.length() as usize + 3) & !3;
        match rest.get(aligned..) {
            Some(next) if aligned > 0 => rest = next,
            _ => break,
        }
    }
    sockets
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::kernel::request;
    use crate::model::SocketState;
    use std::net::{TcpListener, TcpStream};
    use std::sync::mpsc::channel;
    use std::time::{Duration, Instant};

    /// A notice as the kernel lays it out: nlmsghdr, inet_diag_msg, then the attributes.
    fn notice(protocol: Option<u8>, state: u8, cookie: u64) -> Vec<u8> {
        let mut payload = vec![libc::AF_INET as u8, state, 0, 0];
        payload.extend(40000u16.to_be_bytes());
        payload.extend(8080u16.to_be_bytes());
        payload.extend([127, 0, 0, 1]);
        payload.extend([0; 12]);
        payload.extend([127, 0, 0, 1]);
        payload.extend([0; 12]);
        payload.extend(0u32.to_ne_bytes());
        payload.extend((cookie as u32).to_ne_bytes());
        payload.extend(((cookie >> 32) as u32).to_ne_bytes());
        // expires, rqueue, wqueue, uid, inode
        for value in [0u32, 0, 0, 1000, 0] {
            payload.extend(value.to_ne_bytes());
        }
        assert_eq!(payload.len(), INET_DIAG_MSG_BYTES);
        if let Some(protocol) = protocol {
            payload.extend(5u16.to_ne_bytes());
            payload.extend(INET_DIAG_PROTOCOL.to_ne_bytes());
            payload.extend([protocol, 0, 0, 0]);
        }
        let mut message = Vec::new();
        message.extend((16 + payload.len() as u32).to_ne_bytes());
        message.extend(SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        message.extend([0; 10]);
        message.extend(payload);
        message
    }

    /// Notices the kernel could not queue are reported as an overrun, never lost silently.
    #[test]
    fn notices_dropped_by_the_kernel_are_an_overrun_not_silence() {
        let query = Query {
            udp: false,
            ipv6: false,
            ..Query::default()
        };
        let socket = subscribe(&query, 1).expect("subscribing (these tests run as root)");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        for _ in 0..50 {
            let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (server, _) = listener.accept().unwrap();
            drop((client, server));
        }
        // The kernel sends notices from a work queue: wait until it has dropped some (its
        // count is in /proc/net/netlink), so the reader cannot have drained them in time.
        let deadline = Instant::now() + Duration::from_secs(5);
        while drops(&socket) == 0 {
            assert!(Instant::now() < deadline, "the kernel dropped no notice");
            std::thread::sleep(Duration::from_millis(10));
        }
        let (sender, notices) = channel();
        std::thread::spawn(move || read_notices(&socket, &sender, None));
        // The kernel tells of the drops once the notices it did queue are read.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match notices.recv_timeout(left).expect("an overrun notice") {
                CloseNotice::Overrun => break,
                CloseNotice::Ended(e) => panic!("{e}"),
                CloseNotice::Closed { .. } => {}
            }
        }
    }

    /// The Drops column of /proc/net/netlink for this socket, found by its inode.
    fn drops(socket: &NetlinkSocket) -> u64 {
        // SAFETY: fstat on a valid fd into a zeroed stat buffer.
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::fstat(socket.as_raw_fd(), &mut stat) }, 0);
        let table = std::fs::read_to_string("/proc/net/netlink").unwrap();
        let row = table
            .lines()
            .map(|line| line.split_whitespace().collect::<Vec<_>>())
            .find(|fields| fields.get(9) == Some(&stat.st_ino.to_string().as_str()))
            .expect("our socket in /proc/net/netlink");
        row[8].parse().unwrap()
    }

    #[test]
    fn a_notice_names_its_protocol_and_cookie() {
        let mut datagram = notice(Some(IPPROTO_TCP), 7, 0x1_0000_0002);
        datagram.extend(notice(Some(IPPROTO_UDP), 7, 5));
        datagram.extend(notice(None, 7, 6));
        let sockets = closed_sockets(&datagram);
        assert_eq!(sockets.len(), 2, "{sockets:?}");
        assert_eq!(sockets[0].proto, Proto::Tcp);
        assert_eq!(sockets[0].state, SocketState::Close);
        assert_eq!(sockets[0].cookie, Some(0x1_0000_0002));
        assert_eq!(sockets[0].local, "127.0.0.1:40000".parse().unwrap());
        assert_eq!(sockets[0].inode, None);
        assert_eq!(sockets[0].timer, None);
        assert_eq!(sockets[1].proto, Proto::Udp);
        assert_eq!(sockets[1].state, SocketState::Unconn);
        assert_eq!(sockets[1].cookie, Some(5));
    }

    #[test]
    fn a_truncated_datagram_keeps_the_whole_notices() {
        let mut datagram = notice(Some(IPPROTO_TCP), 7, 1);
        datagram.extend(&notice(Some(IPPROTO_TCP), 7, 2)[..50]);
        let sockets = closed_sockets(&datagram);
        assert_eq!(sockets.len(), 1);
    }

    /// The real kernel: a loopback connection a dump listed is reported closed under the same
    /// cookie, with its final byte counters.
    #[test]
    fn the_kernel_reports_a_closed_connection_under_its_dump_cookie() {
        let query = Query {
            udp: false,
            ipv6: false,
            ..Query::default()
        };
        let (sender, notices) = channel();
        if let Err(e) = start(&query, sender, None) {
            panic!("subscribing to close notices (these tests run as root): {e}");
        }
        // A flood of other closes (a test before this one leaving thousands of TIME_WAIT
        // sockets to expire) can overrun the queue and drop our notice: the kernel then said
        // so (ENOBUFS), and the connection is tried again; a notice missing without an overrun
        // fails at once.
        let mut attempts = 0;
        let (closed, client_end) = loop {
            attempts += 1;
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let client_end = client.local_addr().unwrap();
            std::io::Write::write_all(&mut client, b"hello").unwrap();
            let (server, _) = listener.accept().unwrap();
            let mut dumped = Vec::new();
            sock_diag::Dumper::open()
                .unwrap()
                .dump(Family::Ipv4, &request(&query, Proto::Tcp), &mut dumped)
                .unwrap();
            let cookie = dumped
                .iter()
                .find(|s| s.local == client_end)
                .and_then(|s| s.cookie)
                .expect("the dump gives the client's cookie");
            drop(client);
            drop(server);
            let deadline = Instant::now() + Duration::from_secs(5);
            let mut overrun = false;
            let closed = loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match notices.recv_timeout(left) {
                    Ok(CloseNotice::Closed { sockets, .. }) => {
                        if let Some(s) = sockets.into_iter().find(|s| s.cookie == Some(cookie)) {
                            break Some(s);
                        }
                    }
                    Ok(CloseNotice::Overrun) => overrun = true,
                    Ok(CloseNotice::Ended(e)) => panic!("notices ended: {e}"),
                    Err(_) => break None,
                }
            };
            match closed {
                Some(closed) => break (closed, client_end),
                None if overrun && attempts < 3 => continue,
                None => panic!("no close notice in time (overrun seen: {overrun})"),
            }
        };
        assert_eq!(closed.local, client_end);
        let info = closed.tcp_info.expect("final tcp_info");
        assert_eq!(info.bytes_acked.map(|b| b >= 5), Some(true), "{info:?}");
    }
}
