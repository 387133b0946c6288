//! Text shared by every front end: the one endpoint formatter and the escaping of untrusted text.

use std::fmt::Write;
use std::net::SocketAddr;

use crate::model::TcpInfo;
use crate::platform::system::interface_name;

/// Append `addr` as `host:port` (`[host]:port` for IPv6, `[host%interface]:port` with a scope),
/// with `(service)` right after the port when given: no space inside, so `awk '{print $4}'`
/// gets the whole endpoint. Port 0 (not bound yet) prints as `*`, as ss does.
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
                    Some(name) => push_escaped_interface(out, &name),
                    None => {
                        let _ = write!(out, "{}", addr.scope_id());
                    }
                }
            }
            out.push(']');
        }
    }
    write_port(out, addr.port(), service);
}

/// Append an endpoint as `name:port(service)` when its host has a name (escaped as a word: a
/// name is a PTR record's or a hosts file's say), else as [`write_endpoint`].
pub fn write_named_endpoint(
    out: &mut String,
    addr: SocketAddr,
    name: Option<&str>,
    service: Option<&str>,
) {
    match name {
        Some(name) => {
            push_escaped_name(out, name);
            write_port(out, addr.port(), service);
        }
        None => write_endpoint(out, addr, service),
    }
}

/// Append a socket's local end: by its host's `name` when it has one (as
/// [`write_named_endpoint`]), else as [`write_endpoint`], except that an IPv6 wildcard `[::]`
/// taking IPv4 too (`v6only` false) is `*`, as ss prints it: every address of both families.
pub fn write_local_endpoint(
    out: &mut String,
    addr: SocketAddr,
    v6only: Option<bool>,
    name: Option<&str>,
    service: Option<&str>,
) {
    if name.is_some() {
        write_named_endpoint(out, addr, name, service);
    } else if addr.is_ipv6() && addr.ip().is_unspecified() && v6only == Some(false) {
        out.push('*');
        write_port(out, addr.port(), service);
    } else {
        write_endpoint(out, addr, service);
    }
}

/// Append the `:port(service)` end of an endpoint, as [`write_endpoint`] writes it.
fn write_port(out: &mut String, port: u16, service: Option<&str>) {
    out.push(':');
    match port {
        0 => out.push('*'),
        port => {
            let _ = write!(out, "{port}");
        }
    }
    if let Some(service) = service {
        out.push('(');
        push_escaped_except(out, service, |c| {
            c.is_whitespace() || matches!(c, '(' | ')')
        });
        out.push(')');
    }
}

/// Where the `:port(service)` end of a [`write_endpoint`] text starts: what a shortened
/// endpoint keeps. Service names have their parentheses escaped, so the last `(` opens one.
pub fn endpoint_tail_start(endpoint: &str) -> usize {
    let before_service = match endpoint.strip_suffix(')') {
        Some(_) => endpoint.rfind('(').unwrap_or(endpoint.len()),
        None => endpoint.len(),
    };
    endpoint[..before_service].rfind(':').unwrap_or(0)
}

/// Append an interface name as [`push_escaped`] does, and whitespace and brackets escaped too:
/// whoever made the link named it, and the name must not break or imitate the endpoint.
fn push_escaped_interface(out: &mut String, name: &str) {
    push_escaped_except(out, name, |c| c.is_whitespace() || matches!(c, '[' | ']'));
}

/// The text for a missing peer (listeners, unconnected UDP).
pub const NO_PEER: &str = "*:*";

/// Append `text` with control characters escaped (`\n`, `\t`, `\x1b`, `\u{9b}` ...) and the
/// invisible format and separator characters too (bidi overrides such as `\u{202e}`, zero-width
/// spaces, `\u{feff}`, `\u{2028}`), so text a process or remote host chose cannot move the
/// cursor, recolour or clear a terminal, reorder what follows it, or hide in a column.
pub fn push_escaped(out: &mut String, text: &str) {
    push_escaped_except(out, text, |_| false);
}

pub fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_escaped(&mut out, text);
    out
}

/// Append a process name as one word of a cell: as [`push_escaped`], and whitespace and `,`
/// escaped as well, so a name cannot pose as a list of owners (`sshd,1/systemd`), a count
/// suffix (`nginx +3`) or a column break.
pub fn push_escaped_name(out: &mut String, name: &str) {
    push_escaped_except(out, name, |c| c.is_whitespace() || c == ',');
}

