//! The plan of a job without running it (`archive --dry-run`): reads the whole input, groups it
//! as the job would, and counts what the job would ask the LLM, with no server, no LLM call and
//! no file written.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};

use serde::Serialize;

use super::input::InputItem;
use super::multiline::fold;
use super::{JobSettings, grouping_input, learn_grouping, open_input};
use crate::dedup::DedupMode;
use crate::dedup::grouping::{GroupBook, group_stream};
use crate::llm::{ADAPTIVE_START_RPM, RequestRate};
use crate::server::SYSTEM_PROMPT;

/// How many kinds the plan lists.
const TOP_KINDS: usize = 10;
/// Characters per token, roughly, for English prose and log text.
const CHARS_PER_TOKEN: f64 = 4.0;
/// What the note on a template adds to a request, in characters (see `with_template_note`).
const TEMPLATE_NOTE_CHARS: usize = 300;

/// What a job would do.
#[derive(Debug, Clone, Serialize)]
pub struct JobPlanSummary {
    /// Input lines read, blank ones included.
    pub lines: u64,
    /// Entries the job would process (after folding and filters).
    pub entries: u64,
    pub blank: u64,
    pub filtered: u64,
    /// How entries share explanations.
    pub dedup: String,
    /// The header found (or given) for grouping.
    pub header: Option<String>,
    /// Kinds of entries, in template mode.
    pub kinds: Option<usize>,
    /// LLM requests the job would make (one per kind, per distinct line or per entry).
    pub llm_requests: u64,
    /// Input tokens of those requests, estimated from their text.
    pub estimated_input_tokens: u64,
    /// Output tokens at most (`--max-tokens` per request).
    pub max_output_tokens: u64,
    pub model: String,
    /// The cost at the model's prices, output counted at its most; `None` when the prices are
    /// unknown.
    pub estimated_cost_usd: Option<f64>,
    /// Minutes the requests take at the request limit; `None` without a limit.
    pub minutes_at_rate_limit: Option<f64>,
    /// The request limit, as set.
    pub rate_limit: String,
    pub top_kinds: Vec<PlannedKind>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedKind {
    pub count: u64,
    pub template: String,
}

/// Reads the job's input to its end and plans the job.
pub async fn plan_job(settings: &JobSettings) -> anyhow::Result<JobPlanSummary> {
    let input = open_input(&settings.input, settings.max_line_bytes)?;
    let input = fold(input, settings.multiline.clone(), settings.max_line_bytes);
    let book = GroupBook::new(1);
    let mut input = match settings.dedup {
        DedupMode::Template => group_stream(
            input,
            grouping_input(settings),
            learn_grouping(settings).await?,
            book.clone(),
        ),
        DedupMode::Off | DedupMode::Exact => input,
    };
    let prompt_chars = settings.tool.prompt.render("").len() + SYSTEM_PROMPT.len();
    let hasher = RandomState::new();
    let mut distinct_lines = HashSet::new();
    let (mut lines, mut entries, mut blank, mut filtered) = (0u64, 0u64, 0u64, 0u64);
    let mut line_chars = 0usize;
    let mut header = None;
    while let Some(item) = input.recv().await {
        match item? {
            InputItem::Blank { .. } => {
                lines += 1;
                blank += 1;
            }
            InputItem::Entry(entry) => {
                lines += 1 + entry.text.matches('\n').count() as u64;
                if !settings.filter.keeps(&entry.text) {
                    filtered += 1;
                    continue;
                }
                entries += 1;
                let text = settings
                    .tool
                    .redactor
                    .redact(entry.text.trim())
                    .into_owned();
                match settings.dedup {
                    DedupMode::Exact => {
                        if distinct_lines.insert(hasher.hash_one(&text)) {
                            line_chars += text.len();
                        }
                    }
                    DedupMode::Off => line_chars += text.len(),
                    DedupMode::Template => {}
                }
            }
        }
    }
    let (kinds, llm_requests, request_chars) = match settings.dedup {
        DedupMode::Template => {
            header = book.header_description();
            let representatives = book.representatives();
            let chars: usize = representatives
                .iter()
                .map(|text| text.len() + TEMPLATE_NOTE_CHARS)
                .sum();
            let kinds = representatives.len();
            (Some(kinds), kinds as u64, chars + kinds * prompt_chars)
        }
        DedupMode::Exact => {
            let requests = distinct_lines.len();
            (None, requests as u64, line_chars + requests * prompt_chars)
        }
        DedupMode::Off => (None, entries, line_chars + entries as usize * prompt_chars),
    };
    let estimated_input_tokens = (request_chars as f64 / CHARS_PER_TOKEN).ceil() as u64;
    let max_output_tokens = llm_requests * u64::from(settings.tool.max_tokens);
    let model = settings.cost.model.clone();
    let estimated_cost_usd = settings
        .cost
        .prices
        .prices(&model)
        .map(|prices| prices.cost(estimated_input_tokens, max_output_tokens));
    let (minutes_at_rate_limit, rate_limit) = match settings.llm.limits.requests {
        RequestRate::Unlimited => (None, "unlimited".to_string()),
        RequestRate::Fixed(rpm) => (
            Some(llm_requests as f64 / f64::from(rpm.get())),
            format!("{rpm} requests/min"),
        ),
        RequestRate::Adaptive => (
            Some(llm_requests as f64 / f64::from(ADAPTIVE_START_RPM)),
            format!(
                "auto (from {} requests/min, the lowest tier)",
                ADAPTIVE_START_RPM
            ),
        ),
    };
    Ok(JobPlanSummary {
        lines,
        entries,
        blank,
        filtered,
        dedup: format!("{:?}", settings.dedup).to_lowercase(),
        header,
        kinds,
        llm_requests,
        estimated_input_tokens,
        max_output_tokens,
        model,
        estimated_cost_usd,
        minutes_at_rate_limit,
        rate_limit,
        top_kinds: book
            .top_kinds(TOP_KINDS)
            .into_iter()
            .map(|kind| PlannedKind {
                count: kind.count,
                template: kind.template,
            })
            .collect(),
    })
}
