//! Answers the server's sampling requests: checks them against the client's policy, maps MCP
//! `sampling/createMessage` onto a provider completion with secrets masked, calls the LLM backend, maps the
//! completion back, and records both in the audit log when one is kept.

// Sampling is deprecated in the newest protocol revision but is what classic servers speak.
#![allow(deprecated)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::model::{
    ClientCapabilities, ClientInfo, CreateMessageRequestParams, CreateMessageResult,
    Implementation, ProtocolVersion, Role, SamplingMessage, SamplingMessageContentBlock,
};
use rmcp::service::RequestContext;
use rmcp::{ClientHandler, ErrorData, RoleClient};
use tokio_util::sync::CancellationToken;

use super::audit::{AuditLog, AuditOutcome};
use super::connect::ProtocolChoice;
use super::model_choice::ModelChoice;
use super::policy::{CallInProgress, SamplingPolicy};
use crate::llm::{ChatMessage, ChatRole, Completion, CompletionRequest, LlmBackend, StopReason};
use crate::protocol::{ANSWER_META_KEY, AnswerNote, FailureDetail, failure_error_data, meta_with};
use crate::redact::Redactor;

/// The client's name in the MCP handshake.
pub const CLIENT_NAME: &str = "log-archiver";

/// What the client agrees to sample, and where it records what it did.
#[derive(Clone, Default)]
pub struct SamplingRules {
    pub policy: SamplingPolicy,
    pub audit: Option<Arc<AuditLog>>,
    /// What is masked in every prompt before it is sent, whatever the server put in it.
    pub redactor: Redactor,
}

/// An MCP client handler that declares sampling and answers it with an LLM backend.
#[derive(Clone)]
pub struct SamplingHandler {
    backend: Arc<dyn LlmBackend>,
    models: Arc<ModelChoice>,
    policy: SamplingPolicy,
    audit: Option<Arc<AuditLog>>,
    redactor: Redactor,
    protocol: ProtocolChoice,
    /// The longest this client works on one answer, when bounded.
    answer_timeout: Option<AnswerTimeout>,
}

/// How long an answer may take, and the longest one attempt at the LLM takes.
#[derive(Debug, Clone, Copy)]
struct AnswerTimeout {
    timeout: Duration,
    longest_attempt: Duration,
}

/// What is kept back from the answer timeout for the answer's way back to the server.
const ANSWER_MARGIN: Duration = Duration::from_secs(2);

impl AnswerTimeout {
    /// How long after a request arrives a new attempt may still be sent: late enough that it
    /// can finish in time. An attempt longer than the whole timeout may start only in its
    /// first half.
    fn send_within(self) -> Duration {
        self.timeout
            .saturating_sub(self.longest_attempt + ANSWER_MARGIN)
            .max(self.timeout / 2)
    }
}

impl SamplingHandler {
    /// Answers with `backend`'s configured model whatever the server prefers.
    pub fn new(backend: Arc<dyn LlmBackend>) -> Self {
        Self::with_model_choice(backend, ModelChoice::default())
    }

    /// Answers with the model the server's preferences pick among `models`.
    pub fn with_model_choice(backend: Arc<dyn LlmBackend>, models: ModelChoice) -> Self {
        Self {
            backend,
            models: Arc::new(models),
            policy: SamplingPolicy::default(),
            audit: None,
            redactor: Redactor::default(),
            protocol: ProtocolChoice::default(),
            answer_timeout: None,
        }
    }

    /// Answers within `timeout`, as a server waiting for the answer needs: no attempt at the
    /// LLM (each taking at most `longest_attempt`) starts when it could not finish in time,
    /// and the wait on the rate limits and between retries ends there; an attempt under way
    /// always runs to its end, so an answer that arrives is used.
    pub fn with_answer_timeout(mut self, timeout: Duration, longest_attempt: Duration) -> Self {
        self.answer_timeout = Some(AnswerTimeout {
            timeout,
            longest_attempt,
        });
        self
    }

    /// Offers these protocol revisions when connecting.
    pub fn with_protocol(mut self, protocol: ProtocolChoice) -> Self {
        self.protocol = protocol;
        self
    }

    /// The protocol revisions this client offers.
    pub fn protocol(&self) -> ProtocolChoice {
        self.protocol
    }

    /// Answers only what the rules' policy admits, and keeps their audit log.
    pub fn with_rules(mut self, rules: SamplingRules) -> Self {
        self.policy = rules.policy;
        self.audit = rules.audit;
        self.redactor = rules.redactor;
        self
    }

    /// Marks one of this client's tool calls as in progress, which lets the server sample.
    pub fn call_started(&self) -> CallInProgress {
        self.policy.call_started()
    }

