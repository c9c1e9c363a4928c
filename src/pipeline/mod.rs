//! The bulk pipeline behind `archive` and `retry`: the checks and the report's lock a job takes
//! before it starts, input readers, the supervisor and connection actors, the failures file,
//! checkpoints, progress and the summary. `run_job` wires a job
//! together: the server (in-process unless one is given), the sampler pool, the supervisor.

mod budget;
pub mod checkpoint;
pub mod claim;
mod connection;
pub mod failures;
pub mod filter;
pub mod input;
pub mod multiline;
pub mod plan;
pub mod progress;
pub mod resources;
mod supervisor;

pub use supervisor::{JobResult, JobStatus};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ractor::Actor;
use rand::Rng;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use self::budget::{Budget, CostLimit};
use self::checkpoint::{Checkpoint, InputIdentity};
use self::failures::{FailuresWriter, read_failures};
use self::filter::EntryFilter;
use self::input::{Entry, InputError, InputItem, InputSource, spawn_reader};
use self::multiline::{MultilineMode, fold};
use self::progress::{JobCounters, KindsSeen, ProgressDisplay, ProgressMode};
use self::supervisor::{CheckpointPlan, JobPlan, Supervisor, SupervisorMessage};
use crate::client::{
    ModelChoice, ProtocolChoice, SamplerPool, SamplingHandler, SamplingRules, ServerTarget,
};
use crate::dedup::grouping::{GroupBook, GroupingInput, Learned, group_stream, learn};
use crate::dedup::header::HeaderFormat;
use crate::dedup::{DedupBackend, DedupMode};
use crate::llm::{
    ADAPTIVE_START_RPM, Limiters, LlmBackend, LlmStats, ManagedBackend, PriceTable, RateLimits,
    RequestRate, RetryPolicy,
};
use crate::report::{OrderPolicy, ReportFormat, ReportWriter};
use crate::server::{
    AuthToken, HttpServer, HttpServerSettings, LogArchiverServer, ReportLine, ToolSettings,
};

/// Where a job's entries come from.
#[derive(Debug, Clone)]
pub enum JobInput {
    /// A log file, or stdin.
    Log(InputSource),
    /// The failures file of an earlier job (`retry`).
    Failures(PathBuf),
}

/// How the LLM is reached and limited.
pub struct LlmPlan {
    pub backend: Arc<dyn LlmBackend>,
    /// The models a server's preferences may pick.
    pub models: ModelChoice,
    pub limits: RateLimits,
    pub retry: RetryPolicy,
    /// The longest one request to the LLM takes (`--llm-timeout`).
    pub attempt_timeout: Duration,
    /// What the client agrees to sample, and its audit log.
    pub sampling: SamplingRules,
}

/// Everything a bulk job is told.
pub struct JobSettings {
    pub input: JobInput,
    pub report: PathBuf,
    /// How the built-in server writes the report.
    pub report_format: ReportFormat,
    /// Where this job writes its failures.
    pub failures: PathBuf,
    /// An external server; `None` runs the server in this process.
    pub server: Option<ServerTarget>,
    /// The MCP protocol revisions the job's client offers.
    pub protocol: ProtocolChoice,
    pub connections: usize,
    /// Most LLM requests at once.
    pub concurrency: usize,
    /// Most entries in one tool call, when the server takes several (`process_log_entries`).
    pub batch: usize,
    pub max_line_bytes: usize,
    pub resume: bool,
    pub tool: ToolSettings,
    pub progress: ProgressMode,
    pub llm: LlmPlan,
    /// How entries share explanations.
    pub dedup: DedupMode,
    /// The log's header format when given (`--log-format`); otherwise it is found from the
    /// input's first lines.
    pub log_format: Option<HeaderFormat>,
    /// Which entries are processed; the others are counted skips.
    pub filter: EntryFilter,
    /// Prices for the cost estimate, and the spending limit.
    pub cost: CostPlan,
    /// Which lines continue the entry before them.
    pub multiline: MultilineMode,
}

/// What the job's LLM use costs, and how much it may spend.
pub struct CostPlan {
    pub prices: PriceTable,
    /// The model entries are estimated at before they are sent (the configured one).
    pub model: String,
    /// Stop sending before the estimated cost would exceed this many US dollars.
    pub max_usd: Option<f64>,
    /// Stop sending before the job's LLM use would exceed this many tokens.
    pub max_tokens: Option<u64>,
}

/// What a finished job hands back.
pub struct JobOutcome {
    pub result: JobResult,
    /// Failures of this run and of the runs it resumed.
    pub failures_written: bool,
    /// How requests were paced, for the summary.
    pub rate_limit: Option<String>,
    /// Distinct templates and the most frequent ones, when grouping by template.
    pub templates: Option<KindsSeen>,
    /// What this run's LLM use cost, when every model's prices are known.
    pub estimated_cost_usd: Option<f64>,
}

