//! Who may use a `serve` process: the bearer token (and the refusal to listen on a non-loopback
//! address without one), Host and Origin validation, and the limit on one log line.

mod common;

use std::process::Stdio;

use common::{ServeProcess, explain_command, finish, read_report, scratch_report, start_mock};
use log_archiver::mock::MockSettings;
use reqwest::StatusCode;

const TOKEN: &str = "test-token-0123456789abcdef";

/// An MCP `initialize` request, as a client's first POST.
fn initialize_body() -> serde_json::Value {
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {"sampling": {}},
            "clientInfo": {"name": "probe", "version": "1"}
        }
    })
}

/// POSTs an `initialize` request with `headers` and returns the status.
async fn initialize_status(url: &str, headers: &[(&str, &str)]) -> StatusCode {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("Accept", "application/json, text/event-stream")
        .json(&initialize_body());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("server answers").status()
}

#[tokio::test]
async fn a_token_is_required_of_every_request_when_set() {
    let (_dir, report) = scratch_report();
    let server = ServeProcess::start(&report, &["--auth-token", TOKEN]).await;

    assert_eq!(
        initialize_status(&server.url, &[]).await,
        StatusCode::UNAUTHORIZED
    );
    let wrong = format!("Bearer {TOKEN}x");
    assert_eq!(
        initialize_status(&server.url, &[("Authorization", &wrong)]).await,
        StatusCode::UNAUTHORIZED
    );
    let right = format!("Bearer {TOKEN}");
    assert_eq!(
        initialize_status(&server.url, &[("Authorization", &right)]).await,
        StatusCode::OK
    );

    // Our own client sends the token from the environment, and fails clearly without it.
    let mock = start_mock(MockSettings::default()).await;
    let line = "kernel: Out of memory: Killed process 4242 (java)";
    let mut with_token = explain_command(&mock);
    with_token
        .args(["--server", &server.url, line])
        .env("LOG_ARCHIVER_AUTH_TOKEN", TOKEN);
    let finished = finish(with_token).await;
    assert!(finished.success, "{}", finished.stderr);
    assert_eq!(read_report(&report), common::expected_record(line));

    let mut without = explain_command(&mock);
    without
        .args(["--server", &server.url, line])
        .env_remove("LOG_ARCHIVER_AUTH_TOKEN");
    let finished = finish(without).await;
    assert!(!finished.success);
    assert!(
        finished.stderr.contains("cannot open an MCP session"),
        "{}",
        finished.stderr
    );
    assert_eq!(read_report(&report), common::expected_record(line));
}

#[tokio::test]
async fn a_non_loopback_address_needs_a_token() {
    let (_dir, report) = scratch_report();
    let output = common::command()
        .args(["serve", "--host", "0.0.0.0", "--port", "0", "--report"])
        .arg(&report)
        .env_remove("LOG_ARCHIVER_AUTH_TOKEN")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("serve runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("refusing to listen on 0.0.0.0"), "{stderr}");
    assert!(stderr.contains("LOG_ARCHIVER_AUTH_TOKEN"), "{stderr}");

    let short = common::command()
        .args(["serve", "--port", "0", "--auth-token", "short", "--report"])
        .arg(&report)
        .output()
        .await
        .expect("serve runs");
    assert_eq!(short.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&short.stderr).contains("too short"));
}

#[tokio::test]
async fn foreign_hosts_and_origins_are_refused() {
    let (_dir, report) = scratch_report();
    let server = ServeProcess::start(&report, &[]).await;
    // DNS rebinding: a page on another name that resolves to loopback.
    assert_eq!(
        initialize_status(&server.url, &[("Host", "attacker.example")]).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        initialize_status(&server.url, &[("Origin", "https://attacker.example")]).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        initialize_status(&server.url, &[("Origin", "http://localhost:3000")]).await,
        StatusCode::OK
    );

    let (_dir, report) = scratch_report();
    let allowing = ServeProcess::start(
        &report,
        &["--allowed-origin", "https://console.example.com"],
    )
    .await;
    assert_eq!(
        initialize_status(&allowing.url, &[("Origin", "https://console.example.com")]).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_oversized_log_line_gets_a_tool_error_and_nothing_is_written() {
    let (_dir, report) = scratch_report();
    let server = ServeProcess::start(&report, &["--max-log-line-bytes", "100"]).await;
    let mock = start_mock(MockSettings::default()).await;
    let long_line = format!("app: {}", "x".repeat(200));
    let mut explain = explain_command(&mock);
    explain.args(["--server", &server.url, &long_line]);
    let finished = finish(explain).await;
    assert_eq!(finished.code, Some(1), "{}", finished.stderr);
    assert!(
        finished
            .stderr
            .contains("205 bytes, more than this server's limit of 100 bytes"),
        "{}",
        finished.stderr
    );
    assert_eq!(read_report(&report), "");
    assert_eq!(mock.stats().snapshot().requests, 0);
}
