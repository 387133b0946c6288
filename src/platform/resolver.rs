//! Host names for addresses, as `getent hosts` answers (the system resolver: /etc/hosts, DNS,
//! nsswitch), looked up in parallel under one deadline, never one after another. A lookup the
//! deadline cut short goes on in the background and its answer is kept for the next ask; the
//! same address is never asked twice at once.
//!
//! A name is whatever a PTR record or a hosts file says: untrusted, escaped before printing.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// At most this many lookups at once.
const WORKERS: usize = 32;

#[derive(Default)]
struct State {
    /// Every address looked up so far: its name, or `None` when it has none.
    answers: HashMap<IpAddr, Option<String>>,
    /// Addresses waiting for a worker.
    queue: Vec<IpAddr>,
    /// Addresses queued or being looked up.
    asked: HashSet<IpAddr>,
    workers: usize,
}

/// The names found by one [`Resolver::resolve`], and how many it was still waiting for.
#[derive(Debug, Default)]
pub struct Names {
    pub names: HashMap<IpAddr, String>,
    /// Distinct addresses asked about.
    pub asked: usize,
    /// Of those, the ones with no answer yet when the deadline came.
    pub unanswered: usize,
}

/// Looks addresses up in the background; clones share the answers.
#[derive(Clone, Default)]
pub struct Resolver {
    shared: Arc<(Mutex<State>, Condvar)>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Resolver")
    }
}

impl Resolver {
    pub fn new() -> Resolver {
        Resolver::default()
    }

    /// The names of `addresses` known within `wait` (zero: only those known already; the rest
    /// are asked for in the background, for a later call). Unspecified addresses (`0.0.0.0`,
    /// `::`) are never looked up.
    pub fn resolve(&self, addresses: impl IntoIterator<Item = IpAddr>, wait: Duration) -> Names {
        let deadline = Instant::now() + wait;
        let wanted: HashSet<IpAddr> = addresses
            .into_iter()
            .filter(|ip| !ip.is_unspecified())
            .collect();
        let (lock, answered) = &*self.shared;
        let mut state = lock.lock().unwrap_or_else(|p| p.into_inner());
        for &ip in &wanted {
            if !state.answers.contains_key(&ip) && state.asked.insert(ip) {
                state.queue.push(ip);
            }
        }
        while state.workers < WORKERS && state.workers < state.queue.len() {
            state.workers += 1;
            let shared = Arc::clone(&self.shared);
            let started = std::thread::Builder::new()
                .name("resolver".to_string())
                .spawn(move || work(&shared));
            if started.is_err() {
                // No thread to spare (RLIMIT_NPROC): those that run will take the queue.
                state.workers -= 1;
                break;
            }
        }
        // No thread to spare at all: look up here, one at a time, while the deadline allows.
        while state.workers == 0 && Instant::now() < deadline {
            let Some(ip) = state.queue.pop() else { break };
            drop(state);
            let name = reverse(ip);
            state = lock.lock().unwrap_or_else(|p| p.into_inner());
            state.asked.remove(&ip);
            state.answers.insert(ip, name);
        }
        loop {
            let pending = wanted
                .iter()
                .filter(|ip| !state.answers.contains_key(ip))
                .count();
            let now = Instant::now();
            if pending == 0 || now >= deadline || state.workers == 0 {
                let names = wanted
                    .iter()
                    .filter_map(|ip| Some((*ip, state.answers.get(ip)?.clone()?)))
                    .collect();
                return Names {
                    names,
                    asked: wanted.len(),
                    unanswered: pending,
                };
            }
            state = answered
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

/// A worker: look up queued addresses until the queue is empty.
fn work(shared: &(Mutex<State>, Condvar)) {
    let (lock, answered) = shared;
    loop {
        let ip = {
            let mut state = lock.lock().unwrap_or_else(|p| p.into_inner());
            match state.queue.pop() {
                Some(ip) => ip,
                None => {
                    state.workers -= 1;
                    answered.notify_all();
                    return;
                }
            }
        };
        let name = reverse(ip);
        let mut state = lock.lock().unwrap_or_else(|p| p.into_inner());
        state.asked.remove(&ip);
        state.answers.insert(ip, name);
        answered.notify_all();
    }
}

/// The system resolver's name for `ip` (getnameinfo with NI_NAMEREQD: a name or nothing,
/// never the address back as text).
#[cfg(unix)]
fn reverse(ip: IpAddr) -> Option<String> {
    // SAFETY: a zeroed sockaddr_storage is a valid value; it is filled as the family's sockaddr.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let length = match ip {
        IpAddr::V4(v4) => {
            // SAFETY: all-zero is a valid sockaddr_in (and fills macOS's sin_len and padding).
            let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            addr.sin_family = libc::AF_INET as libc::sa_family_t;
            addr.sin_addr.s_addr = u32::from_ne_bytes(v4.octets());
            // SAFETY: sockaddr_storage is larger than sockaddr_in and suitably aligned.
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in, addr) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        IpAddr::V6(v6) => {
            // SAFETY: as above, for sockaddr_in6.
            let mut addr: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            addr.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            addr.sin6_addr.s6_addr = v6.octets();
            // SAFETY: as above, for sockaddr_in6.
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in6, addr) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    let mut host = [0 as libc::c_char; 1025];
    // SAFETY: the address and host buffers are valid for the lengths given; no service asked.
    let status = unsafe {
        libc::getnameinfo(
            &storage as *const _ as *const libc::sockaddr,
            length as libc::socklen_t,
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            libc::NI_NAMEREQD,
        )
    };
    if status != 0 {
        return None;
    }
    // SAFETY: getnameinfo wrote a NUL-terminated string into `host` on success.
    let name = unsafe { std::ffi::CStr::from_ptr(host.as_ptr()) };
    let name = name.to_string_lossy().into_owned();
    (!name.is_empty()).then_some(name)
}

/// Names on Windows are not looked up yet: every address stays numeric.
#[cfg(not(unix))]
fn reverse(_ip: IpAddr) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_addresses_are_never_asked() {
        // (Lookups themselves are tested end to end, in a private mount and network namespace
        // with a hosts file and a DNS server of the test's own: tests/names.rs.)
        let resolver = Resolver::new();
        let started = Instant::now();
        let names = resolver.resolve(
            ["0.0.0.0".parse().unwrap(), "::".parse().unwrap()],
            Duration::from_secs(5),
        );
        assert_eq!((names.asked, names.unanswered), (0, 0));
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
