//! Interoperability with the official TypeScript MCP SDK: its client (tests/interop/ts/client.mjs)
//! against our server over Streamable HTTP, answering the sampling requests through the mock
//! LLM. The SDK is installed, pinned by tests/interop/ts/package-lock.json, into
//! target/ts-interop with `npm ci` on first use; Node.js 20 or newer is required (a missing
//! `node` fails the test rather than skipping it).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use log_archiver::mock::MockSettings;
use tokio::process::Command;
use tokio::sync::OnceCell;

static CLIENT: OnceCell<PathBuf> = OnceCell::const_new();

/// The installed client.mjs, set up once per test run (npm ci only when the lock file changed).
async fn ts_client() -> &'static Path {
    CLIENT
        .get_or_init(|| async {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/ts/setup.sh");
            let mut setup = Command::new("bash");
            // `output()` pipes stdout and stderr whatever is set here.
            setup.arg(script).kill_on_drop(true);
            // npm ci downloads about a hundred small packages on first use.
            let output = tokio::time::timeout(Duration::from_secs(300), setup.output())
                .await
                .expect("tests/interop/ts/setup.sh finishes within five minutes")
                .expect("tests/interop/ts/setup.sh runs");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                output.status.success(),
                "tests/interop/ts/setup.sh failed (Node.js 20+ with npm is required): {stderr}"
            );
            // Shown with --nocapture or when the test fails.
            eprint!("{stderr}");
            let stdout = String::from_utf8(output.stdout).unwrap();
            PathBuf::from(stdout.lines().last().expect("client path printed").trim())
        })
        .await
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
        .arg(client_script)
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
