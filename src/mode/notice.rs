//! What a mode tells stderr once, however many collections it makes.

use std::collections::HashSet;

use crate::format::escaped;
use crate::model::{Namespace, OwnerCoverage};

/// "owners incomplete" and why, said on the first collection that has gaps and never again:
/// `-c`, `--watch`, `--metrics-file` and every scrape of `--serve` would repeat the same gaps.
#[derive(Debug, Default)]
pub struct OwnersNotice {
    said: bool,
    /// The namespaces whose sockets were missing and said so (`--all-netns`).
    namespaces_said: HashSet<u64>,
}

impl OwnersNotice {
    pub fn note(&mut self, owners: &OwnerCoverage) {
        if let OwnerCoverage::Incomplete(gaps) = owners
            && !self.said
        {
            eprintln!("rnetstat: owners incomplete: {}", gaps.describe());
            self.said = true;
        }
    }

    /// A namespace `--all-netns` could not read, once each: its sockets are missing.
    pub fn note_namespaces(&mut self, namespaces: &[Namespace]) {
        for namespace in namespaces {
            if let Some(error) = &namespace.error
                && self.namespaces_said.insert(namespace.inode)
            {
                eprintln!(
                    "rnetstat: network namespace {} not listed: {}",
                    escaped(&namespace.label()),
                    escaped(error)
                );
            }
        }
    }
}
