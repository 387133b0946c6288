//! Words -> [`Filter`]: ss's filter grammar (`man 8 ss`, iproute2's ssfilter.y) plus
//! rnetstat's `process`, `pid`, `user`, `proto` and `port`. Pure: no I/O, no name lookups
//! beyond the services table it is given.
//!
//! As in ss, `and` and `or` bind equally and group from the left (`a or b and c` is
//! `(a or b) and c`); `not` binds tighter than both; parentheses group.
//!
//! A filter is at most [`MAX_FILTER_BYTES`] long and nests at most [`MAX_DEPTH`] levels, so that
//! everything that walks its tree (here, the evaluator, the kernel compiler, even dropping it)
//! stays far from the end of the stack; a chain of `and`s or `or`s is one flat node however long.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use regex::Regex;

use super::ast::{
    CgroupMatch, Expr, Filter, HostCond, NetnsMatch, PortOp, PortSide, ProcessMatch, Side, States,
    UserMatch,
};
use crate::format::escaped;
use crate::model::{Family, Proto};
use crate::services::Services;

/// The longest filter, in bytes of its words joined by spaces (and the longest `-F` file).
pub const MAX_FILTER_BYTES: usize = 1 << 20;

/// The deepest a filter may nest: parentheses and `not`s inside each other, and the levels of its
/// tree (each switch between `and` and `or` in a chain groups what came before one level deeper).
pub const MAX_DEPTH: usize = 256;

/// A quoted filter or message longer than this is shortened in an error.
const QUOTE_BYTES: usize = 200;

/// A filter that does not parse: what was expected, and at which word (1-based; 0 when the
/// error is about the whole filter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    pub word: usize,
    /// The filter, words joined by spaces: whole, or only the words around `word` when long.
    pub filter: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = escaped(&shortened(&self.message, QUOTE_BYTES * 2));
        if self.word == 0 {
            return write!(f, "filter: {message}");
        }
        write!(
            f,
            "filter: {message} at word {} of '{}'",
            self.word,
            escaped(&self.filter)
        )
    }
}

/// `text`, cut to about `limit` bytes (on a character boundary) with `…` when longer.
fn shortened(text: &str, limit: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= limit {
        return text.into();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end]).into()
}

/// The words joined by spaces, or for a long filter the few around word `word` (1-based).
fn excerpt(words: &[String], word: usize) -> String {
    let whole: usize = words.iter().map(|w| w.len() + 1).sum();
    if whole <= QUOTE_BYTES + 1 {
        return words.join(" ");
    }
    let at = word.saturating_sub(1).min(words.len());
    let start = at.saturating_sub(6);
    let end = (at + 2).min(words.len());
    let mut parts: Vec<String> = words[start..end]
        .iter()
        .map(|w| shortened(w, 40).into_owned())
        .collect();
    if start > 0 {
        parts.insert(0, "…".to_string());
    }
    if end < words.len() {
        parts.push("…".to_string());
    }
    parts.join(" ")
}

impl std::error::Error for ParseError {}

/// The state words and their kernel state sets, as ss's `scan_state` (case-insensitive).
fn state_set(word: &str) -> Option<States> {
    let bit = |n| States::of_kernel(n);
    let word = word.to_ascii_lowercase();
    Some(match word.as_str() {
        "established" => bit(States::ESTABLISHED),
        "syn-sent" => bit(States::SYN_SENT),
        "syn-recv" | "syn-rcv" => bit(States::SYN_RECV),
        "fin-wait-1" => bit(States::FIN_WAIT1),
        "fin-wait-2" => bit(States::FIN_WAIT2),
        "time-wait" => bit(States::TIME_WAIT),
        "closed" | "close" | "unconnected" => bit(States::CLOSE),
        "close-wait" => bit(States::CLOSE_WAIT),
        "last-ack" => bit(States::LAST_ACK),
        "listening" => bit(States::LISTEN),
        "closing" => bit(States::CLOSING),
        "all" => States::ALL,
        "connected" => States::ALL.without(bit(States::CLOSE).union(bit(States::LISTEN))),
        "synchronized" => States::ALL.without(
            bit(States::CLOSE)
                .union(bit(States::LISTEN))
                .union(bit(States::SYN_SENT)),
        ),
        "bucket" => bit(States::SYN_RECV).union(bit(States::TIME_WAIT)),
        "big" => States::ALL.without(bit(States::SYN_RECV).union(bit(States::TIME_WAIT))),
        _ => return None,
    })
}

const STATE_NAMES: &str = "established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, time-wait, \
     closed, close-wait, last-ack, listening, closing, all, connected, synchronized, bucket, big";

/// ss conditions rnetstat does not evaluate: a pointed error beats "unexpected word".
const UNSUPPORTED_SS_WORDS: [&str; 3] = ["dev", "fwmark", "autobound"];

