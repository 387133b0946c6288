//! Linux: sockets from NETLINK_SOCK_DIAG (falling back to /proc/net when the kernel refuses),
//! owners from a scan of /proc/PID/fd.

pub mod cgroup;
pub mod close;
mod containers;
pub mod destroy_events;
#[doc(hidden)]
pub mod fuzzing;
mod kernel_socket;
mod netns;
mod owners;
pub mod pidfd;
mod proc_net;
mod snmp;
mod sock_diag;
mod tcp_info;
mod unix_diag;

use std::collections::HashSet;
use std::sync::Arc;

use super::error::CollectError;
use crate::filter::kernel::{self, Request};
use crate::filter::{Namespaces, Query};
use crate::model::{
    Family, Namespace, OwnerCoverage, Proto, Snapshot, Socket, SocketState, UnixSocket,
};

/// How many namespaces `--all-netns` enters and dumps at once.
const NAMESPACES_AT_ONCE: usize = 4;

/// Environment variable that forces the /proc/net collector (tests compare both collectors).
pub const COLLECTOR_ENV: &str = "RNETSTAT_COLLECTOR";

pub use snmp::read_counters as protocol_counters;

/// What a live view's collector keeps between snapshots.
#[derive(Default)]
pub struct Memory {
    owners: Option<owners::KnownOwners>,
    /// A collector for one snapshot: nothing is kept (remembering 200,000 owners for a next
    /// snapshot that never comes cost a one-shot `-p` a hash map of them).
    once: bool,
    /// The sockets (by cookie) whose whole tcp_info a live view shows; the others keep only
    /// its byte counters. `None`: every socket's.
    whole_info_of: Option<Arc<HashSet<u64>>>,
}

impl Memory {
    pub fn once() -> Memory {
        Memory {
            once: true,
            ..Memory::default()
        }
    }

    /// Keep the whole tcp_info of these sockets only (see [`sock_diag::Dumper::keep_whole_info_of`]).
    pub fn keep_whole_info_of(&mut self, cookies: Option<Arc<HashSet<u64>>>) {
        self.whole_info_of = cookies;
    }
}

pub fn snapshot(query: &Query, memory: &mut Memory) -> Result<Snapshot, CollectError> {
    let mut owners_as_of = None;
    let whole = memory.whole_info_of.as_ref();
    // Found once per snapshot, for the Unix dump and the TCP/UDP dump alike.
    let found = if query.netns == Namespaces::All {
        netns::discover()
    } else {
        Vec::new()
    };
    let (mut unix_sockets, unix_errors) = if query.unix {
        dump_unix_namespaces(query, &found)?
    } else {
        (Vec::new(), Vec::new())
    };
    let (sockets, owners, mut namespaces) = match memory.owners.as_mut() {
        // Unix sockets are not in the live view, so a refresh has none to find owners for.
        Some(known) if query.owners && !query.unix && !known.due_for_full_scan() => {
            let (mut sockets, namespaces) = dump_namespaces(query, &found, whole)?;
            let owners = known.refresh(&mut sockets);
            owners_as_of = Some(known.full_scan_at());
            (sockets, owners, namespaces)
        }
        _ => {
            let started = std::time::Instant::now();
            let (sockets, owners, namespaces) =
                snapshot_with_full_scan(query, &found, whole, &mut unix_sockets)?;
            if query.owners && !memory.once {
                let took = started.elapsed();
                memory.owners = Some(owners::KnownOwners::after_full_scan(&sockets, owners, took));
            }
            (sockets, owners, namespaces)
        }
    };
    for (inode, error) in unix_errors {
        if let Some(namespace) = namespaces.iter_mut().find(|n| n.inode == inode) {
            let said = namespace
                .error
                .take()
                .map_or_else(String::new, |e| format!("{e}; "));
            namespace.error = Some(format!("{said}Unix sockets: {error}"));
        }
    }
    Ok(Snapshot {
        sockets,
        unix_sockets,
        owners,
        owners_as_of,
        namespaces,
        ..Snapshot::default()
    })
}

