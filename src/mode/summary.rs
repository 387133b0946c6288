//! `-s`: one socket walk, then the kernel's counters read right after it.

use std::io::{self, BufWriter, Write};

use crate::error::Error;
use crate::filter::Query;
use crate::mode::notice::OwnersNotice;
use crate::output::summary::{summarize, write_json, write_text};
use crate::platform;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryOptions {
    /// As JSON (`-s --json`) instead of text.
    pub json: bool,
}

pub fn run(query: &Query, options: &SummaryOptions) -> Result<(), Error> {
    let snapshot = platform::snapshot(query).map_err(Error::Collect)?;
    let mut notice = OwnersNotice::default();
    notice.note(&snapshot.owners);
    notice.note_namespaces(&snapshot.namespaces);
    let summary = summarize(&snapshot, platform::protocol_counters(query));
    let mut out = BufWriter::new(io::stdout().lock());
    if options.json {
        write_json(&mut out, &summary, &snapshot)
    } else {
        write_text(&mut out, &summary)
    }
    .and_then(|()| out.flush())
    .map_err(Error::Write)
}
