//! `--csv`: the snapshot as RFC 4180 CSV with a header row.

use std::io::{self, Write};

use crate::model::Snapshot;
use crate::services::Services;

pub fn write_csv<W: Write>(
    _out: &mut W,
    _snapshot: &Snapshot,
    _services: &Services,
) -> io::Result<()> {
    Err(io::Error::other("--csv is not built yet"))
}
