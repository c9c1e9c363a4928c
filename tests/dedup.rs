//! Explaining each kind of message once: on the real logs in fixtures/loghub, grouping by
//! template needs at least ten times fewer LLM requests than lines, and every line still gets
//! its record, in order.

mod common;

use common::*;
use log_archiver::mock::MockSettings;

#[tokio::test]
async fn template_grouping_needs_ten_times_fewer_requests_on_real_logs() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["Apache", "HDFS", "OpenSSH", "Zookeeper"] {
        let mock = start_mock(MockSettings::default()).await;
        let log = loghub_log(name);
        let text = std::fs::read_to_string(&log).unwrap();
        let lines: Vec<&str> = text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .collect();
        let report = dir.path().join(format!("{name}.txt"));
        let mut archive = archive_command(&mock, &log, &report);
        archive.args(["--dedup", "template", "--rpm", "unlimited", "--json"]);
        let finished = finish(archive).await;
        assert_eq!(finished.code, Some(0), "{name}: {}", finished.stderr);
        let requests = mock.stats().snapshot().requests as usize;
        assert!(
            requests * 10 <= lines.len(),
            "{name}: {requests} requests for {} lines",
            lines.len()
        );
        let written = report_raw_lines(&read_report(&report));
        assert_eq!(
            written, lines,
            "{name}: every line has its record, in order"
        );
        let summary: serde_json::Value = serde_json::from_str(finished.stdout.trim()).unwrap();
        assert!(summary["distinct_templates"].as_u64().unwrap() >= 1);
        assert!(!summary["top_templates"].as_array().unwrap().is_empty());
        mock.stop().await;
    }
}

#[tokio::test]
async fn without_grouping_every_line_is_a_request() {
    let mock = start_mock(MockSettings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("repeats.log");
    std::fs::write(&log, "ERROR same\nERROR same\nERROR other\nERROR same\n").unwrap();
    let report = dir.path().join("report.txt");
    let mut off = archive_command(&mock, &log, &report);
    off.args(["--dedup", "off"]);
    assert_eq!(finish(off).await.code, Some(0));
    assert_eq!(mock.stats().snapshot().requests, 4);

    let exact_report = dir.path().join("exact.txt");
    let mut exact = archive_command(&mock, &log, &exact_report);
    exact.args(["--dedup", "exact"]);
    assert_eq!(finish(exact).await.code, Some(0));
    assert_eq!(
        mock.stats().snapshot().requests,
        6,
        "exact shares between identical lines: 2 more"
    );
    assert_eq!(read_report(&exact_report), read_report(&report));
    mock.stop().await;
}

#[tokio::test]
async fn filters_skip_entries_and_count_them() {
    let mock = start_mock(MockSettings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mixed.log");
    std::fs::write(
        &log,
        "INFO db up\nERROR db down\nWARN cache slow\nERROR db healthcheck failed\n<11>sshd: db denied\nsshd: db Failed password\n",
    )
    .unwrap();
    let report = dir.path().join("report.txt");
    let mut archive = archive_command(&mock, &log, &report);
    archive.args([
        "--min-level",
        "warn",
        "--grep",
        "db",
        "--exclude",
        "healthcheck",
        "--json",
    ]);
    let finished = finish(archive).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    assert_eq!(
        report_raw_lines(&read_report(&report)),
        [
            "ERROR db down",
            "<11>sshd: db denied",
            "sshd: db Failed password"
        ]
    );
    let summary: serde_json::Value = serde_json::from_str(finished.stdout.trim()).unwrap();
    assert_eq!(summary["counters"]["skipped_filtered"], 3);
    assert_eq!(summary["counters"]["archived"], 3);

    let mut bad = job_command(&mock, "archive");
    bad.arg(&log).args(["--grep", "(unclosed"]);
    let finished = finish(bad).await;
    assert_eq!(
        finished.code,
        Some(1),
        "a usage error means the job could not run"
    );
    assert!(finished.stderr.contains("--grep"), "{}", finished.stderr);
    mock.stop().await;
}

#[tokio::test]
async fn explanations_are_kept_for_later_runs_on_the_same_report() {
    let mock = start_mock(MockSettings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.txt");
    let first = dir.path().join("first.log");
    std::fs::write(&first, "ERROR a\nERROR b\n").unwrap();
    let mut archive = archive_command(&mock, &first, &report);
    archive.args(["--dedup", "exact"]);
    assert_eq!(finish(archive).await.code, Some(0));
    assert_eq!(mock.stats().snapshot().requests, 2);

    let second = dir.path().join("second.log");
    std::fs::write(&second, "ERROR b\nERROR c\nERROR a\n").unwrap();
    let mut archive = archive_command(&mock, &second, &report);
    archive.args(["--dedup", "exact"]);
    assert_eq!(finish(archive).await.code, Some(0));
    assert_eq!(mock.stats().snapshot().requests, 3, "only ERROR c was new");
    assert_eq!(
        read_report(&report),
        expected_report(&["ERROR a", "ERROR b", "ERROR b", "ERROR c", "ERROR a"])
    );
    assert!(dir.path().join("report.txt.explanations.jsonl").exists());
    mock.stop().await;
}
