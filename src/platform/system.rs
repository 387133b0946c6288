//! Small questions to the OS that the printers and modes ask: an interface's name, whether
//! stdout's reader is still there. Every `unsafe` call of them lives here.

/// The name of network interface `index` (an IPv6 scope id), if it has one now. Interface names
/// are chosen by whoever created the link: escape them before they reach a terminal.
#[cfg(unix)]
pub fn interface_name(index: u32) -> Option<String> {
    let mut name: [libc::c_char; libc::IF_NAMESIZE] = [0; libc::IF_NAMESIZE];
    // SAFETY: `name` has the IF_NAMESIZE bytes if_indextoname may write.
    let found = unsafe { libc::if_indextoname(index, name.as_mut_ptr()) };
    if found.is_null() {
        return None;
    }
    // SAFETY: on success if_indextoname wrote a NUL-terminated name into `name`.
    let name = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) };
    Some(name.to_string_lossy().into_owned())
}

#[cfg(not(unix))]
pub fn interface_name(_index: u32) -> Option<String> {
    None
}

/// The index of the interface called `name`, if there is one.
#[cfg(unix)]
pub fn interface_index(name: &str) -> Option<u32> {
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: a NUL-terminated name.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    (index != 0).then_some(index)
}

#[cfg(not(unix))]
pub fn interface_index(_name: &str) -> Option<u32> {
    None
}

/// Whether stdout is a pipe whose reader has gone (`| head -1`), asked without waiting.
#[cfg(unix)]
pub fn stdout_reader_gone() -> bool {
    let mut stdout = libc::pollfd {
        fd: libc::STDOUT_FILENO,
        events: 0,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no waiting.
    let ready = unsafe { libc::poll(&mut stdout, 1, 0) };
    ready > 0 && stdout.revents & libc::POLLERR != 0
}

#[cfg(not(unix))]
pub fn stdout_reader_gone() -> bool {
    false
}

/// Give the memory the allocator holds free back to the OS. A live view frees a whole
/// snapshot each refresh (200,000 sockets' small allocations, made on the collector's thread):
/// glibc keeps those pages in its arenas, so the resident size stayed at the snapshot's
/// high-water mark. Elsewhere nothing.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the allocator's own arenas to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn loopback_has_an_index_and_a_name() {
        let lo = interface_index("lo").expect("no loopback interface");
        assert_eq!(interface_name(lo).as_deref(), Some("lo"));
        assert_eq!(interface_index("no such interface"), None);
    }
}
