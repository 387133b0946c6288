//! Unix domain sockets over NETLINK_SOCK_DIAG (UNIX_DIAG, linux/unix_diag.h), as `ss -x`.

use std::io;

use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, NLMSG_OVERRUN,
    NetlinkBuffer,
};
use netlink_packet_sock_diag::constants::{AF_UNIX, SOCK_DIAG_BY_FAMILY};
use netlink_sys::protocols::NETLINK_SOCK_DIAG;
use netlink_sys::{Socket as NetlinkSocket, SocketAddr as NetlinkAddr};

use crate::model::{States, UnixPath, UnixSocket, UnixType};
use crate::platform::error::CollectError;

const RECV_BUFFER_BYTES: usize = 64 * 1024;
const NETLINK_HEADER_BYTES: usize = 16;
/// `struct unix_diag_req`: family, protocol, pad, states, ino, show, cookie[2].
const UNIX_DIAG_REQ_BYTES: usize = 24;
/// `struct unix_diag_msg`: family, type, state, pad, ino, cookie[2].
const UNIX_DIAG_MSG_BYTES: usize = 16;

const UNIX_DIAG_NAME: u16 = 0;
const UNIX_DIAG_PEER: u16 = 2;
const UNIX_DIAG_RQLEN: u16 = 4;
const UNIX_DIAG_UID: u16 = 7;
const UDIAG_SHOW_NAME: u32 = 1 << 0;
const UDIAG_SHOW_PEER: u32 = 1 << 2;
const UDIAG_SHOW_RQLEN: u32 = 1 << 4;
/// Linux 5.3+; older kernels ignore the bit and the uid stays unknown.
const UDIAG_SHOW_UID: u32 = 1 << 6;

/// Every Unix socket state a dump can ask for: which of them to keep is the caller's choice.
const ALL_STATES: States = States::of_kernel(States::ESTABLISHED)
    .union(States::of_kernel(States::SYN_SENT))
    .union(States::of_kernel(States::CLOSE))
    .union(States::of_kernel(States::LISTEN));

/// Every Unix socket of this network namespace, peers' paths resolved.
pub fn dump() -> Result<Vec<UnixSocket>, CollectError> {
    let context = "dumping unix sockets over sock_diag";
    let wrap = |e| CollectError::new(context, e);
    let mut socket = NetlinkSocket::new(NETLINK_SOCK_DIAG).map_err(wrap)?;
    socket.bind_auto().map_err(wrap)?;
    socket.connect(&NetlinkAddr::new(0, 0)).map_err(wrap)?;
    socket.send(&dump_request(), 0).map_err(wrap)?;
    let mut buffer = vec![0; RECV_BUFFER_BYTES];
    let mut out = Vec::new();
    loop {
        let received = socket.recv(&mut &mut buffer[..], 0).map_err(wrap)?;
        let batch = &buffer[..received.min(buffer.len())];
        if parse_batch(batch, &mut out).map_err(wrap)? {
            break;
        }
    }
    crate::model::resolve_peers(&mut out);
    Ok(out)
}

