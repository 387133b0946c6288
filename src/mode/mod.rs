//! One room per mode: each takes the query and its own options, collects, and writes. `cli`
//! builds the options; a mode never reads the command line.

pub mod close;
pub mod metrics;
pub mod notice;
pub mod print;
pub mod summary;
pub mod watch;
