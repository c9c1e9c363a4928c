//! The Anthropic Messages API backend (`POST {base}/v1/messages`): requests shaped for what
//! the model accepts (the model table), answers read without their thinking blocks, one
//! larger retry for an answer whose budget thinking used up, and error classification.

use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};

use super::http::{ApiClient, malformed, rate_limit_headers};
use super::models::{Capabilities, model_info};
use super::{
    ChatRole, Completion, CompletionFuture, CompletionRequest, LlmBackend, LlmError, LlmErrorKind,
    Sharing, StopReason, TokenUsage,
};

/// Where the API lives unless `ANTHROPIC_BASE_URL` says otherwise.
pub const DEFAULT_ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com";
const API_VERSION: &str = "2023-06-01";
/// An answer that stopped at `max_tokens` with no text is asked again once with this many
/// times the budget.
pub const EMPTY_ANSWER_BUDGET_FACTOR: u32 = 4;

/// How much a model that thinks by default thinks before it answers (`output_config.effort`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Effort {
    /// Enough for a one-sentence explanation, and the cheapest.
    #[default]
    Low,
    Medium,
    High,
}

impl fmt::Display for Effort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        })
    }
}

/// What `model` accepts: the model table's row, or the classic API for models it does not know.
pub fn capabilities_of(model: &str) -> Capabilities {
    model_info(model).map_or(
        Capabilities {
            sampling_parameters: true,
            thinks_by_default: false,
            effort: false,
        },
        |info| info.capabilities,
    )
}

/// The warning a job prints once at its start when `model` refuses sampling parameters.
pub fn dropped_parameters_warning(model: &str) -> Option<String> {
    (!capabilities_of(model).sampling_parameters).then(|| {
        format!(
            "{model} refuses non-default temperature, top_p and top_k: any a server asks for \
             are dropped from the requests"
        )
    })
}

/// How to reach the Messages API.
#[derive(Clone)]
pub struct AnthropicSettings {
    pub api_key: String,
    pub base_url: String,
    pub model: String,
    /// How long one HTTP request may take before it counts as timed out.
    pub request_timeout: Duration,
    /// The effort asked of models that think by default.
    pub effort: Effort,
}

impl fmt::Debug for AnthropicSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnthropicSettings")
            .field("api_key", &"<redacted>")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("request_timeout", &self.request_timeout)
            .field("effort", &self.effort)
            .finish()
    }
}

/// Calls Anthropic's Messages API.
pub struct AnthropicBackend {
    api: ApiClient,
    settings: AnthropicSettings,
}

#[derive(Serialize)]
struct MessagesRequest<'a> {
    model: &'a str,
    max_tokens: u32,
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop_sequences: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    output_config: Option<OutputConfig>,
}

#[derive(Serialize)]
struct OutputConfig {
    effort: Effort,
}

#[derive(Serialize)]
struct WireMessage<'a> {
    role: ChatRole,
    content: &'a str,
}

#[derive(Deserialize)]
struct MessagesResponse {
    model: String,
    content: Vec<ContentBlock>,
    stop_reason: Option<String>,
    #[serde(default)]
    usage: WireUsage,
}

/// A content block of an answer; only `text` blocks make the answer (`thinking` and
/// `redacted_thinking` blocks are the model's working, never the answer).
#[derive(Deserialize)]
struct ContentBlock {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: String,
}

#[derive(Deserialize, Default)]
struct WireUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
}

impl AnthropicBackend {
    pub fn new(settings: AnthropicSettings) -> Result<Self, LlmError> {
        if settings.api_key.trim().is_empty() {
            return Err(LlmError::new(
                LlmErrorKind::Authentication,
                "no Anthropic API key: set ANTHROPIC_API_KEY (or pass --api-key)",
            ));
        }
        let api = ApiClient::new(
            &settings.base_url,
            settings.request_timeout,
            "ANTHROPIC_API_KEY",
        )?;
        Ok(Self { api, settings })
    }

