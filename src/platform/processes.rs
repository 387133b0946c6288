//! Process details (name, user, command line) for the owner pids only, through sysinfo.

use std::collections::HashMap;

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind, Users};

use crate::model::{Process, Socket};

pub fn hostname() -> Option<String> {
    System::host_name().ok()
}

/// The account list, read once per snapshot; `None` where the OS will not list accounts.
pub fn users() -> Option<Users> {
    Users::new_with_refreshed_list().ok()
}

/// Names of the accounts owning `sockets`, by uid (the -e column).
pub fn user_names(sockets: &[Socket], users: Option<&Users>) -> HashMap<u32, String> {
    let mut names = HashMap::new();
    let Some(users) = users else {
        return names;
    };
    for uid in sockets.iter().filter_map(|s| s.uid) {
        if names.contains_key(&uid) {
            continue;
        }
        if let Some(user) = users.iter().find(|u| uid_number(u.id()) == Some(uid)) {
            names.insert(uid, user.name().to_string());
        }
    }
    names
}

fn uid_number(uid: &sysinfo::Uid) -> Option<u32> {
    uid.to_string().parse().ok()
}

/// Describe every distinct owner pid of `sockets`. Pids that exited since the fd scan are left out.
pub fn describe(sockets: &[Socket], users: Option<&Users>) -> HashMap<u32, Process> {
    let mut pids: Vec<Pid> = sockets
        .iter()
        .flat_map(|s| s.pids.iter().map(|&pid| Pid::from_u32(pid)))
        .collect();
    if pids.is_empty() {
        return HashMap::new();
    }
    // sysinfo drops duplicate pids itself, but sorting first keeps its work linear.
    pids.sort_unstable();
    pids.dedup();
    let Ok(mut system) = System::new() else {
        return HashMap::new();
    };
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&pids),
        false,
        ProcessRefreshKind::nothing()
            .with_cmd(UpdateKind::Always)
            .with_user(UpdateKind::Always),
    );
    pids.iter()
        .filter_map(|pid| {
            let process = system.process(*pid)?;
            let user = process
                .user_id()
                .and_then(|uid| users?.get_user_by_id(uid))
                .map(|user| user.name().to_string());
            let cmd = process.cmd();
            let cmdline = (!cmd.is_empty()).then(|| {
                cmd.iter()
                    .map(|arg| arg.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" ")
            });
            let process = Process {
                pid: pid.as_u32(),
                name: process.name().to_string_lossy().into_owned(),
                user,
                cmdline,
            };
            Some((process.pid, process))
        })
        .collect()
}
