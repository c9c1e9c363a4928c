//! Failure paths of the tool and the client: no sampling capability, provider errors, timeouts,
//! a bad key, and an unwritable report. Each gives a clear message and writes nothing.

mod common;

use std::time::Duration;

use common::*;
use log_archiver::mock::{Fault, MockSettings};
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;

fn fault(spec: &str) -> MockSettings {
    MockSettings {
        faults: vec![spec.parse::<Fault>().unwrap()],
        hang: Duration::from_secs(30),
        ..MockSettings::default()
    }
}

/// Runs `explain` for one line against a fresh server and the given mock; returns the result.
async fn explain_once(settings: MockSettings, extra: &[&str]) -> (Finished, String) {
    let mock = start_mock(settings).await;
    let (_dir, report) = scratch_report();
    let server = ServeProcess::start(&report, &[]).await;
    let mut explain = explain_command(&mock);
    explain
        .args(["--server", &server.url])
        .args(extra)
        .arg("ERROR something broke");
    let finished = finish(explain).await;
    mock.stop().await;
    (finished, read_report(&report))
}

#[tokio::test]
async fn client_without_sampling_gets_a_tool_error_and_nothing_is_written() {
    let (_dir, report) = scratch_report();
    let server = ServeProcess::start(&report, &[]).await;
    let transport = rmcp::transport::StreamableHttpClientTransport::from_uri(server.url.as_str());
    // The unit handler declares no capabilities at all.
    let client = ().serve(transport).await.unwrap();
    let params = CallToolRequestParams::new("process_log_entry").with_arguments(
        serde_json::json!({"log_line": "ERROR x"})
            .as_object()
            .cloned()
            .unwrap(),
    );
    let result = client.call_tool(params).await.unwrap();
    assert_eq!(result.is_error, Some(true));
    let text = &result.content[0].as_text().unwrap().text;
    assert!(
        text.contains("did not declare the MCP sampling capability"),
        "{text}"
    );
    // The server keeps serving the same session.
    let tools = client.list_tools(None).await.unwrap();
    let mut names: Vec<&str> = tools.tools.iter().map(|tool| tool.name.as_ref()).collect();
    names.sort();
    assert_eq!(names, ["process_log_entries", "process_log_entry"]);
    client.cancel().await.unwrap();
    assert_eq!(read_report(&report), "");
}

#[tokio::test]
async fn provider_500_is_reported_clearly() {
    let (finished, report) = explain_once(fault("500:every=1"), &[]).await;
    assert_eq!(finished.code, Some(1));
    assert!(
        finished.stderr.contains("the LLM API failed (HTTP 500"),
        "{}",
        finished.stderr
    );
    assert!(
        finished.stderr.contains("nothing was archived"),
        "{}",
        finished.stderr
    );
    assert_eq!(report, "");
}

#[tokio::test]
async fn provider_overload_is_reported_clearly() {
    let (finished, report) = explain_once(fault("529:every=1"), &[]).await;
    assert_eq!(finished.code, Some(1));
    assert!(
        finished
            .stderr
            .contains("the LLM API is overloaded (HTTP 529"),
        "{}",
        finished.stderr
    );
    assert_eq!(report, "");
}

#[tokio::test]
async fn provider_hang_times_out_clearly() {
    let (finished, report) = explain_once(fault("hang:every=1"), &["--llm-timeout", "1"]).await;
    assert_eq!(finished.code, Some(1));
    assert!(
        finished.stderr.contains("did not answer within 1 s"),
        "{}",
        finished.stderr
    );
    assert_eq!(report, "");
}

#[tokio::test]
async fn malformed_provider_answer_is_reported_clearly() {
    let (finished, report) = explain_once(fault("malformed:every=1"), &[]).await;
    assert_eq!(finished.code, Some(1));
    assert!(
        finished.stderr.contains("malformed body"),
        "{}",
        finished.stderr
    );
    assert_eq!(report, "");
}

#[tokio::test]
async fn rejected_key_is_reported_without_revealing_it() {
    let mock = start_mock(MockSettings {
        api_key: Some("the-right-key".into()),
        ..MockSettings::default()
    })
    .await;
    let (_dir, report) = scratch_report();
    let server = ServeProcess::start(&report, &[]).await;
    let mut explain = explain_command(&mock);
    explain
        .env("ANTHROPIC_API_KEY", "sk-ant-wrong-secret-123")
        .env("LOG_ARCHIVER_LOG", "debug")
        .args(["--server", &server.url, "ERROR x"]);
    let finished = finish(explain).await;
    assert_eq!(finished.code, Some(1));
    assert!(
        finished.stderr.contains("API key was rejected"),
        "{}",
        finished.stderr
    );
    assert!(!finished.stderr.contains("sk-ant-wrong-secret-123"));
    assert!(!finished.stdout.contains("sk-ant-wrong-secret-123"));
    assert_eq!(read_report(&report), "");
    mock.stop().await;
}

#[tokio::test]
async fn missing_key_stops_explain_before_connecting() {
    let mock = start_mock(MockSettings::default()).await;
    let mut explain = explain_command(&mock);
    explain.env_remove("ANTHROPIC_API_KEY").args([
        "--llm",
        "anthropic",
        "--server",
        "http://127.0.0.1:9/mcp",
        "ERROR x",
    ]);
    let finished = finish(explain).await;
    assert_eq!(finished.code, Some(1));
    assert!(
        finished.stderr.contains("no Anthropic API key"),
        "{}",
        finished.stderr
    );
    mock.stop().await;
}

#[tokio::test]
async fn unreachable_server_is_reported_clearly() {
    let mock = start_mock(MockSettings::default()).await;
    let mut explain = explain_command(&mock);
    // Port 9 (discard) on loopback has no listener here.
    explain.args(["--server", "http://127.0.0.1:9/mcp", "ERROR x"]);
    let finished = finish(explain).await;
    assert_eq!(finished.code, Some(1));
    assert!(
        finished
            .stderr
            .contains("cannot open an MCP session with http://127.0.0.1:9/mcp"),
        "{}",
        finished.stderr
    );
    mock.stop().await;
}

#[tokio::test]
async fn unwritable_report_fails_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("no-such-dir").join("report.txt");
    let mut serve = command();
    serve
        .args(["serve", "--port", "0", "--report"])
        .arg(&report);
    let finished = finish(serve).await;
    assert_eq!(finished.code, Some(1));
    assert!(
        finished.stderr.contains("cannot write report")
            && finished.stderr.contains("there is no directory"),
        "{}",
        finished.stderr
    );
}
