//! rnetstat: which program is talking to whom, on which port, right now.
//!
//! Data flows one way: [`platform::snapshot`] -> [`model::Snapshot`] -> [`filter`] -> a printer
//! in [`output`], or the live dashboard in [`tui`]. [`watch`] turns snapshots (and the kernel's
//! close notices) into events; [`metrics`] drives the Prometheus exposition to stdout, a file,
//! or [`serve`]'s HTTP endpoint. [`cli::generate`] prints the man page and shell completions.

pub mod cli;
pub mod error;
pub mod filter;
pub mod format;
#[doc(hidden)]
pub mod fuzzing;

pub mod metrics;
pub mod model;
pub mod output;
pub mod platform;
pub mod serve;
pub mod services;
pub mod tui;
pub mod watch;

use std::io::{self, BufWriter, Write};

use cli::{Config, Output};
use error::{Error, PANIC_EXIT_STATUS};
use model::OwnerCoverage;
use services::Services;

/// Make a panic in any thread end the program with one line: no thread's work may silently
/// go missing, and the dashboard may not keep drawing after its terminal was restored.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str))
            .unwrap_or("no message");
        let location = info.location().map_or_else(String::new, |l| {
            format!(" at {}:{}:{}", l.file(), l.line(), l.column())
        });
        let _ = writeln!(
            io::stderr(),
            "rnetstat: internal error: thread '{}' panicked{location}: {}",
            thread.name().unwrap_or("unnamed"),
            format::escaped(message)
        );
        std::process::exit(i32::from(PANIC_EXIT_STATUS));
    }));
}

pub fn run(config: &Config) -> Result<(), Error> {
    install_panic_hook();
    let table_options = match &config.output {
        Output::Live(options) => return tui::run(&config.query, options),
        Output::Table(options) => Some(options),
        Output::Json | Output::Csv => None,
        Output::Summary { json } => return write_summary(&config.query, *json),
        Output::Watch(options) => return watch::run(&config.query, options),
        Output::Metrics(target) => return metrics::run(&config.query, target),
        Output::Generate(kind) => {
            let mut out = io::stdout().lock();
            return cli::generate::write(&mut out, *kind)
                .and_then(|()| out.flush())
                .map_err(Error::Write);
        }
    };
    let services = Services::load();
    let stdout = io::stdout().lock();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout);
    let mut next = std::time::Instant::now();
    let mut warned = false;
    loop {
        let mut snapshot = platform::snapshot(&config.query).map_err(Error::Collect)?;
        filter::sort::sort_sockets(&mut snapshot, &config.sort);
        if let OwnerCoverage::Incomplete(gaps) = snapshot.owners {
            // Once is enough: -c would repeat the same gaps every interval.
            if !warned {
                eprintln!("rnetstat: owners incomplete: {}", gaps.describe());
            }
            warned = true;
        }
        match table_options {
            Some(options) => {
                if config.continuous.is_some() {
                    write_time_stamp(&mut out, &snapshot).map_err(Error::Write)?;
                }
                output::table::write_table(&mut out, &snapshot, &services, options)
            }
            None if config.output == Output::Csv => {
                output::csv::write_csv(&mut out, &snapshot, &services)
            }
            None => output::json::write_json(&mut out, &snapshot, &services),
        }
        .and_then(|()| out.flush())
        .map_err(Error::Write)?;
        let Some(interval) = config.continuous else {
            return Ok(());
        };
        // Keep the cadence: a slow collection shortens the pause, never shifts the tables.
        next += interval;
        let now = std::time::Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            next = now;
        }
    }
}

/// `-s`: one socket walk, then the kernel's counters read right after it.
fn write_summary(query: &filter::Query, json: bool) -> Result<(), Error> {
    let snapshot = platform::snapshot(query).map_err(Error::Collect)?;
    if let OwnerCoverage::Incomplete(gaps) = snapshot.owners {
        eprintln!("rnetstat: owners incomplete: {}", gaps.describe());
    }
    let summary = output::summary::summarize(&snapshot, platform::protocol_counters());
    let mut out = BufWriter::new(io::stdout().lock());
    if json {
        output::summary::write_json(&mut out, &summary, &snapshot)
    } else {
        output::summary::write_text(&mut out, &summary)
    }
    .and_then(|()| out.flush())
    .map_err(Error::Write)
}

/// The line before each table of `-c`: when its snapshot was taken, as JSON's `taken_at`.
fn write_time_stamp<W: Write>(out: &mut W, snapshot: &model::Snapshot) -> io::Result<()> {
    let taken_at = snapshot.taken_at.unwrap_or_else(std::time::SystemTime::now);
    writeln!(out, "--- {}", output::json::rfc3339(taken_at))
}
