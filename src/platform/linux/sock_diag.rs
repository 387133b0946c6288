//! The socket dump over NETLINK_SOCK_DIAG: what `ss` does, with the kernel's own filters.

use std::io;
use std::net::SocketAddr;

use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
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
const ALL_STATES: u32 = u32::MAX;

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
            let mut rest = &self.buffer[..received.min(self.buffer.len())];
            while !rest.is_empty() {
                let message = NetlinkMessage::<SockDiagMessage>::deserialize(rest)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                let length = message.header.length as usize;
                if message.header.flags & NLM_F_DUMP_INTR != 0 {
                    // The table changed under the dump: the kernel cannot promise consistency.
                    return Err(io::Error::new(
                        io::ErrorKind::Interrupted,
                        "dump interrupted by concurrent changes",
                    ));
                }
                match message.payload {
                    NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(response)) => {
                        let header = &response.header;
                        let id = &header.socket_id;
                        let raw = KernelSocket {
                            proto,
                            state: header.state,
                            local: SocketAddr::new(id.source_address, id.source_port),
                            remote: SocketAddr::new(id.destination_address, id.destination_port),
                            recv_q: header.recv_queue,
                            send_q: header.send_queue,
                            uid: header.uid,
                            inode: u64::from(header.inode),
                        };
                        out.extend(raw.into_socket());
                    }
                    NetlinkPayload::Done(done) => {
                        return if done.code < 0 {
                            Err(io::Error::from_raw_os_error(-done.code))
                        } else {
                            Ok(())
                        };
                    }
                    NetlinkPayload::Error(error) => {
                        return Err(match error.code {
                            Some(code) => io::Error::from_raw_os_error(-code.get()),
                            None => io::Error::other("unexpected ACK in a dump"),
                        });
                    }
                    NetlinkPayload::Overrun(_) => {
                        return Err(io::Error::other("netlink buffer overrun"));
                    }
                    _ => {}
                }
                let aligned = (length + 3) & !3;
                if length == 0 || aligned >= rest.len() {
                    break;
                }
                rest = &rest[aligned..];
            }
        }
    }
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

    #[test]
    fn state_masks_follow_netstat_listening() {
        assert_eq!(state_mask(Proto::Tcp, Listening::Only), 1 << 10);
        assert_eq!(state_mask(Proto::Tcp, Listening::Exclude) & (1 << 10), 0);
        assert_ne!(state_mask(Proto::Tcp, Listening::Exclude) & (1 << 6), 0);
        assert_eq!(state_mask(Proto::Udp, Listening::Only), 1 << 7);
        assert_eq!(state_mask(Proto::Udp, Listening::Exclude), 1 << 1);
        assert_eq!(state_mask(Proto::Udp, Listening::All), u32::MAX);
    }
}
