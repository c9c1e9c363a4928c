//! The configuration file through the real binary: flags win over the environment, which wins
//! over the file, which wins over the defaults; `config` shows the result with secrets masked.

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
        lines.contains(&"concurrency = \"32\"  # file"),
        "{}",
        finished.stdout
    );
    assert!(
        lines.contains(&"max-retries = \"2\"  # file"),
        "{}",
        finished.stdout
    );
    assert!(
        lines.contains(&"model = \"from-env\"  # env LOG_ARCHIVER_MODEL"),
        "{}",
        finished.stdout
    );
    assert!(
        lines.contains(&"connections = \"4\"  # default"),
        "{}",
        finished.stdout
    );
    assert!(!finished.stdout.contains("sk-ant-secret-value"));
    assert!(finished.stdout.contains("ANTHROPIC_API_KEY = \"********\""));

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
