//! One function per OS that takes a [`Snapshot`]: sockets, then (when asked) their owners.
//! Nothing above this module knows which OS it runs on.

use std::fmt;

use crate::filter::Query;
use crate::model::Snapshot;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(any(windows, target_os = "macos"))]
mod netstat2;
mod processes;

#[cfg(any(windows, target_os = "macos"))]
use self::netstat2 as backend;
#[cfg(target_os = "linux")]
use linux as backend;

/// Why a snapshot could not be taken. Missing privileges for owners is not an error:
/// it is reported in [`Snapshot::owners`].
#[derive(Debug)]
pub struct CollectError {
    pub context: String,
    pub source: std::io::Error,
}

impl CollectError {
    pub fn new(context: impl Into<String>, source: std::io::Error) -> Self {
        CollectError {
            context: context.into(),
            source,
        }
    }
}

impl fmt::Display for CollectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.context, self.source)
    }
}

impl std::error::Error for CollectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Take one snapshot of the sockets `query` asks for, with owners when `query.owners` is set.
pub fn snapshot(query: &Query) -> Result<Snapshot, CollectError> {
    let mut snapshot = backend::snapshot(query)?;
    snapshot.taken_at = Some(std::time::SystemTime::now());
    snapshot.hostname = processes::hostname();
    let users = processes::users();
    snapshot.user_names = processes::user_names(&snapshot.sockets, users.as_ref());
    if query.owners {
        snapshot.processes = processes::describe(&snapshot.sockets, users.as_ref());
    }
    Ok(snapshot)
}
