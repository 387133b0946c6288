//! The network namespaces a snapshot of `--all-netns` went through.

/// One network namespace, known by the inode of its nsfs file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    pub inode: u64,
    /// Its name under /run/netns (`ip netns`), `host` for the namespace of pid 1, the label of
    /// the container a process in it runs in (`podman:web`), else `None`.
    pub name: Option<String>,
    /// Why its sockets are not in the snapshot (it could not be entered or read); `None` when
    /// they are.
    pub error: Option<String>,
}

impl Namespace {
    /// What a table shows for it: its name, else its inode.
    pub fn label(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("netns:[{}]", self.inode))
    }
}
