//! Which socket of one snapshot is which socket of the next: the comparison behind `--live`'s
//! new/gone/changed marks and `--watch`'s open/close/state events.

use std::collections::{HashMap, HashSet};

/// The hasher of the maps keyed by sockets that every refresh fills: foldhash, seeded per
/// process (SipHash's strength is not needed for keys the kernel hands out).
pub type FastHash = hashbrown::DefaultHashBuilder;
use std::hash::Hash;
use std::net::SocketAddr;

use super::socket::{Proto, Socket};

/// What names one socket across snapshots: the kernel's cookie, or where there is none (the
/// /proc fallback, Windows, macOS) its protocol, ends and inode. The inode tells apart sockets
/// that share their ends (SO_REUSEPORT listeners, UDP sockets bound with SO_REUSEADDR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SocketKey {
    Cookie(u64),
    Ends {
        proto: Proto,
        local: SocketAddr,
        remote: Option<SocketAddr>,
        inode: Option<u64>,
    },
}

impl SocketKey {
    pub fn of(socket: &Socket) -> SocketKey {
        match socket.cookie {
            Some(cookie) => SocketKey::Cookie(cookie),
            None => SocketKey::Ends {
                proto: socket.proto,
                local: socket.local,
                remote: socket.remote,
                // A TIME_WAIT record has no file: inode 0 is none.
                inode: socket.inode.filter(|&inode| inode != 0),
            },
        }
    }

    /// The ends of a key without a cookie: what a cookieless socket keeps when its inode goes.
    fn ends(&self) -> Option<(Proto, SocketAddr, Option<SocketAddr>)> {
        match *self {
            SocketKey::Cookie(_) => None,
            SocketKey::Ends {
                proto,
                local,
                remote,
                ..
            } => Some((proto, local, remote)),
        }
    }
}

/// Whether a socket without a cookie that no previous socket has the key of may continue a
/// previous socket with the same ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remnants {
    /// `--live`: ESTABLISHED -> TIME_WAIT loses the inode (the kernel keeps only a small
    /// timewait record), and the row should read as a state change, not one gone and one new.
    SameEnds,
    /// `--watch`: a connection closes when its owner's socket goes, as the kernel's close
    /// notice says where there are cookies; what remains of it is not the same socket.
    Apart,
}

/// How the sockets of a snapshot pair with those of the one before.
#[derive(Debug, PartialEq, Eq)]
pub struct Pairing<Id> {
    /// For each socket of the new snapshot, in its order: the previous socket it is, or
    /// `None` for one opened since.
    pub continues: Vec<Option<Id>>,
    /// The previous sockets no socket of the new snapshot is.
    pub gone: Vec<Id>,
}

