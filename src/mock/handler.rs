//! HTTP handlers of the mock LLM: Anthropic's `POST /v1/messages`, the OpenAI-compatible
//! `POST /v1/chat/completions`, and `GET /stats`. Both APIs share authentication, the rate
//! limit, faults and replies; they differ in request and answer shapes.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::MockSettings;
use super::faults::FaultKind;
use super::generation::Generation;
use super::rate_limit::{RequestLimit, rfc3339_after};
use super::reply::mock_reply;
use super::stats::MockStats;
use crate::llm::estimate_tokens;

pub struct MockState {
    settings: MockSettings,
    pub stats: Arc<MockStats>,
    rng: Mutex<StdRng>,
    limit: Option<RequestLimit>,
}

impl MockState {
    pub fn new(settings: MockSettings) -> Self {
        let limit = settings
            .requests_per_minute
            .and_then(NonZeroU32::new)
            .map(RequestLimit::new);
        Self {
            rng: Mutex::new(StdRng::seed_from_u64(settings.seed)),
            settings,
            stats: Arc::new(MockStats::default()),
            limit,
        }
    }

    fn draw(&self) -> f64 {
        self.rng.lock().expect("rng lock poisoned").random::<f64>()
    }

    fn latency(&self) -> Duration {
        let spread = self.settings.latency_spread;
        if spread.is_zero() {
            return self.settings.latency;
        }
        self.settings.latency + spread.mul_f64(self.draw())
    }
}

pub fn router(state: Arc<MockState>) -> Router {
    Router::new()
        .route("/v1/messages", post(anthropic_messages))
        .route("/v1/chat/completions", post(openai_chat_completions))
        .route("/stats", get(stats))
        .with_state(state)
}

async fn stats(State(state): State<Arc<MockState>>) -> Json<super::MockStatsSnapshot> {
    Json(state.stats.snapshot())
}

/// Which provider's API a request came through.
#[derive(Clone, Copy)]
enum Flavor {
    Anthropic,
    OpenAi,
}

impl Flavor {
    fn error(self, status: StatusCode, kind: &str, message: &str) -> Response {
        let body = match self {
            Self::Anthropic => {
                json!({"type": "error", "error": {"type": kind, "message": message}})
            }
            Self::OpenAi => json!({"error": {"message": message, "type": kind, "code": null}}),
        };
        (status, Json(body)).into_response()
    }
}

fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let from_header = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    let from_bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    from_header
        .or(from_bearer)
        .filter(|key| !key.trim().is_empty())
}

async fn anthropic_messages(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    counted(&state, Flavor::Anthropic, &headers, &body).await
}

async fn openai_chat_completions(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    counted(&state, Flavor::OpenAi, &headers, &body).await
}

async fn counted(state: &MockState, flavor: Flavor, headers: &HeaderMap, body: &[u8]) -> Response {
    let (number, _in_flight) = state.stats.begin();
    let response = answer(state, flavor, number, headers, body).await;
    state.stats.record_status(response.status().as_u16());
    response
}

async fn answer(
    state: &MockState,
    flavor: Flavor,
    number: u64,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let api_error = |status, kind: &str, message: &str| flavor.error(status, kind, message);
    match (presented_key(headers), &state.settings.api_key) {
        // OpenAI-compatible servers often run without keys; Anthropic always wants one.
        (None, None) if matches!(flavor, Flavor::OpenAi) => {}
        (None, _) => {
            return api_error(
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                "x-api-key header is required",
            );
        }
        (Some(key), Some(expected)) if key != expected => {
            return api_error(
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                "invalid x-api-key",
            );
        }
        _ => {}
    }
    let request: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(error) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                &format!("body is not JSON: {error}"),
            );
        }
    };
    let parsed = match ParsedRequest::from_json(&request, flavor, state.settings.generation) {
        Ok(parsed) => parsed,
        Err(message) => {
            return api_error(StatusCode::BAD_REQUEST, "invalid_request_error", &message);
        }
    };

    let mut rate_headers = HeaderMap::new();
    if let Some(limit) = &state.limit {
        let decision = limit.check();
        let reset = rfc3339_after(decision.reset_in);
        for (name, value) in [
            (
                "anthropic-ratelimit-requests-limit",
                limit.limit().to_string(),
            ),
            (
                "anthropic-ratelimit-requests-remaining",
                decision.remaining.to_string(),
            ),
            ("anthropic-ratelimit-requests-reset", reset),
        ] {
            rate_headers.insert(name, HeaderValue::from_str(&value).expect("ascii header"));
        }
        if !decision.allowed {
            let retry = decision.reset_in.as_secs_f64().ceil().max(1.0) as u64;
            rate_headers.insert("retry-after", HeaderValue::from(retry));
            let mut response = api_error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "Number of requests has exceeded your per-minute rate limit",
            );
            response.headers_mut().extend(rate_headers);
            return response;
        }
    }

    let draw = state.draw();
    let fault = state
        .settings
        .faults
        .iter()
        .find(|f| f.fires(number, draw))
        .map(|f| f.kind);
    // A zero sleep would still wait for the timer's next 1 ms tick.
    let latency = state.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut response = match fault {
        Some(FaultKind::RateLimited) => {
            let mut response = api_error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "injected rate limit",
            );
            let retry = state.settings.retry_after.as_secs().max(1);
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(retry));
            response
        }
        Some(FaultKind::Overloaded) => api_error(
            StatusCode::from_u16(529).expect("valid status"),
            "overloaded_error",
            "Overloaded",
        ),
        Some(FaultKind::ServerError) => api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "injected internal server error",
        ),
        Some(FaultKind::Hang) => {
            tokio::time::sleep(state.settings.hang).await;
            api_error(
                StatusCode::GATEWAY_TIMEOUT,
                "timeout_error",
                "injected hang ended",
            )
        }
        Some(FaultKind::Malformed) => (
            StatusCode::OK,
            [("content-type", "application/json")],
            "{\"id\":\"msg_mock\",\"type\":\"message\",\"content\":[{",
        )
            .into_response(),
        None => success(state, flavor, number, &parsed),
    };
    response.headers_mut().extend(rate_headers);
    response
}

