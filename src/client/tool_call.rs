//! Calls `process_log_entry`, its batched form `process_log_entries`, or any other tool, on a
//! server and reads the outcome.

use std::collections::HashMap;

use rmcp::ErrorData;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, InputRequest, InputResponses,
    JsonObject, RequestMetaObject,
};
use rmcp::service::ServiceError;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::connect::ClientSession;
use crate::protocol::{
    BatchOutcomes, EntryOutcome, FailureDetail, batch_answer_index, failure_in_error_data,
};
use crate::server::{BATCH_TOOL_NAME, TOOL_NAME};

/// What the server said about one log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutcome {
    /// The tool's text (its success message, or the reason it failed).
    pub text: String,
    /// Whether the tool reported an error.
    pub is_error: bool,
}

impl From<CallToolResult> for ToolOutcome {
    fn from(result: CallToolResult) -> Self {
        let text = result
            .content
            .iter()
            .filter_map(|block| block.as_text().map(|text| text.text.as_str()))
            .collect::<Vec<_>>()
            .join("\n");
        Self {
            text,
            is_error: result.is_error.unwrap_or(false),
        }
    }
}

/// Sends one log line to the server's `process_log_entry` tool. An answer this client failed
/// to give (on 2026-07-28 it answers between two rounds of the call) is a failed outcome too.
pub async fn process_log_entry(
    session: &ClientSession,
    log_line: &str,
) -> anyhow::Result<ToolOutcome> {
    match process_log_entry_with_meta(session, log_line, RequestMetaObject::default()).await {
        Ok(result) => Ok(result.into()),
        Err(ServiceError::McpError(error)) if local_sampling_failure(&error).is_some() => {
            Ok(ToolOutcome {
                text: format!(
                    "The sampling request failed: {}; nothing was archived.",
                    error.message
                ),
                is_error: true,
            })
        }
        Err(error) => Err(anyhow::anyhow!("the call to {TOOL_NAME} failed: {error}")),
    }
}

/// The classification this client's sampling handler attached to an error, when the error is
/// its own failed answer to a sampling request (rather than the server refusing the call).
pub fn local_sampling_failure(error: &ErrorData) -> Option<FailureDetail> {
    failure_in_error_data(error.data.as_ref())
}

/// Sends one log line with request `_meta` (such as its place in a job); returns the raw result.
pub async fn process_log_entry_with_meta(
    session: &ClientSession,
    log_line: &str,
    meta: RequestMetaObject,
) -> Result<CallToolResult, ServiceError> {
    let arguments = json!({ "log_line": log_line });
    let mut params = CallToolRequestParams::new(TOOL_NAME).with_arguments(
        arguments
            .as_object()
            .cloned()
            .expect("arguments are an object"),
    );
    if !meta.0.is_empty() {
        params.meta = Some(meta);
    }
    call(session, params).await
}

/// Sends several log lines in one `process_log_entries` call (with request `_meta` giving their
/// places) and returns one outcome per line, in order. On 2026-07-28 the server asks for every
/// explanation at once; this client answers them all concurrently (only sampling requests, at
/// most one per line) and calls again with the answers it got, so one failed answer fails only
/// its own line (with the classification its sampling handler gave it). A server that asks
/// again after that, or refuses the answers, fails every line (`mcp_error`), not the session.
pub async fn process_log_entries(
    session: &ClientSession,
    log_lines: &[String],
    meta: RequestMetaObject,
) -> Result<Vec<EntryOutcome>, ServiceError> {
    let _in_progress = session.service().call_started();
    let mut params = CallToolRequestParams::new(BATCH_TOOL_NAME).with_arguments(
        JsonObject::from_iter([("log_lines".to_string(), json!(log_lines))]),
    );
    params.meta = Some(meta);
    let asked = match session.call_tool_once(params.clone()).await? {
        CallToolResponse::Complete(result) => return Ok(batch_outcomes(result, log_lines.len())),
        CallToolResponse::InputRequired(asked) => asked,
        _ => return Err(ServiceError::UnexpectedResponse),
    };
    let requests = asked.input_requests.unwrap_or_default();
    let (answers, local_failures) = answer_all(session, requests, log_lines.len()).await;
    params.input_responses = Some(answers);
    params.request_state = asked.request_state;
    let mut outcomes = match session.call_tool_once(params).await {
        Ok(CallToolResponse::Complete(result)) => batch_outcomes(result, log_lines.len()),
        Ok(_) => every_line_failed(
            "mcp_error",
            format!("the server asked for more input after {BATCH_TOOL_NAME} was answered"),
            log_lines.len(),
        ),
        Err(ServiceError::McpError(error)) => every_line_failed(
            "mcp_error",
            format!("the MCP server refused the answers: {}", error.message),
            log_lines.len(),
        ),
        Err(error) => return Err(error),
    };
    // A line whose answer failed here fails for that reason, whatever the server made of it.
    for (index, failure) in local_failures {
        if let Some(outcome @ EntryOutcome::Failed { .. }) = outcomes.get_mut(index) {
            *outcome = failure;
        }
    }
    Ok(outcomes)
}

