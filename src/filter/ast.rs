//! The filter language's syntax tree: plain data that the userspace evaluator and a kernel
//! compiler (INET_DIAG bytecode) can both walk.

use std::net::IpAddr;

use regex::Regex;

/// The `state`/`exclude` words' set: the kernel's state numbers, defined in the model.
pub use crate::model::States;
use crate::model::{Family, Proto};

/// A whole filter: the `state`/`exclude` words, then an optional expression.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    /// The states the `state`/`exclude` words chose; `None` when there were none (then
    /// `-l`/`-a` or the default decide, as in ss).
    pub states: Option<States>,
    /// The family of the last `inet:`/`inet6:` address prefix: as in ss, it narrows the
    /// whole listing to that family, not only its own condition.
    pub family: Option<Family>,
    pub expr: Option<Expr>,
}

impl Filter {
    /// Whether evaluating the filter needs each socket's owning processes.
    pub fn needs_owners(&self) -> bool {
        self.expr.as_ref().is_some_and(Expr::needs_owners)
    }

    /// Whether evaluating the filter needs what each socket runs as (its cgroup).
    pub fn needs_contexts(&self) -> bool {
        self.expr.as_ref().is_some_and(Expr::needs_contexts)
    }
}

/// Which end of a connection a condition looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The socket's own address (`src`, `sport`).
    Local,
    /// The peer's address (`dst`, `dport`); a socket without a peer has the unspecified
    /// address of its family and port 0 here, as the kernel reports it.
    Remote,
}

/// Which port a port comparison looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortSide {
    Local,
    Remote,
    /// rnetstat's `port`: true when either end matches.
    Either,
}

/// A port comparison; the words ss accepts for each are in the parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortOp {
    /// `=`, `==`, `eq`, or no operator.
    Eq,
    /// `!=`, `ne`, `neq`.
    Ne,
    /// `<`, `lt`.
    Lt,
    /// `<=`, `le`, `leq`.
    Le,
    /// `>`, `gt`.
    Gt,
    /// `>=`, `ge`, `geq`.
    Ge,
}

impl PortOp {
    pub fn holds(self, actual: u16, wanted: u16) -> bool {
        match self {
            PortOp::Eq => actual == wanted,
            PortOp::Ne => actual != wanted,
            PortOp::Lt => actual < wanted,
            PortOp::Le => actual <= wanted,
            PortOp::Gt => actual > wanted,
            PortOp::Ge => actual >= wanted,
        }
    }
}

/// ss's host condition (`src`/`dst` and `sport = :P`/`dport = :P`): every part that is
/// given must match; none given matches every socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostCond {
    pub side: Side,
    /// `inet:` or `inet6:` before the address, or the family of the address itself. An IPv4
    /// condition also matches an IPv4-mapped address (`::ffff:a.b.c.d`) on an IPv6 socket,
    /// as the kernel's inet_diag does.
    pub family: Option<Family>,
    /// Network address and prefix length (a bare address is a full-length prefix).
    pub network: Option<(IpAddr, u8)>,
    pub port: Option<u16>,
}

/// A program name to match against each owning process's name.
#[derive(Debug, Clone)]
pub enum ProcessMatch {
    /// `process NAME`: the name exactly.
    Name(String),
    /// `process /REGEX/`: a regular expression found anywhere in the name.
    Pattern(Regex),
}

