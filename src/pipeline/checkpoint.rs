//! The job checkpoint: how far a job got, at a cut where the report, the failures file and the
//! counters agree. Written atomically beside the report; `--resume` truncates the report and the
//! failures file back to the cut (dropping a torn last record) and continues after it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::progress::JobCounters;
use crate::files::{sibling, write_atomically};

const FORMAT_VERSION: u32 = 2;
/// Checkpoints written before the input was identified by content: they hold only its size.
const SIZE_ONLY_FORMAT_VERSION: u32 = 1;
/// How many bytes each fingerprint covers, at most.
const FINGERPRINT_BYTES: u64 = 1024;

/// Identifies the input a checkpoint belongs to by its content, so that a file that only grew
/// since (a live log) can be resumed while a replaced, rewritten or truncated one is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputIdentity {
    /// The input's path as given.
    pub path: String,
    /// Its size in bytes when the job started.
    pub size: u64,
    /// Fingerprints of its content up to `size`; absent in checkpoints of format version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<ContentIdentity>,
}

/// Where a file lives and what its first bytes and the bytes before `size` hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentIdentity {
    pub device: u64,
    pub inode: u64,
    /// SHA-256 (hex) of the first `min(size, 1 KiB)` bytes.
    pub head: String,
    /// SHA-256 (hex) of the `min(size, 1 KiB)` bytes just before `size`.
    pub tail: String,
}

impl InputIdentity {
    /// The identity of a file input as it is now.
    pub fn of_file(path: &Path) -> anyhow::Result<Self> {
        let cannot_read = |error: std::io::Error| {
            anyhow::anyhow!("cannot read input '{}': {error}", path.display())
        };
        let mut file = std::fs::File::open(path).map_err(cannot_read)?;
        let metadata = file.metadata().map_err(cannot_read)?;
        let size = metadata.len();
        let (device, inode) = file_location(&metadata);
        let content = ContentIdentity {
            device,
            inode,
            head: fingerprint(&mut file, 0, size.min(FINGERPRINT_BYTES)).map_err(cannot_read)?,
            tail: fingerprint(
                &mut file,
                size.saturating_sub(FINGERPRINT_BYTES),
                size.min(FINGERPRINT_BYTES),
            )
            .map_err(cannot_read)?,
        };
        Ok(Self {
            path: path.display().to_string(),
            size,
            content: Some(content),
        })
    }

    /// Checks that `current` (the input as it is now) still holds, unchanged, everything this
    /// identity saw: the same path, at least as many bytes, the same first bytes and the same
    /// bytes before the size recorded here. More bytes after them are what a growing log adds.
    pub fn check_continued_by(
        &self,
        current: &InputIdentity,
        checkpoint: &Path,
    ) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.path == current.path,
            "the checkpoint at '{}' belongs to input '{}', not '{}'",
            checkpoint.display(),
            self.path,
            current.path
        );
        let Some(recorded) = &self.content else {
            anyhow::ensure!(
                self.size == current.size,
                "the checkpoint at '{}' was written by an older version that identifies input '{}' \
                 only by its size ({} bytes); it now holds {} bytes, so it cannot be resumed safely: \
                 delete the checkpoint to start over",
                checkpoint.display(),
                self.path,
                self.size,
                current.size
            );
            return Ok(());
        };
        let replaced = |what: &str| {
            let moved = current
                .content
                .as_ref()
                .is_some_and(|now| (now.device, now.inode) != (recorded.device, recorded.inode));
            anyhow::anyhow!(
                "input '{}' is not the file the checkpoint at '{}' was written for: {what}{}; \
                 it cannot be resumed: delete the checkpoint to start over",
                self.path,
                checkpoint.display(),
                if moved {
                    " (and it is another file on disk: a new device or inode)"
                } else {
                    ""
                }
            )
        };
        if current.size < self.size {
            return Err(replaced(&format!(
                "it holds {} bytes, fewer than the {} it held then (truncated or replaced)",
                current.size, self.size
            )));
        }
        let cannot_read =
            |error: std::io::Error| anyhow::anyhow!("cannot read input '{}': {error}", self.path);
        let mut file = std::fs::File::open(&current.path).map_err(cannot_read)?;
        let span = self.size.min(FINGERPRINT_BYTES);
        let head = fingerprint(&mut file, 0, span).map_err(cannot_read)?;
        let tail = fingerprint(&mut file, self.size - span, span).map_err(cannot_read)?;
        if head != recorded.head || tail != recorded.tail {
            return Err(replaced(&format!(
                "its first {} bytes differ from what was read then (replaced or rewritten)",
                self.size
            )));
        }
        Ok(())
    }
}

