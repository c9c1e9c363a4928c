//! `log-archiver archive`: explain and archive a whole log file (or stdin, plain or gzip) in
//! input order, through the actor pipeline.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::digest::{digest_of_report, write_digest_html};
use super::job::{JobArgs, conclude, run_with_interrupts};
use super::numbers::whole;
use super::plan::print_plan;
use crate::files::{remove_if_present, sibling};
use crate::pipeline::checkpoint::Checkpoint;
use crate::pipeline::claim::claim_job_files;
use crate::pipeline::input::InputSource;
use crate::pipeline::multiline::MultilineMode;
use crate::pipeline::plan::plan_job;
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

    /// Read and group the input, then print the plan: entries, kinds, the LLM requests the job
    /// would make, their estimated tokens, cost and time at the request limit, and the top
    /// kinds. Calls no LLM and writes nothing.
    #[arg(long, conflicts_with = "resume")]
    pub dry_run: bool,

    /// Which lines continue the entry before them: auto (indented lines, `Caused by:`,
    /// `... N more`), off, or a regular expression matching continuation lines.
    #[arg(long, default_value = "auto", value_name = "auto|off|REGEX")]
    pub multiline: MultilineMode,

    /// Longer lines are cut, with a visible marker.
    #[arg(long, default_value_t = 65536, value_parser = whole::<u64>(64, u64::MAX), allow_negative_numbers = true)]
    pub max_line_bytes: u64,

    /// At the end of the job, write the report's digest as one HTML page (see `report --html`).
    #[arg(long, value_name = "FILE")]
    pub digest_html: Option<PathBuf>,

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
    if let Some(page) = &args.digest_html {
        check_writable_place(page)?;
    }
    let report = args.job.report.path();
    let failures = args
        .failures
        .clone()
        .unwrap_or_else(|| default_failures_path(&report));
    let input = JobInput::Log(InputSource::parse(&args.input));
    // Held until the report, the failures file and the checkpoint agree at the end; a dry run
    // writes nothing and takes no lock.
    let _lock = if args.dry_run {
        None
    } else {
        Some(claim_job_files(&input, &report, &failures)?)
    };
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
    if args.dry_run {
        print_plan(&plan_job(&settings).await?, args.job.json);
        return Ok(ExitCode::SUCCESS);
    }
    let outcome = run_with_interrupts(settings).await?;
    // However the job ended, a failures file is left only when it lists something.
    if !outcome.failures_written {
        remove_if_present(&failures)?;
    }
    if outcome.result.status.is_over() {
        remove_if_present(&Checkpoint::path_for(&report))?;
    }
    let resumable = args.job.server.is_none() && args.input != "-";
    let code = conclude(&outcome, &args.job, Some(&failures), resumable);
    if let Some(page) = &args.digest_html {
        let digest = digest_of_report(&report)?;
        write_digest_html(&digest, &report.display().to_string(), page)?;
        eprintln!("digest page written to '{}'", page.display());
    }
    Ok(code)
}

/// Refuses, before the job, a page whose directory does not exist.
fn check_writable_place(page: &std::path::Path) -> anyhow::Result<()> {
    match page.parent() {
        Some(directory) if !directory.as_os_str().is_empty() && !directory.is_dir() => {
            Err(anyhow::anyhow!(
                "--digest-html '{}': the directory '{}' does not exist",
                page.display(),
                directory.display()
            ))
        }
        _ => Ok(()),
    }
}
