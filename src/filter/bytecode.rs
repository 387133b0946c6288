//! What Linux's inet_diag can test on each socket before it leaves the kernel, and the bytecode
//! (`INET_DIAG_REQ_BYTECODE`) that asks it to: ports, address prefixes, and/or/not.
//!
//! The kernel runs the program in `inet_diag_bc_run` (net/ipv4/inet_diag.c): each op is
//! `struct inet_diag_bc_op { u8 code; u8 yes; u16 no; }`, a true test advances by `yes` bytes, a
//! false one by `no`, and the socket is kept only if the walk ends exactly at the program's end.
//! `inet_diag_bc_audit` refuses (EINVAL) a program whose offsets are not multiples of 4, land
//! inside an op or its operand, or reach more than 4 bytes past the end. Pure: no I/O.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::Not;

use crate::model::Socket;

/// Op codes from the uapi header linux/inet_diag.h.
const BC_NOP: u8 = 0;
const BC_JMP: u8 = 1;
const BC_S_GE: u8 = 2;
const BC_S_LE: u8 = 3;
const BC_D_GE: u8 = 4;
const BC_D_LE: u8 = 5;
const BC_S_COND: u8 = 7;
const BC_D_COND: u8 = 8;
const BC_S_EQ: u8 = 11;
const BC_D_EQ: u8 = 12;

/// Linux's address family numbers, as `struct inet_diag_hostcond` carries them.
const AF_UNSPEC: u8 = 0;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

/// `struct inet_diag_bc_op`: code, yes, no.
const OP_BYTES: usize = 4;
/// `struct inet_diag_hostcond` without its address: family, prefix_len, 2 bytes padding, port.
const HOSTCOND_BYTES: usize = 8;
/// The attribute's length is a u16 that counts its own 4-byte header, and a false test jumps 4
/// bytes past the end in a u16: the longest program of whole ops both fit.
const MAX_PROGRAM_BYTES: usize = u16::MAX as usize - 4 - 3;

/// Which end of the connection a test looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The local end (ss's `src`, `sport`).
    Source,
    /// The peer (ss's `dst`, `dport`); a socket without a peer has `0.0.0.0:0` or `[::]:0` here.
    Destination,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortOp {
    Eq,
    Ne,
    Lt,
    Le,
    Ge,
    Gt,
}

/// An address prefix of one family; the length never exceeds the address's bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    address: IpAddr,
    length: u8,
}

impl Prefix {
    /// `None` when `length` is longer than the address (the kernel refuses such a program).
    pub fn new(address: IpAddr, length: u8) -> Option<Prefix> {
        let bits = match address {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        (length <= bits).then_some(Prefix { address, length })
    }

    pub fn address(&self) -> IpAddr {
        self.address
    }

    pub fn length(&self) -> u8 {
        self.length
    }

    /// The kernel's rule: an IPv4 prefix also matches an IPv6 socket's v4-mapped address
    /// (`::ffff:a.b.c.d`); an IPv6 prefix never matches an IPv4 socket.
    fn contains(&self, address: IpAddr) -> bool {
        let address = match (self.address, address) {
            (IpAddr::V4(_), IpAddr::V6(a)) => match a.to_ipv4_mapped() {
                Some(mapped) => IpAddr::V4(mapped),
                None => return false,
            },
            (IpAddr::V6(_), IpAddr::V4(_)) => return false,
            (_, same_family) => same_family,
        };
        let mask = u128::MAX
            .checked_shl(128 - u32::from(self.length))
            .unwrap_or(0);
        (left_aligned(self.address) ^ left_aligned(address)) & mask == 0
    }
}

/// An address's bits from the top of a u128, so one mask serves both families.
fn left_aligned(address: IpAddr) -> u128 {
    match address {
        IpAddr::V4(a) => u128::from(u32::from(a)) << 96,
        IpAddr::V6(a) => u128::from(a),
    }
}

/// ss's `src`/`dst` condition: an address prefix (or any address) and a port (or any port).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostCond {
    /// `None`: any address of either family.
    pub prefix: Option<Prefix>,
    /// `None`: any port.
    pub port: Option<u16>,
}

/// An expression the kernel can evaluate. A filter maps onto it with what the kernel cannot decide
/// (process, pid, user) as `True` where it counts for a socket (under an even number of `not`s)
/// and `False` where it counts against: the kernel then keeps every socket the whole filter could
/// keep, and userspace decides the rest on those.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelExpr {
    True,
    False,
    Port {
        side: Side,
        op: PortOp,
        port: u16,
    },
    Host {
        side: Side,
        cond: HostCond,
    },
    Not(Box<KernelExpr>),
    /// Every term holds (none: true). A chain is one flat node, however long.
    And(Vec<KernelExpr>),
    /// Some term holds (none: false).
    Or(Vec<KernelExpr>),
}

/// One socket's ends as the kernel's filter sees them: a missing peer is the unspecified address
/// and port 0 of the socket's family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelEndpoints {
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

