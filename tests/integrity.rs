//! Data integrity across processes and inputs: one writer per report (jobs and servers alike),
//! no job writing into its own input, `retry` finding the report its failures belong to, and
//! refused start-ups leaving no file behind.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::*;
use log_archiver::mock::{MockLlm, MockSettings};
use log_archiver::report::ReportLock;
use tokio::io::AsyncWriteExt;
use tokio::process::Child;

const IN_USE: &str = "is in use by another log-archiver process";

/// The names in a directory, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `archive -` on `report`, fed by the test through stdin.
fn archive_stdin(mock: &MockLlm, report: &Path) -> Child {
    let mut archive = job_command(mock, "archive");
    archive
        .arg("-")
        .arg("--report")
        .arg(report)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    archive.spawn().unwrap()
}

async fn stderr_of(child: Child) -> (Option<i32>, String) {
    let output = tokio::time::timeout(Duration::from_secs(180), child.wait_with_output())
        .await
        .expect("the job ends within three minutes")
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn two_jobs_started_together_never_double_a_record() {
    let mock = start_mock(MockSettings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let lines = write_log(&log, 20);
    let text = std::fs::read(&log).unwrap();
    for trial in 0..20 {
        let report = dir.path().join(format!("report-{trial}.txt"));
        let mut jobs = [archive_stdin(&mock, &report), archive_stdin(&mock, &report)];
        let pids = jobs.each_ref().map(|job| job.id().unwrap());
        let mut inputs = Vec::new();
        for job in &mut jobs {
            let mut stdin = job.stdin.take().unwrap();
            // The refused job may already have gone, closing its end.
            let _ = stdin.write_all(&text).await;
            // Kept open: the job holding the lock cannot finish before the other one has ended.
            inputs.push(Some(stdin));
        }
        let [mut first, mut second] = jobs;
        let refused = tokio::select! {
            _ = first.wait() => 0,
            _ = second.wait() => 1,
        };
        let (loser, mut winner) = if refused == 0 {
            (first, second)
        } else {
            (second, first)
        };
        // End of input for the job holding the lock.
        inputs[1 - refused].take();
        let (code, stderr) = stderr_of(loser).await;
        assert_eq!(code, Some(1), "trial {trial}: {stderr}");
        let holder = pids[1 - refused];
        assert!(
            stderr.contains(IN_USE) && stderr.contains(&format!("(PID {holder})")),
            "trial {trial}: {stderr}"
        );
        assert!(!stderr.contains("--resume"), "trial {trial}: {stderr}");
        let status = tokio::time::timeout(Duration::from_secs(180), winner.wait())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(status.code(), Some(0), "trial {trial}");
        assert_eq!(
            read_report(&report),
            expected_report(&lines),
            "trial {trial}"
        );
        assert!(!ReportLock::path_for(&report).exists(), "trial {trial}");
    }
    mock.stop().await;
}

/// `archive LOG --report REPORT` against `mock`, one LLM request at a time.
fn start_archive(mock: &MockLlm, log: &Path, report: &Path, extra: &[&str]) -> Child {
    let mut archive = archive_command(mock, log, report);
    archive
        .args(["--concurrency", "1", "--dedup", "off"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    archive.spawn().unwrap()
}

async fn wait_for(path: &Path) {
    for _ in 0..1200 {
        if path.exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("'{}' never appeared", path.display());
}

#[tokio::test]
async fn a_running_job_refuses_others_without_suggesting_resume_and_a_killed_one_blocks_nothing() {
    let slow = start_mock(MockSettings {
        latency: Duration::from_millis(300),
        ..MockSettings::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let lines = write_log(&log, 400);
    let report = dir.path().join("report.txt");
    let mut running = start_archive(&slow, &log, &report, &[]);
    let holder = running.id().unwrap();
    // The checkpoint is written as the job starts: from then on it holds the lock.
    wait_for(&report.with_extension("txt.checkpoint")).await;
    for extra in [&[][..], &["--resume"][..]] {
        let (code, stderr) = stderr_of(start_archive(&slow, &log, &report, extra)).await;
        assert_eq!(code, Some(1), "{extra:?}: {stderr}");
        assert!(
            stderr.contains(IN_USE) && stderr.contains(&format!("(PID {holder})")),
            "{extra:?}: {stderr}"
        );
        assert!(
            stderr.contains("report.txt") && !stderr.contains("add --resume"),
            "{extra:?}: {stderr}"
        );
    }
    let failures = dir.path().join("other.csv");
    std::fs::write(
        &failures,
        "line,raw,error_kind,error_message,attempts\n1,ERROR x,llm_overloaded,busy,6\n",
    )
    .unwrap();
    let mut retry = job_command(&slow, "retry");
    retry.arg(&failures).arg("--report").arg(&report);
    let finished = finish(retry).await;
    assert_eq!(finished.code, Some(1), "{}", finished.stderr);
    assert!(finished.stderr.contains(IN_USE), "{}", finished.stderr);
    assert!(failures.exists());

    running.start_kill().unwrap(); // SIGKILL: the lock file stays, the kernel lock goes
    running.wait().await.unwrap();
    assert!(ReportLock::path_for(&report).exists());
    slow.stop().await;
    let fast = start_mock(MockSettings::default()).await;
    let mut resume = archive_command(&fast, &log, &report);
    resume.arg("--resume");
    let finished = finish(resume).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    assert_eq!(read_report(&report), expected_report(&lines));
    assert!(!ReportLock::path_for(&report).exists());
    fast.stop().await;
}

#[tokio::test]
async fn a_server_and_a_job_never_share_a_report() {
    let mock = start_mock(MockSettings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    write_log(&log, 10);
    let report = dir.path().join("report.txt");
    let server = ServeProcess::start(&report, &[]).await;
    let serving = server.child.id().unwrap();
    let finished = finish(archive_command(&mock, &log, &report)).await;
    assert_eq!(finished.code, Some(1), "{}", finished.stderr);
    assert!(
        finished.stderr.contains(IN_USE) && finished.stderr.contains(&format!("(PID {serving})")),
        "{}",
        finished.stderr
    );
    let mut second = command();
    second
        .args(["serve", "--port", "0", "--report"])
        .arg(&report);
    let finished = finish(second).await;
    assert_eq!(finished.code, Some(1), "{}", finished.stderr);
    assert!(finished.stderr.contains(IN_USE), "{}", finished.stderr);
    drop(server);
    assert_eq!(read_report(&report), "");

    // And the other way round: a server refuses a report a job is writing.
    let mut job = archive_stdin(&mock, &report);
    let job_input = job.stdin.take().unwrap();
    wait_for(&ReportLock::path_for(&report)).await;
    let mut serve = command();
    serve
        .args(["serve", "--port", "0", "--report"])
        .arg(&report);
    let finished = finish(serve).await;
    assert_eq!(finished.code, Some(1), "{}", finished.stderr);
    assert!(
        finished
            .stderr
            .contains(&format!("(PID {})", job.id().unwrap())),
        "{}",
        finished.stderr
    );
    drop(job_input);
    let (code, stderr) = stderr_of(job).await;
    assert_eq!(code, Some(0), "{stderr}");
    mock.stop().await;
}

#[tokio::test]
async fn a_job_never_writes_into_its_input() {
    let mock = start_mock(MockSettings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    write_log(&log, 5);
    let original = std::fs::read(&log).unwrap();
    let hard_link = dir.path().join("hard.log");
    std::fs::hard_link(&log, &hard_link).unwrap();
    let symlink = dir.path().join("soft.log");
    std::os::unix::fs::symlink(&log, &symlink).unwrap();
    let before = listing(dir.path());
    let cases: Vec<(Vec<PathBuf>, &str)> = vec![
        (vec!["--report".into(), log.clone()], "the report"),
        (vec!["--report".into(), hard_link.clone()], "the report"),
        (vec!["--report".into(), symlink.clone()], "the report"),
        (
            vec!["--report".into(), dir.path().join("sub/../app.log")],
            "the report",
        ),
        (
            vec![
                "--report".into(),
                dir.path().join("r.txt"),
                "--failures".into(),
                hard_link.clone(),
            ],
            "the failures file",
        ),
    ];
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    for (args, what) in cases {
        let mut archive = job_command(&mock, "archive");
        archive.arg(&log).args(&args);
        let finished = finish(archive).await;
        assert_eq!(finished.code, Some(1), "{args:?}: {}", finished.stderr);
        assert!(
            finished.stderr.contains(what) && finished.stderr.contains("is the input file"),
            "{args:?}: {}",
            finished.stderr
        );
    }
    // A file redirected into stdin is an input too.
    let mut archive = job_command(&mock, "archive");
    archive
        .arg("-")
        .arg("--report")
        .arg(&log)
        .stdin(std::fs::File::open(&log).unwrap());
    let finished = finish(archive).await;
    assert_eq!(finished.code, Some(1), "{}", finished.stderr);
    assert!(
        finished.stderr.contains("is the input file 'stdin'"),
        "{}",
        finished.stderr
    );
    // A retry whose report is its failures file.
    let failures = dir.path().join("f.csv");
    std::fs::write(
        &failures,
        "line,raw,error_kind,error_message,attempts\n1,ERROR x,llm_overloaded,busy,6\n",
    )
    .unwrap();
    let mut retry = job_command(&mock, "retry");
    retry.arg(&failures).arg("--report").arg(&failures);
    let finished = finish(retry).await;
    assert_eq!(finished.code, Some(1), "{}", finished.stderr);
    assert!(
        finished.stderr.contains("is the input file"),
        "{}",
        finished.stderr
    );
    std::fs::remove_file(&failures).unwrap();
    std::fs::remove_dir(dir.path().join("sub")).unwrap();
    assert_eq!(std::fs::read(&log).unwrap(), original);
    assert_eq!(listing(dir.path()), before);
    mock.stop().await;
}

#[tokio::test]
async fn retry_takes_the_report_from_the_failures_file_name() {
    let mock = start_mock(MockSettings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let report = dir.path().join("app-report.txt");
    let failures = dir.path().join("app-report.txt.failed.csv");
    let rows = "line,raw,error_kind,error_message,attempts\n\
                3,ERROR disk full,llm_overloaded,busy,6\n\
                7,ERROR db down,llm_overloaded,busy,6\n";
    std::fs::write(&failures, rows).unwrap();
    let mut retry = job_command(&mock, "retry");
    retry.arg(&failures).current_dir(elsewhere.path());
    let finished = finish(retry).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    assert_eq!(
        read_report(&report),
        expected_report(&["ERROR disk full", "ERROR db down"])
    );
    assert!(!failures.exists());
    assert_eq!(listing(elsewhere.path()), Vec::<String>::new());

    // A name that does not tell: refused, and the failures are kept.
    let unnamed = dir.path().join("failures.csv");
    std::fs::write(&unnamed, rows).unwrap();
    let mut retry = job_command(&mock, "retry");
    retry.arg(&unnamed).current_dir(elsewhere.path());
    let finished = finish(retry).await;
    assert_eq!(finished.code, Some(1), "{}", finished.stderr);
    assert!(
        finished.stderr.contains("cannot tell which report")
            && finished.stderr.contains("--report"),
        "{}",
        finished.stderr
    );
    assert_eq!(std::fs::read_to_string(&unnamed).unwrap(), rows);
    assert_eq!(listing(elsewhere.path()), Vec::<String>::new());
    mock.stop().await;
}

#[tokio::test]
async fn refused_start_ups_leave_nothing_behind() {
    let mock = start_mock(MockSettings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    write_log(&log, 3);
    std::fs::write(dir.path().join("empty.log"), "").unwrap();
    std::fs::create_dir(dir.path().join("logs")).unwrap();
    std::fs::write(dir.path().join("r.jsonl"), "{\"raw\":\"x\"}\n").unwrap();
    let before = listing(dir.path());
    let cases: [(&str, &str, &[&str], &str); 6] = [
        ("logs", "r.txt", &[], "is a directory"),
        ("empty.log", "r.txt", &[], "is empty"),
        ("app.log", "r.jsonl", &["--format", "csv"], "jsonl format"),
        // A report that cannot be opened for writing (a directory; root may write any file).
        ("app.log", "logs", &[], "cannot open report file"),
        ("app.log", "missing/r.txt", &[], "there is no directory"),
        (
            "app.log",
            "r.txt",
            &["--failures", "./r.txt"],
            "is the report",
        ),
    ];
    for (input, report, extra, expected) in cases {
        let mut archive = job_command(&mock, "archive");
        archive
            .arg(input)
            .args(["--report", report])
            .args(extra)
            .current_dir(dir.path());
        let finished = finish(archive).await;
        assert_eq!(
            finished.code,
            Some(1),
            "{input} {report}: {}",
            finished.stderr
        );
        assert!(
            finished.stderr.contains(expected),
            "{input} {report}: {}",
            finished.stderr
        );
        assert_eq!(listing(dir.path()), before, "{input} {report}");
        assert!(listing(&dir.path().join("logs")).is_empty());
    }
    mock.stop().await;
}

#[tokio::test]
async fn windows_paths_are_archived_byte_for_byte() {
    let mock = start_mock(MockSettings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let lines = [
        r"ERROR cannot open C:\Users\x\AppData\app.log",
        r"WARN share \\fileserver\logs unreachable",
        r"ERROR bad path C:\new\report.txt",
    ];
    std::fs::write(&log, lines.join("\r\n") + "\r\n").unwrap();
    let report = dir.path().join("report.txt");
    let finished = finish(archive_command(&mock, &log, &report)).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    let text = read_report(&report);
    assert!(
        text.contains("\nRAW: ERROR cannot open C:\\Users\\x\\AppData\\app.log\n"),
        "{text}"
    );
    // A backslash before `n` (or `r`, `u{`, another backslash) is doubled, so it reads back.
    assert!(
        text.contains("\nRAW: ERROR bad path C:\\\\new\\\\report.txt\n"),
        "{text}"
    );
    let mut read_back = command();
    read_back.args(["report", "--to", "jsonl"]).arg(&report);
    let finished = finish(read_back).await;
    assert!(finished.success, "{}", finished.stderr);
    let raws: Vec<String> = finished
        .stdout
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["raw"].to_string())
        .map(|raw| serde_json::from_str::<String>(&raw).unwrap())
        .collect();
    assert_eq!(raws, lines);

    // A report written when every backslash was doubled reads back the same.
    let legacy = dir.path().join("legacy.txt");
    std::fs::write(
        &legacy,
        "--- INCIDENT REPORT ---\nRAW: ERROR cannot open C:\\\\Users\\\\x\\nnext\n\
         ANALYSIS: ok\n------------------------------\n",
    )
    .unwrap();
    let mut read_legacy = command();
    read_legacy.args(["report", "--to", "jsonl"]).arg(&legacy);
    let finished = finish(read_legacy).await;
    assert!(finished.success, "{}", finished.stderr);
    let record: serde_json::Value = serde_json::from_str(finished.stdout.trim()).unwrap();
    assert_eq!(record["raw"], "ERROR cannot open C:\\Users\\x\nnext");
    mock.stop().await;
}

#[tokio::test]
async fn a_truncated_gzip_ends_with_what_was_archived_and_blocks_nothing() {
    use std::io::Write;
    let mock = start_mock(MockSettings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.log");
    let lines = write_log(&plain, 3000);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&std::fs::read(&plain).unwrap()).unwrap();
    let compressed = gz.finish().unwrap();
    let log = dir.path().join("app.log.gz");
    std::fs::write(&log, &compressed[..compressed.len() / 2]).unwrap();
    let report = dir.path().join("report.txt");
    for run in 0..2 {
        let finished = finish(archive_command(&mock, &log, &report)).await;
        assert_eq!(finished.code, Some(1), "run {run}: {}", finished.stderr);
        assert!(
            finished
                .stderr
                .contains("is not a valid gzip stream at line")
                && finished.stderr.contains("nothing is left to resume")
                && !finished.stderr.contains("--resume"),
            "run {run}: {}",
            finished.stderr
        );
        // Not a dead end: no checkpoint, no empty failures file, and the next run is not
        // refused.
        assert!(
            !report.with_extension("txt.checkpoint").exists(),
            "run {run}"
        );
        assert!(
            !report.with_extension("txt.failed.csv").exists(),
            "run {run}"
        );
    }
    let archived = report_raw_lines(&read_report(&report));
    let per_run = archived.len() / 2;
    assert!(per_run > 0 && per_run < lines.len(), "{per_run}");
    let read_before_the_damage = expected_report(&lines[..per_run]);
    assert_eq!(read_report(&report), read_before_the_damage.repeat(2));
    mock.stop().await;
}
