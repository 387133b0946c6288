//! `--metrics`, `--metrics-file`, `--serve`: collect, render the exposition
//! ([`crate::output::prometheus`]), and deliver it.

pub mod file;
pub mod http;
pub mod scrape;
pub mod serve;

use std::io::{self, BufWriter, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::Error;
use crate::filter::Query;
use crate::mode::notice::OwnersNotice;
use crate::platform::Collector;

/// What `--metrics`, `--metrics-file` and `--serve` were asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsOptions {
    pub target: MetricsTarget,
}

/// Where the Prometheus exposition goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsTarget {
    /// `--metrics`: one scrape on stdout.
    Stdout,
    /// `--metrics-file PATH`: rewritten every `interval`, or once with `--once`.
    File {
        path: PathBuf,
        interval: Duration,
        once: bool,
    },
    /// `--serve ADDR:PORT`: `GET /metrics` over HTTP, collected at most once per `interval`.
    Serve {
        addr: SocketAddr,
        interval: Duration,
    },
}

pub fn run(query: &Query, options: &MetricsOptions) -> Result<(), Error> {
    match &options.target {
        MetricsTarget::Stdout => {
            let mut collector = Collector::new(query.clone());
            let (text, owners) = scrape::exposition(&mut collector).map_err(Error::Collect)?;
            OwnersNotice::default().note(&owners);
            let mut out = BufWriter::new(io::stdout().lock());
            out.write_all(&text)
                .and_then(|()| out.flush())
                .map_err(Error::Write)
        }
        MetricsTarget::File {
            path,
            interval,
            once,
        } => file::write_file(query, path, *interval, *once),
        MetricsTarget::Serve { addr, interval } => serve::run(query, *addr, *interval),
    }
}