impl KernelEndpoints {
    pub fn of(socket: &Socket) -> KernelEndpoints {
        let unspecified = match socket.local {
            SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        KernelEndpoints {
            local: socket.local,
            remote: socket.remote.unwrap_or(SocketAddr::new(unspecified, 0)),
        }
    }

    fn side(&self, side: Side) -> SocketAddr {
        match side {
            Side::Source => self.local,
            Side::Destination => self.remote,
        }
    }
}

impl Not for KernelExpr {
    type Output = KernelExpr;

    fn not(self) -> KernelExpr {
        KernelExpr::Not(Box::new(self))
    }
}

impl KernelExpr {
    /// `self and other`, one flat `And` when either side is one already.
    pub fn and(self, other: KernelExpr) -> KernelExpr {
        let mut terms = match self {
            KernelExpr::And(terms) => terms,
            single => vec![single],
        };
        match other {
            KernelExpr::And(more) => terms.extend(more),
            single => terms.push(single),
        }
        KernelExpr::And(terms)
    }

    /// `self or other`, one flat `Or` when either side is one already.
    pub fn or(self, other: KernelExpr) -> KernelExpr {
        let mut terms = match self {
            KernelExpr::Or(terms) => terms,
            single => vec![single],
        };
        match other {
            KernelExpr::Or(more) => terms.extend(more),
            single => terms.push(single),
        }
        KernelExpr::Or(terms)
    }

    /// What the kernel decides for this socket, evaluated here (the /proc fallback, and the
    /// reference the compiled program is tested against).
    pub fn matches(&self, socket: &KernelEndpoints) -> bool {
        match self {
            KernelExpr::True => true,
            KernelExpr::False => false,
            KernelExpr::Port { side, op, port } => {
                let actual = socket.side(*side).port();
                match op {
                    PortOp::Eq => actual == *port,
                    PortOp::Ne => actual != *port,
                    PortOp::Lt => actual < *port,
                    PortOp::Le => actual <= *port,
                    PortOp::Ge => actual >= *port,
                    PortOp::Gt => actual > *port,
                }
            }
            KernelExpr::Host { side, cond } => {
                let address = socket.side(*side);
                cond.port.is_none_or(|port| port == address.port())
                    && cond.prefix.is_none_or(|p| p.contains(address.ip()))
            }
            KernelExpr::Not(inner) => !inner.matches(socket),
            KernelExpr::And(terms) => terms.iter().all(|term| term.matches(socket)),
            KernelExpr::Or(terms) => terms.iter().any(|term| term.matches(socket)),
        }
    }

    /// The same decisions with the constants folded away: `True`, `False`, or an expression with
    /// neither inside.
    pub fn simplify(self) -> KernelExpr {
        match self {
            KernelExpr::Not(inner) => match inner.simplify() {
                KernelExpr::True => KernelExpr::False,
                KernelExpr::False => KernelExpr::True,
                KernelExpr::Not(twice) => *twice,
                other => !other,
            },
            KernelExpr::And(terms) => {
                let mut kept = Vec::with_capacity(terms.len());
                for term in terms {
                    match term.simplify() {
                        KernelExpr::False => return KernelExpr::False,
                        KernelExpr::True => {}
                        KernelExpr::And(inner) => kept.extend(inner),
                        other => kept.push(other),
                    }
                }
                one_or_many(kept, KernelExpr::True, KernelExpr::And)
            }
            KernelExpr::Or(terms) => {
                let mut kept = Vec::with_capacity(terms.len());
                for term in terms {
                    match term.simplify() {
                        KernelExpr::True => return KernelExpr::True,
                        KernelExpr::False => {}
                        KernelExpr::Or(inner) => kept.extend(inner),
                        other => kept.push(other),
                    }
                }
                one_or_many(kept, KernelExpr::False, KernelExpr::Or)
            }
            leaf => leaf,
        }
    }

    /// The program `inet_diag_bc_run` executes. Always a program the kernel accepts (true is one
    /// no-op: the kernel refuses an empty one); an error only when it is too long to send.
    pub fn compile(&self) -> Result<Vec<u8>, TooLong> {
        let mut program = Program::default();
        let reject = program.label();
        program.emit(self, reject);
        program.assemble(reject)
    }
}

/// No terms: `empty`; one: that term; more: `node` of them.
fn one_or_many(
    mut terms: Vec<KernelExpr>,
    empty: KernelExpr,
    node: fn(Vec<KernelExpr>) -> KernelExpr,
) -> KernelExpr {
    match terms.len() {
        0 => empty,
        1 => terms.swap_remove(0),
        _ => node(terms),
    }
}

/// The expression needs more bytecode than one netlink attribute holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLong {
    pub bytes: usize,
}

impl fmt::Display for TooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the filter needs {} bytes of inet_diag bytecode, more than the {MAX_PROGRAM_BYTES} a request holds",
            self.bytes
        )
    }
}

