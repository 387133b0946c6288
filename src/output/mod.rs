//! The printers: each writes one snapshot to any `io::Write`.

pub mod json;
pub mod summary;
pub mod table;
