//! The configuration file through the real binary: flags win over the environment, which wins
//! over the file, which wins over the defaults; `config` shows the result with secrets masked,
//! the environment values it uses, and as a file `--config` accepts.

mod common;

use common::*;

fn config_lines(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|line| !line.starts_with('#'))
        .collect()
}

#[tokio::test]
async fn precedence_is_flags_then_environment_then_file_then_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        "model = \"from-file\"\nconcurrency = 8\n[archive]\nconcurrency = 32\nmax-retries = 2\n",
    )
    .unwrap();
    let mut show = command();
    show.args(["config", "archive", "--config"])
        .arg(&path)
        .env("LOG_ARCHIVER_MODEL", "from-env")
        .env("ANTHROPIC_API_KEY", "sk-ant-secret-value");
    let finished = finish(show).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    let lines = config_lines(&finished.stdout);
    assert!(
        lines.contains(&"concurrency = 32  # file"),
        "{}",
        finished.stdout
    );
    assert!(
        lines.contains(&"max-retries = 2  # file"),
        "{}",
        finished.stdout
    );
    assert!(
        lines.contains(&"model = \"from-env\"  # env LOG_ARCHIVER_MODEL"),
        "{}",
        finished.stdout
    );
    assert!(
        lines.contains(&"connections = 4  # default"),
        "{}",
        finished.stdout
    );
    assert!(!finished.stdout.contains("sk-ant-secret-value"));
    assert!(
        finished
            .stdout
            .contains("# api-key = \"********\"  # env ANTHROPIC_API_KEY"),
        "{}",
        finished.stdout
    );

    // The file's settings drive a real job; a flag still wins over them.
    let log = dir.path().join("app.log");
    write_log(&log, 5);
    std::fs::write(
        &path,
        "llm = \"offline\"\n[archive]\ndedup = \"off\"\nprogress = \"off\"\njson = true\n",
    )
    .unwrap();
    let mut archive = command();
    archive
        .arg("archive")
        .arg(&log)
        .arg("--config")
        .arg(&path)
        .arg("--report")
        .arg(dir.path().join("r.txt"))
        .env_remove("ANTHROPIC_API_KEY");
    let finished = finish(archive).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    assert!(
        finished.stderr.contains("offline explainer"),
        "{}",
        finished.stderr
    );
    let summary: serde_json::Value = serde_json::from_str(finished.stdout.trim()).unwrap();
    assert_eq!(summary["counters"]["archived"], 5);
}

#[tokio::test]
async fn a_bad_config_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, "api-key = \"sk\"\n").unwrap();
    let mut show = command();
    show.args(["config", "--config"]).arg(&path);
    let finished = finish(show).await;
    assert_eq!(finished.code, Some(1));
    assert!(
        finished
            .stderr
            .contains("keep secrets out of files (api-key)"),
        "{}",
        finished.stderr
    );
}

#[tokio::test]
async fn the_auth_token_is_masked_when_shown() {
    let mut show = command();
    show.args(["config", "serve"])
        .env("LOG_ARCHIVER_AUTH_TOKEN", "supersecrettoken12345");
    let finished = finish(show).await;
    assert!(finished.success, "{}", finished.stderr);
    assert!(
        !finished.stdout.contains("supersecrettoken12345"),
        "{}",
        finished.stdout
    );
    assert!(
        finished.stdout.contains("auth-token = "),
        "{}",
        finished.stdout
    );
}

#[tokio::test]
async fn config_shows_the_environment_it_uses_as_a_file_that_config_accepts() {
    let mock = start_mock(log_archiver::mock::MockSettings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut show = command();
    show.args(["config", "archive"])
        .env("ANTHROPIC_API_KEY", "sk-ant-secret-value")
        .env("ANTHROPIC_BASE_URL", mock.base_url())
        .env_remove("LOG_ARCHIVER_CONFIG")
        .env("XDG_CONFIG_HOME", dir.path())
        .env_remove("LOG_ARCHIVER_MODEL")
        .env_remove("LOG_ARCHIVER_AUTH_TOKEN");
    let finished = finish(show).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    let shown = finished.stdout;
    assert!(!shown.contains("sk-ant-secret-value"), "{shown}");
    assert!(
        shown.contains("# api-key = \"********\"  # env ANTHROPIC_API_KEY"),
        "{shown}"
    );
    assert!(
        shown.contains(&format!(
            "base-url = \"{}\"  # env ANTHROPIC_BASE_URL",
            mock.base_url()
        )),
        "{shown}"
    );
    // No secret is offered as an empty default, and nothing unset is written as a value.
    assert!(
        !config_lines(&shown)
            .iter()
            .any(|line| line.contains("= \"\"")),
        "{shown}"
    );

    // The output is a configuration file: `config` reads it back, and a job runs from it
    // (its base URL leads to the mock; the key still comes from the environment).
    let path = dir.path().join("config.toml");
    std::fs::write(&path, &shown).unwrap();
    let mut again = command();
    again
        .args(["config", "archive", "--config"])
        .arg(&path)
        .env("ANTHROPIC_API_KEY", "sk-ant-secret-value")
        .env_remove("ANTHROPIC_BASE_URL");
    let finished = finish(again).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    assert!(
        finished.stdout.contains("concurrency = 16  # file"),
        "{}",
        finished.stdout
    );
    let log = dir.path().join("app.log");
    let lines = write_log(&log, 5);
    let report = dir.path().join("r.txt");
    let mut archive = command();
    archive
        .arg("archive")
        .arg(&log)
        .arg("--config")
        .arg(&path)
        .args([
            "--llm",
            "anthropic",
            "--progress",
            "off",
            "--dedup",
            "off",
            "--report",
        ])
        .arg(&report)
        .env("ANTHROPIC_API_KEY", "test-key")
        .env_remove("ANTHROPIC_BASE_URL")
        .env_remove("LOG_ARCHIVER_MODEL");
    let finished = finish(archive).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    assert_eq!(read_report(&report), expected_report(&lines));
    mock.stop().await;
}