/// The same failure for each of `lines` lines; nothing is archived for them.
fn every_line_failed(kind: &str, message: String, lines: usize) -> Vec<EntryOutcome> {
    let failure = EntryOutcome::Failed {
        message: format!("{message}; nothing was archived"),
        detail: FailureDetail {
            kind: kind.to_string(),
            attempts: None,
        },
    };
    vec![failure; lines]
}

/// Answers the sampling requests of an input-required result at once: those whose key names
/// one of the call's `lines` (anything else is left unanswered, so a server cannot spend more
/// than one LLM request per line). Returns the answers by key, and the failed ones by line.
async fn answer_all(
    session: &ClientSession,
    requests: rmcp::model::InputRequests,
    lines: usize,
) -> (InputResponses, HashMap<usize, EntryOutcome>) {
    let handler = session.service();
    // Nothing cancels an answer but the call itself, whose future is dropped on its timeout.
    let not_cancelled_by_server = CancellationToken::new();
    let answerable = requests.into_iter().filter_map(|(key, request)| {
        let index = batch_answer_index(&key).filter(|index| *index < lines)?;
        match request {
            InputRequest::CreateMessage(request) => Some((key, index, request.params)),
            _ => None,
        }
    });
    let answered = futures::future::join_all(answerable.map(|(key, index, params)| {
        let not_cancelled_by_server = &not_cancelled_by_server;
        async move {
            let answer = handler.answer(params, not_cancelled_by_server).await;
            (key, index, answer)
        }
    }))
    .await;
    let mut answers = InputResponses::new();
    let mut failures = HashMap::new();
    for (key, index, answer) in answered {
        match answer {
            Ok(result) => {
                let value = serde_json::to_value(result).expect("sampling results serialize");
                answers.insert(key, value);
            }
            Err(error) => {
                let detail = local_sampling_failure(&error).unwrap_or(FailureDetail {
                    kind: "sampling_failed".into(),
                    attempts: None,
                });
                let message = format!("the sampling request failed: {}", error.message);
                failures.insert(index, EntryOutcome::Failed { message, detail });
            }
        }
    }
    (answers, failures)
}

/// The per-line outcomes of a `process_log_entries` result; a result that does not list one
/// outcome per line fails every line (none is taken as archived unless the server says so).
fn batch_outcomes(mut result: CallToolResult, lines: usize) -> Vec<EntryOutcome> {
    let listed = result
        .structured_content
        .take()
        .and_then(|content| serde_json::from_value::<BatchOutcomes>(content).ok())
        .map(|outcomes| outcomes.entries)
        .filter(|entries| entries.len() == lines);
    if let Some(entries) = listed {
        return entries;
    }
    let outcome = ToolOutcome::from(result);
    every_line_failed(
        "tool_error",
        format!(
            "the server's answer to {BATCH_TOOL_NAME} does not list one outcome per line: {}",
            outcome.text
        ),
        lines,
    )
}

/// Calls any tool of the server.
pub async fn call_tool(
    session: &ClientSession,
    name: &str,
    arguments: JsonObject,
) -> Result<CallToolResult, ServiceError> {
    let params = CallToolRequestParams::new(name.to_string()).with_arguments(arguments);
    call(session, params).await
}

/// Makes a tool call, during which the session answers the server's sampling requests.
async fn call(
    session: &ClientSession,
    params: CallToolRequestParams,
) -> Result<CallToolResult, ServiceError> {
    let _in_progress = session.service().call_started();
    session.call_tool(params).await
}