fn snapshot_with_full_scan(
    query: &Query,
    found: &[netns::Found],
    whole: Option<&Arc<HashSet<u64>>>,
    unix_sockets: &mut [UnixSocket],
) -> Result<(Vec<Socket>, OwnerCoverage, Vec<Namespace>), CollectError> {
    // The fd scan does not need the dump's result until the end: run both at once.
    std::thread::scope(|scope| {
        let scan = query.owners.then(|| {
            std::thread::Builder::new()
                .name("owners".to_string())
                .spawn_scoped(scope, owners::scan_all)
        });
        let (mut sockets, namespaces) = dump_namespaces(query, found, whole)?;
        let scan = match scan {
            None => return Ok((sockets, OwnerCoverage::NotCollected, namespaces)),
            Some(Ok(thread)) => thread.join().map_err(|payload| {
                CollectError::new(
                    "scanning /proc for socket owners",
                    std::io::Error::other(owners::panic_message(&*payload)),
                )
            })??,
            // No thread to spare (RLIMIT_NPROC): scan after the dump instead of beside it.
            Some(Err(_)) => owners::scan_all()?,
        };
        // The one fd scan sees socket inodes of every kind: Unix sockets' owners come with it.
        owners::attach_unix(unix_sockets, &scan);
        let owners = owners::attach(&mut sockets, scan);
        Ok((sockets, owners, namespaces))
    })
}

/// The query's TCP and UDP sockets in the namespaces it asks for; with `--all-netns`, each
/// socket labelled with its namespace, and every namespace listed (with why, when its sockets
/// could not be read). `found`: the namespaces of `--all-netns`.
fn dump_namespaces(
    query: &Query,
    found: &[netns::Found],
    whole: Option<&Arc<HashSet<u64>>>,
) -> Result<(Vec<Socket>, Vec<Namespace>), CollectError> {
    if query.netns != Namespaces::All {
        return Ok((in_netns(query, || dump_sockets(query, whole))?, Vec::new()));
    }
    let own = netns::own_inode();
    // A few namespaces at a time: entering one and dumping it is mostly waiting on the kernel.
    let mut dumped: Vec<Result<Vec<Socket>, CollectError>> = Vec::with_capacity(found.len());
    for batch in found.chunks(NAMESPACES_AT_ONCE) {
        std::thread::scope(|scope| {
            let threads: Vec<_> = batch
                .iter()
                .map(|found| {
                    let dump = move || found.run(own, || dump_sockets(query, whole));
                    // No thread to spare (RLIMIT_NPROC): this one on the way, after the others.
                    std::thread::Builder::new()
                        .spawn_scoped(scope, dump)
                        .map_err(|_| dump)
                })
                .collect();
            for thread in threads {
                dumped.push(match thread {
                    Ok(thread) => thread
                        .join()
                        .unwrap_or_else(|payload| std::panic::resume_unwind(payload)),
                    Err(dump) => dump(),
                });
            }
        });
    }
    let mut sockets = Vec::new();
    let mut namespaces = Vec::with_capacity(found.len());
    for (found, dumped) in found.iter().zip(dumped) {
        let error = match dumped {
            Ok(mut dumped) => {
                for socket in &mut dumped {
                    socket.netns = Some(found.inode);
                }
                sockets.append(&mut dumped);
                None
            }
            Err(e) => Some(e.to_string()),
        };
        namespaces.push(found.listed(error));
    }
    Ok((sockets, namespaces))
}

/// How many sockets [`stream`] hands on at a time. With owners, the scan runs beside the
/// dump's first batch, and the dump then waits for it: holding more while the scan runs was
/// no faster at 100,000 connections (894 ms holding 32,768 sockets, 896 ms holding 4,096, on
/// 2 cores the scan's threads keep busy) and cost 6 MiB more.
const STREAM_BATCH: usize = 4096;

/// Whether [`stream`] takes `query`: sockets of rnetstat's own namespace (the batches are
/// handed on on this thread, not one that entered another namespace) and no Unix sockets
/// (those are dumped whole, before the rest).
pub fn streams(query: &Query) -> bool {
    query.netns == Namespaces::Own && !query.unix
}

/// The owner scan of a stream: running beside the dump, then known.
enum StreamOwners<'scope> {
    NotAsked,
    Scanning(
        Option<std::thread::ScopedJoinHandle<'scope, Result<owners::OwnerScan, CollectError>>>,
    ),
    Known(owners::OwnerIndex),
}

