//! LLM backends: the provider-neutral completion types, the backend trait, the implementations
//! (Anthropic's Messages API, OpenAI-compatible chat completions, the offline rule-based
//! explainer), and what bulk jobs wrap them in (rate limits, retries, counters).

mod anthropic;
mod cost;
mod error;
mod http;
mod limits;
mod managed;
mod models;
mod offline;
mod offline_rules;
mod openai;
mod retry;
mod template_note;

pub use anthropic::{
    AnthropicBackend, AnthropicSettings, DEFAULT_ANTHROPIC_BASE_URL, EMPTY_ANSWER_BUDGET_FACTOR,
    Effort, capabilities_of, dropped_parameters_warning,
};
pub use cost::{PriceTable, Prices, parse_price};
pub use error::{LlmError, LlmErrorKind};
pub use limits::{ADAPTIVE_START_RPM, Limiters, RateLimits, RequestRate};
pub use managed::{LlmStats, ManagedBackend};
pub use models::{
    Capabilities, DEFAULT_MODEL, MODELS, ModelInfo, Status, current_claude_families, model_info,
};
pub use offline::OfflineBackend;
pub use offline_rules::OFFLINE_MODEL;
pub use openai::{DEFAULT_OPENAI_BASE_URL, DEFAULT_OPENAI_MODEL, OpenAiBackend, OpenAiSettings};
pub use retry::RetryPolicy;
pub use template_note::{template_in_note, template_note};

use std::future::Future;
use std::pin::Pin;

/// Who said a message in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatRole {
    User,
    Assistant,
}

/// One text message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: ChatRole,
    pub text: String,
}

/// A provider-neutral completion request.
#[derive(Debug, Clone, PartialEq)]
pub struct CompletionRequest {
    /// A model chosen for this request (from the server's model preferences); the backend's
    /// configured model otherwise.
    pub model: Option<String>,
    pub system: Option<String>,
    pub messages: Vec<ChatMessage>,
    pub max_tokens: u32,
    pub temperature: Option<f32>,
    pub stop_sequences: Vec<String>,
    /// The last moment a new attempt may be sent (bulk jobs, `ManagedBackend`): waiting on the
    /// rate limits or backing off ends there, an attempt under way always runs to its end.
    pub send_by: Option<std::time::Instant>,
}

/// Why the model stopped generating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    EndTurn,
    MaxTokens,
    StopSequence,
    /// A reason this program does not know, kept as the provider spelled it.
    Other(String),
}

/// Tokens a request consumed, as reported by the provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// A provider-neutral completion.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub model: String,
    pub text: String,
    pub stop_reason: Option<StopReason>,
    pub usage: TokenUsage,
    /// The provider's request limit as its headers told, when they did.
    pub rate_limit: Option<RateLimitHeaders>,
    /// How the answer is shared among log entries (see `dedup`).
    pub sharing: Sharing,
}

/// How an answer is shared among log entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sharing {
    /// Answered from the cache of an earlier, equal entry: no tokens were spent on it.
    pub from_cache: bool,
    /// The message template the entry was grouped under, as mined so far.
    pub template: Option<String>,
    /// The id of the group sharing the explanation (`dedup::template_id`).
    pub template_id: Option<String>,
}

/// What a provider's rate-limit headers said about requests per minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitHeaders {
    pub limit: u32,
    pub remaining: u32,
}

/// The future a backend returns.
pub type CompletionFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Completion, LlmError>> + Send + 'a>>;

/// Something that turns a completion request into a completion.
pub trait LlmBackend: Send + Sync {
    fn complete(&self, request: CompletionRequest) -> CompletionFuture<'_>;
}

/// A rough token count for planning (rate-limit reservations, the mock's usage): about four
/// characters a token, at least one.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_estimates_grow_with_text() {
        assert_eq!(estimate_tokens(""), 1);
        assert!(estimate_tokens(&"word ".repeat(100)) > estimate_tokens("word"));
    }
}
