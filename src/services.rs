//! Service names for (port, protocol) pairs, so output can say `ssh` instead of `22`.

use std::fmt;
use std::path::PathBuf;

use crate::model::Proto;

/// IANA's three port ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PortClass {
    /// 0-1023.
    WellKnown,
    /// 1024-49151.
    Registered,
    /// 49152-65535, where operating systems pick ephemeral ports.
    Dynamic,
}

impl PortClass {
    pub fn of(port: u16) -> PortClass {
        match port {
            0..=1023 => PortClass::WellKnown,
            1024..=49151 => PortClass::Registered,
            49152..=u16::MAX => PortClass::Dynamic,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PortClass::WellKnown => "well-known",
            PortClass::Registered => "registered",
            PortClass::Dynamic => "dynamic",
        }
    }
}

/// Where one name sits inside `Services::name_text`.
#[derive(Debug, Clone, Copy)]
struct NameSpan {
    start: u32,
    end: u32,
}

/// The names known for one protocol.
#[derive(Clone)]
struct PortNames {
    // Dense by port so a lookup is two array reads, no hashing or search; 0 = unnamed, else
    // 1 + index into `spans` (u16 is enough: at most 65535 ports, never port 0, have a name).
    slot_by_port: Vec<u16>,
    spans: Vec<NameSpan>,
}

impl PortNames {
    fn empty() -> PortNames {
        PortNames {
            // All-zero, so this is a zeroed allocation whose untouched pages cost nothing.
            slot_by_port: vec![0; usize::from(u16::MAX) + 1],
            spans: Vec::new(),
        }
    }
}

/// Port-to-name table for TCP and UDP, read once per run and then queried per socket.
#[derive(Clone)]
pub struct Services {
    tcp: PortNames,
    udp: PortNames,
    // All names back to back, so a large file costs one growing buffer, not an allocation per name.
    name_text: String,
}

impl Services {
    /// Built-in table only.
    pub fn builtin() -> Services {
        let mut services = Services::empty();
        services.add_builtin();
        services
    }

    /// The system services file (Linux/macOS: /etc/services; Windows:
    /// %SystemRoot%\System32\drivers\etc\services) layered over the built-in table; a missing or
    /// unreadable file silently means built-in only.
    pub fn load() -> Services {
        match std::fs::read(system_services_path()) {
            // Lossy because Windows files may be in a legacy code page; names are ASCII anyway.
            Ok(bytes) => Services::from_services_file(&String::from_utf8_lossy(&bytes)),
            Err(_) => Services::builtin(),
        }
    }

    /// Parse services-file text (format: `name  port/proto  [aliases...]  [# comment]`), layered
    /// over the built-in table. Malformed lines are skipped, never a panic. The first entry for a
    /// (port, proto) in the file wins, as getservbyport does.
    pub fn from_services_file(text: &str) -> Services {
        let mut services = Services::empty();
        for (port, proto, name) in parse_services_text(text) {
            services.insert_if_unnamed(port, proto, name);
        }
        // Added last so the file's names take precedence and the built-in ones only fill gaps.
        services.add_builtin();
        services
    }

    /// Name for (port, proto), or None. Port 0 has no name.
    pub fn name(&self, port: u16, proto: Proto) -> Option<&str> {
        let names = self.names_for(proto);
        let slot = names.slot_by_port[usize::from(port)];
        let span = names.spans.get(usize::from(slot).checked_sub(1)?)?;
        self.name_text.get(span.start as usize..span.end as usize)
    }

    /// The port a service is named for on `proto` (the lowest if several), or None.
    pub fn port(&self, name: &str, proto: Proto) -> Option<u16> {
        (1..=u16::MAX).find(|&port| self.name(port, proto) == Some(name))
    }

    fn empty() -> Services {
        Services {
            tcp: PortNames::empty(),
            udp: PortNames::empty(),
            name_text: String::new(),
        }
    }

    fn names_for(&self, proto: Proto) -> &PortNames {
        match proto {
            Proto::Tcp => &self.tcp,
            Proto::Udp => &self.udp,
        }
    }

    fn add_builtin(&mut self) {
        for &(port, proto, name) in BUILTIN_SERVICES {
            self.insert_if_unnamed(port, proto, name);
        }
    }