impl StreamOwners<'_> {
    /// Fill in the owners of `sockets`, waiting for the scan first; the owners' coverage.
    fn attach(&mut self, sockets: &mut [Socket]) -> Result<OwnerCoverage, CollectError> {
        if let StreamOwners::Scanning(thread) = self {
            let scan = match thread.take() {
                Some(thread) => thread.join().map_err(|payload| {
                    CollectError::new(
                        "scanning /proc for socket owners",
                        std::io::Error::other(owners::panic_message(&*payload)),
                    )
                })??,
                // No thread to spare (RLIMIT_NPROC): the scan runs now, after the dump.
                None => owners::scan_all()?,
            };
            *self = StreamOwners::Known(scan.into_index());
        }
        Ok(match self {
            StreamOwners::Known(index) => {
                index.attach(sockets);
                index.coverage()
            }
            _ => OwnerCoverage::NotCollected,
        })
    }
}

/// The query's TCP and UDP sockets (only where [`streams`] says so) a batch at a time, in the
/// kernel's order, with their owners when the query asks: a table of 200,000 sockets is never
/// held whole. `each` gets at least one batch (the last may be empty) with the owners'
/// coverage, may take the sockets, and returns `false` to stop.
pub fn stream(
    query: &Query,
    each: &mut dyn FnMut(&mut Vec<Socket>, OwnerCoverage) -> bool,
) -> Result<(), CollectError> {
    let force_proc = forced_proc();
    let requests = requests(query);
    std::thread::scope(|scope| {
        let mut owners = if query.owners {
            let thread = std::thread::Builder::new()
                .name("owners".to_string())
                .spawn_scoped(scope, owners::scan_all);
            StreamOwners::Scanning(thread.ok())
        } else {
            StreamOwners::NotAsked
        };
        let mut dumper = if force_proc {
            None
        } else {
            sock_diag::Dumper::open().ok()
        };
        let mut held: Vec<Socket> = Vec::with_capacity(STREAM_BATCH);
        for request in &requests {
            let wanted = |s: &Socket| query.wants(s) && request.keeps(s);
            for family in [Family::Ipv4, Family::Ipv6] {
                if !query.wants_family(family) {
                    continue;
                }
                // What of this table is still held, not handed on: dropped if the dump fails,
                // and /proc/net read instead.
                let table_start = held.len();
                let mut handed_on = false;
                let mut failed = None;
                let dumped = dumper.as_mut().map(|dumper| {
                    let mut pass = |dumped: &mut Vec<Socket>| {
                        held.extend(dumped.drain(..).filter(wanted));
                        if held.len() < STREAM_BATCH {
                            return true;
                        }
                        handed_on = true;
                        hand_on(&mut held, &mut owners, each).unwrap_or_else(|e| {
                            failed = Some(e);
                            false
                        })
                    };
                    dumper.dump_passing(family, request, &mut Vec::new(), &mut pass)
                });
                match dumped {
                    Some(Ok(true)) => {}
                    Some(Ok(false)) => return failed.map_or(Ok(()), Err),
                    Some(Err(diag_error)) if handed_on => return Err(diag_error),
                    diag_error => {
                        // sock_diag is missing for this table or refused the program:
                        // /proc/net has the same sockets in text.
                        held.truncate(table_start);
                        let mut table = Vec::new();
                        proc_net::read_table(request.proto, family, &mut table).map_err(
                            |proc_error| match diag_error {
                                Some(Err(diag_error)) => CollectError::new(
                                    format!("{diag_error}; then {}", proc_error.context),
                                    proc_error.source,
                                ),
                                _ => proc_error,
                            },
                        )?;
                        held.extend(table.into_iter().filter(wanted));
                    }
                }
            }
        }
        hand_on(&mut held, &mut owners, each).map(|_| ())
    })
}

/// Hand `held` on to `each` with its owners, and empty it; whether `each` wants more.
fn hand_on(
    held: &mut Vec<Socket>,
    owners: &mut StreamOwners,
    each: &mut dyn FnMut(&mut Vec<Socket>, OwnerCoverage) -> bool,
) -> Result<bool, CollectError> {
    let coverage = owners.attach(held)?;
    let more = each(held, coverage);
    held.clear();
    Ok(more)
}

/// Namespaces (by inode) whose sockets could not be read, and why.
type Unread = Vec<(u64, String)>;

