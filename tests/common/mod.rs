//! Helpers shared by the integration tests: the real binary, servers on ephemeral loopback
//! ports, and reading reports back.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use log_archiver::client::{ClientSession, ProtocolChoice, SamplingHandler, ServerTarget, connect};
use log_archiver::llm::OfflineBackend;
use log_archiver::mock::{MockLlm, MockSettings, MockStatsSnapshot, mock_reply};
use log_archiver::report::format_record;
use log_archiver::server::PromptTemplate;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The path of the `log-archiver` binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_log-archiver")
}

/// A `log-archiver` command with quiet logs.
pub fn command() -> Command {
    let mut command = Command::new(binary());
    command.env("LOG_ARCHIVER_LOG", "warn").kill_on_drop(true);
    command
}

/// Starts the mock LLM in this process.
pub async fn start_mock(settings: MockSettings) -> MockLlm {
    MockLlm::start_on_loopback(settings)
        .await
        .expect("mock LLM starts")
}

/// A `log-archiver serve` process on an ephemeral loopback port, killed when dropped.
pub struct ServeProcess {
    pub child: Child,
    pub url: String,
}

impl ServeProcess {
    /// Starts `log-archiver serve --report REPORT EXTRA...` (on `--port 0` unless EXTRA names
    /// a port) and waits for its URL.
    pub async fn start(report: &Path, extra: &[&str]) -> Self {
        let port: &[&str] = if extra.contains(&"--port") {
            &[]
        } else {
            &["--port", "0"]
        };
        let mut child = command()
            .arg("serve")
            .args(port)
            .arg("--report")
            .arg(report)
            .args(extra)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("serve starts");
        let stderr = child.stderr.take().expect("stderr piped");
        let mut lines = BufReader::new(stderr).lines();
        let url = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.expect("stderr readable") {
                if let Some(url) = line.strip_prefix("Log-Archiver MCP server listening on ") {
                    return url.to_string();
                }
            }
            panic!("serve exited before listening");
        })
        .await
        .expect("serve listens within 30 s");
        // Keep draining stderr so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { child, url }
    }

    /// A client session to this server offering `protocol`, answering sampling with the
    /// offline explainer.
    pub async fn offline_session(&self, protocol: ProtocolChoice) -> ClientSession {
        let target = ServerTarget::Http {
            url: self.url.clone(),
            auth_token: None,
        };
        let handler = SamplingHandler::new(Arc::new(OfflineBackend)).with_protocol(protocol);
        connect(&target, handler).await.expect("session opens")
    }
}

/// The record the mock LLM's answer produces for `log_line` under the default prompt.
pub fn expected_record(log_line: &str) -> String {
    let prompt = PromptTemplate::default().render(log_line);
    format_record(log_line, &mock_reply(&prompt))
}

/// A scratch directory and a report path inside it.
pub fn scratch_report() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("incident_report.txt");
    (dir, report)
}

