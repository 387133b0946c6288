//! The data every front end works from: one [`Snapshot`] of sockets and their owning processes.

mod context;
mod counters;
mod diff;
mod event;
mod namespace;
mod process;
mod snapshot;
mod socket;
mod unix;

pub use context::{Cgroup, Container, Context, Pod, Runtime};
pub use counters::ProtocolCounters;
pub use diff::{FastHash, Pairing, Remnants, SocketKey, pair};
pub use event::{Event, EventKind};
pub use namespace::Namespace;
pub use process::Process;
pub use snapshot::{OwnerCoverage, OwnerGaps, Refusers, Snapshot, context_of};
pub use socket::{
    ByteCounters, Family, Proto, Socket, SocketState, States, TcpInfo, Timer, TimerKind,
};
pub use unix::{UnixPath, UnixSocket, UnixType, resolve_peers};
