//! `log-archiver archive`: explain and archive a whole log file (or stdin, plain or gzip) in
//! input order, through the actor pipeline.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::job::{JobArgs, conclude, run_with_interrupts};
use super::numbers::whole;
use crate::files::{remove_if_present, sibling};
use crate::pipeline::checkpoint::Checkpoint;
use crate::pipeline::claim::claim_job_files;
use crate::pipeline::input::InputSource;
use crate::pipeline::multiline::MultilineMode;
use crate::pipeline::{JobInput, JobSettings};

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

    /// Which lines continue the entry before them: auto (indented lines, `Caused by:`,
    /// `... N more`), off, or a regular expression matching continuation lines.
    #[arg(long, default_value = "auto", value_name = "auto|off|REGEX")]
    pub multiline: MultilineMode,

    /// Longer lines are cut, with a visible marker.
    #[arg(long, default_value_t = 65536, value_parser = whole::<u64>(64, u64::MAX), allow_negative_numbers = true)]
    pub max_line_bytes: u64,

    #[command(flatten)]
    pub job: JobArgs,
}

/// What a report's failures file adds to its name.
pub const FAILURES_SUFFIX: &str = ".failed.csv";

/// `REPORT.failed.csv` beside the report.
pub fn default_failures_path(report: &std::path::Path) -> PathBuf {
    sibling(report, FAILURES_SUFFIX)
}

pub async fn run(args: ArchiveArgs) -> anyhow::Result<ExitCode> {
    let report = args.job.report.path();
    let failures = args
        .failures
        .clone()
        .unwrap_or_else(|| default_failures_path(&report));
    let input = JobInput::Log(InputSource::parse(&args.input));
    // Held until the report, the failures file and the checkpoint agree at the end.
    let _lock = claim_job_files(&input, &report, &failures)?;
    let (settings, _backend) = args
        .job
        .settings(
            input,
            failures.clone(),
            args.max_line_bytes as usize,
            args.resume,
        )
        .await?;
    let settings = JobSettings {
        multiline: args.multiline.clone(),
        ..settings
    };
    let outcome = run_with_interrupts(settings).await?;
    if outcome.result.status.is_over() {
        if !outcome.failures_written {
            remove_if_present(&failures)?;
        }
        remove_if_present(&Checkpoint::path_for(&report))?;
    }
    let resumable = args.job.server.is_none() && args.input != "-";
    Ok(conclude(&outcome, &args.job, Some(&failures), resumable))
}
