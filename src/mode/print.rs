//! The one-shot table, JSON or CSV, and `-c`: the table again every interval.

use std::io::{self, BufWriter, Write};
use std::time::{Duration, Instant, SystemTime};

use crate::error::Error;
use crate::filter::Query;
use crate::filter::sort::{SortKey, sort_sockets};
use crate::mode::notice::OwnersNotice;
use crate::model::Snapshot;
use crate::output;
use crate::output::table::TableOptions;
use crate::platform;
use crate::platform::resolver::Resolver;
use crate::services::Services;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    Table(TableOptions),
    /// `--json`: one document (docs/json.md).
    Json,
    /// `--csv`: the table once as CSV.
    Csv,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintOptions {
    pub format: Format,
    /// `--sort` keys, first key first; empty keeps the collector's order.
    pub sort: Vec<SortKey>,
    /// `-c`: the table again after each such pause, until interrupted.
    pub continuous: Option<Duration>,
    /// Look host names up, all at once, waiting at most this long (the table without `-n`,
    /// `--resolve`); `None`: addresses as numbers.
    pub names: Option<Duration>,
}

pub fn run(query: &Query, options: &PrintOptions) -> Result<(), Error> {
    let services = Services::load();
    let stdout = io::stdout().lock();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout);
    let mut next = Instant::now();
    let mut notice = OwnersNotice::default();
    let resolver = Resolver::new();
    loop {
        let mut snapshot = platform::snapshot(query).map_err(Error::Collect)?;
        if options.names.is_some() {
            // The only inet sockets a printing rnetstat holds are its resolver's (a lookup
            // from the last table of `-c` still in flight): they are not the machine's.
            let own = platform::own_socket_inodes();
            (snapshot.sockets).retain(|s| s.inode.is_none_or(|inode| !own.contains(&inode)));
        }
        sort_sockets(&mut snapshot, &options.sort);
        if let Some(wait) = options.names {
            name_hosts(&mut snapshot, &resolver, wait);
        }
        notice.note(&snapshot.owners);
        notice.note_namespaces(&snapshot.namespaces);
        match &options.format {
            Format::Table(table) => {
                if options.continuous.is_some() {
                    write_time_stamp(&mut out, &snapshot).map_err(Error::Write)?;
                }
                output::table::write_table(&mut out, &snapshot, &services, table)
            }
            Format::Csv => output::csv::write_csv(&mut out, &snapshot, &services),
            Format::Json => output::json::write_json(&mut out, &snapshot, &services),
        }
        .and_then(|()| out.flush())
        .map_err(Error::Write)?;
        let Some(interval) = options.continuous else {
            return Ok(());
        };
        // Keep the cadence: a slow collection shortens the pause, never shifts the tables.
        next += interval;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            next = now;
        }
    }
}

/// Look up the host names of every address in `snapshot` at once, waiting at most `wait`;
/// say on stderr how many were not answered in time (they stay numbers).
fn name_hosts(snapshot: &mut Snapshot, resolver: &Resolver, wait: Duration) {
    let addresses = (snapshot.sockets.iter())
        .flat_map(|s| std::iter::once(s.local.ip()).chain(s.remote.map(|r| r.ip())));
    let found = resolver.resolve(addresses, wait);
    if found.unanswered > 0 {
        eprintln!(
            "rnetstat: {} of {} host names unresolved after {:.1} s",
            found.unanswered,
            found.asked,
            wait.as_secs_f64()
        );
    }
    snapshot.host_names = found.names;
}

/// The line before each table of `-c`: when its snapshot was taken, as JSON's `taken_at`.
fn write_time_stamp<W: Write>(out: &mut W, snapshot: &Snapshot) -> io::Result<()> {
    let taken_at = snapshot.taken_at.unwrap_or_else(SystemTime::now);
    writeln!(out, "--- {}", output::json::rfc3339(taken_at))
}
