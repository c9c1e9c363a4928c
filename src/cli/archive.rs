//! `log-archiver archive`: explain and archive a whole log file (or stdin, plain or gzip) in
//! input order, through the actor pipeline.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::job::{JobArgs, conclude, run_with_interrupts};
use crate::pipeline::JobInput;
use crate::pipeline::input::InputSource;

#[derive(Debug, Args)]
pub struct ArchiveArgs {
    /// The log file to archive (`-` for stdin; gzip is recognised by its content).
    #[arg(value_name = "FILE")]
    pub input: String,

    /// Where failed entries are listed (CSV) [default: REPORT.failed.csv].
    #[arg(long)]
    pub failures: Option<PathBuf>,

    /// Continue an interrupted job from its checkpoint.
    #[arg(long)]
    pub resume: bool,

    /// Longer lines are cut, with a visible marker.
    #[arg(long, default_value_t = 65536, value_parser = clap::value_parser!(u64).range(64..))]
    pub max_line_bytes: u64,

    #[command(flatten)]
    pub job: JobArgs,
}

/// `REPORT.failed.csv` beside the report.
pub fn default_failures_path(report: &std::path::Path) -> PathBuf {
    let mut name = report.as_os_str().to_owned();
    name.push(".failed.csv");
    PathBuf::from(name)
}

pub async fn run(args: ArchiveArgs) -> anyhow::Result<ExitCode> {
    let failures = args
        .failures
        .clone()
        .unwrap_or_else(|| default_failures_path(&args.job.report));
    let input = JobInput::Log(InputSource::parse(&args.input));
    let (settings, _backend) = args
        .job
        .settings(
            input,
            failures.clone(),
            args.max_line_bytes as usize,
            args.resume,
        )
        .await?;
    let outcome = run_with_interrupts(settings).await?;
    if !outcome.failures_written && outcome.result.status == crate::pipeline::JobStatus::Completed {
        remove_if_present(&failures)?;
    }
    Ok(conclude(
        &outcome,
        &args.job.report,
        Some(&failures),
        args.job.json,
    ))
}

/// Removes a file that has nothing worth keeping.
pub fn remove_if_present(path: &std::path::Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(anyhow::anyhow!(
            "cannot remove '{}': {error}",
            path.display()
        )),
        _ => Ok(()),
    }
}
