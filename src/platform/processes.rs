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

/// The account name of one uid, where known.
pub fn user_name(uid: u32, users: Option<&Users>) -> Option<String> {
    users?
        .iter()
        .find(|u| uid_number(u.id()) == Some(uid))
        .map(|u| u.name().to_string())
}

fn uid_number(uid: &sysinfo::Uid) -> Option<u32> {
    uid.to_string().parse().ok()
}

/// Describe each of `pids` (repeats allowed). Pids that exited since the fd scan are left out.
pub fn describe_pids(
    pids: impl Iterator<Item = u32>,
    users: Option<&Users>,
) -> HashMap<u32, Process> {
    let mut pids: Vec<Pid> = pids.map(Pid::from_u32).collect();
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
            .with_cmd(if cfg!(target_os = "linux") {
                // Read by `arguments` instead, which keeps empty arguments.
                UpdateKind::Never
            } else {
                UpdateKind::Always
            })
            .with_user(UpdateKind::Always),
    );
    pids.iter()
        .filter_map(|pid| {
            let process = system.process(*pid)?;
            let user = process
                .user_id()
                .and_then(|uid| users?.get_user_by_id(uid))
                .map(|user| user.name().to_string());
            let argv = arguments(*pid).or_else(|| {
                let cmd = process.cmd();
                (!cmd.is_empty()).then(|| {
                    cmd.iter()
                        .map(|arg| arg.to_string_lossy().into_owned())
                        .collect()
                })
            });
            let process = Process {
                pid: pid.as_u32(),
                name: process.name().to_string_lossy().into_owned(),
                user,
                cmdline: argv.as_deref().map(ps_cmdline),
                argv,
                cgroup: None,
            };
            Some((process.pid, process))
        })
        .collect()
}

/// The arguments of `pid` from /proc/<pid>/cmdline, empty ones kept (sysinfo drops them);
/// `None` when unreadable or empty (kernel threads, an exited process).
#[cfg(target_os = "linux")]
fn arguments(pid: Pid) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    parse_cmdline(&raw)
}

#[cfg(not(target_os = "linux"))]
fn arguments(_pid: Pid) -> Option<Vec<String>> {
    None
}

/// The command line as `ps` shows it: the arguments joined by single spaces, trailing empty
/// arguments dropped and trailing whitespace trimmed (`argv` keeps them exactly).
fn ps_cmdline(argv: &[String]) -> String {
    let used = argv.len() - argv.iter().rev().take_while(|a| a.is_empty()).count();
    argv[..used].join(" ").trim_end().to_string()
}

/// Split a NUL-separated command line; a trailing NUL ends the last argument.
#[cfg(any(target_os = "linux", test))]
fn parse_cmdline(raw: &[u8]) -> Option<Vec<String>> {
    if raw.is_empty() {
        return None;
    }
    let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
    Some(
        raw.split(|&byte| byte == 0)
            .map(|arg| String::from_utf8_lossy(arg).into_owned())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::{parse_cmdline, ps_cmdline};

    #[test]
    fn cmdline_is_what_ps_shows() {
        let argv = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        assert_eq!(ps_cmdline(&argv(&["python3", "-c", "x"])), "python3 -c x");
        // nginx-style rewritten title: one argument padded with spaces and NULs.
        assert_eq!(
            ps_cmdline(&argv(&["nginx: worker process", "", "", ""])),
            "nginx: worker process"
        );
        assert_eq!(ps_cmdline(&argv(&["daemon   ", "", " "])), "daemon");
        // An empty argument in the middle stays (two spaces), as ps shows it.
        assert_eq!(ps_cmdline(&argv(&["a", "", "b"])), "a  b");
        assert_eq!(ps_cmdline(&argv(&["", ""])), "");
        assert_eq!(ps_cmdline(&[]), "");
    }

    #[test]
    fn cmdline_keeps_empty_arguments_and_spaces() {
        assert_eq!(
            parse_cmdline(b"python3\0-c\0two words\0\0x\0"),
            Some(vec![
                "python3".to_string(),
                "-c".to_string(),
                "two words".to_string(),
                String::new(),
                "x".to_string()
            ])
        );
        // A process that rewrote its title without NULs (setproctitle).
        assert_eq!(
            parse_cmdline(b"nginx: worker process"),
            Some(vec!["nginx: worker process".to_string()])
        );
        assert_eq!(parse_cmdline(b""), None);
    }
}
