//! One function per OS that takes a [`Snapshot`]: sockets, then (when asked) their owners.
//! Nothing above this module knows which OS it runs on.

use crate::filter::Query;
use crate::model::Snapshot;

pub use close_notice::CloseNotice;
pub use error::CollectError;
pub use signal::{ProcessStart, refusal};

#[cfg(target_os = "linux")]
pub(crate) mod linux;
#[cfg(target_os = "macos")]
mod macos;
// The macOS backend's pure conversions are unit-tested on every OS.
pub mod close_notice;
pub mod error;
#[cfg(all(test, not(target_os = "macos")))]
#[path = "macos/convert.rs"]
mod macos_convert;
#[cfg(windows)]
mod netstat2;
mod processes;
pub mod resolver;
pub mod signal;
pub mod system;

#[cfg(windows)]
use self::netstat2 as backend;
#[cfg(target_os = "linux")]
use linux as backend;
#[cfg(target_os = "macos")]
use macos as backend;

/// Whether the OS knows an account by this name; `None` when it will not list its accounts.
pub fn user_exists(name: &str) -> Option<bool> {
    processes::users().map(|users| users.iter().any(|user| user.name() == name))
}

/// Takes snapshots for one query, remembering between them what makes the next one cheaper
/// (on Linux: which process owns which socket, so a refresh looks only for new sockets).
pub struct Collector {
    query: Query,
    memory: backend::Memory,
    /// What sockets run as, kept between snapshots (`query.contexts`).
    #[cfg(target_os = "linux")]
    contexts: Option<linux::cgroup::Contexts>,
}

impl Collector {
    /// What this collector collects.
    pub fn query(&self) -> &Query {
        &self.query
    }

    pub fn new(query: Query) -> Collector {
        Collector {
            query,
            memory: backend::Memory::default(),
            #[cfg(target_os = "linux")]
            contexts: None,
        }
    }

    /// Keep the whole tcp_info of these sockets (by cookie) only, from the next snapshot on;
    /// the others keep its byte counters (`Socket::bytes`). `None`: every socket's. A live
    /// view shows the whole of it only for the rows in view.
    pub fn keep_whole_tcp_info_of(
        &mut self,
        cookies: Option<std::sync::Arc<std::collections::HashSet<u64>>>,
    ) {
        #[cfg(target_os = "linux")]
        self.memory.keep_whole_info_of(cookies);
        #[cfg(not(target_os = "linux"))]
        let _ = cookies;
    }

    /// A collector for one snapshot (or stream): it remembers nothing for a next one.
    pub fn once(query: Query) -> Collector {
        Collector {
            memory: backend::Memory::once(),
            ..Collector::new(query)
        }
    }

    /// Take one snapshot of the sockets the query asks for, with owners when it asks for them.
    pub fn snapshot(&mut self) -> Result<Snapshot, CollectError> {
        let mut snapshot = backend::snapshot(&self.query, &mut self.memory)?;
        snapshot.taken_at = Some(std::time::SystemTime::now());
        snapshot.hostname = processes::hostname();
        let users = processes::users();
        self.describe(&mut snapshot, users.as_ref());
        Ok(snapshot)
    }

    /// The sockets of one snapshot a batch at a time, each batch a snapshot of its own with
    /// what describes its sockets (owners, users, contexts), the filter applied: where the OS
    /// can (Linux, one namespace, no Unix sockets) in the kernel's order without ever holding
    /// them all; elsewhere one whole snapshot. Owners described for one batch stay in the
    /// next ones' `processes`. `each` gets at least one batch.
    pub fn stream<E: From<CollectError>>(
        &mut self,
        mut each: impl FnMut(&mut Snapshot) -> Result<(), E>,
    ) -> Result<(), E> {
        #[cfg(target_os = "linux")]
        if linux::streams(&self.query) {
            let users = processes::users();
            // Once for the stream: every batch is of the same moment and host.
            let mut batch = Snapshot {
                taken_at: Some(std::time::SystemTime::now()),
                hostname: processes::hostname(),
                ..Snapshot::default()
            };
            let mut failed = None;
            let query = self.query.clone();
            linux::stream(&query, &mut |sockets, owners| {
                batch.sockets = std::mem::take(sockets);
                batch.owners = owners;
                self.describe(&mut batch, users.as_ref());
                let result = each(&mut batch);
                // The sockets' room goes back for the next batch; their owners stay described.
                *sockets = std::mem::take(&mut batch.sockets);
                result.map_err(|e| failed = Some(e)).is_ok()
            })?;
            return failed.map_or(Ok(()), Err);
        }
        let mut snapshot = self.snapshot()?;
        each(&mut snapshot)
    }

