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
