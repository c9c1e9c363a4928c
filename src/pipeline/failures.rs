//! The failures file: one CSV row per entry that could not be archived, with its line number,
//! the raw line, the error kind and message, and the attempts made. `retry` reads it back.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One failed entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureRow {
    pub line: u64,
    pub raw: String,
    pub error_kind: String,
    pub error_message: String,
    pub attempts: u32,
}

/// Appends failure rows, flushing each so a crash loses none that were reported.
pub struct FailuresWriter {
    path: PathBuf,
    csv: csv::Writer<File>,
    /// The same file, for syncing and measuring it.
    file: File,
}

impl FailuresWriter {
    /// Checks that `path` can be opened as [`FailuresWriter::open`] would, without creating it:
    /// a resumed job needs the failures up to its cut, and a fresh start refuses to throw away
    /// failures an earlier job listed, unless `overwrite` says they are already taken care of.
    pub fn check(path: &Path, resume_cut: Option<u64>, overwrite: bool) -> anyhow::Result<()> {
        let existing = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if let Some(keep_len) = resume_cut {
            anyhow::ensure!(
                existing >= keep_len,
                "failures file '{}' holds {existing} bytes but the checkpoint expects at least \
                 {keep_len}: it was changed since, so the job cannot be resumed safely",
                path.display()
            );
        } else if !overwrite
            && existing > 0
            && read_failures(path).is_ok_and(|rows| !rows.is_empty())
        {
            anyhow::bail!(
                "failures file '{}' still lists entries an earlier job could not archive: retry \
                 them (log-archiver retry '{}'), move the file away, or choose another with --failures",
                path.display(),
                path.display()
            );
        }
        let directory = path
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        anyhow::ensure!(
            directory.is_dir(),
            "cannot create failures file '{}': there is no directory '{}'",
            path.display(),
            directory.display()
        );
        Ok(())
    }

    /// Opens `path` to continue after its first `resume_cut` bytes (a checkpoint's cut), or to
    /// start afresh when there is none (see [`FailuresWriter::check`]).
    pub fn open(path: &Path, resume_cut: Option<u64>, overwrite: bool) -> anyhow::Result<Self> {
        Self::check(path, resume_cut, overwrite)?;
        let keep_len = resume_cut.unwrap_or(0);
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(path)
            .map_err(|error| {
                anyhow::anyhow!("cannot open failures file '{}': {error}", path.display())
            })?;
        file.set_len(keep_len)?;
        file.seek(SeekFrom::End(0))?;
        let handle = file.try_clone()?;
        let csv = csv::WriterBuilder::new()
            .has_headers(keep_len == 0)
            .from_writer(file);
        Ok(Self {
            path: path.to_path_buf(),
            csv,
            file: handle,
        })
    }

    pub fn append(&mut self, row: &FailureRow) -> anyhow::Result<()> {
        self.csv
            .serialize(row)
            .and_then(|()| self.csv.flush().map_err(csv::Error::from))
            .map_err(|error| {
                anyhow::anyhow!(
                    "cannot write failures file '{}': {error}",
                    self.path.display()
                )
            })?;
        Ok(())
    }

    /// The file's length with everything appended so far, made durable.
    pub fn durable_len(&mut self) -> anyhow::Result<u64> {
        self.csv.flush()?;
        self.file.sync_data()?;
        Ok(self.file.metadata()?.len())
    }
}

/// Reads every row of a failures file.
pub fn read_failures(path: &Path) -> anyhow::Result<Vec<FailureRow>> {
    let mut reader = csv::Reader::from_path(path).map_err(|error| {
        anyhow::anyhow!("cannot read failures file '{}': {error}", path.display())
    })?;
    reader
        .deserialize()
        .enumerate()
        .map(|(index, row)| {
            row.map_err(|error| {
                anyhow::anyhow!(
                    "failures file '{}' has an invalid row {}: {error}",
                    path.display(),
                    index + 1
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(line: u64) -> FailureRow {
        FailureRow {
            line,
            raw: format!("ERROR \"quoted\", comma {line}"),
            error_kind: "llm_overloaded".into(),
            error_message: "the LLM API is overloaded".into(),
            attempts: 6,
        }
    }

    #[test]
    fn rows_round_trip_and_a_cut_keeps_a_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.csv");
        let mut writer = FailuresWriter::open(&path, None, false).unwrap();
        writer.append(&row(3)).unwrap();
        let cut = writer.durable_len().unwrap();
        writer.append(&row(9)).unwrap();
        drop(writer);
        assert_eq!(read_failures(&path).unwrap(), vec![row(3), row(9)]);
        let mut resumed = FailuresWriter::open(&path, Some(cut), false).unwrap();
        resumed.append(&row(12)).unwrap();
        drop(resumed);
        assert_eq!(read_failures(&path).unwrap(), vec![row(3), row(12)]);
        let refused = FailuresWriter::open(&path, None, false).err().unwrap();
        assert!(
            refused.to_string().contains("still lists entries"),
            "{refused}"
        );
        let too_long = FailuresWriter::open(&path, Some(1_000_000), false)
            .err()
            .unwrap();
        assert!(
            too_long.to_string().contains("cannot be resumed"),
            "{too_long}"
        );
        FailuresWriter::open(&path, None, true).unwrap();
        assert_eq!(read_failures(&path).unwrap(), vec![]);
    }
}
