//! What `archive` and `retry` share: the job options, running the job with Ctrl-C handling, and
//! turning its end into a summary and an exit code (0 all archived, 2 some failed, 1 could not
//! run, 130 interrupted).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use tokio::sync::mpsc;

use super::args::{JobLlmArgs, ProtocolArgs, ReportFileArgs, StartedLlm, ToolArgs};
use super::numbers::whole;
use super::signal::shutdown_requested;
use regex::Regex;

use crate::client::ServerTarget;
use crate::dedup::DedupMode;
use crate::dedup::header::HeaderFormat;
use crate::llm::{PriceTable, Prices, RequestRate, parse_price};
use crate::pipeline::filter::{EntryFilter, Level};
use crate::pipeline::multiline::MultilineMode;
use crate::pipeline::progress::{JobSummary, ProgressMode};
use crate::pipeline::resources::ResourceUsage;
use crate::pipeline::{CostPlan, JobInput, JobOutcome, JobSettings, JobStatus, LlmPlan, run_job};
use crate::server::{AUTH_TOKEN_ENV, AuthToken, MAX_BATCH_LINES, ToolSettings};

/// Options of a bulk job.
#[derive(Debug, Args)]
pub struct JobArgs {
    #[command(flatten)]
    pub report: ReportFileArgs,

    /// An external MCP server to send entries through, instead of the built-in one (which then
    /// chooses the report's format).
    #[arg(long, value_name = "URL", conflicts_with = "format")]
    pub server: Option<String>,

    /// The bearer token the --server asks for (see `serve --auth-token`).
    #[arg(long, env = AUTH_TOKEN_ENV, hide_env_values = true, value_parser = AuthToken::parse, requires = "server")]
    pub auth_token: Option<AuthToken>,

    #[command(flatten)]
    pub revisions: ProtocolArgs,

    /// MCP sessions to the server.
    #[arg(long, default_value_t = 4, value_parser = whole::<u64>(1, 256), allow_negative_numbers = true)]
    pub connections: u64,

    /// LLM requests in flight at once, over all sessions.
    #[arg(long, default_value_t = 16, value_parser = whole::<u64>(1, 4096), allow_negative_numbers = true)]
    pub concurrency: u64,

    /// Most entries sent in one tool call when the server offers `process_log_entries` (the
    /// built-in server does); 1 sends each entry in a `process_log_entry` call of its own.
    /// Batches form only when several entries are ready at once, so a slow trickle of input is
    /// not held back.
    #[arg(long, default_value_t = 16, value_parser = whole::<u64>(1, MAX_BATCH_LINES as u64), allow_negative_numbers = true)]
    pub batch: u64,

    /// Progress display: auto (a bar on a terminal, plain lines otherwise), bar, plain or off.
    #[arg(long, default_value = "auto")]
    pub progress: ProgressMode,

    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,

    /// Which entries share one LLM explanation: template (entries of the same kind: the same
    /// level and message template, found after the line's header; the explanation says the
    /// variable parts vary), exact (identical lines), or off.
    #[arg(long, value_enum, default_value_t = DedupMode::Template)]
    pub dedup: DedupMode,

    /// The log's line format, for grouping into kinds; by default it is found from the first
    /// lines. Loghub style ('<Date> <Time> <Level> <Component>: <Content>': each field one word,
    /// the last the rest of the line) or a regular expression with named groups: content (or
    /// message), and optionally level and timestamp.
    #[arg(long, value_name = "FORMAT", value_parser = HeaderFormat::parse)]
    pub log_format: Option<HeaderFormat>,

    /// Skip entries stating a lower severity (trace, debug, info, notice, warn, error, critical,
    /// alert, emergency; level words and syslog <PRI> are understood). Entries stating no level
    /// are kept.
    #[arg(long, value_name = "LEVEL")]
    pub min_level: Option<Level>,

    /// Process only entries matching this regular expression.
    #[arg(long, value_name = "REGEX")]
    pub grep: Option<Regex>,

    /// Skip entries matching this regular expression.
    #[arg(long, value_name = "REGEX")]
    pub exclude: Option<Regex>,

    /// Stop sending entries before the estimated cost would exceed this many US dollars; what
    /// is not sent is listed in the failures file for `retry`.
    #[arg(long, value_name = "USD", value_parser = parse_budget, allow_negative_numbers = true)]
    pub max_cost: Option<f64>,

    /// Stop sending entries before the job's LLM use (input plus output tokens, each entry
    /// counted at its --max-tokens) would exceed this many tokens; the rest is listed for `retry`.
    #[arg(long, value_name = "TOKENS", value_parser = whole::<u64>(1, u64::MAX), allow_negative_numbers = true)]
    pub max_llm_tokens: Option<u64>,

    /// A model's price, as MODEL=INPUT/OUTPUT in US dollars per million tokens (repeatable;
    /// overrides the model table's list prices of the Claude and GPT models).
    #[arg(long = "price", value_name = "MODEL=IN/OUT", value_parser = parse_price)]
    pub prices: Vec<(String, Prices)>,

    #[command(flatten)]
    pub tool: ToolArgs,

