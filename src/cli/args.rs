//! The raw flags as clap sees them, with the value parsers of the flags that take values.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::filter::sort::SortKey;

/// Which program is talking to whom, on which port, right now.
#[derive(Debug, Parser)]
#[command(name = "rnetstat", version = VERSION, about, long_about = None)]
#[command(group = clap::ArgGroup::new("refreshing").args(["live", "continuous", "watch", "metrics_file", "serve"]).multiple(true))]
#[command(group = clap::ArgGroup::new("mode").args(["live", "continuous", "statistics", "watch", "csv", "metrics", "metrics_file", "serve"]))]
pub struct Args {
    /// Show listening and non-listening sockets
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Show only listening sockets (TCP LISTEN, unconnected UDP)
    #[arg(short = 'l', long = "listening")]
    pub listening: bool,
    /// TCP sockets (with -u: both; neither: both)
    #[arg(short = 't', long = "tcp")]
    pub tcp: bool,
    /// UDP sockets
    #[arg(short = 'u', long = "udp")]
    pub udp: bool,
    /// Unix domain sockets (Linux; not in --live or --watch); with -t/-u: those too
    #[arg(short = 'x', long = "unix", conflicts_with_all = ["live", "watch"])]
    pub unix: bool,
    /// IPv4 only
    #[arg(short = '4', long = "ipv4")]
    pub ipv4: bool,
    /// IPv6 only
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,
    /// Numeric: no host names, no service names, numeric user ids
    #[arg(short = 'n', long = "numeric")]
    pub numeric: bool,
    /// No host names: addresses as numbers (as netstat)
    #[arg(long = "numeric-hosts")]
    pub numeric_hosts: bool,
    /// No service names: ports as numbers (as netstat)
    #[arg(long = "numeric-ports")]
    pub numeric_ports: bool,
    /// Host names in --json, --csv and --watch too (a `name` beside each address); the table
    /// has them unless -n
    #[arg(long = "resolve")]
    pub resolve: bool,
    /// How long the host names of one table may take, all looked up at once; what is not
    /// answered by then stays a number (default 1, from 0.1 to 60)
    #[arg(long = "resolve-timeout", value_name = "SECONDS", value_parser = parse_resolve_timeout)]
    pub resolve_timeout: Option<Duration>,
    /// Show the PID/Program owning each socket
    #[arg(short = 'p', long = "programs")]
    pub programs: bool,
    /// Extended: show the User and Inode columns
    #[arg(short = 'e', long = "extend")]
    pub extend: bool,
    /// Timers: the kernel's timer per socket, as netstat -o (kind, seconds left/retransmits/probes)
    #[arg(short = 'o', long = "timers")]
    pub timers: bool,
    /// TCP internals, as ss -i: congestion algorithm, rtt, cwnd, retransmits, bytes (a line under
    /// each TCP socket; "tcp_info" in --json)
    #[arg(short = 'i', long = "info")]
    pub info: bool,
    /// Statistics: totals by protocol, family and state, TIME_WAIT, orphans, the busiest local
    /// ports (and programs, with -p), and the TCP counters of netstat -s
    #[arg(short = 's', long = "statistics", visible_alias = "summary", conflicts_with_all = ["live", "continuous", "info"])]
    pub statistics: bool,
    /// The network namespace to list instead of rnetstat's own, as ss -N: a name under
    /// /run/netns (ip netns), a PID whose namespace to use, or a path to a namespace file
    /// (Linux)
    #[arg(short = 'N', long = "net", value_name = "NAME|PID|PATH")]
    pub net: Option<String>,
    /// Every network namespace on the machine (those of every process, and the names under
    /// /run/netns), each socket labelled with its namespace in a Netns column (Linux)
    #[arg(long = "all-netns", conflicts_with = "net")]
    pub all_netns: bool,
    /// Wide: never truncate addresses or program names
    #[arg(short = 'W', long = "wide")]
    pub wide: bool,
    /// Print one JSON document (schema: docs/json.md); includes owners
    #[arg(long = "json")]
    pub json: bool,
    /// Full-screen live dashboard, refreshed every --interval seconds (keys: press ? inside)
    #[arg(long = "live", conflicts_with = "json")]
    pub live: bool,
    /// Continuous: print the table again every --interval seconds until interrupted, each
    /// after a time stamp line (as netstat -c)
    #[arg(short = 'c', long = "continuous", conflicts_with_all = ["json", "live"])]
    pub continuous: bool,
    /// Report changes until interrupted: one line per socket that opens, closes or changes state;
    /// NDJSON with --json (docs/json.md). Closes come from the kernel as they happen
    #[arg(long = "watch", conflicts_with = "info")]
    pub watch: bool,
    /// Print the table once as CSV (RFC 4180) with a header row: every field --json has
    #[arg(long = "csv", conflicts_with = "json")]
    pub csv: bool,
    /// Print one scrape in Prometheus's text exposition format 0.0.4 and exit (docs/metrics.md)
    #[arg(long = "metrics", conflicts_with_all = ["json", "info"])]
    pub metrics: bool,
    /// Write the metrics to PATH (atomically: a temporary file beside it, then a rename) every
    /// --interval seconds until interrupted, for node_exporter's textfile collector
    #[arg(long = "metrics-file", value_name = "PATH", conflicts_with_all = ["json", "info"])]
    pub metrics_file: Option<PathBuf>,
    /// With --metrics-file: write the file once and exit
    #[arg(long = "once", requires = "metrics_file")]
    pub once: bool,
    /// Serve the metrics over HTTP on ADDR:PORT (GET /metrics), collected at most once per
    /// --interval; ADDR:PORT as 127.0.0.1:9470 or [::1]:9470, localhost:PORT or PORT alone for
    /// 127.0.0.1, :PORT for every IPv4 interface (0.0.0.0)
    #[arg(long = "serve", value_name = "ADDR:PORT", conflicts_with_all = ["json", "info"], value_parser = parse_serve_addr)]
    pub serve: Option<SocketAddr>,
    /// Seconds between refreshes of --live, -c, --watch or --metrics-file, or the least between
    /// collections of --serve (fractions allowed, e.g. 0.5; from 0.1 to 3600)
    #[arg(long = "interval", value_name = "SECONDS", requires = "refreshing", value_parser = parse_interval)]
    pub interval: Option<Duration>,
    /// Sort by KEY[,KEY...]: local, remote, state, proto, recv-q, send-q, pid, program, user
    /// (-KEY reverses); table and JSON
    #[arg(
        long = "sort",
        value_name = "KEYS",
        value_delimiter = ',',
        allow_hyphen_values = true,
        ignore_case = true,
        value_parser = sort_keys()
    )]
    pub sort: Vec<SortKey>,
    /// No header line (as ss -H)
    #[arg(short = 'H', long = "no-header")]
    pub no_header: bool,
    /// Read the filter from FILE (- for stdin, at most 1 MiB), after any filter words given (as
    /// ss -F); # starts a comment line
    #[arg(short = 'F', long = "filter", value_name = "FILE")]
    pub filter_file: Option<PathBuf>,
    /// Close the TCP connection between LOCAL and REMOTE (as ss -K, as root): the kernel destroys
    /// that one socket, named by both ends and its cookie, and its peer sees a reset; e.g.
    /// --close-connection 127.0.0.1:40000 127.0.0.1:8080 (-N for another namespace)
    #[arg(
        long = "close-connection",
        value_names = ["LOCAL", "REMOTE"],
        num_args = 2,
        value_parser = clap::value_parser!(SocketAddr),
        conflicts_with_all = [
            "live", "watch", "json", "csv", "metrics", "metrics_file", "serve", "statistics",
            "continuous", "all_netns", "filter", "filter_file", "unix", "udp",
        ]
    )]
    pub close_connection: Option<Vec<SocketAddr>>,
    /// Print the man page or a shell completion script, built from these flags, and exit
    #[arg(long = "generate", value_name = "KIND", value_enum, exclusive = true)]
    pub generate: Option<Generate>,
    /// ss's filter: [state|exclude STATE]... [EXPRESSION], e.g. state established
    /// '( dport = :443 or dport = :https )'; also process NAME|/REGEX/, pid N, user NAME|UID,
    /// netns NAME|INODE, container NAME|ID, unit NAME, cgroup PATH, proto tcp|udp, port N
    /// (docs/filters.md)
    #[arg(value_name = "FILTER", value_parser = FilterWords, hide_possible_values = true)]
    pub filter: Vec<String>,
}