/// How many templates the summary lists.
const TOP_TEMPLATES: usize = 5;
/// The fewest recent entries the group book remembers the kinds of.
const GROUP_BOOK_ENTRIES: usize = 1 << 16;

/// For an input that can be read twice (a regular file, a failures file), reads it once first to
/// learn how to group it, so that kinds are split by what the whole input shows; `None` for stdin
/// and pipes, which are grouped by what their first lines show.
pub async fn learn_grouping(settings: &JobSettings) -> anyhow::Result<Option<Learned>> {
    let readable_twice = match &settings.input {
        JobInput::Log(InputSource::File(path)) => {
            std::fs::metadata(path).is_ok_and(|metadata| metadata.is_file())
        }
        JobInput::Log(InputSource::Stdin) => false,
        JobInput::Failures(_) => true,
    };
    if settings.dedup != DedupMode::Template || !readable_twice {
        return Ok(None);
    }
    let input = open_input(&settings.input, settings.max_line_bytes)?;
    let input = match &settings.input {
        JobInput::Log(_) => fold(input, settings.multiline.clone(), settings.max_line_bytes),
        JobInput::Failures(_) => input,
    };
    Ok(Some(learn(input, &grouping_input(settings)).await))
}

/// What grouping needs to see entries as the LLM will: kept by the filter, redacted.
pub fn grouping_input(settings: &JobSettings) -> GroupingInput {
    GroupingInput {
        header: settings.log_format.clone(),
        filter: settings.filter.clone(),
        redactor: settings.tool.redactor.clone(),
    }
}

