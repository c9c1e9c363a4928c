//! Structured reports: `archive --format jsonl|csv` records carry the source, line number, model,
//! tokens, latency and template of every entry; `report` reads any format back, filters,
//! counts and converts, and the conversions round-trip byte for byte.

mod common;

use std::path::Path;

use common::*;
use log_archiver::mock::MockSettings;

/// `log-archiver report ARGS...`.
async fn report(args: &[&str]) -> Finished {
    let mut command = command();
    command.arg("report").args(args);
    finish(command).await
}

fn path(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

/// The non-blank lines of a log with their line numbers.
fn numbered_lines(log: &Path) -> Vec<(u64, String)> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| (index as u64 + 1, line.to_string()))
        .collect()
}

#[tokio::test]
async fn jsonl_records_carry_every_field_and_convert_back_to_the_text_report() {
    let mock = start_mock(MockSettings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    write_log(&log, 300);
    let jsonl = dir.path().join("report.jsonl");
    let mut archive = archive_command(&mock, &log, &jsonl);
    archive.args(["--rpm", "unlimited"]);
    let finished = finish(archive).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);

    let text = std::fs::read_to_string(&jsonl).unwrap();
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let lines = numbered_lines(&log);
    assert_eq!(records.len(), lines.len());
    for (record, (number, line)) in records.iter().zip(&lines) {
        assert_eq!(record["source"], path(&log));
        assert_eq!(record["line"], *number);
        assert_eq!(record["raw"], line.as_str());
        assert!(!record["analysis"].as_str().unwrap().is_empty());
        assert!(!record["model"].as_str().unwrap().is_empty());
        assert!(record["input_tokens"].as_u64().unwrap() > 0);
        assert!(record["output_tokens"].as_u64().unwrap() > 0);
        assert!(record["latency_ms"].is_u64());
        assert_eq!(record["cached"], false);
        assert!(record["template_id"].is_null(), "no templates unless asked");
    }

    // jsonl -> csv -> jsonl is byte-exact, and the text form is the seed's report.
    let csv = dir.path().join("report.csv");
    let to_csv = report(&[path(&jsonl), "--to", "csv", "-o", path(&csv)]).await;
    assert!(to_csv.success, "{}", to_csv.stderr);
    assert!(
        std::fs::read_to_string(&csv)
            .unwrap()
            .starts_with("source,line,raw,analysis,model,")
    );
    let back = report(&[path(&csv), "--to", "jsonl"]).await;
    assert!(back.success, "{}", back.stderr);
    assert_eq!(back.stdout, text, "jsonl -> csv -> jsonl");
    let as_text = report(&[path(&jsonl), "--to", "text"]).await;
    let raw_lines: Vec<&str> = lines.iter().map(|(_, line)| line.as_str()).collect();
    assert_eq!(as_text.stdout, expected_report(&raw_lines));

    // Filters and counts.
    let count = report(&[path(&csv), "--count", "--lines", "10-19"]).await;
    assert_eq!(count.stdout.trim(), "10", "{}", count.stderr);
    let grep = report(&[path(&jsonl), "--count", "--grep", "request 1[0-9] failed"]).await;
    assert_eq!(grep.stdout.trim(), "10");
    let summary = report(&[path(&jsonl), "--json"]).await;
    let summary: serde_json::Value = serde_json::from_str(&summary.stdout).unwrap();
    assert_eq!(summary["format"], "jsonl");
    assert_eq!(summary["records"], 300);
    assert_eq!(summary["records_with_tokens"], 300);
    assert_eq!(summary["sources"][path(&log)], 300);
    assert_eq!(
        summary["input_tokens"].as_u64().unwrap(),
        records
            .iter()
            .map(|record| record["input_tokens"].as_u64().unwrap())
            .sum::<u64>()
    );
    let described = report(&[path(&jsonl)]).await;
    assert!(
        described.stdout.contains("(jsonl): 300 records"),
        "{}",
        described.stdout
    );
    mock.stop().await;
}

