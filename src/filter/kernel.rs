//! The kernel's part of a [`Query`]: for each protocol one [`Request`], the state mask and the
//! inet_diag program a sock_diag dump sends ([`request`]). The states are the filter's `state`
//! words, else netstat's listening split. Of the filter's expression, conditions only userspace
//! can decide (process, pid, user, proto) become `True` where they count for a socket (under an
//! even number of `not`s) and `False` where they count against it, so the kernel keeps every
//! socket the whole filter could keep; the whole filter is then evaluated on what came back.
//! Pure.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::ast::{self, Expr, Filter, PortSide};
use super::bytecode::{HostCond, KernelEndpoints, KernelExpr, PortOp, Prefix, Side, TooLong};
use super::{Listening, Query};
use crate::model::{Family, Proto, Socket, SocketState, States};

/// One sock_diag dump request for one protocol's tables: everything the kernel decides of a
/// query before a socket leaves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub proto: Proto,
    /// `idiag_states`: the kernel states whose sockets are asked for.
    pub states: States,
    /// The program, as an INET_DIAG_REQ_BYTECODE attribute. `None`: no attribute, when there
    /// is nothing to test or the program is too long for one request (then only the state
    /// mask is the kernel's; the expression is decided here, by [`Request::keeps`]).
    pub bytecode: Option<Vec<u8>>,
    /// Ask for each socket's tcp_info and congestion algorithm (`-i`, TCP only).
    pub tcp_info: bool,
    filter: KernelFilter,
}

/// The request for `proto`'s tables (IPv4 and IPv6 ask the same): the states the query wants
/// and what the kernel can test of its filter.
pub fn request(query: &Query, proto: Proto) -> Request {
    let no_filter = Filter::default();
    let filter = query.filter.as_ref().unwrap_or(&no_filter);
    let mut kernel = KernelFilter::of(filter);
    // The filter's state words replace the listening split, as in ss.
    if filter.states.is_none() {
        kernel.states = match query.listening {
            Listening::All => States::ALL,
            Listening::Only => States::listening(proto),
            Listening::Exclude => States::not_listening(proto),
        };
    }
    // UDP has no tcp_info; asking only when -i wants it keeps the plain dump lean.
    kernel.into_request(proto, query.tcp_info && proto == Proto::Tcp)
}

impl Request {
    /// What the kernel keeps of this protocol's sockets, decided here: for a table read from
    /// /proc/net, so both collectors keep the same sockets.
    pub fn keeps(&self, socket: &Socket) -> bool {
        self.filter.keeps(socket)
    }
}

/// A state mask and an expression: everything one sock_diag request can filter in the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelFilter {
    /// The kernel states whose sockets it keeps.
    pub states: States,
    pub expr: KernelExpr,
}

impl KernelFilter {
    /// What the kernel keeps, decided here (the /proc fallback); exact for a mask that has a
    /// state's every kernel number or none ([`SocketState::kernel_states`]).
    pub fn keeps(&self, socket: &Socket) -> bool {
        self.states.keeps(socket.state) && self.expr.matches(&KernelEndpoints::of(socket))
    }

    /// The program the request carries: an expression that folds to true needs none.
    pub fn bytecode(&self) -> Result<Option<Vec<u8>>, TooLong> {
        Ok(match self.expr.clone().simplify() {
            KernelExpr::True => None,
            expr => Some(expr.compile()?),
        })
    }

    /// The request for one protocol that carries this filter. A program too long for one
    /// request leaves the expression to userspace, the mask to the kernel.
    pub fn into_request(self, proto: Proto, tcp_info: bool) -> Request {
        Request {
            proto,
            states: self.states,
            bytecode: self.bytecode().unwrap_or(None),
            tcp_info,
            filter: self,
        }
    }
}

impl KernelFilter {
    /// What the kernel can filter of `filter`: a superset of what `filter` keeps.
    pub fn of(filter: &Filter) -> KernelFilter {
        // The model shows request sockets (TCP_NEW_SYN_RECV) as SYN_RECV, as ss does: they go
        // with bit 3, whatever bit 12 says.
        let new_syn_recv = States::of_kernel(States::NEW_SYN_RECV);
        let mut states = filter.states.map_or(States::ALL, |states| {
            states.intersection(States::ALL).without(new_syn_recv)
        });
        if states.contains(SocketState::SynRecv) {
            states = states.union(new_syn_recv);
        }
        let expr = filter
            .expr
            .as_ref()
            .map_or(KernelExpr::True, |expr| lower(expr, true))
            .simplify();
        KernelFilter { states, expr }
    }
}

