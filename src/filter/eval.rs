//! [`Filter`] x [`Socket`] -> bool, with ss's and the kernel's meaning of each condition.
//! Pure: the owning processes and user names come from the snapshot.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::ast::{
    CgroupMatch, Expr, Filter, HostCond, NetnsMatch, PortSide, ProcessMatch, Side, UserMatch,
};
use crate::model::{Cgroup, Family, Process, Snapshot, Socket, context_of};

/// What `process`, `pid` and `user` conditions look up: a snapshot's processes and names.
#[derive(Debug, Clone, Copy)]
pub struct Owners<'a> {
    pub processes: &'a HashMap<u32, Process>,
    pub user_names: &'a HashMap<u32, String>,
    /// What `container`, `unit` and `cgroup` look up: the sockets' cgroups.
    pub cgroups: &'a HashMap<u64, Cgroup>,
}

impl<'a> Owners<'a> {
    pub fn of(snapshot: &'a Snapshot) -> Owners<'a> {
        Owners {
            processes: &snapshot.processes,
            user_names: &snapshot.user_names,
            cgroups: &snapshot.cgroups,
        }
    }
}

impl Filter {
    /// Whether `socket` is in the filter's states (when it names any) and its expression holds.
    pub fn matches(&self, socket: &Socket, owners: Owners<'_>) -> bool {
        self.states
            .is_none_or(|states| states.contains(socket.state))
            && self.family.is_none_or(|family| family == socket.family())
            && self
                .expr
                .as_ref()
                .is_none_or(|expr| expr.matches(socket, owners))
    }
}

/// Keep only the sockets of `snapshot` that `filter` matches.
pub fn retain_matching(snapshot: &mut Snapshot, filter: &Filter) {
    let owners = Owners {
        processes: &snapshot.processes,
        user_names: &snapshot.user_names,
        cgroups: &snapshot.cgroups,
    };
    snapshot.sockets.retain(|s| filter.matches(s, owners));
}

impl Expr {
    pub fn matches(&self, socket: &Socket, owners: Owners<'_>) -> bool {
        match self {
            Expr::And(terms) => terms.iter().all(|term| term.matches(socket, owners)),
            Expr::Or(terms) => terms.iter().any(|term| term.matches(socket, owners)),
            Expr::Not(inner) => !inner.matches(socket, owners),
            Expr::Host(cond) => host_matches(cond, socket),
            Expr::Port { side, op, port } => {
                let local = socket.local.port();
                let remote = endpoint(socket, Side::Remote).port();
                match side {
                    PortSide::Local => op.holds(local, *port),
                    PortSide::Remote => op.holds(remote, *port),
                    PortSide::Either => op.holds(local, *port) || op.holds(remote, *port),
                }
            }
            Expr::Proto(proto) => socket.proto == *proto,
            Expr::Process(wanted) => socket
                .pids
                .iter()
                .filter_map(|pid| owners.processes.get(pid))
                .any(|process| match wanted {
                    ProcessMatch::Name(name) => process.name == *name,
                    ProcessMatch::Pattern(regex) => regex.is_match(&process.name),
                }),
            Expr::Pid(pid) => socket.pids.contains(pid),
            Expr::Netns(NetnsMatch::Inode(inode)) => socket.netns == Some(*inode),
            // A name the command line could not resolve names no namespace.
            Expr::Netns(NetnsMatch::Name(_)) => false,
            Expr::Container(word) => context_of(socket, owners.cgroups, owners.processes)
                .is_some_and(|context| context.is_container(word)),
            Expr::Unit(word) => context_of(socket, owners.cgroups, owners.processes)
                .is_some_and(|context| context.is_unit(word)),
            Expr::Cgroup(CgroupMatch::Id(id)) => socket.cgroup == Some(*id),
            // A path the command line found no cgroup at names none.
            Expr::Cgroup(CgroupMatch::Path(_)) => false,
            Expr::User(wanted) => socket.uid.is_some_and(|uid| match wanted {
                UserMatch::Uid(wanted) => uid == *wanted,
                UserMatch::Name(name) => owners.user_names.get(&uid) == Some(name),
            }),
        }
    }
}

/// One end of the socket as the kernel reports it: a socket without a peer has the
/// unspecified address of its family and port 0 as its remote end.
fn endpoint(socket: &Socket, side: Side) -> SocketAddr {
    match side {
        Side::Local => socket.local,
        Side::Remote => socket.remote.unwrap_or_else(|| {
            let unspecified = match socket.family() {
                Family::Ipv4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                Family::Ipv6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            };
            SocketAddr::new(unspecified, 0)
        }),
    }
}

/// The kernel's INET_DIAG_BC_S_COND/D_COND: the port first, then the family, where an IPv4
/// condition also matches an IPv4-mapped address on an IPv6 socket, then the prefix.
fn host_matches(cond: &HostCond, socket: &Socket) -> bool {
    let addr = endpoint(socket, cond.side);
    if cond.port.is_some_and(|port| port != addr.port()) {
        return false;
    }
    let Some(family) = cond.family else {
        return true;
    };
    let prefix_len = cond.network.map_or(0, |(_, len)| len);
    match (family, addr.ip()) {
        (Family::Ipv4, IpAddr::V4(ip)) => cond
            .network
            .is_none_or(|(net, _)| prefix_matches(&octets(net), &ip.octets(), prefix_len)),
        (Family::Ipv4, IpAddr::V6(ip)) => match ip.to_ipv4_mapped() {
            Some(ip) => cond
                .network
                .is_none_or(|(net, _)| prefix_matches(&octets(net), &ip.octets(), prefix_len)),
            None => false,
        },
        (Family::Ipv6, IpAddr::V6(ip)) => cond
            .network
            .is_none_or(|(net, _)| prefix_matches(&octets(net), &ip.octets(), prefix_len)),
        (Family::Ipv6, IpAddr::V4(_)) => false,
    }
}

fn octets(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(ip) => ip.octets().to_vec(),
        IpAddr::V6(ip) => ip.octets().to_vec(),
    }
}

