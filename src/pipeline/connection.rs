//! Connection actors: each holds one MCP client session to the server and runs several tool
//! calls on it at once, reporting every outcome to the supervisor: entries sent together go in
//! one `process_log_entries` call when the server offers it, else one `process_log_entry` call
//! each. A session that breaks stops its actor; the supervisor restarts it and re-sends its
//! entries.

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use rmcp::model::{ClientRequest, CustomRequest, RequestMetaObject, ServerResult};
use rmcp::service::ServiceError;

use super::supervisor::{CallResult, ConnectionTag, SupervisorMessage};
use crate::client::{
    ClientSession, SamplingHandler, ServerTarget, connect, local_sampling_failure,
    process_log_entries, process_log_entry_with_meta,
};
use crate::protocol::{
    BATCH_META_KEY, BatchPlaces, ENTRY_META_KEY, EntryOrder, EntryOutcome, EntryPlace, EntrySource,
    FAILURE_META_KEY, FailureDetail, ORDER_META_KEY, SKIP_REQUEST, SkipReply, meta_with, read_meta,
};
use crate::server::BATCH_TOOL_NAME;

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

/// One entry to send: its number in the job, the input line it starts at, and its text.
pub struct OutgoingEntry {
    pub seq: u64,
    pub line: u64,
    pub text: String,
}

/// The most bytes of log text one call carries; a longer entry goes alone.
const MAX_BATCH_BYTES: usize = 256 * 1024;

/// Splits the entries going to one connection into calls: in order, at most `batch` entries
/// and `MAX_BATCH_BYTES` of text each.
pub fn calls_of(entries: Vec<OutgoingEntry>, batch: usize) -> Vec<Vec<OutgoingEntry>> {
    let mut calls: Vec<Vec<OutgoingEntry>> = Vec::new();
    let mut bytes = 0;
    for entry in entries {
        let full = calls.last().is_none_or(|call| {
            call.len() >= batch.max(1) || bytes + entry.text.len() > MAX_BATCH_BYTES
        });
        if full {
            calls.push(Vec::new());
            bytes = 0;
        }
        bytes += entry.text.len();
        calls.last_mut().expect("a call is open").push(entry);
    }
    calls
}

/// Work for a connection actor.
pub enum ConnectionMessage {
    /// Send these entries to the server, in one call when the server takes several.
    Process(Vec<OutgoingEntry>),
    /// Tell the server the job gave up on entry `seq`.
    Skip { seq: u64 },
    /// A call found the session broken: stop so the supervisor reconnects.
    Broken(String),
    /// Whether this connection sends several entries per call (the server offers
    /// `process_log_entries`).
    TakesBatches(ractor::RpcReplyPort<bool>),
}

pub struct ConnectionActor;