/// `expr` for the kernel; `counts_for` is whether it sits under an even number of `not`s.
fn lower(expr: &Expr, counts_for: bool) -> KernelExpr {
    let userspace_only = || {
        if counts_for {
            KernelExpr::True
        } else {
            KernelExpr::False
        }
    };
    match expr {
        Expr::And(terms) => KernelExpr::And(terms.iter().map(|t| lower(t, counts_for)).collect()),
        Expr::Or(terms) => KernelExpr::Or(terms.iter().map(|t| lower(t, counts_for)).collect()),
        Expr::Not(inner) => !lower(inner, !counts_for),
        Expr::Port { side, op, port } => {
            let test = |side| KernelExpr::Port {
                side,
                op: port_op(*op),
                port: *port,
            };
            match side {
                PortSide::Local => test(Side::Source),
                PortSide::Remote => test(Side::Destination),
                PortSide::Either => test(Side::Source).or(test(Side::Destination)),
            }
        }
        Expr::Host(cond) => match host(cond) {
            Some(host) => host,
            None => userspace_only(),
        },
        // The kernel dumps one protocol per request: `proto` is decided by which tables are read.
        Expr::Proto(_)
        | Expr::Process(_)
        | Expr::Pid(_)
        | Expr::User(_)
        | Expr::Netns(_)
        | Expr::Container(_)
        | Expr::Unit(_)
        | Expr::Cgroup(_) => userspace_only(),
    }
}

fn port_op(op: ast::PortOp) -> PortOp {
    match op {
        ast::PortOp::Eq => PortOp::Eq,
        ast::PortOp::Ne => PortOp::Ne,
        ast::PortOp::Lt => PortOp::Lt,
        ast::PortOp::Le => PortOp::Le,
        ast::PortOp::Gt => PortOp::Gt,
        ast::PortOp::Ge => PortOp::Ge,
    }
}

