//! The incident digest end to end: `report --digest` over reports that `archive` wrote from a
//! shipped loghub sample (each kind once, counts summing to the records, new kinds against a
//! baseline), and the HTML page: strictly valid HTML, nothing remote, hostile lines inert.

mod common;

use std::collections::HashSet;
use std::path::Path;

use common::{command, finish, loghub_log, python};

/// `archive LOG --llm offline` into `report` with `extra` options.
async fn archive(log: &Path, report: &Path, extra: &[&str]) {
    let mut archive = command();
    archive
        .arg("archive")
        .arg(log)
        .args(["--llm", "offline", "--progress", "off"])
        .arg("--report")
        .arg(report)
        .args(extra);
    let finished = finish(archive).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
}

/// `report REPORT --digest --json EXTRA...` as JSON.
async fn digest_json(report: &Path, extra: &[&str]) -> serde_json::Value {
    let mut digest = command();
    digest
        .arg("report")
        .arg(report)
        .args(["--digest", "--json"])
        .args(extra);
    let finished = finish(digest).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    serde_json::from_str(finished.stdout.trim()).expect("digest JSON")
}

#[tokio::test]
async fn a_digest_lists_each_kind_once_with_counts_that_sum_to_the_records() {
    let dir = tempfile::tempdir().unwrap();
    for (report, format) in [("r.jsonl", "jsonl"), ("r.csv", "csv"), ("r.txt", "text")] {
        let report = dir.path().join(report);
        archive(&loghub_log("Zookeeper"), &report, &["--format", format]).await;
        let digest = digest_json(&report, &[]).await;
        let kinds = digest["kinds"].as_array().expect("kinds");
        let keys: HashSet<&str> = kinds
            .iter()
            .map(|kind| kind["key"].as_str().unwrap())
            .collect();
        assert_eq!(keys.len(), kinds.len(), "{format}: each kind once");
        let counted: u64 = kinds
            .iter()
            .map(|kind| kind["count"].as_u64().unwrap())
            .sum();
        assert_eq!(counted, 2000, "{format}: counts sum to the records");
        assert_eq!(digest["records"], 2000);
        // Most severe first, then most frequent.
        let first = &kinds[0];
        assert_eq!(first["level"], "ERROR", "{format}: {first}");
        let warn = kinds
            .iter()
            .position(|kind| kind["level"] == "WARN")
            .unwrap();
        let info = kinds
            .iter()
            .position(|kind| kind["level"] == "INFO")
            .unwrap();
        assert!(warn < info);
        assert!(
            kinds[warn]["count"].as_u64() >= kinds[warn + 1]["count"].as_u64()
                || kinds[warn + 1]["level"] != "WARN"
        );
        assert!(
            first["first_time"]
                .as_str()
                .unwrap()
                .starts_with("2015-07-")
        );
        if format == "text" {
            assert!(
                first["first_line"].is_null(),
                "a text report has no line numbers"
            );
            assert!(
                first["template"].is_null(),
                "a text report has no templates"
            );
        } else {
            assert!(first["first_line"].as_u64() <= first["last_line"].as_u64());
            assert!(first["template"].as_str().unwrap().starts_with("ERROR "));
        }
    }

    let text = command()
        .arg("report")
        .arg(dir.path().join("r.jsonl"))
        .arg("--digest")
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.starts_with("Digest of "), "{text}");
    assert!(text.contains("ERROR"), "{text}");
}

#[tokio::test]
async fn kinds_missing_from_the_baseline_are_new() {
    let dir = tempfile::tempdir().unwrap();
    let log = loghub_log("OpenSSH");
    let old_report = dir.path().join("old.jsonl");
    let new_report = dir.path().join("new.jsonl");
    archive(&log, &new_report, &[]).await;
    // Yesterday's report had every kind but those of failed logins.
    archive(&log, &old_report, &["--exclude", "Failed"]).await;
    let baseline = old_report.to_str().unwrap();
    let digest = digest_json(&new_report, &["--baseline", baseline]).await;
    let kinds = digest["kinds"].as_array().unwrap();
    let new: Vec<&serde_json::Value> = kinds.iter().filter(|kind| kind["new"] == true).collect();
    assert!(!new.is_empty());
    for kind in &new {
        assert!(
            kind["examples"][0].as_str().unwrap().contains("Failed"),
            "only the Failed kinds are new: {kind}"
        );
    }
    assert!(kinds.iter().any(|kind| kind["new"] == false));
}

#[tokio::test]
async fn the_html_page_is_strict_html_with_nothing_remote_and_hostile_lines_inert() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("hostile.log");
    std::fs::write(
        &log,
        "2026-11-29 10:00:01 ERROR web: request <script>alert(1)</script> rejected\n\
         2026-11-29 10:00:02 ERROR web: request \"><img src=x onerror=alert(2)> rejected\n\
         2026-11-29 10:00:03 INFO web: served https://evil.example/x.js & more\n",
    )
    .unwrap();
    let report = dir.path().join("r.jsonl");
    archive(&log, &report, &["--dedup", "off"]).await;
    let page = dir.path().join("digest.html");
    let mut digest = command();
    digest.arg("report").arg(&report).arg("--html").arg(&page);
    let finished = finish(digest).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    let html = std::fs::read_to_string(&page).unwrap();

    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the hostile line is there, escaped"
    );
    assert!(!html.contains("<script>alert"), "no hostile script");
    assert!(!html.contains("<img"), "no hostile element");
    assert_eq!(
        html.matches("<script").count(),
        1,
        "only the page's own script"
    );
    assert!(!html.contains("<script src"), "no external script");
    assert!(!html.contains("<link"), "no external style sheet");
    // Every `<` of a log line is escaped, so each one left opens one of the page's own tags.
    for tag in html
        .split('<')
        .skip(1)
        .filter_map(|rest| rest.split('>').next())
    {
        assert!(
            !tag.contains("src=") && !tag.contains("href=") && !tag.contains(" on"),
            "no remote asset, link or handler: <{tag}>"
        );
    }

    let strict = tokio::process::Command::new(python().await)
        .arg("-c")
        .arg(
            "import sys, html5lib\n\
             parser = html5lib.HTMLParser(strict=True)\n\
             parser.parse(open(sys.argv[1], 'rb'))\n\
             print('ok')",
        )
        .arg(&page)
        .output()
        .await
        .unwrap();
    assert!(
        strict.status.success(),
        "the page is not strict HTML: {}",
        String::from_utf8_lossy(&strict.stderr)
    );
}

#[tokio::test]
async fn archive_writes_the_digest_page_when_the_job_ends() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.jsonl");
    let page = dir.path().join("digest.html");
    let page_arg = page.to_str().unwrap();
    archive(&loghub_log("Apache"), &report, &["--digest-html", page_arg]).await;
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("Incident digest"));
    assert!(html.contains(">ERROR<"), "the error kinds are listed");
    assert_eq!(
        html.matches("<details>").count(),
        6,
        "one row per kind of Apache's six"
    );

    let nowhere = dir.path().join("missing/digest.html");
    let other = dir.path().join("other.jsonl");
    let mut refused = command();
    refused
        .arg("archive")
        .arg(loghub_log("Apache"))
        .args(["--llm", "offline", "--progress", "off"])
        .arg("--report")
        .arg(&other)
        .arg("--digest-html")
        .arg(&nowhere);
    let finished = finish(refused).await;
    assert_eq!(finished.code, Some(1), "{}", finished.stderr);
    assert!(
        finished.stderr.contains("does not exist"),
        "{}",
        finished.stderr
    );
    assert!(!other.exists(), "refused before the job wrote anything");
}
