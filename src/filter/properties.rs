//! Property: what userspace decides for a filter is what the kernel decides with the program
//! compiled from it, run by the interpreter of `inet_diag_bc_run` in kernel.rs's tests, on
//! arbitrary filters and arbitrary sockets. The parser's properties are in
//! tests/parser_properties.rs; the fuzz targets in fuzz/.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use proptest::prelude::*;

use super::ast::{self, Expr, Filter, HostCond, PortSide, States, UserMatch};
use super::bytecode::KernelEndpoints;
use super::bytecode::tests::{audit, run};
use super::eval::Owners;
use super::kernel::KernelFilter;
use crate::model::{Family, Process, Proto, Socket, SocketState};

/// Few distinct values, so conditions and sockets meet: ports and addresses at the edges.
fn port() -> impl Strategy<Value = u16> {
    prop_oneof![
        prop::sample::select(vec![0u16, 1, 22, 80, 443, 1023, 1024, 65534, 65535]),
        any::<u16>(),
    ]
}

fn address(v6: bool) -> BoxedStrategy<IpAddr> {
    let v4 = prop_oneof![
        prop::sample::select(vec!["0.0.0.0", "127.0.0.1", "10.1.2.3", "192.168.1.9"])
            .prop_map(|a| a.parse().unwrap()),
        any::<[u8; 4]>().prop_map(IpAddr::from),
    ];
    if !v6 {
        return v4.boxed();
    }
    prop_oneof![
        prop::sample::select(vec![
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "fe80::1"
        ])
        .prop_map(|a| a.parse().unwrap()),
        any::<[u8; 16]>().prop_map(IpAddr::from),
    ]
    .boxed()
}

fn socket() -> impl Strategy<Value = Socket> {
    any::<bool>().prop_flat_map(|v6| {
        (
            prop::sample::select(SocketState::ALL.to_vec()),
            prop::sample::select(vec![Proto::Tcp, Proto::Udp]),
            address(v6),
            port(),
            prop::option::of((address(v6), port())),
            prop::option::of(prop::sample::select(vec![0u32, 1000])),
            prop::sample::select(vec![vec![], vec![100], vec![100, 200]]),
        )
            .prop_map(|(state, proto, ip, port, remote, uid, pids)| Socket {
                remote: remote.map(|(ip, port)| SocketAddr::new(ip, port)),
                uid,
                pids,
                ..Socket::new(proto, state, SocketAddr::new(ip, port))
            })
    })
}

fn host() -> impl Strategy<Value = Expr> {
    (
        prop::sample::select(vec![ast::Side::Local, ast::Side::Remote]),
        any::<bool>().prop_flat_map(|v6| {
            prop_oneof![
                Just((None, None)),
                prop::sample::select(vec![Family::Ipv4, Family::Ipv6])
                    .prop_map(|f| (Some(f), None)),
                (address(v6), any::<u8>()).prop_map(|(ip, bits)| {
                    let length = bits % if ip.is_ipv4() { 33 } else { 129 };
                    (Some(Family::of(ip)), Some((ip, length)))
                }),
            ]
        }),
        prop::option::of(port()),
    )
        .prop_map(|(side, (family, network), port)| {
            Expr::Host(HostCond {
                side,
                family,
                network,
                port,
            })
        })
}

fn port_condition() -> impl Strategy<Value = Expr> {
    (
        prop::sample::select(vec![PortSide::Local, PortSide::Remote, PortSide::Either]),
        prop::sample::select(vec![
            ast::PortOp::Eq,
            ast::PortOp::Ne,
            ast::PortOp::Lt,
            ast::PortOp::Le,
            ast::PortOp::Gt,
            ast::PortOp::Ge,
        ]),
        port(),
    )
        .prop_map(|(side, op, port)| Expr::Port { side, op, port })
}

/// What only userspace decides: the kernel's filter has no words for them.
fn userspace_condition() -> impl Strategy<Value = Expr> {
    prop_oneof![
        prop::sample::select(vec![Proto::Tcp, Proto::Udp]).prop_map(Expr::Proto),
        Just(Expr::Process(ast::ProcessMatch::Name("nginx".to_string()))),
        prop::sample::select(vec![100u32, 200, 300]).prop_map(Expr::Pid),
        Just(Expr::User(UserMatch::Uid(1000))),
        Just(Expr::User(UserMatch::Name("alice".to_string()))),
    ]
}

fn expr(userspace: bool) -> BoxedStrategy<Expr> {
    let leaf = if userspace {
        prop_oneof![host(), port_condition(), userspace_condition()].boxed()
    } else {
        prop_oneof![host(), port_condition()].boxed()
    };
    leaf.prop_recursive(6, 48, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(Expr::not),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::and(a, b)),
            (inner.clone(), inner).prop_map(|(a, b)| Expr::or(a, b)),
        ]
    })
    .boxed()
}

fn filter(userspace: bool) -> impl Strategy<Value = Filter> {
    (
        prop::option::of((0u32..1 << 13).prop_map(States)),
        prop::option::of(prop::sample::select(vec![Family::Ipv4, Family::Ipv6])),
        prop::option::of(expr(userspace)),
    )
        .prop_map(|(states, family, expr)| Filter {
            states,
            family,
            expr,
        })
}

fn owners() -> (HashMap<u32, Process>, HashMap<u32, String>) {
    let process = Process::named;
    (
        HashMap::from([(100, process(100, "nginx")), (200, process(200, "python3"))]),
        HashMap::from([(1000, "alice".to_string())]),
    )
}

/// What the kernel keeps of `socket` with the request built for `filter`: the state mask,
/// then the compiled program (audited as the kernel audits it) run on the socket's ends.
fn kernel_keeps(filter: &Filter, socket: &Socket) -> bool {
    let kernel = KernelFilter::of(filter);
    let bytecode = kernel
        .bytecode()
        .expect("a filter this small fits one attribute");
    kernel.states.keeps(socket.state)
        && bytecode.as_ref().is_none_or(|program| {
            audit(program).unwrap_or_else(|e| panic!("the kernel refuses {program:?}: {e}"));
            run(program, &KernelEndpoints::of(socket))
        })
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 400,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Without process, pid, user or proto conditions, the kernel decides exactly (the
    /// family of `inet:` is the query's, applied before the kernel, and the proto the table's).
    #[test]
    fn userspace_evaluation_equals_the_kernel_bytecode_emulation(
        filter in filter(false),
        sockets in prop::collection::vec(socket(), 1..8),
    ) {
        let (processes, user_names) = owners();
        let owners = Owners { processes: &processes, user_names: &user_names, cgroups: &HashMap::new() };
        let whole_filter = Filter { family: None, ..filter };
        for socket in &sockets {
            prop_assert_eq!(
                kernel_keeps(&whole_filter, socket),
                whole_filter.matches(socket, owners),
                "{:?} on {:?}", whole_filter, socket
            );
        }
    }

    /// With them, the kernel keeps every socket the filter keeps, and the filter applied to
    /// what the kernel kept is the filter alone.
    #[test]
    fn the_kernel_bytecode_keeps_every_socket_the_filter_keeps(
        filter in filter(true),
        sockets in prop::collection::vec(socket(), 1..8),
    ) {
        let (processes, user_names) = owners();
        let owners = Owners { processes: &processes, user_names: &user_names, cgroups: &HashMap::new() };
        for socket in &sockets {
            let alone = filter.matches(socket, owners);
            prop_assert!(!alone || kernel_keeps(&filter, socket), "{:?} on {:?}", filter, socket);
        }
    }
}
