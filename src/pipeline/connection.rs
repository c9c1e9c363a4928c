//! Connection actors: each holds one MCP client session to the server and runs several
//! `process_log_entry` calls on it at once, reporting every outcome to the supervisor. A session
//! that breaks stops its actor; the supervisor restarts it and re-sends its entries.

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use rmcp::model::{ClientRequest, CustomRequest, RequestMetaObject, ServerResult};
use rmcp::service::ServiceError;

use super::supervisor::{CallResult, ConnectionTag, SupervisorMessage};
use crate::client::{
    ClientSession, SamplingHandler, ServerTarget, connect, local_sampling_failure,
    process_log_entry_with_meta,
};
use crate::protocol::{
    ENTRY_META_KEY, EntryOrder, EntrySource, FAILURE_META_KEY, FailureDetail, ORDER_META_KEY,
    SKIP_REQUEST, SkipReply, meta_with, read_meta,
};

/// How long opening a session (connection and MCP handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a skip request may take.
const SKIP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long closing a session may take when the connection stops.
const SESSION_CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// What a connection actor needs to open its session.
pub struct ConnectionArgs {
    pub tag: ConnectionTag,
    pub target: ServerTarget,
    pub handler: SamplingHandler,
    pub supervisor: ActorRef<SupervisorMessage>,
    pub job: String,
    /// The input's name, sent with each entry for structured reports.
    pub source: Option<Arc<str>>,
    /// Longest wait for one tool call before the session is considered wedged.
    pub call_timeout: Duration,
}

/// Work for a connection actor.
pub enum ConnectionMessage {
    /// Send entry `seq`, which starts at input line `line`, to the server.
    Process { seq: u64, line: u64, text: String },
    /// Tell the server the job gave up on entry `seq`.
    Skip { seq: u64 },
    /// A call found the session broken: stop so the supervisor reconnects.
    Broken(String),
}

pub struct ConnectionActor;

pub struct ConnectionState {
    tag: ConnectionTag,
    session: Arc<ClientSession>,
    supervisor: ActorRef<SupervisorMessage>,
    job: String,
    source: Option<Arc<str>>,
    call_timeout: Duration,
}

impl Actor for ConnectionActor {
    type Msg = ConnectionMessage;
    type State = ConnectionState;
    type Arguments = ConnectionArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        let session = tokio::time::timeout(CONNECT_TIMEOUT, connect(&args.target, args.handler))
            .await
            .map_err(|_| {
                format!(
                    "no MCP handshake with {} within {} s",
                    args.target,
                    CONNECT_TIMEOUT.as_secs()
                )
            })??;
        Ok(ConnectionState {
            tag: args.tag,
            session: Arc::new(session),
            supervisor: args.supervisor,
            job: args.job,
            source: args.source,
            call_timeout: args.call_timeout,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ConnectionMessage::Process { seq, line, text } => {
                let order = EntryOrder {
                    job: state.job.clone(),
                    seq,
                };
                let source = EntrySource {
                    source: state.source.as_deref().map(str::to_string),
                    line,
                };
                let session = state.session.clone();
                let supervisor = state.supervisor.clone();
                let tag = state.tag;
                let timeout = state.call_timeout;
                tokio::spawn(async move {
                    let mut meta = RequestMetaObject(meta_with(ORDER_META_KEY, &order));
                    meta.0.0.extend(meta_with(ENTRY_META_KEY, &source).0);
                    let call = process_log_entry_with_meta(&session, &text, meta);
                    let result = match tokio::time::timeout(timeout, call).await {
                        Ok(Ok(result)) => classify(result),
                        // An error answer: the session is fine.
                        Ok(Err(ServiceError::McpError(error))) => refused_call(&error),
                        Ok(Err(error)) => CallResult::Lost(error.to_string()),
                        Err(_) => CallResult::Lost(format!(
                            "no answer to the tool call within {} s",
                            timeout.as_secs()
                        )),
                    };
                    if let CallResult::Lost(reason) = &result {
                        let _ = myself.send_message(ConnectionMessage::Broken(reason.clone()));
                    }
                    let _ = supervisor.send_message(SupervisorMessage::Outcome {
                        seq,
                        connection: tag,
                        result,
                    });
                });
            }
            ConnectionMessage::Skip { seq } => {
                let order = EntryOrder {
                    job: state.job.clone(),
                    seq,
                };
                let params = serde_json::to_value(order).expect("orders serialize");
                let request =
                    ClientRequest::CustomRequest(CustomRequest::new(SKIP_REQUEST, Some(params)));
                let session = state.session.clone();
                let supervisor = state.supervisor.clone();
                // Other servers do not know the request: then no record got there first.
                tokio::spawn(async move {
                    let sent = session.send_request(request);
                    let already_written = match tokio::time::timeout(SKIP_TIMEOUT, sent).await {
                        Ok(Ok(ServerResult::CustomResult(result))) => result
                            .result_as::<SkipReply>()
                            .is_ok_and(|reply| reply.already_written),
                        Ok(Ok(_)) => false,
                        Ok(Err(error)) => {
                            tracing::debug!(%error, "the server refused a skip");
                            false
                        }
                        Err(_) => {
                            tracing::debug!("no answer to a skip");
                            false
                        }
                    };
                    let _ = supervisor.send_message(SupervisorMessage::SkipAnswered {
                        seq,
                        already_written,
                    });
                });
            }
            ConnectionMessage::Broken(reason) => {
                tracing::warn!(connection = state.tag.index, %reason, "MCP session broken; reconnecting");
                myself.stop(Some(reason));
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match Arc::get_mut(&mut state.session) {
            // Ends the session politely (an HTTP session is deleted on the server).
            Some(session) => {
                let _ = session.close_with_timeout(SESSION_CLOSE_TIMEOUT).await;
            }
            None => state.session.cancellation_token().cancel(),
        }
        Ok(())
    }
}

/// Classifies a call that ended with an error answer. On 2026-07-28 this client answers the
/// sampling between two rounds of the call, so a failed answer ends the call here, with the
/// classification its sampling handler attached; anything else is the server refusing the call.
fn refused_call(error: &rmcp::ErrorData) -> CallResult {
    match local_sampling_failure(error) {
        Some(detail) => CallResult::Failed {
            kind: detail.kind,
            message: format!("the sampling request failed: {}", error.message),
            llm_attempts: detail.attempts,
        },
        None => CallResult::Failed {
            kind: "mcp_error".into(),
            message: format!("the MCP server refused the call: {}", error.message),
            llm_attempts: None,
        },
    }
}

/// Turns a tool result into an entry outcome.
fn classify(result: rmcp::model::CallToolResult) -> CallResult {
    let detail: Option<FailureDetail> = result
        .meta
        .as_ref()
        .and_then(|meta| read_meta(meta, FAILURE_META_KEY));
    let outcome = crate::client::ToolOutcome::from(result);
    if !outcome.is_error {
        return CallResult::Archived;
    }
    let detail = detail.unwrap_or(FailureDetail {
        kind: "tool_error".into(),
        attempts: None,
    });
    CallResult::Failed {
        kind: detail.kind,
        message: outcome.text,
        llm_attempts: detail.attempts,
    }
}
