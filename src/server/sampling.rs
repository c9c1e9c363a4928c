//! How a tool gets an answer from the client's LLM, on either protocol revision:
//! - up to 2025-11-25 (the classic handshake), by sending `sampling/createMessage` to the client
//!   from inside the tool call and waiting for the answer;
//! - on 2026-07-28, where a server may not send requests of its own, by returning an
//!   input-required result that asks for the sampling; the client answers it and calls the tool
//!   again with the answer attached, which the tool then reads.

// Sampling is deprecated in the newest protocol revision but is what classic clients speak.
#![allow(deprecated)]

use std::time::Duration;

use rmcp::model::{
    ClientResult, CreateMessageRequest, CreateMessageRequestParams, CreateMessageResult,
    InputRequest, InputRequests, InputRequiredResult, InputResponses, ProtocolVersion,
    SamplingMessage, SamplingMessageContentBlock, ServerRequest,
};
use rmcp::service::{PeerRequestOptions, RequestContext, ServiceError};
use rmcp::{Peer, RoleServer};

use super::tool::ToolFailure;
use crate::protocol::FailureDetail;

/// The key of the sampling request in an input-required result, and of its answer.
const ANSWER_KEY: &str = "explanation";
/// The request state of an input-required result, echoed by the client on the next round.
const REQUEST_STATE: &str = "log-archiver/sampling/v1";

/// Where this round of a tool call stands with its sampling request.
pub(super) enum SamplingRound {
    /// A classic client: ask it from inside the call.
    Classic,
    /// A 2026-07-28 client that has not answered yet: return an input-required result.
    Ask,
    /// A 2026-07-28 client's answer, attached to its new call.
    Answered(Box<CreateMessageResult>),
}

impl SamplingRound {
    /// Reads the round from the call's protocol revision, request state and input responses;
    /// refuses a client that cannot sample, and an answer that is not a sampling result.
    pub(super) fn of(
        context: &RequestContext<RoleServer>,
        request_state: Option<String>,
        responses: Option<InputResponses>,
    ) -> Result<Self, ToolFailure> {
        let declares_sampling = context
            .client_capabilities()
            .is_some_and(|capabilities| capabilities.sampling.is_some());
        if !declares_sampling {
            return Err(ToolFailure::new(
                "sampling_unsupported",
                None,
                "The client did not declare the MCP sampling capability, so the log line cannot \
                 be explained: connect with a client that supports sampling.",
            ));
        }
        let modern = context
            .protocol_version()
            .is_some_and(|version| version >= ProtocolVersion::V_2026_07_28);
        if !modern {
            return Ok(Self::Classic);
        }
        let answer = responses.and_then(|mut responses| responses.remove(ANSWER_KEY));
        let Some(answer) = answer else {
            return Ok(Self::Ask);
        };
        if request_state.as_deref() != Some(REQUEST_STATE) {
            return Err(ToolFailure::new(
                "sampling_failed",
                None,
                "The call carries an answer but not the request state this server gave; nothing \
                 was archived.",
            ));
        }
        serde_json::from_value(answer)
            .map(|answer| Self::Answered(Box::new(answer)))
            .map_err(|error| {
            ToolFailure::new(
                "sampling_failed",
                None,
                format!(
                    "The client's answer is not a sampling result ({error}); nothing was archived."
                ),
            )
        })
    }
}

/// The input-required result that asks a 2026-07-28 client for one sampling.
pub(super) fn input_required(params: CreateMessageRequestParams) -> InputRequiredResult {
    let mut requests = InputRequests::new();
    requests.insert(
        ANSWER_KEY.to_string(),
        InputRequest::CreateMessage(CreateMessageRequest::new(params)),
    );
    InputRequiredResult::new(Some(requests), Some(REQUEST_STATE.to_string()))
}

/// Sends one sampling request to the calling client and waits at most `timeout` for its answer
/// (the classic revisions).
pub(super) async fn ask_client(
    peer: &Peer<RoleServer>,
    params: CreateMessageRequestParams,
    timeout: Duration,
) -> Result<CreateMessageResult, ToolFailure> {
    let request = ServerRequest::CreateMessageRequest(CreateMessageRequest::new(params));
    let outcome = match peer
        .send_request_with_option(request, PeerRequestOptions::with_timeout(timeout))
        .await
    {
        Ok(handle) => handle.await_response().await,
        Err(error) => Err(error),
    };
    match outcome {
        Ok(ClientResult::CreateMessageResult(result)) => Ok(*result),
        Ok(_) => Err(ToolFailure::new(
            "sampling_failed",
            None,
            "The client answered the sampling request with something other than a message.",
        )),
        Err(error) => Err(sampling_failure(&error, timeout)),
    }
}

/// The text blocks of a sampling answer, joined by spaces.
pub(super) fn answer_text(message: SamplingMessage) -> String {
    message
        .content
        .into_vec()
        .into_iter()
        .filter_map(|block| match block {
            SamplingMessageContentBlock::Text(text) => Some(text.text),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn sampling_failure(error: &ServiceError, timeout: Duration) -> ToolFailure {
    match error {
        ServiceError::Timeout { .. } => ToolFailure::new(
            "sampling_timeout",
            None,
            format!(
                "The client did not answer the sampling request within {} s; nothing was archived.",
                timeout.as_secs_f64()
            ),
        ),
        ServiceError::McpError(data) => {
            let detail = data
                .data
                .as_ref()
                .and_then(|data| serde_json::from_value::<FailureDetail>(data.clone()).ok());
            let message = format!(
                "The client's sampling request failed: {}; nothing was archived.",
                data.message
            );
            match detail {
                Some(detail) => ToolFailure::classified(message, detail),
                None => ToolFailure::new("sampling_failed", None, message),
            }
        }
        other => ToolFailure::new(
            "sampling_failed",
            None,
            format!("The sampling request failed: {other}; nothing was archived."),
        ),
    }
}
