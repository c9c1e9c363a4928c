//! How a tool gets an answer from the client's LLM, on either protocol revision:
//! - up to 2025-11-25 (the classic handshake), by sending `sampling/createMessage` to the client
//!   from inside the tool call and waiting for the answer;
//! - on 2026-07-28, where a server may not send requests of its own, by returning an
//!   input-required result that asks for the sampling; the client answers it and calls the tool
//!   again with the answer attached, which the tool then reads.
//!
//! A call may ask several questions at once (one per line of `process_log_entries`).

// Sampling is deprecated in the newest protocol revision but is what classic clients speak.
#![allow(deprecated)]

use std::time::{Duration, Instant};

use rmcp::model::{
    ClientResult, CreateMessageRequest, CreateMessageRequestParams, CreateMessageResult,
    InputRequest, InputRequests, InputRequiredResult, InputResponses, ProtocolVersion,
    SamplingMessage, SamplingMessageContentBlock, ServerRequest,
};
use rmcp::service::{PeerRequestOptions, RequestContext, ServiceError};
use rmcp::{Peer, RoleServer};
use sha2::{Digest, Sha256};

use super::tool::ToolFailure;
use crate::protocol::failure_in_error_data;

/// What starts the request state of an input-required result; the rest binds it to the requests.
const REQUEST_STATE_PREFIX: &str = "log-archiver/sampling/v2:";

/// One sampling request of a tool call, under the key its answer comes back with on
/// 2026-07-28.
pub(super) struct Question {
    pub key: String,
    pub params: CreateMessageRequestParams,
}

/// The client's answer to one question, and how long the server waited for it (not at all
/// when a 2026-07-28 client brought it with its call).
pub(super) struct Reply {
    pub result: Box<CreateMessageResult>,
    pub waited: Option<Duration>,
}

/// What asking the client's LLM gave in this round of a tool call.
pub(super) enum Answers {
    /// One answer (or failure) per question, in the questions' order.
    Ready(Vec<Result<Reply, ToolFailure>>),
    /// A 2026-07-28 client must answer these and call again.
    Needed(InputRequiredResult),
}

/// Gets the client's answers to `questions` as the call's protocol revision allows: a classic
/// client is asked from inside the call, all questions at once (waiting at most `timeout` for
/// each); a 2026-07-28 client is sent an input-required result, and its next call carries the
/// answers, whose request state must match these very questions (a question it left
/// unanswered fails alone; a call with answers but no state fails whole). A client that cannot
/// sample is refused.
pub(super) async fn answers(
    context: &RequestContext<RoleServer>,
    request_state: Option<String>,
    responses: Option<InputResponses>,
    questions: Vec<Question>,
    timeout: Duration,
) -> Result<Answers, ToolFailure> {
    if questions.is_empty() {
        return Ok(Answers::Ready(Vec::new()));
    }
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
        let asked = questions.into_iter().map(|question| async move {
            let started = Instant::now();
            let result = ask_client(&context.peer, question.params, timeout).await?;
            Ok(Reply {
                result: Box::new(result),
                waited: Some(started.elapsed()),
            })
        });
        return Ok(Answers::Ready(futures::future::join_all(asked).await));
    }
    let state = request_state_of(&questions);
    if request_state.is_none() && responses.is_none() {
        let requests: InputRequests = questions
            .into_iter()
            .map(|question| {
                let request = CreateMessageRequest::new(question.params);
                (question.key, InputRequest::CreateMessage(request))
            })
            .collect();
        return Ok(Answers::Needed(InputRequiredResult::new(
            Some(requests),
            Some(state),
        )));
    }
    if request_state.as_deref() != Some(state.as_str()) {
        return Err(ToolFailure::new(
            "sampling_failed",
            None,
            "The call carries answers, but not to the requests this server made for its log \
             lines (its request state differs); nothing was archived.",
        ));
    }
    let mut responses = responses.unwrap_or_default();
    let replies = questions
        .into_iter()
        .map(|question| match responses.remove(&question.key) {
            Some(answer) => read_answer(answer),
            None => Err(ToolFailure::new(
                "sampling_failed",
                None,
                "The client brought no answer to the sampling request for this log line; \
                 nothing was archived.",
            )),
        })
        .collect();
    Ok(Answers::Ready(replies))
}

/// Reads an answer a 2026-07-28 client brought with its call.
fn read_answer(answer: serde_json::Value) -> Result<Reply, ToolFailure> {
    let result = serde_json::from_value(answer).map_err(|error| {
        ToolFailure::new(
            "sampling_failed",
            None,
            format!(
                "The client's answer is not a sampling result ({error}); nothing was archived."
            ),
        )
    })?;
    Ok(Reply {
        result: Box::new(result),
        waited: None,
    })
}

/// The request state that binds answers to the requests they answer: a digest of the requests
/// and their keys.
fn request_state_of(questions: &[Question]) -> String {
    let mut digest = Sha256::new();
    for question in questions {
        digest.update(question.key.as_bytes());
        digest.update([0]);
        let request = serde_json::to_vec(&question.params).expect("sampling requests serialize");
        digest.update(&request);
    }
    let digest = digest.finalize();
    let hex: String = digest[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("{REQUEST_STATE_PREFIX}{hex}")
}

/// Sends one sampling request to the calling client and waits at most `timeout` for its answer
/// (the classic revisions).
async fn ask_client(
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
            let detail = failure_in_error_data(data.data.as_ref());
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
