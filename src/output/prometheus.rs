//! The Prometheus text exposition format 0.0.4 of one snapshot (docs/metrics.md).

use std::io::{self, Write};
use std::time::Duration;

use crate::model::Snapshot;

/// What the exposition says about its own collection.
#[derive(Debug, Clone, Copy)]
pub struct Scrape {
    pub duration: Duration,
}

/// The content type of the exposition, for HTTP.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub fn write_metrics<W: Write>(
    out: &mut W,
    snapshot: &Snapshot,
    scrape: &Scrape,
) -> io::Result<()> {
    writeln!(
        out,
        "# HELP rnetstat_build_info The rnetstat version that wrote these metrics."
    )?;
    writeln!(out, "# TYPE rnetstat_build_info gauge")?;
    writeln!(
        out,
        "rnetstat_build_info{{version=\"{}\"}} 1",
        label_value(env!("CARGO_PKG_VERSION"))
    )?;
    writeln!(
        out,
        "# HELP rnetstat_listener_info One series per listening socket."
    )?;
    writeln!(out, "# TYPE rnetstat_listener_info gauge")?;
    for socket in snapshot.sockets.iter().filter(|s| s.state.is_listening()) {
        let process = snapshot
            .owners_of(socket)
            .next()
            .map_or("", |p| p.name.as_str());
        writeln!(
            out,
            "rnetstat_listener_info{{proto=\"{}\",address=\"{}\",port=\"{}\",process=\"{}\"}} 1",
            socket.proto.as_str(),
            socket.local.ip(),
            socket.local.port(),
            label_value(process)
        )?;
    }
    writeln!(
        out,
        "# HELP rnetstat_scrape_duration_seconds Time taken to collect this snapshot."
    )?;
    writeln!(out, "# TYPE rnetstat_scrape_duration_seconds gauge")?;
    writeln!(
        out,
        "rnetstat_scrape_duration_seconds {}",
        scrape.duration.as_secs_f64()
    )
}

/// A label value escaped as the format asks: backslash, double quote and line feed.
fn label_value(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            c => escaped.push(c),
        }
    }
    escaped
}