/// The device and inode of a file; zeros where the platform has none.
fn file_location(metadata: &std::fs::Metadata) -> (u64, u64) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (metadata.dev(), metadata.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = metadata;
        (0, 0)
    }
}

/// SHA-256 (hex) of `len` bytes of `file` starting at `start`.
fn fingerprint(file: &mut std::fs::File, start: u64, len: u64) -> std::io::Result<String> {
    use std::io::{Read, Seek, SeekFrom};
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(len).read_to_end(&mut bytes)?;
    if (bytes.len() as u64) < len {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the file shrank while it was read",
        ));
    }
    Ok(Sha256::digest(&bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
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
            checkpoint.version == FORMAT_VERSION || checkpoint.version == SIZE_ONLY_FORMAT_VERSION,
            "checkpoint '{}' has format version {}, this program reads versions \
             {SIZE_ONLY_FORMAT_VERSION} and {FORMAT_VERSION}",
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
                content: None,
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

    #[test]
    fn a_grown_file_continues_and_a_rewritten_or_truncated_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("in.log");
        let checkpoint = dir.path().join("r.txt.checkpoint");
        let first: String = (0..200).map(|n| format!("line {n}\n")).collect();
        std::fs::write(&log, &first).unwrap();
        let then = InputIdentity::of_file(&log).unwrap();

        std::fs::write(&log, format!("{first}line 200\n")).unwrap();
        let grown = InputIdentity::of_file(&log).unwrap();
        then.check_continued_by(&grown, &checkpoint).unwrap();

        // The same size, one byte changed before the cut (and after the first KiB).
        std::fs::write(&log, format!("{}X\nline 200\n", &first[..first.len() - 2])).unwrap();
        let rewritten = InputIdentity::of_file(&log).unwrap();
        let error = then
            .check_continued_by(&rewritten, &checkpoint)
            .unwrap_err();
        assert!(
            error.to_string().contains("replaced or rewritten"),
            "{error}"
        );

        std::fs::write(&log, &first[..100]).unwrap();
        let truncated = InputIdentity::of_file(&log).unwrap();
        let error = then
            .check_continued_by(&truncated, &checkpoint)
            .unwrap_err();
        assert!(error.to_string().contains("truncated"), "{error}");

        let elsewhere = InputIdentity {
            path: "other.log".into(),
            ..grown
        };
        let error = then
            .check_continued_by(&elsewhere, &checkpoint)
            .unwrap_err();
        assert!(error.to_string().contains("belongs to input"), "{error}");
    }

    #[test]
    fn a_size_only_checkpoint_resumes_only_an_input_of_that_size() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("in.log");
        std::fs::write(&log, "one\ntwo\n").unwrap();
        let report = dir.path().join("r.txt");
        let path = Checkpoint::path_for(&report);
        std::fs::write(
            &path,
            format!(
                r#"{{"version":1,"input":{{"path":"{}","size":8}},"next_line":2,"report_len":0,
                "failures_len":0,"counters":{}}}"#,
                log.display(),
                serde_json::to_string(&JobCounters::default()).unwrap()
            ),
        )
        .unwrap();
        let old = Checkpoint::load(&path).unwrap().unwrap();
        let now = InputIdentity::of_file(&log).unwrap();
        old.input.check_continued_by(&now, &path).unwrap();
        std::fs::write(&log, "one\ntwo\nthree\n").unwrap();
        let grown = InputIdentity::of_file(&log).unwrap();
        let error = old.input.check_continued_by(&grown, &path).unwrap_err();
        assert!(error.to_string().contains("older version"), "{error}");
    }
}
