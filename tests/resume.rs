//! Crashes and interruptions: `kill -9`, Ctrl-C and SIGTERM mid-job, then `--resume`, give the report an
//! uninterrupted run gives, byte for byte; checkpoints guard against mixing up jobs and
//! inputs, and a log that only grew since resumes where it stopped.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::*;
use log_archiver::mock::{MockLlm, MockSettings};
use tokio::process::Child;

async fn slow_mock() -> MockLlm {
    start_mock(MockSettings {
        latency: Duration::from_millis(5),
        latency_spread: Duration::from_millis(10),
        ..MockSettings::default()
    })
    .await
}

fn start_archive(mock: &MockLlm, log: &Path, report: &Path, extra: &[&str]) -> Child {
    let mut archive = job_command(mock, "archive");
    archive
        .arg(log)
        .arg("--report")
        .arg(report)
        .args(["--concurrency", "4"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    archive.spawn().unwrap()
}

/// Waits until the report holds at least `records` records and a checkpoint exists.
async fn wait_for_progress(report: &Path, records: usize) {
    let checkpoint = report.with_extension("txt.checkpoint");
    for _ in 0..600 {
        let count = read_report(report)
            .matches("--- INCIDENT REPORT ---")
            .count();
        if count >= records && checkpoint.exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the job made no progress");
}

async fn resume(mock: &MockLlm, log: &Path, report: &Path) -> Finished {
    let mut archive = job_command(mock, "archive");
    archive.arg(log).arg("--report").arg(report).arg("--resume");
    finish(archive).await
}

#[tokio::test]
async fn kill_9_then_resume_equals_an_uninterrupted_run() {
    let mock = slow_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let lines = write_log(&log, 1500);
    let report = dir.path().join("report.txt");
    let mut child = start_archive(&mock, &log, &report, &[]);
    wait_for_progress(&report, 200).await;
    child.start_kill().unwrap(); // SIGKILL
    child.wait().await.unwrap();
    // A torn record, as if the crash had cut a write in half.
    let mut torn = read_report(&report);
    torn.push_str("--- INCIDENT REPORT ---\nRAW: half a rec");
    std::fs::write(&report, torn).unwrap();
    assert!(
        report_raw_lines(&read_report(&report)).len() < 1500,
        "killed mid-job"
    );

    let finished = resume(&mock, &log, &report).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    assert!(
        finished.stderr.contains("resuming at line"),
        "{}",
        finished.stderr
    );
    assert_eq!(read_report(&report), expected_report(&lines));
    assert!(!dir.path().join("report.txt.checkpoint").exists());
    assert!(finished.stdout.contains("1,500"), "{}", finished.stdout);
    mock.stop().await;
}

#[tokio::test]
async fn ctrl_c_stops_cleanly_and_resume_completes() {
    a_signal_stops_cleanly_and_resume_completes("-INT").await;
}

#[tokio::test]
async fn sigterm_stops_cleanly_and_resume_completes() {
    a_signal_stops_cleanly_and_resume_completes("-TERM").await;
}

/// Sends `signal` (as `kill` spells it) to a running job and checks that it stops with a clean
/// prefix archived, then that `--resume` completes the report.
async fn a_signal_stops_cleanly_and_resume_completes(signal: &str) {
    let mock = slow_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let lines = write_log(&log, 1500);
    let report = dir.path().join("report.txt");
    let child = start_archive(&mock, &log, &report, &[]);
    wait_for_progress(&report, 100).await;
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("Summary"));
    assert!(dir.path().join("report.txt.checkpoint").exists());
    let archived_so_far = report_raw_lines(&read_report(&report));
    assert!(archived_so_far.len() < 1500);
    assert_eq!(
        archived_so_far[..],
        lines[..archived_so_far.len()],
        "a clean prefix"
    );

    let finished = resume(&mock, &log, &report).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    assert_eq!(read_report(&report), expected_report(&lines));
    mock.stop().await;
}

#[tokio::test]
async fn a_leftover_checkpoint_needs_resume_and_must_match_the_input() {
    let mock = slow_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    write_log(&log, 1500);
    let report = dir.path().join("report.txt");
    let mut child = start_archive(&mock, &log, &report, &[]);
    wait_for_progress(&report, 50).await;
    child.start_kill().unwrap();
    child.wait().await.unwrap();

    let fresh = archive_command(&mock, &log, &report);
    let finished = finish(fresh).await;
    assert_eq!(finished.code, Some(1));
    assert!(
        finished.stderr.contains("add --resume"),
        "{}",
        finished.stderr
    );

    let other = dir.path().join("other.log");
    write_log(&other, 10);
    let finished = resume(&mock, &other, &report).await;
    assert_eq!(finished.code, Some(1));
    assert!(
        finished.stderr.contains("belongs to input"),
        "{}",
        finished.stderr
    );

    let mut nothing = job_command(&mock, "archive");
    nothing
        .arg(&log)
        .arg("--report")
        .arg(dir.path().join("new.txt"))
        .arg("--resume");
    let finished = finish(nothing).await;
    assert_eq!(finished.code, Some(1));
    assert!(
        finished.stderr.contains("nothing to resume"),
        "{}",
        finished.stderr
    );
    mock.stop().await;
}

#[tokio::test]
async fn a_log_that_grew_since_the_checkpoint_resumes_where_it_stopped() {
    let mock = slow_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("grow.log");
    write_log(&log, 1500);
    let report = dir.path().join("report.txt");
    let mut child = start_archive(&mock, &log, &report, &[]);
    wait_for_progress(&report, 100).await;
    child.start_kill().unwrap(); // SIGKILL
    child.wait().await.unwrap();

    // The log keeps growing while nothing reads it, as a live log does.
    let lines = write_log(&dir.path().join("longer.log"), 2000);
    let mut appended = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    std::io::Write::write_all(&mut appended, (lines[1500..].join("\n") + "\n").as_bytes()).unwrap();
    drop(appended);

    let finished = resume(&mock, &log, &report).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    assert!(
        finished.stderr.contains("resuming at line"),
        "{}",
        finished.stderr
    );
    assert_eq!(read_report(&report), expected_report(&lines));
    assert!(finished.stdout.contains("2,000"), "{}", finished.stdout);
    mock.stop().await;
}

#[tokio::test]
async fn a_log_replaced_or_truncated_since_the_checkpoint_is_refused_and_the_report_kept() {
    let mock = slow_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let lines = write_log(&log, 1500);
    let report = dir.path().join("report.txt");
    let mut child = start_archive(&mock, &log, &report, &[]);
    wait_for_progress(&report, 100).await;
    child.start_kill().unwrap(); // SIGKILL
    child.wait().await.unwrap();
    let report_then = read_report(&report);

    // Replaced: a new file under the same name, longer, whose lines differ.
    let replacement: Vec<String> = lines.iter().map(|line| format!("{line} again")).collect();
    std::fs::remove_file(&log).unwrap();
    std::fs::write(&log, replacement.join("\n") + "\n").unwrap();
    let finished = resume(&mock, &log, &report).await;
    assert_eq!(finished.code, Some(1), "{}", finished.stderr);
    assert!(
        finished.stderr.contains("replaced or rewritten"),
        "{}",
        finished.stderr
    );
    assert_eq!(read_report(&report), report_then);

    // Truncated: fewer bytes than the checkpoint saw.
    std::fs::write(&log, lines[..10].join("\n") + "\n").unwrap();
    let finished = resume(&mock, &log, &report).await;
    assert_eq!(finished.code, Some(1), "{}", finished.stderr);
    assert!(finished.stderr.contains("truncated"), "{}", finished.stderr);
    assert_eq!(read_report(&report), report_then);

    // Put back, it resumes and completes.
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    let finished = resume(&mock, &log, &report).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    assert_eq!(read_report(&report), expected_report(&lines));
    mock.stop().await;
}