impl std::error::Error for TooLong {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Label(usize);

#[derive(Debug)]
enum Instruction {
    /// A test: true goes on to the next instruction, false jumps to the label.
    Test {
        code: u8,
        operand: Operand,
        on_false: Label,
    },
    /// Always to the label (INET_DIAG_BC_JMP takes its `no` branch).
    Jump(Label),
    /// Where a label points; no bytes.
    Mark(Label),
}

#[derive(Debug)]
enum Operand {
    /// Ports sit in the `no` field of a second op.
    Port(u16),
    Host(HostCond),
}

impl Operand {
    fn bytes(&self) -> usize {
        match self {
            Operand::Port(_) => OP_BYTES,
            Operand::Host(cond) => {
                HOSTCOND_BYTES
                    + match cond.prefix.map(|p| p.address) {
                        None => 0,
                        Some(IpAddr::V4(_)) => 4,
                        Some(IpAddr::V6(_)) => 16,
                    }
            }
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Operand::Port(port) => {
                out.extend([0, 0]);
                out.extend(port.to_ne_bytes());
            }
            Operand::Host(cond) => {
                let (family, length) = match cond.prefix {
                    None => (AF_UNSPEC, 0),
                    Some(Prefix {
                        address: IpAddr::V4(_),
                        length,
                    }) => (AF_INET, length),
                    Some(Prefix {
                        address: IpAddr::V6(_),
                        length,
                    }) => (AF_INET6, length),
                };
                out.extend([family, length, 0, 0]);
                // -1 is the kernel's "any port".
                out.extend(cond.port.map_or(-1, i32::from).to_ne_bytes());
                match cond.prefix.map(|p| p.address) {
                    None => {}
                    Some(IpAddr::V4(a)) => out.extend(a.octets()),
                    Some(IpAddr::V6(a)) => out.extend(a.octets()),
                }
            }
        }
    }
}

impl Instruction {
    fn bytes(&self) -> usize {
        match self {
            Instruction::Test { operand, .. } => OP_BYTES + operand.bytes(),
            Instruction::Jump(_) => OP_BYTES,
            Instruction::Mark(_) => 0,
        }
    }
}

/// Instructions with symbolic forward labels; every true branch falls through, so every op
/// boundary lies on the chain of `yes` offsets the kernel's audit walks.
#[derive(Default)]
struct Program {
    instructions: Vec<Instruction>,
    labels: usize,
}

impl Program {
    fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }

    fn test(&mut self, code: u8, operand: Operand, on_false: Label) {
        self.instructions.push(Instruction::Test {
            code,
            operand,
            on_false,
        });
    }

    /// Code that falls through when `expr` holds and jumps to `on_false` when it does not.
    fn emit(&mut self, expr: &KernelExpr, on_false: Label) {
        match expr {
            KernelExpr::True => {}
            KernelExpr::False => self.instructions.push(Instruction::Jump(on_false)),
            KernelExpr::Port { side, op, port } => self.emit_port(*side, *op, *port, on_false),
            KernelExpr::Host { side, cond } => {
                let code = match side {
                    Side::Source => BC_S_COND,
                    Side::Destination => BC_D_COND,
                };
                self.test(code, Operand::Host(*cond), on_false);
            }
            KernelExpr::Not(inner) => {
                let inner_false = self.label();
                self.emit(inner, inner_false);
                self.instructions.push(Instruction::Jump(on_false));
                self.instructions.push(Instruction::Mark(inner_false));
            }
            KernelExpr::And(terms) => {
                for term in terms {
                    self.emit(term, on_false);
                }
            }
            KernelExpr::Or(terms) => {
                let Some((last, others)) = terms.split_last() else {
                    // No term holds.
                    self.instructions.push(Instruction::Jump(on_false));
                    return;
                };
                let held = self.label();
                for term in others {
                    let try_next = self.label();
                    self.emit(term, try_next);
                    self.instructions.push(Instruction::Jump(held));
                    self.instructions.push(Instruction::Mark(try_next));
                }
                self.emit(last, on_false);
                self.instructions.push(Instruction::Mark(held));
            }
        }
    }

    /// The kernel compares ports with =, >= and <= only; the others are built from them.
    fn emit_port(&mut self, side: Side, op: PortOp, port: u16, on_false: Label) {
        let (eq, ge, le) = match side {
            Side::Source => (BC_S_EQ, BC_S_GE, BC_S_LE),
            Side::Destination => (BC_D_EQ, BC_D_GE, BC_D_LE),
        };
        match op {
            PortOp::Eq => self.test(eq, Operand::Port(port), on_false),
            PortOp::Ge => self.test(ge, Operand::Port(port), on_false),
            PortOp::Le => self.test(le, Operand::Port(port), on_false),
            PortOp::Gt => match port.checked_add(1) {
                Some(above) => self.test(ge, Operand::Port(above), on_false),
                None => self.instructions.push(Instruction::Jump(on_false)),
            },
            PortOp::Lt => match port.checked_sub(1) {
                Some(below) => self.test(le, Operand::Port(below), on_false),
                None => self.instructions.push(Instruction::Jump(on_false)),
            },
            PortOp::Ne => {
                let equal = KernelExpr::Port {
                    side,
                    op: PortOp::Eq,
                    port,
                };
                self.emit(&!equal, on_false);
            }
        }
    }

