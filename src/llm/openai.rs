//! The OpenAI-compatible chat-completions backend (`POST {base}/chat/completions`), for OpenAI
//! and local model servers such as Ollama, vLLM, llama.cpp's server and LM Studio.

use std::fmt;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};

use super::http::{ApiClient, malformed, rate_limit_headers};
use super::{
    ChatRole, Completion, CompletionFuture, CompletionRequest, LlmBackend, LlmError, LlmErrorKind,
    Sharing, StopReason, TokenUsage,
};

/// Where the API lives unless configured otherwise (Ollama: `http://127.0.0.1:11434/v1`).
pub const DEFAULT_OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
/// The model used unless configured otherwise.
pub const DEFAULT_OPENAI_MODEL: &str = "gpt-4o-mini";

/// How to reach an OpenAI-compatible API.
#[derive(Clone)]
pub struct OpenAiSettings {
    /// Optional: local servers usually need none.
    pub api_key: Option<String>,
    pub base_url: String,
    pub model: String,
    pub request_timeout: Duration,
}

impl fmt::Debug for OpenAiSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiSettings")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

/// Calls an OpenAI-compatible chat-completions API.
pub struct OpenAiBackend {
    api: ApiClient,
    settings: OpenAiSettings,
    authorization: Option<HeaderValue>,
}

#[derive(Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: Vec<ChatMessage<'a>>,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop: &'a [String],
}

#[derive(Serialize)]
struct ChatMessage<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(Deserialize)]
struct ChatResponse {
    #[serde(default)]
    model: String,
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Usage,
}

#[derive(Deserialize)]
struct Choice {
    message: AssistantMessage,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct AssistantMessage {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize, Default)]
struct Usage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

impl OpenAiBackend {
    pub fn new(settings: OpenAiSettings) -> Result<Self, LlmError> {
        let authorization = settings
            .api_key
            .as_deref()
            .filter(|key| !key.trim().is_empty())
            .map(|key| {
                HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                    LlmError::new(
                        LlmErrorKind::Authentication,
                        "the API key contains characters that cannot be sent in an HTTP header",
                    )
                })
            })
            .transpose()?;
        let api = ApiClient::new(
            &settings.base_url,
            settings.request_timeout,
            "OPENAI_API_KEY",
        )?;
        Ok(Self {
            api,
            settings,
            authorization,
        })
    }

    async fn send(&self, request: CompletionRequest) -> Result<Completion, LlmError> {
        let mut messages = Vec::with_capacity(request.messages.len() + 1);
        if let Some(system) = &request.system {
            messages.push(ChatMessage {
                role: "system",
                content: system,
            });
        }
        messages.extend(request.messages.iter().map(|message| ChatMessage {
            role: match message.role {
                ChatRole::User => "user",
                ChatRole::Assistant => "assistant",
            },
            content: &message.text,
        }));
        let body = ChatRequest {
            model: request.model.as_deref().unwrap_or(&self.settings.model),
            messages,
            max_tokens: request.max_tokens,
            temperature: request.temperature,
            stop: &request.stop_sequences,
        };
        let mut headers = HeaderMap::new();
        if let Some(authorization) = &self.authorization {
            headers.insert(AUTHORIZATION, authorization.clone());
        }
        let response = self
            .api
            .post_json("/chat/completions", headers, &body)
            .await?;
        parse_completion(&response.body).map(|mut completion| {
            completion.rate_limit = rate_limit_headers(&response.headers);
            completion
        })
    }
}

impl LlmBackend for OpenAiBackend {
    fn complete(&self, request: CompletionRequest) -> CompletionFuture<'_> {
        Box::pin(self.send(request))
    }
}

fn parse_completion(bytes: &[u8]) -> Result<Completion, LlmError> {
    let response: ChatResponse = serde_json::from_slice(bytes).map_err(malformed)?;
    let choice = response
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| malformed("no choices"))?;
    Ok(Completion {
        model: response.model,
        text: choice.message.content.unwrap_or_default(),
        stop_reason: choice.finish_reason.map(|reason| match reason.as_str() {
            "stop" => StopReason::EndTurn,
            "length" => StopReason::MaxTokens,
            _ => StopReason::Other(reason),
        }),
        usage: TokenUsage {
            input_tokens: response.usage.prompt_tokens,
            output_tokens: response.usage.completion_tokens,
        },
        rate_limit: None,
        sharing: Sharing::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_chat_completion() {
        let body = br#"{"id":"c","object":"chat.completion","model":"llama3",
            "choices":[{"index":0,"message":{"role":"assistant","content":"Disk full."},
            "finish_reason":"length"}],"usage":{"prompt_tokens":9,"completion_tokens":2}}"#;
        let completion = parse_completion(body).unwrap();
        assert_eq!(completion.text, "Disk full.");
        assert_eq!(completion.model, "llama3");
        assert_eq!(completion.stop_reason, Some(StopReason::MaxTokens));
        assert_eq!(completion.usage.input_tokens, 9);
        assert_eq!(
            parse_completion(br#"{"choices":[]}"#).unwrap_err().kind,
            LlmErrorKind::MalformedResponse
        );
    }
}
