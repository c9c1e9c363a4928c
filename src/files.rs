//! File helpers: durable replacement (a temporary file beside the target, fsync, rename over
//! the target, fsync the directory: readers see the old file or the new one, never a mix),
//! removal that tolerates absence, the paths of files kept beside another, and telling whether
//! two paths name one file.

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

/// Whether two paths name the same file: the same device and inode (hard links included), or
/// the same canonical path (symbolic links and `..` resolved; a file not created yet is resolved
/// through its directory).
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    if let (Ok(a), Ok(b)) = (std::fs::metadata(a), std::fs::metadata(b))
        && a.dev() == b.dev()
        && a.ino() == b.ino()
    {
        return true;
    }
    matches!((resolved(a), resolved(b)), (Some(a), Some(b)) if a == b)
}

/// The canonical form of `path`, or of its directory joined with its name when it does not
/// exist yet.
pub fn resolved(path: &Path) -> Option<PathBuf> {
    if let Ok(path) = path.canonicalize() {
        return Some(path);
    }
    let name = path.file_name()?;
    let directory = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Some(directory.canonicalize().ok()?.join(name))
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

    #[test]
    fn tells_the_same_file_by_path_link_and_inode() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.log");
        std::fs::write(&file, "x").unwrap();
        let hard_link = dir.path().join("hard.log");
        std::fs::hard_link(&file, &hard_link).unwrap();
        let symlink = dir.path().join("soft.log");
        std::os::unix::fs::symlink(&file, &symlink).unwrap();
        let roundabout = dir.path().join("sub/../a.log");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        for alias in [&file, &hard_link, &symlink, &roundabout] {
            assert!(same_file(&file, alias), "{}", alias.display());
        }
        let missing = dir.path().join("missing.txt");
        assert!(same_file(&missing, &dir.path().join("sub/../missing.txt")));
        assert!(!same_file(&file, &missing));
        std::fs::write(dir.path().join("b.log"), "x").unwrap();
        assert!(!same_file(&file, &dir.path().join("b.log")));
    }
}
