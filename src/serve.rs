//! `--serve ADDR:PORT`: the `/metrics` endpoint. Transport only: the exposition comes from
//! [`crate::output::prometheus`].

use std::net::SocketAddr;

use crate::Error;
use crate::filter::Query;

pub fn run(_query: &Query, _addr: SocketAddr) -> Result<(), Error> {
    Err(Error::Live("--serve is not built yet".to_string()))
}
