//! The Anthropic Messages API backend (`POST {base}/v1/messages`), with error classification.

use std::fmt;
use std::time::Duration;

use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};

use super::{
    ChatRole, Completion, CompletionFuture, CompletionRequest, LlmBackend, LlmError, LlmErrorKind,
    StopReason, TokenUsage,
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
    http: reqwest::Client,
    settings: AnthropicSettings,
    endpoint: String,
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

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "type")]
    kind: String,
    message: String,
}

impl AnthropicBackend {
    pub fn new(settings: AnthropicSettings) -> Result<Self, LlmError> {
        if settings.api_key.trim().is_empty() {
            return Err(LlmError::new(
                LlmErrorKind::Authentication,
                "no Anthropic API key: set ANTHROPIC_API_KEY (or pass --api-key)",
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(settings.request_timeout)
            .build()
            .map_err(|error| {
                LlmError::new(
                    LlmErrorKind::Unreachable,
                    format!("cannot build HTTP client: {error}"),
                )
            })?;
        let endpoint = format!("{}/v1/messages", settings.base_url.trim_end_matches('/'));
        Ok(Self {
            http,
            settings,
            endpoint,
        })
    }

    async fn send(&self, request: CompletionRequest) -> Result<Completion, LlmError> {
        let body = MessagesRequest {
            model: &self.settings.model,
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
        let response = self
            .http
            .post(&self.endpoint)
            .header("x-api-key", &self.settings.api_key)
            .header("anthropic-version", API_VERSION)
            .json(&body)
            .send()
            .await
            .map_err(|error| self.transport_error(&error))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .map_err(|error| self.transport_error(&error))?;
        if !status.is_success() {
            return Err(status_error(status.as_u16(), &headers, &bytes));
        }
        parse_completion(&bytes)
    }

    fn transport_error(&self, error: &reqwest::Error) -> LlmError {
        let base = &self.settings.base_url;
        if error.is_timeout() {
            LlmError::new(
                LlmErrorKind::Timeout,
                format!(
                    "the LLM API at {base} did not answer within {} s",
                    self.settings.request_timeout.as_secs_f64()
                ),
            )
        } else if error.is_decode() {
            LlmError::new(
                LlmErrorKind::MalformedResponse,
                format!("the LLM API at {base} sent a body that could not be read: {error}"),
            )
        } else {
            LlmError::new(
                LlmErrorKind::Unreachable,
                format!(
                    "the LLM API at {base} is unreachable: {}",
                    root_cause(error)
                ),
            )
        }
    }
}

impl LlmBackend for AnthropicBackend {
    fn complete(&self, request: CompletionRequest) -> CompletionFuture<'_> {
        Box::pin(self.send(request))
    }
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn parse_completion(bytes: &[u8]) -> Result<Completion, LlmError> {
    let response: MessagesResponse = serde_json::from_slice(bytes).map_err(|error| {
        LlmError::new(
            LlmErrorKind::MalformedResponse,
            format!("the LLM API answered with a malformed body: {error}"),
        )
    })?;
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
    })
}

/// Classifies an error status into a message a user can act on.
fn status_error(status: u16, headers: &HeaderMap, body: &[u8]) -> LlmError {
    let detail = serde_json::from_slice::<ErrorEnvelope>(body)
        .map(|envelope| format!("{}: {}", envelope.error.kind, envelope.error.message))
        .unwrap_or_else(|_| {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() {
                "no details".to_string()
            } else {
                text.chars().take(200).collect()
            }
        });
    let (kind, summary) = match status {
        401 | 403 => (
            LlmErrorKind::Authentication,
            "the API key was rejected; check ANTHROPIC_API_KEY",
        ),
        402 => (
            LlmErrorKind::Billing,
            "the account cannot pay for this request",
        ),
        408 => (LlmErrorKind::Timeout, "the LLM API timed out the request"),
        409 => (LlmErrorKind::ServerError, "the LLM API reported a conflict"),
        429 => (LlmErrorKind::RateLimited, "rate limited by the LLM API"),
        529 => (LlmErrorKind::Overloaded, "the LLM API is overloaded"),
        500..=599 => (LlmErrorKind::ServerError, "the LLM API failed"),
        _ => (
            LlmErrorKind::InvalidRequest,
            "the LLM API rejected the request",
        ),
    };
    let mut error = LlmError::new(kind, format!("{summary} (HTTP {status}, {detail})"));
    error.status = Some(status);
    error.retry_after = retry_after(headers);
    error.should_retry = header_str(headers, "x-should-retry").and_then(|value| match value {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    });
    error
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
}

/// Reads `retry-after-ms`, then `retry-after` (seconds).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    if let Some(ms) = header_str(headers, "retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return Duration::try_from_secs_f64(ms / 1000.0).ok();
    }
    header_str(headers, "retry-after")
        .and_then(|v| v.parse::<f64>().ok())
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_statuses() {
        let headers = HeaderMap::new();
        let body =
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        let error = status_error(529, &headers, body);
        assert_eq!(error.kind, LlmErrorKind::Overloaded);
        assert!(error.is_retryable());
        assert!(
            error.message.contains("overloaded_error: Overloaded"),
            "{}",
            error.message
        );
        assert_eq!(
            status_error(401, &headers, b"").kind,
            LlmErrorKind::Authentication
        );
        assert!(!status_error(400, &headers, b"").is_retryable());
        assert!(status_error(408, &headers, b"").is_retryable());
        assert!(status_error(409, &headers, b"").is_retryable());
    }

    #[test]
    fn honours_retry_headers() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "3".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));
        headers.insert("x-should-retry", "false".parse().unwrap());
        assert!(!status_error(429, &headers, b"").is_retryable());
    }

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
