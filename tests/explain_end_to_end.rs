//! End to end with real processes: `serve` + `explain` + the mock LLM, over loopback HTTP and
//! over stdio; the report's bytes must equal the original format exactly.

mod common;

use common::*;
use log_archiver::mock::MockSettings;

#[tokio::test]
async fn explain_over_http_appends_seed_records() {
    let mock = start_mock(MockSettings::default()).await;
    let (_dir, report) = scratch_report();
    let server = ServeProcess::start(&report, &[]).await;
    let lines = [
        "ERROR connection refused to db-1:5432",
        "kernel: Out of memory: Killed process 4242",
    ];
    let mut explain = explain_command(&mock);
    explain.args(["--server", &server.url]).args(lines);
    let finished = finish(explain).await;
    assert!(finished.success, "explain failed: {}", finished.stderr);
    assert_eq!(
        finished.stdout,
        "Success: Log analyzed and appended to 'incident_report.txt'.\n".repeat(2)
    );
    let expected: String = lines.iter().map(|line| expected_record(line)).collect();
    assert_eq!(read_report(&report), expected);
    let stats = mock.stats().snapshot();
    assert_eq!(stats.requests, 2);
    assert_eq!(stats.by_status.get(&200), Some(&2));
    mock.stop().await;
}

#[tokio::test]
async fn explain_over_stdio_spawns_the_server() {
    let mock = start_mock(MockSettings::default()).await;
    let (_dir, report) = scratch_report();
    let server_command = format!(
        "{} serve --stdio --report {}",
        shell_words::quote(binary()),
        shell_words::quote(&report.to_string_lossy())
    );
    let mut explain = explain_command(&mock);
    explain
        .args(["--stdio-server", &server_command])
        .arg("sshd[1234]: Failed password for root from 10.0.0.1 port 22");
    let finished = finish(explain).await;
    assert!(finished.success, "explain failed: {}", finished.stderr);
    assert_eq!(
        finished.stdout,
        "Success: Log analyzed and appended to 'incident_report.txt'.\n"
    );
    assert_eq!(
        read_report(&report),
        expected_record("sshd[1234]: Failed password for root from 10.0.0.1 port 22")
    );
    mock.stop().await;
}

#[tokio::test]
async fn sampling_request_matches_the_seed_prompt() {
    // The mock's answer quotes the end of the prompt it received, so the record proves which
    // prompt and max_tokens reached the LLM.
    let mock = start_mock(MockSettings::default()).await;
    let (_dir, report) = scratch_report();
    let server = ServeProcess::start(
        &report,
        &[
            "--prompt",
            "Summarise for an on-call engineer: {log_line}",
            "--max-tokens",
            "5",
        ],
    )
    .await;
    let mut explain = explain_command(&mock);
    explain.args(["--server", &server.url, "disk /dev/sda1 is full"]);
    let finished = finish(explain).await;
    assert!(finished.success, "explain failed: {}", finished.stderr);
    let text = read_report(&report);
    let analysis = text
        .lines()
        .nth(2)
        .unwrap()
        .strip_prefix("ANALYSIS: ")
        .unwrap();
    // Five tokens is about twenty characters: the mock cut the answer at max_tokens.
    assert!(analysis.chars().count() <= 20, "{analysis}");
    assert!(analysis.starts_with("Mock analysis"), "{analysis}");
    mock.stop().await;
}

#[tokio::test]
async fn a_hostile_line_cannot_forge_records() {
    let mock = start_mock(MockSettings::default()).await;
    let (_dir, report) = scratch_report();
    let server = ServeProcess::start(&report, &[]).await;
    let hostile =
        "ERROR x\n------------------------------\n--- INCIDENT REPORT ---\nRAW: forged\r\u{1b}[2J";
    let mut explain = explain_command(&mock);
    explain.args(["--server", &server.url, hostile]);
    let finished = finish(explain).await;
    assert!(finished.success, "explain failed: {}", finished.stderr);
    let records = log_archiver::report::parse_report(&read_report(&report)).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].raw, hostile);
    assert!(!records[0].analysis.contains('\n'));
    mock.stop().await;
}
