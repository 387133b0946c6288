//! The stable mirror of the fuzz targets (fuzz/, docs/fuzzing.md): every parser of untrusted
//! input, on arbitrary and on nearly-valid input, answers without a panic; and a filter printed
//! back to words parses to the same filter. The bytecode property (userspace evaluation equals
//! the kernel's interpreter) is in src/filter/properties.rs: it needs the test interpreter.

use std::fmt::Write as _;
use std::net::IpAddr;

use proptest::prelude::*;
use rnetstat::filter::ast::{
    CgroupMatch, Expr, HostCond, NetnsMatch, PortOp, PortSide, ProcessMatch, Side, UserMatch,
};
use rnetstat::filter::parse;
use rnetstat::filter::{Filter, ast::States};
use rnetstat::fuzzing;
use rnetstat::model::{Family, Proto};
use rnetstat::services::Services;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The words of the filter language and some that are nearly words, for texts the parser gets
/// further into than random characters do.
const FILTER_WORDS: &[&str] = &[
    "(",
    ")",
    "(",
    ")",
    "not",
    "!",
    "and",
    "&&",
    "&",
    "or",
    "||",
    "|",
    "src",
    "dst",
    "sport",
    "dport",
    "port",
    "=",
    "==",
    "eq",
    "!=",
    "ne",
    "<",
    "<=",
    ">",
    ">=",
    "lt",
    "ge",
    ":80",
    "443",
    "ssh",
    "*",
    ":*",
    "65536",
    "127.0.0.1",
    "10/8",
    "10.0.0.0/33",
    "::1",
    "[::1]:22",
    "[fe80::1/64]",
    "inet:10.1.2.3",
    "inet6:*",
    "inet:",
    "unix:/x",
    "*:80",
    "::ffff:1.2.3.4/104",
    "proto",
    "tcp",
    "udp",
    "process",
    "nginx",
    "/ng.nx/",
    "/[/",
    "/a\\/b/",
    "pid",
    "1",
    "user",
    "root",
    "4294967296",
    "state",
    "exclude",
    "established",
    "all",
    "connected",
    "bucket",
    "dev",
    "x",
];

fn filter_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(prop::sample::select(FILTER_WORDS), 0..24).prop_map(|w| w.join(" ")),
        sentence(),
        // A sentence with one word replaced by any word of the language.
        (
            sentence(),
            any::<prop::sample::Index>(),
            prop::sample::select(FILTER_WORDS)
        )
            .prop_map(|(text, at, word)| {
                let mut words: Vec<&str> = text.split(' ').collect();
                let at = at.index(words.len());
                words[at] = word;
                words.join(" ")
            }),
    ]
}

