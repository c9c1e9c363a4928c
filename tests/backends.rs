//! The LLM backends through the real binary: the offline explainer as the default without a
//! key, an OpenAI-compatible API (the mock's chat-completions endpoint), and the built-in mock.

mod common;

use common::*;
use log_archiver::mock::MockSettings;

#[tokio::test]
async fn without_a_key_archive_explains_offline_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.txt");
    let mut archive = command();
    archive
        .args(["archive", "--progress", "off", "--report"])
        .arg(&report)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/sample.log"))
        .env_remove("ANTHROPIC_API_KEY");
    let finished = finish(archive).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    assert!(
        finished.stderr.contains("offline explainer"),
        "{}",
        finished.stderr
    );
    assert!(
        finished.stderr.contains("not an LLM"),
        "{}",
        finished.stderr
    );
    let text = read_report(&report);
    assert_eq!(report_raw_lines(&text).len(), 5);
    assert!(text.contains("deadlock"), "{text}");
    assert!(
        text.contains("OOM killer") || text.contains("out of memory"),
        "{text}"
    );
}

#[tokio::test]
async fn an_openai_compatible_api_answers_sampling() {
    let mock = start_mock(MockSettings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let lines = write_log(&log, 50);
    let report = dir.path().join("report.txt");
    let mut archive = command();
    archive
        .args([
            "archive",
            "--progress",
            "off",
            "--llm",
            "openai",
            "--model",
            "llama3",
            "--dedup",
            "off",
        ])
        .arg("--base-url")
        .arg(format!("{}/v1", mock.base_url()))
        .arg("--report")
        .arg(&report)
        .arg(&log)
        .env_remove("OPENAI_API_KEY");
    let finished = finish(archive).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    assert!(
        finished.stderr.contains("OpenAI-compatible llama3"),
        "{}",
        finished.stderr
    );
    assert_eq!(read_report(&report), expected_report(&lines));
    assert_eq!(mock.stats().snapshot().by_status.get(&200), Some(&50));
    mock.stop().await;
}

#[tokio::test]
async fn explain_uses_the_offline_explainer_without_a_key() {
    let (_dir, report) = scratch_report();
    let server = ServeProcess::start(&report, &[]).await;
    let mut explain = command();
    explain
        .args(["explain", "--server", &server.url])
        .arg("Nov 29 03:12:12 bastion sshd[9812]: Failed password for invalid user admin from 203.0.113.9 port 52214 ssh2")
        .env_remove("ANTHROPIC_API_KEY");
    let finished = finish(explain).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    let text = read_report(&report);
    assert!(text.contains("ANALYSIS: sshd"), "{text}");
}