    /// What a snapshot's sockets are given after the dump: user names, contexts, the filter
    /// and the owners' descriptions. Processes already in `snapshot.processes` (from the batch
    /// before) are not described again.
    fn describe(&mut self, snapshot: &mut Snapshot, users: Option<&sysinfo::Users>) {
        snapshot.user_names = processes::user_names(&snapshot.sockets, users);
        let unix_uids: std::collections::BTreeSet<u32> =
            snapshot.unix_sockets.iter().filter_map(|s| s.uid).collect();
        for uid in unix_uids {
            if let Some(name) = processes::user_name(uid, users) {
                snapshot.user_names.entry(uid).or_insert(name);
            }
        }
        #[cfg(target_os = "linux")]
        if self.query.contexts && self.contexts.is_none() {
            self.contexts = Some(linux::cgroup::Contexts::new());
        }
        #[cfg(target_os = "linux")]
        if let Some(contexts) = &mut self.contexts {
            snapshot.cgroups = contexts.of_sockets(&snapshot.sockets);
        }
        let filter = self.query.filter.as_ref();
        // A filter that needs no process details runs first, so only kept sockets' owners
        // are described.
        if let Some(filter) = filter.filter(|f| !f.needs_owners()) {
            crate::filter::eval::retain_matching(snapshot, filter);
        }
        if self.query.owners {
            let unix_pids = snapshot.unix_sockets.iter().flat_map(|s| s.pids.iter());
            let pids = snapshot.sockets.iter().flat_map(|s| s.pids.iter());
            let known = &snapshot.processes;
            let new = pids
                .chain(unix_pids)
                .copied()
                .filter(|pid| !known.contains_key(pid));
            #[allow(unused_mut)]
            let mut described = processes::describe_pids(new, users);
            #[cfg(target_os = "linux")]
            if let Some(contexts) = &mut self.contexts {
                for process in described.values_mut() {
                    process.cgroup = contexts.of_process(process.pid);
                }
            }
            snapshot.processes.extend(described);
        }
        if let Some(filter) = filter.filter(|f| f.needs_owners()) {
            crate::filter::eval::retain_matching(snapshot, filter);
        }
    }
}

/// Start sending the kernel's close notices for the query's protocols and families on
/// `sender`, from a thread of their own; the error says why there are none (the caller then
/// compares snapshots only). With `--all-netns`, one subscription per namespace: the ones that
/// could not be made are the `Ok` list, each a line to say.
pub fn watch_closes(
    query: &Query,
    sender: std::sync::mpsc::Sender<CloseNotice>,
) -> Result<Vec<String>, String> {
    #[cfg(target_os = "linux")]
    if std::env::var_os(linux::COLLECTOR_ENV).is_some_and(|v| v == "procfs") {
        return Err(format!(
            "{}=procfs turns sock_diag off, and its close notices with it",
            linux::COLLECTOR_ENV
        ));
    }
    #[cfg(target_os = "linux")]
    if query.netns == crate::filter::Namespaces::All {
        return linux::watch_all_closes(query, sender);
    }
    // The subscription's socket is made in the query's namespace, so it hears that one's closes.
    #[cfg(target_os = "linux")]
    return linux::in_netns(query, || {
        linux::destroy_events::start(query, sender, None)
            .map_err(|e| CollectError::new("subscribing to close notices", e))
    })
    .map(|()| Vec::new())
    .map_err(|e| format!("the kernel's close notices are unavailable: {e}"));
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (query, sender);
        Err("polling only on this OS".to_string())
    }
}

/// The kernel's `netstat -s` counters of the query's network namespace; all unknown where the
/// OS does not give them (or the namespace cannot be entered).
pub fn protocol_counters(query: &Query) -> crate::model::ProtocolCounters {
    #[cfg(target_os = "linux")]
    return linux::in_netns(query, || Ok(linux::protocol_counters())).unwrap_or_default();
    #[cfg(not(target_os = "linux"))]
    {
        let _ = query;
        crate::model::ProtocolCounters::default()
    }
}