/// Split arguments into words: on whitespace, with `(` and `)` words of their own, so
/// `'(dport = :443)'` and `( dport = :443 )` read the same. After `process`, a word starting
/// with `/` runs to the next unescaped `/` (a `/REGEX/` may hold spaces and parentheses); a
/// `cgroup /PATH` is a word like any other.
pub fn split_words<S: AsRef<str>>(args: &[S]) -> Vec<String> {
    let text = args.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(" ");
    let mut words = Vec::new();
    let mut chars = text.chars().peekable();
    let mut word = String::new();
    while let Some(c) = chars.next() {
        if c == '/' && word.is_empty() && words.last().is_some_and(|w| w == "process") {
            word.push(c);
            while let Some(c) = chars.next() {
                word.push(c);
                if c == '\\' {
                    if let Some(escaped) = chars.next() {
                        word.push(escaped);
                    }
                } else if c == '/' {
                    break;
                }
            }
            continue;
        }
        if c.is_whitespace() || c == '(' || c == ')' {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            if c == '(' || c == ')' {
                words.push(c.to_string());
            }
        } else {
            word.push(c);
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// Parse filter words (see [`split_words`]). Service-name ports are looked up in `services`
/// for each protocol in `protos`; a name that means different ports for them is an error,
/// as in ss.
pub fn parse(
    words: &[String],
    services: &Services,
    protos: &[Proto],
) -> Result<Filter, ParseError> {
    let bytes = words.iter().map(|w| w.len() + 1).sum::<usize>();
    if bytes > MAX_FILTER_BYTES + 1 {
        return Err(ParseError {
            message: format!(
                "the filter is {} bytes long, more than the {} MiB a filter may be",
                bytes - 1,
                MAX_FILTER_BYTES >> 20
            ),
            word: 0,
            filter: String::new(),
        });
    }
    let mut parser = Parser {
        words,
        next: 0,
        services,
        protos,
        family: None,
        nesting: 0,
    };
    let states = parser.states()?;
    let expr = if parser.at_end() {
        None
    } else {
        let (expr, _) = parser.expr_list()?;
        if let Some(word) = parser.peek() {
            let message = if word == ")" {
                "')' without a matching '('".to_string()
            } else if word == "state" || word == "exclude" || word == "excl" {
                format!("'{word}' must come before the expression")
            } else {
                unknown_word(word)
            };
            return Err(parser.error_here(message));
        }
        Some(expr)
    };
    Ok(Filter {
        states,
        family: parser.family,
        expr,
    })
}

struct Parser<'a> {
    words: &'a [String],
    /// Index of the next word to read.
    next: usize,
    services: &'a Services,
    protos: &'a [Proto],
    /// The family of the last `inet:`/`inet6:` prefix seen.
    family: Option<Family>,
    /// How many `(` and `not` the word being read is inside: the depth of the parser's own calls.
    nesting: usize,
}

/// An expression and the height of its tree (a condition is 1).
type Parsed = (Expr, usize);

impl Parser<'_> {
    fn peek(&self) -> Option<&str> {
        self.words.get(self.next).map(String::as_str)
    }

    fn at_end(&self) -> bool {
        self.next >= self.words.len()
    }

    fn take(&mut self) -> Option<&str> {
        let word = self.words.get(self.next)?;
        self.next += 1;
        Some(word)
    }

    /// An error about the next word (or the end, one past the last word).
    fn error_here(&self, message: String) -> ParseError {
        ParseError {
            message,
            word: self.next + 1,
            filter: excerpt(self.words, self.next + 1),
        }
    }

    /// An error about the word just taken.
    fn error_at_last(&self, message: String) -> ParseError {
        ParseError {
            message,
            word: self.next,
            filter: excerpt(self.words, self.next),
        }
    }

    /// An operator or `not` is the last word. Errors are built out of line: the functions that
    /// recurse keep small frames.
    #[cold]
    #[inline(never)]
    fn nothing_after(&self) -> ParseError {
        let word = &self.words[self.next - 1];
        self.error_here(format!("expected a condition after '{word}'"))
    }

    /// The `(` of word `start` (0-based) is followed by something other than its `)`.
    #[cold]
    #[inline(never)]
    fn unclosed(&self, start: usize) -> ParseError {
        match self.peek() {
            Some(other) => self.error_here(unknown_word(other)),
            None => self.error_here(format!(
                "expected ')' to close the '(' of word {}",
                start + 1
            )),
        }
    }

    #[cold]
    #[inline(never)]
    fn too_deep(&self) -> ParseError {
        self.error_at_last(format!(
            "the expression nests deeper than {MAX_DEPTH} levels"
        ))
    }

    /// `left and right` or `left or right`, with the height of the result: a side of the same
    /// kind is spread into the one flat node, any other becomes one term below it.
    fn join(
        &self,
        (left, left_height): Parsed,
        (right, right_height): Parsed,
        is_or: bool,
    ) -> Result<Parsed, ParseError> {
        let same = |e: &Expr| matches!((e, is_or), (Expr::Or(_), true) | (Expr::And(_), false));
        let below = |e: &Expr, height: usize| if same(e) { height } else { height + 1 };
        let height = below(&left, left_height).max(below(&right, right_height));
        if height > MAX_DEPTH {
            return Err(self.too_deep());
        }
        let expr = if is_or {
            Expr::or(left, right)
        } else {
            Expr::and(left, right)
        };
        Ok((expr, height))
    }

    /// The words before `what`, for "expected X after 'dport ='".
    fn context(&self, from: usize) -> String {
        self.words[from..self.next].join(" ")
    }

    /// Leading `state X` / `exclude X` words, as ss: the first `state` starts from no states,
    /// the first `exclude` from all; later words add or remove.
    fn states(&mut self) -> Result<Option<States>, ParseError> {
        let mut states: Option<States> = None;
        while let Some(word) = self.peek() {
            let include = match word {
                "state" => true,
                "exclude" | "excl" => false,
                _ => break,
            };
            let keyword = word.to_string();
            self.next += 1;
            let Some(name) = self.take().map(str::to_string) else {
                return Err(self.error_here(format!("expected a state name after '{keyword}'")));
            };
            let Some(set) = state_set(&name) else {
                return Err(
                    self.error_at_last(format!("'{name}' is not a state (one of: {STATE_NAMES})"))
                );
            };
            states = Some(if include {
                states.unwrap_or(States::NONE).union(set)
            } else {
                states.unwrap_or(States::ALL).without(set)
            });
        }
        Ok(states)
    }

    /// `expr { (and|or|<nothing>) expr }`, grouping from the left with one precedence, as
    /// ss's grammar does.
    fn expr_list(&mut self) -> Result<Parsed, ParseError> {
        let mut left = self.expr()?;
        loop {
            let Some(word) = self.peek() else {
                return Ok(left);
            };
            match word {
                "and" | "&&" | "&" | "or" | "||" | "|" => {
                    let is_or = matches!(word, "or" | "||" | "|");
                    self.next += 1;
                    if self.at_end() {
                        return Err(self.nothing_after());
                    }
                    let right = self.expr()?;
                    left = self.join(left, right, is_or)?;
                }
                ")" => return Ok(left),
                _ if starts_expr(word) => {
                    let right = self.expr()?;
                    left = self.join(left, right, false)?;
                }
                _ => return Ok(left),
            }
        }
    }

    fn expr(&mut self) -> Result<Parsed, ParseError> {
        let start = self.next;
        let Some(word) = self.take().map(str::to_string) else {
            return Err(self.error_here("expected a condition".to_string()));
        };
        if matches!(word.as_str(), "(" | "!" | "not") {
            if self.nesting >= MAX_DEPTH {
                return Err(self.too_deep());
            }
            self.nesting += 1;
            let nested = self.nested(start, &word);
            self.nesting -= 1;
            return nested;
        }
        self.condition(start, &word).map(|condition| (condition, 1))
    }

    /// What follows a `(` (up to its `)`) or a `not`.
    fn nested(&mut self, start: usize, word: &str) -> Result<Parsed, ParseError> {
        match word {
            "(" => {
                if self.peek() == Some(")") {
                    return Err(self.error_here("expected a condition inside '( )'".to_string()));
                }
                let inner = self.expr_list()?;
                if self.peek() == Some(")") {
                    self.next += 1;
                    Ok(inner)
                } else {
                    Err(self.unclosed(start))
                }
            }
            _ => {
                if self.at_end() {
                    return Err(self.nothing_after());
                }
                let (inner, height) = self.expr()?;
                if height >= MAX_DEPTH {
                    return Err(self.too_deep());
                }
                Ok((Expr::not(inner), height + 1))
            }
        }
    }

    /// One condition: every word but `(` and `not` that may start an expression. Not inlined:
    /// its locals would swell the frame of `expr`, which recurses.
    #[inline(never)]
    fn condition(&mut self, start: usize, word: &str) -> Result<Expr, ParseError> {
        let word = word.to_string();
        match word.as_str() {
            "src" | "dst" => {
                let side = if word == "src" {
                    Side::Local
                } else {
                    Side::Remote
                };
                if matches!(self.peek(), Some("=" | "==" | "eq")) {
                    self.next += 1;
                }
                let Some(text) = self.take().map(str::to_string) else {
                    return Err(self.error_here(format!(
                        "expected an address after '{}'",
                        self.context(start)
                    )));
                };
                let cond = self.host_cond(side, &text)?;
                Ok(Expr::Host(cond))
            }
            "sport" | "dport" | "port" => {
                let side = match word.as_str() {
                    "sport" => PortSide::Local,
                    "dport" => PortSide::Remote,
                    _ => PortSide::Either,
                };
                let op = match self.peek().and_then(port_op) {
                    Some(op) => {
                        self.next += 1;
                        op
                    }
                    None => PortOp::Eq,
                };
                let Some(text) = self.take().map(str::to_string) else {
                    return Err(
                        self.error_here(format!("expected a port after '{}'", self.context(start)))
                    );
                };
                let text = text.strip_prefix(':').unwrap_or(&text);
                if text.is_empty() || text == "*" {
                    return match (side, op) {
                        (PortSide::Local | PortSide::Remote, PortOp::Eq) => {
                            Ok(Expr::Host(HostCond {
                                side: if side == PortSide::Local {
                                    Side::Local
                                } else {
                                    Side::Remote
                                },
                                family: None,
                                network: None,
                                port: None,
                            }))
                        }
                        _ => Err(self.error_at_last(format!(
                            "expected a port after '{}'",
                            self.words[start..self.next - 1].join(" ")
                        ))),
                    };
                }
                let port = self.port(text)?;
                Ok(Expr::Port { side, op, port })
            }
            "proto" => match self.take() {
                Some("tcp") => Ok(Expr::Proto(Proto::Tcp)),
                Some("udp") => Ok(Expr::Proto(Proto::Udp)),
                Some(other) => {
                    let message = format!("expected tcp or udp after 'proto', found '{other}'");
                    Err(self.error_at_last(message))
                }
                None => Err(self.error_here("expected tcp or udp after 'proto'".to_string())),
            },
            "process" => {
                let Some(text) = self.take().map(str::to_string) else {
                    return Err(self.error_here(
                        "expected a program name or /REGEX/ after 'process'".to_string(),
                    ));
                };
                if let Some(pattern) = text.strip_prefix('/') {
                    let Some(pattern) = pattern.strip_suffix('/').filter(|_| text.len() >= 2)
                    else {
                        return Err(self.error_at_last(format!(
                            "'{text}' has no closing '/' for its regular expression"
                        )));
                    };
                    let pattern = pattern.replace("\\/", "/");
                    return match Regex::new(&pattern) {
                        Ok(regex) => Ok(Expr::Process(ProcessMatch::Pattern(regex))),
                        Err(e) => Err(self.error_at_last(format!(
                            "'{text}' is not a valid regular expression: {}",
                            last_line(&e.to_string())
                        ))),
                    };
                }
                Ok(Expr::Process(ProcessMatch::Name(text)))
            }
            "pid" => {
                let Some(text) = self.take().map(str::to_string) else {
                    return Err(self.error_here("expected a process id after 'pid'".to_string()));
                };
                match text.parse::<u32>() {
                    Ok(pid) => Ok(Expr::Pid(pid)),
                    Err(_) => Err(self.error_at_last(format!("'{text}' is not a process id"))),
                }
            }
            "user" => {
                let Some(text) = self.take().map(str::to_string) else {
                    return Err(
                        self.error_here("expected a user name or uid after 'user'".to_string())
                    );
                };
                Ok(Expr::User(match text.parse::<u32>() {
                    Ok(uid) => UserMatch::Uid(uid),
                    Err(_) => UserMatch::Name(text),
                }))
            }
            "netns" => {
                let Some(text) = self.take().map(str::to_string) else {
                    return Err(self.error_here(
                        "expected a namespace name or inode after 'netns'".to_string(),
                    ));
                };
                Ok(Expr::Netns(match text.parse::<u64>() {
                    Ok(inode) => NetnsMatch::Inode(inode),
                    Err(_) => NetnsMatch::Name(text),
                }))
            }
            "container" | "unit" | "cgroup" => {
                let what = match word.as_str() {
                    "container" => "a container name or id",
                    "unit" => "a systemd unit",
                    _ => "a cgroup path",
                };
                let Some(text) = self.take().map(str::to_string) else {
                    return Err(self.error_here(format!("expected {what} after '{word}'")));
                };
                Ok(match word.as_str() {
                    "container" => Expr::Container(text),
                    "unit" => Expr::Unit(text),
                    _ => Expr::Cgroup(CgroupMatch::Path(text)),
                })
            }
            ")" => Err(self.error_at_last("expected a condition before ')'".to_string())),
            "and" | "&&" | "&" | "or" | "||" | "|" => {
                Err(self.error_at_last(format!("expected a condition before '{word}'")))
            }
            "state" | "exclude" | "excl" => {
                Err(self.error_at_last(format!("'{word}' must come before the expression")))
            }
            _ if UNSUPPORTED_SS_WORDS.contains(&word.as_str()) => Err(self.error_at_last(format!(
                "'{word}' is an ss condition rnetstat does not support"
            ))),
            _ => Err(self.error_at_last(unknown_word(&word))),
        }
    }

    /// A port number or service name (the `:` already removed).
    fn port(&self, text: &str) -> Result<u16, ParseError> {
        if text.bytes().all(|b| b.is_ascii_digit()) {
            return text
                .parse::<u16>()
                .map_err(|_| self.error_at_last(format!("port '{text}' is above 65535")));
        }
        let mut found: Option<u16> = None;
        for &proto in self.protos {
            if let Some(port) = self.services.port(text, proto) {
                if found.is_some_and(|other| other != port) {
                    return Err(self.error_at_last(format!(
                        "service '{text}' names different TCP and UDP ports"
                    )));
                }
                found = Some(port);
            }
        }
        found.ok_or_else(|| {
            self.error_at_last(format!(
                "'{text}' is not a port number or a known service name"
            ))
        })
    }

    /// ss's host condition `[inet:|inet6:]ADDR[/PREFIX][:PORT]`, `[ADDR[/PREFIX]][:PORT]`,
    /// `*[:PORT]`; the port is after the last `:` following any `/`.
    fn host_cond(&mut self, side: Side, word: &str) -> Result<HostCond, ParseError> {
        let mut text = word;
        let mut family = None;
        if let Some(rest) = text.strip_prefix("inet:") {
            family = Some(Family::Ipv4);
            self.family = family;
            text = rest;
        } else if let Some(rest) = text.strip_prefix("inet6:") {
            family = Some(Family::Ipv6);
            self.family = family;
            text = rest;
        } else if let Some(kind) = ["unix", "link", "netlink", "vsock"]
            .into_iter()
            .find(|kind| text.strip_prefix(kind).is_some_and(|r| r.starts_with(':')))
        {
            return Err(self.error_at_last(format!(
                "'{kind}:' addresses are not supported: rnetstat lists TCP and UDP sockets"
            )));
        }
        let (address, port) = if let Some(inner) = text.strip_prefix('[') {
            let Some((address, rest)) = inner.split_once(']') else {
                return Err(self.error_at_last(format!("'{word}' has no closing ']'")));
            };
            (address, Some(rest))
        } else if let Some(rest) = text.strip_prefix('*') {
            ("*", Some(rest))
        } else {
            let search_from = text.find('/').unwrap_or(0);
            match text[search_from..].rfind(':') {
                Some(colon) => {
                    let (address, port) = text.split_at(search_from + colon);
                    // Bare IPv6 (`::1`, which ss refuses): the whole word when it is an
                    // address and ss's split would not give an address and a port.
                    let port_text = &port[1..];
                    let unparsable = (!address.is_empty() && parse_prefix(address).is_none())
                        || (!port_text.is_empty()
                            && port_text != "*"
                            && self.port(port_text).is_err());
                    if unparsable && parse_prefix(text).is_some() {
                        (text, None)
                    } else {
                        (address, Some(port))
                    }
                }
                None => (text, None),
            }
        };
        let port = match port.map(|p| p.strip_prefix(':').unwrap_or(p)) {
            None | Some("") | Some("*") => None,
            Some(p) => Some(self.port(p)?),
        };
        let network = if address.is_empty() || address == "*" {
            None
        } else {
            let Some((ip, prefix)) = parse_prefix(address) else {
                return Err(self.error_at_last(not_an_address(address)));
            };
            let ip_family = Family::of(ip);
            if family.is_some_and(|f| f != ip_family) {
                return Err(self.error_at_last(format!(
                    "'{address}' is not an {} address",
                    match family {
                        Some(Family::Ipv4) => "IPv4",
                        _ => "IPv6",
                    }
                )));
            }
            family = Some(ip_family);
            Some((ip, prefix))
        };
        Ok(HostCond {
            side,
            family,
            network,
            port,
        })
    }
}

fn unknown_word(word: &str) -> String {
    format!(
        "expected a condition (src, dst, sport, dport, port, proto, process, pid, user, netns, \
         container, unit, cgroup, not, '(') but found '{word}'"
    )
}

fn port_op(word: &str) -> Option<PortOp> {
    Some(match word {
        "=" | "==" | "eq" => PortOp::Eq,
        "!=" | "ne" | "neq" => PortOp::Ne,
        "<" | "lt" => PortOp::Lt,
        "<=" | "le" | "leq" => PortOp::Le,
        ">" | "gt" => PortOp::Gt,
        ">=" | "ge" | "geq" => PortOp::Ge,
        _ => return None,
    })
}

/// Whether `word` can begin an expression: two conditions side by side mean `and`.
fn starts_expr(word: &str) -> bool {
    matches!(
        word,
        "(" | "!"
            | "not"
            | "src"
            | "dst"
            | "sport"
            | "dport"
            | "port"
            | "proto"
            | "process"
            | "pid"
            | "user"
    ) || UNSUPPORTED_SS_WORDS.contains(&word)
}

/// Why `text` is not `ADDR[/LEN]`. Digits and dots, or a `:`, are a mistyped address (a host
/// name has a letter, and no `:`); anything else is taken for a host name.
fn not_an_address(text: &str) -> String {
    let (address, length) = match text.split_once('/') {
        Some((address, length)) => (address, Some(length)),
        None => (text, None),
    };
    let numeric = !address.is_empty() && address.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if !numeric && !address.contains(':') {
        return format!("'{text}' is not an address or prefix (host names are not looked up)");
    }
    match (parse_prefix(address), length) {
        (Some((ip, _)), Some(length)) => format!(
            "'/{length}' is not a prefix length for an {} address (0 to {})",
            if ip.is_ipv4() { "IPv4" } else { "IPv6" },
            if ip.is_ipv4() { 32 } else { 128 }
        ),
        _ => format!("'{address}' is not an IP address"),
    }
}

/// `ADDR[/LEN]`; IPv4 may be shortened as iproute2 allows (`10/8` is 10.0.0.0/8).
fn parse_prefix(text: &str) -> Option<(IpAddr, u8)> {
    let (address, prefix) = match text.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (text, None),
    };
    let ip = if address.contains(':') {
        IpAddr::V6(address.parse::<Ipv6Addr>().ok()?)
    } else {
        IpAddr::V4(parse_ipv4_shortened(address)?)
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            p.parse::<u8>().ok().filter(|&p| p <= max)?
        }
        Some(_) => return None,
    };
    Some((ip, prefix))
}