    #[command(flatten)]
    pub llm: JobLlmArgs,
}

impl JobArgs {
    /// Where the records went, as the summary names it.
    fn report_name(&self) -> String {
        match &self.server {
            Some(url) => format!("the report of the server at {url}"),
            None => self.report.path().display().to_string(),
        }
    }

    /// Starts the LLM backend and says plainly which one answers.
    pub async fn settings(
        &self,
        input: JobInput,
        failures: PathBuf,
        max_line_bytes: usize,
        resume: bool,
    ) -> anyhow::Result<(JobSettings, StartedLlm)> {
        let backend = self.llm.choice.start().await?;
        backend.announce();
        let mut limits = self.llm.limits();
        if backend.local && limits.requests == RequestRate::Adaptive {
            // Nothing to discover about a model served by this very process.
            limits.requests = RequestRate::Unlimited;
        }
        let settings = JobSettings {
            input,
            report: self.report.path(),
            report_format: self.report.format(),
            failures,
            server: self.server.clone().map(|url| ServerTarget::Http {
                url,
                auth_token: self.auth_token.clone(),
            }),
            protocol: self.revisions.protocol,
            connections: self.connections as usize,
            concurrency: self.concurrency as usize,
            batch: self.batch as usize,
            max_line_bytes,
            resume,
            tool: ToolSettings {
                // The reader cuts lines; the built-in server takes whatever it hands over,
                // even when every byte became a 3-byte replacement character.
                max_log_line_bytes: max_line_bytes.saturating_mul(3).saturating_add(1024),
                ..self.tool.settings()
            },
            progress: self.progress,
            dedup: self.dedup,
            log_format: self.log_format.clone(),
            cost: CostPlan {
                prices: self
                    .prices
                    .iter()
                    .fold(PriceTable::default(), |table, (model, prices)| {
                        table.with_price(model, *prices)
                    }),
                model: backend.model.clone(),
                max_usd: self.max_cost,
                max_tokens: self.max_llm_tokens,
            },
            multiline: MultilineMode::Off,
            filter: EntryFilter {
                min_level: self.min_level,
                grep: self.grep.clone(),
                exclude: self.exclude.clone(),
            },
            llm: LlmPlan {
                backend: backend.backend.clone(),
                models: backend.models.clone(),
                limits,
                retry: self.llm.retry(),
                attempt_timeout: self.llm.choice.llm_timeout,
                sampling: self.llm.choice.sampling_rules(
                    self.server.as_deref().unwrap_or("the built-in server"),
                    self.tool.redact.clone(),
                )?,
            },
        };
        Ok((settings, backend))
    }
}

fn parse_budget(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|usd| usd.is_finite() && *usd >= 0.0)
        .ok_or_else(|| format!("'{text}' is not an amount of US dollars"))
}

/// Runs the job, forwarding Ctrl-C and SIGTERM to it.
pub async fn run_with_interrupts(settings: JobSettings) -> anyhow::Result<JobOutcome> {
    let (interrupts, receiver) = mpsc::channel(4);
    let listener = tokio::spawn(async move {
        loop {
            shutdown_requested().await;
            if interrupts.send(()).await.is_err() {
                return;
            }
        }
    });
    let outcome = run_job(settings, receiver).await;
    listener.abort();
    outcome
}

/// Prints the summary (text on stdout, or JSON with `--json`) and picks the exit code.
/// `resumable` says whether `--resume` can continue the job (a file input, the built-in server).
pub fn conclude(
    outcome: &JobOutcome,
    job: &JobArgs,
    failures: Option<&Path>,
    resumable: bool,
) -> ExitCode {
    let result = &outcome.result;
    let failures_file = failures
        .filter(|_| outcome.failures_written)
        .map(|path| path.display().to_string());
    let summary = JobSummary::new(
        result.counters.clone(),
        result.elapsed,
        &result.latency,
        job.report_name(),
        failures_file,
    )
    .with_rate_limit(outcome.rate_limit.clone())
    .with_templates(outcome.templates.clone())
    .with_cost(outcome.estimated_cost_usd)
    .with_resources(ResourceUsage::of_this_process());
    if job.json {
        println!(
            "{}",
            serde_json::to_string(&summary).expect("summaries serialize")
        );
    } else {
        println!("{summary}");
    }
    match &result.status {
        JobStatus::Completed if result.counters.failed == 0 => ExitCode::SUCCESS,
        JobStatus::Completed => ExitCode::from(2),
        JobStatus::Interrupted => {
            if resumable {
                eprintln!("interrupted: continue with the same command and --resume");
            }
            ExitCode::from(130)
        }
        JobStatus::InputDamaged(reason) => {
            eprintln!("error: {reason}");
            eprintln!(
                "the job ended there: every entry before it was archived or listed as failed, \
                 and nothing is left to resume"
            );
            ExitCode::FAILURE
        }
        JobStatus::Aborted(reason) => {
            eprintln!("error: {reason}");
            if resumable {
                eprintln!("once the cause is fixed, continue with the same command and --resume");
            }
            ExitCode::FAILURE
        }
    }
}
