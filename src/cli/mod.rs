//! The command line: raw flags ([`args`]) turned into the validated [`Config`] the modes run on;
//! [`generate`] prints the man page and completions built from the same flags.

pub mod args;
pub mod generate;

use std::ffi::OsStr;
use std::io::IsTerminal;

use clap::Parser;

pub use args::{
    Args, DEFAULT_INTERVAL, DEFAULT_RESOLVE_TIMEOUT, Generate, MIN_INTERVAL_SECONDS, VERSION,
};
use clap::error::{ContextKind, ContextValue, ErrorKind};

use crate::error::Error;
use crate::filter::ast::{CgroupMatch, Expr, NetnsMatch, UserMatch};
use crate::filter::parse::{MAX_FILTER_BYTES, parse, split_words};
use crate::filter::{Filter, Listening, Namespaces, Netns, Query};
use crate::format::escaped;
use crate::mode::close::CloseOptions;
use crate::mode::metrics::{MetricsOptions, MetricsTarget};
use crate::mode::print::{Format, PrintOptions};
use crate::mode::summary::SummaryOptions;
use crate::mode::watch::WatchOptions;
use crate::model::Proto;
use crate::output::table::TableOptions;
use crate::platform;
use crate::services::Services;
use crate::tui::LiveOptions;

/// What rnetstat was asked to do, with that mode's own options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// The table, `--json` or `--csv`, once or every `-c` interval.
    Print(PrintOptions),
    /// `-s`: totals and counters instead of rows; as JSON with `--json`.
    Summary(SummaryOptions),
    /// The full-screen dashboard (`--live`).
    Live(LiveOptions),
    /// `--watch`: events until interrupted.
    Watch(WatchOptions),
    /// `--metrics`, `--metrics-file`, `--serve`: the Prometheus exposition.
    Metrics(MetricsOptions),
    /// `--close-connection LOCAL REMOTE`: close one TCP connection, print what came of it.
    Close(CloseOptions),
    /// `--generate`: the man page or a completion script, no sockets.
    Generate(Generate),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// What to collect: every mode but `--generate` starts from it.
    pub query: Query,
    pub mode: Mode,
}