/// Take one snapshot of the sockets `query` asks for, with owners when `query.owners` is set.
pub fn snapshot(query: &Query) -> Result<Snapshot, CollectError> {
    Collector::once(query.clone()).snapshot()
}

/// The id of the cgroup v2 at `path` (as `ss --cgroup` and /proc/PID/cgroup write it), what
/// the kernel names sockets' cgroups by; `None` when there is none (or off Linux).
pub fn cgroup_id(path: &str) -> Option<u64> {
    #[cfg(target_os = "linux")]
    return linux::cgroup::mount().and_then(|root| linux::cgroup::id_of(&root, path));
    #[cfg(not(target_os = "linux"))]
    {
        let _ = path;
        None
    }
}

/// The inodes of rnetstat's own sockets (its resolver's lookups in flight); empty off Linux.
pub fn own_socket_inodes() -> std::collections::HashSet<u64> {
    #[cfg(target_os = "linux")]
    return linux::own_socket_inodes();
    #[cfg(not(target_os = "linux"))]
    std::collections::HashSet::new()
}

/// The inode of the network namespace called `name`: a /run/netns name, or `host` for pid 1's
/// namespace; `None` when there is none (or off Linux).
pub fn netns_inode(name: &str) -> Option<u64> {
    #[cfg(target_os = "linux")]
    return linux::netns_inode(name);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = name;
        None
    }
}

/// When process `pid` started; `None` if it exited, cannot be read, or the OS does not say.
pub fn process_start(pid: u32) -> Option<ProcessStart> {
    #[cfg(target_os = "linux")]
    return linux::pidfd::process_start(pid);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        None
    }
}

/// SIGTERM to `pid` if, at this moment, it is still the process that `started` then and holds
/// the socket `inode`; otherwise nothing is sent and the error says why.
pub fn terminate_holder(
    pid: u32,
    inode: Option<u64>,
    started: Option<ProcessStart>,
) -> Result<(), String> {
    #[cfg(target_os = "linux")]
    return linux::pidfd::terminate_holder(pid, inode, started);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (pid, inode, started);
        Err("killing processes is not supported on this OS".to_string())
    }
}

/// One TCP connection to close (`ss -K`): what names it to the kernel. Copied out of a
/// snapshot, so what is closed is what was chosen, whatever the rows do meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection {
    pub local: std::net::SocketAddr,
    pub remote: std::net::SocketAddr,
    /// The kernel's name for the socket; without it nothing is closed.
    pub cookie: Option<u64>,
    /// The inode of the network namespace it was listed in (`--all-netns`).
    pub netns: Option<u64>,
}

impl Connection {
    /// `local ↔ remote`, numeric, as the table writes endpoints.
    pub fn ends(&self) -> String {
        let mut out = String::new();
        crate::format::write_endpoint(&mut out, self.local, None);
        out.push_str(" ↔ ");
        crate::format::write_endpoint(&mut out, self.remote, None);
        out
    }

    /// The connection `socket` is, or why it is none that can be closed (UDP, a listener,
    /// no remote end): the same on every OS, so the dashboard can say it before asking.
    pub fn of(socket: &crate::model::Socket) -> Result<Connection, String> {
        if socket.proto != crate::model::Proto::Tcp {
            return Err("only TCP connections can be closed".to_string());
        }
        if socket.state.is_listening() {
            return Err("a listening socket is not a connection".to_string());
        }
        let remote = socket.remote.ok_or("the socket has no remote end")?;
        Ok(Connection {
            local: socket.local,
            remote,
            cookie: socket.cookie,
            netns: socket.netns,
        })
    }
}

/// Ask the kernel to destroy `connection` (as `ss -K`), in the namespace `query` lists, if a
/// socket with the same ends and the same cookie is still there at this moment; otherwise
/// nothing is closed and the error says why, in one line.
pub fn close_connection(query: &Query, connection: &Connection) -> Result<(), String> {
    #[cfg(target_os = "linux")]
    return linux::close::close_connection(query, connection);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (query, connection);
        Err("closing connections is not supported on this OS".to_string())
    }
}