/// Texts of the language in its many spellings: aliases, shortened and bare addresses, service
/// names, `inet:` prefixes, conditions side by side, chains without parentheses.
fn sentence() -> impl Strategy<Value = String> {
    let pick = |words: &[&'static str]| prop::sample::select(words.to_vec());
    let address = pick(&[
        "127.0.0.1",
        "10/8",
        "10.1/16",
        "0.0.0.0/0",
        "192.168.1.9/24",
        "[::1]",
        "::1",
        "[fe80::1/64]",
        "::ffff:10.1.2.3",
        "*",
        "inet:10.0.0.1",
        "inet6:[::]",
        "inet:*",
        "inet6:*",
        "",
    ]);
    let port = pick(&["", ":80", ":ssh", ":*", ":65535", ":0"]);
    let host = (
        pick(&["src", "dst"]),
        pick(&["", "= ", "eq "]),
        address,
        port,
    )
        .prop_map(|(side, eq, address, port)| format!("{side} {eq}{address}{port}"))
        .prop_filter("an address", |text| !text.ends_with(' '));
    let port_condition = (
        pick(&["sport", "dport", "port"]),
        pick(&[
            "", "=", "==", "eq", "!=", "ne", "neq", "<", "lt", "<=", "le", ">", "gt", ">=", "ge",
        ]),
        pick(&["22", ":22", "ssh", "https", ":0", "65535", "domain"]),
    )
        .prop_map(|(side, op, port)| format!("{side} {op} {port}"));
    let other = pick(&[
        "proto tcp",
        "proto udp",
        "process nginx",
        "process /ngi?nx/",
        "process /a\\/b/",
        "pid 1",
        "user root",
        "user 1000",
        "sport = *",
        "dport = :*",
    ])
    .prop_map(str::to_string);
    let leaf = prop_oneof![host, port_condition, other];
    let expr = leaf.prop_recursive(4, 24, 3, move |inner| {
        prop_oneof![
            (pick(&["not", "!"]), inner.clone()).prop_map(|(not, e)| format!("{not} {e}")),
            inner.clone().prop_map(|e| format!("( {e} )")),
            (
                inner.clone(),
                pick(&["and", "&&", "&", "or", "||", "|", ""]),
                inner
            )
                .prop_map(|(a, op, b)| format!("{a} {op} {b}")),
        ]
    });
    let states = prop::collection::vec(
        (
            pick(&["state", "exclude", "excl"]),
            pick(&[
                "established",
                "syn-recv",
                "time-wait",
                "listening",
                "all",
                "connected",
                "bucket",
                "big",
                "synchronized",
                "closed",
            ]),
        )
            .prop_map(|(w, s)| format!("{w} {s} ")),
        0..3,
    );
    (states, prop::option::of(expr))
        .prop_map(|(states, expr)| format!("{}{}", states.concat(), expr.unwrap_or_default()))
        .prop_map(|text| text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Netlink messages with consistent headers around arbitrary payloads, some of them the real
/// sizes (an inet_diag_msg is 72 bytes, a unix_diag_msg 16), then arbitrary trailing bytes.
fn netlink_datagram() -> impl Strategy<Value = Vec<u8>> {
    let message = (
        prop::sample::select(vec![1u16, 2, 3, 20, 0x12]),
        any::<u16>(),
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            prop::collection::vec(any::<u8>(), 72..73),
            prop::collection::vec(any::<u8>(), 16..17),
            // inet_diag_msg then attributes: 4-byte headers with small lengths.
            (
                prop::collection::vec(any::<u8>(), 72..73),
                prop::collection::vec((0u16..40, 1u16..12, any::<u8>()), 0..6)
            )
                .prop_map(|(mut bytes, attributes)| {
                    for (length, kind, fill) in attributes {
                        bytes.extend(length.to_ne_bytes());
                        bytes.extend(kind.to_ne_bytes());
                        bytes.extend(std::iter::repeat_n(fill, usize::from(length)));
                    }
                    bytes
                }),
        ],
        any::<bool>(),
    )
        .prop_map(|(kind, flags, payload, honest_length)| {
            let length = if honest_length {
                16 + payload.len() as u32
            } else {
                (payload.len() as u32).wrapping_mul(3) / 2
            };
            let mut bytes = Vec::new();
            bytes.extend(length.to_ne_bytes());
            bytes.extend(kind.to_ne_bytes());
            bytes.extend(flags.to_ne_bytes());
            bytes.extend([0u8; 8]);
            bytes.extend(payload);
            bytes
        });
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..400),
        (
            prop::collection::vec(message, 1..4),
            prop::collection::vec(any::<u8>(), 0..8)
        )
            .prop_map(|(messages, tail)| {
                let mut bytes: Vec<u8> = messages.concat();
                bytes.extend(tail);
                bytes
            }),
    ]
}

const PROC_NET_TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 12345 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:1F90 0100007F:C350 01 00000010:00000020 02:000000A0 00000003  1000        0 12346 1 0000000000000000 20 4 30 10 -1\n";
const PROC_NET_UNIX: &str = "Num       RefCount Protocol Flags    Type St Inode Path\n00000000bb6524a3: 00000003 00000000 00010000 0001 01 88781 /run/x.sock\n00000000ac7af0b1: 00000003 00000000 00000000 0002 03 88782 @abstract\n";
const PROC_PID_STAT: &str = "25848 (a) b) c) R 25841 25841 14111 0 -1 4194304 96 0 0 0 0 0 0 0 20 0 1 0 516207 3133440 380 18446744073709551615 0\n";
const SNMP: &str =
    "Tcp: RtoAlgorithm ActiveOpens PassiveOpens\nTcp: 1 20 30\nTCP: inuse 5 orphan 0 tw 2\n";