/// `src`/`dst` as the kernel's hostcond: a family alone is its /0 prefix. `None` for a prefix the
/// kernel cannot take (longer than its address), left to userspace.
fn host(cond: &ast::HostCond) -> Option<KernelExpr> {
    let side = match cond.side {
        ast::Side::Local => Side::Source,
        ast::Side::Remote => Side::Destination,
    };
    let prefix = match (cond.network, cond.family) {
        (Some((address, length)), _) => Some(Prefix::new(address, length)?),
        (None, Some(Family::Ipv4)) => Prefix::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        (None, Some(Family::Ipv6)) => Prefix::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
        (None, None) => None,
    };
    Some(KernelExpr::Host {
        side,
        cond: HostCond {
            prefix,
            port: cond.port,
        },
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::net::SocketAddr;

    use super::*;
    use crate::filter::ast::{HostCond as Cond, ProcessMatch, States, UserMatch};
    use crate::filter::bytecode::tests::port;
    use crate::filter::eval::Owners;
    use crate::model::{Process, Socket};

    /// xorshift: the same cases every run.
    struct Generator(u64);

    impl Generator {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }

        fn pick<T: Copy>(&mut self, items: &[T]) -> T {
            items[self.below(items.len())]
        }

        fn port(&mut self) -> u16 {
            self.pick(&[0, 1, 22, 80, 443, 8080, 50000, 65535])
        }

        fn address(&mut self, v6: bool) -> IpAddr {
            let text = if v6 {
                self.pick(&[
                    "::",
                    "::1",
                    "::ffff:127.0.0.1",
                    "::ffff:10.1.2.3",
                    "fe80::1",
                ])
            } else {
                self.pick(&["0.0.0.0", "127.0.0.1", "10.1.2.3", "192.168.1.9"])
            };
            text.parse().expect("an address")
        }

        fn socket(&mut self) -> Socket {
            let v6 = self.below(2) == 0;
            let proto = self.pick(&[Proto::Tcp, Proto::Udp]);
            let state = match proto {
                Proto::Tcp => self.pick(&SocketState::ALL[..11]),
                Proto::Udp => self.pick(&[SocketState::Unconn, SocketState::Established]),
            };
            let remote = (!state.is_listening() || self.below(4) == 0)
                .then(|| SocketAddr::new(self.address(v6), self.port()));
            Socket {
                timer: None,
                v6only: None,
                netns: None,
                proto,
                state,
                local: SocketAddr::new(self.address(v6), self.port()),
                remote,
                recv_q: Some(0),
                send_q: Some(0),
                uid: self.pick(&[None, Some(0), Some(1000)]),
                inode: Some(1),
                pids: match self.below(3) {
                    0 => vec![],
                    1 => vec![100],
                    _ => vec![100, 200],
                },
                tcp_info: None,
                bytes: None,
                cookie: None,
                cgroup: None,
            }
        }

        fn host(&mut self) -> Cond {
            let side = self.pick(&[ast::Side::Local, ast::Side::Remote]);
            let (family, network) = match self.below(4) {
                0 => (None, None),
                1 => (Some(self.pick(&[Family::Ipv4, Family::Ipv6])), None),
                _ => {
                    let v6 = self.below(2) == 0;
                    let address = self.address(v6);
                    let bits = if address.is_ipv6() { 129 } else { 33 };
                    (
                        Some(Family::of(address)),
                        Some((address, self.below(bits) as u8)),
                    )
                }
            };
            let port = (self.below(3) == 0).then(|| self.port());
            Cond {
                side,
                family,
                network,
                port,
            }
        }

        fn expr(&mut self, depth: u32, userspace: bool) -> Expr {
            let kinds = if depth == 0 { 3 } else { 6 };
            match self.below(kinds) {
                0 => Expr::Port {
                    side: self.pick(&[PortSide::Local, PortSide::Remote, PortSide::Either]),
                    op: self.pick(&[
                        ast::PortOp::Eq,
                        ast::PortOp::Ne,
                        ast::PortOp::Lt,
                        ast::PortOp::Le,
                        ast::PortOp::Gt,
                        ast::PortOp::Ge,
                    ]),
                    port: self.port(),
                },
                1 => Expr::Host(self.host()),
                2 if userspace => match self.below(5) {
                    0 => Expr::Proto(self.pick(&[Proto::Tcp, Proto::Udp])),
                    1 => Expr::Process(ProcessMatch::Name("nginx".to_string())),
                    2 => Expr::Pid(self.pick(&[100, 200, 300])),
                    3 => Expr::User(UserMatch::Uid(1000)),
                    _ => Expr::User(UserMatch::Name("alice".to_string())),
                },
                2 => Expr::Host(self.host()),
                3 => Expr::not(self.expr(depth - 1, userspace)),
                4 => Expr::and(
                    self.expr(depth - 1, userspace),
                    self.expr(depth - 1, userspace),
                ),
                _ => Expr::or(
                    self.expr(depth - 1, userspace),
                    self.expr(depth - 1, userspace),
                ),
            }
        }

        fn filter(&mut self, userspace: bool) -> Filter {
            Filter {
                states: (self.below(2) == 0).then(|| States(self.below(1 << 13) as u32)),
                family: None,
                expr: (self.below(8) != 0).then(|| self.expr(3, userspace)),
            }
        }
    }

    fn owners() -> (HashMap<u32, Process>, HashMap<u32, String>) {
        let process = Process::named;
        (
            HashMap::from([(100, process(100, "nginx")), (200, process(200, "python3"))]),
            HashMap::from([(1000, "alice".to_string())]),
        )
    }

    #[test]
    fn kernel_then_userspace_keeps_exactly_what_userspace_alone_keeps() {
        let (processes, user_names) = owners();
        let owners = Owners {
            processes: &processes,
            user_names: &user_names,
            cgroups: &std::collections::HashMap::new(),
        };
        let mut generate = Generator(0x2545_f491_4f6c_dd1d);
        let sockets: Vec<Socket> = (0..200).map(|_| generate.socket()).collect();
        let (mut kept, mut dropped_by_kernel) = (0, 0);
        for _ in 0..2000 {
            let filter = generate.filter(true);
            let kernel = KernelFilter::of(&filter);
            for socket in &sockets {
                let alone = filter.matches(socket, owners);
                let in_kernel = kernel.keeps(socket);
                assert_eq!(
                    in_kernel && filter.matches(socket, owners),
                    alone,
                    "{filter:?}\n{kernel:?}\n{socket:?}"
                );
                kept += usize::from(alone);
                dropped_by_kernel += usize::from(!in_kernel);
            }
        }
        // The cases are not all trivial: the kernel drops much, and much is kept.
        assert!(
            kept > 20_000 && dropped_by_kernel > 100_000,
            "{kept} {dropped_by_kernel}"
        );
    }

    #[test]
    fn without_userspace_conditions_the_kernel_decides_exactly() {
        let (processes, user_names) = owners();
        let owners = Owners {
            processes: &processes,
            user_names: &user_names,
            cgroups: &std::collections::HashMap::new(),
        };
        let mut generate = Generator(0x9e37_79b9_7f4a_7c15);
        let sockets: Vec<Socket> = (0..200).map(|_| generate.socket()).collect();
        for _ in 0..2000 {
            let filter = generate.filter(false);
            let kernel = KernelFilter::of(&filter);
            for socket in &sockets {
                assert_eq!(
                    kernel.keeps(socket),
                    filter.matches(socket, owners),
                    "{filter:?}\n{kernel:?}\n{socket:?}"
                );
            }
        }
    }

    #[test]
    fn userspace_conditions_count_by_the_nots_above_them() {
        let pid = Expr::Pid(100);
        let port = Expr::Port {
            side: PortSide::Local,
            op: ast::PortOp::Eq,
            port: 22,
        };
        let filter = |expr| Filter {
            expr: Some(expr),
            ..Filter::default()
        };
        // `pid 100 and sport = :22`: the kernel can still insist on the port.
        let kernel = KernelFilter::of(&filter(Expr::and(pid.clone(), port.clone())));
        assert!(matches!(kernel.expr, KernelExpr::Port { port: 22, .. }));
        // `not pid 100`: nothing for the kernel to decide.
        assert_eq!(
            KernelFilter::of(&filter(Expr::not(pid.clone()))).expr,
            KernelExpr::True
        );
        // `not (pid 100 or sport = :22)`: the port still counts against, in the kernel.
        let kernel = KernelFilter::of(&filter(Expr::not(Expr::or(pid, port))));
        assert!(matches!(kernel.expr, KernelExpr::Not(_)), "{kernel:?}");
    }

    #[test]
    fn syn_recv_also_asks_for_request_sockets() {
        let filter = Filter {
            states: Some(States::of_kernel(States::SYN_RECV)),
            ..Filter::default()
        };
        assert_eq!(
            KernelFilter::of(&filter).states,
            States((1 << 3) | (1 << 12))
        );
        assert_eq!(KernelFilter::of(&Filter::default()).states, States(0x1ffe));
    }

    #[test]
    fn pushdown_sends_no_program_for_true() {
        let all = KernelFilter {
            states: States(1 << 1),
            expr: KernelExpr::True,
        };
        assert_eq!(all.bytecode().unwrap(), None);
        let some = KernelFilter {
            states: States(1 << 10),
            expr: port(Side::Source, PortOp::Eq, 22),
        };
        let request = some.clone().into_request(Proto::Tcp, false);
        assert_eq!(request.states, States(1 << 10));
        assert!(request.bytecode.is_some());
        let socket = |state, local: &str, remote: Option<&str>| Socket {
            remote: remote.map(|r| r.parse().unwrap()),
            ..Socket::new(Proto::Tcp, state, local.parse().unwrap())
        };
        assert!(some.keeps(&socket(SocketState::Listen, "0.0.0.0:22", None)));
        assert!(!some.keeps(&socket(SocketState::Listen, "0.0.0.0:23", None)));
        let established = socket(SocketState::Established, "[::1]:22", Some("[::1]:4000"));
        assert!(!some.keeps(&established));
    }

    #[test]
    fn a_filter_that_folds_to_true_sends_no_program() {
        let sport = port(Side::Source, PortOp::Eq, 22);
        let filter = |expr| KernelFilter {
            states: States(1),
            expr,
        };
        let undecided = KernelExpr::True.or(KernelExpr::True);
        assert_eq!(filter(undecided).bytecode().unwrap(), None);
        let narrowed = filter(KernelExpr::True.and(sport.clone()));
        assert_eq!(narrowed.bytecode().unwrap(), Some(sport.compile().unwrap()));
        let never = filter(!(KernelExpr::True.or(sport)));
        assert_eq!(
            never.bytecode().unwrap(),
            Some(KernelExpr::False.compile().unwrap())
        );
    }

    fn state_mask(proto: Proto, listening: Listening) -> u32 {
        let query = Query {
            listening,
            ..Query::default()
        };
        request(&query, proto).states.0
    }

    #[test]
    fn state_masks_follow_netstat_listening() {
        assert_eq!(state_mask(Proto::Tcp, Listening::Only), 1 << 10);
        assert_eq!(state_mask(Proto::Tcp, Listening::Exclude) & (1 << 10), 0);
        assert_ne!(state_mask(Proto::Tcp, Listening::Exclude) & (1 << 6), 0);
        assert_eq!(state_mask(Proto::Udp, Listening::Only), 1 << 7);
        assert_eq!(state_mask(Proto::Udp, Listening::Exclude), 1 << 1);
        assert_eq!(state_mask(Proto::Udp, Listening::All), 0x1ffe);
    }

    #[test]
    fn bound_inactive_sockets_are_never_asked_for() {
        let bound_inactive = 1 << 13;
        for proto in [Proto::Tcp, Proto::Udp] {
            for listening in [Listening::All, Listening::Only, Listening::Exclude] {
                assert_eq!(state_mask(proto, listening) & bound_inactive, 0);
            }
        }
        assert_ne!(state_mask(Proto::Tcp, Listening::All) & (1 << 12), 0);
    }

    #[test]
    fn one_request_per_protocol_carries_the_states_the_program_and_tcp_info() {
        let services = crate::services::Services::builtin();
        let words = crate::filter::parse::split_words(&["state established sport = :22"]);
        let filter = crate::filter::parse::parse(&words, &services, &[Proto::Tcp, Proto::Udp]);
        let query = Query {
            // The filter's state words replace the listening split, as Query::wants_state says.
            listening: Listening::Only,
            tcp_info: true,
            filter: Some(filter.unwrap()),
            ..Query::default()
        };
        for proto in [Proto::Tcp, Proto::Udp] {
            let request = request(&query, proto);
            assert_eq!(request.proto, proto);
            assert_eq!(request.states, States(1 << 1), "{proto:?}");
            let sport = port(Side::Source, PortOp::Eq, 22);
            assert_eq!(request.bytecode, Some(sport.compile().unwrap()));
            assert_eq!(request.tcp_info, proto == Proto::Tcp);
        }
        let plain = request(&Query::default(), Proto::Udp);
        assert_eq!(
            (plain.states.0, plain.bytecode, plain.tcp_info),
            (0x1ffe, None, false)
        );
    }

    /// The deepest filters the parser lets through: `( ... op ( ... ) )` with the operator
    /// switching at every level, and a run of `not`s; one level more is an error.
    fn deepest(extra: usize) -> [String; 2] {
        let levels = crate::filter::parse::MAX_DEPTH - 1 + extra;
        let mut nested = "port != :7".to_string();
        for level in 1..=levels {
            let op = if level % 2 == 0 { "and" } else { "or" };
            nested = format!("process p{level} {op} ( {nested} )");
        }
        [nested, format!("{}port != :7", "not ".repeat(levels))]
    }

    #[test]
    fn the_deepest_filter_allowed_runs_every_walk_in_a_small_stack() {
        use crate::filter::parse::{parse, split_words};
        use crate::services::Services;
        let services = Services::builtin();
        let protos = [Proto::Tcp, Proto::Udp];
        for text in deepest(1) {
            let error = parse(&split_words(&[&text]), &services, &protos).unwrap_err();
            assert!(
                error.message.contains("nests deeper than 256 levels"),
                "{error}"
            );
        }
        let mut generate = Generator(0x2545_f491_4f6c_dd1d);
        let sockets: Vec<Socket> = (0..32).map(|_| generate.socket()).collect();
        let (processes, user_names) = owners();
        // A spawned thread's default stack: a debug build needs under half of it at this depth
        // (most of that for the parser's own calls).
        std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || {
                let owners = Owners {
                    processes: &processes,
                    user_names: &user_names,
                    cgroups: &std::collections::HashMap::new(),
                };
                for text in deepest(0) {
                    let words = split_words(&[&text]);
                    let filter = parse(&words, &services, &protos).unwrap();
                    let copy = filter.clone();
                    assert_eq!(copy, filter);
                    let kernel = KernelFilter::of(&filter);
                    let program = kernel.expr.compile().unwrap();
                    assert!(!program.is_empty());
                    for socket in &sockets {
                        if filter.matches(socket, owners) {
                            assert!(kernel.keeps(socket), "{text}");
                        }
                    }
                    assert!(format!("{filter:?}").len() > text.len());
                    drop(copy);
                }
            })
            .unwrap()
            .join()
            .unwrap();
    }
}
