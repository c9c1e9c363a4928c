//! The Anthropic Messages API backend (`POST {base}/v1/messages`), with error classification.

use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};

use super::http::{ApiClient, malformed, rate_limit_headers};
use super::{
    ChatRole, Completion, CompletionFuture, CompletionRequest, LlmBackend, LlmError, LlmErrorKind,
    Sharing, StopReason, TokenUsage,
};

/// Where the API lives unless `ANTHROPIC_BASE_URL` says otherwise.
pub const DEFAULT_ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com";
/// The model used unless configured otherwise.
pub const DEFAULT_MODEL: &str = "claude-sonnet-4-6";
const API_VERSION: &str = "2023-06-01";

/// How to reach the Messages API.
#[derive(Clone)]
pub struct AnthropicSettings {
    pub api_key: String,
    pub base_url: String,
    pub model: String,
    /// How long one HTTP request may take before it counts as timed out.
    pub request_timeout: Duration,
}

impl fmt::Debug for AnthropicSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnthropicSettings")
            .field("api_key", &"<redacted>")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("request_timeout", &self.request_timeout)
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

    async fn send(&self, request: CompletionRequest) -> Result<Completion, LlmError> {
        let body = MessagesRequest {
            model: request.model.as_deref().unwrap_or(&self.settings.model),
            max_tokens: request.max_tokens,
            messages: request
                .messages
                .iter()
                .map(|message| WireMessage {
                    role: message.role,
                    content: &message.text,
                })
                .collect(),
            system: request.system.as_deref(),
            temperature: request.temperature,
            stop_sequences: &request.stop_sequences,
        };
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
    Ok(Completion {
        model: response.model,
        text,
        stop_reason: response.stop_reason.map(|reason| match reason.as_str() {
            "end_turn" => StopReason::EndTurn,
            "max_tokens" => StopReason::MaxTokens,
            "stop_sequence" => StopReason::StopSequence,
            _ => StopReason::Other(reason),
        }),
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
    fn debug_output_hides_the_key() {
        let settings = AnthropicSettings {
            api_key: "sk-ant-secret".into(),
            base_url: DEFAULT_ANTHROPIC_BASE_URL.into(),
            model: DEFAULT_MODEL.into(),
            request_timeout: Duration::from_secs(1),
        };
        assert!(!format!("{settings:?}").contains("sk-ant-secret"));
    }
}