/// A real-looking /proc text with bytes replaced, cut, or inserted.
fn mutated(text: &'static str) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 0..8).prop_map(
        move |edits| {
            let mut bytes = text.as_bytes().to_vec();
            for (at, byte, how) in edits {
                if bytes.is_empty() {
                    break;
                }
                let at = at.index(bytes.len());
                match how {
                    0 => bytes[at] = byte,
                    1 => bytes.truncate(at),
                    _ => bytes.insert(at, byte),
                }
            }
            bytes
        },
    )
}

fn proc_text() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        mutated(PROC_NET_TCP),
        mutated(PROC_NET_UNIX),
        mutated(PROC_PID_STAT),
        mutated(SNMP),
    ]
}

fn http_request() -> impl Strategy<Value = Vec<u8>> {
    const PIECES: &[&str] = &[
        "GET",
        "HEAD",
        "POST",
        " ",
        "  ",
        "/metrics",
        "/",
        "*",
        "http://x/metrics",
        "HTTP/1.1",
        "HTTP/1.0",
        "HTTP/2",
        "\r\n",
        "\n",
        "\r",
        "Host: x",
        "Host:",
        ": v",
        "X y: z",
        "\t",
        "\0",
        "\u{e9}",
    ];
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..600),
        prop::collection::vec(prop::sample::select(PIECES), 0..30)
            .prop_map(|pieces| pieces.concat().into_bytes()),
        (0usize..9000, any::<bool>()).prop_map(|(n, ended)| {
            let mut bytes = b"GET /metrics HTTP/1.1\r\n".to_vec();
            bytes.extend(std::iter::repeat_n(b'a', n));
            if ended {
                bytes.extend(b"\r\n\r\n");
            }
            bytes
        }),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_filter_parser_and_compiler_never_panic(text in filter_text()) {
        fuzzing::filter(&text);
    }

    #[test]
    fn the_netlink_parsers_never_panic(datagram in netlink_datagram()) {
        if cfg!(target_os = "linux") {
            linux::netlink(&datagram);
        }
    }

    #[test]
    fn the_proc_parsers_never_panic(text in proc_text()) {
        if cfg!(target_os = "linux") {
            linux::procfs(&text);
        }
    }

    #[test]
    fn the_http_request_parser_never_panics(received in http_request()) {
        fuzzing::http_request(&received);
    }

    #[test]
    fn a_printed_filter_parses_to_the_same_filter(filter in filter_ast()) {
        let text = print(&filter);
        let words = parse::split_words(&[&text]);
        let parsed = parse::parse(&words, &Services::builtin(), &[Proto::Tcp, Proto::Udp]);
        prop_assert_eq!(parsed.as_ref().ok(), Some(&filter), "{} -> {:?}", text, parsed);
    }

    #[test]
    fn parse_print_parse_gives_the_same_filter(text in filter_text()) {
        let services = Services::builtin();
        let protos = [Proto::Tcp, Proto::Udp];
        if let Ok(first) = parse::parse(&parse::split_words(&[&text]), &services, &protos) {
            let printed = print(&first);
            let second = parse::parse(&parse::split_words(&[&printed]), &services, &protos);
            let second = second.map_err(|e| e.to_string());
            // The printer marks a condition `inet:` only when it has no address, so the
            // whole-filter family (from the last `inet:` word) is the one thing it may not keep.
            let second = second.map(|f| Filter { family: first.family, ..f });
            prop_assert_eq!(second, Ok(first), "{} -> {}", text, printed);
        }
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use rnetstat::fuzzing;

    pub fn netlink(datagram: &[u8]) {
        fuzzing::sock_diag_batch(datagram);
        fuzzing::unix_diag_batch(datagram);
        fuzzing::tcp_info_attributes(datagram);
        fuzzing::destroy_notices(datagram);
    }

    pub fn procfs(bytes: &[u8]) {
        fuzzing::proc_pid_stat(bytes);
        fuzzing::proc_net_unix(bytes);
        let text = String::from_utf8_lossy(bytes);
        fuzzing::proc_net_table(&text);
        fuzzing::snmp_counters(&text);
    }
}

#[cfg(not(target_os = "linux"))]
mod linux {
    pub fn netlink(_: &[u8]) {}
    pub fn procfs(_: &[u8]) {}
}

