//! The main job end to end with the real binary: order under concurrency and random latency,
//! faults accounted for exactly once, input formats, and the real logs in fixtures/loghub.

mod common;

use std::io::Write;
use std::time::Duration;

use common::*;
use log_archiver::mock::{Fault, MockSettings};
use log_archiver::pipeline::failures::read_failures;

#[tokio::test]
async fn a_few_thousand_entries_land_in_input_order() {
    let mock = start_mock(MockSettings {
        latency: Duration::from_millis(1),
        latency_spread: Duration::from_millis(30),
        seed: 7,
        ..MockSettings::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let lines = write_log(&log, 3000);
    let report = dir.path().join("report.txt");
    let mut archive = archive_command(&mock, &log, &report);
    archive.args([
        "--concurrency",
        "128",
        "--connections",
        "8",
        "--json",
        "--rpm",
        "unlimited",
    ]);
    let finished = finish(archive).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    assert_eq!(read_report(&report), expected_report(&lines));
    let summary: serde_json::Value = serde_json::from_str(finished.stdout.trim()).unwrap();
    assert_eq!(summary["counters"]["archived"], 3000);
    assert_eq!(summary["counters"]["failed"], 0);
    assert_eq!(summary["counters"]["llm_requests"], 3000);
    assert!(
        mock.stats().snapshot().max_in_flight > 16,
        "the job ran concurrently"
    );
    assert!(!dir.path().join("report.txt.failed.csv").exists());
    assert!(!dir.path().join("report.txt.checkpoint").exists());
    mock.stop().await;
}

#[tokio::test]
async fn faults_leave_every_entry_accounted_for_exactly_once() {
    let faults = [
        "429:rate=0.1",
        "529:rate=0.05",
        "500:rate=0.05",
        "hang:rate=0.01",
    ];
    let mock = start_mock(MockSettings {
        faults: faults.iter().map(|f| f.parse::<Fault>().unwrap()).collect(),
        retry_after: Duration::from_secs(1),
        hang: Duration::from_secs(30),
        seed: 11,
        ..MockSettings::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let lines = write_log(&log, 600);
    let report = dir.path().join("report.txt");
    let mut archive = archive_command(&mock, &log, &report);
    archive.args([
        "--concurrency",
        "32",
        "--max-retries",
        "1",
        "--llm-timeout",
        "1",
        "--json",
        // Injected 429s are not a rate to discover: adaptive limiting would crawl.
        "--rpm",
        "unlimited",
    ]);
    let finished = finish(archive).await;
    assert_eq!(finished.code, Some(2), "{}", finished.stderr);

    let archived = report_raw_lines(&read_report(&report));
    let failures = read_failures(&dir.path().join("report.txt.failed.csv")).unwrap();
    assert!(!failures.is_empty());
    let mut accounted: Vec<String> = archived.clone();
    accounted.extend(failures.iter().map(|row| row.raw.clone()));
    accounted.sort();
    let mut expected = lines.clone();
    expected.sort();
    assert_eq!(
        accounted, expected,
        "each entry is archived or failed, exactly once"
    );
    // The report keeps input order, and the failures file lists lines in order.
    let positions: Vec<usize> = archived
        .iter()
        .map(|raw| lines.iter().position(|l| l == raw).unwrap())
        .collect();
    assert!(positions.windows(2).all(|pair| pair[0] < pair[1]));
    assert!(failures.windows(2).all(|pair| pair[0].line < pair[1].line));
    for row in &failures {
        assert_eq!(lines[row.line as usize - 1], row.raw);
        assert!(row.error_kind.starts_with("llm_"), "{row:?}");
        assert!(!row.error_message.is_empty());
        assert!(row.attempts >= 1);
    }
    let summary: serde_json::Value = serde_json::from_str(finished.stdout.trim()).unwrap();
    assert_eq!(summary["counters"]["failed"], failures.len());
    assert!(summary["counters"]["retries"].as_u64().unwrap() > 0);
    assert!(summary["counters"]["rate_limited"].as_u64().unwrap() > 0);
    mock.stop().await;
}

#[tokio::test]
async fn retry_archives_what_failed_without_duplicates() {
    let failing = start_mock(MockSettings {
        faults: vec!["500:every=4".parse().unwrap()],
        ..MockSettings::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let lines = write_log(&log, 200);
    let report = dir.path().join("report.txt");
    let failures = dir.path().join("report.txt.failed.csv");
    let mut archive = archive_command(&failing, &log, &report);
    archive.args(["--max-retries", "0"]);
    let finished = finish(archive).await;
    assert_eq!(finished.code, Some(2), "{}", finished.stderr);
    let failed = read_failures(&failures).unwrap();
    assert_eq!(failed.len(), 50);
    assert!(
        finished.stdout.contains("log-archiver retry"),
        "{}",
        finished.stdout
    );
    failing.stop().await;

    let healthy = start_mock(MockSettings::default()).await;
    let mut retry = job_command(&healthy, "retry");
    retry.arg(&failures).arg("--report").arg(&report);
    let finished = finish(retry).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    assert!(!failures.exists(), "nothing fails any more");
    let mut archived = report_raw_lines(&read_report(&report));
    assert_eq!(archived.len(), 200);
    archived.sort();
    let mut expected = lines.clone();
    expected.sort();
    assert_eq!(archived, expected);
    // The retried entries were appended in line order.
    let tail: Vec<String> = report_raw_lines(&read_report(&report))[150..].to_vec();
    let retried: Vec<String> = failed.iter().map(|row| row.raw.clone()).collect();
    assert_eq!(tail, retried);

    let mut again = job_command(&healthy, "retry");
    again.arg(&failures).arg("--report").arg(&report);
    let finished = finish(again).await;
    assert_eq!(finished.code, Some(1));
    assert!(
        finished.stderr.contains("no failures file"),
        "{}",
        finished.stderr
    );
    assert_eq!(report_raw_lines(&read_report(&report)).len(), 200);
    healthy.stop().await;
}

#[tokio::test]
async fn a_configured_rate_limit_keeps_the_provider_from_saying_429() {
    let mock = start_mock(MockSettings {
        requests_per_minute: Some(2400),
        ..MockSettings::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    write_log(&log, 300);
    let report = dir.path().join("report.txt");
    let mut archive = archive_command(&mock, &log, &report);
    archive.args(["--rpm", "1800", "--concurrency", "64"]);
    let finished = finish(archive).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    let stats = mock.stats().snapshot();
    assert_eq!(stats.by_status.get(&429), None, "{stats:?}");
    assert_eq!(stats.requests, 300);
    mock.stop().await;
}

#[tokio::test]
async fn adaptive_limiting_finds_an_undeclared_limit_with_few_429s() {
    let mock = start_mock(MockSettings {
        requests_per_minute: Some(600),
        ..MockSettings::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    write_log(&log, 200);
    let report = dir.path().join("report.txt");
    let mut archive = archive_command(&mock, &log, &report);
    archive.args(["--concurrency", "32"]);
    let finished = finish(archive).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    assert!(
        finished
            .stdout
            .contains("adaptive, settled at 600 requests/min (provider limit 600"),
        "{}",
        finished.stdout
    );
    let stats = mock.stats().snapshot();
    assert!(
        stats.by_status.get(&429).copied().unwrap_or(0) <= 5,
        "{stats:?}"
    );
    assert_eq!(report_raw_lines(&read_report(&report)).len(), 200);
    mock.stop().await;
}

#[tokio::test]
async fn a_rejected_key_stops_the_job_early() {
    let mock = start_mock(MockSettings {
        api_key: Some("the-right-key".into()),
        ..MockSettings::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    write_log(&log, 2000);
    let report = dir.path().join("report.txt");
    let mut archive = job_command(&mock, "archive");
    archive
        .env("ANTHROPIC_API_KEY", "sk-wrong")
        .arg(&log)
        .arg("--report")
        .arg(&report)
        .args(["--concurrency", "4"]);
    let finished = finish(archive).await;
    assert_eq!(finished.code, Some(1), "{}", finished.stderr);
    assert!(
        finished.stderr.contains("API key was rejected"),
        "{}",
        finished.stderr
    );
    assert!(finished.stderr.contains("--resume"), "{}", finished.stderr);
    assert!(mock.stats().snapshot().requests <= 8, "stopped early");
    assert!(dir.path().join("report.txt.checkpoint").exists());
    mock.stop().await;
}

#[tokio::test]
async fn stdin_gzip_crlf_blank_lines_and_bad_bytes_are_handled() {
    let mock = start_mock(MockSettings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.txt");
    let raw: &[u8] = b"ERROR one\r\n\r\n   \r\nWARN two \xff\xfe bytes\r\nERROR three";
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(raw).unwrap();
    let compressed = gz.finish().unwrap();

    let mut archive = job_command(&mock, "archive");
    archive
        .arg("-")
        .arg("--report")
        .arg(&report)
        .arg("--json")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = archive.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stdin, &compressed)
        .await
        .unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let expected = expected_report(&[
        "ERROR one",
        "WARN two \u{fffd}\u{fffd} bytes",
        "ERROR three",
    ]);
    assert_eq!(read_report(&report), expected);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["counters"]["skipped_blank"], 2);
    assert_eq!(summary["counters"]["archived"], 3);
    mock.stop().await;
}

#[tokio::test]
async fn the_real_loghub_logs_archive_completely() {
    let mock = start_mock(MockSettings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    for name in ["Apache", "HDFS", "OpenSSH", "Zookeeper"] {
        let log = loghub_log(name);
        let text = std::fs::read_to_string(&log).unwrap();
        let lines: Vec<&str> = text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .collect();
        let report = dir.path().join(format!("{name}.txt"));
        let mut archive = archive_command(&mock, &log, &report);
        archive.args(["--concurrency", "32", "--rpm", "unlimited"]);
        let finished = finish(archive).await;
        assert_eq!(finished.code, Some(0), "{name}: {}", finished.stderr);
        assert_eq!(read_report(&report), expected_report(&lines), "{name}");
    }
    mock.stop().await;
}

#[tokio::test]
async fn overlong_lines_are_cut_with_a_marker() {
    let mock = start_mock(MockSettings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("long.log");
    std::fs::write(&log, format!("ERROR {}\nshort\n", "x".repeat(5000))).unwrap();
    let report = dir.path().join("report.txt");
    let mut archive = archive_command(&mock, &log, &report);
    archive.args(["--max-line-bytes", "100"]);
    let finished = finish(archive).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    let raws = report_raw_lines(&read_report(&report));
    assert_eq!(raws.len(), 2);
    assert!(raws[0].ends_with(" [truncated 4906 bytes]"), "{}", raws[0]);
    assert!(raws[0].len() < 200);
    assert_eq!(raws[1], "short");
    mock.stop().await;
}

#[tokio::test]
async fn a_missing_input_is_a_clear_error() {
    let mock = start_mock(MockSettings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut archive = job_command(&mock, "archive");
    archive
        .arg(dir.path().join("nope.log"))
        .arg("--report")
        .arg(dir.path().join("r.txt"));
    let finished = finish(archive).await;
    assert_eq!(finished.code, Some(1));
    assert!(finished.stderr.contains("nope.log"), "{}", finished.stderr);
    mock.stop().await;
}

/// Archives 100 lines one at a time under `budget` and checks that the job stops sending before
/// the budget runs out, listing every entry not sent for `retry`; returns the summary.
async fn archive_under_budget(budget: &[&str]) -> serde_json::Value {
    let mock = start_mock(MockSettings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let lines = write_log(&log, 100);
    let report = dir.path().join("report.txt");
    let mut archive = job_command(&mock, "archive");
    archive
        .arg(&log)
        .arg("--report")
        .arg(&report)
        .args(["--price", "budget-model=1/1", "--model", "budget-model"])
        .args(budget)
        .args(["--concurrency", "1", "--json"]);
    let finished = finish(archive).await;
    assert_eq!(finished.code, Some(2), "{}", finished.stderr);
    let archived = report_raw_lines(&read_report(&report));
    let failures = read_failures(&dir.path().join("report.txt.failed.csv")).unwrap();
    assert!(
        !archived.is_empty() && archived.len() < 20,
        "{}",
        archived.len()
    );
    assert_eq!(archived.len() + failures.len(), 100, "nothing lost");
    assert!(
        failures
            .iter()
            .all(|row| row.error_kind == "budget_exhausted")
    );
    assert_eq!(failures[0].raw, lines[archived.len()]);
    mock.stop().await;
    serde_json::from_str(finished.stdout.trim()).unwrap()
}

#[tokio::test]
async fn a_cost_budget_stops_sending_and_lists_the_rest_for_retry() {
    // At $1 per million tokens each entry is estimated at about $0.0002: $0.002 buys ten.
    let summary = archive_under_budget(&["--max-cost", "0.002"]).await;
    let cost = summary["estimated_cost_usd"].as_f64().unwrap();
    assert!(cost > 0.0 && cost <= 0.002, "{cost}");
}

#[tokio::test]
async fn a_token_budget_stops_sending_and_lists_the_rest_for_retry() {
    // Each entry reserves about 130 input and 100 output tokens: 2,500 buy ten.
    let summary = archive_under_budget(&["--max-llm-tokens", "2500"]).await;
    let counters = &summary["counters"];
    let tokens =
        counters["input_tokens"].as_u64().unwrap() + counters["output_tokens"].as_u64().unwrap();
    assert!(tokens > 0 && tokens <= 2500, "{tokens}");
}

#[tokio::test]
async fn an_external_server_keeps_the_job_in_order() {
    let mock = start_mock(MockSettings {
        latency_spread: std::time::Duration::from_millis(20),
        ..MockSettings::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let lines = write_log(&log, 300);
    let report = dir.path().join("served.txt");
    let server = ServeProcess::start(&report, &[]).await;
    let mut archive = job_command(&mock, "archive");
    archive
        .arg(&log)
        .args(["--server", &server.url, "--concurrency", "32"])
        .arg("--report")
        .arg(dir.path().join("unused.txt"));
    let finished = finish(archive).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    assert_eq!(read_report(&report), expected_report(&lines));
    assert!(!dir.path().join("unused.txt.checkpoint").exists());
    mock.stop().await;
}

#[tokio::test]
async fn a_stack_trace_is_one_entry() {
    let mock = start_mock(MockSettings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("java.log");
    std::fs::write(
        &log,
        "2026-11-29 10:00:00 ERROR [main] request failed\n\
         java.lang.IllegalStateException: boom\n\
         \tat com.example.Service.call(Service.java:42)\n\
         Caused by: java.io.IOException: disk\n\
         \t... 2 more\n\
         2026-11-29 10:00:01 INFO [main] recovered\n",
    )
    .unwrap();
    let report = dir.path().join("report.txt");
    let archive = archive_command(&mock, &log, &report);
    let finished = finish(archive).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    let raws = report_raw_lines(&read_report(&report));
    assert_eq!(raws.len(), 3, "{raws:?}");
    assert_eq!(
        raws[1],
        "java.lang.IllegalStateException: boom ⏎ at com.example.Service.call(Service.java:42) ⏎ Caused by: java.io.IOException: disk ⏎ ... 2 more"
    );

    let unfolded = dir.path().join("unfolded.txt");
    let mut off = archive_command(&mock, &log, &unfolded);
    off.args(["--multiline", "off"]);
    assert_eq!(finish(off).await.code, Some(0));
    assert_eq!(report_raw_lines(&read_report(&unfolded)).len(), 6);
    mock.stop().await;
}