/// The query's Unix sockets in the namespaces it asks for; with `--all-netns`, labelled with
/// their namespace, and the namespaces whose Unix sockets could not be read with why.
fn dump_unix_namespaces(
    query: &Query,
    found: &[netns::Found],
) -> Result<(Vec<UnixSocket>, Unread), CollectError> {
    if query.netns != Namespaces::All {
        return Ok((in_netns(query, || dump_unix(query))?, Vec::new()));
    }
    let own = netns::own_inode();
    let mut sockets = Vec::new();
    let mut errors = Vec::new();
    for found in found {
        let dumped = found.run(own, || dump_unix(query));
        match dumped {
            Ok(mut dumped) => {
                for socket in &mut dumped {
                    socket.netns = Some(found.inode);
                }
                sockets.append(&mut dumped);
            }
            Err(e) => errors.push((found.inode, e.to_string())),
        }
    }
    Ok((sockets, errors))
}

/// `--watch --all-netns`: a close-notice subscription in every namespace there is now, each
/// labelling its sockets with its namespace. A namespace made later is not subscribed: its
/// closes come from comparing snapshots. The namespaces that could not be subscribed to are
/// the `Ok` list; none at all is the error.
pub fn watch_all_closes(
    query: &Query,
    sender: std::sync::mpsc::Sender<crate::platform::close_notice::CloseNotice>,
) -> Result<Vec<String>, String> {
    let own = netns::own_inode();
    let found = netns::discover();
    let mut failed = Vec::new();
    for namespace in &found {
        let subscribe = || {
            destroy_events::start(query, sender.clone(), Some(namespace.inode))
                .map_err(|e| CollectError::new("subscribing to close notices", e))
        };
        if let Err(e) = namespace.run(own, subscribe) {
            failed.push(format!(
                "network namespace {}: the kernel's close notices are unavailable: {e}",
                crate::format::escaped(&namespace.listed(None).label())
            ));
        }
    }
    if !found.is_empty() && failed.len() == found.len() {
        return Err(failed.join("; "));
    }
    Ok(failed)
}

pub use netns::inode_named as netns_inode;
pub use owners::own_socket_inodes;

/// `work` in the query's network namespace (`-N`), or right here in rnetstat's own. Socket
/// inodes are unique machine-wide, so owners come from the one fd scan either way.
pub fn in_netns<T: Send>(
    query: &Query,
    work: impl FnOnce() -> Result<T, CollectError> + Send,
) -> Result<T, CollectError> {
    match &query.netns {
        Namespaces::One(netns) => netns::run_in(netns, work),
        Namespaces::Own | Namespaces::All => work(),
    }
}

/// Unix sockets in the query's states; from /proc/net/unix when UNIX_DIAG is missing.
fn dump_unix(query: &Query) -> Result<Vec<UnixSocket>, CollectError> {
    let force_proc = forced_proc();
    let mut sockets = if force_proc {
        unix_diag::read_proc_net_unix()?
    } else {
        unix_diag::dump().or_else(|diag_error| {
            unix_diag::read_proc_net_unix().map_err(|proc_error| {
                CollectError::new(
                    format!("{diag_error}; then {}", proc_error.context),
                    proc_error.source,
                )
            })
        })?
    };
    sockets.retain(|s| query.wants_state(s.state));
    Ok(sockets)
}

fn dump_sockets(
    query: &Query,
    whole: Option<&Arc<HashSet<u64>>>,
) -> Result<Vec<Socket>, CollectError> {
    dump_tables(query, &requests(query), forced_proc(), whole)
}

/// Whether `RNETSTAT_COLLECTOR=procfs` turns sock_diag off.
fn forced_proc() -> bool {
    std::env::var_os(COLLECTOR_ENV).is_some_and(|v| v == "procfs")
}

/// One request per protocol the query wants. What the kernel can decide of the query never
/// leaves it; the rest of the user's filter is decided on what comes back
/// (platform::Collector evaluates the whole filter).
fn requests(query: &Query) -> Vec<Request> {
    [Proto::Tcp, Proto::Udp]
        .into_iter()
        .filter(|&proto| query.wants_proto(proto))
        .map(|proto| kernel::request(query, proto))
        .collect()
}

/// The wanted tables of each request's protocol: the request is sent to the kernel with each
/// sock_diag dump, and decided here on what /proc/net gives (and on a table the kernel would
/// not filter), so both collectors keep the same sockets.
/// The most sockets a table is sized for in advance (a corrupt count never allocates more).
const MAX_RESERVE: usize = 4_000_000;

