//! The kernel's raw view of one socket, as both sock_diag and /proc/net give it, and the one
//! normaliser that turns it into the model's [`Socket`].

use std::net::SocketAddr;

use crate::model::{Family, Proto, Socket, SocketState, States, Timer};

/// The four kernel tables, in the order netstat prints them.
pub(super) const TABLES: [(Proto, Family); 4] = [
    (Proto::Tcp, Family::Ipv4),
    (Proto::Tcp, Family::Ipv6),
    (Proto::Udp, Family::Ipv4),
    (Proto::Udp, Family::Ipv6),
];

/// The kernel's raw view of one socket, as both sock_diag and /proc/net give it.
#[derive(Debug, Clone, Copy)]
pub(super) struct KernelSocket {
    pub(super) proto: Proto,
    pub(super) state: u8,
    pub(super) local: SocketAddr,
    pub(super) remote: SocketAddr,
    pub(super) recv_q: u32,
    /// `None` where the source cannot say (a listener's backlog limit in /proc/net).
    pub(super) send_q: Option<u32>,
    pub(super) uid: u32,
    pub(super) inode: u64,
    pub(super) timer: Timer,
}

impl KernelSocket {
    /// Turn kernel conventions into the model's: all-zero peers and inode 0 mean "none".
    pub(super) fn into_socket(self) -> Option<Socket> {
        let state = SocketState::from_kernel(self.proto, self.state)?;
        let unconnected = self.remote.port() == 0 && self.remote.ip().is_unspecified();
        // TIME_WAIT and request sockets (TCP_NEW_SYN_RECV) are kernel mini-sockets with no
        // owner: the uid the kernel prints for them is a placeholder 0.
        let mini_socket = matches!(self.state, States::TIME_WAIT | States::NEW_SYN_RECV);
        // An orphan (closed by its owner, no file: inode 0) gets the same placeholder 0 for
        // whoever owned it; a uid other than 0 can only be the real one.
        let placeholder_uid = mini_socket || (self.inode == 0 && self.uid == 0);
        Some(Socket {
            proto: self.proto,
            state,
            local: self.local,
            remote: (!unconnected && !state.is_listening()).then_some(self.remote),
            recv_q: Some(self.recv_q),
            send_q: self.send_q,
            uid: (!placeholder_uid).then_some(self.uid),
            inode: (self.inode != 0).then_some(self.inode),
            pids: Vec::new(),
            timer: Some(self.timer),
            tcp_info: None,
            bytes: None,
            cookie: None,
            v6only: None,
            netns: None,
            cgroup: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel(state: u8, uid: u32, inode: u64) -> KernelSocket {
        KernelSocket {
            proto: Proto::Tcp,
            state,
            local: "127.0.0.1:40000".parse().unwrap(),
            remote: "127.0.0.1:8080".parse().unwrap(),
            recv_q: 0,
            send_q: Some(0),
            uid,
            inode,
            timer: Timer::from_sock_diag(0, 0, 0),
        }
    }

    #[test]
    fn placeholder_uids_are_unknown() {
        let uid = |state, uid, inode| kernel(state, uid, inode).into_socket().unwrap().uid;
        // FIN_WAIT2 orphan, TIME_WAIT, request socket: the kernel's 0 stands for nobody known.
        assert_eq!(uid(5, 0, 0), None);
        assert_eq!(uid(6, 0, 0), None);
        assert_eq!(uid(12, 0, 0), None);
        // A socket with a file: 0 is root.
        assert_eq!(uid(1, 0, 77), Some(0));
        assert_eq!(uid(1, 1000, 77), Some(1000));
        // A kernel that keeps the owner's uid for an orphan says so with a non-zero uid.
        assert_eq!(uid(5, 1000, 0), Some(1000));
    }
}