/// Whether the first `bits` bits of `network` and `addr` agree.
fn prefix_matches(network: &[u8], addr: &[u8], bits: u8) -> bool {
    let bits = usize::from(bits);
    let whole = bits / 8;
    if network.len() < whole || addr.len() < whole || network[..whole] != addr[..whole] {
        return false;
    }
    let rest = bits % 8;
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    match (network.get(whole), addr.get(whole)) {
        (Some(n), Some(a)) => n & mask == a & mask,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::parse::{parse, split_words};
    use crate::model::{Proto, SocketState};
    use crate::services::Services;

    fn socket(proto: Proto, state: SocketState, local: &str, remote: Option<&str>) -> Socket {
        Socket {
            remote: remote.map(|r| r.parse().unwrap()),
            uid: Some(1000),
            pids: vec![42],
            ..Socket::new(proto, state, local.parse().unwrap())
        }
    }

    fn filter(text: &str) -> Filter {
        parse(
            &split_words(&[text]),
            &Services::builtin(),
            &[Proto::Tcp, Proto::Udp],
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    struct World {
        processes: HashMap<u32, Process>,
        user_names: HashMap<u32, String>,
    }

    fn world() -> World {
        let process = Process {
            pid: 42,
            name: "nginx".into(),
            user: Some("www".into()),
            cmdline: None,
            argv: None,
            cgroup: None,
        };
        World {
            processes: HashMap::from([(42, process)]),
            user_names: HashMap::from([(1000, "www".to_string())]),
        }
    }

    fn holds(text: &str, socket: &Socket) -> bool {
        let world = world();
        filter(text).matches(
            socket,
            Owners {
                processes: &world.processes,
                user_names: &world.user_names,
                cgroups: &std::collections::HashMap::new(),
            },
        )
    }

    #[test]
    fn container_unit_and_cgroup_read_the_sockets_cgroup() {
        let id = "2f1e6b6a1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f";
        let cgroup = |path: String| {
            let mut context = crate::model::Context::of_path(&path);
            if let Some(crate::model::Context::Container(c)) = &mut context {
                c.name = Some("web".into());
            }
            Cgroup { path, context }
        };
        let cgroups = HashMap::from([
            (7, cgroup(format!("/machine.slice/libpod-{id}.scope"))),
            (8, cgroup("/system.slice/nginx.service".into())),
        ]);
        let world = world();
        let holds = |text: &str, socket: &Socket| {
            let mut filter = filter(text);
            if let Some(expr) = &mut filter.expr {
                expr.conditions_mut(&mut |c| {
                    if let Expr::Cgroup(CgroupMatch::Path(path)) = c {
                        let id = cgroups
                            .iter()
                            .find(|(_, g)| g.path == *path)
                            .map(|(id, _)| *id);
                        *c = Expr::Cgroup(CgroupMatch::Id(id.unwrap_or(0)));
                    }
                });
            }
            filter.matches(
                socket,
                Owners {
                    processes: &world.processes,
                    user_names: &world.user_names,
                    cgroups: &cgroups,
                },
            )
        };
        let in_cgroup = |id| Socket {
            cgroup: Some(id),
            ..established()
        };
        let (container, unit, unknown) = (in_cgroup(7), in_cgroup(8), in_cgroup(9));
        assert!(holds("container web", &container));
        assert!(holds(&format!("container {}", &id[..12]), &container));
        assert!(!holds("container web", &unit) && !holds("container web", &unknown));
        assert!(!holds("container nginx", &container));
        assert!(holds("unit nginx", &unit) && holds("unit nginx.service", &unit));
        assert!(!holds("unit nginx", &container) && !holds("unit nginx", &unknown));
        assert!(holds("cgroup /system.slice/nginx.service", &unit));
        assert!(!holds("cgroup /system.slice/nginx.service", &container));
        assert!(
            !holds("cgroup /system.slice", &unit),
            "ss matches the exact cgroup"
        );
        // An unresolved path matches nothing.
        assert!(!Expr::Cgroup(CgroupMatch::Path("/x".into())).matches(
            &unit,
            Owners {
                processes: &world.processes,
                user_names: &world.user_names,
                cgroups: &cgroups,
            }
        ));
    }

    fn established() -> Socket {
        socket(
            Proto::Tcp,
            SocketState::Established,
            "10.1.2.3:443",
            Some("192.168.7.9:51000"),
        )
    }

    fn listener() -> Socket {
        socket(Proto::Tcp, SocketState::Listen, "0.0.0.0:8080", None)
    }

    #[test]
    fn states_select_by_kernel_state() {
        let udp_unconnected = socket(Proto::Udp, SocketState::Unconn, "0.0.0.0:53", None);
        let udp_connected = socket(
            Proto::Udp,
            SocketState::Established,
            "127.0.0.1:5000",
            Some("127.0.0.1:53"),
        );
        assert!(holds("state established", &established()));
        assert!(holds("state established", &udp_connected));
        assert!(!holds("state established", &listener()));
        assert!(holds("state listening", &listener()));
        assert!(!holds("state listening", &udp_unconnected));
        assert!(holds("state closed", &udp_unconnected));
        assert!(!holds("state connected", &udp_unconnected));
        assert!(!holds("state connected", &listener()));
        assert!(holds("exclude listening", &established()));
        assert!(!holds("exclude listening", &listener()));
        let time_wait = socket(
            Proto::Tcp,
            SocketState::TimeWait,
            "127.0.0.1:1",
            Some("127.0.0.1:2"),
        );
        assert!(holds("state bucket", &time_wait));
        assert!(!holds("state big", &time_wait));
        assert!(holds("state synchronized", &time_wait));
    }

    #[test]
    fn ports_compare_with_every_operator() {
        let s = established();
        for (text, expected) in [
            ("sport = :443", true),
            ("sport = :https", true),
            ("sport != :443", false),
            ("sport < :443", false),
            ("sport <= :443", true),
            ("sport > :442", true),
            ("sport >= :444", false),
            ("dport = :51000", true),
            ("dport gt :51000", false),
            ("port = :51000", true),
            ("port = :443", true),
            ("port = :80", false),
            ("port != :443", true),
        ] {
            assert_eq!(holds(text, &s), expected, "{text}");
        }
    }

    #[test]
    fn a_socket_without_a_peer_has_port_0_and_the_unspecified_address_remotely() {
        let l = listener();
        assert!(holds("dport = :0", &l));
        assert!(holds("dst 0.0.0.0", &l));
        assert!(holds("dst 0.0.0.0/0", &l));
        assert!(!holds("dst 127.0.0.1", &l));
        assert!(!holds("dst [::]", &l));
        let l6 = socket(Proto::Tcp, SocketState::Listen, "[::]:8080", None);
        assert!(holds("dst [::]", &l6));
        assert!(holds("dport = :0", &l6));
    }

    #[test]
    fn prefixes_match_by_bits_and_ipv4_matches_mapped_addresses() {
        let s = established();
        assert!(holds("src 10.0.0.0/8", &s));
        assert!(holds("src 10/8", &s));
        assert!(holds("src 10.1.2.0/23", &s));
        assert!(!holds("src 10.1.4.0/23", &s));
        assert!(holds("src 10.1.2.3", &s));
        assert!(holds("src 10.1.2.3:443", &s));
        assert!(!holds("src 10.1.2.3:80", &s));
        assert!(holds("dst 192.168.0.0/16:51000", &s));
        assert!(!holds("dst ::/0", &s));
        assert!(holds("dst *:51000", &s));
        let mapped = socket(
            Proto::Tcp,
            SocketState::Established,
            "[::ffff:127.0.0.1]:80",
            Some("[::ffff:127.0.0.1]:40000"),
        );
        assert!(holds("src 127.0.0.0/8", &mapped));
        // An explicit `inet:` narrows the listing to IPv4 sockets, as ss does.
        assert!(!holds("src inet:*", &mapped));
        assert!(!holds("src inet:127.0.0.1", &mapped));
        assert!(holds("src ::ffff:127.0.0.1", &mapped));
        assert!(!holds("src ::1", &mapped));
        let v6 = socket(
            Proto::Tcp,
            SocketState::Established,
            "[2001:db8::1]:80",
            Some("[::1]:1"),
        );
        assert!(holds("src [2001:db8::/32]", &v6));
        assert!(!holds("src [2001:db9::/32]", &v6));
        assert!(!holds("src 0.0.0.0/0", &v6));
        assert!(holds("src inet6:*", &v6));
        assert!(!holds("src inet6:*", &s));
        assert!(!holds("not src inet6:[::1]", &s));
        assert!(!holds("src inet:* or src 10.1.2.3", &v6));
    }

    #[test]
    fn boolean_structure_follows_the_parse() {
        let s = established();
        assert!(holds("sport = :1 or sport = :443", &s));
        assert!(!holds("sport = :443 or sport = :1 and sport = :2", &s));
        assert!(holds("not sport = :1 sport = :443", &s));
        assert!(!holds("! ( sport = :1 or sport = :443 )", &s));
        assert!(holds("", &s));
    }

    #[test]
    fn process_pid_user_and_proto_use_the_snapshot() {
        let s = established();
        assert!(holds("process nginx", &s));
        assert!(!holds("process ngin", &s));
        assert!(holds("process /gin/", &s));
        assert!(!holds("process /^gin/", &s));
        assert!(holds("pid 42", &s));
        assert!(!holds("pid 43", &s));
        assert!(holds("user www", &s));
        assert!(holds("user 1000", &s));
        assert!(!holds("user root", &s));
        assert!(!holds("user 0", &s));
        assert!(holds("proto tcp", &s));
        assert!(!holds("proto udp", &s));
        let mut unknown = established();
        unknown.uid = None;
        unknown.pids.clear();
        assert!(!holds("user 1000", &unknown));
        assert!(!holds("process nginx", &unknown));
        assert!(holds("not pid 42", &unknown));
    }

    #[test]
    fn prefix_bit_matching() {
        assert!(prefix_matches(&[10, 0, 0, 0], &[10, 200, 1, 1], 8));
        assert!(prefix_matches(&[10, 128, 0, 0], &[10, 255, 0, 0], 9));
        assert!(!prefix_matches(&[10, 128, 0, 0], &[10, 127, 0, 0], 9));
        assert!(prefix_matches(&[1, 2, 3, 4], &[9, 9, 9, 9], 0));
        assert!(prefix_matches(&[1, 2, 3, 4], &[1, 2, 3, 4], 32));
        assert!(!prefix_matches(&[1, 2, 3, 4], &[1, 2, 3, 5], 32));
    }
}