    /// Sends `request`; an answer whose budget ran out before any text (thinking spent it) is
    /// asked again once with `EMPTY_ANSWER_BUDGET_FACTOR` times the budget, and the tokens of
    /// both count.
    async fn send(&self, request: CompletionRequest) -> Result<Completion, LlmError> {
        let first = self.send_once(&request, request.max_tokens).await?;
        let ran_dry =
            first.text.trim().is_empty() && first.stop_reason == Some(StopReason::MaxTokens);
        if !ran_dry {
            return Ok(first);
        }
        let larger = request
            .max_tokens
            .saturating_mul(EMPTY_ANSWER_BUDGET_FACTOR);
        tracing::debug!(
            larger,
            "an answer ran out of tokens before any text; asking again"
        );
        let mut second = self.send_once(&request, larger).await?;
        second.usage.input_tokens += first.usage.input_tokens;
        second.usage.output_tokens += first.usage.output_tokens;
        Ok(second)
    }

    async fn send_once(
        &self,
        request: &CompletionRequest,
        max_tokens: u32,
    ) -> Result<Completion, LlmError> {
        let model = request.model.as_deref().unwrap_or(&self.settings.model);
        let body = messages_request(request, model, max_tokens, self.settings.effort);
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", header_value(&self.settings.api_key)?);
        headers.insert("anthropic-version", HeaderValue::from_static(API_VERSION));
        let response = self.api.post_json("/v1/messages", headers, &body).await?;
        parse_completion(&response.body).map(|mut completion| {
            completion.rate_limit = rate_limit_headers(&response.headers);
            completion
        })
    }
}

/// The body asking `model` for `request`, with only the parameters the model accepts: no
/// sampling parameters for a model that refuses them, the effort for one that takes it, and
/// never a `thinking` setting (the default suits every model).
fn messages_request<'a>(
    request: &'a CompletionRequest,
    model: &'a str,
    max_tokens: u32,
    effort: Effort,
) -> MessagesRequest<'a> {
    let accepts = capabilities_of(model);
    MessagesRequest {
        model,
        max_tokens,
        messages: request
            .messages
            .iter()
            .map(|message| WireMessage {
                role: message.role,
                content: &message.text,
            })
            .collect(),
        system: request.system.as_deref(),
        temperature: request.temperature.filter(|_| accepts.sampling_parameters),
        stop_sequences: &request.stop_sequences,
        output_config: accepts.effort.then_some(OutputConfig { effort }),
    }
}

/// A header value from configuration; a key with characters HTTP cannot carry is refused.
fn header_value(text: &str) -> Result<HeaderValue, LlmError> {
    HeaderValue::from_str(text).map_err(|_| {
        LlmError::new(
            LlmErrorKind::Authentication,
            "the API key contains characters that cannot be sent in an HTTP header",
        )
    })
}

impl LlmBackend for AnthropicBackend {
    fn complete(&self, request: CompletionRequest) -> CompletionFuture<'_> {
        Box::pin(self.send(request))
    }
}

