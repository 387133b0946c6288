//! The one error every mode returns, and the exit status each kind of failure ends with.

use std::fmt;
use std::io::{self, Write};

use crate::platform::CollectError;

/// Exit status of a usage error (bad flag, bad filter), as clap's own.
pub const USAGE_EXIT_STATUS: u8 = 2;

/// Exit status after a panic, as Rust's own default.
pub const PANIC_EXIT_STATUS: u8 = 101;

#[derive(Debug)]
pub enum Error {
    /// What clap makes of the flags: help and version (exit 0), or its own usage error with
    /// the usage lines (exit 2). `main` lets clap print it, in colour where it may.
    Flags(clap::Error),
    /// The command line asks for something that cannot be: exit 2, as clap's own errors.
    Usage(String),
    Collect(CollectError),
    Write(io::Error),
    /// A mode could not start or go on: no terminal for `--live`, a port in use for `--serve`,
    /// a signal handler that could not be installed.
    Run(String),
}

impl From<CollectError> for Error {
    fn from(error: CollectError) -> Error {
        Error::Collect(error)
    }
}

impl Error {
    /// A reader that went away (`rnetstat -a | head -1`) is not a failure.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Write(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }

    /// 0 for a reader that went away, 2 for usage, 1 for every other failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            _ if self.is_broken_pipe() => 0,
            Error::Flags(e) => u8::try_from(e.exit_code()).unwrap_or(USAGE_EXIT_STATUS),
            Error::Usage(_) => USAGE_EXIT_STATUS,
            Error::Collect(_) | Error::Write(_) | Error::Run(_) => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Flags(e) => write!(f, "{}", e.render()),
            Error::Usage(why) | Error::Run(why) => write!(f, "{why}"),
            Error::Collect(e) => write!(f, "{e}"),
            Error::Write(e) => write!(f, "writing output: {e}"),
        }
    }
}

impl std::error::Error for Error {}

/// Make a panic in any thread end the program with one line: no thread's work may silently
/// go missing, and the dashboard may not keep drawing after its terminal was restored.
pub fn install_panic_hook() {
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
            crate::format::escaped(message)
        );
        std::process::exit(i32::from(PANIC_EXIT_STATUS));
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_failure_has_its_exit_status() {
        let pipe = Error::Write(io::Error::from(io::ErrorKind::BrokenPipe));
        assert_eq!(pipe.exit_code(), 0);
        assert_eq!(Error::Usage("bad".into()).exit_code(), 2);
        assert_eq!(Error::Run("no terminal".into()).exit_code(), 1);
        let full = Error::Write(io::Error::other("disk full"));
        assert_eq!(full.exit_code(), 1);
    }
}
