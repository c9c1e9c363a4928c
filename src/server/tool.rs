//! The `process_log_entry` tool and its batched form `process_log_entries`: ask the calling
//! client's LLM (MCP sampling) to explain each log line, then append the line and its
//! explanation to the report through the writer actor, in the job's input order when the call
//! carries ordering information (see `protocol`). Each line of a batch is archived or fails on
//! its own.

// Sampling is deprecated in the newest protocol revision but is what classic clients speak.
#![allow(deprecated)]

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use rmcp::handler::server::tool::{InputResponses as ToolInputResponses, RequestState, ToolRouter};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResponse, CallToolResult, ContentBlock, CreateMessageRequestParams,
    CreateMessageResult, CustomRequest, CustomResult, ErrorCode, Implementation,
    InputRequiredResult, ProtocolVersion, RequestMetaObject, Role, SamplingMessage,
    SamplingMessageContentBlock, ServerCapabilities, ServerInfo,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, tool, tool_handler, tool_router};

use super::prompt::{PromptTemplate, SYSTEM_PROMPT};
use super::sampling::{Answers, Question, Reply, answer_text, answers};
use crate::protocol::{
    ANSWER_META_KEY, AnswerNote, BATCH_META_KEY, BatchOutcomes, BatchPlaces, ENTRY_META_KEY,
    EntryOrder, EntryOutcome, EntrySource, FAILURE_META_KEY, FailureDetail, ORDER_META_KEY,
    SKIP_REQUEST, SkipReply, batch_answer_key, meta_with, read_meta,
};
use crate::redact::Redactor;
use crate::report::{EntryRecord, ReportWriter, ReportWriterError, Resolution};

/// The server's name in the MCP handshake.
pub const SERVER_NAME: &str = "Log-Archiver";
/// The tool's name.
pub const TOOL_NAME: &str = "process_log_entry";
/// The batched tool's name: several lines in one call, each archived or failed on its own.
pub const BATCH_TOOL_NAME: &str = "process_log_entries";
/// The most lines one `process_log_entries` call may carry.
pub const MAX_BATCH_LINES: usize = 256;
/// The key under which `process_log_entry` asks for its explanation on 2026-07-28.
const SINGLE_ANSWER_KEY: &str = "explanation";

/// How the tool asks for explanations.
#[derive(Debug, Clone)]
pub struct ToolSettings {
    pub prompt: PromptTemplate,
    pub max_tokens: u32,
    /// How long to wait for the client's answer to one sampling request.
    pub sampling_timeout: Duration,
    /// The longest `log_line` accepted, in bytes.
    pub max_log_line_bytes: usize,
    /// What is masked in a line before it goes into the prompt.
    pub redactor: Redactor,
    /// Which line the report keeps.
    pub report_line: ReportLine,
    /// The newest MCP protocol revision served (2026-07-28 unless limited).
    pub newest_protocol: ProtocolVersion,
}

/// Which form of a log line the report keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportLine {
    /// The line as the LLM saw it, secrets masked.
    #[default]
    Redacted,
    /// The line as it was read.
    Raw,
}

/// The default limit on one `log_line`.
pub const DEFAULT_MAX_LOG_LINE_BYTES: usize = 1024 * 1024;

impl ToolSettings {
    /// The largest request body that can carry the longest accepted `log_line`, even when
    /// every byte of it must be escaped in JSON.
    pub fn max_request_bytes(&self) -> usize {
        const FLOOR: usize = 4 * 1024 * 1024;
        self.max_log_line_bytes
            .saturating_mul(6)
            .saturating_add(64 * 1024)
            .max(FLOOR)
    }
}

impl Default for ToolSettings {
    fn default() -> Self {
        Self {
            prompt: PromptTemplate::default(),
            max_tokens: 100,
            sampling_timeout: Duration::from_secs(120),
            max_log_line_bytes: DEFAULT_MAX_LOG_LINE_BYTES,
            redactor: Redactor::default(),
            report_line: ReportLine::default(),
            newest_protocol: ProtocolVersion::V_2026_07_28,
        }
    }
}

/// The arguments of `process_log_entry`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub struct ProcessLogEntryArgs {
    /// One raw log line (or entry) to explain and archive in the incident report.
    pub log_line: String,
}

