//! What one run measured, and how the runs are shown: a table on the terminal and a CSV file.

use std::fmt;
use std::path::Path;

use serde::Serialize;

use super::scenario::{ClientLimit, Scenario};
use crate::mock::MockStatsSnapshot;

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RunStatus {
    /// The job ran to its end; some entries may have failed (its exit code 2).
    Completed {
        failed_entries: u64,
    },
    TimedOut,
    Failed(String),
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Completed { failed_entries: 0 } => f.write_str("ok"),
            Self::Completed { failed_entries } => write!(f, "ok, {failed_entries} entries failed"),
            Self::TimedOut => f.write_str("timed out"),
            Self::Failed(reason) => write!(f, "failed: {reason}"),
        }
    }
}

/// The figures of one run (one CSV row).
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub concurrency: usize,
    pub connections: usize,
    pub latency: String,
    pub mean_latency_ms: f64,
    pub provider_rpm: Option<u32>,
    pub client_limit: Option<String>,
    pub lines: u64,
    pub elapsed_secs: Option<f64>,
    pub lines_per_sec: Option<f64>,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub llm_requests: Option<u64>,
    /// 429s the client saw.
    pub rate_limited: Option<u64>,
    pub retries: Option<u64>,
    /// 429s the mock answered (the provider's view).
    pub provider_429s: u64,
    pub peak_rss_mb: Option<f64>,
    pub cpu_secs_per_1000_lines: Option<f64>,
    pub bound_lines_per_sec: Option<f64>,
    /// Achieved throughput over the bound.
    pub achieved_fraction: Option<f64>,
    #[serde(serialize_with = "as_text")]
    pub status: RunStatus,
}

fn as_text<S: serde::Serializer>(status: &RunStatus, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(status)
}

impl RunResult {
    fn base(scenario: &Scenario, status: RunStatus, provider_429s: u64) -> Self {
        Self {
            concurrency: scenario.concurrency,
            connections: scenario.connections,
            latency: scenario.latency.to_string(),
            mean_latency_ms: scenario.latency.mean().as_secs_f64() * 1000.0,
            provider_rpm: scenario.provider_rpm,
            client_limit: scenario.client_limit.map(|limit| match limit {
                ClientLimit::Match => "match".to_string(),
                ClientLimit::Unset => "unset".to_string(),
            }),
            lines: scenario.lines,
            elapsed_secs: None,
            lines_per_sec: None,
            latency_p50_ms: None,
            latency_p95_ms: None,
            latency_p99_ms: None,
            llm_requests: None,
            rate_limited: None,
            retries: None,
            provider_429s,
            peak_rss_mb: None,
            cpu_secs_per_1000_lines: None,
            bound_lines_per_sec: scenario.bound_lines_per_second(),
            achieved_fraction: None,
            status,
        }
    }

    /// A run that did not complete.
    pub fn unmeasured(scenario: &Scenario, status: RunStatus) -> Self {
        Self::base(scenario, status, 0)
    }

    /// A completed run, from the `archive --json` summary and the mock's counters.
    pub fn measured(
        scenario: &Scenario,
        summary: &serde_json::Value,
        mock: &MockStatsSnapshot,
    ) -> Self {
        let provider_429s = mock.by_status.get(&429).copied().unwrap_or(0);
        let counters = &summary["counters"];
        let status = RunStatus::Completed {
            failed_entries: counters["failed"].as_u64().unwrap_or(0),
        };
        let mut result = Self::base(scenario, status, provider_429s);
        let elapsed = summary["elapsed_secs"].as_f64();
        let read = counters["read"].as_u64().unwrap_or(0);
        result.lines = read;
        result.elapsed_secs = elapsed;
        result.lines_per_sec = elapsed
            .filter(|secs| *secs > 0.0)
            .map(|secs| read as f64 / secs);
        result.latency_p50_ms = summary["latency_p50_ms"].as_f64();
        result.latency_p95_ms = summary["latency_p95_ms"].as_f64();
        result.latency_p99_ms = summary["latency_p99_ms"].as_f64();
        result.llm_requests = counters["llm_requests"].as_u64();
        result.rate_limited = counters["rate_limited"].as_u64();
        result.retries = counters["retries"].as_u64();
        result.peak_rss_mb = summary["peak_rss_bytes"].as_f64().map(|bytes| bytes / 1e6);
        result.cpu_secs_per_1000_lines = summary["cpu_seconds"]
            .as_f64()
            .map(|secs| secs * 1000.0 / read.max(1) as f64);
        result.achieved_fraction = result
            .lines_per_sec
            .zip(result.bound_lines_per_sec)
            .map(|(achieved, bound)| achieved / bound);
        result
    }
}

fn figure(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".to_string(), |value| format!("{value:.decimals$}"))
}

fn count(value: Option<u64>) -> String {
    value.map_or_else(|| "-".to_string(), |value| value.to_string())
}

/// Prints the runs as an aligned table.
pub fn print_table(results: &[RunResult], out: &mut impl std::io::Write) -> std::io::Result<()> {
    let header = [
        "conc", "conn", "latency", "rpm", "client", "lines", "lines/s", "bound/s", "achieved",
        "p50 ms", "p95 ms", "p99 ms", "requests", "429s", "retries", "RSS MB", "CPU s/1k",
        "status",
    ];
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|run| {
            vec![
                run.concurrency.to_string(),
                run.connections.to_string(),
                run.latency.clone(),
                run.provider_rpm
                    .map_or_else(|| "-".to_string(), |rpm| rpm.to_string()),
                run.client_limit.clone().unwrap_or_else(|| "-".to_string()),
                run.lines.to_string(),
                figure(run.lines_per_sec, 1),
                figure(run.bound_lines_per_sec, 1),
                run.achieved_fraction.map_or_else(
                    || "-".to_string(),
                    |fraction| format!("{:.1}%", fraction * 100.0),
                ),
                figure(run.latency_p50_ms, 1),
                figure(run.latency_p95_ms, 1),
                figure(run.latency_p99_ms, 1),
                count(run.llm_requests),
                count(run.rate_limited),
                count(run.retries),
                figure(run.peak_rss_mb, 1),
                figure(run.cpu_secs_per_1000_lines, 3),
                run.status.to_string(),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .chain([header[column].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:>width$}"))
            .collect::<Vec<_>>()
            .join("  ")
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for row in &rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

/// Writes the runs as CSV, one row each.
pub fn write_csv(results: &[RunResult], path: &Path) -> anyhow::Result<()> {
    let mut writer = csv::Writer::from_path(path)
        .map_err(|error| anyhow::anyhow!("cannot write '{}': {error}", path.display()))?;
    for result in results {
        writer.serialize(result)?;
    }
    writer.flush()?;
    Ok(())
}