    /// Records `name` unless (port, proto) already has one, so the first source added wins.
    fn insert_if_unnamed(&mut self, port: u16, proto: Proto, name: &str) {
        if port == 0 {
            return;
        }
        let names = match proto {
            Proto::Tcp => &mut self.tcp,
            Proto::Udp => &mut self.udp,
        };
        let slot = &mut names.slot_by_port[usize::from(port)];
        if *slot != 0 {
            return;
        }
        // Past 4 GiB of names (no real file comes close) dropping the name beats panicking.
        let (Ok(start), Ok(end)) = (
            u32::try_from(self.name_text.len()),
            u32::try_from(self.name_text.len() + name.len()),
        ) else {
            return;
        };
        let Ok(new_slot) = u16::try_from(names.spans.len() + 1) else {
            return;
        };
        self.name_text.push_str(name);
        names.spans.push(NameSpan { start, end });
        *slot = new_slot;
    }
}

impl fmt::Debug for Services {
    // The dense indexes are 64 Ki entries each, far too much to print.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Services")
            .field("tcp_names", &self.tcp.spans.len())
            .field("udp_names", &self.udp.spans.len())
            .finish()
    }
}

#[cfg(windows)]
fn system_services_path() -> PathBuf {
    let system_root =
        std::env::var_os("SystemRoot").unwrap_or_else(|| std::ffi::OsString::from(r"C:\Windows"));
    PathBuf::from(system_root)
        .join("System32")
        .join("drivers")
        .join("etc")
        .join("services")
}

#[cfg(not(windows))]
fn system_services_path() -> PathBuf {
    PathBuf::from("/etc/services")
}

/// (port, proto, name) for every well-formed TCP or UDP line of services-file text, in file order.
fn parse_services_text(text: &str) -> impl Iterator<Item = (u16, Proto, &str)> {
    // A byte-order mark would otherwise glue itself onto the first name.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.lines().filter_map(parse_services_line)
}

/// One `name  port/proto  [aliases...]  [# comment]` line, or None if it is blank or malformed.
fn parse_services_line(line: &str) -> Option<(u16, Proto, &str)> {
    let mut rest = line;
    let name = next_field(&mut rest)?;
    let port_and_proto = next_field(&mut rest)?;
    // A byte scan, because `split_once('/')` costs more in searcher setup than these few bytes.
    let slash = port_and_proto.bytes().position(|byte| byte == b'/')?;
    let port_text = port_and_proto.get(..slash)?;
    let proto_text = port_and_proto.get(slash + 1..)?;
    let port = parse_port(port_text)?;
    // Case-sensitive, as glibc's getservbyport compares it.
    let proto = match proto_text {
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        _ => return None,
    };
    // Names end up on a terminal, where control characters could rewrite the screen.
    if port == 0 || has_control_char(name) {
        return None;
    }
    Some((port, proto, name))
}

fn has_control_char(text: &str) -> bool {
    // C1 controls are encoded as 0xC2 0x80..=0x9F, so only text with a 0xC2 byte needs decoding.
    // A fold rather than `any` so the byte scan compiles to branch-free vector code.
    let may_have_control = text.bytes().fold(false, |found, byte| {
        found | byte.is_ascii_control() | (byte == 0xC2)
    });
    may_have_control && text.chars().any(char::is_control)
}

/// Decimal digits only, unlike `u16::from_str` which also takes a leading '+'; None if empty or
/// above 65535.
fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() {
        return None;
    }
    text.bytes().try_fold(0u16, |port, byte| {
        let digit = byte.checked_sub(b'0').filter(|&digit| digit <= 9)?;
        port.checked_mul(10)?.checked_add(u16::from(digit))
    })
}

/// Takes the next whitespace-separated field off the front of `rest`, or None at the end of the
/// line or the start of a comment.
fn next_field<'line>(rest: &mut &'line str) -> Option<&'line str> {
    // Plain byte loops: this is most of a large file's parse time, and char decoding costs more.
    let bytes = rest.as_bytes();
    let mut start = 0;
    while start < bytes.len() && bytes[start].is_ascii_whitespace() {
        start += 1;
    }
    let mut end = start;
    while end < bytes.len() && !bytes[end].is_ascii_whitespace() && bytes[end] != b'#' {
        end += 1;
    }
    if end == start {
        return None;
    }
    // Both ends sit on ASCII bytes or the end of the text, so `get` always succeeds.
    let field = rest.get(start..end)?;
    *rest = rest.get(end..)?;
    Some(field)
}