/// Pair `next` with the previous snapshot's sockets, which the caller keeps as it likes:
/// `find` looks one up by key, `previous` lists them all. A previous socket is paired at
/// most once; by its key first, then (for [`Remnants::SameEnds`]) by its ends.
pub fn pair<Id: Copy + Eq + Hash>(
    next: &[Socket],
    find: impl Fn(&SocketKey) -> Option<Id>,
    previous: impl Iterator<Item = (Id, SocketKey)>,
    remnants: Remnants,
) -> Pairing<Id> {
    // foldhash, not SipHash: hashing every key each refresh was a seventh of `--watch`'s CPU.
    let mut taken = HashSet::with_capacity_and_hasher(next.len(), FastHash::default());
    let mut continues: Vec<Option<Id>> = next
        .iter()
        .map(|socket| find(&SocketKey::of(socket)).filter(|&id| taken.insert(id)))
        .collect();
    let keys_lost = remnants == Remnants::SameEnds
        && next
            .iter()
            .zip(&continues)
            .any(|(socket, id)| id.is_none() && socket.cookie.is_none());
    let mut gone = Vec::new();
    let mut by_ends: HashMap<_, Vec<Id>, FastHash> = HashMap::default();
    for (id, key) in previous {
        if taken.contains(&id) {
            continue;
        }
        match key.ends().filter(|_| keys_lost) {
            Some(ends) => by_ends.entry(ends).or_default().push(id),
            None => gone.push(id),
        }
    }
    if keys_lost {
        for (socket, id) in next.iter().zip(continues.iter_mut()) {
            if id.is_none() && socket.cookie.is_none() {
                let ends = SocketKey::of(socket).ends();
                *id = ends.and_then(|ends| by_ends.get_mut(&ends)?.pop());
            }
        }
        gone.extend(by_ends.into_values().flatten());
    }
    Pairing { continues, gone }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SocketState;

    fn socket(cookie: Option<u64>, remote: u16, inode: Option<u64>, state: SocketState) -> Socket {
        let mut socket = Socket::new(Proto::Tcp, state, "127.0.0.1:80".parse().unwrap());
        socket.remote = Some(SocketAddr::from(([127, 0, 0, 1], remote)));
        socket.cookie = cookie;
        socket.inode = inode;
        socket
    }

    fn pair_with(previous: &[Socket], next: &[Socket], remnants: Remnants) -> Pairing<usize> {
        let keys: Vec<SocketKey> = previous.iter().map(SocketKey::of).collect();
        let index: HashMap<SocketKey, usize> =
            keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
        let mut pairing = pair(
            next,
            |key| index.get(key).copied(),
            keys.iter().copied().enumerate(),
            remnants,
        );
        pairing.gone.sort_unstable();
        pairing
    }

    #[test]
    fn sockets_pair_by_cookie_whatever_else_changed() {
        let before = [
            socket(Some(1), 1000, Some(7), SocketState::Established),
            socket(Some(2), 1001, Some(8), SocketState::Established),
        ];
        let after = [
            socket(Some(2), 1001, None, SocketState::TimeWait),
            socket(Some(3), 1000, Some(9), SocketState::Established),
        ];
        for remnants in [Remnants::SameEnds, Remnants::Apart] {
            let pairing = pair_with(&before, &after, remnants);
            // The same ends under a new cookie are a new connection, never the old one.
            assert_eq!(pairing.continues, vec![Some(1), None]);
            assert_eq!(pairing.gone, vec![0]);
        }
    }

    #[test]
    fn without_cookies_a_remnant_continues_its_connection_only_where_asked() {
        let before = [
            socket(None, 1000, Some(7), SocketState::Established),
            socket(None, 1001, Some(8), SocketState::Established),
        ];
        let after = [
            socket(None, 1000, Some(0), SocketState::TimeWait),
            socket(None, 1001, Some(8), SocketState::Established),
        ];
        let live = pair_with(&before, &after, Remnants::SameEnds);
        assert_eq!(live.continues, vec![Some(0), Some(1)]);
        assert!(live.gone.is_empty());
        let watch = pair_with(&before, &after, Remnants::Apart);
        assert_eq!(watch.continues, vec![None, Some(1)]);
        assert_eq!(watch.gone, vec![0]);
    }

    #[test]
    fn a_previous_socket_is_paired_at_most_once() {
        // Two sockets with one key (no cookie, no inode: Windows UDP with SO_REUSEADDR).
        let before = [
            socket(None, 1000, None, SocketState::Established),
            socket(None, 1000, None, SocketState::Established),
        ];
        let after = [
            socket(None, 1000, None, SocketState::Established),
            socket(None, 1000, None, SocketState::Established),
            socket(None, 1000, None, SocketState::Established),
        ];
        let pairing = pair_with(&before, &after, Remnants::SameEnds);
        let mut paired: Vec<usize> = pairing.continues.iter().flatten().copied().collect();
        paired.sort_unstable();
        assert_eq!(paired, vec![0, 1]);
        assert_eq!(pairing.continues.iter().filter(|c| c.is_none()).count(), 1);
        assert!(pairing.gone.is_empty());
    }
}