/// One to four dotted decimal parts; missing trailing parts are zero.
fn parse_ipv4_shortened(text: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    for (octet, part) in octets.iter_mut().zip(&parts) {
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *octet = part.parse().ok()?;
    }
    Some(Ipv4Addr::from(octets))
}

fn last_line(text: &str) -> &str {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(text)
        .trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOTH: [Proto; 2] = [Proto::Tcp, Proto::Udp];

    fn parsed(text: &str) -> Filter {
        let words = split_words(&[text]);
        parse(&words, &Services::builtin(), &BOTH).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn expr(text: &str) -> Expr {
        parsed(text).expr.expect("an expression")
    }

    fn error(text: &str) -> String {
        let words = split_words(&[text]);
        match parse(&words, &Services::builtin(), &BOTH) {
            Ok(filter) => panic!("{text} parsed as {filter:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn port(side: PortSide, op: PortOp, port: u16) -> Expr {
        Expr::Port { side, op, port }
    }

    fn sport(p: u16) -> Expr {
        port(PortSide::Local, PortOp::Eq, p)
    }

    fn host(side: Side, network: Option<&str>, port: Option<u16>) -> Expr {
        let network = network.map(|n| parse_prefix(n).expect("test prefix"));
        Expr::Host(HostCond {
            side,
            family: network.map(|(ip, _)| Family::of(ip)),
            network,
            port,
        })
    }

    #[test]
    fn words_split_on_whitespace_and_around_parentheses() {
        assert_eq!(
            split_words(&["(dport = :443", "or\tsport = :1)", "process /a (b)c/"]),
            [
                "(", "dport", "=", ":443", "or", "sport", "=", ":1", ")", "process", "/a (b)c/"
            ]
        );
        assert_eq!(
            split_words(&["state established '( x )'"]),
            ["state", "established", "'", "(", "x", ")", "'"]
        );
        assert!(split_words::<&str>(&[]).is_empty());
    }

    #[test]
    fn one_string_and_many_arguments_mean_the_same() {
        let services = Services::builtin();
        let one = parse(
            &split_words(&["sport = :22 and not dst 10/8"]),
            &services,
            &BOTH,
        );
        let many = parse(
            &split_words(&["sport", "=", ":22", "and", "not", "dst", "10/8"]),
            &services,
            &BOTH,
        );
        assert_eq!(one, many);
    }

    #[test]
    fn state_and_exclude_words_build_a_state_set_as_ss() {
        let bit = |n| 1u32 << n;
        assert_eq!(parsed("").states, None);
        assert_eq!(
            parsed("state established").states,
            Some(States(bit(States::ESTABLISHED)))
        );
        assert_eq!(
            parsed("state Established state TIME-WAIT").states,
            Some(States(bit(1) | bit(6)))
        );
        assert_eq!(
            parsed("exclude time-wait").states,
            Some(States(States::ALL.0 & !bit(6)))
        );
        assert_eq!(
            parsed("state listening excl listening").states,
            Some(States(0))
        );
        assert_eq!(parsed("state bucket").states, Some(States(bit(3) | bit(6))));
        assert_eq!(
            parsed("state connected").states,
            Some(States(States::ALL.0 & !(bit(7) | bit(10))))
        );
        assert_eq!(
            parsed("state synchronized").states,
            Some(States(States::ALL.0 & !(bit(2) | bit(7) | bit(10))))
        );
        assert_eq!(
            parsed("state big").states,
            Some(States(States::ALL.0 & !(bit(3) | bit(6))))
        );
        for (word, n) in [
            ("syn-sent", 2),
            ("syn-recv", 3),
            ("syn-rcv", 3),
            ("fin-wait-1", 4),
            ("fin-wait-2", 5),
            ("closed", 7),
            ("close", 7),
            ("unconnected", 7),
            ("close-wait", 8),
            ("last-ack", 9),
            ("listening", 10),
            ("closing", 11),
        ] {
            assert_eq!(
                parsed(&format!("state {word}")).states,
                Some(States(bit(n))),
                "{word}"
            );
        }
        let filter = parsed("state all sport = :22");
        assert_eq!(filter.states, Some(States::ALL));
        assert_eq!(filter.expr, Some(sport(22)));
    }

    #[test]
    fn port_operators_and_their_aliases() {
        for (words, op) in [
            ("=", PortOp::Eq),
            ("==", PortOp::Eq),
            ("eq", PortOp::Eq),
            ("!=", PortOp::Ne),
            ("ne", PortOp::Ne),
            ("neq", PortOp::Ne),
            ("<", PortOp::Lt),
            ("lt", PortOp::Lt),
            ("<=", PortOp::Le),
            ("le", PortOp::Le),
            ("leq", PortOp::Le),
            (">", PortOp::Gt),
            ("gt", PortOp::Gt),
            (">=", PortOp::Ge),
            ("ge", PortOp::Ge),
            ("geq", PortOp::Ge),
        ] {
            assert_eq!(
                expr(&format!("dport {words} :443")),
                port(PortSide::Remote, op, 443)
            );
        }
        assert_eq!(expr("sport 22"), sport(22));
        assert_eq!(
            expr("port >= 1024"),
            port(PortSide::Either, PortOp::Ge, 1024)
        );
        assert_eq!(expr("sport = :https"), sport(443));
        assert_eq!(expr("sport = :0"), sport(0));
        assert_eq!(expr("sport = *"), host(Side::Local, None, None));
        assert_eq!(expr("dport = :*"), host(Side::Remote, None, None));
    }

    #[test]
    fn host_conditions_take_ss_address_forms() {
        assert_eq!(
            expr("src 127.0.0.1"),
            host(Side::Local, Some("127.0.0.1/32"), None)
        );
        assert_eq!(
            expr("dst = 10.0.0.0/8:443"),
            host(Side::Remote, Some("10.0.0.0/8"), Some(443))
        );
        assert_eq!(
            expr("dst 10/8"),
            host(Side::Remote, Some("10.0.0.0/8"), None)
        );
        assert_eq!(expr("dst [::1]"), host(Side::Remote, Some("::1/128"), None));
        assert_eq!(
            expr("dst [::1]:https"),
            host(Side::Remote, Some("::1/128"), Some(443))
        );
        assert_eq!(
            expr("src [fe80::/10]:*"),
            host(Side::Local, Some("fe80::/10"), None)
        );
        assert_eq!(expr("src ::1"), host(Side::Local, Some("::1/128"), None));
        assert_eq!(
            expr("src ::1/128"),
            host(Side::Local, Some("::1/128"), None)
        );
        assert_eq!(
            expr("src dead::beef:80"),
            host(Side::Local, Some("dead::beef/128"), Some(80))
        );
        assert_eq!(expr("src *:22"), host(Side::Local, None, Some(22)));
        assert_eq!(expr("src :22"), host(Side::Local, None, Some(22)));
        assert_eq!(expr("dst *"), host(Side::Remote, None, None));
        assert_eq!(
            expr("src inet6:*"),
            Expr::Host(HostCond {
                side: Side::Local,
                family: Some(Family::Ipv6),
                network: None,
                port: None,
            })
        );
        assert_eq!(
            expr("src inet:0.0.0.0/0"),
            host(Side::Local, Some("0.0.0.0/0"), None)
        );
    }

    #[test]
    fn an_inet_prefix_narrows_the_whole_filter_to_its_family_as_ss() {
        assert_eq!(parsed("src 127.0.0.1").family, None);
        assert_eq!(parsed("src inet:127.0.0.1").family, Some(Family::Ipv4));
        assert_eq!(
            parsed("src inet:* or dst inet6:[::1]").family,
            Some(Family::Ipv6)
        );
    }

    #[test]
    fn and_or_group_from_the_left_with_one_precedence_as_ss() {
        assert_eq!(
            expr("sport 1 or sport 2 and sport 3"),
            Expr::and(Expr::or(sport(1), sport(2)), sport(3))
        );
        assert_eq!(
            expr("sport 1 && sport 2 || sport 3"),
            Expr::or(Expr::and(sport(1), sport(2)), sport(3))
        );
        assert_eq!(
            expr("sport 1 | ( sport 2 & sport 3 )"),
            Expr::or(sport(1), Expr::and(sport(2), sport(3)))
        );
        assert_eq!(
            expr("not sport 1 sport 2"),
            Expr::and(Expr::not(sport(1)), sport(2))
        );
        assert_eq!(
            expr("! (sport 1 or sport 2)"),
            Expr::not(Expr::or(sport(1), sport(2)))
        );
        assert_eq!(
            expr("sport 1 dst 10/8"),
            Expr::and(sport(1), host(Side::Remote, Some("10.0.0.0/8"), None))
        );
    }

    #[test]
    fn rnetstat_extensions() {
        assert_eq!(expr("proto udp"), Expr::Proto(Proto::Udp));
        assert_eq!(
            expr("process nginx"),
            Expr::Process(ProcessMatch::Name("nginx".into()))
        );
        let Expr::Process(ProcessMatch::Pattern(regex)) = expr("process /^ng(inx|x)$/") else {
            panic!("a pattern")
        };
        assert!(regex.is_match("nginx") && !regex.is_match("xnginx"));
        let Expr::Process(ProcessMatch::Pattern(regex)) = expr(r"process /a\/b c/") else {
            panic!("a pattern")
        };
        assert!(regex.is_match("a/b c"));
        assert_eq!(expr("pid 1234"), Expr::Pid(1234));
        assert_eq!(expr("container web"), Expr::Container("web".into()));
        assert_eq!(expr("unit nginx"), Expr::Unit("nginx".into()));
        // A cgroup path is one word, even the root or one with a single slash.
        assert_eq!(
            expr("cgroup / or cgroup /a"),
            Expr::or(
                Expr::Cgroup(CgroupMatch::Path("/".into())),
                Expr::Cgroup(CgroupMatch::Path("/a".into()))
            )
        );
        assert_eq!(
            expr("netns blue"),
            Expr::Netns(NetnsMatch::Name("blue".to_string()))
        );
        assert_eq!(
            expr("netns 4026531833"),
            Expr::Netns(NetnsMatch::Inode(4_026_531_833))
        );
        assert_eq!(expr("user 0"), Expr::User(UserMatch::Uid(0)));
        assert_eq!(
            expr("user postgres"),
            Expr::User(UserMatch::Name("postgres".into()))
        );
        assert!(parsed("pid 1 or user 0").needs_owners());
        assert!(!parsed("user 0 or sport 1").needs_owners());
    }

    #[test]
    fn every_error_names_the_word_and_quotes_the_filter() {
        for (text, message) in [
            (
                "dport =",
                "filter: expected a port after 'dport =' at word 3 of 'dport ='",
            ),
            (
                "dport = :nosuch",
                "filter: 'nosuch' is not a port number or a known service name at word 3 of \
                 'dport = :nosuch'",
            ),
            (
                "sport > 70000",
                "filter: port '70000' is above 65535 at word 3 of 'sport > 70000'",
            ),
            (
                "sport < *",
                "filter: expected a port after 'sport <' at word 3 of 'sport < *'",
            ),
            (
                "state",
                "filter: expected a state name after 'state' at word 2 of 'state'",
            ),
            (
                "state listen",
                "filter: 'listen' is not a state (one of: established, syn-sent, syn-recv, \
                 fin-wait-1, fin-wait-2, time-wait, closed, close-wait, last-ack, listening, \
                 closing, all, connected, synchronized, bucket, big) at word 2 of 'state listen'",
            ),
            (
                "sport 1 state established",
                "filter: 'state' must come before the expression at word 3 of \
                 'sport 1 state established'",
            ),
            (
                "sport 1 frobnicate",
                "filter: expected a condition (src, dst, sport, dport, port, proto, process, \
                 pid, user, netns, container, unit, cgroup, not, '(') but found 'frobnicate' at word 3 of 'sport 1 frobnicate'",
            ),
            (
                "frobnicate",
                "filter: expected a condition (src, dst, sport, dport, port, proto, process, \
                 pid, user, netns, container, unit, cgroup, not, '(') but found 'frobnicate' at word 1 of 'frobnicate'",
            ),
            (
                "( sport 1",
                "filter: expected ')' to close the '(' of word 1 at word 4 of '( sport 1'",
            ),
            (
                "( )",
                "filter: expected a condition inside '( )' at word 2 of '( )'",
            ),
            (
                "sport 1 )",
                "filter: ')' without a matching '(' at word 3 of 'sport 1 )'",
            ),
            (
                "sport 1 and state established",
                "filter: 'state' must come before the expression at word 4 of \
                 'sport 1 and state established'",
            ),
            ("(", "filter: expected a condition at word 2 of '('"),
            (
                "( sport 1 foo )",
                "filter: expected a condition (src, dst, sport, dport, port, proto, process, \
                 pid, user, netns, container, unit, cgroup, not, '(') but found 'foo' at word 4 of '( sport 1 foo )'",
            ),
            (
                "sport 1 or )",
                "filter: expected a condition before ')' at word 4 of 'sport 1 or )'",
            ),
            (
                "src inet6:127.0.0.1",
                "filter: '127.0.0.1' is not an IPv6 address at word 2 of 'src inet6:127.0.0.1'",
            ),
            (
                "sport 1 and",
                "filter: expected a condition after 'and' at word 4 of 'sport 1 and'",
            ),
            (
                "or sport 1",
                "filter: expected a condition before 'or' at word 1 of 'or sport 1'",
            ),
            (
                "not",
                "filter: expected a condition after 'not' at word 2 of 'not'",
            ),
            (
                "dst",
                "filter: expected an address after 'dst' at word 2 of 'dst'",
            ),
            (
                "dst example.com",
                "filter: 'example.com' is not an address or prefix (host names are not looked \
                 up) at word 2 of 'dst example.com'",
            ),
            (
                "dst 10.0.0.0/33",
                "filter: '/33' is not a prefix length for an IPv4 address (0 to 32) at word 2 \
                 of 'dst 10.0.0.0/33'",
            ),
            (
                "dst 10.0.0.300",
                "filter: '10.0.0.300' is not an IP address at word 2 of 'dst 10.0.0.300'",
            ),
            (
                "src [fe80::1::2]:80",
                "filter: 'fe80::1::2' is not an IP address at word 2 of 'src [fe80::1::2]:80'",
            ),
            (
                "src ::1/x",
                "filter: '/x' is not a prefix length for an IPv6 address (0 to 128) at word 2 \
                 of 'src ::1/x'",
            ),
            (
                "dst 10.0.0.1.5/8",
                "filter: '10.0.0.1.5' is not an IP address at word 2 of 'dst 10.0.0.1.5/8'",
            ),
            (
                "dst [::1",
                "filter: '[::1' has no closing ']' at word 2 of 'dst [::1'",
            ),
            (
                "src inet:::1",
                "filter: '::1' is not an IPv4 address at word 2 of 'src inet:::1'",
            ),
            (
                "src unix:/run/x",
                "filter: 'unix:' addresses are not supported: rnetstat lists TCP and UDP \
                 sockets at word 2 of 'src unix:/run/x'",
            ),
            (
                "dev eth0",
                "filter: 'dev' is an ss condition rnetstat does not support at word 1 of \
                 'dev eth0'",
            ),
            (
                "proto sctp",
                "filter: expected tcp or udp after 'proto', found 'sctp' at word 2 of \
                 'proto sctp'",
            ),
            (
                "proto",
                "filter: expected tcp or udp after 'proto' at word 2 of 'proto'",
            ),
            (
                "pid x1",
                "filter: 'x1' is not a process id at word 2 of 'pid x1'",
            ),
            (
                "pid",
                "filter: expected a process id after 'pid' at word 2 of 'pid'",
            ),
            (
                "user",
                "filter: expected a user name or uid after 'user' at word 2 of 'user'",
            ),
            (
                "process",
                "filter: expected a program name or /REGEX/ after 'process' at word 2 of \
                 'process'",
            ),
            (
                "process /abc",
                "filter: '/abc' has no closing '/' for its regular expression at word 2 of \
                 'process /abc'",
            ),
            (
                "process /[a/",
                "filter: '/[a/' is not a valid regular expression: error: unclosed character \
                 class at word 2 of 'process /[a/'",
            ),
        ] {
            assert_eq!(error(text), message, "{text}");
        }
    }

    #[test]
    fn an_ambiguous_service_name_is_an_error_as_in_ss() {
        let services = Services::from_services_file("odd 1000/tcp\nodd 2000/udp\n");
        let words = split_words(&["sport = :odd"]);
        assert_eq!(
            parse(&words, &services, &BOTH).unwrap_err().message,
            "service 'odd' names different TCP and UDP ports"
        );
        let tcp_only = parse(&words, &services, &[Proto::Tcp]).unwrap();
        assert_eq!(tcp_only.expr, Some(sport(1000)));
    }

    #[test]
    fn control_characters_in_a_filter_are_escaped_in_the_error() {
        let message = error("sport 1 \u{1b}[2J");
        assert!(!message.contains('\u{1b}'), "{message}");
    }

    #[test]
    fn a_chain_of_one_operator_is_one_flat_node_however_long() {
        let text = (1..=50_000)
            .map(|p| format!("sport = :{p}"))
            .collect::<Vec<_>>()
            .join(" or ");
        let Expr::Or(terms) = expr(&text) else {
            panic!("one or")
        };
        assert_eq!(terms.len(), 50_000);
        assert_eq!(terms[49_999], sport(50_000));
        let Expr::And(terms) = expr(&format!("( {text} ) sport 1 and ( sport 2 and sport 3 )"))
        else {
            panic!("one and")
        };
        assert_eq!(terms.len(), 4);
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_an_error_naming_it() {
        let at = |text: &str| {
            let words = split_words(&[text]);
            parse(&words, &Services::builtin(), &BOTH).map(|_| ())
        };
        let parens = |n| format!("{}sport 1{}", "( ".repeat(n), " )".repeat(n));
        let nots = |n| format!("{}sport 1", "not ".repeat(n));
        assert!(at(&parens(MAX_DEPTH)).is_ok());
        assert!(at(&nots(MAX_DEPTH - 1)).is_ok());
        for text in [
            parens(MAX_DEPTH + 1),
            nots(MAX_DEPTH),
            parens(8000),
            nots(20_000),
        ] {
            let error = at(&text).unwrap_err();
            assert_eq!(
                error.message, "the expression nests deeper than 256 levels",
                "{error}"
            );
            assert!(error.to_string().len() < 300, "{error}");
        }
        // Switching between `and` and `or` groups what came before one level deeper.
        let switching = |n: usize| {
            (0..n).fold("sport 1".to_string(), |text, i| {
                format!("{text} {} sport 2", if i % 2 == 0 { "or" } else { "and" })
            })
        };
        assert!(at(&switching(MAX_DEPTH - 1)).is_ok());
        assert!(at(&switching(MAX_DEPTH)).is_err());
    }

    #[test]
    fn a_filter_over_the_size_limit_is_an_error_and_long_ones_are_quoted_in_part() {
        let word = "x".repeat(MAX_FILTER_BYTES / 2);
        let words = vec![word.clone(), word.clone(), "y".to_string()];
        let too_long = parse(&words, &Services::builtin(), &BOTH).unwrap_err();
        assert_eq!(
            too_long.to_string(),
            "filter: the filter is 1048579 bytes long, more than the 1 MiB a filter may be"
        );
        let long = format!("{} sport 1 frobnicate sport 2", "sport 1 or ".repeat(100));
        let message = error(&long);
        assert_eq!(
            message,
            "filter: expected a condition (src, dst, sport, dport, port, proto, process, pid, \
             user, netns, container, unit, cgroup, not, '(') but found 'frobnicate' at word 303 of '… or sport 1 or sport 1 \
             frobnicate sport …'"
        );
        let huge = format!("dst {}", "x".repeat(100_000));
        assert!(error(&huge).len() < 700, "{}", error(&huge).len());
    }
}
