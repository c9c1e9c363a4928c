//! LLM backends: the provider-neutral completion types, the backend trait, and the
//! implementations (Anthropic's Messages API).

mod anthropic;
mod error;

pub use anthropic::{
    AnthropicBackend, AnthropicSettings, DEFAULT_ANTHROPIC_BASE_URL, DEFAULT_MODEL,
};
pub use error::{LlmError, LlmErrorKind};

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
    pub system: Option<String>,
    pub messages: Vec<ChatMessage>,
    pub max_tokens: u32,
    pub temperature: Option<f32>,
    pub stop_sequences: Vec<String>,
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
}

/// The future a backend returns.
pub type CompletionFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Completion, LlmError>> + Send + 'a>>;

/// Something that turns a completion request into a completion.
pub trait LlmBackend: Send + Sync {
    fn complete(&self, request: CompletionRequest) -> CompletionFuture<'_>;
}