impl Args {
    /// Resolve the flags into what to collect and how to print it. `stdout_is_terminal` and
    /// `no_color` decide colour, so tests can pass them instead of reading the environment.
    pub fn into_config(self, stdout_is_terminal: bool, no_color: bool) -> Config {
        // No protocol flag at all: TCP and UDP, as netstat; Unix sockets only when asked for.
        let both_protos = !self.tcp && !self.udp && !self.unix;
        let metrics = self.metrics || self.metrics_file.is_some() || self.serve.is_some();
        let both_families = self.ipv4 == self.ipv6;
        // As netstat: -a wins over -l, and with neither only non-listening sockets show.
        // Metrics describe the whole machine: listeners and connections alike.
        // The dashboard shows every socket, listeners too, as TCPView (its `l` hides them).
        let listening = if self.all || self.statistics || metrics || (self.live && !self.listening)
        {
            Listening::All
        } else if self.listening {
            Listening::Only
        } else {
            Listening::Exclude
        };
        let query = Query {
            tcp: both_protos || self.tcp,
            udp: both_protos || self.udp,
            unix: self.unix,
            ipv4: both_families || self.ipv4,
            ipv6: both_families || self.ipv6,
            listening,
            // The dashboard always shows owners; that is what it is for.
            // A summary names programs only when asked: owners cost a scan of every process.
            owners: self.programs
                || (self.json && !self.statistics)
                || self.live
                || self.watch
                || self.csv
                || metrics,
            tcp_info: self.info,
            filter: None,
            netns: match (&self.net, self.all_netns) {
                (Some(given), _) => Namespaces::One(Netns::named(given)),
                (None, true) => Namespaces::All,
                (None, false) => Namespaces::Own,
            },
            // What each socket runs as: shown with -e, beside the namespace with
            // --all-netns, in the dashboard, and in every export.
            contexts: self.extend
                || self.all_netns
                || (self.json && !self.statistics)
                || self.csv
                || self.live
                || self.watch
                || metrics,
        };
        let interval = self.interval.unwrap_or(DEFAULT_INTERVAL);
        let continuous = self.continuous.then_some(interval);
        // As netstat: the table names hosts unless -n; scripts get numbers unless --resolve.
        let resolve_wait = self.resolve_timeout.unwrap_or(DEFAULT_RESOLVE_TIMEOUT);
        let print = |format: Format| {
            let names = match format {
                Format::Table(_) => !(self.numeric || self.numeric_hosts),
                Format::Json | Format::Csv => self.resolve && !self.numeric_hosts,
            };
            Mode::Print(PrintOptions {
                format,
                sort: self.sort.clone(),
                continuous,
                names: names.then_some(resolve_wait),
            })
        };
        let mode = if let Some(kind) = self.generate {
            Mode::Generate(kind)
        } else if let Some([local, remote]) = self.close_connection.as_deref() {
            Mode::Close(CloseOptions {
                local: *local,
                remote: *remote,
            })
        } else if self.statistics {
            Mode::Summary(SummaryOptions { json: self.json })
        } else if self.watch {
            Mode::Watch(WatchOptions {
                json: self.json,
                numeric: self.numeric,
                interval,
            })
        } else if self.csv {
            print(Format::Csv)
        } else if let Some(path) = self.metrics_file.clone() {
            Mode::Metrics(MetricsOptions {
                target: MetricsTarget::File {
                    path,
                    interval,
                    once: self.once,
                },
            })
        } else if let Some(addr) = self.serve {
            Mode::Metrics(MetricsOptions {
                target: MetricsTarget::Serve { addr, interval },
            })
        } else if self.metrics {
            Mode::Metrics(MetricsOptions {
                target: MetricsTarget::Stdout,
            })
        } else if self.json {
            print(Format::Json)
        } else if self.live {
            Mode::Live(LiveOptions {
                numeric: self.numeric,
                resolve: !(self.numeric || self.numeric_hosts),
                interval,
                filter: String::new(),
                parsed_filter: None,
            })
        } else {
            print(Format::Table(TableOptions {
                numeric: self.numeric,
                programs: self.programs,
                extended: self.extend,
                wide: self.wide,
                timers: self.timers,
                color: stdout_is_terminal && !no_color,
                header: !self.no_header,
                info: self.info,
                contexts: cfg!(target_os = "linux") && (self.extend || self.all_netns),
                numeric_ports: self.numeric_ports,
            }))
        };
        let mut query = query;
        // sock_diag's timer fields hold one count (retransmits of a retransmit timer, probes
        // of the others); tcp_info has both, as netstat shows them.
        if let Mode::Print(PrintOptions {
            format: Format::Table(TableOptions { timers: true, .. }),
            ..
        }) = mode
        {
            query.tcp_info = true;
        }
        query.owners |= self.sort.iter().any(|key| key.field.needs_owners());
        Config { query, mode }
    }

