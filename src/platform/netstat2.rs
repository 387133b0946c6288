//! Windows: the socket table from netstat2 (which also names the owner pids).
//! Queue sizes, uids and inodes are not given by this API: they stay `None`.

use std::io;
use std::net::SocketAddr;

use netstat2::{AddressFamilyFlags, ProtocolFlags, ProtocolSocketInfo, TcpState, get_sockets_info};

use super::error::CollectError;
use crate::filter::Query;
use crate::model::{OwnerCoverage, Proto, Snapshot, Socket, SocketState};

/// Nothing to keep between snapshots: the OS hands over owners with the sockets.
#[derive(Default)]
pub struct Memory {}

impl Memory {
    pub fn once() -> Memory {
        Memory {}
    }
}

pub fn snapshot(query: &Query, _memory: &mut Memory) -> Result<Snapshot, CollectError> {
    let mut families = AddressFamilyFlags::empty();
    families.set(AddressFamilyFlags::IPV4, query.ipv4);
    families.set(AddressFamilyFlags::IPV6, query.ipv6);
    let mut protocols = ProtocolFlags::empty();
    protocols.set(ProtocolFlags::TCP, query.tcp);
    protocols.set(ProtocolFlags::UDP, query.udp);
    let infos = get_sockets_info(families, protocols).map_err(|e| {
        CollectError::new("reading the socket table", io::Error::other(e.to_string()))
    })?;
    let mut sockets: Vec<Socket> = infos
        .into_iter()
        .filter_map(|info| {
            let (proto, state, local, remote) = match info.protocol_socket_info {
                ProtocolSocketInfo::Tcp(tcp) => (
                    Proto::Tcp,
                    tcp_state(tcp.state)?,
                    SocketAddr::new(tcp.local_addr, tcp.local_port),
                    Some(SocketAddr::new(tcp.remote_addr, tcp.remote_port)),
                ),
                // These APIs list UDP endpoints without peers.
                ProtocolSocketInfo::Udp(udp) => (
                    Proto::Udp,
                    SocketState::Unconn,
                    SocketAddr::new(udp.local_addr, udp.local_port),
                    None,
                ),
            };
            let remote = remote.filter(|r| !(r.port() == 0 && r.ip().is_unspecified()));
            let mut pids = if query.owners {
                info.associated_pids
            } else {
                Vec::new()
            };
            pids.sort_unstable();
            pids.dedup();
            Some(Socket {
                proto,
                state,
                local,
                remote: if state.is_listening() { None } else { remote },
                recv_q: None,
                send_q: None,
                uid: None,
                inode: None,
                pids,
                timer: None,
                tcp_info: None,
                bytes: None,
                cookie: None,
                v6only: None,
                netns: None,
                cgroup: None,
            })
        })
        .collect();
    sockets.retain(|s| query.wants(s));
    // The OS lists one family after the other; print in netstat's order: tcp, tcp6, udp, udp6.
    sockets.sort_by_key(|s| (s.proto, s.family()));
    Ok(Snapshot {
        sockets,
        owners: if query.owners {
            owner_coverage()
        } else {
            OwnerCoverage::NotCollected
        },
        ..Snapshot::default()
    })
}

fn tcp_state(state: TcpState) -> Option<SocketState> {
    Some(match state {
        TcpState::Closed => SocketState::Close,
        TcpState::Listen => SocketState::Listen,
        TcpState::SynSent => SocketState::SynSent,
        TcpState::SynReceived => SocketState::SynRecv,
        TcpState::Established => SocketState::Established,
        TcpState::FinWait1 => SocketState::FinWait1,
        TcpState::FinWait2 => SocketState::FinWait2,
        TcpState::CloseWait => SocketState::CloseWait,
        TcpState::Closing => SocketState::Closing,
        TcpState::LastAck => SocketState::LastAck,
        TcpState::TimeWait => SocketState::TimeWait,
        // A TCB being deleted is on its way out; netstat.exe does not show it either.
        TcpState::DeleteTcb | TcpState::Unknown => return None,
    })
}

/// Windows names the owner pid of every socket to any user.
fn owner_coverage() -> OwnerCoverage {
    OwnerCoverage::Complete
}