/// `-V`: the package version and the git commit built from (`-dirty` with uncommitted changes,
/// `unknown` outside a git checkout), from build.rs.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("RNETSTAT_COMMIT"),
    ")"
);

/// What `--generate` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Generate {
    /// The man page, roff for man(1)
    Man,
    /// A bash completion script
    CompleteBash,
    /// A zsh completion script (#compdef)
    CompleteZsh,
    /// A fish completion script
    CompleteFish,
    /// A PowerShell completion script
    CompletePowershell,
}

/// The refresh interval of `--live` and `-c` when `--interval` is not given.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
/// How long one table's host names may take without --resolve-timeout.
pub const DEFAULT_RESOLVE_TIMEOUT: Duration = Duration::from_secs(1);

/// The shortest `--interval`: shorter would spend a core on rescans nobody can read.
pub const MIN_INTERVAL_SECONDS: f64 = 0.1;

/// The forms `--serve` takes, for its error message.
const SERVE_FORMS: &str = "expected ADDR:PORT, e.g. 127.0.0.1:9470 or [::1]:9470 \
     (also localhost:PORT or PORT for 127.0.0.1, :PORT for 0.0.0.0; host names are not looked up)";

/// `--serve`: an IP address and port, or an unambiguous shorthand: `localhost:PORT` and a bare
/// `PORT` are 127.0.0.1 (a root tool exposes process names only where asked), `:PORT` is every
/// IPv4 interface (0.0.0.0), as Go exporters read `:9100`. No other name is resolved.
fn parse_serve_addr(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    let port = |digits: &str| -> Result<u16, String> {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SERVE_FORMS.to_string());
        }
        digits
            .parse()
            .map_err(|_| format!("port {digits} is out of range (0 to 65535); {SERVE_FORMS}"))
    };
    let (host, digits) = match text.rsplit_once(':') {
        None => ([127, 0, 0, 1], text),
        Some(("", digits)) => ([0, 0, 0, 0], digits),
        Some((host, digits)) if host.eq_ignore_ascii_case("localhost") => ([127, 0, 0, 1], digits),
        Some(_) => return Err(SERVE_FORMS.to_string()),
    };
    Ok(SocketAddr::from((host, port(digits)?)))
}

