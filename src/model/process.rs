use super::context::Cgroup;

/// A process that owns at least one socket in the snapshot. Every text field is untrusted:
/// the process chose it. Escape it before it reaches a terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    pub name: String,
    pub user: Option<String>,
    /// Arguments joined with spaces; `None` when the OS would not tell (kernel threads, permissions).
    pub cmdline: Option<String>,
    /// The arguments one by one (an argument may hold spaces or be empty); `None` as `cmdline`.
    pub argv: Option<Vec<String>>,
    /// Its cgroup v2 path and what that says (Linux, when contexts are asked for); `None`
    /// when not asked for or not known.
    pub cgroup: Option<Box<Cgroup>>,
}

impl Process {
    /// A process of which only the pid and name are known: everything else is `None`.
    pub fn named(pid: u32, name: &str) -> Process {
        Process {
            pid,
            name: name.to_string(),
            user: None,
            cmdline: None,
            argv: None,
            cgroup: None,
        }
    }
}