fn dump_tables(
    query: &Query,
    requests: &[Request],
    force_proc: bool,
    whole: Option<&Arc<HashSet<u64>>>,
) -> Result<Vec<Socket>, CollectError> {
    let mut sockets = Vec::new();
    let mut dumper = if force_proc {
        None
    } else {
        sock_diag::Dumper::open().ok()
    };
    if let Some(dumper) = &mut dumper {
        dumper.keep_whole_info_of(whole.cloned());
    }
    for request in requests {
        let proto = request.proto;
        let mut table = Vec::new();
        // Room for what the namespace holds now and a few more that open meanwhile, when the
        // dump may return most of them (no kernel program, connections wanted); a dump that
        // finds more grows as usual.
        let most = request.bytecode.is_none() && request.states.keeps(SocketState::Established);
        if let Some(expected) = most.then(|| snmp::expected_sockets(proto)).flatten() {
            table.reserve_exact(expected.min(MAX_RESERVE) + expected / 64 + 64);
        }
        for family in [Family::Ipv4, Family::Ipv6] {
            if !query.wants_family(family) {
                continue;
            }
            let Some(dumper) = dumper.as_mut() else {
                proc_net::read_table(proto, family, &mut table)?;
                continue;
            };
            if let Err(diag_error) = dumper.dump(family, request, &mut table) {
                // sock_diag is missing for this table (no inet_diag/udp_diag module, a
                // locked-down container) or refused the program (a kernel without an op):
                // /proc/net has the same sockets in text.
                proc_net::read_table(proto, family, &mut table).map_err(|proc_error| {
                    CollectError::new(
                        format!("{diag_error}; then {}", proc_error.context),
                        proc_error.source,
                    )
                })?;
            }
        }
        // In place, and the first table becomes the result: no second copy of 200,000 sockets.
        table.retain(|s| query.wants(s) && request.keeps(s));
        if table.len() < table.capacity() / 2 {
            // A filtered dump (`-l`, `sport = :22`) keeps few of the room it was given.
            table.shrink_to_fit();
        }
        if sockets.is_empty() {
            sockets = table;
        } else {
            sockets.append(&mut table);
        }
    }
    Ok(sockets)
}

#[cfg(test)]
mod tests {
    use super::kernel_socket::TABLES;
    use super::*;
    use crate::model::{SocketState, States};

    #[test]
    fn proc_net_filtered_here_keeps_what_the_kernel_keeps() {
        use crate::filter::bytecode::KernelExpr;
        use crate::filter::kernel::KernelFilter;
        use sock_diag::kernel_filter_tests::{agree, expressions, fixture, ours, rows};
        let fixture = fixture();
        let all_states = SocketState::ALL
            .into_iter()
            .map(SocketState::kernel_states)
            .fold(States::NONE, States::union);
        let connected = SocketState::Established
            .kernel_states()
            .union(SocketState::TimeWait.kernel_states());
        let query = Query::default();
        // The requests that carry `filter`, as the collector sends them.
        let requests = |filter: &KernelFilter| {
            [Proto::Tcp, Proto::Udp].map(|proto| filter.clone().into_request(proto, false))
        };
        let both = |filter: &KernelFilter| {
            let requests = requests(filter);
            agree(|| {
                let kernel = ours(
                    &fixture,
                    dump_tables(&query, &requests, false, None).unwrap(),
                );
                let proc = ours(
                    &fixture,
                    dump_tables(&query, &requests, true, None).unwrap(),
                );
                (rows(&kernel), rows(&proc))
            })
        };
        for states in [all_states, connected] {
            for expr in expressions(&fixture) {
                let filter = KernelFilter { states, expr };
                let (kernel, proc) = both(&filter);
                assert_eq!(kernel, proc, "{filter:?}");
            }
        }
        let everything = KernelFilter {
            states: all_states,
            expr: KernelExpr::True,
        };
        let (kept, unfiltered) = agree(|| {
            // /proc/net's tables as they are, nothing decided on them.
            let mut read = Vec::new();
            for (proto, family) in TABLES {
                proc_net::read_table(proto, family, &mut read).unwrap();
            }
            let unfiltered = ours(&fixture, read);
            let kept = ours(
                &fixture,
                dump_tables(&query, &requests(&everything), true, None).unwrap(),
            );
            (rows(&kept), rows(&unfiltered))
        });
        assert!(unfiltered.len() > 20, "{unfiltered:?}");
        assert_eq!(kept, unfiltered);
    }
}
