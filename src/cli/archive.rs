//! `log-archiver archive`: explain and archive a whole log file (or stdin, plain or gzip) in
//! input order, through the actor pipeline.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::job::{JobArgs, conclude, run_with_interrupts};
use crate::files::{remove_if_present, sibling};
use crate::pipeline::checkpoint::Checkpoint;
use crate::pipeline::input::InputSource;
use crate::pipeline::multiline::MultilineMode;
use crate::pipeline::{JobInput, JobSettings, JobStatus};

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
    #[arg(long, default_value_t = 65536, value_parser = clap::value_parser!(u64).range(64..))]
    pub max_line_bytes: u64,

    #[command(flatten)]
    pub job: JobArgs,
}

/// `REPORT.failed.csv` beside the report.
pub fn default_failures_path(report: &std::path::Path) -> PathBuf {
    sibling(report, ".failed.csv")
}

pub async fn run(args: ArchiveArgs) -> anyhow::Result<ExitCode> {
    let failures = args
        .failures
        .clone()
        .unwrap_or_else(|| default_failures_path(&args.job.report.report));
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
    let settings = JobSettings {
        multiline: args.multiline.clone(),
        ..settings
    };
    let outcome = run_with_interrupts(settings).await?;
    // However the job ended, a failures file is left only when it lists something.
    if !outcome.failures_written {
        remove_if_present(&failures)?;
    }
    if outcome.result.status == JobStatus::Completed {
        remove_if_present(&Checkpoint::path_for(&args.job.report.report))?;
    }
    let resumable = args.job.server.is_none() && args.input != "-";
    Ok(conclude(&outcome, &args.job, Some(&failures), resumable))
}
