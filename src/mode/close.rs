//! `--close-connection LOCAL REMOTE`: find the one TCP connection with these ends in the
//! query's namespace and have the kernel destroy it (as `ss -K`), through the same recheck as
//! the dashboard's `x`.

use std::io::Write;
use std::net::SocketAddr;

use crate::error::Error;
use crate::filter::{Listening, Query};
use crate::platform::{self, Connection};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseOptions {
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

/// Whether `found` is the end `given` names: the address and port (a typed IPv6 address has
/// no scope, the kernel's may).
fn same_end(found: SocketAddr, given: SocketAddr) -> bool {
    found.ip() == given.ip() && found.port() == given.port()
}

pub fn run(query: &Query, options: &CloseOptions) -> Result<(), Error> {
    let query = Query {
        tcp: true,
        udp: false,
        unix: false,
        listening: Listening::Exclude,
        owners: false,
        tcp_info: false,
        filter: None,
        contexts: false,
        ..query.clone()
    };
    let asked = format!(
        "{} ↔ {}",
        crate::format::escaped(&options.local.to_string()),
        crate::format::escaped(&options.remote.to_string())
    );
    let snapshot = platform::snapshot(&query).map_err(Error::Collect)?;
    let found: Vec<Connection> = snapshot
        .sockets
        .iter()
        .filter(|s| {
            same_end(s.local, options.local)
                && s.remote.is_some_and(|r| same_end(r, options.remote))
        })
        .filter_map(|s| Connection::of(s).ok())
        .collect();
    let connection = match found.as_slice() {
        [] => {
            return Err(Error::Run(format!(
                "no TCP connection {asked}: the connection is already gone (or never was)"
            )));
        }
        [one] => *one,
        _ => {
            return Err(Error::Run(format!(
                "{} TCP sockets have the ends {asked}: nothing closed",
                found.len()
            )));
        }
    };
    let ends = connection.ends();
    platform::close_connection(&query, &connection)
        .map_err(|why| Error::Run(format!("could not close tcp {ends}: {why}")))?;
    writeln!(std::io::stdout(), "closed tcp {ends}").map_err(Error::Write)
}