/// The parts of a Messages request the mock looks at.
struct ParsedRequest {
    model: String,
    max_tokens: u64,
    /// Spent on thinking before any text (the 5.5 generation).
    thinking_tokens: u64,
    prompt: String,
    input_text: String,
    stop_sequences: Vec<String>,
}

impl ParsedRequest {
    fn from_json(request: &Value, flavor: Flavor, generation: Generation) -> Result<Self, String> {
        let model = request["model"]
            .as_str()
            .ok_or("model: field required")?
            .to_string();
        let max_tokens = match flavor {
            Flavor::Anthropic => request["max_tokens"]
                .as_u64()
                .filter(|n| *n > 0)
                .ok_or("max_tokens: a positive integer is required")?,
            // Optional for chat completions; a generous default like the real servers.
            Flavor::OpenAi => request["max_tokens"]
                .as_u64()
                .or(request["max_completion_tokens"].as_u64())
                .unwrap_or(4096),
        };
        let messages = request["messages"]
            .as_array()
            .filter(|m| !m.is_empty())
            .ok_or("messages: at least one message is required")?;
        let texts: Vec<String> = messages
            .iter()
            .map(|m| message_text(&m["content"]))
            .collect();
        let prompt = messages
            .iter()
            .rev()
            .find(|m| m["role"] == "user")
            .map(|m| message_text(&m["content"]))
            .ok_or("messages: a user message is required")?;
        let system = match &request["system"] {
            Value::Null => String::new(),
            other => message_text(other),
        };
        let stop_field = match flavor {
            Flavor::Anthropic => &request["stop_sequences"],
            Flavor::OpenAi => &request["stop"],
        };
        let stop_sequences = match stop_field {
            Value::String(one) => vec![one.clone()],
            Value::Array(many) => many
                .iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect(),
            _ => Vec::new(),
        };
        let thinking_tokens = match flavor {
            Flavor::Anthropic => generation.thinking_tokens(request)?,
            Flavor::OpenAi => 0,
        };
        Ok(Self {
            model,
            max_tokens,
            thinking_tokens,
            prompt,
            input_text: format!("{system}{}", texts.concat()),
            stop_sequences,
        })
    }
}

/// The text of a `content` (or `system`) field: a string, or an array of text blocks.
fn message_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|block| block["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// Why the mock stopped, before it is spelled the way each API spells it.
#[derive(Clone, Copy, PartialEq)]
enum Stop {
    EndTurn,
    MaxTokens,
    Sequence,
}

fn success(state: &MockState, flavor: Flavor, number: u64, request: &ParsedRequest) -> Response {
    let mut text = mock_reply(&request.prompt);
    let mut stop = Stop::EndTurn;
    let mut stop_sequence = Value::Null;
    if let Some((at, sequence)) = request
        .stop_sequences
        .iter()
        .filter_map(|s| text.find(s.as_str()).map(|at| (at, s)))
        .min_by_key(|(at, _)| *at)
    {
        text.truncate(at);
        stop = Stop::Sequence;
        stop_sequence = Value::String(sequence.clone());
    }
    // Thinking comes first and counts against max_tokens; the text gets what is left.
    let thinking_tokens = request.thinking_tokens.min(request.max_tokens);
    let text_budget = request.max_tokens - thinking_tokens;
    if estimate_tokens(&text) > text_budget {
        text = text.chars().take(text_budget as usize * 4).collect();
        stop = Stop::MaxTokens;
        stop_sequence = Value::Null;
    }
    let input_tokens = estimate_tokens(&request.input_text);
    let text_tokens = if text.is_empty() {
        0
    } else {
        estimate_tokens(&text).min(text_budget)
    };
    let output_tokens = thinking_tokens + text_tokens;
    state.stats.record_tokens(input_tokens, output_tokens);
    let body = match flavor {
        Flavor::Anthropic => {
            let mut content = Vec::new();
            if thinking_tokens > 0 {
                content.push(json!({"type": "thinking",
                    "thinking": "The line names what failed; one sentence will say it.",
                    "signature": format!("mock-signature-{number:08}")}));
            }
            // A budget that thinking used up leaves no text block at all.
            if !text.is_empty() || thinking_tokens == 0 {
                content.push(json!({"type": "text", "text": text}));
            }
            json!({
                "id": format!("msg_mock_{number:08}"),
                "type": "message",
                "role": "assistant",
                "model": request.model,
                "content": content,
                "stop_reason": match stop {
                    Stop::EndTurn => "end_turn",
                    Stop::MaxTokens => "max_tokens",
                    Stop::Sequence => "stop_sequence",
                },
                "stop_sequence": stop_sequence,
                "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
            })
        }
        Flavor::OpenAi => json!({
            "id": format!("chatcmpl-mock-{number:08}"),
            "object": "chat.completion",
            "created": 0,
            "model": request.model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": if stop == Stop::MaxTokens { "length" } else { "stop" },
            }],
            "usage": {
                "prompt_tokens": input_tokens,
                "completion_tokens": output_tokens,
                "total_tokens": input_tokens + output_tokens,
            },
        }),
    };
    (StatusCode::OK, Json(body)).into_response()
}
