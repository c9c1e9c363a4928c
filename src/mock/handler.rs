//! HTTP handlers of the mock LLM: `POST /v1/messages` and `GET /stats`.

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
        .route("/v1/messages", post(messages))
        .route("/stats", get(stats))
        .with_state(state)
}

async fn stats(State(state): State<Arc<MockState>>) -> Json<super::MockStatsSnapshot> {
    Json(state.stats.snapshot())
}

fn api_error(status: StatusCode, kind: &str, message: &str) -> Response {
    let body = json!({"type": "error", "error": {"type": kind, "message": message}});
    (status, Json(body)).into_response()
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

async fn messages(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (number, _in_flight) = state.stats.begin();
    let response = answer(&state, number, &headers, &body).await;
    state.stats.record_status(response.status().as_u16());
    response
}

async fn answer(state: &MockState, number: u64, headers: &HeaderMap, body: &[u8]) -> Response {
    match (presented_key(headers), &state.settings.api_key) {
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
    let parsed = match ParsedRequest::from_json(&request) {
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
    tokio::time::sleep(state.latency()).await;
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
        None => success(state, number, &parsed),
    };
    response.headers_mut().extend(rate_headers);
    response
}

/// The parts of a Messages request the mock looks at.
struct ParsedRequest {
    model: String,
    max_tokens: u64,
    prompt: String,
    input_text: String,
    stop_sequences: Vec<String>,
}

impl ParsedRequest {
    fn from_json(request: &Value) -> Result<Self, String> {
        let model = request["model"]
            .as_str()
            .ok_or("model: field required")?
            .to_string();
        let max_tokens = request["max_tokens"]
            .as_u64()
            .filter(|n| *n > 0)
            .ok_or("max_tokens: a positive integer is required")?;
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
        let stop_sequences = request["stop_sequences"]
            .as_array()
            .map(|seqs| {
                seqs.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            model,
            max_tokens,
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

fn success(state: &MockState, number: u64, request: &ParsedRequest) -> Response {
    let mut text = mock_reply(&request.prompt);
    let mut stop_reason = "end_turn";
    let mut stop_sequence = Value::Null;
    if let Some((at, sequence)) = request
        .stop_sequences
        .iter()
        .filter_map(|s| text.find(s.as_str()).map(|at| (at, s)))
        .min_by_key(|(at, _)| *at)
    {
        text.truncate(at);
        stop_reason = "stop_sequence";
        stop_sequence = Value::String(sequence.clone());
    }
    if estimate_tokens(&text) > request.max_tokens {
        text = text.chars().take(request.max_tokens as usize * 4).collect();
        stop_reason = "max_tokens";
        stop_sequence = Value::Null;
    }
    let input_tokens = estimate_tokens(&request.input_text);
    let output_tokens = estimate_tokens(&text).min(request.max_tokens);
    state.stats.record_tokens(input_tokens, output_tokens);
    let body = json!({
        "id": format!("msg_mock_{number:08}"),
        "type": "message",
        "role": "assistant",
        "model": request.model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    });
    (StatusCode::OK, Json(body)).into_response()
}
