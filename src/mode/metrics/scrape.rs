//! One collection rendered as the Prometheus exposition: what `--metrics`, `--metrics-file` and
//! every scrape of `--serve` serve.

use std::time::Instant;

use crate::model::{OwnerCoverage, Snapshot};
use crate::output::prometheus::{Scrape, write_metrics};
use crate::platform;
use crate::platform::{CollectError, Collector};

/// One collection for the exposition: the snapshot, then the kernel's counters, timed together.
pub fn scrape(collector: &mut Collector) -> Result<(Snapshot, Scrape), CollectError> {
    let started = Instant::now();
    let snapshot = collector.snapshot()?;
    let counters = platform::protocol_counters(collector.query());
    let scrape = Scrape {
        duration: started.elapsed(),
        tcp_retransmitted_segments: counters.retransmitted_segments,
    };
    Ok((snapshot, scrape))
}

/// One collection rendered for every mode (stdout, the file, a scrape of `--serve`): the
/// exposition, and whether every socket's owners could be seen.
pub fn exposition(collector: &mut Collector) -> Result<(Vec<u8>, OwnerCoverage), CollectError> {
    let (snapshot, scrape) = scrape(collector)?;
    let mut exposition = Vec::with_capacity(16 * 1024);
    write_metrics(&mut exposition, &snapshot, &scrape)
        .map_err(|e| CollectError::new("rendering the exposition", e))?;
    Ok((exposition, snapshot.owners))
}
