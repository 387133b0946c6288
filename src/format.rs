//! Text shared by every front end: the one endpoint formatter and the escaping of untrusted text.

use std::fmt::Write;
use std::net::{IpAddr, SocketAddr};

/// Append `addr` as `host:port` (`[host]:port` for IPv6), with ` (service)` when given.
/// Port 0 (not bound yet) prints as `*`, as ss does.
pub fn write_endpoint(out: &mut String, addr: SocketAddr, service: Option<&str>) {
    match addr.ip() {
        IpAddr::V4(ip) => {
            let _ = write!(out, "{ip}");
        }
        IpAddr::V6(ip) => {
            let _ = write!(out, "[{ip}]");
        }
    }
    out.push(':');
    match addr.port() {
        0 => out.push('*'),
        port => {
            let _ = write!(out, "{port}");
        }
    }
    if let Some(service) = service {
        out.push_str(" (");
        push_escaped(out, service);
        out.push(')');
    }
}

/// The text for a missing peer (listeners, unconnected UDP).
pub const NO_PEER: &str = "*:*";

/// Append `text` with control characters escaped (`\n`, `\t`, `\x1b`, `\u{9b}` ...), so text a
/// process or remote host chose cannot move the cursor, recolour or clear a terminal.
pub fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
}

pub fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_escaped(&mut out, text);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(addr: &str, service: Option<&str>) -> String {
        let mut out = String::new();
        write_endpoint(&mut out, addr.parse().unwrap(), service);
        out
    }

    #[test]
    fn ipv4_endpoint_with_and_without_service() {
        assert_eq!(endpoint("127.0.0.1:22", Some("ssh")), "127.0.0.1:22 (ssh)");
        assert_eq!(endpoint("10.1.2.3:54321", None), "10.1.2.3:54321");
        assert_eq!(endpoint("0.0.0.0:0", None), "0.0.0.0:*");
    }

    #[test]
    fn ipv6_endpoint_is_bracketed() {
        assert_eq!(endpoint("[::1]:443", Some("https")), "[::1]:443 (https)");
        assert_eq!(endpoint("[::]:5432", None), "[::]:5432");
        assert_eq!(
            endpoint("[::ffff:127.0.0.1]:8080", None),
            "[::ffff:127.0.0.1]:8080"
        );
        assert_eq!(
            endpoint("[fe80::1:2:3:4]:53", Some("domain")),
            "[fe80::1:2:3:4]:53 (domain)"
        );
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escaped("evil\x1b[2Jname"), "evil\\x1b[2Jname");
        assert_eq!(escaped("a\nb\tc\r"), "a\\nb\\tc\\r");
        assert_eq!(escaped("c1\u{9b}31m"), "c1\\u{9b}31m");
        assert_eq!(escaped("back\\slash"), "back\\\\slash");
        assert_eq!(escaped("nginx: worker ünïcode"), "nginx: worker ünïcode");
    }
}
