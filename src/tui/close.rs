//! The close dialog: the TCP connection chosen, named by both ends and its owners, which `y`
//! asks the kernel to destroy. The destroy itself, with its recheck at the instant of acting,
//! is [`crate::platform::close_connection`].

use std::net::SocketAddr;

use crate::format::write_endpoint;
pub use crate::platform::Connection;

/// The close dialog's connection, and what it says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseTarget {
    /// What `y` closes: copied as the dialog opened, so a refresh cannot change it.
    pub connection: Connection,
    /// Each owner as `pid PID PROGRAM`, the program escaped; empty when none is known.
    pub owners: Vec<String>,
}

/// An endpoint as the table writes it, without a service name: what the kernel is asked for.
pub fn endpoint(addr: SocketAddr) -> String {
    let mut out = String::new();
    write_endpoint(&mut out, addr, None);
    out
}