#[tokio::test]
async fn template_grouping_shows_in_csv_records() {
    let mock = start_mock(MockSettings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let log = loghub_log("OpenSSH");
    let csv = dir.path().join("ssh.csv");
    let mut archive = archive_command(&mock, &log, &csv);
    archive.args(["--dedup", "template", "--rpm", "unlimited"]);
    let finished = finish(archive).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);

    let mut reader = csv::Reader::from_path(&csv).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let header = reader.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|column| column == name).unwrap();
    assert_eq!(rows.len(), numbered_lines(&log).len());
    let fresh = rows
        .iter()
        .filter(|row| &row[column("cached")] == "false")
        .count();
    assert_eq!(
        fresh as u64,
        mock.stats().snapshot().requests,
        "one record per LLM request says it was not shared"
    );
    for row in &rows {
        assert_eq!(row[column("template_id")].len(), 16);
        assert!(!row[column("template")].is_empty());
        if &row[column("cached")] == "true" {
            assert_eq!(&row[column("input_tokens")], "0");
        }
    }
    let ids: std::collections::HashSet<&str> =
        rows.iter().map(|row| &row[column("template_id")]).collect();
    assert!(ids.len() < rows.len() / 10, "{} groups", ids.len());
    mock.stop().await;
}

#[tokio::test]
async fn a_report_in_another_format_is_refused_and_left_alone() {
    let mock = start_mock(MockSettings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    write_log(&log, 3);
    let report_path = dir.path().join("report.jsonl");
    let first = finish(archive_command(&mock, &log, &report_path)).await;
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    let before = std::fs::read(&report_path).unwrap();

    let mut as_csv = archive_command(&mock, &log, &report_path);
    as_csv.args(["--format", "csv"]);
    let refused = finish(as_csv).await;
    assert_eq!(refused.code, Some(1));
    assert!(
        refused
            .stderr
            .contains("is written in the jsonl format, not csv"),
        "{}",
        refused.stderr
    );
    assert_eq!(std::fs::read(&report_path).unwrap(), before);

    // A damaged report is named with its line; a conversion then writes nothing.
    let torn = dir.path().join("torn.jsonl");
    std::fs::write(&torn, &before[..before.len() - 20]).unwrap();
    let out = dir.path().join("out.csv");
    let damaged = report(&[path(&torn), "--to", "csv", "-o", path(&out)]).await;
    assert_eq!(damaged.code, Some(1));
    assert!(damaged.stderr.contains("line 3"), "{}", damaged.stderr);
    assert!(!out.exists());
    let unknown = dir.path().join("notes.txt");
    std::fs::write(&unknown, "hello\n").unwrap();
    let undetected = report(&[path(&unknown)]).await;
    assert_eq!(undetected.code, Some(1));
    assert!(
        undetected.stderr.contains("--from"),
        "{}",
        undetected.stderr
    );
    mock.stop().await;
}

#[tokio::test]
async fn a_served_csv_report_records_what_any_client_tells() {
    let mock = start_mock(MockSettings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("served.csv");
    let server = ServeProcess::start(&report_path, &[]).await;
    let mut explain = explain_command(&mock);
    explain
        .args(["--server", &server.url])
        .arg("ERROR disk full on /var");
    let finished = finish(explain).await;
    assert!(finished.success, "{}", finished.stderr);
    drop(server);

    let records = report(&[path(&report_path), "--to", "jsonl"]).await;
    let record: serde_json::Value = serde_json::from_str(records.stdout.trim()).unwrap();
    assert_eq!(record["raw"], "ERROR disk full on /var");
    assert!(record["source"].is_null() && record["line"].is_null());
    assert!(record["model"].is_string());
    assert!(record["input_tokens"].as_u64().unwrap() > 0);
    assert!(record["latency_ms"].is_u64());
    mock.stop().await;
}