/// The arguments of `process_log_entries`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub struct ProcessLogEntriesArgs {
    /// Raw log lines (or entries) to explain and archive, in order; at most 256.
    #[schemars(length(min = 1, max = 256))]
    pub log_lines: Vec<String>,
}

/// The MCP server handler. Cheap to clone: one per session, all sharing one report writer.
#[derive(Clone)]
pub struct LogArchiverServer {
    settings: Arc<ToolSettings>,
    writer: ReportWriter,
    report_name: Arc<str>,
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl LogArchiverServer {
    pub fn new(settings: ToolSettings, writer: ReportWriter) -> Self {
        let report_name = writer
            .path()
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| writer.path().display().to_string());
        Self {
            settings: Arc::new(settings),
            report_name: report_name.into(),
            writer,
            tool_router: Self::tool_router(),
        }
    }

    #[tool(
        name = "process_log_entry",
        description = "Explain one log line with the client's LLM (via MCP sampling) and append \
                       the line and its explanation to the server's incident report."
    )]
    async fn process_log_entry(
        &self,
        Parameters(args): Parameters<ProcessLogEntryArgs>,
        context: RequestContext<RoleServer>,
        RequestState(request_state): RequestState,
        ToolInputResponses(responses): ToolInputResponses,
    ) -> Result<CallToolResponse, ErrorData> {
        let line = Line {
            text: args.log_line,
            order: read_meta(&context.meta, ORDER_META_KEY),
            source: read_meta(&context.meta, ENTRY_META_KEY),
            answer_key: SINGLE_ANSWER_KEY.to_string(),
        };
        let round = Round {
            request_state,
            responses,
        };
        // A failed entry of a job is settled by the job's client (it may still retry it), which
        // then releases its number; the server only reports the failure.
        Ok(match self.process(&context, round, vec![line]).await {
            Step::NeedsAnswers(input_required) => input_required.into(),
            Step::Done(mut outcomes) => match outcomes.pop().expect("one line, one outcome") {
                Ok(()) => CallToolResult::success(vec![ContentBlock::text(format!(
                    "Success: Log analyzed and appended to '{}'.",
                    self.report_name
                ))])
                .into(),
                Err(failure) => failure.into_result().into(),
            },
        })
    }

    #[tool(
        name = "process_log_entries",
        description = "Explain several log lines with the client's LLM (via MCP sampling, one \
                       request per line) and append each line and its explanation to the \
                       server's incident report. Each line is archived or fails on its own; the \
                       structured result lists one outcome per line, in order."
    )]
    async fn process_log_entries(
        &self,
        Parameters(args): Parameters<ProcessLogEntriesArgs>,
        context: RequestContext<RoleServer>,
        RequestState(request_state): RequestState,
        ToolInputResponses(responses): ToolInputResponses,
    ) -> Result<CallToolResponse, ErrorData> {
        // A wrong number of lines is the caller's input to fix: a tool error, as MCP classes
        // input validation, not a protocol error.
        if let Err(failure) = check_batch_size(args.log_lines.len()) {
            return Ok(failure.into_result().into());
        }
        let lines = batch_lines(args.log_lines, &context.meta)?;
        let round = Round {
            request_state,
            responses,
        };
        Ok(match self.process(&context, round, lines).await {
            Step::NeedsAnswers(input_required) => input_required.into(),
            Step::Done(outcomes) => self.batch_result(outcomes).into(),
        })
    }
}

/// One line of a call and what it tells beyond its text.
struct Line {
    text: String,
    order: Option<EntryOrder>,
    source: Option<EntrySource>,
    /// The key its explanation is asked and answered under on 2026-07-28.
    answer_key: String,
}

/// What a 2026-07-28 client brings back from the previous round of a call.
struct Round {
    request_state: Option<String>,
    responses: Option<rmcp::model::InputResponses>,
}

/// What the report keeps of a line while its explanation is asked for.
struct Pending {
    kept_line: String,
    order: Option<EntryOrder>,
    source: Option<EntrySource>,
}

/// How far one call got.
enum Step {
    /// Every line is archived or failed, in the call's order.
    Done(Vec<Result<(), ToolFailure>>),
    /// A 2026-07-28 client must answer these sampling requests and call again.
    NeedsAnswers(InputRequiredResult),
}

