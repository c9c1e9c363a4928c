//! What HTTP LLM APIs share: posting JSON with a timeout, and classifying what went wrong
//! (transport failures, error statuses with their `error` body, retry headers) into `LlmError`.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde::Deserialize;

use super::{LlmError, LlmErrorKind, RateLimitHeaders};

/// A JSON API at one base URL.
pub struct ApiClient {
    http: reqwest::Client,
    base_url: String,
    request_timeout: Duration,
    /// The environment variable holding the key, named when the key is rejected.
    key_variable: &'static str,
}

/// A successful answer: its headers and body.
pub struct ApiResponse {
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    message: String,
}

impl ApiClient {
    pub fn new(
        base_url: &str,
        request_timeout: Duration,
        key_variable: &'static str,
    ) -> Result<Self, LlmError> {
        let http = reqwest::Client::builder()
            .timeout(request_timeout)
            .build()
            .map_err(|error| {
                LlmError::new(
                    LlmErrorKind::Unreachable,
                    format!("cannot build HTTP client: {error}"),
                )
            })?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            request_timeout,
            key_variable,
        })
    }

    /// Posts `body` to `{base}{path}` with `headers`; an error status becomes a classified error.
    pub async fn post_json(
        &self,
        path: &str,
        headers: HeaderMap,
        body: &impl serde::Serialize,
    ) -> Result<ApiResponse, LlmError> {
        let response = self
            .http
            .post(format!("{}{path}", self.base_url))
            .headers(headers)
            .json(body)
            .send()
            .await
            .map_err(|error| self.transport_error(&error))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|error| self.transport_error(&error))?;
        if !status.is_success() {
            return Err(status_error(
                status.as_u16(),
                &headers,
                &body,
                self.key_variable,
            ));
        }
        Ok(ApiResponse { headers, body })
    }

    fn transport_error(&self, error: &reqwest::Error) -> LlmError {
        let base = &self.base_url;
        if error.is_timeout() {
            LlmError::new(
                LlmErrorKind::Timeout,
                format!(
                    "the LLM API at {base} did not answer within {} s",
                    self.request_timeout.as_secs_f64()
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

/// A malformed successful answer.
pub fn malformed(error: impl std::fmt::Display) -> LlmError {
    LlmError::new(
        LlmErrorKind::MalformedResponse,
        format!("the LLM API answered with a malformed body: {error}"),
    )
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Classifies an error status into a message a user can act on.
pub fn status_error(status: u16, headers: &HeaderMap, body: &[u8], key_variable: &str) -> LlmError {
    let detail = serde_json::from_slice::<ErrorEnvelope>(body)
        .map(|envelope| match envelope.error.kind {
            Some(kind) => format!("{kind}: {}", envelope.error.message),
            None => envelope.error.message,
        })
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
            format!("the API key was rejected; check {key_variable}"),
        ),
        402 => (
            LlmErrorKind::Billing,
            "the account cannot pay for this request".into(),
        ),
        408 => (
            LlmErrorKind::Timeout,
            "the LLM API timed out the request".into(),
        ),
        409 => (
            LlmErrorKind::ServerError,
            "the LLM API reported a conflict".into(),
        ),
        429 => (
            LlmErrorKind::RateLimited,
            "rate limited by the LLM API".into(),
        ),
        529 => (LlmErrorKind::Overloaded, "the LLM API is overloaded".into()),
        500..=599 => (LlmErrorKind::ServerError, "the LLM API failed".into()),
        _ => (
            LlmErrorKind::InvalidRequest,
            "the LLM API rejected the request".into(),
        ),
    };
    let mut error = LlmError::new(kind, format!("{summary} (HTTP {status}, {detail})"));
    error.status = Some(status);
    error.retry_after = retry_after(headers);
    error.rate_limit = rate_limit_headers(headers);
    error.should_retry = header_str(headers, "x-should-retry").and_then(|value| match value {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    });
    error
}

pub fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
}

/// Reads the request limit from Anthropic's (`anthropic-ratelimit-requests-*`) or OpenAI's
/// (`x-ratelimit-*-requests`) headers.
pub fn rate_limit_headers(headers: &HeaderMap) -> Option<RateLimitHeaders> {
    let number = |name: &str| header_str(headers, name).and_then(|v| v.parse::<u32>().ok());
    let pairs = [
        (
            "anthropic-ratelimit-requests-limit",
            "anthropic-ratelimit-requests-remaining",
        ),
        (
            "x-ratelimit-limit-requests",
            "x-ratelimit-remaining-requests",
        ),
    ];
    pairs.iter().find_map(|(limit, remaining)| {
        Some(RateLimitHeaders {
            limit: number(limit)?,
            remaining: number(remaining)?,
        })
    })
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
        let error = status_error(529, &headers, body, "KEY");
        assert_eq!(error.kind, LlmErrorKind::Overloaded);
        assert!(error.is_retryable());
        assert!(
            error.message.contains("overloaded_error: Overloaded"),
            "{}",
            error.message
        );
        let unauthorized = status_error(401, &headers, b"", "OPENAI_API_KEY");
        assert_eq!(unauthorized.kind, LlmErrorKind::Authentication);
        assert!(unauthorized.message.contains("OPENAI_API_KEY"));
        assert!(!status_error(400, &headers, b"", "KEY").is_retryable());
        assert!(status_error(408, &headers, b"", "KEY").is_retryable());
        assert!(status_error(409, &headers, b"", "KEY").is_retryable());
        let openai = br#"{"error":{"message":"model not found","type":null}}"#;
        assert!(
            status_error(404, &headers, openai, "KEY")
                .message
                .contains("model not found")
        );
    }

    #[test]
    fn honours_retry_headers() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "3".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));
        headers.insert("x-should-retry", "false".parse().unwrap());
        assert!(!status_error(429, &headers, b"", "KEY").is_retryable());
    }

    #[test]
    fn reads_rate_limit_headers_of_both_providers() {
        let mut anthropic = HeaderMap::new();
        anthropic.insert("anthropic-ratelimit-requests-limit", "50".parse().unwrap());
        anthropic.insert(
            "anthropic-ratelimit-requests-remaining",
            "49".parse().unwrap(),
        );
        assert_eq!(
            rate_limit_headers(&anthropic),
            Some(RateLimitHeaders {
                limit: 50,
                remaining: 49
            })
        );
        let mut openai = HeaderMap::new();
        openai.insert("x-ratelimit-limit-requests", "500".parse().unwrap());
        openai.insert("x-ratelimit-remaining-requests", "12".parse().unwrap());
        assert_eq!(
            rate_limit_headers(&openai),
            Some(RateLimitHeaders {
                limit: 500,
                remaining: 12
            })
        );
        assert_eq!(rate_limit_headers(&HeaderMap::new()), None);
    }
}