/// Runs one bulk job to its end; `interrupt` resolves on Ctrl-C / SIGTERM (twice to stop at once).
pub async fn run_job(
    settings: JobSettings,
    mut interrupt: mpsc::Receiver<()>,
) -> anyhow::Result<JobOutcome> {
    let cost = match settings.cost.max_usd {
        None => None,
        Some(max_usd) => {
            let estimate_prices = settings.cost.prices.prices(&settings.cost.model).ok_or_else(|| {
                anyhow::anyhow!(
                    "--max-cost needs the price of model '{}': give it with --price '{}=INPUT/OUTPUT' \
                     (US dollars per million tokens)",
                    settings.cost.model,
                    settings.cost.model
                )
            })?;
            Some(CostLimit {
                max_usd,
                prices: settings.cost.prices.clone(),
                estimate_prices,
            })
        }
    };
    let budget = (cost.is_some() || settings.cost.max_tokens.is_some()).then_some(Budget {
        cost,
        max_tokens: settings.cost.max_tokens,
        reserved_output_tokens: settings.tool.max_tokens,
    });
    let checkpoint_path = Checkpoint::path_for(&settings.report);
    let identity = input_identity(&settings.input)?;
    let resumed = prepare_resume(&settings, &checkpoint_path, identity.as_ref())?;
    let (start_line, counters, failures_cut) = match &resumed {
        Some(checkpoint) => (
            checkpoint.next_line,
            checkpoint.counters.clone(),
            Some(checkpoint.failures_len),
        ),
        None => (1, JobCounters::default(), None),
    };
    // A retry collects what still fails in a file of its own, replaced at every fresh start.
    let is_retry = matches!(settings.input, JobInput::Failures(_));
    // Everything that can refuse the job is checked before the report, the failures file and
    // the explanations file are created, so a refused job leaves nothing behind.
    FailuresWriter::check(&settings.failures, failures_cut, is_retry)?;
    let input = open_input(&settings.input, settings.max_line_bytes)?;
    let input = match &settings.input {
        JobInput::Log(_) => fold(input, settings.multiline.clone(), settings.max_line_bytes),
        // A failures file holds entries already folded.
        JobInput::Failures(_) => input,
    };

    let mut embedded = None;
    let target = match &settings.server {
        Some(target) => target.clone(),
        None => {
            // Only this job may use the built-in server: other local processes could otherwise
            // write records into its report.
            let auth_token = AuthToken::random();
            let server = EmbeddedServer::start(&settings, auth_token.clone()).await?;
            let target = ServerTarget::Http {
                url: server.http.url(),
                auth_token: Some(auth_token),
            };
            embedded = Some(server);
            target
        }
    };
    let failures = FailuresWriter::open(&settings.failures, failures_cut, is_retry)?;
    let embedded_writer = embedded.as_ref().map(|server| server.writer.clone());
    let checkpoint = match (&embedded, identity) {
        (Some(_), Some(input)) => Some(CheckpointPlan {
            path: checkpoint_path.clone(),
            input,
        }),
        _ => None,
    };

    let llm_stats = Arc::new(LlmStats::default());
    let managed = Arc::new(ManagedBackend::new(
        settings.llm.backend.clone(),
        Limiters::new(settings.llm.limits),
        settings.llm.retry,
        llm_stats.clone(),
    ));
    let concurrency = calls_in_flight(settings.concurrency, &settings.llm.limits, &settings.tool);
    // An entry of a batched call is held until the call's slowest answer is in; twice the
    // concurrency in flight keeps the samplers busy meanwhile (once a connection batches).
    let batched_in_flight = match settings.batch {
        0 | 1 => concurrency,
        _ => calls_in_flight(
            settings.concurrency.saturating_mul(2),
            &settings.llm.limits,
            &settings.tool,
        ),
    };
    let window = (batched_in_flight * 8).max(256);
    // Entries are grouped into kinds here, in input order, before any is sent; the book
    // remembers the kinds of far more entries than are in flight at once.
    let book = GroupBook::new(window.saturating_mul(4).max(GROUP_BOOK_ENTRIES));
    let input = match settings.dedup {
        DedupMode::Template => group_stream(
            input,
            grouping_input(&settings),
            learn_grouping(&settings).await?,
            book.clone(),
        ),
        DedupMode::Off | DedupMode::Exact => input,
    };
    let samplers = Arc::new(SamplerPool::start(concurrency, managed.clone()).await?);
    let dedup = Arc::new(
        DedupBackend::new(samplers.clone(), settings.dedup)
            .with_book(book.clone())
            .with_store(&claim::explanations_path(&settings.report))?,
    );
    let handler = SamplingHandler::with_model_choice(dedup.clone(), settings.llm.models.clone())
        .with_rules(settings.llm.sampling.clone())
        .with_protocol(settings.protocol)
        .with_answer_timeout(settings.tool.sampling_timeout, settings.llm.attempt_timeout);

    let total_lines = match &settings.input {
        JobInput::Log(source) => input::count_lines(source),
        JobInput::Failures(_) => None,
    };
    let connections = settings.connections.clamp(1, concurrency);
    let plan = JobPlan {
        job: new_job_id(),
        source: match &settings.input {
            JobInput::Log(InputSource::File(path)) => Some(path.display().to_string().into()),
            JobInput::Log(InputSource::Stdin) => Some("-".into()),
            JobInput::Failures(_) => None,
        },
        target,
        handler,
        connections,
        concurrency,
        batched_in_flight,
        batch: settings.batch,
        window,
        call_timeout: settings.tool.sampling_timeout + Duration::from_secs(60),
        // When the server restarts, every session breaks at once and an entry sent again may
        // land on a session not yet known to be broken: it may be lost once per connection
        // before a fresh session takes it, and still have two sends left after that.
        max_sends: u32::try_from(connections)
            .unwrap_or(u32::MAX)
            .saturating_add(2),
        input,
        start_line,
        counters,
        filter: settings.filter,
        redact_before_sending: (settings.server.is_some()
            && settings.tool.report_line == ReportLine::Redacted)
            .then(|| settings.tool.redactor.clone()),
        budget,
        failures,
        embedded_writer,
        checkpoint,
        progress: ProgressDisplay::new(settings.progress, total_lines),
        llm_stats: llm_stats.clone(),
    };
    let (done_tx, done_rx) = oneshot::channel();
    let (supervisor, supervisor_done) = Actor::spawn(None, Supervisor, (plan, done_tx)).await?;
    let forward_interrupts = tokio::spawn({
        let supervisor = supervisor.clone();
        async move {
            while interrupt.recv().await.is_some() {
                let _ = supervisor.send_message(SupervisorMessage::Interrupt);
            }
        }
    });
    let result = done_rx.await;
    forward_interrupts.abort();
    let _ = supervisor_done.await;
    samplers.stop();
    if let Some(server) = embedded {
        server.stop().await;
    }
    let result = result.map_err(|_| anyhow::anyhow!("the job supervisor stopped unexpectedly"))?;
    Ok(JobOutcome {
        failures_written: result.counters.failed > 0,
        rate_limit: managed.describe_rate_limit(),
        templates: (settings.dedup == DedupMode::Template).then(|| {
            let (kinds, entries) = book.totals();
            KindsSeen {
                kinds,
                entries,
                top: book
                    .top_kinds(TOP_TEMPLATES)
                    .into_iter()
                    .map(|kind| (kind.template, kind.count))
                    .collect(),
            }
        }),
        estimated_cost_usd: settings.cost.prices.cost(&llm_stats.tokens_by_model()),
        result,
    })
}

