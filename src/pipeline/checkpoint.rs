//! The job checkpoint: how far a job got, at a cut where the report, the failures file and the
//! counters agree. Written atomically beside the report; `--resume` truncates the report and the
//! failures file back to the cut (dropping a torn last record) and continues after it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::progress::JobCounters;
use crate::files::{sibling, write_atomically};

const FORMAT_VERSION: u32 = 1;

/// Identifies the input a checkpoint belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputIdentity {
    /// The input's path as given.
    pub path: String,
    /// Its size in bytes when the job started.
    pub size: u64,
}

impl InputIdentity {
    /// The identity of a file input; `None` for stdin, which cannot be resumed.
    pub fn of_file(path: &Path) -> anyhow::Result<Self> {
        let metadata = std::fs::metadata(path)
            .map_err(|error| anyhow::anyhow!("cannot read input '{}': {error}", path.display()))?;
        Ok(Self {
            path: path.display().to_string(),
            size: metadata.len(),
        })
    }
}

/// A consistent cut of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub version: u32,
    pub input: InputIdentity,
    /// Every input line below this one is dealt with (archived, failed or skipped).
    pub next_line: u64,
    /// The report's length holding exactly the records of those lines.
    pub report_len: u64,
    /// The failures file's length holding exactly the failures of those lines.
    pub failures_len: u64,
    /// The counters for those lines.
    pub counters: JobCounters,
}

impl Checkpoint {
    pub fn new(
        input: InputIdentity,
        next_line: u64,
        report_len: u64,
        failures_len: u64,
        counters: JobCounters,
    ) -> Self {
        Self {
            version: FORMAT_VERSION,
            input,
            next_line,
            report_len,
            failures_len,
            counters,
        }
    }

    /// Where the checkpoint of a report lives.
    pub fn path_for(report: &Path) -> PathBuf {
        sibling(report, ".checkpoint")
    }

    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let json = serde_json::to_vec_pretty(self)?;
        write_atomically(path, &json).map_err(|error| {
            anyhow::anyhow!("cannot write checkpoint '{}': {error}", path.display())
        })
    }

    /// Reads a checkpoint, or `None` when there is none.
    pub fn load(path: &Path) -> anyhow::Result<Option<Self>> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => anyhow::bail!("cannot read checkpoint '{}': {error}", path.display()),
        };
        let checkpoint: Self = serde_json::from_slice(&bytes).map_err(|error| {
            anyhow::anyhow!("checkpoint '{}' is damaged: {error}", path.display())
        })?;
        anyhow::ensure!(
            checkpoint.version == FORMAT_VERSION,
            "checkpoint '{}' has format version {}, this program reads version {FORMAT_VERSION}",
            path.display(),
            checkpoint.version
        );
        Ok(Some(checkpoint))
    }

    /// Cuts `report` back to the checkpoint, dropping whatever was written after it (a torn
    /// last record included). Fails when the report is shorter than the checkpoint says.
    pub fn truncate_report(&self, report: &Path) -> anyhow::Result<()> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(report)
            .map_err(|error| {
                anyhow::anyhow!(
                    "cannot open report '{}' to resume: {error}",
                    report.display()
                )
            })?;
        let length = file.metadata()?.len();
        anyhow::ensure!(
            length >= self.report_len,
            "report '{}' holds {length} bytes but the checkpoint expects at least {}: it was \
             changed since, so the job cannot be resumed safely",
            report.display(),
            self.report_len
        );
        file.set_len(self.report_len)?;
        file.sync_all()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_loads_and_truncates() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("r.txt");
        std::fs::write(&report, "whole record\ntorn rec").unwrap();
        let checkpoint = Checkpoint::new(
            InputIdentity {
                path: "in.log".into(),
                size: 10,
            },
            7,
            13,
            0,
            JobCounters::default(),
        );
        let path = Checkpoint::path_for(&report);
        assert_eq!(path, dir.path().join("r.txt.checkpoint"));
        assert_eq!(Checkpoint::load(&path).unwrap(), None);
        checkpoint.save(&path).unwrap();
        let loaded = Checkpoint::load(&path).unwrap().unwrap();
        assert_eq!(loaded, checkpoint);
        loaded.truncate_report(&report).unwrap();
        assert_eq!(std::fs::read_to_string(&report).unwrap(), "whole record\n");
        std::fs::write(&report, "short").unwrap();
        assert!(loaded.truncate_report(&report).is_err());
    }
}
