//! What the user asked to see: pure functions over the model, pushed down to the collectors
//! where the OS can filter for us.

pub mod ast;
pub mod bytecode;
pub mod eval;
pub mod kernel;
pub mod parse;
#[cfg(test)]
mod properties;
pub mod sort;

pub use ast::Filter;

use crate::model::{Family, Proto, Socket, SocketState};

/// Which sockets by listening state, with netstat's meaning of "listening"
/// (TCP LISTEN, or UDP not connected).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Listening {
    /// `-a`: listening and non-listening.
    All,
    /// `-l`: listening only.
    Only,
    /// Neither flag: non-listening only, as netstat does.
    #[default]
    Exclude,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub tcp: bool,
    pub udp: bool,
    /// Unix domain sockets (`-x`).
    pub unix: bool,
    pub ipv4: bool,
    pub ipv6: bool,
    pub listening: Listening,
    /// Find the owning processes of each socket (costly: a scan of every process's fds).
    pub owners: bool,
    /// Ask the kernel for each TCP socket's tcp_info and congestion algorithm (`-i`).
    pub tcp_info: bool,
    /// The user's filter words: its states replace `listening`, its expression is applied
    /// after collection (it may ask about owners).
    pub filter: Option<Filter>,
    /// Which network namespaces to list: rnetstat's own, another (`-N`), or all (`--all-netns`).
    pub netns: Namespaces,
    /// Say what each socket and owner runs as (Linux): the cgroup path, and the container,
    /// pod or systemd unit it names. Costs a walk of the cgroup tree and the runtimes' files.
    pub contexts: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Namespaces {
    /// The one rnetstat runs in.
    #[default]
    Own,
    /// `-N NAME|PID|PATH`.
    One(Netns),
    /// `--all-netns`: every network namespace a process or a /run/netns name holds.
    All,
}

/// A network namespace named on the command line (`-N NAME|PID|PATH`, as ss): a name under
/// /run/netns, a process's namespace, or a path to a namespace file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Netns {
    /// As the user wrote it, for messages.
    pub given: String,
    /// The namespace file it names: /run/netns/NAME, /proc/PID/ns/net, or the path itself.
    pub path: std::path::PathBuf,
}

impl Netns {
    /// Read `-N`'s argument as ss does: digits are a pid, text with a `/` is a path, anything
    /// else a name under /run/netns. Nothing is opened here.
    pub fn named(given: &str) -> Netns {
        let path = if !given.is_empty() && given.bytes().all(|b| b.is_ascii_digit()) {
            format!("/proc/{given}/ns/net").into()
        } else if given.contains('/') {
            given.into()
        } else {
            std::path::Path::new("/run/netns").join(given)
        };
        Netns {
            given: given.to_string(),
            path,
        }
    }
}

impl Default for Query {
    fn default() -> Self {
        Query {
            tcp: true,
            udp: true,
            unix: false,
            ipv4: true,
            ipv6: true,
            listening: Listening::All,
            owners: false,
            tcp_info: false,
            filter: None,
            netns: Namespaces::Own,
            contexts: false,
        }
    }
}

impl Query {
    pub fn wants_proto(&self, proto: Proto) -> bool {
        match proto {
            Proto::Tcp => self.tcp,
            Proto::Udp => self.udp,
        }
    }

    pub fn wants_family(&self, family: Family) -> bool {
        let flag = match family {
            Family::Ipv4 => self.ipv4,
            Family::Ipv6 => self.ipv6,
        };
        flag && self
            .filter
            .as_ref()
            .and_then(|f| f.family)
            .is_none_or(|only| only == family)
    }

    /// The filter's `state`/`exclude` words when it has any, else netstat's listening split.
    pub fn wants_state(&self, state: SocketState) -> bool {
        if let Some(states) = self.filter.as_ref().and_then(|f| f.states) {
            return states.contains(state);
        }
        match self.listening {
            Listening::All => true,
            Listening::Only => state.is_listening(),
            Listening::Exclude => !state.is_listening(),
        }
    }

    pub fn wants(&self, socket: &Socket) -> bool {
        self.wants_proto(socket.proto)
            && self.wants_family(socket.family())
            && self.wants_state(socket.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_is_a_pid_a_path_or_a_name_under_run_netns() {
        assert_eq!(
            Netns::named("1234").path,
            std::path::Path::new("/proc/1234/ns/net")
        );
        assert_eq!(
            Netns::named("/var/run/x").path,
            std::path::Path::new("/var/run/x")
        );
        assert_eq!(Netns::named("./x").path, std::path::Path::new("./x"));
        assert_eq!(
            Netns::named("blue").path,
            std::path::Path::new("/run/netns/blue")
        );
        assert_eq!(Netns::named("blue").given, "blue");
    }
    use std::net::SocketAddr;

    fn socket(proto: Proto, state: SocketState, local: &str) -> Socket {
        Socket {
            ..Socket::new(proto, state, local.parse::<SocketAddr>().unwrap())
        }
    }

    #[test]
    fn default_listening_mode_hides_listeners_like_netstat() {
        let q = Query {
            listening: Listening::Exclude,
            ..Query::default()
        };
        assert!(!q.wants(&socket(Proto::Tcp, SocketState::Listen, "0.0.0.0:22")));
        assert!(!q.wants(&socket(Proto::Udp, SocketState::Unconn, "0.0.0.0:53")));
        assert!(q.wants(&socket(Proto::Tcp, SocketState::TimeWait, "127.0.0.1:22")));
        assert!(q.wants(&socket(Proto::Udp, SocketState::Established, "[::1]:53")));
    }

    #[test]
    fn listening_only_keeps_listeners_and_unconnected_udp() {
        let q = Query {
            listening: Listening::Only,
            ..Query::default()
        };
        assert!(q.wants(&socket(Proto::Tcp, SocketState::Listen, "0.0.0.0:22")));
        assert!(q.wants(&socket(Proto::Udp, SocketState::Unconn, "0.0.0.0:53")));
        assert!(!q.wants(&socket(
            Proto::Tcp,
            SocketState::Established,
            "127.0.0.1:22"
        )));
    }

    #[test]
    fn filter_states_replace_the_listening_split() {
        let q = Query {
            listening: Listening::Only,
            filter: Some(Filter {
                states: Some(ast::States::of_kernel(ast::States::TIME_WAIT)),
                ..Filter::default()
            }),
            ..Query::default()
        };
        assert!(q.wants(&socket(Proto::Tcp, SocketState::TimeWait, "127.0.0.1:22")));
        assert!(!q.wants(&socket(Proto::Tcp, SocketState::Listen, "0.0.0.0:22")));
    }

    #[test]
    fn protocol_and_family_filters() {
        let q = Query {
            udp: false,
            ipv4: false,
            ..Query::default()
        };
        assert!(q.wants(&socket(Proto::Tcp, SocketState::Listen, "[::]:22")));
        assert!(!q.wants(&socket(Proto::Tcp, SocketState::Listen, "0.0.0.0:22")));
        assert!(!q.wants(&socket(Proto::Udp, SocketState::Unconn, "[::]:53")));
    }
}