pub fn escaped_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    push_escaped_name(&mut out, name);
    out
}

/// [`push_escaped`], and the characters `separator` picks are escaped too.
fn push_escaped_except(out: &mut String, text: &str, separator: impl Fn(char) -> bool) {
    // Nearly every text (a state, an address, a service, a path) is printable ASCII with
    // nothing to escape: copied whole, as the loop below would, char by char.
    let plain = |b: u8| (0x20..0x7f).contains(&b) && b != b'\\' && !separator(char::from(b));
    if text.bytes().all(plain) {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f || (c.is_ascii() && separator(c)) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() || is_format_or_separator(c) || separator(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// Unicode's format characters (category Cf) and the line and paragraph separators (Zl, Zp):
/// invisible, yet they reorder text (bidi controls), join or split it, or end a line.
pub fn is_format_or_separator(c: char) -> bool {
    matches!(
        c as u32,
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x2028..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}

/// A byte rate with one decimal in binary units: `B/s`, `KiB/s`, `MiB/s`, `GiB/s`.
pub fn rate(bytes_per_second: f64) -> String {
    const UNITS: [&str; 4] = ["B/s", "KiB/s", "MiB/s", "GiB/s"];
    let mut value = bytes_per_second.max(0.0);
    let mut unit = 0;
    // Step up once the value would round to 1024.0 or more in this unit.
    while unit + 1 < UNITS.len() && value >= 1023.95 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// One socket's tcp_info as ss -i prints it: `key:value` tokens, times in milliseconds, rates
/// in bits per second; fields this kernel does not give are left out.
pub fn push_tcp_info(out: &mut String, info: &TcpInfo) {
    if let Some(congestion) = &info.congestion {
        push_escaped(out, congestion);
        out.push(' ');
    }
    out.push_str("rto:");
    push_millis(out, u64::from(info.rto_us));
    out.push_str(" rtt:");
    push_millis(out, u64::from(info.rtt_us));
    out.push('/');
    push_millis(out, u64::from(info.rttvar_us));
    if let Some(min_rtt) = info.min_rtt_us {
        out.push_str(" minrtt:");
        push_millis(out, u64::from(min_rtt));
    }
    let _ = write!(out, " mss:{} cwnd:{}", info.mss, info.cwnd);
    if let Some(ssthresh) = info.ssthresh {
        let _ = write!(out, " ssthresh:{ssthresh}");
    }
    let counters = [
        ("bytes_sent", info.bytes_sent),
        ("bytes_retrans", info.bytes_retrans),
        ("bytes_acked", info.bytes_acked),
        ("bytes_received", info.bytes_received),
        ("segs_out", info.segs_out.map(u64::from)),
        ("segs_in", info.segs_in.map(u64::from)),
    ];
    for (key, value) in counters {
        if let Some(value) = value {
            let _ = write!(out, " {key}:{value}");
        }
    }
    let _ = write!(
        out,
        " lastsnd:{} lastrcv:{} lastack:{}",
        info.last_send_ms, info.last_recv_ms, info.last_ack_ms
    );
    for (key, rate) in [
        ("pacing_rate", info.pacing_rate),
        ("delivery_rate", info.delivery_rate),
    ] {
        if let Some(rate) = rate {
            let _ = write!(out, " {key}:");
            push_bits_per_second(out, rate);
        }
    }
    for (key, micros) in [
        ("busy", info.busy_us),
        ("rwnd_limited", info.rwnd_limited_us),
        ("sndbuf_limited", info.sndbuf_limited_us),
    ] {
        if let Some(micros) = micros {
            let _ = write!(out, " {key}:{}ms", micros / 1000);
        }
    }
    let _ = write!(
        out,
        " retrans:{}/{} lost:{} unacked:{}",
        info.retransmits, info.total_retrans, info.lost, info.unacked
    );
    if let Some(notsent) = info.notsent {
        let _ = write!(out, " notsent:{notsent}");
    }
}

/// Microseconds as milliseconds without trailing zeros: `204`, `0.029`, `12.5`.
fn push_millis(out: &mut String, micros: u64) {
    let _ = write!(out, "{}", micros / 1000);
    let fraction = micros % 1000;
    if fraction != 0 {
        let digits = format!("{fraction:03}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

/// Bytes per second as bits per second with ss's decimal units: `800bps`, `1.2Mbps`.
fn push_bits_per_second(out: &mut String, bytes_per_second: u64) {
    let bits = bytes_per_second as f64 * 8.0;
    let _ = match bits {
        b if b >= 1e9 => write!(out, "{:.1}Gbps", b / 1e9),
        b if b >= 1e6 => write!(out, "{:.1}Mbps", b / 1e6),
        b if b >= 1e3 => write!(out, "{:.1}Kbps", b / 1e3),
        b => write!(out, "{b}bps"),
    };
}

/// Wall-clock time of day in UTC (no time zone database needed on any OS).
pub fn clock(at: std::time::SystemTime) -> String {
    let seconds = at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
        % 86_400;
    format!(
        "{:02}:{:02}:{:02} UTC",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
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
        assert_eq!(endpoint("127.0.0.1:22", Some("ssh")), "127.0.0.1:22(ssh)");
        assert_eq!(endpoint("10.1.2.3:54321", None), "10.1.2.3:54321");
        assert_eq!(endpoint("0.0.0.0:0", None), "0.0.0.0:*");
    }

    #[test]
    fn ipv6_endpoint_is_bracketed() {
        assert_eq!(endpoint("[::1]:443", Some("https")), "[::1]:443(https)");
        assert_eq!(endpoint("[::]:5432", None), "[::]:5432");
        let local = |addr: &str, v6only| {
            let mut out = String::new();
            write_local_endpoint(&mut out, addr.parse().unwrap(), v6only, None, Some("http"));
            out
        };
        assert_eq!(local("[::]:80", Some(false)), "*:80(http)");
        assert_eq!(local("[::]:80", Some(true)), "[::]:80(http)");
        assert_eq!(local("[::]:80", None), "[::]:80(http)");
        assert_eq!(local("[::1]:80", Some(false)), "[::1]:80(http)");
        assert_eq!(local("0.0.0.0:80", Some(false)), "0.0.0.0:80(http)");
        assert_eq!(
            endpoint("[::ffff:127.0.0.1]:8080", None),
            "[::ffff:127.0.0.1]:8080"
        );
        assert_eq!(
            endpoint("[fe80::1:2:3:4]:53", Some("domain")),
            "[fe80::1:2:3:4]:53(domain)"
        );
    }

    #[cfg(unix)]
    #[test]
    fn ipv6_scope_is_the_interface_name_or_its_index() {
        let lo = crate::platform::system::interface_index("lo").expect("no loopback interface");
        assert_eq!(
            endpoint(&format!("[fe80::1%{lo}]:22"), Some("ssh")),
            "[fe80::1%lo]:22(ssh)"
        );
        assert_eq!(endpoint(&format!("[::%{lo}]:80"), None), "[::%lo]:80");
        assert_eq!(
            &"[fe80::1%lo]:22(ssh)"[endpoint_tail_start("[fe80::1%lo]:22(ssh)")..],
            ":22(ssh)"
        );
        // No interface has this index (any more): the number is all there is to say.
        assert_eq!(
            endpoint("[fe80::1%4000000000]:22", None),
            "[fe80::1%4000000000]:22"
        );
    }

    #[test]
    fn interface_names_cannot_break_an_endpoint() {
        let escaped_interface = |name: &str| {
            let mut out = String::new();
            push_escaped_interface(&mut out, name);
            out
        };
        assert_eq!(escaped_interface("eth0.100"), "eth0.100");
        assert_eq!(escaped_interface("v0]:22 x"), "v0\\x5d:22\\x20x");
        assert_eq!(escaped_interface("a\u{3000}b\x1b"), "a\\u{3000}b\\x1b");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escaped("evil\x1b[2Jname"), "evil\\x1b[2Jname");
        assert_eq!(escaped("a\nb\tc\r"), "a\\nb\\tc\\r");
        assert_eq!(escaped("c1\u{9b}31m"), "c1\\u{9b}31m");
        assert_eq!(escaped("back\\slash"), "back\\\\slash");
        assert_eq!(escaped("nginx: worker ünïcode"), "nginx: worker ünïcode");
    }

    #[test]
    fn endpoints_have_no_whitespace_and_odd_service_names_are_escaped() {
        assert_eq!(
            endpoint("127.0.0.1:8080", Some("http-alt")),
            "127.0.0.1:8080(http-alt)"
        );
        assert_eq!(
            endpoint("127.0.0.1:9", Some("odd name(x)\u{202e}\x1b")),
            "127.0.0.1:9(odd\\x20name\\x28x\\x29\\u{202e}\\x1b)"
        );
    }

    #[test]
    fn the_tail_is_port_and_service() {
        for (text, tail) in [
            ("127.0.0.1:8080(http-alt)", ":8080(http-alt)"),
            ("[::1]:443(https)", ":443(https)"),
            ("[fe80::1]:5000", ":5000"),
            ("0.0.0.0:*", ":*"),
            ("127.0.0.1:9(odd\\x28x\\x29)", ":9(odd\\x28x\\x29)"),
        ] {
            assert_eq!(&text[endpoint_tail_start(text)..], tail, "{text}");
        }
    }

    #[test]
    fn format_and_separator_characters_are_escaped() {
        assert_eq!(escaped("abc\u{202e}fed"), "abc\\u{202e}fed");
        for c in [
            '\u{202a}',
            '\u{202b}',
            '\u{202c}',
            '\u{202d}',
            '\u{202e}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{200e}',
            '\u{200f}',
            '\u{061c}',
            '\u{200b}',
            '\u{200c}',
            '\u{200d}',
            '\u{2060}',
            '\u{feff}',
            '\u{2028}',
            '\u{2029}',
            '\u{00ad}',
            '\u{e0041}',
        ] {
            let text = format!("a{c}b");
            assert_eq!(
                escaped(&text),
                format!("a\\u{{{:x}}}b", c as u32),
                "U+{:04X}",
                c as u32
            );
        }
        // Visible letters of other scripts, and plain spaces in general text, stay.
        assert_eq!(escaped("שלום мир 世界 a b"), "שלום мир 世界 a b");
    }

    #[test]
    fn names_cannot_imitate_owner_lists_or_counts() {
        assert_eq!(escaped_name("sshd,1/systemd"), "sshd\\x2c1/systemd");
        assert_eq!(escaped_name("nginx +3"), "nginx\\x20+3");
        assert_eq!(escaped_name("a\u{3000}b\u{a0}c"), "a\\u{3000}b\\u{a0}c");
        assert_eq!(escaped_name("(sd-pam)"), "(sd-pam)");
        assert_eq!(escaped_name("ev\x1b[2Jil"), "ev\\x1b[2Jil");
    }

    #[test]
    fn rates_print_with_one_decimal_in_binary_units() {
        assert_eq!(rate(0.0), "0.0 B/s");
        assert_eq!(rate(512.0), "512.0 B/s");
        assert_eq!(rate(1023.9), "1023.9 B/s");
        assert_eq!(rate(1023.96), "1.0 KiB/s");
        assert_eq!(rate(1536.0), "1.5 KiB/s");
        assert_eq!(rate(2.0 * 1024.0 * 1024.0), "2.0 MiB/s");
        assert_eq!(rate(3.25 * 1024.0 * 1024.0 * 1024.0), "3.2 GiB/s");
        assert_eq!(rate(5000.0 * 1024.0 * 1024.0 * 1024.0), "5000.0 GiB/s");
    }

    #[test]
    fn tcp_info_tokens_in_ss_units_and_only_known_fields() {
        let mut info = TcpInfo {
            congestion: Some("cubic".to_string()),
            rto_us: 204_000,
            rtt_us: 29,
            rttvar_us: 12_500,
            mss: 32768,
            cwnd: 10,
            retransmits: 1,
            total_retrans: 4,
            last_send_ms: 7,
            ..TcpInfo::default()
        };
        let mut line = String::new();
        push_tcp_info(&mut line, &info);
        assert_eq!(
            line,
            "cubic rto:204 rtt:0.029/12.5 mss:32768 cwnd:10 lastsnd:7 lastrcv:0 lastack:0 \
             retrans:1/4 lost:0 unacked:0"
        );
        info.congestion = None;
        info.ssthresh = Some(7);
        info.bytes_acked = Some(1001);
        info.bytes_received = Some(0);
        info.pacing_rate = Some(150_000_000);
        info.delivery_rate = Some(100);
        info.busy_us = Some(2_999);
        info.notsent = Some(5);
        line.clear();
        push_tcp_info(&mut line, &info);
        assert_eq!(
            line,
            "rto:204 rtt:0.029/12.5 mss:32768 cwnd:10 ssthresh:7 bytes_acked:1001 \
             bytes_received:0 lastsnd:7 lastrcv:0 lastack:0 pacing_rate:1.2Gbps \
             delivery_rate:800bps busy:2ms retrans:1/4 lost:0 unacked:0 notsent:5"
        );
    }
}
