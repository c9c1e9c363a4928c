//! File helpers: durable replacement (a temporary file beside the target, fsync, rename over
//! the target, fsync the directory: readers see the old file or the new one, never a mix),
//! removal that tolerates absence, and the paths of files kept beside another.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// `path` with `suffix` appended to its file name: `report.txt` -> `report.txt.checkpoint`.
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Removes a file; one that is already gone is fine.
pub fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, fsync, then rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let directory = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temporary = tempfile::NamedTempFile::new_in(directory)?;
    temporary.write_all(bytes)?;
    temporary.as_file().sync_all()?;
    temporary.persist(path).map_err(|error| error.error)?;
    if let Ok(dir) = File::open(directory) {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_replace_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        remove_if_present(&path).unwrap();
        remove_if_present(&path).unwrap();
        assert_eq!(sibling(&path, ".bak"), dir.path().join("x.bak"));
    }
}