/// Filters the printer can write and the parser gives back exactly: the whole-filter family is
/// `None` (it comes from `inet:` words, which this printer writes only for a condition with no
/// address), and every address has its family.
fn filter_ast() -> impl Strategy<Value = Filter> {
    // Bits 1 to 11 are the state words; 12 comes with `all` or `exclude`.
    let states = prop::option::of(
        (0u32..1 << 11, any::<bool>())
            .prop_map(|(bits, all)| States(bits << 1 | if all { 1 << 12 } else { 0 })),
    );
    (states, prop::option::of(expr()))
        .prop_map(|(states, expr)| Filter {
            states,
            family: None,
            expr,
        })
        .prop_map(|mut filter| {
            filter.family = last_family_word(filter.expr.as_ref());
            filter
        })
}

/// The family of the last condition printed with `inet:` or `inet6:`.
fn last_family_word(expr: Option<&Expr>) -> Option<Family> {
    match expr? {
        Expr::And(terms) | Expr::Or(terms) => terms
            .iter()
            .rev()
            .find_map(|term| last_family_word(Some(term))),
        Expr::Not(inner) => last_family_word(Some(inner)),
        Expr::Host(HostCond {
            family: Some(family),
            network: None,
            ..
        }) => Some(*family),
        _ => None,
    }
}

fn address() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(IpAddr::from),
        any::<[u8; 16]>().prop_map(IpAddr::from),
        Just("::ffff:10.1.2.3".parse().unwrap()),
    ]
}

fn leaf() -> impl Strategy<Value = Expr> {
    let side = prop::sample::select(vec![Side::Local, Side::Remote]);
    let host = (
        side,
        prop_oneof![
            Just((None, None)),
            prop::sample::select(vec![Family::Ipv4, Family::Ipv6]).prop_map(|f| (Some(f), None)),
            (address(), any::<u8>()).prop_map(|(ip, bits)| {
                let length = bits % if ip.is_ipv4() { 33 } else { 129 };
                (Some(Family::of(ip)), Some((ip, length)))
            }),
        ],
        prop::option::of(any::<u16>()),
    )
        .prop_map(|(side, (family, network), port)| {
            Expr::Host(HostCond {
                side,
                family,
                network,
                port,
            })
        });
    let port = (
        prop::sample::select(vec![PortSide::Local, PortSide::Remote, PortSide::Either]),
        prop::sample::select(vec![
            PortOp::Eq,
            PortOp::Ne,
            PortOp::Lt,
            PortOp::Le,
            PortOp::Gt,
            PortOp::Ge,
        ]),
        any::<u16>(),
    )
        .prop_map(|(side, op, port)| Expr::Port { side, op, port });
    prop_oneof![
        host,
        port,
        prop::sample::select(vec![Proto::Tcp, Proto::Udp]).prop_map(Expr::Proto),
        "[a-z][a-z0-9_.-]{0,8}".prop_map(|n| Expr::Process(ProcessMatch::Name(n))),
        "[\\^]?[a-z][a-z.]{0,5}[*+]?(/[a-z])?[$]?"
            .prop_map(|p| { Expr::Process(ProcessMatch::Pattern(regex::Regex::new(&p).unwrap())) }),
        any::<u32>().prop_map(Expr::Pid),
        any::<u32>().prop_map(|uid| Expr::User(UserMatch::Uid(uid))),
        "[a-z_][a-z0-9_-]{0,8}".prop_map(|n| Expr::User(UserMatch::Name(n))),
        any::<u64>().prop_map(|inode| Expr::Netns(NetnsMatch::Inode(inode))),
        "[a-z_][a-z0-9_-]{0,8}".prop_map(|n| Expr::Netns(NetnsMatch::Name(n))),
        "[a-z0-9][a-z0-9_.-]{0,8}".prop_map(Expr::Container),
        "[a-z][a-z0-9_.@-]{0,8}".prop_map(Expr::Unit),
        "(/[a-z0-9_.-]{1,6}){1,3}".prop_map(|p| Expr::Cgroup(CgroupMatch::Path(p))),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(5, 32, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(Expr::not),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::and(a, b)),
            (inner.clone(), inner).prop_map(|(a, b)| Expr::or(a, b)),
        ]
    })
}

const STATE_WORDS: [&str; 12] = [
    "",
    "established",
    "syn-sent",
    "syn-recv",
    "fin-wait-1",
    "fin-wait-2",
    "time-wait",
    "closed",
    "close-wait",
    "last-ack",
    "listening",
    "closing",
];

