//! Another network namespace (`-N`): its sockets are dumped from a thread that entered it with
//! setns. setns moves only the calling thread, so the rest of rnetstat (the fd scan, the
//! terminal, `--serve`'s listener) stays where it is; a netlink socket belongs for good to the
//! namespace of the thread that created it.

use std::fs::File;
use std::os::fd::AsRawFd;

use crate::filter::Netns;
use crate::format::escaped;
use crate::platform::error::CollectError;

/// Run `work` on a thread of its own inside `netns`, and return what it returned. Threads it
/// starts are in the namespace too.
pub fn run_in<T: Send>(
    netns: &Netns,
    work: impl FnOnce() -> Result<T, CollectError> + Send,
) -> Result<T, CollectError> {
    let file = File::open(&netns.path).map_err(|e| {
        let given = format!("-N {}", escaped(&netns.given));
        let path = escaped(&netns.path.to_string_lossy());
        if e.kind() == std::io::ErrorKind::NotFound {
            CollectError::new(
                given,
                std::io::Error::other(format!("no such network namespace ({path})")),
            )
        } else {
            CollectError::new(format!("{given}: opening {path}"), e)
        }
    })?;
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name("netns".to_string())
            .spawn_scoped(scope, || {
                // SAFETY: setns takes an open fd and a namespace type; it affects this thread only.
                let entered = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                if entered != 0 {
                    let e = std::io::Error::last_os_error();
                    let why = if e.raw_os_error() == Some(libc::EINVAL) {
                        std::io::Error::other("not a network namespace")
                    } else {
                        e
                    };
                    return Err(CollectError::new(
                        format!(
                            "-N {}: entering {}",
                            escaped(&netns.given),
                            escaped(&netns.path.to_string_lossy())
                        ),
                        why,
                    ));
                }
                work()
            })
            .map_err(|e| CollectError::new("starting a thread to enter the namespace", e))?;
        thread.join().unwrap_or_else(|payload| {
            std::panic::resume_unwind(payload);
        })
    })
}