const TCP: Proto = Proto::Tcp;
const UDP: Proto = Proto::Udp;

// Names follow Debian's /etc/services; where Debian lists one protocol but IANA assigns both, the
// other gets the same name; services Debian lacks use their IANA or customary name.
static BUILTIN_SERVICES: &[(u16, Proto, &str)] = &[
    (1, TCP, "tcpmux"),
    (1, UDP, "tcpmux"),
    (7, TCP, "echo"),
    (7, UDP, "echo"),
    (9, TCP, "discard"),
    (9, UDP, "discard"),
    (11, TCP, "systat"),
    (11, UDP, "systat"),
    (13, TCP, "daytime"),
    (13, UDP, "daytime"),
    (17, TCP, "qotd"),
    (17, UDP, "qotd"),
    (19, TCP, "chargen"),
    (19, UDP, "chargen"),
    (20, TCP, "ftp-data"),
    (20, UDP, "ftp-data"),
    (21, TCP, "ftp"),
    (21, UDP, "fsp"),
    (22, TCP, "ssh"),
    (22, UDP, "ssh"),
    (23, TCP, "telnet"),
    (23, UDP, "telnet"),
    (25, TCP, "smtp"),
    (25, UDP, "smtp"),
    (37, TCP, "time"),
    (37, UDP, "time"),
    (43, TCP, "whois"),
    (43, UDP, "whois"),
    (49, TCP, "tacacs"),
    (49, UDP, "tacacs"),
    (53, TCP, "domain"),
    (53, UDP, "domain"),
    (67, TCP, "bootps"),
    (67, UDP, "bootps"),
    (68, TCP, "bootpc"),
    (68, UDP, "bootpc"),
    (69, TCP, "tftp"),
    (69, UDP, "tftp"),
    (70, TCP, "gopher"),
    (70, UDP, "gopher"),
    (79, TCP, "finger"),
    (79, UDP, "finger"),
    (80, TCP, "http"),
    (80, UDP, "http"),
    (88, TCP, "kerberos"),
    (88, UDP, "kerberos"),
    (102, TCP, "iso-tsap"),
    (102, UDP, "iso-tsap"),
    (110, TCP, "pop3"),
    (110, UDP, "pop3"),
    (111, TCP, "sunrpc"),
    (111, UDP, "sunrpc"),
    (113, TCP, "auth"),
    (113, UDP, "auth"),
    (119, TCP, "nntp"),
    (119, UDP, "nntp"),
    (123, TCP, "ntp"),
    (123, UDP, "ntp"),
    (135, TCP, "epmap"),
    (135, UDP, "epmap"),
    (137, TCP, "netbios-ns"),
    (137, UDP, "netbios-ns"),
    (138, TCP, "netbios-dgm"),
    (138, UDP, "netbios-dgm"),
    (139, TCP, "netbios-ssn"),
    (139, UDP, "netbios-ssn"),
    (143, TCP, "imap2"),
    (143, UDP, "imap2"),
    (161, TCP, "snmp"),
    (161, UDP, "snmp"),
    (162, TCP, "snmp-trap"),
    (162, UDP, "snmp-trap"),
    (177, TCP, "xdmcp"),
    (177, UDP, "xdmcp"),
    (179, TCP, "bgp"),
    (179, UDP, "bgp"),
    (194, TCP, "irc"),
    (194, UDP, "irc"),
    (199, TCP, "smux"),
    (199, UDP, "smux"),
    (319, UDP, "ptp-event"),
    (320, UDP, "ptp-general"),
    (389, TCP, "ldap"),
    (389, UDP, "ldap"),
    (427, TCP, "svrloc"),
    (427, UDP, "svrloc"),
    (443, TCP, "https"),
    (443, UDP, "https"),
    (445, TCP, "microsoft-ds"),
    (445, UDP, "microsoft-ds"),
    (464, TCP, "kpasswd"),
    (464, UDP, "kpasswd"),
    (465, TCP, "submissions"),
    (500, TCP, "isakmp"),
    (500, UDP, "isakmp"),
    (512, TCP, "exec"),
    (512, UDP, "biff"),
    (513, TCP, "login"),
    (513, UDP, "who"),
    (514, TCP, "shell"),
    (514, UDP, "syslog"),
    (515, TCP, "printer"),
    (515, UDP, "printer"),
    (517, TCP, "talk"),
    (517, UDP, "talk"),
    (518, TCP, "ntalk"),
    (518, UDP, "ntalk"),
    (520, UDP, "route"),
    (540, TCP, "uucp"),
    (540, UDP, "uucp"),
    (543, TCP, "klogin"),
    (543, UDP, "klogin"),
    (544, TCP, "kshell"),
    (544, UDP, "kshell"),
    (546, TCP, "dhcpv6-client"),
    (546, UDP, "dhcpv6-client"),
    (547, TCP, "dhcpv6-server"),
    (547, UDP, "dhcpv6-server"),
    (548, TCP, "afpovertcp"),
    (548, UDP, "afpovertcp"),
    (554, TCP, "rtsp"),
    (554, UDP, "rtsp"),
    (563, TCP, "nntps"),
    (563, UDP, "nntps"),
    (587, TCP, "submission"),
    (587, UDP, "submission"),
    (623, UDP, "asf-rmcp"),
    (631, TCP, "ipp"),
    (631, UDP, "ipp"),
    (636, TCP, "ldaps"),
    (636, UDP, "ldaps"),
    (646, TCP, "ldp"),
    (646, UDP, "ldp"),
    (749, TCP, "kerberos-adm"),
    (749, UDP, "kerberos-adm"),
    (853, TCP, "domain-s"),
    (853, UDP, "domain-s"),
    (873, TCP, "rsync"),
    (873, UDP, "rsync"),
    (989, TCP, "ftps-data"),
    (989, UDP, "ftps-data"),
    (990, TCP, "ftps"),
    (990, UDP, "ftps"),
    (992, TCP, "telnets"),
    (992, UDP, "telnets"),
    (993, TCP, "imaps"),
    (993, UDP, "imaps"),
    (995, TCP, "pop3s"),
    (995, UDP, "pop3s"),
    (1080, TCP, "socks"),
    (1080, UDP, "socks"),
    (1099, TCP, "rmiregistry"),
    (1194, TCP, "openvpn"),
    (1194, UDP, "openvpn"),
    (1433, TCP, "ms-sql-s"),
    (1433, UDP, "ms-sql-s"),
    (1434, TCP, "ms-sql-m"),
    (1434, UDP, "ms-sql-m"),
    (1701, TCP, "l2f"),
    (1701, UDP, "l2f"),
    (1723, TCP, "pptp"),
    (1723, UDP, "pptp"),
    (1812, TCP, "radius"),
    (1812, UDP, "radius"),
    (1813, TCP, "radius-acct"),
    (1813, UDP, "radius-acct"),
    (1883, TCP, "mqtt"),
    (1883, UDP, "mqtt"),
    (1900, TCP, "ssdp"),
    (1900, UDP, "ssdp"),
    (2049, TCP, "nfs"),
    (2049, UDP, "nfs"),
    (2375, TCP, "docker"),
    (2376, TCP, "docker-s"),
    (2379, TCP, "etcd-client"),
    (2380, TCP, "etcd-server"),
    (2947, TCP, "gpsd"),
    (3260, TCP, "iscsi-target"),
    (3260, UDP, "iscsi-target"),
    (3268, TCP, "msft-gc"),
    (3268, UDP, "msft-gc"),
    (3269, TCP, "msft-gc-ssl"),
    (3269, UDP, "msft-gc-ssl"),
    (3306, TCP, "mysql"),
    (3306, UDP, "mysql"),
    (3389, TCP, "ms-wbt-server"),
    (3389, UDP, "ms-wbt-server"),
    (3478, TCP, "stun"),
    (3478, UDP, "stun"),
    (3493, TCP, "nut"),
    (3493, UDP, "nut"),
    (3632, TCP, "distcc"),
    (3690, TCP, "svn"),
    (3690, UDP, "svn"),
    (4190, TCP, "sieve"),
    (4369, TCP, "epmd"),
    (4369, UDP, "epmd"),
    (4460, TCP, "ntske"),
    (4500, TCP, "ipsec-nat-t"),
    (4500, UDP, "ipsec-nat-t"),
    (4789, UDP, "vxlan"),
    (4949, TCP, "munin"),
    (5060, TCP, "sip"),
    (5060, UDP, "sip"),
    (5061, TCP, "sip-tls"),
    (5061, UDP, "sip-tls"),
    (5222, TCP, "xmpp-client"),
    (5269, TCP, "xmpp-server"),
    (5280, TCP, "xmpp-bosh"),
    (5353, TCP, "mdns"),
    (5353, UDP, "mdns"),
    (5355, TCP, "llmnr"),
    (5355, UDP, "llmnr"),
    (5432, TCP, "postgresql"),
    (5432, UDP, "postgresql"),
    (5666, TCP, "nrpe"),
    (5671, TCP, "amqps"),
    (5672, TCP, "amqp"),
    (5672, UDP, "amqp"),
    (5683, TCP, "coap"),
    (5683, UDP, "coap"),
    (5900, TCP, "rfb"),
    (5900, UDP, "rfb"),
    (5985, TCP, "wsman"),
    (5986, TCP, "wsmans"),
    (6000, TCP, "x11"),
    (6000, UDP, "x11"),
    (6081, UDP, "geneve"),
    (6379, TCP, "redis"),
    (6514, TCP, "syslog-tls"),
    (6514, UDP, "syslog-tls"),
    (6566, TCP, "sane-port"),
    (6667, TCP, "ircd"),
    (6697, TCP, "ircs-u"),
    (8080, TCP, "http-alt"),
    (8080, UDP, "http-alt"),
    (8140, TCP, "puppet"),
    (8443, TCP, "https-alt"),
    (8883, TCP, "secure-mqtt"),
    (8883, UDP, "secure-mqtt"),
    (9092, TCP, "kafka"),
    (9200, TCP, "elasticsearch"),
    (9418, TCP, "git"),
    (9418, UDP, "git"),
    (10000, TCP, "webmin"),
    (10050, TCP, "zabbix-agent"),
    (10050, UDP, "zabbix-agent"),
    (10051, TCP, "zabbix-trapper"),
    (10051, UDP, "zabbix-trapper"),
    (10809, TCP, "nbd"),
    (11211, TCP, "memcache"),
    (11211, UDP, "memcache"),
    (11371, TCP, "hkp"),
    (27017, TCP, "mongodb"),
];

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn port_class_boundaries() {
        assert_eq!(PortClass::of(0), PortClass::WellKnown);
        assert_eq!(PortClass::of(1023), PortClass::WellKnown);
        assert_eq!(PortClass::of(1024), PortClass::Registered);
        assert_eq!(PortClass::of(49151), PortClass::Registered);
        assert_eq!(PortClass::of(49152), PortClass::Dynamic);
        assert_eq!(PortClass::of(65535), PortClass::Dynamic);
    }

    #[test]
    fn port_class_strings() {
        assert_eq!(PortClass::WellKnown.as_str(), "well-known");
        assert_eq!(PortClass::Registered.as_str(), "registered");
        assert_eq!(PortClass::Dynamic.as_str(), "dynamic");
    }

    #[test]
    fn builtin_table_has_at_least_120_distinct_entries() {
        let distinct: HashSet<(u16, Proto)> = BUILTIN_SERVICES
            .iter()
            .map(|&(port, proto, _)| (port, proto))
            .collect();
        assert_eq!(
            distinct.len(),
            BUILTIN_SERVICES.len(),
            "a (port, proto) appears twice in the built-in table"
        );
        assert!(distinct.len() >= 120, "only {} entries", distinct.len());

        let services = Services::builtin();
        let named = (0..=u16::MAX)
            .flat_map(|port| [(port, TCP), (port, UDP)])
            .filter(|&(port, proto)| services.name(port, proto).is_some())
            .count();
        assert_eq!(named, distinct.len());
    }

    #[test]
    fn builtin_names_are_well_formed() {
        for &(port, proto, name) in BUILTIN_SERVICES {
            assert_ne!(port, 0, "{name}");
            assert!(!name.is_empty(), "{port}/{}", proto.as_str());
            assert!(
                name.bytes()
                    .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-'),
                "{name:?}"
            );
        }
    }

    #[test]
    fn builtin_lookups() {
        let services = Services::builtin();
        assert_eq!(services.name(22, Proto::Tcp), Some("ssh"));
        assert_eq!(services.name(53, Proto::Udp), Some("domain"));
        assert_eq!(services.name(443, Proto::Tcp), Some("https"));
        assert_eq!(services.name(5432, Proto::Tcp), Some("postgresql"));
        assert_eq!(services.name(6379, Proto::Tcp), Some("redis"));
        assert_eq!(services.name(514, Proto::Tcp), Some("shell"));
        assert_eq!(services.name(514, Proto::Udp), Some("syslog"));
        assert_eq!(services.name(6379, Proto::Udp), None);
        assert_eq!(services.name(65535, Proto::Tcp), None);
    }

    #[test]
    fn port_zero_has_no_name() {
        assert_eq!(Services::builtin().name(0, Proto::Tcp), None);
        assert_eq!(Services::builtin().name(0, Proto::Udp), None);
        let from_file = Services::from_services_file("zero 0/tcp\nzero 0/udp\n");
        assert_eq!(from_file.name(0, Proto::Tcp), None);
        assert_eq!(from_file.name(0, Proto::Udp), None);
    }

    const SAMPLE_FILE: &str = "\
# Network services, Internet style