/// Refuses a `process_log_entries` call without lines or with more than it takes.
fn check_batch_size(lines: usize) -> Result<(), ToolFailure> {
    if (1..=MAX_BATCH_LINES).contains(&lines) {
        return Ok(());
    }
    Err(ToolFailure::new(
        "invalid_arguments",
        None,
        format!(
            "log_lines must hold 1 to {MAX_BATCH_LINES} lines, not {lines}; nothing was archived."
        ),
    ))
}

/// The lines of a `process_log_entries` call, each with its place from the call's `_meta`.
fn batch_lines(log_lines: Vec<String>, meta: &RequestMetaObject) -> Result<Vec<Line>, ErrorData> {
    let places: Option<BatchPlaces> = match meta.0.get(BATCH_META_KEY) {
        None => None,
        Some(value) => Some(serde_json::from_value(value.clone()).map_err(|error| {
            ErrorData::invalid_params(
                format!("the _meta '{BATCH_META_KEY}' is invalid: {error}"),
                None,
            )
        })?),
    };
    if let Some(places) = &places
        && places.entries.len() != log_lines.len()
    {
        return Err(ErrorData::invalid_params(
            format!(
                "the _meta '{BATCH_META_KEY}' lists {} places for {} log lines",
                places.entries.len(),
                log_lines.len()
            ),
            None,
        ));
    }
    Ok(log_lines
        .into_iter()
        .enumerate()
        .map(|(index, text)| {
            let (order, source) = match &places {
                Some(places) => {
                    let place = places.entries[index];
                    let order = EntryOrder {
                        job: places.job.clone(),
                        seq: place.seq,
                    };
                    let source = EntrySource {
                        source: places.source.clone(),
                        line: place.line,
                    };
                    (Some(order), Some(source))
                }
                None => (None, None),
            };
            Line {
                text,
                order,
                source,
                answer_key: batch_answer_key(index),
            }
        })
        .collect())
}

impl LogArchiverServer {
    /// Checks each line's size, masks its secrets, has the lines explained (all at once) and
    /// archives each record; a line that fails does not stop the others.
    async fn process(
        &self,
        context: &RequestContext<RoleServer>,
        round: Round,
        lines: Vec<Line>,
    ) -> Step {
        let mut questions = Vec::with_capacity(lines.len());
        let prepared: Vec<Result<Pending, ToolFailure>> = lines
            .into_iter()
            .map(|line| {
                let (question, pending) = self.prepare(line)?;
                questions.push(question);
                Ok(pending)
            })
            .collect();
        let timeout = self.settings.sampling_timeout;
        let replies = answers(
            context,
            round.request_state,
            round.responses,
            questions,
            timeout,
        )
        .await;
        let mut replies = match replies {
            Ok(Answers::Ready(replies)) => replies.into_iter(),
            Ok(Answers::Needed(input_required)) => return Step::NeedsAnswers(input_required),
            Err(failure) => {
                let failed = prepared
                    .into_iter()
                    .map(|line| line.and(Err(failure.clone())))
                    .collect();
                return Step::Done(failed);
            }
        };
        let mut outcomes = Vec::with_capacity(prepared.len());
        for line in prepared {
            let outcome = match line {
                Ok(line) => {
                    let reply = replies.next().expect("one reply per question");
                    self.archive_reply(line, reply).await
                }
                Err(failure) => Err(failure),
            };
            outcomes.push(outcome);
        }
        Step::Done(outcomes)
    }

    /// Checks a line's size and masks its secrets, making the request that explains it.
    fn prepare(&self, line: Line) -> Result<(Question, Pending), ToolFailure> {
        self.check_size(&line.text)?;
        let redacted = self.settings.redactor.redact(&line.text);
        let params = self.sampling_params(&redacted);
        let kept_line = match self.settings.report_line {
            ReportLine::Redacted => redacted.into_owned(),
            ReportLine::Raw => line.text,
        };
        let question = Question {
            key: line.answer_key,
            params,
        };
        let pending = Pending {
            kept_line,
            order: line.order,
            source: line.source,
        };
        Ok((question, pending))
    }

