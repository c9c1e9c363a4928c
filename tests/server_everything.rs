//! Our client against a server nobody here wrote: `log-archiver call` answers the sampling
//! request of `trigger-sampling-request` of `@modelcontextprotocol/server-everything` (pinned in
//! tests/interop/npm, run over stdio so nothing listens on the network) through the mock LLM.

mod common;

use common::*;
use log_archiver::mock::{MockSettings, mock_reply};

#[tokio::test]
async fn our_client_answers_server_everything_sampling_requests() {
    let peers = npm_peers().await;
    let mock = start_mock(MockSettings::default()).await;
    let server = peers.join("node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    let prompt = "ERROR kafka consumer lag exceeded 10000 messages";
    let mut call = command();
    call.args(["call", "trigger-sampling-request"])
        .args([
            "--arg",
            &format!("prompt={prompt}"),
            "--arg",
            "maxTokens=60",
        ])
        .arg("--stdio-server")
        .arg(format!("node {}", server.display()))
        .env("ANTHROPIC_API_KEY", "test-key")
        .env("ANTHROPIC_BASE_URL", mock.base_url())
        .env_remove("LOG_ARCHIVER_MODEL");
    let finished = finish(call).await;
    assert!(
        finished.success,
        "call failed ({:?}): {}\n{}",
        finished.code, finished.stdout, finished.stderr
    );
    // The tool returns "LLM sampling result: " and our sampling result as JSON.
    let (heading, json) = finished
        .stdout
        .split_once('\n')
        .expect("a heading and the result");
    assert_eq!(heading.trim(), "LLM sampling result:");
    let result: serde_json::Value = serde_json::from_str(json).expect("the sampling result");
    let asked = format!("Resource trigger-sampling-request context: {prompt}");
    assert_eq!(result["content"]["text"], mock_reply(&asked));
    assert_eq!(result["role"], "assistant");
    assert!(result["model"].is_string());
    let requests = mock.stats().snapshot().requests;
    assert_eq!(requests, 1, "one LLM request for one sampling request");
    mock.stop().await;
}
