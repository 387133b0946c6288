//! What a mode tells stderr once, however many collections it makes.

use crate::model::OwnerCoverage;

/// "owners incomplete" and why, said on the first collection that has gaps and never again:
/// `-c`, `--watch`, `--metrics-file` and every scrape of `--serve` would repeat the same gaps.
#[derive(Debug, Default)]
pub struct OwnersNotice {
    said: bool,
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
}