    /// Archives the record of a line the client answered.
    async fn archive_reply(
        &self,
        line: Pending,
        reply: Result<Reply, ToolFailure>,
    ) -> Result<(), ToolFailure> {
        let reply = reply?;
        let explanation = Explanation::from_answer(*reply.result, reply.waited)?;
        let record = explanation.into_record(line.source, line.kept_line);
        self.archive(line.order.as_ref(), self.writer.format().render(&record))
            .await
    }

    /// The result of a `process_log_entries` call: a summary, and one outcome per line.
    fn batch_result(&self, outcomes: Vec<Result<(), ToolFailure>>) -> CallToolResult {
        let total = outcomes.len();
        let archived = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
        let entries = outcomes
            .into_iter()
            .map(|outcome| match outcome {
                Ok(()) => EntryOutcome::Archived,
                Err(failure) => EntryOutcome::Failed {
                    message: failure.message,
                    detail: failure.detail,
                },
            })
            .collect();
        let mut result = CallToolResult::success(vec![ContentBlock::text(format!(
            "{archived} of {total} log lines analyzed and appended to '{}'.",
            self.report_name
        ))]);
        result.structured_content =
            Some(serde_json::to_value(BatchOutcomes { entries }).expect("outcomes serialize"));
        result.is_error = Some(archived == 0);
        result
    }

    /// The sampling request that asks for an explanation of `log_line`.
    fn sampling_params(&self, log_line: &str) -> CreateMessageRequestParams {
        let message = SamplingMessage::new(
            Role::User,
            SamplingMessageContentBlock::text(self.settings.prompt.render(log_line)),
        );
        CreateMessageRequestParams::new(vec![message], self.settings.max_tokens)
            .with_system_prompt(SYSTEM_PROMPT)
    }

    /// Refuses a line longer than the configured limit.
    fn check_size(&self, log_line: &str) -> Result<(), ToolFailure> {
        let limit = self.settings.max_log_line_bytes;
        if log_line.len() <= limit {
            return Ok(());
        }
        Err(ToolFailure::new(
            "log_line_too_long",
            None,
            format!(
                "The log line is {} bytes, more than this server's limit of {limit} bytes \
                 (--max-log-line-bytes); nothing was archived.",
                log_line.len()
            ),
        ))
    }

    pub(super) fn settings(&self) -> &ToolSettings {
        &self.settings
    }

    pub(super) fn tool_router_mut(&mut self) -> &mut ToolRouter<Self> {
        &mut self.tool_router
    }

    /// Hands a record to the writer: in the job's order when the call carries one.
    async fn archive(&self, order: Option<&EntryOrder>, record: String) -> Result<(), ToolFailure> {
        let write_failed = |error: ReportWriterError| {
            ToolFailure::new(
                "report_write",
                None,
                format!("The explanation could not be archived: {error}"),
            )
        };
        let Some(order) = order else {
            return self.writer.append(record).await.map_err(write_failed);
        };
        match self
            .writer
            .resolve(&order.job, order.seq, Some(record))
            .await
        {
            Ok(Resolution::Accepted | Resolution::AlreadyWritten) => Ok(()),
            Ok(Resolution::AlreadySkipped) => Err(ToolFailure::new(
                "entry_released",
                None,
                "The job had already given up on this entry; nothing was archived.",
            )),
            Ok(Resolution::OutOfRange) => Err(ToolFailure::new(
                "order_out_of_range",
                None,
                format!(
                    "Entry number {} is too far ahead of the job's earlier entries; nothing was archived.",
                    order.seq
                ),
            )),
            Err(error) => Err(write_failed(error)),
        }
    }
}

/// The client's answer for one line, and what is known of how it was produced.
struct Explanation {
    analysis: String,
    model: String,
    /// How long the answer took: measured here when the server waited for it, else as the
    /// client told.
    latency_ms: Option<u64>,
    /// What the client told of the answer's cost (our own client does).
    note: Option<AnswerNote>,
}

impl Explanation {
    /// Reads a sampling answer, refusing one without text.
    fn from_answer(
        answer: CreateMessageResult,
        waited: Option<Duration>,
    ) -> Result<Self, ToolFailure> {
        let note: Option<AnswerNote> = answer
            .message
            .meta
            .as_ref()
            .and_then(|meta| read_meta(meta, ANSWER_META_KEY));
        let analysis = clean_analysis(&answer_text(answer.message));
        if analysis.is_empty() {
            return Err(ToolFailure::new(
                "empty_analysis",
                None,
                "The client's LLM returned no text for this log line; nothing was archived.",
            ));
        }
        let latency_ms = match waited {
            Some(waited) => Some(u64::try_from(waited.as_millis()).unwrap_or(u64::MAX)),
            None => note.as_ref().map(|note| note.latency_ms),
        };
        Ok(Self {
            analysis,
            model: answer.model,
            latency_ms,
            note,
        })
    }