/// At most this many calls may wait on the rate limits at once, so none waits past the sampling
/// timeout: half the timeout's worth of requests (and of output tokens, at `max_tokens` each).
fn calls_in_flight(concurrency: usize, limits: &RateLimits, tool: &ToolSettings) -> usize {
    let half_timeout_minutes = tool.sampling_timeout.as_secs_f64() / 120.0;
    let requests_per_minute = match limits.requests {
        RequestRate::Unlimited => None,
        RequestRate::Fixed(rpm) => Some(f64::from(rpm.get())),
        RequestRate::Adaptive => Some(f64::from(ADAPTIVE_START_RPM)),
    };
    let output_requests_per_minute = limits
        .output_tokens_per_minute
        .map(|tpm| f64::from(tpm.get()) / f64::from(tool.max_tokens.max(1)));
    [requests_per_minute, output_requests_per_minute]
        .into_iter()
        .flatten()
        .map(|per_minute| ((per_minute * half_timeout_minutes) as usize).max(1))
        .fold(concurrency.max(1), usize::min)
}

fn new_job_id() -> String {
    format!("{:016x}", rand::rng().random::<u64>())
}

fn input_identity(input: &JobInput) -> anyhow::Result<Option<InputIdentity>> {
    match input {
        JobInput::Log(InputSource::Stdin) => Ok(None),
        JobInput::Log(InputSource::File(path)) | JobInput::Failures(path) => {
            InputIdentity::of_file(path).map(Some)
        }
    }
}

/// Checks the checkpoint against the request and, when resuming, cuts the report back to it.
fn prepare_resume(
    settings: &JobSettings,
    checkpoint_path: &Path,
    identity: Option<&InputIdentity>,
) -> anyhow::Result<Option<Checkpoint>> {
    let existing = Checkpoint::load(checkpoint_path)?;
    if !settings.resume {
        if existing.is_some() && settings.server.is_none() {
            anyhow::bail!(
                "an unfinished job left a checkpoint at '{}': add --resume to continue it, or \
                 delete that file to start over",
                checkpoint_path.display()
            );
        }
        return Ok(None);
    }
    anyhow::ensure!(
        settings.server.is_none(),
        "--resume needs the report on this machine: it works with the built-in server, not with --server"
    );
    let identity =
        identity.ok_or_else(|| anyhow::anyhow!("a job reading stdin cannot be resumed"))?;
    let checkpoint = existing.ok_or_else(|| {
        anyhow::anyhow!(
            "nothing to resume: there is no checkpoint at '{}'",
            checkpoint_path.display()
        )
    })?;
    checkpoint
        .input
        .check_continued_by(identity, checkpoint_path)?;
    checkpoint.truncate_report(&settings.report)?;
    eprintln!(
        "resuming at line {} ({} entries already archived, {} failed)",
        checkpoint.next_line, checkpoint.counters.archived, checkpoint.counters.failed
    );
    Ok(Some(checkpoint))
}

type InputChannel = mpsc::Receiver<Result<InputItem, InputError>>;

fn open_input(input: &JobInput, max_line_bytes: usize) -> anyhow::Result<InputChannel> {
    const CAPACITY: usize = 1024;
    match input {
        JobInput::Log(source) => Ok(spawn_reader(source.clone(), max_line_bytes, CAPACITY)?),
        JobInput::Failures(path) => {
            let mut rows = read_failures(path)?;
            rows.sort_by_key(|row| row.line);
            rows.dedup_by_key(|row| row.line);
            let (sender, receiver) = mpsc::channel(CAPACITY);
            tokio::spawn(async move {
                for row in rows {
                    let entry = Entry {
                        line_number: row.line,
                        text: row.raw,
                        invalid_utf8: false,
                        truncated: false,
                    };
                    if sender.send(Ok(InputItem::Entry(entry))).await.is_err() {
                        return;
                    }
                }
            });
            Ok(receiver)
        }
    }
}

/// The MCP server run in this process for a job, on an ephemeral loopback port.
struct EmbeddedServer {
    http: HttpServer,
    writer: ReportWriter,
    writer_done: tokio::task::JoinHandle<()>,
}

impl EmbeddedServer {
    async fn start(settings: &JobSettings, auth_token: AuthToken) -> anyhow::Result<Self> {
        let (writer, writer_done) = ReportWriter::start(
            &settings.report,
            OrderPolicy::job_owned(),
            settings.report_format,
        )
        .await?;
        let http_settings = HttpServerSettings::loopback(&settings.tool, Some(auth_token));
        let server = LogArchiverServer::new(settings.tool.clone(), writer.clone());
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let http = HttpServer::start(listener, server, http_settings)?;
        Ok(Self {
            http,
            writer,
            writer_done,
        })
    }

    async fn stop(self) {
        let _ = self.http.stop().await;
        self.writer.stop();
        let _ = self.writer_done.await;
    }
}
