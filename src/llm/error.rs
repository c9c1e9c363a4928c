//! Classified LLM failures: what went wrong, in words a user can act on, and whether it is worth
//! trying again.

use std::time::Duration;

/// The kind of an LLM failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LlmErrorKind {
    /// The API key was missing or refused (401/403).
    Authentication,
    /// The account has no credit or the request needs payment (402).
    Billing,
    /// The request was rejected as invalid (400, 404, 413, ...).
    InvalidRequest,
    /// Too many requests (429).
    RateLimited,
    /// The provider is overloaded (529).
    Overloaded,
    /// The provider failed (5xx).
    ServerError,
    /// No answer in time.
    Timeout,
    /// The provider could not be reached.
    Unreachable,
    /// The answer could not be understood.
    MalformedResponse,
    /// The model declined to answer (stop reason `refusal`).
    Refusal,
    /// The model paused its turn before answering (stop reason `pause_turn`).
    PauseTurn,
}

impl LlmErrorKind {
    /// The kind's name in failure reports, such as `llm_rate_limited`.
    pub fn failure_kind(self) -> String {
        let name = serde_json::to_value(self).expect("kinds serialize");
        format!("llm_{}", name.as_str().expect("kinds serialize as strings"))
    }

    /// Whether the same request may succeed if sent again later.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            Self::RateLimited
                | Self::Overloaded
                | Self::ServerError
                | Self::Timeout
                | Self::Unreachable
                | Self::MalformedResponse
        )
    }
}

/// A failed completion.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct LlmError {
    pub kind: LlmErrorKind,
    pub message: String,
    /// The HTTP status, when the provider answered.
    pub status: Option<u16>,
    /// How long the provider asked us to wait before trying again.
    pub retry_after: Option<Duration>,
    /// The provider's explicit verdict on retrying (`x-should-retry`), when it gave one.
    pub should_retry: Option<bool>,
    /// How many attempts were made before giving up.
    pub attempts: u32,
    /// The provider's request limit as its headers told, when they did.
    pub rate_limit: Option<super::RateLimitHeaders>,
}

impl LlmError {
    pub fn new(kind: LlmErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            status: None,
            retry_after: None,
            should_retry: None,
            attempts: 1,
            rate_limit: None,
        }
    }

    /// Whether this particular failure is worth another attempt.
    pub fn is_retryable(&self) -> bool {
        self.should_retry
            .unwrap_or_else(|| self.kind.is_retryable())
    }
}