impl PartialEq for ProcessMatch {
    fn eq(&self, other: &ProcessMatch) -> bool {
        match (self, other) {
            (ProcessMatch::Name(a), ProcessMatch::Name(b)) => a == b,
            (ProcessMatch::Pattern(a), ProcessMatch::Pattern(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

impl Eq for ProcessMatch {}

/// The account a socket belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserMatch {
    Name(String),
    Uid(u32),
}

/// A network namespace (`netns NAME|INODE`, with `--all-netns`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetnsMatch {
    /// As written: a /run/netns name or `host`, until the command line resolves it.
    Name(String),
    /// The namespace's nsfs inode.
    Inode(u64),
}

/// A cgroup v2 (`cgroup PATH`, as ss).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupMatch {
    /// As written, until the command line finds its id.
    Path(String),
    /// The cgroup's id (its directory's inode in cgroupfs), as the kernel names sockets' cgroups.
    Id(u64),
}

/// A filter expression. Everything that walks one (evaluation, the kernel compiler, clone, drop)
/// recurses once per level: the parser builds none deeper than `parse::MAX_DEPTH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// Every term holds (`and`, `&&`, `&`, or two conditions side by side). A chain is one
    /// node with many terms, not a tree as deep as the chain is long.
    And(Vec<Expr>),
    /// Some term holds (`or`, `||`, `|`); flat as `And`.
    Or(Vec<Expr>),
    /// It does not hold (`not`, `!`).
    Not(Box<Expr>),
    /// `src [=] [FAMILY:]ADDR[/PREFIX][:PORT]`, `dst ...`: the local or remote end lies in
    /// the network and has the port (`*` for either part means any). Also `sport = *`.
    Host(HostCond),
    /// `sport OP [:]PORT`, `dport OP [:]PORT`, and rnetstat's `port OP [:]PORT` (either end).
    Port {
        side: PortSide,
        op: PortOp,
        port: u16,
    },
    /// rnetstat: `proto tcp|udp`.
    Proto(Proto),
    /// rnetstat: `process NAME` or `process /REGEX/`: some owning process's program name.
    Process(ProcessMatch),
    /// rnetstat: `pid N`: one of the owning processes has this pid.
    Pid(u32),
    /// rnetstat: `user NAME|UID`: the socket's owner (the uid the kernel records for it).
    User(UserMatch),
    /// rnetstat: `netns NAME|INODE`: the socket's network namespace (`--all-netns`).
    Netns(NetnsMatch),
    /// rnetstat: `container NAME|ID`: the socket was made in this container (its name, or an
    /// id or the start of one).
    Container(String),
    /// rnetstat: `unit NAME`: the socket was made in this systemd unit (`nginx` is
    /// `nginx.service`).
    Unit(String),
    /// ss: `cgroup PATH`: the socket was made in exactly this cgroup v2.
    Cgroup(CgroupMatch),
}

impl Expr {
    /// `left and right`, as one flat `And` when either side is one already.
    pub fn and(left: Expr, right: Expr) -> Expr {
        Expr::And(joined(left, right, |e| match e {
            Expr::And(terms) => Ok(terms),
            other => Err(other),
        }))
    }

    /// `left or right`, as one flat `Or` when either side is one already.
    pub fn or(left: Expr, right: Expr) -> Expr {
        Expr::Or(joined(left, right, |e| match e {
            Expr::Or(terms) => Ok(terms),
            other => Err(other),
        }))
    }

    #[allow(clippy::should_implement_trait)]
    pub fn not(inner: Expr) -> Expr {
        Expr::Not(Box::new(inner))
    }

    /// Whether any part asks about owning processes (`process`, `pid`).
    pub fn needs_owners(&self) -> bool {
        self.conditions()
            .any(|c| matches!(c, Expr::Process(_) | Expr::Pid(_)))
    }

    /// Whether any part asks what a socket runs as (`container`, `unit`, `cgroup`).
    pub fn needs_contexts(&self) -> bool {
        self.conditions()
            .any(|c| matches!(c, Expr::Container(_) | Expr::Unit(_) | Expr::Cgroup(_)))
    }

    /// Call `change` on every condition, left to right (recursing once per level: the parser
    /// builds none deeper than `parse::MAX_DEPTH`).
    pub fn conditions_mut(&mut self, change: &mut impl FnMut(&mut Expr)) {
        match self {
            Expr::And(terms) | Expr::Or(terms) => {
                for term in terms {
                    term.conditions_mut(change);
                }
            }
            Expr::Not(inner) => inner.conditions_mut(change),
            condition => change(condition),
        }
    }

    /// Every condition (each part that is not `and`, `or` or `not`), left to right, walked
    /// with a stack of its own rather than the thread's.
    pub fn conditions(&self) -> impl Iterator<Item = &Expr> {
        let mut stack = vec![self];
        std::iter::from_fn(move || {
            while let Some(expr) = stack.pop() {
                match expr {
                    Expr::And(terms) | Expr::Or(terms) => stack.extend(terms.iter().rev()),
                    Expr::Not(inner) => stack.push(inner),
                    condition => return Some(condition),
                }
            }
            None
        })
    }
}

/// The terms of `left` then `right`, each spread out when `terms_of` finds it is of the same kind.
fn joined(
    left: Expr,
    right: Expr,
    terms_of: impl Fn(Expr) -> Result<Vec<Expr>, Expr>,
) -> Vec<Expr> {
    let mut terms = terms_of(left).unwrap_or_else(|single| vec![single]);
    match terms_of(right) {
        Ok(more) => terms.extend(more),
        Err(single) => terms.push(single),
    }
    terms
}