    /// [`Args::into_config`], with the filter words (and `-F FILE`) parsed into the query.
    /// An explicit `state`/`exclude` replaces -l/-a and netstat's default listening split,
    /// as ss's state words replace its own; a filter on owners collects them.
    pub fn resolve(self, stdout_is_terminal: bool, no_color: bool) -> Result<Config, String> {
        let mut words = self.filter.clone();
        if let Some(path) = &self.filter_file {
            let text = if path.as_os_str() == "-" {
                read_filter_file(std::io::stdin())
            } else {
                std::fs::File::open(path).and_then(read_filter_file)
            }
            .map_err(|e| format!("-F {}: {e}", path.display()))?;
            words.extend(
                text.lines()
                    .filter(|line| !line.trim_start().starts_with('#'))
                    .map(str::to_string),
            );
        }
        if (self.net.is_some() || self.all_netns) && !cfg!(target_os = "linux") {
            return Err("-N, --all-netns: network namespaces are Linux's".to_string());
        }
        if self.unix && !cfg!(target_os = "linux") {
            return Err("-x: Unix sockets are not supported on this OS".to_string());
        }
        let words = split_words(&words);
        let protos: Vec<Proto> = match (self.tcp, self.udp) {
            (true, false) => vec![Proto::Tcp],
            (false, true) => vec![Proto::Udp],
            _ => vec![Proto::Tcp, Proto::Udp],
        };
        let filter = if words.is_empty() {
            None
        } else {
            Some(parse(&words, &Services::load(), &protos).map_err(|e| e.to_string())?)
        };
        let unix = self.unix;
        let mut config = self.into_config(stdout_is_terminal, no_color);
        if let Mode::Live(live) = &mut config.mode {
            live.filter = words.join(" ");
        }
        if let Some(filter) = filter {
            // Conditions name addresses, ports and owners of TCP/UDP sockets; none of them
            // means anything for a Unix socket, and a silently unfiltered list would mislead.
            if unix && (filter.expr.is_some() || filter.family.is_some()) {
                return Err(
                    "-x: with Unix sockets the filter may only have state words \
                            (state listening, exclude connected, ...)"
                        .to_string(),
                );
            }
            if filter.states.is_some() {
                config.query.listening = Listening::All;
            }
            let mut filter = filter;
            if filter
                .expr
                .iter()
                .flat_map(Expr::conditions)
                .any(|c| matches!(c, Expr::Netns(_)))
            {
                if let Namespaces::One(netns) = &config.query.netns {
                    return Err(format!(
                        "filter: netns picks among all namespaces; -N {} lists one",
                        escaped(&netns.given)
                    ));
                }
                // The word asks which namespace a socket is in: every namespace is listed.
                config.query.netns = Namespaces::All;
                if let Some(name) = resolve_namespaces(&mut filter) {
                    return Err(format!(
                        "filter: no network namespace named '{}' (a name under /run/netns, or host)",
                        escaped(&name)
                    ));
                }
            }
            // A container's sockets are in its own network namespace, as a rule: `container`
            // looks in every namespace unless -N named one.
            let names_container = (filter.expr.iter())
                .flat_map(Expr::conditions)
                .any(|c| matches!(c, Expr::Container(_)));
            if names_container && config.query.netns == Namespaces::Own {
                config.query.netns = Namespaces::All;
            }
            if let Some(path) = resolve_cgroups(&mut filter) {
                return Err(format!(
                    "filter: no cgroup at '{}' (a cgroup v2 path, as `ss --cgroup` shows it)",
                    escaped(&path)
                ));
            }
            if let Some(name) = unknown_user(&filter) {
                return Err(format!("filter: no user named '{}'", escaped(name)));
            }
            config.query.owners |= filter.needs_owners();
            config.query.contexts |= filter.needs_contexts();
            // Every namespace listed because a word asked (`netns`, `container`): the table
            // shows what each socket runs as beside its namespace, as with --all-netns.
            if config.query.netns == Namespaces::All
                && let Mode::Print(PrintOptions {
                    format: Format::Table(table),
                    ..
                }) = &mut config.mode
            {
                table.contexts = cfg!(target_os = "linux");
                config.query.contexts = true;
            }
            if let Mode::Live(live) = &mut config.mode {
                live.parsed_filter = Some(filter.clone());
            }
            config.query.filter = Some(filter);
        }
        Ok(config)
    }
}