fn parse_completion(bytes: &[u8]) -> Result<Completion, LlmError> {
    let response: MessagesResponse = serde_json::from_slice(bytes).map_err(malformed)?;
    let text: String = response
        .content
        .iter()
        .filter(|block| block.kind == "text")
        .map(|block| block.text.as_str())
        .collect::<Vec<_>>()
        .join("");
    let stop_reason = match response.stop_reason.as_deref() {
        None => None,
        Some("end_turn") => Some(StopReason::EndTurn),
        Some("max_tokens") => Some(StopReason::MaxTokens),
        Some("stop_sequence") => Some(StopReason::StopSequence),
        Some("refusal") => {
            return Err(LlmError::new(
                LlmErrorKind::Refusal,
                format!(
                    "{} declined to explain this line (stop_reason refusal); its safety \
                     measures stopped the answer, so asking again would not help",
                    response.model
                ),
            ));
        }
        Some("pause_turn") => {
            return Err(LlmError::new(
                LlmErrorKind::PauseTurn,
                format!(
                    "{} paused its turn before answering (stop_reason pause_turn), which a \
                     one-sentence explanation should never need",
                    response.model
                ),
            ));
        }
        Some(other) => Some(StopReason::Other(other.to_string())),
    };
    Ok(Completion {
        model: response.model,
        text,
        stop_reason,
        usage: TokenUsage {
            input_tokens: response.usage.input_tokens,
            output_tokens: response.usage.output_tokens,
        },
        rate_limit: None,
        sharing: Sharing::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_messages_response() {
        let body = br#"{"id":"m","type":"message","role":"assistant","model":"claude-x",
            "content":[{"type":"text","text":"Disk full."}],"stop_reason":"max_tokens",
            "usage":{"input_tokens":12,"output_tokens":3}}"#;
        let completion = parse_completion(body).unwrap();
        assert_eq!(completion.text, "Disk full.");
        assert_eq!(completion.model, "claude-x");
        assert_eq!(completion.stop_reason, Some(StopReason::MaxTokens));
        assert_eq!(completion.usage.input_tokens, 12);
        let error = parse_completion(b"{not json").unwrap_err();
        assert_eq!(error.kind, LlmErrorKind::MalformedResponse);
    }

    #[test]
    fn thinking_blocks_are_never_the_answer() {
        let body = br#"{"model":"claude-sonnet-5-5","content":[
            {"type":"thinking","thinking":"The disk is full...","signature":"sig"},
            {"type":"redacted_thinking","data":"abc"},
            {"type":"text","text":"The disk is full."}],"stop_reason":"end_turn"}"#;
        assert_eq!(parse_completion(body).unwrap().text, "The disk is full.");
        let dry = br#"{"model":"claude-sonnet-5-5","content":[
            {"type":"thinking","thinking":"Hmm","signature":"sig"}],"stop_reason":"max_tokens"}"#;
        let dry = parse_completion(dry).unwrap();
        assert_eq!(dry.text, "");
        assert_eq!(dry.stop_reason, Some(StopReason::MaxTokens));
    }

    #[test]
    fn refusals_and_paused_turns_are_classified() {
        for (reason, kind, kind_name) in [
            ("refusal", LlmErrorKind::Refusal, "llm_refusal"),
            ("pause_turn", LlmErrorKind::PauseTurn, "llm_pause_turn"),
        ] {
            let body = format!(
                r#"{{"model":"m","content":[{{"type":"text","text":"I"}}],"stop_reason":"{reason}"}}"#
            );
            let error = parse_completion(body.as_bytes()).unwrap_err();
            assert_eq!(error.kind, kind);
            assert_eq!(error.kind.failure_kind(), kind_name);
            assert!(error.message.contains(reason), "{}", error.message);
            assert!(!error.is_retryable());
        }
    }

    #[test]
    fn requests_carry_only_what_the_model_accepts() {
        let request = CompletionRequest {
            model: None,
            system: None,
            messages: Vec::new(),
            max_tokens: 100,
            temperature: Some(0.2),
            stop_sequences: Vec::new(),
            send_by: None,
        };
        let body = |model: &str| {
            serde_json::to_value(messages_request(&request, model, 100, Effort::Low)).unwrap()
        };
        let thinking = body("claude-sonnet-5-5");
        assert_eq!(thinking.get("temperature"), None);
        assert_eq!(thinking.get("thinking"), None);
        assert_eq!(thinking["output_config"]["effort"], "low");
        let classic = body("claude-haiku-4-5");
        assert_eq!(classic["temperature"].as_f64().map(|t| t as f32), Some(0.2));
        assert_eq!(classic.get("output_config"), None);
        assert!(dropped_parameters_warning("claude-opus-5-5").is_some());
        assert!(dropped_parameters_warning("claude-haiku-4-5").is_none());
        assert!(dropped_parameters_warning("some-local-model").is_none());
    }

    #[test]
    fn debug_output_hides_the_key() {
        let settings = AnthropicSettings {
            api_key: "sk-ant-secret".into(),
            base_url: DEFAULT_ANTHROPIC_BASE_URL.into(),
            model: crate::llm::DEFAULT_MODEL.into(),
            request_timeout: Duration::from_secs(1),
            effort: Effort::Low,
        };
        assert!(!format!("{settings:?}").contains("sk-ant-secret"));
    }
}