    /// Bytes for the kernel: the end of the program accepts, `reject` is 4 bytes past it.
    fn assemble(self, reject: Label) -> Result<Vec<u8>, TooLong> {
        let mut offsets = vec![0; self.labels];
        let mut end = 0;
        for instruction in &self.instructions {
            if let Instruction::Mark(label) = instruction {
                offsets[label.0] = end;
            }
            end += instruction.bytes();
        }
        if end == 0 {
            // Always true: the kernel refuses an empty program, so one no-op that steps to the end.
            return Ok(vec![BC_NOP, OP_BYTES as u8, OP_BYTES as u8, 0]);
        }
        if end > MAX_PROGRAM_BYTES {
            return Err(TooLong { bytes: end });
        }
        offsets[reject.0] = end + OP_BYTES;
        let mut out = Vec::with_capacity(end);
        for instruction in &self.instructions {
            let here = out.len();
            let size = instruction.bytes();
            // Forward labels only, and the program fits a u16: no overflow below.
            let jump = |label: &Label| u16::try_from(offsets[label.0] - here).unwrap_or(u16::MAX);
            match instruction {
                Instruction::Test {
                    code,
                    operand,
                    on_false,
                } => {
                    out.extend([*code, size as u8]);
                    out.extend(jump(on_false).to_ne_bytes());
                    operand.write(&mut out);
                }
                Instruction::Jump(target) => {
                    out.extend([BC_JMP, size as u8]);
                    out.extend(jump(target).to_ne_bytes());
                }
                Instruction::Mark(_) => {}
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{Proto, SocketState};

    /// `inet_diag_bc_audit`: the checks the kernel makes before it runs a program.
    pub(crate) fn audit(program: &[u8]) -> Result<(), String> {
        if program.len() < OP_BYTES {
            return Err("shorter than one op".into());
        }
        let total = program.len() as i64;
        let mut at = 0i64;
        let mut left = total;
        while left > 0 {
            let op = op_at(program, at).ok_or("op cut off")?;
            let mut min_len = OP_BYTES as i64;
            match op.code {
                BC_S_COND | BC_D_COND => {
                    min_len += HOSTCOND_BYTES as i64;
                    if left < min_len {
                        return Err("hostcond cut off".into());
                    }
                    let family = program[(at + 4) as usize];
                    let prefix_len = program[(at + 5) as usize];
                    let address_bytes = match family {
                        AF_UNSPEC => 0,
                        AF_INET => 4,
                        AF_INET6 => 16,
                        other => return Err(format!("family {other}")),
                    };
                    min_len += address_bytes;
                    if left < min_len {
                        return Err("address cut off".into());
                    }
                    if i64::from(prefix_len) > 8 * address_bytes {
                        return Err("prefix longer than the address".into());
                    }
                }
                BC_S_EQ | BC_S_GE | BC_S_LE | BC_D_EQ | BC_D_GE | BC_D_LE => {
                    min_len += OP_BYTES as i64;
                    if left < min_len {
                        return Err("port cut off".into());
                    }
                }
                BC_JMP | BC_NOP => {}
                other => return Err(format!("op code {other}")),
            }
            if op.code != BC_NOP {
                let no = i64::from(op.no);
                if no < min_len || no > left + 4 || no % 4 != 0 {
                    return Err(format!("no {no} at {at}"));
                }
                if no < left && !on_yes_chain(program, total - left + no) {
                    return Err(format!("no {no} at {at} lands inside an op"));
                }
            }
            let yes = i64::from(op.yes);
            if yes < min_len || yes > left + 4 || yes % 4 != 0 {
                return Err(format!("yes {yes} at {at}"));
            }
            at += yes;
            left -= yes;
        }
        if left == 0 {
            Ok(())
        } else {
            Err("the last op steps past the end".into())
        }
    }

    /// `valid_cc`: `target` is where some op starts, walking from the start by `yes` offsets.
    fn on_yes_chain(program: &[u8], target: i64) -> bool {
        let mut at = 0;
        while at < target {
            match op_at(program, at) {
                Some(op) if op.yes >= 4 && op.yes % 4 == 0 => at += i64::from(op.yes),
                _ => return false,
            }
        }
        at == target
    }

    struct Op {
        code: u8,
        yes: u8,
        no: u16,
    }

    fn op_at(program: &[u8], at: i64) -> Option<Op> {
        let at = usize::try_from(at).ok()?;
        let bytes = program.get(at..at + 4)?;
        Some(Op {
            code: bytes[0],
            yes: bytes[1],
            no: u16::from_ne_bytes([bytes[2], bytes[3]]),
        })
    }

    /// `inet_diag_bc_run` on one socket, on the program's bytes: what the kernel decides.
    pub(crate) fn run(program: &[u8], socket: &KernelEndpoints) -> bool {
        let family = match socket.local {
            SocketAddr::V4(_) => AF_INET,
            SocketAddr::V6(_) => AF_INET6,
        };
        let words = |address: IpAddr| -> Vec<u8> {
            match address {
                IpAddr::V4(a) => a.octets().to_vec(),
                IpAddr::V6(a) => a.octets().to_vec(),
            }
        };
        let (sport, dport) = (socket.local.port(), socket.remote.port());
        let (saddr, daddr) = (words(socket.local.ip()), words(socket.remote.ip()));
        let mut at = 0i64;
        let mut left = program.len() as i64;
        while left > 0 {
            let op = op_at(program, at).expect("an audited program never leaves its bytes");
            let operand = (at + 4) as usize;
            let port = || u16::from_ne_bytes([program[operand + 2], program[operand + 3]]);
            let yes = match op.code {
                BC_NOP => true,
                BC_JMP => false,
                BC_S_EQ => sport == port(),
                BC_S_GE => sport >= port(),
                BC_S_LE => sport <= port(),
                BC_D_EQ => dport == port(),
                BC_D_GE => dport >= port(),
                BC_D_LE => dport <= port(),
                BC_S_COND | BC_D_COND => {
                    let cond_family = program[operand];
                    let prefix_len = usize::from(program[operand + 1]);
                    let cond_port =
                        i32::from_ne_bytes(program[operand + 4..operand + 8].try_into().unwrap());
                    let cond_address = &program[operand + 8..];
                    let (port, address) = if op.code == BC_S_COND {
                        (sport, &saddr)
                    } else {
                        (dport, &daddr)
                    };
                    if cond_port != -1 && cond_port != i32::from(port) {
                        false
                    } else if cond_family != AF_UNSPEC && cond_family != family {
                        family == AF_INET6
                            && cond_family == AF_INET
                            && address[..12] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]
                            && bitstring_match(&address[12..], cond_address, prefix_len)
                    } else {
                        prefix_len == 0 || bitstring_match(address, cond_address, prefix_len)
                    }
                }
                other => panic!("op code {other} the audit lets through"),
            };
            let step = if yes {
                i64::from(op.yes)
            } else {
                i64::from(op.no)
            };
            at += step;
            left -= step;
        }
        left == 0
    }

    /// The kernel's `bitstring_match`: whole 32-bit words, then the leading bits of the next.
    fn bitstring_match(a: &[u8], b: &[u8], bits: usize) -> bool {
        let words = bits / 32;
        if a[..words * 4] != b[..words * 4] {
            return false;
        }
        let rest = bits % 32;
        if rest == 0 {
            return true;
        }
        let word = |x: &[u8]| u32::from_be_bytes(x[words * 4..words * 4 + 4].try_into().unwrap());
        let mask = u32::MAX << (32 - rest);
        (word(a) ^ word(b)) & mask == 0
    }

    pub(crate) fn endpoints(local: &str, remote: &str) -> KernelEndpoints {
        KernelEndpoints {
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
        }
    }

    pub(crate) fn port(side: Side, op: PortOp, port: u16) -> KernelExpr {
        KernelExpr::Port { side, op, port }
    }

    pub(crate) fn host(side: Side, prefix: Option<(&str, u8)>, port: Option<u16>) -> KernelExpr {
        KernelExpr::Host {
            side,
            cond: HostCond {
                prefix: prefix.map(|(a, l)| Prefix::new(a.parse().unwrap(), l).unwrap()),
                port,
            },
        }
    }

    /// Compiled, audited, run: the kernel's answer for this socket.
    fn kernel_says(expr: &KernelExpr, socket: &KernelEndpoints) -> bool {
        let program = expr.compile().unwrap();
        audit(&program).unwrap_or_else(|e| panic!("{expr:?} -> {program:?}: {e}"));
        run(&program, socket)
    }

    #[test]
    fn a_source_port_test_is_one_op_and_its_port() {
        let program = port(Side::Source, PortOp::Eq, 8080).compile().unwrap();
        let mut expected = vec![BC_S_EQ, 8];
        expected.extend(12u16.to_ne_bytes());
        expected.extend([0, 0]);
        expected.extend(8080u16.to_ne_bytes());
        assert_eq!(program, expected);
    }

    #[test]
    fn a_hostcond_carries_family_prefix_port_and_address() {
        let program = host(Side::Destination, Some(("10.1.0.0", 16)), None)
            .compile()
            .unwrap();
        let mut expected = vec![BC_D_COND, 16];
        expected.extend(20u16.to_ne_bytes());
        expected.extend([AF_INET, 16, 0, 0]);
        expected.extend((-1i32).to_ne_bytes());
        expected.extend([10, 1, 0, 0]);
        assert_eq!(program, expected);

        let program = host(Side::Source, Some(("::1", 128)), Some(22))
            .compile()
            .unwrap();
        assert_eq!(program.len(), 4 + 8 + 16);
        assert_eq!(&program[..2], &[BC_S_COND, 28]);
        assert_eq!(&program[4..6], &[AF_INET6, 128]);
        assert_eq!(&program[8..12], &22i32.to_ne_bytes());
        assert_eq!(program[27], 1);

        let any = host(Side::Source, None, Some(22)).compile().unwrap();
        assert_eq!(&any[4..6], &[AF_UNSPEC, 0]);
        assert_eq!(any.len(), 12);
    }

    #[test]
    fn constants_are_programs_the_kernel_accepts() {
        let always = KernelExpr::True.compile().unwrap();
        assert_eq!(always, [BC_NOP, 4, 4, 0]);
        let never = KernelExpr::False.compile().unwrap();
        let mut expected = vec![BC_JMP, 4];
        expected.extend(8u16.to_ne_bytes());
        assert_eq!(never, expected);
        let socket = endpoints("127.0.0.1:1", "127.0.0.1:2");
        assert!(kernel_says(&KernelExpr::True, &socket));
        assert!(!kernel_says(&KernelExpr::False, &socket));
        assert!(!kernel_says(
            &port(Side::Source, PortOp::Gt, 65535),
            &socket
        ));
        assert!(!kernel_says(&port(Side::Source, PortOp::Lt, 0), &socket));
    }

    #[test]
    fn a_v4_prefix_matches_v4_mapped_addresses_of_v6_sockets() {
        let mapped = endpoints("[::ffff:127.0.0.1]:80", "[::ffff:10.1.2.3]:5000");
        let loopback = host(Side::Source, Some(("127.0.0.0", 8)), None);
        let any_v4 = host(Side::Destination, Some(("0.0.0.0", 0)), None);
        let v6 = host(Side::Source, Some(("::ffff:127.0.0.0", 104)), None);
        for expr in [&loopback, &any_v4, &v6] {
            assert!(expr.matches(&mapped), "{expr:?}");
            assert!(kernel_says(expr, &mapped), "{expr:?}");
        }
        let native = endpoints("[::1]:80", "[::]:0");
        assert!(!any_v4.matches(&native));
        assert!(!kernel_says(&any_v4, &native));
        let v4 = endpoints("127.0.0.1:80", "0.0.0.0:0");
        assert!(!v6.matches(&v4));
        assert!(!kernel_says(&v6, &v4));
    }

    #[test]
    fn prefixes_longer_than_their_address_do_not_exist() {
        assert!(Prefix::new("10.0.0.0".parse().unwrap(), 33).is_none());
        assert!(Prefix::new("10.0.0.0".parse().unwrap(), 32).is_some());
        assert!(Prefix::new("::".parse().unwrap(), 129).is_none());
        assert!(Prefix::new("::".parse().unwrap(), 128).is_some());
    }

    #[test]
    fn a_program_too_long_for_one_attribute_is_an_error() {
        let leaf = host(Side::Source, Some(("::1", 128)), None);
        let long = (0..3000).fold(KernelExpr::False, |acc, _| acc.or(leaf.clone()));
        let error = long.compile().unwrap_err();
        assert!(error.bytes > MAX_PROGRAM_BYTES);
        let short = (0..2000).fold(KernelExpr::False, |acc, _| acc.or(leaf.clone()));
        let program = short.compile().unwrap();
        audit(&program).unwrap();
        assert!(run(&program, &endpoints("[::1]:1", "[::]:0")));
    }

    #[test]
    fn a_chain_of_50000_stays_flat_through_simplify_and_is_left_to_userspace() {
        let ports = (1..=50_000u16).map(|p| port(Side::Source, PortOp::Eq, p));
        let chain = ports.fold(KernelExpr::False, KernelExpr::or);
        let KernelExpr::Or(terms) = chain.clone().simplify() else {
            panic!("one or")
        };
        assert_eq!(terms.len(), 50_000);
        assert!(chain.matches(&endpoints("127.0.0.1:50000", "0.0.0.0:0")));
        assert!(!chain.matches(&endpoints("127.0.0.1:50001", "0.0.0.0:0")));
        let filter = crate::filter::kernel::KernelFilter {
            states: crate::model::States(1 << 10),
            expr: chain,
        };
        assert!(filter.bytecode().unwrap_err().bytes > MAX_PROGRAM_BYTES);
    }

    #[test]
    fn a_missing_peer_is_the_unspecified_address_and_port_0() {
        let listener = |local: &str| Socket {
            ..Socket::new(Proto::Tcp, SocketState::Listen, local.parse().unwrap())
        };
        let v4 = KernelEndpoints::of(&listener("127.0.0.1:80"));
        assert_eq!(v4.remote, "0.0.0.0:0".parse().unwrap());
        let v6 = KernelEndpoints::of(&listener("[::1]:80"));
        assert_eq!(v6.remote, "[::]:0".parse().unwrap());
        assert!(host(Side::Destination, Some(("0.0.0.0", 32)), Some(0)).matches(&v4));
        assert!(!host(Side::Destination, Some(("0.0.0.0", 32)), None).matches(&v6));
    }

    /// Random expressions and sockets from pools of ports and addresses, reproducible from a
    /// seed (xorshift64), without a dependency.
    pub(crate) struct Generator {
        state: u64,
        ports: Vec<u16>,
        v4: Vec<IpAddr>,
        v6: Vec<IpAddr>,
    }

    impl Generator {
        pub(crate) fn new(seed: u64, ports: &[u16], v4: &[&str], v6: &[&str]) -> Generator {
            let parse = |list: &[&str]| list.iter().map(|a| a.parse().unwrap()).collect();
            Generator {
                state: seed | 1,
                ports: ports.to_vec(),
                v4: parse(v4),
                v6: parse(v6),
            }
        }

        fn next(&mut self) -> u64 {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            self.state
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<T: Copy>(&mut self, items: &[T]) -> T {
            items[self.below(items.len())]
        }

        /// Mostly from the pool, sometimes any port.
        fn port(&mut self) -> u16 {
            if self.below(4) == 0 {
                self.next() as u16
            } else {
                let index = self.below(self.ports.len());
                self.ports[index]
            }
        }

        fn address(&mut self, v6: bool) -> IpAddr {
            let count = if v6 { self.v6.len() } else { self.v4.len() };
            let index = self.below(count);
            if v6 { self.v6[index] } else { self.v4[index] }
        }

        fn socket(&mut self) -> KernelEndpoints {
            let v6 = self.below(2) == 0;
            KernelEndpoints {
                local: SocketAddr::new(self.address(v6), self.port()),
                remote: SocketAddr::new(self.address(v6), self.port()),
            }
        }

        fn side(&mut self) -> Side {
            self.pick(&[Side::Source, Side::Destination])
        }

        pub(crate) fn expr(&mut self, depth: u32) -> KernelExpr {
            let kinds = if depth == 0 { 4 } else { 7 };
            match self.below(kinds) {
                0 if self.below(2) == 0 => KernelExpr::True,
                0 => KernelExpr::False,
                1 => {
                    let op = self.pick(&[
                        PortOp::Eq,
                        PortOp::Ne,
                        PortOp::Lt,
                        PortOp::Le,
                        PortOp::Ge,
                        PortOp::Gt,
                    ]);
                    let side = self.side();
                    port(side, op, self.port())
                }
                2 | 3 => {
                    let prefix = match self.below(3) {
                        0 => None,
                        family => {
                            let address = self.address(family == 2);
                            let bits = if address.is_ipv6() { 129 } else { 33 };
                            Prefix::new(address, self.below(bits) as u8)
                        }
                    };
                    let port = (self.below(3) == 0).then(|| self.port());
                    KernelExpr::Host {
                        side: self.side(),
                        cond: HostCond { prefix, port },
                    }
                }
                4 => !self.expr(depth - 1),
                5 => self.expr(depth - 1).and(self.expr(depth - 1)),
                _ => self.expr(depth - 1).or(self.expr(depth - 1)),
            }
        }
    }

    #[test]
    fn the_compiled_program_decides_as_the_expression_on_generated_cases() {
        let mut generate = Generator::new(
            0x9e37_79b9_7f4a_7c15,
            &[0, 1, 22, 80, 443, 444, 8080, 65534, 65535],
            &[
                "127.0.0.1",
                "127.0.0.2",
                "10.1.2.3",
                "10.1.130.3",
                "0.0.0.0",
                "192.168.0.1",
            ],
            &[
                "::1",
                "::",
                "fe80::1",
                "2001:db8::1",
                "2001:db8:0:1::1",
                "::ffff:127.0.0.1",
                "::ffff:10.1.2.3",
            ],
        );
        let sockets: Vec<KernelEndpoints> = (0..96).map(|_| generate.socket()).collect();
        let (mut kept, mut dropped) = (0, 0);
        for _ in 0..4000 {
            let expr = generate.expr(4);
            let program = expr.compile().unwrap();
            audit(&program).unwrap_or_else(|e| panic!("{expr:?} -> {program:?}: {e}"));
            for socket in &sockets {
                let expected = expr.matches(socket);
                assert_eq!(
                    run(&program, socket),
                    expected,
                    "{expr:?} on {socket:?}, program {program:?}"
                );
                if expected {
                    kept += 1;
                } else {
                    dropped += 1;
                }
            }
        }
        // Both answers are common, so neither side of the comparison is trivially constant.
        assert!(
            kept > 50_000 && dropped > 50_000,
            "{kept} kept, {dropped} dropped"
        );
    }

    fn has_constant_inside(expr: &KernelExpr) -> bool {
        match expr {
            KernelExpr::True | KernelExpr::False => true,
            KernelExpr::Not(inner) => has_constant_inside(inner),
            // A simplified chain has two terms or more, none a chain of its own kind.
            KernelExpr::And(terms) => {
                terms.len() < 2
                    || terms
                        .iter()
                        .any(|t| matches!(t, KernelExpr::And(_)) || has_constant_inside(t))
            }
            KernelExpr::Or(terms) => {
                terms.len() < 2
                    || terms
                        .iter()
                        .any(|t| matches!(t, KernelExpr::Or(_)) || has_constant_inside(t))
            }
            KernelExpr::Port { .. } | KernelExpr::Host { .. } => false,
        }
    }

    #[test]
    fn simplifying_keeps_every_decision_and_folds_every_constant() {
        let mut generate = Generator::new(
            0x51_7cc1_b727_220a,
            &[0, 22, 80, 65535],
            &["127.0.0.1", "10.1.2.3"],
            &["::1", "::ffff:127.0.0.1"],
        );
        let sockets: Vec<KernelEndpoints> = (0..64).map(|_| generate.socket()).collect();
        let mut folded = 0;
        for _ in 0..3000 {
            let expr = generate.expr(4);
            let simple = expr.clone().simplify();
            if matches!(simple, KernelExpr::True | KernelExpr::False) {
                folded += 1;
            } else {
                assert!(!has_constant_inside(&simple), "{expr:?} -> {simple:?}");
            }
            for socket in &sockets {
                assert_eq!(simple.matches(socket), expr.matches(socket), "{expr:?}");
            }
        }
        assert!(folded > 100 && folded < 2900, "{folded} folded whole");
    }

    /// `expr` with every third leaf replaced by `open(leaf number, counts for the socket)`.
    fn open_leaves(
        expr: &KernelExpr,
        positive: bool,
        leaf: &mut usize,
        open: &impl Fn(usize, bool) -> KernelExpr,
    ) -> KernelExpr {
        match expr {
            KernelExpr::Not(inner) => !open_leaves(inner, !positive, leaf, open),
            KernelExpr::And(terms) => KernelExpr::And(
                terms
                    .iter()
                    .map(|t| open_leaves(t, positive, leaf, open))
                    .collect(),
            ),
            KernelExpr::Or(terms) => KernelExpr::Or(
                terms
                    .iter()
                    .map(|t| open_leaves(t, positive, leaf, open))
                    .collect(),
            ),
            known => {
                *leaf += 1;
                if (*leaf).is_multiple_of(3) {
                    open(*leaf, positive)
                } else {
                    known.clone()
                }
            }
        }
    }

    #[test]
    fn what_only_userspace_decides_counts_for_the_socket_in_the_kernel() {
        let mut generate = Generator::new(
            0x1234_5678_9abc_def1,
            &[0, 22, 80, 65535],
            &["127.0.0.1", "10.1.2.3"],
            &["::1", "::ffff:127.0.0.1"],
        );
        let sockets: Vec<KernelEndpoints> = (0..32).map(|_| generate.socket()).collect();
        let mut narrowed = 0;
        for _ in 0..2000 {
            let expr = generate.expr(4);
            let kernel = open_leaves(&expr, true, &mut 0, &|_, positive| {
                if positive {
                    KernelExpr::True
                } else {
                    KernelExpr::False
                }
            })
            .simplify();
            for (n, socket) in sockets.iter().enumerate() {
                // A process/pid/user answer the kernel cannot know: arbitrary per socket and leaf.
                let answer = |leaf: usize, _| {
                    if (n * 7 + leaf * 13) % 5 < 2 {
                        KernelExpr::True
                    } else {
                        KernelExpr::False
                    }
                };
                let whole = open_leaves(&expr, true, &mut 0, &answer);
                if whole.matches(socket) {
                    assert!(kernel.matches(socket), "{expr:?} -> {kernel:?}");
                } else if !kernel.matches(socket) {
                    narrowed += 1;
                }
            }
        }
        assert!(narrowed > 1000, "the kernel dropped only {narrowed}");
    }

    #[test]
    fn every_port_operator_at_every_boundary() {
        let ops = [
            PortOp::Eq,
            PortOp::Ne,
            PortOp::Lt,
            PortOp::Le,
            PortOp::Ge,
            PortOp::Gt,
        ];
        let ports = [0, 1, 2, 442, 443, 444, 65533, 65534, 65535];
        for side in [Side::Source, Side::Destination] {
            for op in ops {
                for limit in ports {
                    let expr = port(side, op, limit);
                    for actual in ports {
                        let socket = match side {
                            Side::Source => endpoints(&format!("10.0.0.1:{actual}"), "0.0.0.0:7"),
                            Side::Destination => {
                                endpoints("10.0.0.1:7", &format!("10.0.0.2:{actual}"))
                            }
                        };
                        let expected = match op {
                            PortOp::Eq => actual == limit,
                            PortOp::Ne => actual != limit,
                            PortOp::Lt => actual < limit,
                            PortOp::Le => actual <= limit,
                            PortOp::Ge => actual >= limit,
                            PortOp::Gt => actual > limit,
                        };
                        assert_eq!(expr.matches(&socket), expected, "{expr:?} {actual}");
                        assert_eq!(kernel_says(&expr, &socket), expected, "{expr:?} {actual}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_audit_refuses_what_the_kernel_refuses() {
        assert!(audit(&[]).is_err());
        assert!(audit(&[99, 4, 8, 0]).is_err());
        // A no-branch landing on a port operand, not an op.
        let mut bad = port(Side::Source, PortOp::Eq, 1).compile().unwrap();
        bad.extend(port(Side::Source, PortOp::Eq, 2).compile().unwrap());
        bad[2..4].copy_from_slice(&4u16.to_ne_bytes());
        assert!(audit(&bad).is_err());
        // A prefix longer than its address.
        let mut long = host(Side::Source, Some(("10.0.0.0", 8)), None)
            .compile()
            .unwrap();
        long[5] = 33;
        assert!(audit(&long).is_err());
    }
}
