//! Interoperability with the official Python MCP SDK (classic 1.x API): its client against our
//! server over HTTP and stdio, and our client (`explain`, and `archive --server` over a whole
//! log) against its FastMCP server, with the sampling request on the tool call's stream and on
//! the standalone GET stream. The peers live in
//! tests/interop/ and are installed, pinned, into a virtualenv on first use.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::*;
use log_archiver::mock::{MockLlm, MockSettings};
use tokio::process::{Child, Command};

/// The Python client pointed at the mock LLM.
async fn python_client(mock: &MockLlm) -> Command {
    let mut command = Command::new(python().await);
    command
        .arg(interop_dir().join("python_client.py"))
        .env("ANTHROPIC_API_KEY", "test-key")
        .env("ANTHROPIC_BASE_URL", mock.base_url())
        .env("LOG_ARCHIVER_LOG", "warn")
        .kill_on_drop(true);
    command
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the FastMCP peer and waits until it accepts connections.
async fn start_fastmcp(report: &Path, standalone_stream: bool) -> (Child, String) {
    let port = free_port();
    let mut command = Command::new(python().await);
    command
        .arg(interop_dir().join("fastmcp_server.py"))
        .args(["--port", &port.to_string(), "--report"])
        .arg(report)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    if standalone_stream {
        command.arg("--standalone-stream");
    }
    let child = command.spawn().expect("FastMCP server starts");
    for _ in 0..300 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return (child, format!("http://127.0.0.1:{port}/mcp"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("FastMCP server did not listen on port {port} within 30 s");
}

#[tokio::test]
async fn python_sdk_client_uses_our_server_over_http() {
    let mock = start_mock(MockSettings::default()).await;
    let (_dir, report) = scratch_report();
    let server = ServeProcess::start(&report, &[]).await;
    let lines = ["ERROR python over http", "WARN tab\tand unicode \u{2713}"];
    let mut client = python_client(&mock).await;
    client.args(["http", &server.url]).args(lines);
    let finished = finish(client).await;
    assert!(
        finished.success,
        "python client failed: {}",
        finished.stderr
    );
    assert_eq!(
        finished.stdout,
        "Success: Log analyzed and appended to 'incident_report.txt'.\n".repeat(2)
    );
    let expected: String = lines.iter().map(|line| expected_record(line)).collect();
    assert_eq!(read_report(&report), expected);
    mock.stop().await;
}

#[tokio::test]
async fn python_sdk_client_uses_our_server_over_stdio() {
    let mock = start_mock(MockSettings::default()).await;
    let (_dir, report) = scratch_report();
    let mut client = python_client(&mock).await;
    client
        .args(["stdio", binary(), "serve", "--stdio", "--report"])
        .arg(&report)
        .args(["--", "ERROR python over stdio"]);
    let finished = finish(client).await;
    assert!(
        finished.success,
        "python client failed: {}",
        finished.stderr
    );
    assert_eq!(
        read_report(&report),
        expected_record("ERROR python over stdio")
    );
    mock.stop().await;
}

async fn explain_against_fastmcp(standalone_stream: bool) {
    let mock = start_mock(MockSettings::default()).await;
    let (_dir, report) = scratch_report();
    let (_server, url) = start_fastmcp(&report, standalone_stream).await;
    let mut explain = explain_command(&mock);
    explain.args(["--server", &url, "ERROR our client, their server"]);
    let finished = finish(explain).await;
    assert!(finished.success, "explain failed: {}", finished.stderr);
    assert_eq!(
        finished.stdout,
        "Success: Log analyzed and appended to 'incident_report.txt'.\n"
    );
    assert_eq!(
        read_report(&report),
        expected_record("ERROR our client, their server")
    );
    mock.stop().await;
}

#[tokio::test]
async fn our_client_answers_fastmcp_sampling_tied_to_the_tool_call() {
    explain_against_fastmcp(false).await;
}

#[tokio::test]
async fn our_client_answers_fastmcp_sampling_on_the_standalone_stream() {
    explain_against_fastmcp(true).await;
}

/// `archive --server` sends a whole log through the FastMCP peer: every line lands once (in
/// completion order, since that server ignores the ordering information).
async fn archive_through_fastmcp(standalone_stream: bool) {
    let mock = start_mock(MockSettings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("incident_report.txt");
    let (_server, url) = start_fastmcp(&report, standalone_stream).await;
    let log = dir.path().join("app.log");
    let lines = write_log(&log, 40);
    let mut archive = job_command(&mock, "archive");
    archive
        .arg(&log)
        .args(["--server", &url, "--concurrency", "8", "--connections", "2"])
        .args(["--rpm", "unlimited", "--dedup", "off", "--json", "--report"])
        .arg(dir.path().join("client-side.txt"));
    let finished = finish(archive).await;
    assert_eq!(
        finished.code,
        Some(0),
        "archive failed: {}",
        finished.stderr
    );
    let summary: serde_json::Value = serde_json::from_str(finished.stdout.trim()).unwrap();
    assert_eq!(summary["counters"]["archived"], 40);
    let mut written = report_raw_lines(&read_report(&report));
    written.sort();
    let mut expected = lines.clone();
    expected.sort();
    assert_eq!(written, expected, "every line once");
    mock.stop().await;
}

#[tokio::test]
async fn archive_through_fastmcp_with_sampling_tied_to_the_tool_call() {
    archive_through_fastmcp(false).await;
}

#[tokio::test]
async fn archive_through_fastmcp_with_sampling_on_the_standalone_stream() {
    archive_through_fastmcp(true).await;
}
