//! What a job checks and claims before it creates any file: its input can be read and holds
//! something, none of the files it writes is its input (by path or by inode), its failures
//! file is not its report, and it alone writes the report (the report's lock, held until the job's files tell the truth).

use std::path::Path;

use super::JobInput;
use super::checkpoint::Checkpoint;
use super::input::InputSource;
use crate::files::{same_file, sibling};
use crate::report::ReportLock;

/// Where the explanations shared by the jobs on a report are kept.
pub fn explanations_path(report: &Path) -> std::path::PathBuf {
    sibling(report, ".explanations.jsonl")
}

/// Checks the input and the job's files, then takes the report's lock. Nothing is created
/// before every check passed.
pub fn claim_job_files(
    input: &JobInput,
    report: &Path,
    failures: &Path,
) -> anyhow::Result<ReportLock> {
    let (input_path, input_name) = match input {
        JobInput::Log(InputSource::File(path)) => {
            check_log_input(path)?;
            (path.as_path(), path.display().to_string())
        }
        // A file redirected into stdin must not be written either.
        JobInput::Log(InputSource::Stdin) => (Path::new("/dev/stdin"), "stdin".to_string()),
        JobInput::Failures(path) => (path.as_path(), path.display().to_string()),
    };
    // Only a regular file can be read back while it is written (a pipe or a device cannot).
    let input_is_file = std::fs::metadata(input_path).is_ok_and(|metadata| metadata.is_file());
    let outputs = [
        ("report", report.to_path_buf(), "--report"),
        ("failures file", failures.to_path_buf(), "--failures"),
        ("checkpoint", Checkpoint::path_for(report), "--report"),
        ("explanations file", explanations_path(report), "--report"),
        ("lock file", ReportLock::path_for(report), "--report"),
    ];
    for (what, path, option) in outputs {
        anyhow::ensure!(
            !(input_is_file && same_file(input_path, &path)),
            "the {what} '{}' is the input file '{input_name}': the job would read its own output; \
             choose another {option}",
            path.display(),
        );
    }
    anyhow::ensure!(
        !same_file(failures, report),
        "the failures file '{}' is the report: choose another --failures",
        failures.display()
    );
    Ok(ReportLock::acquire(report)?)
}

/// A log file input must be a readable file with something in it.
fn check_log_input(path: &Path) -> anyhow::Result<()> {
    let metadata = std::fs::metadata(path)
        .map_err(|error| anyhow::anyhow!("cannot read input '{}': {error}", path.display()))?;
    anyhow::ensure!(
        !metadata.is_dir(),
        "input '{}' is a directory: give a log file (or - for stdin)",
        path.display()
    );
    std::fs::File::open(path)
        .map_err(|error| anyhow::anyhow!("cannot read input '{}': {error}", path.display()))?;
    anyhow::ensure!(
        !metadata.is_file() || metadata.len() > 0,
        "input '{}' is empty: nothing to archive",
        path.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_outputs_that_are_the_input_and_bad_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        std::fs::write(&log, "ERROR x\n").unwrap();
        let input = JobInput::Log(InputSource::File(log.clone()));
        let failures = dir.path().join("f.csv");
        let error = claim_job_files(&input, &log, &failures).unwrap_err();
        assert!(error.to_string().contains("the report"), "{error}");
        let error = claim_job_files(&input, &dir.path().join("r"), &log).unwrap_err();
        assert!(error.to_string().contains("--failures"), "{error}");
        let report = dir.path().join("r");
        let error = claim_job_files(&input, &report, &report).unwrap_err();
        assert!(error.to_string().contains("is the report"), "{error}");
        let empty = dir.path().join("empty.log");
        std::fs::write(&empty, "").unwrap();
        let error = claim_job_files(
            &JobInput::Log(InputSource::File(empty)),
            &dir.path().join("r"),
            &failures,
        )
        .unwrap_err();
        assert!(error.to_string().contains("is empty"), "{error}");
        let error = claim_job_files(
            &JobInput::Log(InputSource::File(dir.path().to_path_buf())),
            &dir.path().join("r"),
            &failures,
        )
        .unwrap_err();
        assert!(error.to_string().contains("is a directory"), "{error}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        let lock = claim_job_files(&input, &dir.path().join("r"), &failures).unwrap();
        drop(lock);
    }
}
