//! Text shared by every front end: the one endpoint formatter and the escaping of untrusted text.

use std::fmt::Write;
use std::net::SocketAddr;

/// Append `addr` as `host:port` (`[host]:port` for IPv6, `[host%interface]:port` with a scope),
/// with ` (service)` when given. Port 0 (not bound yet) prints as `*`, as ss does.
pub fn write_endpoint(out: &mut String, addr: SocketAddr, service: Option<&str>) {
    match addr {
        SocketAddr::V4(addr) => {
            let _ = write!(out, "{}", addr.ip());
        }
        SocketAddr::V6(addr) => {
            let _ = write!(out, "[{}", addr.ip());
            if addr.scope_id() != 0 {
                out.push('%');
                match interface_name(addr.scope_id()) {
                    Some(name) => push_escaped(out, &name),
                    None => {
                        let _ = write!(out, "{}", addr.scope_id());
                    }
                }
            }
            out.push(']');
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

/// The name of network interface `index` (an IPv6 scope id), if it has one now. Interface names
/// are chosen by whoever created the link: escape them before they reach a terminal.
#[cfg(unix)]
pub fn interface_name(index: u32) -> Option<String> {
    let mut name: [libc::c_char; libc::IF_NAMESIZE] = [0; libc::IF_NAMESIZE];
    // SAFETY: `name` has the IF_NAMESIZE bytes if_indextoname may write.
    let found = unsafe { libc::if_indextoname(index, name.as_mut_ptr()) };
    if found.is_null() {
        return None;
    }
    // SAFETY: on success if_indextoname wrote a NUL-terminated name into `name`.
    let name = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) };
    Some(name.to_string_lossy().into_owned())
}

#[cfg(not(unix))]
pub fn interface_name(_index: u32) -> Option<String> {
    None
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

    #[cfg(unix)]
    #[test]
    fn ipv6_scope_is_the_interface_name_or_its_index() {
        // SAFETY: a NUL-terminated name.
        let lo = unsafe { libc::if_nametoindex(c"lo".as_ptr()) };
        assert_ne!(lo, 0, "no loopback interface");
        assert_eq!(
            endpoint(&format!("[fe80::1%{lo}]:22"), Some("ssh")),
            "[fe80::1%lo]:22 (ssh)"
        );
        assert_eq!(endpoint(&format!("[::%{lo}]:80"), None), "[::%lo]:80");
        // No interface has this index (any more): the number is all there is to say.
        assert_eq!(
            endpoint("[fe80::1%4000000000]:22", None),
            "[fe80::1%4000000000]:22"
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
