//! Running one scenario: a mock LLM in this process with the scenario's latency and limit, and
//! a real `archive` process (this very binary) sending a generated log through it, bounded in
//! time; its JSON summary and the mock's counters make the run's result.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use clap::ValueEnum;
use tokio::process::Command;

use super::results::{RunResult, RunStatus};
use super::sample_lines::sample_log_line;
use super::scenario::{ClientLimit, Scenario};
use crate::client::ProtocolChoice;
use crate::mock::{MockLlm, MockSettings};

/// Where runs keep their inputs and reports.
pub struct BenchWorkspace {
    dir: tempfile::TempDir,
    /// A log given by the user, sent whole by every run.
    input: Option<PathBuf>,
    pub settings: RunSettings,
}

/// What every run of a bench shares.
pub struct RunSettings {
    /// The longest a run may take.
    pub run_timeout: Duration,
    /// The MCP protocol revisions every run's client offers.
    pub protocol: ProtocolChoice,
    /// Most entries per tool call (`archive --batch`).
    pub batch: u64,
}

impl BenchWorkspace {
    /// A scratch directory for generated logs and reports; `input` replaces generated logs.
    pub fn new(input: Option<PathBuf>, settings: RunSettings) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("log-archiver-bench")
            .tempdir()?;
        // An empty configuration file, so the user's own cannot change what is measured.
        std::fs::write(dir.path().join("config.toml"), "")?;
        Ok(Self {
            dir,
            input,
            settings,
        })
    }

    /// The log a scenario sends: the user's, or `lines` generated distinct lines.
    fn log_for(&self, lines: u64) -> anyhow::Result<PathBuf> {
        if let Some(input) = &self.input {
            return Ok(input.clone());
        }
        let path = self.dir.path().join(format!("generated-{lines}.log"));
        if !path.exists() {
            std::fs::write(&path, generated_log(lines))?;
        }
        Ok(path)
    }
}

/// `lines` distinct, realistic log lines, so every line is a real LLM request.
fn generated_log(lines: u64) -> String {
    let mut log = String::with_capacity(lines as usize * 160);
    for i in 0..lines as usize {
        log.push_str(&sample_log_line(i));
        log.push('\n');
    }
    log
}

/// Runs `scenario` (number `index`) and measures it.
pub async fn run_scenario(
    workspace: &BenchWorkspace,
    index: usize,
    scenario: &Scenario,
) -> anyhow::Result<RunResult> {
    let log = workspace.log_for(scenario.lines)?;
    let report = workspace.dir.path().join(format!("report-{index}.txt"));
    let mock = MockLlm::start_on_loopback(MockSettings {
        latency: scenario.latency.base,
        latency_spread: scenario.latency.spread,
        requests_per_minute: scenario.provider_rpm,
        seed: index as u64,
        ..MockSettings::default()
    })
    .await?;
    let mut archive = archive_command(workspace, scenario, &log, &report, &mock.base_url())?;
    let outcome = tokio::time::timeout(workspace.settings.run_timeout, archive.output()).await;
    let mock_stats = mock.stats().snapshot();
    mock.stop().await;
    for leftover in [
        report.clone(),
        crate::files::sibling(&report, ".explanations.jsonl"),
    ] {
        let _ = std::fs::remove_file(leftover);
    }
    let status = match outcome {
        Err(_) => RunStatus::TimedOut,
        Ok(Err(error)) => anyhow::bail!("cannot run the archive process: {error}"),
        // 0: every entry archived; 2: the job ran to its end but some entries failed.
        Ok(Ok(output)) if matches!(output.status.code(), Some(0 | 2)) => {
            let summary: serde_json::Value = serde_json::from_slice(&output.stdout)
                .map_err(|error| anyhow::anyhow!("the archive summary is not JSON: {error}"))?;
            return Ok(RunResult::measured(scenario, &summary, &mock_stats));
        }
        Ok(Ok(output)) => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let last = stderr.lines().last().unwrap_or("no message").to_string();
            RunStatus::Failed(format!("exit {:?}: {last}", output.status.code()))
        }
    };
    Ok(RunResult::unmeasured(scenario, status))
}

/// The `archive` command of a run: this binary, the mock as an Anthropic API, no dedup (every
/// line is a request), and the client's limit as the scenario says.
fn archive_command(
    workspace: &BenchWorkspace,
    scenario: &Scenario,
    log: &Path,
    report: &Path,
    mock_url: &str,
) -> anyhow::Result<Command> {
    let mut command = Command::new(std::env::current_exe()?);
    command
        .arg("--config")
        .arg(workspace.dir.path().join("config.toml"))
        .arg("archive")
        .arg(log)
        .arg("--report")
        .arg(report)
        .args([
            "--llm",
            "anthropic",
            "--model",
            "bench",
            "--api-key",
            "bench",
        ])
        .args(["--base-url", mock_url])
        .args(["--dedup", "off", "--progress", "off", "--json"])
        .args(["--concurrency", &scenario.concurrency.to_string()])
        .args(["--batch", &workspace.settings.batch.to_string()])
        .args(["--connections", &scenario.connections.to_string()])
        .args([
            "--protocol",
            workspace
                .settings
                .protocol
                .to_possible_value()
                .expect("named")
                .get_name(),
        ])
        .env("LOG_ARCHIVER_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    match (scenario.provider_rpm, scenario.client_limit) {
        (Some(rpm), Some(ClientLimit::Match)) => {
            command.args(["--rpm", &rpm.to_string()]);
        }
        (Some(_), _) => {}
        (None, _) => {
            command.args(["--rpm", "unlimited"]);
        }
    }
    Ok(command)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_lines_are_distinct() {
        let log = generated_log(1_000);
        let lines: std::collections::HashSet<&str> = log.lines().collect();
        assert_eq!(lines.len(), 1_000);
    }
}