    fn audit(
        &self,
        requested_max_tokens: u32,
        request: Option<&CompletionRequest>,
        outcome: AuditOutcome<'_>,
        started: Instant,
    ) {
        if let Some(audit) = &self.audit {
            audit.record(requested_max_tokens, request, outcome, started.elapsed());
        }
    }
}

/// The error a sampling request gets, with its classification for the server.
fn sampling_error(kind: String, attempts: Option<u32>, message: String) -> ErrorData {
    let data = failure_error_data(&FailureDetail { kind, attempts });
    ErrorData::internal_error(message, Some(data))
}

impl SamplingHandler {
    /// Answers one sampling request, unless `cancelled` fires first (the server gave up).
    pub async fn answer(
        &self,
        params: CreateMessageRequestParams,
        cancelled: &CancellationToken,
    ) -> Result<CreateMessageResult, ErrorData> {
        let started = Instant::now();
        let requested = params.max_tokens;
        let granted = match self.policy.admit(requested) {
            Ok(granted) => granted,
            Err(reason) => {
                self.audit(requested, None, AuditOutcome::Refused(&reason), started);
                return Err(sampling_error("sampling_refused".into(), None, reason));
            }
        };
        let model = self.models.choose(params.model_preferences.as_ref());
        let mut request = completion_request_from(params)
            .map_err(|message| ErrorData::invalid_params(message, None))?;
        request.model = model;
        request.max_tokens = granted;
        for message in &mut request.messages {
            self.redactor.redact_in_place(&mut message.text);
        }
        if let Some(system) = &mut request.system {
            self.redactor.redact_in_place(system);
        }
        request.send_by = self
            .answer_timeout
            .map(|timeout| started + timeout.send_within());
        let sent = self.audit.as_ref().map(|_| request.clone());
        // A server that gave up (timeout, cancellation) frees the sampler and the rate budget.
        let outcome = tokio::select! {
            outcome = self.backend.complete(request) => outcome,
            () = cancelled.cancelled() => {
                let message = "the server cancelled the sampling request";
                let outcome = AuditOutcome::Failed { kind: "cancelled", message };
                self.audit(requested, sent.as_ref(), outcome, started);
                return Err(ErrorData::internal_error(message, None));
            }
        };
        match outcome {
            Ok(completion) => {
                let outcome = AuditOutcome::Answered(&completion);
                self.audit(requested, sent.as_ref(), outcome, started);
                Ok(sampling_result_from(completion, started.elapsed()))
            }
            Err(error) => {
                tracing::debug!(kind = ?error.kind, "sampling request failed: {error}");
                let kind = error.kind.failure_kind();
                let outcome = AuditOutcome::Failed {
                    kind: &kind,
                    message: &error.message,
                };
                self.audit(requested, sent.as_ref(), outcome, started);
                Err(sampling_error(kind, Some(error.attempts), error.message))
            }
        }
    }
}

impl ClientHandler for SamplingHandler {
    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, ErrorData> {
        self.answer(params, &context.ct).await
    }

    fn get_info(&self) -> ClientInfo {
        let mut capabilities = ClientCapabilities::default();
        capabilities.sampling = Some(Default::default());
        // The classic handshake offers 2025-11-25; 2026-07-28 is reached by discovery.
        ClientInfo::new(
            capabilities,
            Implementation::new(CLIENT_NAME, env!("CARGO_PKG_VERSION")),
        )
        .with_protocol_version(ProtocolVersion::V_2025_11_25)
    }
}

/// Maps an MCP sampling request onto a provider-neutral completion request. Only text content
/// can be forwarded; anything else is refused with a message naming it.
pub fn completion_request_from(
    params: CreateMessageRequestParams,
) -> Result<CompletionRequest, String> {
    let mut messages = Vec::with_capacity(params.messages.len());
    for message in params.messages {
        let role = match message.role {
            Role::User => ChatRole::User,
            Role::Assistant => ChatRole::Assistant,
        };
        let mut text = String::new();
        for block in message.content.into_vec() {
            match block {
                SamplingMessageContentBlock::Text(block) => text.push_str(&block.text),
                _ => return Err("only text content can be sampled by this client".into()),
            }
        }
        messages.push(ChatMessage { role, text });
    }
    if messages.is_empty() {
        return Err("the sampling request has no messages".into());
    }
    Ok(CompletionRequest {
        model: None,
        system: params.system_prompt,
        messages,
        max_tokens: params.max_tokens,
        temperature: params.temperature,
        stop_sequences: params.stop_sequences.unwrap_or_default(),
        send_by: None,
    })
}

