//! Entry points for the fuzz targets (fuzz/) and the no-panic properties
//! (tests/parser_properties.rs): each parser of untrusted input, callable on arbitrary bytes.
//! Not an API: hidden from the docs, and free to change with the parsers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::OnceLock;

use crate::filter::eval::Owners;
use crate::filter::kernel::KernelFilter;
use crate::filter::parse;
use crate::model::{Proto, Socket, SocketState};
use crate::services::Services;

#[cfg(target_os = "linux")]
pub use crate::platform::linux::fuzzing::*;

/// What the filter pipeline made of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterOutcome {
    /// A one-line error (exit 2 in the binary).
    Refused,
    /// Parsed; the program the kernel would get (`None`: none needed), or `Err` when too long.
    Compiled(Result<Option<Vec<u8>>, ()>),
}

/// The filter words of `text` (as `-F` or the dashboard's `/` give them): split, parsed,
/// lowered to the kernel's filter and compiled to INET_DIAG bytecode. On a parsed filter it also
/// checks the pushdown's promise on a few sockets: what the whole filter keeps, the kernel keeps.
pub fn filter(text: &str) -> FilterOutcome {
    static SERVICES: OnceLock<Services> = OnceLock::new();
    let services = SERVICES.get_or_init(Services::builtin);
    let words = parse::split_words(&[text]);
    let Ok(filter) = parse::parse(&words, services, &[Proto::Tcp, Proto::Udp]) else {
        return FilterOutcome::Refused;
    };
    let kernel = KernelFilter::of(&filter);
    let processes = HashMap::new();
    let user_names = HashMap::new();
    let cgroups = HashMap::new();
    let owners = Owners {
        processes: &processes,
        user_names: &user_names,
        cgroups: &cgroups,
    };
    for socket in sample_sockets() {
        assert!(
            !filter.matches(socket, owners) || kernel.keeps(socket),
            "the kernel drops a socket the filter keeps: {socket:?} {filter:?} {kernel:?}"
        );
    }
    FilterOutcome::Compiled(kernel.bytecode().map_err(|_| ()))
}

fn sample_sockets() -> &'static [Socket] {
    static SOCKETS: OnceLock<Vec<Socket>> = OnceLock::new();
    SOCKETS.get_or_init(|| {
        let socket = |proto, state, local: &str, remote: Option<&str>| Socket {
            remote: remote.map(|r| r.parse::<SocketAddr>().unwrap()),
            uid: Some(1000),
            ..Socket::new(proto, state, local.parse().unwrap())
        };
        vec![
            socket(Proto::Tcp, SocketState::Listen, "0.0.0.0:22", None),
            socket(
                Proto::Tcp,
                SocketState::Established,
                "127.0.0.1:443",
                Some("127.0.0.1:50000"),
            ),
            socket(
                Proto::Tcp,
                SocketState::TimeWait,
                "[::ffff:10.0.0.1]:80",
                Some("[::ffff:192.168.1.2]:1024"),
            ),
            socket(Proto::Udp, SocketState::Unconn, "[::]:53", None),
            socket(
                Proto::Udp,
                SocketState::Established,
                "[fe80::1]:5353",
                Some("[2001:db8::1]:0"),
            ),
        ]
    })
}

/// The HTTP request parser of `--serve`: what it made of the bytes a client sent.
pub fn http_request(received: &[u8]) -> String {
    crate::mode::metrics::http::parse_request_debug(received)
}
