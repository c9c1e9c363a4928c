//! Corrections to the HTTP answers of rmcp's Streamable HTTP service (rmcp 3.11), in front of
//! it where it decides:
//! - rmcp answers a session's `DELETE` with 202 Accepted; MCP clients expect 200 or 204 (the
//!   official Python SDK logs "Session termination failed: 202"), so it becomes 204.
//! - rmcp answers a body that is not JSON, and a JSON-RPC batch (an array, which MCP no longer
//!   allows), with 415 and a plain-text body; they get HTTP 400 with a JSON-RPC error instead:
//!   a parse error (-32700), or an invalid request (-32600) that says batches are not supported.
//!
//! Everything else goes to rmcp untouched.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The JSON-RPC error code of a body that is not JSON.
const PARSE_ERROR: i32 = -32700;
/// The JSON-RPC error code of a message that is not a valid request.
const INVALID_REQUEST: i32 = -32600;

/// The middleware: see the module comment. `max_body_bytes` is the largest body rmcp accepts.
pub async fn correct_rmcp_answers(
    State(max_body_bytes): State<usize>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() == Method::DELETE {
        let mut response = next.run(request).await;
        if response.status() == StatusCode::ACCEPTED {
            *response.status_mut() = StatusCode::NO_CONTENT;
        }
        return response;
    }
    if request.method() != Method::POST || !is_json(&request) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body is larger than {max_body_bytes} bytes"),
            )
                .into_response();
        }
    };
    if let Some(refusal) = refusal(&bytes) {
        return refusal;
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn is_json(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim_start().starts_with("application/json"))
}

/// The JSON-RPC error for a body rmcp would refuse with 415, if it is one.
fn refusal(body: &Bytes) -> Option<Response> {
    if let Err(error) = serde_json::from_slice::<serde::de::IgnoredAny>(body) {
        return Some(json_rpc_error(PARSE_ERROR, format!("Parse error: {error}")));
    }
    let first = body.iter().find(|byte| !byte.is_ascii_whitespace());
    (first == Some(&b'[')).then(|| {
        json_rpc_error(
            INVALID_REQUEST,
            "Invalid Request: JSON-RPC batches are not supported (MCP removed them in \
             2025-06-18); send one message per request"
                .to_string(),
        )
    })
}

fn json_rpc_error(code: i32, message: String) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": code, "message": message},
    });
    let mut response = (StatusCode::BAD_REQUEST, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_rmcp_would_answer_with_415() {
        assert!(
            refusal(&Bytes::from_static(
                b"{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":1}"
            ))
            .is_none()
        );
        let parse = refusal(&Bytes::from_static(b"{bad")).unwrap();
        assert_eq!(parse.status(), StatusCode::BAD_REQUEST);
        let batch = refusal(&Bytes::from_static(b" [{\"jsonrpc\":\"2.0\"}]")).unwrap();
        assert_eq!(batch.status(), StatusCode::BAD_REQUEST);
    }
}