/// The filter words, offered by the completions; any text is taken (addresses, ports, names),
/// and the filter parser says what it makes of it.
#[derive(Clone)]
pub(crate) struct FilterWords;

impl FilterWords {
    pub(crate) const WORDS: [&'static str; 27] = [
        "state",
        "exclude",
        "sport",
        "dport",
        "src",
        "dst",
        "port",
        "and",
        "or",
        "not",
        "process",
        "pid",
        "user",
        "proto",
        "netns",
        "container",
        "unit",
        "cgroup",
        "established",
        "listening",
        "connected",
        "synchronized",
        "time-wait",
        "syn-sent",
        "syn-recv",
        "close-wait",
        "all",
    ];
}

impl clap::builder::TypedValueParser for FilterWords {
    type Value = String;

    fn parse_ref(
        &self,
        command: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(command, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            Self::WORDS
                .iter()
                .map(|word| clap::builder::PossibleValue::new(*word)),
        ))
    }
}

/// The sort keys and their reversed forms (`-local`), so completions offer them; the reversed
/// ones are hidden from the offer, not refused.
fn sort_keys() -> impl clap::builder::TypedValueParser<Value = SortKey> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    let keys = SortKey::NAMES.iter().flat_map(|(key, reversed)| {
        [
            PossibleValue::new(*key),
            PossibleValue::new(*reversed).hide(true),
        ]
    });
    PossibleValuesParser::new(keys).map(|key| key.parse().expect("a key clap checked"))
}

fn parse_resolve_timeout(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(0.1..=60.0).contains(&seconds) {
        return Err(format!(
            "`{text}` is out of range: at least 0.1 and at most 60 seconds"
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(MIN_INTERVAL_SECONDS..=3600.0).contains(&seconds) {
        return Err(format!(
            "`{text}` is out of range: at least {MIN_INTERVAL_SECONDS} and at most 3600 seconds"
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_takes_an_address_or_an_unambiguous_shorthand() {
        for (given, expected) in [
            ("127.0.0.1:9470", "127.0.0.1:9470"),
            ("[::1]:9470", "[::1]:9470"),
            ("localhost:9470", "127.0.0.1:9470"),
            ("LocalHost:9470", "127.0.0.1:9470"),
            ("9470", "127.0.0.1:9470"),
            (":9470", "0.0.0.0:9470"),
        ] {
            assert_eq!(
                parse_serve_addr(given),
                Ok(expected.parse().unwrap()),
                "--serve {given}"
            );
        }
        for bad in [
            "",
            ":",
            "localhost",
            "host:80",
            "::1:80",
            "70000",
            ":-1",
            "1.2.3.4:x",
        ] {
            let err = parse_serve_addr(bad).expect_err(bad);
            assert!(err.contains("expected ADDR:PORT"), "{bad}: {err}");
        }
    }
}
