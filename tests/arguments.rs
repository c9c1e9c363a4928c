//! Argument errors through the real binary: every bad value is refused in words (`must be at
//! least 1`), never with the parser's internals, and each error is said once.

mod common;

use common::*;

async fn refusal(args: &[&str]) -> String {
    let mut run = command();
    run.args(args);
    let finished = finish(run).await;
    assert_eq!(finished.code, Some(1), "{args:?}: {}", finished.stderr);
    finished.stderr
}

#[tokio::test]
async fn bad_numbers_are_refused_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, "ERROR x\n").unwrap();
    let log = log.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["archive", log, "--max-line-bytes", "0"],
            "must be at least 64",
        ),
        (&["archive", log, "--batch", "0"], "must be at least 1"),
        (&["archive", log, "--batch", "999"], "must be at most 256"),
        (
            &["archive", log, "--connections", "0"],
            "must be at least 1",
        ),
        (
            &["archive", log, "--concurrency", "5000"],
            "must be at most 4096",
        ),
        (
            &["archive", log, "--concurrency", "many"],
            "not a whole number",
        ),
        (
            &["archive", log, "--max-llm-tokens", "0"],
            "must be at least 1",
        ),
        (&["archive", log, "--max-tokens", "0"], "must be at least 1"),
        (&["archive", log, "--input-tpm", "0"], "must be at least 1"),
        (&["archive", log, "--output-tpm", "0"], "must be at least 1"),
        (
            &["archive", log, "--max-retries", "-1"],
            "must not be negative",
        ),
        (
            &["archive", log, "--max-sampling-tokens", "0"],
            "must be at least 1",
        ),
        (
            &["archive", log, "--sampling-timeout", "0"],
            "must be longer than zero",
        ),
        (
            &["archive", log, "--llm-timeout", "0"],
            "must be longer than zero",
        ),
        (&["serve", "--port", "70000"], "must be at most 65535"),
        (
            &["serve", "--max-log-line-bytes", "3"],
            "must be at least 64",
        ),
        (&["mock-llm", "--rpm", "0"], "must be at least 1"),
        (&["bench", "--concurrency", "16,0"], "must be at least 1"),
        (&["bench", "--run-seconds", "0"], "must be more than zero"),
        (&["mock-llm", "--seed", "-1"], "must not be negative"),
        (
            &["mock-llm", "--latency", "-1"],
            "is not a valid number of seconds",
        ),
        (&["archive", log, "--rpm", "-5"], "is not a positive number"),
    ];
    for (args, expected) in cases {
        let stderr = refusal(args).await;
        let option = args.iter().find(|arg| arg.starts_with("--")).unwrap();
        assert!(
            stderr.contains(expected) && stderr.contains(option),
            "{args:?}: {stderr}"
        );
        for internal in ["is not in", "non-zero type", "18446744073709551615"] {
            assert!(!stderr.contains(internal), "{args:?}: {stderr}");
        }
    }
}

#[tokio::test]
async fn file_errors_are_said_once_and_name_the_right_file() {
    let dir = tempfile::tempdir().unwrap();
    let as_input = dir.path().to_str().unwrap();
    let stderr = refusal(&["archive", as_input]).await;
    assert!(stderr.contains("is a directory"), "{stderr}");
    assert_eq!(stderr.matches("directory").count(), 1, "{stderr}");

    let missing = dir.path().join("app.log");
    let stderr = refusal(&["archive", missing.to_str().unwrap()]).await;
    assert_eq!(stderr.matches("No such file").count(), 1, "{stderr}");

    let log = dir.path().join("real.log");
    std::fs::write(&log, "ERROR x\n").unwrap();
    let report = dir.path().join("missing/report.txt");
    let stderr = refusal(&[
        "archive",
        log.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ])
    .await;
    assert!(
        stderr.contains("cannot write report") && stderr.contains("there is no directory"),
        "{stderr}"
    );
    assert!(!stderr.contains("failures file"), "{stderr}");
    let stderr = refusal(&["report", as_input]).await;
    assert!(stderr.contains("is a directory"), "{stderr}");
}
