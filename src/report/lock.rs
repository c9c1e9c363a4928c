//! One writer per report: an exclusive advisory lock (`flock`) on `REPORT.lock`, held for the
//! whole life of a job or a server on that report. The holder writes its PID into the lock file
//! so a refused process can name it. The kernel releases the lock when its holder dies, so a
//! process killed with `kill -9` never blocks the next one; the file itself is removed when the
//! lock is released.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::files::{resolved, sibling};

/// Why a report could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum ReportLockError {
    #[error(
        "report '{report}' is in use by another log-archiver process ({holder}): wait for it to \
         finish, or choose another --report"
    )]
    Held { report: PathBuf, holder: String },
    #[error("cannot write report '{report}': there is no directory '{directory}'")]
    NoDirectory { report: PathBuf, directory: PathBuf },
    #[error("cannot lock report '{report}' (with '{lock}'): {reason}")]
    Io {
        report: PathBuf,
        lock: PathBuf,
        reason: std::io::Error,
    },
}

/// The exclusive lock of one report, released (and its file removed) when dropped.
#[derive(Debug)]
pub struct ReportLock {
    /// `None` for a report that is not a regular file (a pipe, a device): nothing to lock.
    held: Option<(PathBuf, File)>,
}

impl ReportLock {
    /// Where the lock of a report lives: beside the file the report's path leads to, so that
    /// every way of naming it (`./r.txt`, a symbolic link) shares one lock.
    pub fn path_for(report: &Path) -> PathBuf {
        let report = resolved(report).unwrap_or_else(|| report.to_path_buf());
        sibling(&report, ".lock")
    }

    /// Takes the report's lock at once, or fails naming the process that holds it.
    pub fn acquire(report: &Path) -> Result<Self, ReportLockError> {
        if std::fs::metadata(report).is_ok_and(|metadata| !metadata.is_file()) {
            return Ok(Self { held: None });
        }
        let path = Self::path_for(report);
        let io_error = |reason| ReportLockError::Io {
            report: report.to_path_buf(),
            lock: path.clone(),
            reason,
        };
        loop {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|error| match error.kind() {
                    std::io::ErrorKind::NotFound => ReportLockError::NoDirectory {
                        report: report.to_path_buf(),
                        directory: report
                            .parent()
                            .filter(|dir| !dir.as_os_str().is_empty())
                            .unwrap_or(Path::new("."))
                            .to_path_buf(),
                    },
                    _ => io_error(error),
                })?;
            // SAFETY: flock only reads the descriptor, which `file` keeps open.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                let error = std::io::Error::last_os_error();
                if error.kind() != std::io::ErrorKind::WouldBlock {
                    return Err(io_error(error));
                }
                return Err(ReportLockError::Held {
                    report: report.to_path_buf(),
                    holder: holder_of(&mut file),
                });
            }
            // The previous holder may have removed the file between our open and our lock: then
            // this lock is on a file nobody else will look at, and we start again.
            let locked = file.metadata().map_err(io_error)?;
            let still_there = std::fs::metadata(&path)
                .is_ok_and(|now| now.dev() == locked.dev() && now.ino() == locked.ino());
            if !still_there {
                continue;
            }
            file.set_len(0).map_err(io_error)?;
            writeln!(file, "{}", std::process::id()).map_err(io_error)?;
            return Ok(Self {
                held: Some((path, file)),
            });
        }
    }
}

/// Who holds a lock, as its file tells: the holder writes its PID just after locking, so a
/// process refused in between waits a moment for it.
fn holder_of(file: &mut File) -> String {
    for _ in 0..50 {
        let mut text = String::new();
        let read = file
            .seek(SeekFrom::Start(0))
            .and_then(|_| file.read_to_string(&mut text));
        if let (Ok(_), Ok(pid)) = (read, text.trim().parse::<u32>()) {
            return format!("PID {pid}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    "PID unknown".to_string()
}

impl Drop for ReportLock {
    fn drop(&mut self) {
        // Removed while still locked, so a process waiting on this file retries on a fresh one.
        if let Some((path, _file)) = self.held.take() {
            let _ = std::fs::remove_file(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_the_file_goes_with_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("r.txt");
        let lock = ReportLock::acquire(&report).unwrap();
        let pid = std::fs::read_to_string(ReportLock::path_for(&report)).unwrap();
        assert_eq!(pid.trim(), std::process::id().to_string());
        let refused = ReportLock::acquire(&report).unwrap_err().to_string();
        assert!(
            refused.contains(&format!("PID {}", std::process::id())) && refused.contains("r.txt"),
            "{refused}"
        );
        let alias = dir.path().join("alias.txt");
        std::fs::write(&report, "").unwrap();
        std::os::unix::fs::symlink(&report, &alias).unwrap();
        assert!(
            ReportLock::acquire(&alias).is_err(),
            "a symbolic link shares the lock"
        );
        drop(lock);
        assert!(!ReportLock::path_for(&report).exists());
        ReportLock::acquire(&report).unwrap();
    }

    #[test]
    fn a_leftover_lock_file_without_a_holder_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("r.txt");
        std::fs::write(ReportLock::path_for(&report), "999999\n").unwrap();
        ReportLock::acquire(&report).unwrap();
    }
}
