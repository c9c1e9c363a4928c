//! Interoperability with the official TypeScript MCP SDK: its client (tests/interop/ts/client.mjs)
//! against our server over Streamable HTTP, answering the sampling requests through the mock
//! LLM. The SDK is installed, pinned by tests/interop/npm/package-lock.json, into
//! target/npm-interop with `npm ci` on first use; Node.js 20 or newer is required (a missing
//! `node` fails the test rather than skipping it).

mod common;

use std::path::PathBuf;

use common::*;
use log_archiver::mock::MockSettings;
use tokio::process::Command;

/// The installed client.mjs of the npm peers.
async fn ts_client() -> PathBuf {
    npm_peers().await.join("client.mjs")
}

#[tokio::test]
async fn typescript_sdk_client_uses_our_server_over_http() {
    let client_script = ts_client().await;
    let mock = start_mock(MockSettings::default()).await;
    let (_dir, report) = scratch_report();
    let mut server = ServeProcess::start(&report, &[]).await;
    let lines = [
        "ERROR typescript over http: connection refused",
        "WARN tab\there, unicode \u{2713}",
        r"ERROR C:\logs\app.log: disk full",
    ];
    let mut client = Command::new("node");
    client
        .arg(&client_script)
        .arg(&server.url)
        .args(lines)
        .env("ANTHROPIC_API_KEY", "test")
        .env("ANTHROPIC_BASE_URL", mock.base_url())
        .env_remove("LOG_ARCHIVER_MODEL")
        .kill_on_drop(true);
    let finished = finish(client).await;
    assert!(
        finished.success,
        "TypeScript client failed ({:?}): {}",
        finished.code, finished.stderr
    );
    // The negotiated protocol revision and session, shown with --nocapture.
    eprint!("{}", finished.stderr);
    assert_eq!(
        finished.stdout,
        "Success: Log analyzed and appended to 'incident_report.txt'.\n".repeat(lines.len()),
        "stderr: {}",
        finished.stderr
    );
    assert_eq!(read_report(&report), expected_report(&lines));
    server.child.kill().await.expect("serve stops");
    mock.stop().await;
}