pub struct ConnectionState {
    tag: ConnectionTag,
    session: Arc<ClientSession>,
    supervisor: ActorRef<SupervisorMessage>,
    job: String,
    source: Option<Arc<str>>,
    call_timeout: Duration,
    /// The server offers `process_log_entries`.
    batches: bool,
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
        // A server that cannot list its tools in time gets one entry per call.
        let listed = tokio::time::timeout(CONNECT_TIMEOUT, session.list_all_tools()).await;
        let batches = match listed {
            Ok(Ok(tools)) => tools.iter().any(|tool| tool.name == BATCH_TOOL_NAME),
            _ => false,
        };
        Ok(ConnectionState {
            tag: args.tag,
            session: Arc::new(session),
            supervisor: args.supervisor,
            job: args.job,
            source: args.source,
            call_timeout: args.call_timeout,
            batches,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ConnectionMessage::Process(entries) => {
                if state.batches && entries.len() > 1 {
                    state.send_batch(myself, entries);
                } else {
                    for entry in entries {
                        state.send_one(myself.clone(), entry);
                    }
                }
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
            ConnectionMessage::TakesBatches(reply) => {
                let _ = reply.send(state.batches);
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

impl ConnectionState {
    /// Sends one entry in a `process_log_entry` call of its own.
    fn send_one(&self, myself: ActorRef<ConnectionMessage>, entry: OutgoingEntry) {
        let order = EntryOrder {
            job: self.job.clone(),
            seq: entry.seq,
        };
        let source = EntrySource {
            source: self.source.as_deref().map(str::to_string),
            line: entry.line,
        };
        let mut meta = RequestMetaObject(meta_with(ORDER_META_KEY, &order));
        meta.0.0.extend(meta_with(ENTRY_META_KEY, &source).0);
        let session = self.session.clone();
        let timeout = self.call_timeout;
        self.report(myself, vec![entry.seq], async move {
            let call = process_log_entry_with_meta(&session, &entry.text, meta);
            match tokio::time::timeout(timeout, call).await {
                Ok(Ok(result)) => vec![classify(result)],
                // An error answer: the session is fine.
                Ok(Err(ServiceError::McpError(error))) => vec![refused_call(&error)],
                Ok(Err(error)) => vec![CallResult::Lost(error.to_string())],
                Err(_) => vec![lost_to_timeout(timeout)],
            }
        });
    }

    /// Sends several entries in one `process_log_entries` call.
    fn send_batch(&self, myself: ActorRef<ConnectionMessage>, entries: Vec<OutgoingEntry>) {
        let places = BatchPlaces {
            job: self.job.clone(),
            source: self.source.as_deref().map(str::to_string),
            entries: entries
                .iter()
                .map(|entry| EntryPlace {
                    seq: entry.seq,
                    line: entry.line,
                })
                .collect(),
        };
        let seqs = entries.iter().map(|entry| entry.seq).collect();
        let lines: Vec<String> = entries.into_iter().map(|entry| entry.text).collect();
        let meta = RequestMetaObject(meta_with(BATCH_META_KEY, &places));
        let session = self.session.clone();
        let timeout = self.call_timeout;
        self.report(myself, seqs, async move {
            let count = lines.len();
            let call = process_log_entries(&session, &lines, meta);
            match tokio::time::timeout(timeout, call).await {
                Ok(Ok(outcomes)) => outcomes.into_iter().map(entry_result).collect(),
                Ok(Err(ServiceError::McpError(error))) => vec![refused_call(&error); count],
                Ok(Err(error)) => vec![CallResult::Lost(error.to_string()); count],
                Err(_) => vec![lost_to_timeout(timeout); count],
            }
        });
    }

    /// Runs a call in the background and reports the results of its entries (`seqs`, in
    /// order) to the supervisor in one message; a lost call also stops this actor.
    fn report(
        &self,
        myself: ActorRef<ConnectionMessage>,
        seqs: Vec<u64>,
        call: impl Future<Output = Vec<CallResult>> + Send + 'static,
    ) {
        let supervisor = self.supervisor.clone();
        let connection = self.tag;
        tokio::spawn(async move {
            let mut results = call.await;
            // Every entry gets an outcome, even from a call that reported too few.
            results.resize_with(seqs.len(), || CallResult::Failed {
                kind: "tool_error".into(),
                message: "the call reported no outcome for this entry".into(),
                llm_attempts: None,
            });
            if let Some(CallResult::Lost(reason)) = results
                .iter()
                .find(|result| matches!(result, CallResult::Lost(_)))
            {
                let _ = myself.send_message(ConnectionMessage::Broken(reason.clone()));
            }
            let _ = supervisor.send_message(SupervisorMessage::Outcomes {
                connection,
                results: seqs.into_iter().zip(results).collect(),
            });
        });
    }
}

fn lost_to_timeout(timeout: Duration) -> CallResult {
    CallResult::Lost(format!(
        "no answer to the tool call within {} s",
        timeout.as_secs()
    ))
}

/// An entry's outcome as a batched call reported it.
fn entry_result(outcome: EntryOutcome) -> CallResult {
    match outcome {
        EntryOutcome::Archived => CallResult::Archived,
        EntryOutcome::Failed { message, detail } => CallResult::Failed {
            kind: detail.kind,
            message,
            llm_attempts: detail.attempts,
        },
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(sizes: &[usize]) -> Vec<OutgoingEntry> {
        sizes
            .iter()
            .enumerate()
            .map(|(index, size)| OutgoingEntry {
                seq: index as u64,
                line: index as u64 + 1,
                text: "x".repeat(*size),
            })
            .collect()
    }

    fn seqs(calls: &[Vec<OutgoingEntry>]) -> Vec<Vec<u64>> {
        calls
            .iter()
            .map(|call| call.iter().map(|entry| entry.seq).collect())
            .collect()
    }

    #[test]
    fn calls_hold_at_most_the_batch_in_order() {
        let calls = calls_of(entries(&[10; 7]), 3);
        assert_eq!(seqs(&calls), vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
        assert_eq!(seqs(&calls_of(entries(&[10; 3]), 1)).len(), 3);
        assert!(calls_of(Vec::new(), 8).is_empty());
    }

    #[test]
    fn long_entries_split_calls_by_size() {
        let big = MAX_BATCH_BYTES / 2 + 1;
        let calls = calls_of(entries(&[big, big, 10, MAX_BATCH_BYTES * 2, 10]), 16);
        assert_eq!(seqs(&calls), vec![vec![0], vec![1, 2], vec![3], vec![4]]);
    }
}
