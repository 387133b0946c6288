//! The printers: each writes one snapshot to any `io::Write`.

pub mod csv;
pub mod events;
mod flat;
pub mod json;
pub mod prometheus;
pub mod summary;
pub mod table;