tcpmux\t\t1/tcp\t\t\t\t# TCP port service multiplexer
   echo   7/udp
discard\t9/tcp\t\tsink null
secure-shell 22/tcp ssh # overrides the built-in name
myapp\t\t4242/tcp\tmy-app app\t# aliases are ignored
myapp\t\t4242/udp
windows-line 4243/tcp\r
upper-proto 4244/TCP
foo
bar 99999/tcp
baz x/tcp
qux 12/sctp
plus +14/tcp
empty /tcp
noport 15/
#commented 16/tcp
bell\u{7} 18/tcp
";

    #[test]
    fn from_services_file_parses_sample() {
        let services = Services::from_services_file(SAMPLE_FILE);
        assert_eq!(services.name(1, Proto::Tcp), Some("tcpmux"));
        assert_eq!(services.name(7, Proto::Udp), Some("echo"));
        assert_eq!(services.name(9, Proto::Tcp), Some("discard"));
        assert_eq!(services.name(4242, Proto::Tcp), Some("myapp"));
        assert_eq!(services.name(4242, Proto::Udp), Some("myapp"));
        assert_eq!(services.name(4243, Proto::Tcp), Some("windows-line"));
        // Protocols are case-sensitive, as in glibc.
        assert_eq!(services.name(4244, Proto::Tcp), None);
    }

    #[test]
    fn from_services_file_skips_malformed_lines() {
        let parsed: Vec<(u16, Proto, &str)> = parse_services_text(SAMPLE_FILE).collect();
        let names: Vec<&str> = parsed.iter().map(|&(_, _, name)| name).collect();
        assert_eq!(
            names,
            [
                "tcpmux",
                "echo",
                "discard",
                "secure-shell",
                "myapp",
                "myapp",
                "windows-line",
            ]
        );
        let services = Services::from_services_file(SAMPLE_FILE);
        for port in [12, 14, 15, 16, 18] {
            assert_eq!(services.name(port, Proto::Tcp), None, "port {port}");
            assert_eq!(services.name(port, Proto::Udp), None, "port {port}");
        }
    }

    #[test]
    fn from_services_file_overrides_and_extends_builtin() {
        let services = Services::from_services_file(SAMPLE_FILE);
        assert_eq!(services.name(22, Proto::Tcp), Some("secure-shell"));
        // The file names only 22/tcp, so 22/udp keeps its built-in name.
        assert_eq!(services.name(22, Proto::Udp), Some("ssh"));
        assert_eq!(services.name(53, Proto::Udp), Some("domain"));
        assert_eq!(services.name(6379, Proto::Tcp), Some("redis"));
    }

    #[test]
    fn first_entry_in_file_wins() {
        let services =
            Services::from_services_file("first 4000/tcp\nsecond 4000/tcp\nthird 4000/udp\n");
        assert_eq!(services.name(4000, Proto::Tcp), Some("first"));
        assert_eq!(services.name(4000, Proto::Udp), Some("third"));
    }

    #[test]
    fn hostile_text_never_panics() {
        let hostile = [
            "",
            "\n\n\n",
            "#",
            "/",
            "a /",
            "a 1/",
            "a /tcp",
            "a 65536/udp",
            "a -1/tcp",
            "a 22/tcp/extra",
            "a 18446744073709551616/tcp",
            "\u{feff}",
            "name\t\t\t",
            "\u{0} 1/tcp",
            "c1-control\u{85} 2/tcp",
            "\u{1b}[2J 3/tcp",
        ];
        for text in hostile {
            assert_eq!(parse_services_text(text).count(), 0, "{text:?}");
            let services = Services::from_services_file(text);
            assert_eq!(services.name(22, Proto::Tcp), Some("ssh"), "{text:?}");
        }
    }

    #[test]
    fn non_ascii_names_are_kept() {
        let services = Services::from_services_file("größe 4300/udp\n");
        assert_eq!(services.name(4300, Proto::Udp), Some("größe"));
    }

    #[test]
    fn byte_order_mark_is_not_part_of_the_first_name() {
        let services = Services::from_services_file("\u{feff}bom-first 4100/tcp\n");
        assert_eq!(services.name(4100, Proto::Tcp), Some("bom-first"));
    }

    #[test]
    fn every_port_can_be_named() {
        let text: String = (1..=u16::MAX)
            .map(|port| format!("p{port} {port}/tcp\n"))
            .collect();
        let services = Services::from_services_file(&text);
        assert_eq!(services.name(1, Proto::Tcp), Some("p1"));
        assert_eq!(services.name(22, Proto::Tcp), Some("p22"));
        assert_eq!(services.name(65535, Proto::Tcp), Some("p65535"));
        assert_eq!(services.name(22, Proto::Udp), Some("ssh"));
    }

    #[test]
    fn load_always_knows_the_builtin_basics() {
        let services = Services::load();
        assert!(services.name(22, Proto::Tcp).is_some());
        assert!(services.name(53, Proto::Udp).is_some());
    }

    #[test]
    fn builtin_agrees_with_system_services_file() {
        let path = system_services_path();
        let Ok(bytes) = std::fs::read(&path) else {
            eprintln!(
                "skipping: {} is absent or unreadable, nothing to compare against",
                path.display()
            );
            return;
        };
        let text = String::from_utf8_lossy(&bytes);
        // Long-established names so this holds beyond Debian; distro-specific ones (imap2) are out.
        let sample: &[(u16, Proto)] = &[
            (21, TCP),
            (22, TCP),
            (23, TCP),
            (25, TCP),
            (53, TCP),
            (53, UDP),
            (67, UDP),
            (68, UDP),
            (69, UDP),
            (80, TCP),
            (110, TCP),
            (123, UDP),
            (161, UDP),
            (389, TCP),
            (443, TCP),
            (514, UDP),
            (587, TCP),
            (631, TCP),
            (636, TCP),
            (873, TCP),
            (993, TCP),
            (995, TCP),
            (1194, UDP),
            (1812, UDP),
            (3306, TCP),
            (3389, TCP),
            (5353, UDP),
            (5432, TCP),
        ];
        let mut first_in_file = std::collections::HashMap::new();
        for (port, proto, name) in parse_services_text(&text) {
            first_in_file.entry((port, proto)).or_insert(name);
        }
        let builtin = Services::builtin();
        let mut compared = 0;
        for &(port, proto) in sample {
            let Some(&file_name) = first_in_file.get(&(port, proto)) else {
                continue;
            };
            assert_eq!(
                builtin.name(port, proto),
                Some(file_name),
                "{port}/{} differs from {}",
                proto.as_str(),
                path.display()
            );
            compared += 1;
        }
        assert!(
            compared >= sample.len() / 2,
            "only {compared} sample entries found in {}",
            path.display()
        );
    }
}
