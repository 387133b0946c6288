use super::socket::{SocketState, States};

/// The type of a Unix domain socket, as `socket(AF_UNIX, type, 0)` chose it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UnixType {
    Stream,
    Dgram,
    Seqpacket,
}

impl UnixType {
    /// The kernel's SOCK_* number (1, 2, 5); other types are not Unix sockets ss lists.
    pub fn from_kernel(kind: u8) -> Option<UnixType> {
        Some(match kind {
            1 => UnixType::Stream,
            2 => UnixType::Dgram,
            5 => UnixType::Seqpacket,
            _ => return None,
        })
    }

    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            UnixType::Stream => "stream",
            UnixType::Dgram => "dgram",
            UnixType::Seqpacket => "seqpacket",
        }
    }

    /// ss's Netid column.
    pub fn netid(self) -> &'static str {
        match self {
            UnixType::Stream => "u_str",
            UnixType::Dgram => "u_dgr",
            UnixType::Seqpacket => "u_seq",
        }
    }
}

/// Where a Unix socket is bound: a file, an abstract name, or nowhere.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UnixPath {
    /// Bound to nothing (a socketpair, a client): ss's `*`.
    Unnamed,
    /// A filesystem path, as bytes the kernel keeps (not necessarily UTF-8).
    File(Vec<u8>),
    /// An abstract name (without its leading NUL), shown as `@name`.
    Abstract(Vec<u8>),
}

impl UnixPath {
    /// From the bytes of UNIX_DIAG_NAME or /proc/net/unix: a leading NUL is an abstract name;
    /// a path's trailing NULs (the bind length may include them) are not part of it.
    pub fn from_kernel(name: &[u8]) -> UnixPath {
        match name.split_first() {
            None => UnixPath::Unnamed,
            Some((0, rest)) => UnixPath::Abstract(rest.to_vec()),
            Some(_) => {
                let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
                UnixPath::File(name[..end].to_vec())
            }
        }
    }

    /// ss's text: the path, `@name`, or `*`; not yet escaped for a terminal.
    pub fn display(&self) -> String {
        match self {
            UnixPath::Unnamed => "*".to_string(),
            UnixPath::File(path) => String::from_utf8_lossy(path).into_owned(),
            UnixPath::Abstract(name) => format!("@{}", String::from_utf8_lossy(name)),
        }
    }

    /// The path for JSON: `None` when unnamed.
    pub fn text(&self) -> Option<String> {
        match self {
            UnixPath::Unnamed => None,
            _ => Some(self.display()),
        }
    }
}

/// One Unix domain socket. Its state reuses [`SocketState`]: ESTABLISHED (connected), LISTEN,
/// UNCONN (not connected; the kernel's TCP_CLOSE) and SYN_SENT (connecting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixSocket {
    pub kind: UnixType,
    pub state: SocketState,
    pub path: UnixPath,
    pub inode: u64,
    /// The peer's inode, `None` with no peer or when the source cannot say (see `peer_known`).
    pub peer_inode: Option<u64>,
    /// Whether the source reports peers at all (/proc/net/unix does not).
    pub peer_known: bool,
    /// The peer's path where the peer is in the same dump; `None` when unknown.
    pub peer_path: Option<UnixPath>,
    /// Unread bytes; for a listener, connections waiting for accept().
    pub recv_q: Option<u32>,
    /// Unsent bytes; for a listener, the backlog limit.
    pub send_q: Option<u32>,
    pub uid: Option<u32>,
    /// Pids of every process holding this socket, ascending; empty when unknown or not asked for.
    pub pids: Vec<u32>,
    /// The inode of its network namespace (`--all-netns`); `None` when one namespace is listed.
    pub netns: Option<u64>,
}

impl UnixSocket {
    /// The kernel's state number for a Unix socket (it reuses TCP's numbers).
    pub fn state_from_kernel(state: u8) -> Option<SocketState> {
        Some(match state {
            States::ESTABLISHED => SocketState::Established,
            States::SYN_SENT => SocketState::SynSent,
            States::CLOSE => SocketState::Unconn,
            States::LISTEN => SocketState::Listen,
            _ => return None,
        })
    }
}

/// Fill each socket's `peer_path` from the peer's own entry, where the peer was dumped too.
pub fn resolve_peers(sockets: &mut [UnixSocket]) {
    let paths: std::collections::HashMap<u64, UnixPath> =
        sockets.iter().map(|s| (s.inode, s.path.clone())).collect();
    for socket in sockets.iter_mut() {
        socket.peer_path = socket.peer_inode.and_then(|p| paths.get(&p).cloned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn socket(inode: u64, path: UnixPath, peer_inode: Option<u64>) -> UnixSocket {
        UnixSocket {
            kind: UnixType::Stream,
            state: SocketState::Established,
            path,
            inode,
            peer_inode,
            peer_known: true,
            peer_path: None,
            recv_q: Some(0),
            send_q: Some(0),
            uid: None,
            pids: Vec::new(),
            netns: None,
        }
    }

    #[test]
    fn peers_paths_come_from_the_peers_own_entry() {
        let mut sockets = vec![
            socket(1, UnixPath::Unnamed, Some(2)),
            socket(2, UnixPath::File(b"/run/s".to_vec()), Some(1)),
            socket(3, UnixPath::Unnamed, Some(99)),
        ];
        resolve_peers(&mut sockets);
        assert_eq!(
            sockets[0].peer_path,
            Some(UnixPath::File(b"/run/s".to_vec()))
        );
        assert_eq!(sockets[1].peer_path, Some(UnixPath::Unnamed));
        assert_eq!(sockets[2].peer_path, None);
    }

    #[test]
    fn kernel_names_become_paths() {
        assert_eq!(UnixPath::from_kernel(b""), UnixPath::Unnamed);
        assert_eq!(
            UnixPath::from_kernel(b"\0app"),
            UnixPath::Abstract(b"app".to_vec())
        );
        assert_eq!(
            UnixPath::from_kernel(b"/run/x.sock\0"),
            UnixPath::File(b"/run/x.sock".to_vec())
        );
        assert_eq!(
            UnixPath::from_kernel(b"/run/x.sock").display(),
            "/run/x.sock"
        );
        assert_eq!(UnixPath::from_kernel(b"\0app").display(), "@app");
        assert_eq!(UnixPath::Unnamed.display(), "*");
        assert_eq!(UnixPath::Unnamed.text(), None);
    }
}
