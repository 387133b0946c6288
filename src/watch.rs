//! `--watch`: the sockets that open, close and change state, until interrupted.

use crate::Error;
use crate::cli::WatchOptions;
use crate::filter::Query;

pub fn run(_query: &Query, _options: &WatchOptions) -> Result<(), Error> {
    Err(Error::Live("--watch is not built yet".to_string()))
}
