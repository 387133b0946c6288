//! The one-shot table, JSON or CSV, and `-c`: the table again every interval.

use std::io::{self, BufWriter, Write};
use std::time::{Duration, Instant, SystemTime};

use crate::error::Error;
use crate::filter::Query;
use crate::filter::sort::{SortKey, sort_sockets};
use crate::mode::notice::OwnersNotice;
use crate::model::Snapshot;
use crate::output;
use crate::output::json::JsonWriter;
use crate::output::table::{TableOptions, TableWriter};
use crate::platform::resolver::Resolver;
use crate::platform::{self, Collector};
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
    // Without an order or names to wait for, rows are printed as the kernel gives them, a
    // batch at a time: a table of 200,000 sockets is never held whole (where the OS can).
    let streamed = options.sort.is_empty() && options.names.is_none();
    loop {
        if streamed {
            print_stream(&mut out, query, options, &services, &mut notice)?;
        } else {
            print_whole(&mut out, query, options, &services, &mut notice, &resolver)?;
        }
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

/// One table (or document) from the batches of [`Collector::stream`], each printed as it
/// comes: the table's columns widen where a later batch has a wider cell.
fn print_stream<W: Write>(
    out: &mut W,
    query: &Query,
    options: &PrintOptions,
    services: &Services,
    notice: &mut OwnersNotice,
) -> Result<(), Error> {
    enum Printer<'o> {
        /// Made with the first batch, which says whether there is a Netns column.
        Table(&'o TableOptions, Option<TableWriter<'o>>),
        Json(JsonWriter),
        Csv,
    }
    let mut printer = match &options.format {
        Format::Table(table) => Printer::Table(table, None),
        Format::Json => Printer::Json(JsonWriter::default()),
        Format::Csv => Printer::Csv,
    };
    let mut first = true;
    Collector::once(query.clone()).stream(|batch: &mut Snapshot| -> Result<(), Error> {
        notice.note(&batch.owners);
        notice.note_namespaces(&batch.namespaces);
        let out = &mut *out;
        let first_batch = std::mem::replace(&mut first, false);
        match &mut printer {
            Printer::Table(table, writer) => {
                if first_batch && options.continuous.is_some() {
                    write_time_stamp(out, batch).map_err(Error::Write)?;
                }
                let namespaces = !batch.namespaces.is_empty();
                let writer = writer.get_or_insert_with(|| TableWriter::new(table, namespaces));
                writer.write(out, batch, services)
            }
            Printer::Json(json) => json.write(out, batch, services),
            Printer::Csv => {
                if first_batch {
                    output::csv::write_csv_header(out).map_err(Error::Write)?;
                }
                output::csv::write_csv_rows(out, batch, services)
            }
        }
        .map_err(Error::Write)
    })?;
    match printer {
        Printer::Json(json) => json.finish(out),
        Printer::Table(..) | Printer::Csv => Ok(()),
    }
    .and_then(|()| out.flush())
    .map_err(Error::Write)
}

/// One table (or document) of a whole snapshot: sorted, with host names.
fn print_whole<W: Write>(
    out: &mut W,
    query: &Query,
    options: &PrintOptions,
    services: &Services,
    notice: &mut OwnersNotice,
    resolver: &Resolver,
) -> Result<(), Error> {
    {
        let mut snapshot = platform::snapshot(query).map_err(Error::Collect)?;
        if options.names.is_some() {
            // The only inet sockets a printing rnetstat holds are its resolver's (a lookup
            // from the last table of `-c` still in flight): they are not the machine's.
            let own = platform::own_socket_inodes();
            (snapshot.sockets).retain(|s| s.inode.is_none_or(|inode| !own.contains(&inode)));
        }
        sort_sockets(&mut snapshot, &options.sort);
        if let Some(wait) = options.names {
            name_hosts(&mut snapshot, resolver, wait);
        }
        notice.note(&snapshot.owners);
        notice.note_namespaces(&snapshot.namespaces);
        match &options.format {
            Format::Table(table) => {
                if options.continuous.is_some() {
                    write_time_stamp(out, &snapshot).map_err(Error::Write)?;
                }
                output::table::write_table(out, &snapshot, services, table)
            }
            Format::Csv => output::csv::write_csv(out, &snapshot, services),
            Format::Json => output::json::write_json(out, &snapshot, services),
        }
        .and_then(|()| out.flush())
        .map_err(Error::Write)
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
