//! Calls `process_log_entry`, or any other tool, on a server and reads the outcome.

use rmcp::ErrorData;
use rmcp::model::{CallToolRequestParams, CallToolResult, JsonObject, RequestMetaObject};
use rmcp::service::ServiceError;
use serde_json::json;

use super::connect::ClientSession;
use crate::protocol::{FailureDetail, failure_in_error_data};
use crate::server::TOOL_NAME;

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
