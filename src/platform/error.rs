//! Why a snapshot could not be taken.

use std::fmt;

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
