//! Secrets never leave the machine: `archive` masks them before the LLM sees a line, the report
//! keeps the redacted line unless told otherwise, and the client masks prompts of any server.

mod common;

use std::path::Path;

use common::*;
use log_archiver::mock::MockSettings;

const SECRET_LINES: [&str; 5] = [
    "2026-11-29T10:00:00Z app[42]: connecting to postgres://app:S3cr3tPassw0rd@db:5432/orders",
    "2026-11-29T10:00:01Z app[42]: retrying with Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "2026-11-29T10:00:02Z deploy: export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE done",
    "2026-11-29T10:00:03Z mail: bounce for ops@example.com from 203.0.113.9",
    "2026-11-29T10:00:04Z aws configure: secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
];
const SECRETS: [&str; 4] = [
    "S3cr3tPassw0rd",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0",
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
];

/// Archives the secret lines with `extra` flags and an audit log; returns the report and
/// every prompt sent to the LLM.
async fn archive_secrets(dir: &Path, extra: &[&str]) -> (String, String) {
    let mock = start_mock(MockSettings::default()).await;
    let log = dir.join("secrets.log");
    std::fs::write(&log, SECRET_LINES.join("\n") + "\n").unwrap();
    let report = dir.join("report.txt");
    let audit = dir.join("audit.jsonl");
    let mut archive = archive_command(&mock, &log, &report);
    archive.arg("--audit-log").arg(&audit).args(extra);
    let finished = finish(archive).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    mock.stop().await;
    let prompts = read_audit_log(&audit)
        .iter()
        .map(|record| {
            record["request"]["messages"][0]["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n");
    (read_report(&report), prompts)
}

#[tokio::test]
async fn secrets_are_masked_before_the_llm_and_in_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let (report, prompts) = archive_secrets(dir.path(), &[]).await;
    for secret in SECRETS {
        assert!(!prompts.contains(secret), "{secret} reached the LLM");
        assert!(!report.contains(secret), "{secret} is in the report");
    }
    for marker in [
        "postgres://app:[REDACTED:password]@db:5432/orders",
        "Authorization: Bearer [REDACTED:jwt]",
        "AWS_ACCESS_KEY_ID=[REDACTED:aws-access-key]",
        "aws configure: secret [REDACTED:secret]",
    ] {
        assert!(prompts.contains(marker), "{marker} not in {prompts}");
        assert!(report.contains(marker), "{marker} not in {report}");
    }
    // E-mail and IP addresses are kept unless asked for.
    assert!(prompts.contains("ops@example.com from 203.0.113.9"));
    // Nothing else beside the report holds a secret either.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.ends_with("secrets.log") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for secret in SECRETS {
            assert!(!text.contains(secret), "{secret} in {}", path.display());
        }
    }
}

#[tokio::test]
async fn the_report_can_keep_the_raw_line_and_more_kinds_can_be_masked() {
    let dir = tempfile::tempdir().unwrap();
    let (report, prompts) = archive_secrets(
        dir.path(),
        &["--report-line", "raw", "--redact", "secrets,email,ip"],
    )
    .await;
    let raws = report_raw_lines(&report);
    assert_eq!(raws, SECRET_LINES);
    for secret in SECRETS {
        assert!(!prompts.contains(secret), "{secret} reached the LLM");
    }
    assert!(
        prompts.contains("bounce for [REDACTED:email] from [REDACTED:ip]"),
        "{prompts}"
    );
}

#[tokio::test]
async fn redaction_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let (report, prompts) = archive_secrets(dir.path(), &["--redact", "none"]).await;
    assert_eq!(report_raw_lines(&report), SECRET_LINES);
    assert!(prompts.contains(SECRETS[0]));
}

#[tokio::test]
async fn the_client_masks_prompts_from_a_server_that_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("served.txt");
    let server = ServeProcess::start(&report, &["--redact", "none"]).await;
    let mock = start_mock(MockSettings::default()).await;
    let audit = dir.path().join("audit.jsonl");
    let mut explain = explain_command(&mock);
    explain
        .args(["--server", &server.url])
        .arg("--audit-log")
        .arg(&audit)
        .arg(SECRET_LINES[0]);
    let finished = finish(explain).await;
    assert!(finished.success, "{}", finished.stderr);
    let sent = std::fs::read_to_string(&audit).unwrap();
    assert!(!sent.contains(SECRETS[0]), "{sent}");
    assert!(sent.contains("[REDACTED:password]"), "{sent}");
    // That server chose to keep the raw line in its own report.
    assert_eq!(report_raw_lines(&read_report(&report)), [SECRET_LINES[0]]);
    mock.stop().await;
}