/// Asks for what we show: name, peer, queues, uid. Not UNIX_DIAG_VFS (the bound file's device
/// and inode): nothing shows it, and at 100k sockets every unused attribute costs.
fn dump_request() -> Vec<u8> {
    let length = NETLINK_HEADER_BYTES + UNIX_DIAG_REQ_BYTES;
    let mut out = Vec::with_capacity(length);
    out.extend((length as u32).to_ne_bytes());
    out.extend(SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    out.extend((NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    out.extend([0; 8]);
    out.extend([AF_UNIX, 0, 0, 0]);
    out.extend(ALL_STATES.0.to_ne_bytes());
    out.extend(0u32.to_ne_bytes());
    let show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN | UDIAG_SHOW_UID;
    out.extend(show.to_ne_bytes());
    // A cookie of all ones: "no particular socket".
    out.extend([0xff; 8]);
    out
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 4)?;
    Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

/// Decode one datagram of replies into `out`; true once the dump is done.
pub(super) fn parse_batch(mut rest: &[u8], out: &mut Vec<UnixSocket>) -> io::Result<bool> {
    let invalid = |why: String| io::Error::new(io::ErrorKind::InvalidData, why);
    while !rest.is_empty() {
        let message = NetlinkBuffer::new_checked(rest).map_err(|e| invalid(e.to_string()))?;
        if message.flags() & NLM_F_DUMP_INTR != 0 {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "dump interrupted by concurrent changes",
            ));
        }
        let payload = message.payload();
        match message.message_type() {
            SOCK_DIAG_BY_FAMILY => out.extend(parse_socket(payload)),
            NLMSG_DONE | NLMSG_ERROR => {
                let code = u32_at(payload, 0).map_or(0, |c| c as i32);
                return match code {
                    0 if message.message_type() == NLMSG_DONE => Ok(true),
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
    Ok(false)
}

/// One `unix_diag_msg` and its attributes; `None` for a type or state we do not list, or a
/// message too short to be one.
pub(super) fn parse_socket(payload: &[u8]) -> Option<UnixSocket> {
    let header = payload.get(..UNIX_DIAG_MSG_BYTES)?;
    let kind = UnixType::from_kernel(header[1])?;
    let state = UnixSocket::state_from_kernel(header[2])?;
    let inode = u64::from(u32_at(header, 4)?);
    let mut socket = UnixSocket {
        kind,
        state,
        path: UnixPath::Unnamed,
        inode,
        peer_inode: None,
        peer_known: true,
        peer_path: None,
        recv_q: None,
        send_q: None,
        uid: None,
        pids: Vec::new(),
        netns: None,
    };
    let mut attributes = &payload[UNIX_DIAG_MSG_BYTES..];
    while attributes.len() >= 4 {
        let length = usize::from(u16::from_ne_bytes([attributes[0], attributes[1]]));
        let kind = u16::from_ne_bytes([attributes[2], attributes[3]]);
        let Some(value) = attributes.get(4..length) else {
            break;
        };
        match kind {
            UNIX_DIAG_NAME => socket.path = UnixPath::from_kernel(value),
            // Peer 0: a listener's embryo or a dgram socket connected to nobody.
            UNIX_DIAG_PEER => {
                socket.peer_inode = u32_at(value, 0).filter(|&p| p != 0).map(u64::from)
            }
            UNIX_DIAG_RQLEN => {
                socket.recv_q = u32_at(value, 0);
                socket.send_q = u32_at(value, 4);
            }
            UNIX_DIAG_UID => socket.uid = u32_at(value, 0),
            _ => {}
        }
        let aligned = (length + 3) & !3;
        attributes = attributes.get(aligned.max(4)..).unwrap_or_default();
    }
    Some(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attribute(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend(((4 + value.len()) as u16).to_ne_bytes());
        out.extend(kind.to_ne_bytes());
        out.extend(value);
        out.resize((out.len() + 3) & !3, 0);
        out
    }

    #[test]
    fn a_message_with_every_attribute() {
        let mut payload = vec![AF_UNIX, 1, 10, 0];
        payload.extend(4242u32.to_ne_bytes());
        payload.extend([0; 8]);
        payload.extend(attribute(UNIX_DIAG_NAME, b"\0abstract"));
        payload.extend(attribute(UNIX_DIAG_RQLEN, &[3, 0, 0, 0, 128, 0, 0, 0]));
        payload.extend(attribute(UNIX_DIAG_PEER, &0u32.to_ne_bytes()));
        payload.extend(attribute(UNIX_DIAG_UID, &1000u32.to_ne_bytes()));
        let socket = parse_socket(&payload).unwrap();
        assert_eq!(socket.kind, UnixType::Stream);
        assert_eq!(socket.state, crate::model::SocketState::Listen);
        assert_eq!(socket.inode, 4242);
        assert_eq!(socket.path, UnixPath::Abstract(b"abstract".to_vec()));
        assert_eq!((socket.recv_q, socket.send_q), (Some(3), Some(128)));
        assert_eq!(socket.peer_inode, None);
        assert_eq!(socket.uid, Some(1000));
        // A truncated header is no socket, not a panic.
        assert_eq!(parse_socket(&payload[..10]), None);
    }
}

/// `/proc/net/unix` when UNIX_DIAG is missing (no unix_diag module): the same sockets, without
/// queues, peers or uids (unknown, never 0).
pub fn read_proc_net_unix() -> Result<Vec<UnixSocket>, CollectError> {
    // The calling thread's namespace (`-N`), not the process's first thread's.
    let bytes = std::fs::read("/proc/thread-self/net/unix")
        .map_err(|e| CollectError::new("reading /proc/thread-self/net/unix", e))?;
    Ok(bytes
        .split(|&b| b == b'\n')
        .skip(1)
        .filter_map(parse_proc_line)
        .collect())
}

/// `Num RefCount Protocol Flags Type St Inode [Path]`, numbers in hex except the inode.
pub(super) fn parse_proc_line(line: &[u8]) -> Option<UnixSocket> {
    let text = std::str::from_utf8(line.get(..line.len().min(128))?).unwrap_or("");
    let mut fields = text.split_ascii_whitespace();
    let _num = fields.next()?;
    let _refcount = fields.next()?;
    let _protocol = fields.next()?;
    let flags = u32::from_str_radix(fields.next()?, 16).ok()?;
    let kind = UnixType::from_kernel(u8::from_str_radix(fields.next()?, 16).ok()?)?;
    let socket_state = u8::from_str_radix(fields.next()?, 16).ok()?;
    let inode_text = fields.next()?;
    let inode: u64 = inode_text.parse().ok()?;
    // The path is the rest of the line after the inode and one space; it may hold spaces.
    let inode_end = line
        .windows(inode_text.len())
        .position(|w| w == inode_text.as_bytes())?
        + inode_text.len();
    let path = match line.get(inode_end + 1..) {
        None | Some([]) => UnixPath::Unnamed,
        // The kernel prints an abstract name's NUL as `@`.
        Some([b'@', name @ ..]) => UnixPath::Abstract(name.to_vec()),
        Some(path) => UnixPath::File(path.to_vec()),
    };
    const ACCEPTING_CONNECTIONS: u32 = 1 << 16;
    let state = if flags & ACCEPTING_CONNECTIONS != 0 {
        crate::model::SocketState::Listen
    } else {
        match socket_state {
            2 => crate::model::SocketState::SynSent,
            3 => crate::model::SocketState::Established,
            _ => crate::model::SocketState::Unconn,
        }
    };
    Some(UnixSocket {
        kind,
        state,
        path,
        inode,
        peer_inode: None,
        peer_known: false,
        peer_path: None,
        recv_q: None,
        send_q: None,
        uid: None,
        pids: Vec::new(),
        netns: None,
    })
}

#[cfg(test)]
mod proc_tests {
    use super::*;
    use crate::model::SocketState;

    #[test]
    fn proc_net_unix_lines() {
        let listener = parse_proc_line(
            b"0000000000000000: 00000002 00000000 00010000 0001 01 20915 /run/a b.sock",
        )
        .unwrap();
        assert_eq!(listener.state, SocketState::Listen);
        assert_eq!(listener.inode, 20915);
        assert_eq!(listener.path, UnixPath::File(b"/run/a b.sock".to_vec()));
        assert_eq!(listener.recv_q, None);
        let connected =
            parse_proc_line(b"0000000000000000: 00000003 00000000 00000000 0001 03 21000").unwrap();
        assert_eq!(connected.state, SocketState::Established);
        assert_eq!(connected.path, UnixPath::Unnamed);
        let dgram =
            parse_proc_line(b"0000000000000000: 00000002 00000000 00000000 0002 01 21001 @name")
                .unwrap();
        assert_eq!(
            (dgram.kind, dgram.state),
            (UnixType::Dgram, SocketState::Unconn)
        );
        assert_eq!(dgram.path, UnixPath::Abstract(b"name".to_vec()));
        assert!(parse_proc_line(b"garbage").is_none());
    }
}