/// Maps a completion back onto the MCP sampling result; its `_meta` tells what the answer
/// cost and how long it took (`AnswerNote`).
pub fn sampling_result_from(completion: Completion, elapsed: Duration) -> CreateMessageResult {
    let note = AnswerNote {
        latency_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        input_tokens: completion.usage.input_tokens,
        output_tokens: completion.usage.output_tokens,
        cached: completion.sharing.from_cache,
        template: completion.sharing.template,
        template_id: completion.sharing.template_id,
    };
    let mut message = SamplingMessage::new(
        Role::Assistant,
        SamplingMessageContentBlock::text(completion.text),
    );
    message.meta = Some(meta_with(ANSWER_META_KEY, &note));
    let result = CreateMessageResult::new(message, completion.model);
    match completion.stop_reason {
        Some(StopReason::EndTurn) => {
            result.with_stop_reason(CreateMessageResult::STOP_REASON_END_TURN)
        }
        Some(StopReason::MaxTokens) => {
            result.with_stop_reason(CreateMessageResult::STOP_REASON_END_MAX_TOKEN)
        }
        Some(StopReason::StopSequence) => {
            result.with_stop_reason(CreateMessageResult::STOP_REASON_END_SEQUENCE)
        }
        Some(StopReason::Other(reason)) => result.with_stop_reason(reason),
        None => result,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{Sharing, TokenUsage};

    #[test]
    fn maps_a_sampling_request_completely() {
        let json = serde_json::json!({
            "messages": [
                {"role": "user", "content": {"type": "text", "text": "first"}},
                {"role": "assistant", "content": [{"type": "text", "text": "reply"}]},
                {"role": "user", "content": {"type": "text", "text": "second"}}
            ],
            "systemPrompt": "be brief",
            "maxTokens": 100,
            "temperature": 0.5,
            "stopSequences": ["END"]
        });
        let params: CreateMessageRequestParams = serde_json::from_value(json).unwrap();
        let request = completion_request_from(params).unwrap();
        assert_eq!(request.system.as_deref(), Some("be brief"));
        assert_eq!(request.max_tokens, 100);
        assert_eq!(request.temperature, Some(0.5));
        assert_eq!(request.stop_sequences, vec!["END".to_string()]);
        assert_eq!(request.messages.len(), 3);
        assert_eq!(request.messages[1].role, ChatRole::Assistant);
        assert_eq!(request.messages[2].text, "second");
    }

    #[test]
    fn temperature_stays_unset_when_the_server_sent_none() {
        let json = serde_json::json!({
            "messages": [{"role": "user", "content": {"type": "text", "text": "x"}}],
            "maxTokens": 10
        });
        let params: CreateMessageRequestParams = serde_json::from_value(json).unwrap();
        let request = completion_request_from(params).unwrap();
        assert_eq!(request.temperature, None);
        assert!(request.stop_sequences.is_empty());
        assert_eq!(request.system, None);
    }

    #[test]
    fn attempts_start_only_while_they_can_finish_in_time() {
        let timeout = |timeout, longest_attempt| AnswerTimeout {
            timeout: Duration::from_secs(timeout),
            longest_attempt: Duration::from_secs(longest_attempt),
        };
        assert_eq!(timeout(120, 60).send_within(), Duration::from_secs(60));
        assert_eq!(timeout(120, 30).send_within(), Duration::from_secs(88));
        assert_eq!(timeout(30, 60).send_within(), Duration::from_secs(15));
    }

    #[test]
    fn maps_stop_reasons_back() {
        for (reason, expected) in [
            (StopReason::EndTurn, "endTurn"),
            (StopReason::MaxTokens, "maxTokens"),
            (StopReason::StopSequence, "stopSequence"),
        ] {
            let result = sampling_result_from(
                Completion {
                    model: "m".into(),
                    text: "t".into(),
                    stop_reason: Some(reason),
                    usage: TokenUsage::default(),
                    rate_limit: None,
                    sharing: Sharing::default(),
                },
                Duration::ZERO,
            );
            let json = serde_json::to_value(&result).unwrap();
            assert_eq!(json["stopReason"], expected);
            assert_eq!(json["role"], "assistant");
            assert_eq!(json["model"], "m");
            assert_eq!(json["content"]["text"], "t");
        }
    }

    #[test]
    fn the_result_meta_tells_what_the_answer_cost() {
        let result = sampling_result_from(
            Completion {
                model: "m".into(),
                text: "t".into(),
                stop_reason: None,
                usage: TokenUsage {
                    input_tokens: 57,
                    output_tokens: 12,
                },
                rate_limit: None,
                sharing: Sharing {
                    from_cache: false,
                    template: Some("ERROR <*>".into()),
                    template_id: Some("0123456789abcdef".into()),
                },
            },
            Duration::from_millis(812),
        );
        let json = serde_json::to_value(&result).unwrap();
        assert_eq!(
            json["_meta"][ANSWER_META_KEY],
            serde_json::json!({
                "latency_ms": 812, "input_tokens": 57, "output_tokens": 12, "cached": false,
                "template": "ERROR <*>", "template_id": "0123456789abcdef"
            })
        );
    }
}
