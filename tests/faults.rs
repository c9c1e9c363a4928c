//! Faults a long job must survive: the LLM endpoint going away and coming back, sporadic 429s,
//! malformed answers, an LLM that cannot be reached at all (the job stops early, resumable),
//! and the report's disk filling up (a file-size limit) with `--resume` completing once the
//! cause is gone.

mod common;

use std::time::Duration;

use common::*;
use log_archiver::mock::{MockLlm, MockSettings};
use tokio::net::TcpListener;

/// Waits until the report holds at least `records` records.
async fn wait_for_records(report: &std::path::Path, records: usize) {
    for _ in 0..1200 {
        if report_raw_lines(&read_report(report)).len() >= records {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the job made no progress");
}

#[tokio::test]
async fn an_llm_outage_is_ridden_out_with_backoff() {
    let settings = MockSettings {
        latency: Duration::from_millis(5),
        ..MockSettings::default()
    };
    let mock = start_mock(settings.clone()).await;
    let address = mock.base_url().trim_start_matches("http://").to_string();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let lines = write_log(&log, 400);
    let report = dir.path().join("report.txt");
    let mut archive = archive_command(&mock, &log, &report);
    archive.args(["--concurrency", "4", "--dedup", "off", "--json"]);
    let job = tokio::spawn(finish(archive));

    wait_for_records(&report, 50).await;
    // The provider goes away: requests in flight break, new connections are refused.
    mock.stop().await;
    tokio::time::sleep(Duration::from_secs(20)).await;
    let before_recovery = report_raw_lines(&read_report(&report)).len();
    assert!(before_recovery < 400, "the outage came too late to matter");
    let listener = TcpListener::bind(&address)
        .await
        .expect("the port is free again");
    let mock = MockLlm::start(listener, settings).unwrap();

    let finished = job.await.unwrap();
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    assert_eq!(read_report(&report), expected_report(&lines));
    let summary: serde_json::Value = serde_json::from_str(finished.stdout.trim()).unwrap();
    assert!(
        summary["counters"]["retries"].as_u64().unwrap() > 0,
        "{summary}"
    );
    assert!(!dir.path().join("report.txt.failed.csv").exists());
    mock.stop().await;
}

#[tokio::test]
async fn a_full_disk_stops_the_job_and_resume_completes_once_fixed() {
    let mock = start_mock(MockSettings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let lines = write_log(&log, 300);
    let report = dir.path().join("report.txt");
    let archive = archive_command(&mock, &log, &report);
    // The same command under a 16 KiB file-size limit (`ulimit -f` counts 512-byte blocks),
    // which the report outgrows after some 60 records.
    let mut limited = tokio::process::Command::new("sh");
    limited
        .arg("-c")
        .arg("ulimit -f 32 && exec \"$0\" \"$@\"")
        .arg(archive.as_std().get_program())
        .args(archive.as_std().get_args())
        .args(["--dedup", "off"])
        .envs(
            archive
                .as_std()
                .get_envs()
                .filter_map(|(key, value)| value.map(|value| (key, value))),
        )
        .env_remove("LOG_ARCHIVER_MODEL")
        .kill_on_drop(true);
    let finished = finish(limited).await;
    assert_eq!(finished.code, Some(1), "{}", finished.stderr);
    assert!(
        finished.stderr.contains("cannot write to report file")
            && finished.stderr.contains("File too large"),
        "{}",
        finished.stderr
    );
    assert!(finished.stderr.contains("--resume"), "{}", finished.stderr);
    let checkpoint = dir.path().join("report.txt.checkpoint");
    assert!(checkpoint.exists());
    // The checkpoint's cut is a clean prefix of the input.
    let cut: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&checkpoint).unwrap()).unwrap();
    let report_len = cut["report_len"].as_u64().unwrap() as usize;
    let kept = &std::fs::read(&report).unwrap()[..report_len];
    let kept = report_raw_lines(std::str::from_utf8(kept).unwrap());
    assert!(kept.len() < lines.len());
    assert_eq!(kept[..], lines[..kept.len()]);

    let mut resume = archive_command(&mock, &log, &report);
    resume.args(["--dedup", "off", "--resume"]);
    let finished = finish(resume).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    assert_eq!(read_report(&report), expected_report(&lines));
    assert!(!checkpoint.exists());
    assert!(!dir.path().join("report.txt.failed.csv").exists());
    mock.stop().await;
}

#[tokio::test]
async fn an_external_server_restarted_mid_job_loses_and_doubles_nothing() {
    let mock = start_mock(MockSettings {
        latency: Duration::from_millis(5),
        latency_spread: Duration::from_millis(10),
        ..MockSettings::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let lines = write_log(&log, 600);
    let report = dir.path().join("served.txt");
    let server = ServeProcess::start(&report, &[]).await;
    let port = server
        .url
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches("/mcp")
        .to_string();
    let mut archive = job_command(&mock, "archive");
    archive
        .arg(&log)
        .args(["--server", &server.url, "--concurrency", "16", "--json"])
        .arg("--report")
        .arg(dir.path().join("unused.txt"));
    let job = tokio::spawn(finish(archive));

    wait_for_records(&report, 100).await;
    let ServeProcess { mut child, .. } = server;
    let pid = child.id().unwrap().to_string();
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(stopped.success());
    child.wait().await.unwrap();
    let at_restart = report_raw_lines(&read_report(&report)).len();
    assert!(at_restart < 600, "the restart came too late to matter");
    let _restarted = ServeProcess::start(&report, &["--port", &port]).await;

    let finished = job.await.unwrap();
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    let mut archived = report_raw_lines(&read_report(&report));
    assert_eq!(archived.len(), 600, "every entry exactly once");
    archived.sort();
    let mut expected = lines.clone();
    expected.sort();
    assert_eq!(archived, expected);
    mock.stop().await;
}

/// Archives 300 lines against a mock answering 30% of requests with 429 (`retry-after: 1`),
/// with the default `--rpm auto`: the pace holds, every line is archived and every answer the
/// mock gave is used.
#[tokio::test]
async fn sporadic_429s_neither_collapse_the_adaptive_rate_nor_lose_answers() {
    let mock = start_mock(MockSettings {
        latency: Duration::from_millis(20),
        faults: vec!["429:rate=0.3".parse().unwrap()],
        seed: 15,
        ..MockSettings::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let lines = write_log(&log, 300);
    let report = dir.path().join("report.txt");
    let mut archive = archive_command(&mock, &log, &report);
    archive.args(["--dedup", "off", "--json"]);
    let finished = finish(archive).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    assert_eq!(read_report(&report), expected_report(&lines));
    assert!(!dir.path().join("report.txt.failed.csv").exists());
    let summary: serde_json::Value = serde_json::from_str(finished.stdout.trim()).unwrap();
    assert!(
        summary["counters"]["rate_limited"].as_u64().unwrap() > 0,
        "{summary}"
    );
    let pace = summary["rate_limit"].as_str().unwrap();
    assert!(pace.starts_with("adaptive"), "{pace}");
    let answered = mock.stats().snapshot().by_status[&200];
    assert_eq!(answered, 300, "every answer given is used, none twice");
    mock.stop().await;
}

#[tokio::test]
async fn malformed_answers_are_retried_like_server_errors() {
    let mock = start_mock(MockSettings {
        faults: vec!["malformed:every=7".parse().unwrap()],
        ..MockSettings::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let lines = write_log(&log, 100);
    let report = dir.path().join("report.txt");
    let mut archive = archive_command(&mock, &log, &report);
    archive.args(["--dedup", "off", "--json"]);
    let finished = finish(archive).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    assert_eq!(read_report(&report), expected_report(&lines));
    assert!(!dir.path().join("report.txt.failed.csv").exists());
    let summary: serde_json::Value = serde_json::from_str(finished.stdout.trim()).unwrap();
    assert!(
        summary["counters"]["retries"].as_u64().unwrap() >= 14,
        "{summary}"
    );
    mock.stop().await;
}

/// A loopback URL where nothing listens: connections are refused.
async fn refused_url() -> String {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}")
}

#[tokio::test]
async fn an_unreachable_llm_stops_the_job_early_and_it_resumes_once_reachable() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let lines = write_log(&log, 200);
    let report = dir.path().join("report.txt");
    let url = refused_url().await;
    let mut archive = job_command_at(&url, "archive");
    archive
        .arg(&log)
        .arg("--report")
        .arg(&report)
        .args(["--dedup", "off"]);
    let finished = finish(archive).await;
    assert_eq!(finished.code, Some(1), "{}", finished.stderr);
    let stderr = &finished.stderr;
    assert!(
        stderr.contains(&format!("the LLM API at {url} is unreachable"))
            && stderr.contains("Connection refused"),
        "{stderr}"
    );
    assert!(stderr.contains("--resume"), "{stderr}");
    assert!(
        !dir.path().join("report.txt.failed.csv").exists(),
        "nothing is listed as failed"
    );
    assert!(report_raw_lines(&read_report(&report)).is_empty());
    assert!(dir.path().join("report.txt.checkpoint").exists());

    let mock = start_mock(MockSettings::default()).await;
    let mut resume = archive_command(&mock, &log, &report);
    resume.args(["--dedup", "off", "--resume"]);
    let finished = finish(resume).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    assert_eq!(read_report(&report), expected_report(&lines));
    assert!(!dir.path().join("report.txt.failed.csv").exists());
    mock.stop().await;
}
