//! `--sort KEY[,KEY...]`: the order sockets are listed in, for the table and JSON alike.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::model::{Snapshot, Socket};

/// What to sort by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    Local,
    Remote,
    State,
    Proto,
    RecvQ,
    SendQ,
    Pid,
    Program,
    User,
}

impl SortField {
    const NAMES: [(&'static str, SortField); 9] = [
        ("local", SortField::Local),
        ("remote", SortField::Remote),
        ("state", SortField::State),
        ("proto", SortField::Proto),
        ("recv-q", SortField::RecvQ),
        ("send-q", SortField::SendQ),
        ("pid", SortField::Pid),
        ("program", SortField::Program),
        ("user", SortField::User),
    ];

    /// Whether sorting by this needs the owning processes.
    pub fn needs_owners(self) -> bool {
        matches!(self, SortField::Pid | SortField::Program)
    }
}

/// One key of `--sort`: a field, `-` before it for descending order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortKey {
    pub field: SortField,
    pub descending: bool,
}

/// A `--sort` word that names no key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownSortKey(pub String);

impl fmt::Display for UnknownSortKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = SortField::NAMES.iter().map(|(name, _)| *name).collect();
        write!(
            f,
            "'{}' is not a sort key (one of: {}; '-' before a key reverses it)",
            crate::format::escaped(&self.0),
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownSortKey {}

impl SortKey {
    /// Every key's name and its reversed form, for the command line's completions.
    pub const NAMES: [(&'static str, &'static str); 9] = [
        ("local", "-local"),
        ("remote", "-remote"),
        ("state", "-state"),
        ("proto", "-proto"),
        ("recv-q", "-recv-q"),
        ("send-q", "-send-q"),
        ("pid", "-pid"),
        ("program", "-program"),
        ("user", "-user"),
    ];
}

impl FromStr for SortKey {
    type Err = UnknownSortKey;

    fn from_str(text: &str) -> Result<SortKey, UnknownSortKey> {
        let (descending, name) = match text.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, text),
        };
        let field = SortField::NAMES
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map(|(_, field)| *field)
            .ok_or_else(|| UnknownSortKey(text.to_string()))?;
        Ok(SortKey { field, descending })
    }
}

/// Sort the snapshot's sockets by `keys`, first key first; equal sockets keep their order.
/// A value the OS did not give (a queue, an owner, a user) sorts after every known one.
pub fn sort_sockets(snapshot: &mut Snapshot, keys: &[SortKey]) {
    if keys.is_empty() {
        return;
    }
    let mut sockets = std::mem::take(&mut snapshot.sockets);
    sockets.sort_by(|a, b| {
        keys.iter()
            .map(|key| compare(snapshot, *key, a, b))
            .find(|order| order.is_ne())
            .unwrap_or(Ordering::Equal)
    });
    snapshot.sockets = sockets;
}

/// Known values in the key's order, then unknown ones (in either direction).
fn known_first<T: Ord>(a: Option<T>, b: Option<T>, descending: bool) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) if descending => b.cmp(&a),
        (Some(a), Some(b)) => a.cmp(&b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn compare(snapshot: &Snapshot, key: SortKey, a: &Socket, b: &Socket) -> Ordering {
    let descending = key.descending;
    let directed = |order: Ordering| if descending { order.reverse() } else { order };
    match key.field {
        SortField::Local => {
            directed((a.local.ip(), a.local.port()).cmp(&(b.local.ip(), b.local.port())))
        }
        // No peer (a listener) first, as `*:*` would sort.
        SortField::Remote => directed(
            a.remote
                .map(|r| (r.ip(), r.port()))
                .cmp(&b.remote.map(|r| (r.ip(), r.port()))),
        ),
        SortField::State => directed(a.state.cmp(&b.state)),
        SortField::Proto => directed(a.proto.cmp(&b.proto)),
        SortField::RecvQ => known_first(a.recv_q, b.recv_q, descending),
        SortField::SendQ => known_first(a.send_q, b.send_q, descending),
        SortField::Pid => known_first(a.pids.first(), b.pids.first(), descending),
        SortField::Program => known_first(
            snapshot.owners_of(a).next().map(|p| p.name.as_str()),
            snapshot.owners_of(b).next().map(|p| p.name.as_str()),
            descending,
        ),
        SortField::User => {
            let name = |s: &Socket| s.uid.and_then(|uid| snapshot.user_names.get(&uid));
            known_first(name(a), name(b), descending)
                .then_with(|| known_first(a.uid, b.uid, descending))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Process, Proto, SocketState};
    use std::collections::HashMap;

    fn socket(local: &str, recv_q: Option<u32>, pids: Vec<u32>, uid: Option<u32>) -> Socket {
        Socket {
            recv_q,
            uid,
            pids,
            ..Socket::new(Proto::Tcp, SocketState::Established, local.parse().unwrap())
        }
    }

    fn keys(text: &str) -> Vec<SortKey> {
        text.split(',').map(|k| k.parse().unwrap()).collect()
    }

    fn locals(snapshot: &Snapshot) -> Vec<String> {
        snapshot
            .sockets
            .iter()
            .map(|s| s.local.to_string())
            .collect()
    }

    fn snapshot() -> Snapshot {
        let process = Process::named;
        Snapshot {
            sockets: vec![
                socket("127.0.0.1:80", Some(5), vec![20], Some(1000)),
                socket("10.0.0.1:443", None, vec![], None),
                socket("127.0.0.1:22", Some(5), vec![10], Some(0)),
                socket("[::1]:22", Some(1), vec![30], Some(1000)),
            ],
            processes: HashMap::from([
                (10, process(10, "sshd")),
                (20, process(20, "nginx")),
                (30, process(30, "sshd")),
            ]),
            user_names: HashMap::from([(0, "root".into()), (1000, "alice".into())]),
            ..Snapshot::default()
        }
    }

    #[test]
    fn keys_parse_with_a_minus_for_descending() {
        assert_eq!(
            "-recv-q".parse::<SortKey>(),
            Ok(SortKey {
                field: SortField::RecvQ,
                descending: true
            })
        );
        assert_eq!(
            "colour".parse::<SortKey>().unwrap_err().to_string(),
            "'colour' is not a sort key (one of: local, remote, state, proto, recv-q, send-q, \
             pid, program, user; '-' before a key reverses it)"
        );
    }

    #[test]
    fn sorting_by_several_keys_with_unknown_values_last() {
        let mut s = snapshot();
        sort_sockets(&mut s, &keys("local"));
        assert_eq!(
            locals(&s),
            ["10.0.0.1:443", "127.0.0.1:22", "127.0.0.1:80", "[::1]:22"]
        );
        sort_sockets(&mut s, &keys("-recv-q,local"));
        assert_eq!(
            locals(&s),
            ["127.0.0.1:22", "127.0.0.1:80", "[::1]:22", "10.0.0.1:443"]
        );
        sort_sockets(&mut s, &keys("recv-q,-local"));
        assert_eq!(
            locals(&s),
            ["[::1]:22", "127.0.0.1:80", "127.0.0.1:22", "10.0.0.1:443"]
        );
        sort_sockets(&mut s, &keys("program,pid"));
        assert_eq!(
            locals(&s),
            ["127.0.0.1:80", "127.0.0.1:22", "[::1]:22", "10.0.0.1:443"]
        );
        sort_sockets(&mut s, &keys("user,local"));
        assert_eq!(
            locals(&s),
            ["127.0.0.1:80", "[::1]:22", "127.0.0.1:22", "10.0.0.1:443"]
        );
    }
}
