//! `--metrics-file`: the exposition written to a file atomically, for node_exporter's textfile
//! collector.

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::scrape::exposition;
use crate::error::Error;
use crate::filter::Query;
use crate::mode::notice::OwnersNotice;
use crate::platform::Collector;

/// How long a wait between writes sleeps at a time before looking for a stop signal.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// `--metrics-file`: replace `path` with a fresh exposition every `interval` (or once), until
/// SIGINT, SIGTERM or SIGHUP; a signal lets the write under way finish, so no temp file stays.
pub fn write_file(query: &Query, path: &Path, interval: Duration, once: bool) -> Result<(), Error> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in stop_signals() {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| Error::Run(format!("installing the handler of signal {signal}: {e}")))?;
    }
    let target = AtomicFile::new(path)?;
    let mut collector = Collector::new(query.clone());
    let mut notice = OwnersNotice::default();
    let mut next = Instant::now();
    loop {
        let (text, owners) = exposition(&mut collector).map_err(Error::Collect)?;
        notice.note(&owners);
        target.replace(&text)?;
        if once {
            return Ok(());
        }
        // Keep the cadence: a slow collection shortens the pause, never shifts the writes.
        next = (next + interval).max(Instant::now());
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let now = Instant::now();
            if now >= next {
                break;
            }
            std::thread::sleep((next - now).min(SIGNAL_POLL));
        }
    }
}

fn stop_signals() -> Vec<i32> {
    #[cfg(unix)]
    return vec![
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ];
    #[cfg(not(unix))]
    return vec![signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM];
}

/// A file replaced whole: readers see the old text or the new, never a part. The new text goes
/// to a temporary file in the same directory (a rename does not cross file systems), is synced,
/// then renamed over the target. The temporary file is created with O_CREAT|O_EXCL (and
/// O_NOFOLLOW, by the `tempfile` crate) under an unpredictable name, so an entry planted in a
/// shared directory is never followed or truncated; its name starts with a dot and ends in
/// `.tmp`, so node_exporter's textfile collector never reads it. The target must be a regular
/// file or absent, checked with `lstat` at start and again before each rename: a symlink, a
/// FIFO, a device, a socket or a directory there is never replaced.
struct AtomicFile {
    path: PathBuf,
    directory: PathBuf,
    /// `.NAME.`: the start of every temporary name.
    prefix: OsString,
}

impl AtomicFile {
    fn new(path: &Path) -> Result<AtomicFile, Error> {
        let Some(name) = path.file_name() else {
            return Err(file_error(
                path,
                "not a file name",
                io::ErrorKind::InvalidInput.into(),
            ));
        };
        let directory = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut prefix = OsString::from(".");
        prefix.push(name);
        prefix.push(".");
        let file = AtomicFile {
            path: path.to_path_buf(),
            directory,
            prefix,
        };
        file.check_target()?;
        // A directory that is missing or not writable fails now, not after a collection; the
        // probe is removed when dropped.
        file.temporary()?;
        Ok(file)
    }

    /// A new, empty temporary file beside the target, removed when dropped unless persisted.
    fn temporary(&self) -> Result<tempfile::NamedTempFile, Error> {
        tempfile::Builder::new()
            .prefix(&self.prefix)
            .suffix(".tmp")
            .tempfile_in(&self.directory)
            .map_err(|e| file_error(&self.path, "creating a temporary file beside it", e))
    }

    /// The target is absent or a regular file; anything else is refused, never replaced.
    fn check_target(&self) -> Result<(), Error> {
        let kind = match std::fs::symlink_metadata(&self.path) {
            Ok(metadata) => metadata.file_type(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(file_error(&self.path, "looking at it", e)),
        };
        if kind.is_file() {
            return Ok(());
        }
        Err(Error::Write(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{}: is {}, not a regular file: refusing to replace it",
                self.path.display(),
                file_kind(&kind)
            ),
        )))
    }

    fn replace(&self, text: &[u8]) -> Result<(), Error> {
        self.check_target()?;
        let mut temporary = self.temporary()?;
        temporary
            .write_all(text)
            .and_then(|()| temporary.as_file().sync_all())
            .map_err(|e| file_error(&self.path, "writing its temporary file", e))?;
        // Again just before the rename: PATH may have been replaced since the last write.
        self.check_target()?;
        // On failure the temporary file comes back inside the error and is removed with it.
        temporary
            .persist(&self.path)
            .map_err(|e| file_error(&self.path, "renaming its temporary file over it", e.error))?;
        // The rename itself survives a crash only once the directory is synced; where a
        // file system refuses that, the file is still complete.
        #[cfg(unix)]
        if let Ok(directory) = std::fs::File::open(&self.directory) {
            let _ = directory.sync_all();
        }
        Ok(())
    }
}

/// What a non-regular file is, in words, for the refusal.
fn file_kind(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
    }
    if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_dir() {
        "a directory"
    } else {
        "an unknown kind of file"
    }
}

fn file_error(path: &Path, step: &str, error: io::Error) -> Error {
    Error::Write(io::Error::new(
        error.kind(),
        format!("{}: {step}: {error}", path.display()),
    ))
}