/// A filter as words the parser reads back to it: the states as `state` words (none named:
/// `exclude all`), each `and`/`or` in parentheses, each address with its prefix length.
fn print(filter: &Filter) -> String {
    let mut out = String::new();
    if let Some(States(bits)) = filter.states {
        let named = (1..12).filter(|n| bits & (1 << n) != 0);
        let missing = (1..12).filter(|n| bits & (1 << n) == 0);
        // Bit 12 has no word of its own: it comes with `all` (and `exclude`).
        let words: Vec<String> = if bits & (1 << 12) != 0 {
            missing
                .map(|n| format!("exclude {}", STATE_WORDS[n]))
                .collect()
        } else {
            named.map(|n| format!("state {}", STATE_WORDS[n])).collect()
        };
        match (words.is_empty(), bits & (1 << 12) != 0) {
            (true, true) => out.push_str("state all "),
            (true, false) => out.push_str("exclude all "),
            (false, _) => write!(out, "{} ", words.join(" ")).unwrap(),
        }
    }
    if let Some(expr) = &filter.expr {
        print_expr(&mut out, expr);
    }
    out
}

fn print_expr(out: &mut String, expr: &Expr) {
    match expr {
        Expr::And(terms) | Expr::Or(terms) => {
            let joiner = if matches!(expr, Expr::And(..)) {
                " and "
            } else {
                " or "
            };
            out.push_str("( ");
            for (n, term) in terms.iter().enumerate() {
                if n > 0 {
                    out.push_str(joiner);
                }
                print_expr(out, term);
            }
            out.push_str(" )");
        }
        Expr::Not(inner) => {
            out.push_str("not ");
            print_expr(out, inner);
        }
        Expr::Host(cond) => {
            out.push_str(if cond.side == Side::Local {
                "src "
            } else {
                "dst "
            });
            let port = cond.port.map_or("*".to_string(), |p| p.to_string());
            match (cond.network, cond.family) {
                (Some((IpAddr::V4(ip), length)), _) => write!(out, "{ip}/{length}:{port}"),
                (Some((IpAddr::V6(ip), length)), _) => write!(out, "[{ip}/{length}]:{port}"),
                (None, Some(Family::Ipv4)) => write!(out, "inet:*:{port}"),
                (None, Some(Family::Ipv6)) => write!(out, "inet6:*:{port}"),
                (None, None) => write!(out, "*:{port}"),
            }
            .unwrap();
        }
        Expr::Port { side, op, port } => {
            let side = match side {
                PortSide::Local => "sport",
                PortSide::Remote => "dport",
                PortSide::Either => "port",
            };
            let op = match op {
                PortOp::Eq => "=",
                PortOp::Ne => "!=",
                PortOp::Lt => "<",
                PortOp::Le => "<=",
                PortOp::Gt => ">",
                PortOp::Ge => ">=",
            };
            write!(out, "{side} {op} {port}").unwrap();
        }
        Expr::Proto(Proto::Tcp) => out.push_str("proto tcp"),
        Expr::Proto(Proto::Udp) => out.push_str("proto udp"),
        Expr::Process(ProcessMatch::Name(name)) => write!(out, "process {name}").unwrap(),
        Expr::Process(ProcessMatch::Pattern(regex)) => {
            write!(out, "process /{}/", regex.as_str().replace('/', "\\/")).unwrap();
        }
        Expr::Pid(pid) => write!(out, "pid {pid}").unwrap(),
        Expr::User(UserMatch::Uid(uid)) => write!(out, "user {uid}").unwrap(),
        Expr::User(UserMatch::Name(name)) => write!(out, "user {name}").unwrap(),
        Expr::Netns(NetnsMatch::Inode(inode)) => write!(out, "netns {inode}").unwrap(),
        Expr::Netns(NetnsMatch::Name(name)) => write!(out, "netns {name}").unwrap(),
        Expr::Container(word) => write!(out, "container {word}").unwrap(),
        Expr::Unit(word) => write!(out, "unit {word}").unwrap(),
        Expr::Cgroup(CgroupMatch::Path(path)) => write!(out, "cgroup {path}").unwrap(),
        Expr::Cgroup(CgroupMatch::Id(id)) => write!(out, "cgroup {id}").unwrap(),
    }
}