/// A filter file's text: at most [`MAX_FILTER_BYTES`], read no further (`-F /dev/zero` ends).
fn read_filter_file(reader: impl std::io::Read) -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    reader
        .take(MAX_FILTER_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() > MAX_FILTER_BYTES {
        return Err(std::io::Error::other(format!(
            "longer than {} MiB, the most a filter may be",
            MAX_FILTER_BYTES >> 20
        )));
    }
    String::from_utf8(bytes).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

/// The first `user NAME` of `filter` that names no account, when the OS lists its accounts.
fn unknown_user(filter: &Filter) -> Option<&str> {
    filter
        .expr
        .iter()
        .flat_map(Expr::conditions)
        .find_map(|condition| match condition {
            Expr::User(UserMatch::Name(name)) if platform::user_exists(name) == Some(false) => {
                Some(name.as_str())
            }
            _ => None,
        })
}

/// Turn each `netns NAME` into its namespace's inode; the first name with no namespace.
fn resolve_namespaces(filter: &mut Filter) -> Option<String> {
    let mut unknown = None;
    if let Some(expr) = &mut filter.expr {
        expr.conditions_mut(&mut |condition| {
            if let Expr::Netns(NetnsMatch::Name(name)) = condition {
                match platform::netns_inode(name) {
                    Some(inode) => *condition = Expr::Netns(NetnsMatch::Inode(inode)),
                    None => {
                        unknown.get_or_insert_with(|| name.clone());
                    }
                }
            }
        });
    }
    unknown
}

/// Turn each `cgroup PATH` into its cgroup's id; the first path with no cgroup.
fn resolve_cgroups(filter: &mut Filter) -> Option<String> {
    let mut unknown = None;
    if let Some(expr) = &mut filter.expr {
        expr.conditions_mut(&mut |condition| {
            if let Expr::Cgroup(CgroupMatch::Path(path)) = condition {
                match platform::cgroup_id(path) {
                    Some(id) => *condition = Expr::Cgroup(CgroupMatch::Id(id)),
                    None => {
                        unknown.get_or_insert_with(|| path.clone());
                    }
                }
            }
        });
    }
    unknown
}

/// What to tell a user who reached for a netstat or ss flag rnetstat does not have.
fn pointed_message(flag: &str) -> Option<&'static str> {
    Some(match flag {
        "-r" | "--route" => "rnetstat does not list routes: routes are shown by `ip route`",
        "--interfaces" => "rnetstat does not list interfaces: interfaces are shown by `ip -s link`",
        "-g" | "--groups" => "rnetstat does not list multicast groups: see `ip maddr`",
        "-M" | "--masquerade" => "rnetstat does not list NAT entries: see `conntrack -L`",
        "-w" | "--raw" => "rnetstat lists TCP and UDP sockets only: raw sockets are in `ss -w`",
        "--inet" | "-A" | "--protocol" | "-f" | "--family" => {
            "rnetstat lists internet sockets only: use -4 for IPv4 sockets, -6 for IPv6, \
             -t/-u for TCP/UDP"
        }
        "--inet6" => "rnetstat lists internet sockets only: use -6 for IPv6 sockets",
        "--events" | "-E" => {
            "rnetstat has no ss-style event flag: use --watch to follow sockets \
             as they open and close"
        }
        "--kill" | "-K" => {
            "rnetstat neither closes sockets nor kills from the command line: to \
             send SIGTERM to a socket's process, run rnetstat --live, select the socket, press k"
        }
        _ => return None,
    })
}

/// A bad `--serve` value as one line: the value and the forms it may take.
fn invalid_serve_value(error: &clap::Error) -> Option<String> {
    if error.kind() != ErrorKind::ValueValidation {
        return None;
    }
    match error.get(ContextKind::InvalidArg)? {
        ContextValue::String(arg) if arg.starts_with("--serve") => {}
        _ => return None,
    }
    let value = match error.get(ContextKind::InvalidValue)? {
        ContextValue::String(value) => value.clone(),
        _ => return None,
    };
    let why = std::error::Error::source(error)?.to_string();
    Some(format!("--serve {}: {why}", crate::format::escaped(&value)))
}

/// The flag a clap "unexpected argument" error is about; a bundle `-tulr` names its letter.
fn unknown_flag(error: &clap::Error) -> Option<String> {
    if error.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    match error.get(ContextKind::InvalidArg)? {
        ContextValue::String(flag) => Some(flag.split('=').next().unwrap_or(flag).to_string()),
        _ => None,
    }
}

/// Parse the process's own arguments into the validated [`Config`]; nothing exits here.
pub fn config_from_env() -> Result<Config, Error> {
    let no_color = colour_unwanted(
        std::env::var_os("NO_COLOR").as_deref(),
        std::env::var_os("TERM").as_deref(),
    );
    let args = Args::try_parse().map_err(|error| {
        let flag = unknown_flag(&error);
        if let Some((flag, message)) = flag.as_deref().and_then(|f| Some((f, pointed_message(f)?)))
        {
            return Error::Usage(format!("{flag}: {message}"));
        }
        if let Some(message) = invalid_serve_value(&error) {
            return Error::Usage(message);
        }
        Error::Flags(error)
    })?;
    args.resolve(std::io::stdout().is_terminal(), no_color)
        .map_err(Error::Usage)
}

