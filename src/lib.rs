//! rnetstat: which program is talking to whom, on which port, right now.
//!
//! Data flows one way: [`cli`] turns the flags into a [`cli::Config`]; one room of [`mode`] (or
//! the dashboard in [`tui`]) collects through [`platform`] into a [`model::Snapshot`], filters
//! and sorts it with [`filter`], and writes it with a printer of [`output`]. What two rooms
//! share lives in a room below both. docs/architecture.md draws it.

pub mod cli;
pub mod error;
pub mod filter;
pub mod format;
#[doc(hidden)]
pub mod fuzzing;
pub mod mode;
pub mod model;
pub mod output;
pub mod platform;
pub mod services;
pub mod tui;

use cli::{Config, Mode};
use error::Error;

/// Run the mode `config` asks for, to its end.
pub fn run(config: &Config) -> Result<(), Error> {
    error::install_panic_hook();
    let query = &config.query;
    match &config.mode {
        Mode::Print(options) => mode::print::run(query, options),
        Mode::Summary(options) => mode::summary::run(query, options),
        Mode::Live(options) => tui::run(query, options),
        Mode::Watch(options) => mode::watch::run(query, options),
        Mode::Metrics(options) => mode::metrics::run(query, options),
        Mode::Close(options) => mode::close::run(query, options),
        Mode::Generate(kind) => cli::generate::run(*kind),
    }
}
