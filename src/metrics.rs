//! `--metrics`, `--metrics-file`, `--serve`: collect, render the exposition
//! ([`crate::output::prometheus`]), and deliver it.

use std::io::{self, BufWriter, Write};
use std::time::Instant;

use crate::cli::MetricsTarget;
use crate::filter::Query;
use crate::model::OwnerCoverage;
use crate::output::prometheus::{Scrape, write_metrics};
use crate::platform::{CollectError, Collector};
use crate::{Error, platform};

pub fn run(query: &Query, target: &MetricsTarget) -> Result<(), Error> {
    match target {
        MetricsTarget::Stdout => {
            let started = Instant::now();
            let snapshot = platform::snapshot(query).map_err(Error::Collect)?;
            let scrape = Scrape {
                duration: started.elapsed(),
            };
            let mut out = BufWriter::new(io::stdout().lock());
            write_metrics(&mut out, &snapshot, &scrape)
                .and_then(|()| out.flush())
                .map_err(Error::Write)
        }
        MetricsTarget::File { .. } => Err(Error::Live("--metrics-file is not built yet".into())),
        MetricsTarget::Serve(addr) => crate::serve::run(query, *addr),
    }
}

/// One collection rendered for a scrape of `--serve`: the exposition, and whether every
/// socket's owners could be seen.
pub fn exposition(collector: &mut Collector) -> Result<(Vec<u8>, OwnerCoverage), CollectError> {
    let started = Instant::now();
    let snapshot = collector.snapshot()?;
    let scrape = Scrape {
        duration: started.elapsed(),
    };
    let mut exposition = Vec::with_capacity(16 * 1024);
    write_metrics(&mut exposition, &snapshot, &scrape)
        .map_err(|e| CollectError::new("rendering the exposition", e))?;
    Ok((exposition, snapshot.owners))
}