/// Whether the environment asks for no colour: a non-empty `NO_COLOR`, or `TERM=dumb` (a
/// terminal that cannot show escape sequences).
fn colour_unwanted(no_color: Option<&OsStr>, term: Option<&OsStr>) -> bool {
    no_color.is_some_and(|v| !v.is_empty()) || term.is_some_and(|t| t == "dumb")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::filter::sort::SortKey;

    fn continuous(c: &Config) -> Option<Duration> {
        match &c.mode {
            Mode::Print(print) => print.continuous,
            _ => None,
        }
    }

    fn sort(c: &Config) -> &[SortKey] {
        match &c.mode {
            Mode::Print(print) => &print.sort,
            _ => &[],
        }
    }

    fn config(args: &[&str]) -> Config {
        let args = Args::try_parse_from(std::iter::once("rnetstat").chain(args.iter().copied()))
            .expect("valid flags");
        args.into_config(false, false)
    }

    #[test]
    fn bundled_netstat_flags() {
        let c = config(&["-tulpn"]);
        assert!(c.query.tcp && c.query.udp && c.query.owners);
        assert_eq!(c.query.listening, Listening::Only);
        let Mode::Print(PrintOptions {
            format: Format::Table(t),
            ..
        }) = c.mode
        else {
            panic!("table expected")
        };
        assert!(t.numeric && t.programs && !t.extended);
    }

    #[test]
    fn defaults_are_non_listening_tcp_and_udp_both_families() {
        let c = config(&[]);
        assert_eq!(c.query.listening, Listening::Exclude);
        assert!(c.query.tcp && c.query.udp && c.query.ipv4 && c.query.ipv6);
        assert!(!c.query.owners);
    }

    #[test]
    fn unix_sockets_only_with_x_and_combinable() {
        let c = config(&["-x"]);
        assert!(c.query.unix && !c.query.tcp && !c.query.udp);
        let c = config(&["-tux"]);
        assert!(c.query.unix && c.query.tcp && c.query.udp);
        let c = config(&["-ta"]);
        assert!(!c.query.unix && c.query.tcp && !c.query.udp);
        assert!(Args::try_parse_from(["rnetstat", "-x", "--live"]).is_err());
        let resolve = |args: &[&str]| {
            Args::try_parse_from(std::iter::once("rnetstat").chain(args.iter().copied()))
                .unwrap()
                .resolve(false, false)
        };
        assert!(resolve(&["-x", "state", "listening"]).is_ok());
        let error = resolve(&["-tx", "dport", "=", ":22"]).unwrap_err();
        assert!(error.starts_with("-x: "), "{error}");
        assert!(resolve(&["-x", "process", "python3"]).is_err());
    }

    #[test]
    fn all_wins_over_listening_and_single_family() {
        let c = config(&["-al", "-6", "-t"]);
        assert_eq!(c.query.listening, Listening::All);
        assert!(c.query.ipv6 && !c.query.ipv4 && c.query.tcp && !c.query.udp);
    }

    #[test]
    fn json_collects_owners_without_p() {
        let c = config(&["-a", "--json"]);
        assert!(matches!(
            c.mode,
            Mode::Print(PrintOptions {
                format: Format::Json,
                ..
            })
        ));
        assert!(c.query.owners);
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        let args = || Args::try_parse_from(["rnetstat"]).unwrap();
        let colour = |c: Config| matches!(c.mode, Mode::Print(PrintOptions { format: Format::Table(t), .. }) if t.color);
        assert!(colour(args().into_config(true, false)));
        assert!(!colour(args().into_config(true, true)));
        assert!(!colour(args().into_config(false, false)));
    }

    #[test]
    fn no_color_or_a_dumb_terminal_turn_colour_off() {
        let os = |s: &'static str| Some(OsStr::new(s));
        assert!(!colour_unwanted(None, None));
        assert!(!colour_unwanted(None, os("xterm-256color")));
        assert!(!colour_unwanted(os(""), os("xterm")));
        assert!(colour_unwanted(os("1"), os("xterm")));
        assert!(colour_unwanted(None, os("dumb")));
    }

    #[test]
    fn live_interval_lower_bound_is_accepted() {
        let c = config(&["--live", "--interval", "0.1"]);
        assert!(matches!(c.mode, Mode::Live(l) if l.interval == Duration::from_millis(100)));
    }

    #[test]
    fn live_collects_owners_and_keeps_the_filter_flags() {
        let c = config(&["--live", "-t", "-l", "-n"]);
        assert!(c.query.owners && c.query.tcp && !c.query.udp);
        assert_eq!(c.query.listening, Listening::Only);
        assert_eq!(
            c.mode,
            Mode::Live(LiveOptions {
                numeric: true,
                resolve: false,
                interval: DEFAULT_INTERVAL,
                filter: String::new(),
                parsed_filter: None,
            })
        );
    }

    #[test]
    fn live_interval_accepts_fractions() {
        let c = config(&["--live", "--interval", "0.5"]);
        let Mode::Live(live) = c.mode else {
            panic!("live expected")
        };
        assert_eq!(live.interval, Duration::from_millis(500));
        let c = config(&["--live", "--interval=3600"]);
        assert!(matches!(c.mode, Mode::Live(l) if l.interval == Duration::from_secs(3600)));
    }

    #[test]
    fn live_interval_out_of_range_or_not_a_number_is_a_usage_error() {
        for bad in [
            "0", "-1", "1e-300", "0.05", "0.0999", "3600.5", "abc", "NaN", "inf", "",
        ] {
            let err =
                Args::try_parse_from(["rnetstat", "--live", "--interval", bad]).expect_err(bad);
            assert_eq!(err.exit_code(), 2, "--interval {bad:?}");
        }
    }

    #[test]
    fn live_with_json_or_interval_without_live_is_a_usage_error() {
        let err = Args::try_parse_from(["rnetstat", "--live", "--json"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let err = Args::try_parse_from(["rnetstat", "--interval", "2"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn continuous_repeats_the_table_every_interval() {
        assert_eq!(continuous(&config(&["-tln"])), None);
        let c = config(&["-c", "-tln"]);
        assert_eq!(continuous(&c), Some(DEFAULT_INTERVAL));
        assert!(matches!(
            c.mode,
            Mode::Print(PrintOptions {
                format: Format::Table(_),
                ..
            })
        ));
        let c = config(&["--continuous", "--interval", "0.5"]);
        assert_eq!(continuous(&c), Some(Duration::from_millis(500)));
        assert_eq!(continuous(&config(&["--live", "--interval", "2"])), None);
        for bad in [
            &["-c", "--json"][..],
            &["-c", "--live"],
            &["-c", "--interval", "0"],
        ] {
            let err = Args::try_parse_from(std::iter::once("rnetstat").chain(bad.iter().copied()))
                .expect_err("a usage error");
            assert_eq!(err.exit_code(), 2, "{bad:?}");
        }
    }

    fn resolved(args: &[&str]) -> Result<Config, String> {
        Args::try_parse_from(std::iter::once("rnetstat").chain(args.iter().copied()))
            .expect("valid flags")
            .resolve(false, false)
    }

    #[test]
    fn filter_states_replace_netstat_listening_split_and_owner_filters_collect_owners() {
        let c = resolved(&["-t", "state", "time-wait"]).unwrap();
        assert_eq!(c.query.listening, Listening::All);
        assert!(!c.query.owners);
        let c = resolved(&["-l", "sport = :22"]).unwrap();
        assert_eq!(c.query.listening, Listening::Only);
        let c = resolved(&["process nginx"]).unwrap();
        assert!(c.query.owners);
        let c = resolved(&["-t"]).unwrap();
        assert_eq!(c.query.filter, None);
    }

    #[test]
    fn live_shows_listeners_by_default_and_l_alone_keeps_only_them() {
        assert_eq!(config(&["--live"]).query.listening, Listening::All);
        assert_eq!(config(&["--live", "-t"]).query.listening, Listening::All);
        assert_eq!(config(&["--live", "-l"]).query.listening, Listening::Only);
        // The one-shot table keeps netstat's split.
        assert_eq!(config(&["-t"]).query.listening, Listening::Exclude);
    }

    #[test]
    fn live_takes_the_filter_words_as_its_starting_text() {
        let c = resolved(&["--live", "-t", "state", "established", "(dport = :443)"]).unwrap();
        let Mode::Live(live) = c.mode else {
            panic!("live expected")
        };
        assert_eq!(live.filter, "state established ( dport = :443 )");
        // Parsed once, here: the dashboard takes the filter, not the words to parse again.
        assert_eq!(live.parsed_filter, c.query.filter);
        assert!(live.parsed_filter.is_some());
        assert_eq!(c.query.listening, Listening::All);
        let c = resolved(&["--live"]).unwrap();
        assert!(matches!(c.mode, Mode::Live(l) if l.filter.is_empty()));
    }

    #[test]
    fn a_bad_filter_is_one_line() {
        assert_eq!(
            resolved(&["dport", "="]).unwrap_err(),
            "filter: expected a port after 'dport =' at word 3 of 'dport ='"
        );
    }

    #[test]
    fn sort_and_no_header() {
        let c = config(&["-H", "--sort", "-recv-q,program"]);
        assert_eq!(sort(&c).len(), 2);
        assert!(sort(&c)[0].descending && !sort(&c)[1].descending);
        assert!(c.query.owners, "sorting by program needs owners");
        assert!(
            matches!(c.mode, Mode::Print(PrintOptions { format: Format::Table(t), .. }) if !t.header)
        );
        let err = Args::try_parse_from(["rnetstat", "--sort", "colour"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn netstat_flags_we_lack_are_recognised_for_a_pointed_message() {
        for (args, flag) in [
            (&["rnetstat", "-r"][..], "-r"),
            (&["rnetstat", "-tulr"][..], "-r"),
            (&["rnetstat", "--inet"][..], "--inet"),
            (&["rnetstat", "--interfaces"][..], "--interfaces"),
        ] {
            let err = Args::try_parse_from(args).unwrap_err();
            let found = unknown_flag(&err);
            assert_eq!(found.as_deref(), Some(flag), "{args:?}");
            assert!(pointed_message(flag).is_some());
        }
        assert!(pointed_message("--bogus").is_none());
    }

    #[test]
    fn info_asks_for_tcp_info_and_is_accepted_with_live() {
        assert!(!config(&["-tan"]).query.tcp_info);
        assert!(config(&["-tani"]).query.tcp_info);
        assert!(config(&["--info", "--json"]).query.tcp_info);
        // The dashboard always collects tcp_info (its Rx/s and Tx/s columns): -i is harmless.
        assert!(config(&["--live", "-i"]).query.tcp_info);
    }

    #[test]
    fn statistics_walk_every_state_and_name_programs_only_with_p() {
        let c = config(&["-s"]);
        assert_eq!(c.mode, Mode::Summary(SummaryOptions { json: false }));
        assert_eq!(c.query.listening, Listening::All);
        assert!(c.query.tcp && c.query.udp && !c.query.owners);
        let c = config(&["-s", "--json", "-t", "-4"]);
        assert_eq!(c.mode, Mode::Summary(SummaryOptions { json: true }));
        assert!(c.query.tcp && !c.query.udp && c.query.ipv4 && !c.query.ipv6);
        assert!(!c.query.owners);
        assert!(config(&["-sp"]).query.owners);
        assert!(config(&["--summary"]).mode == Mode::Summary(SummaryOptions { json: false }));
        for bad in [&["-s", "--live"][..], &["-s", "-c"], &["-si"]] {
            let err = Args::try_parse_from(std::iter::once("rnetstat").chain(bad.iter().copied()))
                .expect_err("a usage error");
            assert_eq!(err.exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn unknown_flag_is_a_usage_error() {
        let err = Args::try_parse_from(["rnetstat", "--bogus"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }
}
