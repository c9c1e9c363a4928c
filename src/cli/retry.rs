//! `log-archiver retry`: re-process the entries of a failures file through the same pipeline,
//! append the successes to the report in line order, and replace the failures file atomically
//! with what still fails (or remove it when nothing does).

use std::path::{Path, PathBuf};

use std::process::ExitCode;

use clap::Args;

use super::job::{JobArgs, conclude, run_with_interrupts};
use crate::files::{remove_if_present, sibling};
use crate::pipeline::checkpoint::Checkpoint;
use crate::pipeline::{JobInput, JobStatus};

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

pub async fn run(args: RetryArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.failures.is_file(),
        "no failures file at '{}'",
        args.failures.display()
    );
    let pending = pending_path(&args.failures);
    let input = JobInput::Failures(args.failures.clone());
    let (settings, _backend) = args
        .job
        .settings(input, pending.clone(), 0, args.resume)
        .await?;
    let outcome = run_with_interrupts(settings).await?;
    if outcome.result.status == JobStatus::Completed {
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
        remove_if_present(&Checkpoint::path_for(&args.job.report.report))?;
    }
    let resumable = args.job.server.is_none();
    Ok(conclude(
        &outcome,
        &args.job,
        Some(&args.failures),
        resumable,
    ))
}
