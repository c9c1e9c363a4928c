//! What peers see on the wire beyond the happy path: ending a session answers 204, a body that
//! is not JSON gets a JSON-RPC parse error and a JSON-RPC batch a JSON-RPC error naming batches
//! (both HTTP 400), and a `process_log_entries` call with a wrong number of lines is a tool
//! error, on both protocol revisions.

mod common;

use common::{ServeProcess, scratch_report};
use log_archiver::client::{ProtocolChoice, call_tool};
use reqwest::StatusCode;

fn post(url: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(url)
        .header("Accept", "application/json, text/event-stream")
        .header("Content-Type", "application/json")
}

#[tokio::test]
async fn ending_a_session_answers_204() {
    let (_dir, report) = scratch_report();
    let server = ServeProcess::start(&report, &[]).await;
    let initialize = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "probe", "version": "1"}}
    });
    let response = post(&server.url)
        .body(initialize.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let session = response.headers()["mcp-session-id"].clone();
    let ended = reqwest::Client::new()
        .delete(&server.url)
        .header("mcp-session-id", session)
        .send()
        .await
        .unwrap();
    assert!(
        [StatusCode::OK, StatusCode::NO_CONTENT].contains(&ended.status()),
        "{}",
        ended.status()
    );
}

/// POSTs `body` and returns the status and the JSON-RPC error it carries.
async fn refused(url: &str, body: &str) -> (StatusCode, serde_json::Value) {
    let response = post(url).body(body.to_string()).send().await.unwrap();
    let status = response.status();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["jsonrpc"], "2.0");
    assert!(answer["id"].is_null(), "{answer}");
    (status, answer["error"].clone())
}

#[tokio::test]
async fn malformed_json_and_batches_get_json_rpc_errors() {
    let (_dir, report) = scratch_report();
    let server = ServeProcess::start(&report, &[]).await;
    let (status, error) = refused(&server.url, "{\"jsonrpc\": \"2.0\", bad").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["code"], -32700, "{error}");
    let batch = r#"[{"jsonrpc": "2.0", "id": 1, "method": "ping"}]"#;
    let (status, error) = refused(&server.url, batch).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["code"], -32600, "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("batches"),
        "{error}"
    );
}

#[tokio::test]
async fn a_wrong_number_of_lines_is_a_tool_error_on_both_revisions() {
    let (_dir, report) = scratch_report();
    let server = ServeProcess::start(&report, &[]).await;
    for protocol in [ProtocolChoice::V2026_07_28, ProtocolChoice::V2025_11_25] {
        let session = server.offline_session(protocol).await;
        for count in [0, 257] {
            let lines = vec!["ERROR x"; count];
            let arguments = serde_json::json!({ "log_lines": lines });
            let result = call_tool(
                &session,
                "process_log_entries",
                arguments.as_object().cloned().unwrap(),
            )
            .await
            .unwrap_or_else(|error| panic!("{protocol:?} {count}: not a tool error: {error}"));
            assert_eq!(result.is_error, Some(true), "{protocol:?} {count}");
            let text = format!("{:?}", result.content);
            assert!(
                text.contains(&format!("log_lines must hold 1 to 256 lines, not {count}")),
                "{text}"
            );
        }
    }
    assert_eq!(common::read_report(&report), "");
}
