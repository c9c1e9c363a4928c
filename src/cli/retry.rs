//! `log-archiver retry`: re-process the entries of a failures file through the same pipeline,
//! append the successes to the report in line order, and replace the failures file atomically
//! with what still fails (or remove it when nothing does).

use std::path::{Path, PathBuf};

use std::process::ExitCode;

use clap::Args;

use super::archive::FAILURES_SUFFIX;
use super::job::{JobArgs, conclude, run_with_interrupts};
use crate::files::{remove_if_present, sibling};
use crate::pipeline::JobInput;
use crate::pipeline::checkpoint::Checkpoint;
use crate::pipeline::claim::claim_job_files;

#[derive(Debug, Args)]
pub struct RetryArgs {
    /// The failures file of an earlier `archive` (or `retry`).
    #[arg(value_name = "FAILED_CSV")]
    pub failures: PathBuf,

    /// Continue an interrupted retry from its checkpoint.
    #[arg(long)]
    pub resume: bool,

    #[command(flatten)]
    pub job: JobArgs,
}

/// Where a retry collects what still fails, until it replaces the failures file.
fn pending_path(failures: &Path) -> PathBuf {
    sibling(failures, ".pending")
}

/// The report a failures file belongs to: `--report` when given, else the report it is named
/// after (`REPORT.failed.csv` -> `REPORT`, as `archive` names it).
fn report_of(failures: &Path, given: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(report) = given {
        return Ok(report.to_path_buf());
    }
    let name = failures.file_name().and_then(|name| name.to_str());
    match name.and_then(|name| name.strip_suffix(FAILURES_SUFFIX)) {
        Some(report) if !report.is_empty() => Ok(failures.with_file_name(report)),
        _ => anyhow::bail!(
            "cannot tell which report the failures in '{}' belong to (its name does not end in \
             '{FAILURES_SUFFIX}'): name it with --report",
            failures.display()
        ),
    }
}

pub async fn run(mut args: RetryArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.failures.is_file(),
        "no failures file at '{}'",
        args.failures.display()
    );
    let report = report_of(&args.failures, args.job.report.report.as_deref())?;
    args.job.report.report = Some(report.clone());
    let pending = pending_path(&args.failures);
    let input = JobInput::Failures(args.failures.clone());
    // Held until the failures file has been replaced and the checkpoint removed.
    let _lock = claim_job_files(&input, &report, &pending)?;
    let (settings, _backend) = args
        .job
        .settings(input, pending.clone(), 0, args.resume)
        .await?;
    let outcome = run_with_interrupts(settings).await?;
    if outcome.result.status.is_over() {
        if outcome.failures_written {
            std::fs::rename(&pending, &args.failures).map_err(|error| {
                anyhow::anyhow!(
                    "cannot replace '{}' with what still fails: {error}",
                    args.failures.display()
                )
            })?;
        } else {
            remove_if_present(&pending)?;
            remove_if_present(&args.failures)?;
        }
        // Only now that the failures file tells the truth may the checkpoint go.
        remove_if_present(&Checkpoint::path_for(&report))?;
    }
    let resumable = args.job.server.is_none();
    Ok(conclude(
        &outcome,
        &args.job,
        Some(&args.failures),
        resumable,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_comes_from_the_failures_file_name() {
        let derived = |failures: &str| report_of(Path::new(failures), None);
        assert_eq!(
            derived("logs/r.txt.failed.csv").unwrap(),
            Path::new("logs/r.txt")
        );
        assert_eq!(derived("r.jsonl.failed.csv").unwrap(), Path::new("r.jsonl"));
        let error = derived("failures.csv").unwrap_err().to_string();
        assert!(error.contains("--report"), "{error}");
        assert!(derived(".failed.csv").is_err());
        assert_eq!(
            report_of(Path::new("failures.csv"), Some(Path::new("x.txt"))).unwrap(),
            Path::new("x.txt")
        );
    }
}