/// The report's text, or empty when it does not exist.
pub fn read_report(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Output of a finished command.
pub struct Finished {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a command to completion (at most three minutes, generous for a loaded machine).
pub async fn finish(mut command: Command) -> Finished {
    let output = tokio::time::timeout(Duration::from_secs(180), command.output())
        .await
        .expect("command finishes within three minutes")
        .expect("command runs");
    Finished {
        success: output.status.success(),
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `log-archiver explain` pointed at `mock` with a test key.
pub fn explain_command(mock: &MockLlm) -> Command {
    let mut command = command();
    command
        .arg("explain")
        .env("ANTHROPIC_API_KEY", "test-key")
        .env("ANTHROPIC_BASE_URL", mock.base_url())
        .env_remove("LOG_ARCHIVER_MODEL");
    command
}

/// `log-archiver archive` (or `retry`) pointed at `mock` with a test key, quiet progress, every
/// entry explained on its own (`--dedup off`; a later `--dedup` overrides it).
pub fn job_command(mock: &MockLlm, subcommand: &str) -> Command {
    job_command_at(&mock.base_url(), subcommand)
}

/// `log-archiver archive` (or `retry`) pointed at the LLM API at `base_url` with a test key,
/// quiet progress.
pub fn job_command_at(base_url: &str, subcommand: &str) -> Command {
    let mut command = command();
    command
        .arg(subcommand)
        .args(["--llm", "anthropic", "--progress", "off", "--dedup", "off"])
        .env("ANTHROPIC_API_KEY", "test-key")
        .env("ANTHROPIC_BASE_URL", base_url)
        .env_remove("LOG_ARCHIVER_MODEL");
    command
}

/// A `log-archiver mock-llm` process on an ephemeral loopback port, killed when dropped.
pub struct MockProcess {
    pub child: Child,
    pub base_url: String,
}

impl MockProcess {
    /// Starts `log-archiver mock-llm --port 0 EXTRA...` and waits for the URL it prints.
    pub async fn start(extra: &[&str]) -> Self {
        let mut child = command()
            .args(["mock-llm", "--port", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("mock-llm starts");
        let stdout = child.stdout.take().expect("stdout piped");
        let line = tokio::time::timeout(
            Duration::from_secs(30),
            BufReader::new(stdout).lines().next_line(),
        )
        .await
        .expect("mock-llm listens within 30 s")
        .expect("stdout readable")
        .expect("mock-llm prints its URL");
        let base_url = line
            .strip_prefix("mock LLM listening on ")
            .expect("the URL line")
            .to_string();
        Self { child, base_url }
    }

    /// The mock's counters (`GET /stats`).
    pub async fn stats(&self) -> MockStatsSnapshot {
        reqwest::get(format!("{}/stats", self.base_url))
            .await
            .expect("stats answer")
            .json()
            .await
            .expect("stats are JSON")
    }
}

/// `log-archiver archive LOG --report REPORT` pointed at `mock`.
pub fn archive_command(mock: &MockLlm, log: &Path, report: &Path) -> Command {
    let mut archive = job_command(mock, "archive");
    archive.arg(log).arg("--report").arg(report);
    archive
}

/// One of the real 2,000-line logs in fixtures/loghub, such as `HDFS`.
pub fn loghub_log(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/loghub")
        .join(name)
        .join(format!("{name}_2k.log"))
}

/// Writes `count` distinct log lines to `path` and returns them.
pub fn write_log(path: &Path, count: usize) -> Vec<String> {
    let lines: Vec<String> = (1..=count)
        .map(|i| {
            format!(
                "2026-11-29T10:{:02}:{:02} ERROR [worker-{}] request {i} failed: code {}",
                i / 60 % 60,
                i % 60,
                i % 7,
                i * 31 % 1000
            )
        })
        .collect();
    std::fs::write(path, lines.join("\n") + "\n").expect("log written");
    lines
}

/// The report `expected_record` would produce for these lines, in order.
pub fn expected_report<S: AsRef<str>>(lines: &[S]) -> String {
    lines
        .iter()
        .map(|line| expected_record(line.as_ref()))
        .collect()
}

/// The RAW lines of a report's records, in order.
pub fn report_raw_lines(report: &str) -> Vec<String> {
    report
        .lines()
        .filter_map(|line| line.strip_prefix("RAW: "))
        .map(String::from)
        .collect()
}

static NPM_PEERS: tokio::sync::OnceCell<PathBuf> = tokio::sync::OnceCell::const_new();

/// The directory of the npm interoperability peers (tests/interop/npm), installed once per test
/// run: `npm ci` runs only when the lock file changed. Node.js 20+ with npm is required; a
/// missing `node` fails the test rather than skipping it.
pub async fn npm_peers() -> &'static Path {
    NPM_PEERS
        .get_or_init(|| async {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/npm/setup.sh");
            let mut setup = Command::new("bash");
            // `output()` pipes stdout and stderr whatever is set here.
            setup.arg(script).kill_on_drop(true);
            // npm ci downloads about 140 packages (and a Node.js 22 binary) on first use.
            let output = tokio::time::timeout(Duration::from_secs(300), setup.output())
                .await
                .expect("tests/interop/npm/setup.sh finishes within five minutes")
                .expect("tests/interop/npm/setup.sh runs");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                output.status.success(),
                "tests/interop/npm/setup.sh failed (Node.js 20+ with npm is required): {stderr}"
            );
            // Shown with --nocapture or when the test fails.
            eprint!("{stderr}");
            let stdout = String::from_utf8(output.stdout).unwrap();
            PathBuf::from(stdout.lines().last().expect("directory printed").trim())
        })
        .await
}

/// The records of a sampling audit log (`--audit-log`), one JSON value per line.
pub fn read_audit_log(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("audit log readable")
        .lines()
        .map(|line| serde_json::from_str(line).expect("audit lines are JSON"))
        .collect()
}

static PYTHON: tokio::sync::OnceCell<PathBuf> = tokio::sync::OnceCell::const_new();

/// The folder of the Python and npm peers.
pub fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

/// The python of the pinned virtualenv (tests/interop/requirements.txt), set up once per test
/// binary.
pub async fn python() -> &'static Path {
    PYTHON
        .get_or_init(|| async {
            let output = Command::new("bash")
                .arg(interop_dir().join("setup_venv.sh"))
                .stderr(Stdio::inherit())
                .output()
                .await
                .expect("setup_venv.sh runs");
            assert!(output.status.success(), "setup_venv.sh failed");
            let stdout = String::from_utf8(output.stdout).unwrap();
            PathBuf::from(stdout.lines().last().expect("python path printed").trim())
        })
        .await
}