    fn into_record(self, source: Option<EntrySource>, raw: String) -> EntryRecord {
        let note = self.note;
        EntryRecord {
            line: source.as_ref().map(|source| source.line),
            source: source.and_then(|source| source.source),
            raw,
            analysis: self.analysis,
            model: Some(self.model),
            input_tokens: note.as_ref().map(|note| note.input_tokens),
            output_tokens: note.as_ref().map(|note| note.output_tokens),
            latency_ms: self.latency_ms,
            cached: note.as_ref().map(|note| note.cached),
            template_id: note.as_ref().and_then(|note| note.template_id.clone()),
            template: note.and_then(|note| note.template),
        }
    }
}

/// A failed explanation: the message the caller reads and its classification.
#[derive(Clone)]
pub(super) struct ToolFailure {
    pub(super) message: String,
    detail: FailureDetail,
}

impl ToolFailure {
    pub(super) fn new(kind: &str, attempts: Option<u32>, message: impl Into<String>) -> Self {
        Self::classified(
            message.into(),
            FailureDetail {
                kind: kind.to_string(),
                attempts,
            },
        )
    }

    pub(super) fn classified(message: String, detail: FailureDetail) -> Self {
        Self { message, detail }
    }

    /// The tool result that reports this failure, classified in its `_meta`.
    fn into_result(self) -> CallToolResult {
        let mut result = CallToolResult::error(vec![ContentBlock::text(self.message)]);
        result.meta = Some(meta_with(FAILURE_META_KEY, &self.detail));
        result
    }
}

/// The longest analysis kept; an LLM that rambles is cut.
const MAX_ANALYSIS_CHARS: usize = 2000;

/// An LLM's answer made fit for the report: control characters and line breaks become spaces,
/// runs of whitespace one space, and the length is capped.
fn clean_analysis(text: &str) -> String {
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|word| !word.is_empty())
        .collect();
    let mut cleaned = words.join(" ");
    if cleaned.chars().count() > MAX_ANALYSIS_CHARS {
        cleaned = cleaned.chars().take(MAX_ANALYSIS_CHARS).collect();
        cleaned.push('…');
    }
    cleaned
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for LogArchiverServer {
    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(ProtocolVersion::known_up_to(&self.settings.newest_protocol))
    }

    fn get_info(&self) -> ServerInfo {
        ServerInfo::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(SERVER_NAME, env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Call process_log_entry with one log line (or process_log_entries with several); \
                 the server asks your LLM to explain each line (sampling) and archives both in \
                 its incident report.",
            )
    }

    async fn on_custom_request(
        &self,
        request: CustomRequest,
        _context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, ErrorData> {
        if request.method != SKIP_REQUEST {
            return Err(ErrorData::new(
                ErrorCode::METHOD_NOT_FOUND,
                request.method,
                None,
            ));
        }
        let order: EntryOrder = request
            .params_as()
            .ok()
            .flatten()
            .ok_or_else(|| ErrorData::invalid_params("a skip needs {job, seq}", None))?;
        let resolution = self
            .writer
            .resolve(&order.job, order.seq, None)
            .await
            .map_err(|error| ErrorData::internal_error(error.to_string(), None))?;
        let reply = SkipReply {
            already_written: resolution == Resolution::AlreadyWritten,
        };
        Ok(CustomResult::new(
            serde_json::to_value(reply).expect("replies serialize"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_cleaned_and_capped() {
        assert_eq!(
            clean_analysis("  The disk\n\tis \u{1b}[31mfull. \r\n"),
            "The disk is [31mfull."
        );
        let long = "word ".repeat(1000);
        let cleaned = clean_analysis(&long);
        assert_eq!(cleaned.chars().count(), MAX_ANALYSIS_CHARS + 1);
        assert!(cleaned.ends_with('…'));
        assert_eq!(clean_analysis(" \n "), "");
    }
}
