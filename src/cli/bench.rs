//! `log-archiver bench`: runs a matrix of throughput scenarios through the whole path and writes
//! a table, a CSV file and an SVG chart.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::args::{ProtocolArgs, parse_duration, parse_timeout};
use super::numbers::whole;
use crate::bench::{
    BenchWorkspace, ClientLimit, LatencyProfile, Matrix, RunSettings, RunStatus, expand_matrix,
    print_table, run_scenario, write_chart, write_csv,
};
use crate::server::MAX_BATCH_LINES;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// A log file every run sends whole, instead of generated lines.
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,

    /// Most generated lines per run; runs with a known bound send about --run-seconds' worth.
    #[arg(long, default_value_t = 20_000, value_parser = whole::<u64>(1, u64::MAX), allow_negative_numbers = true)]
    pub lines: u64,

    /// Concurrencies to measure (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "16,64,256", value_parser = whole::<u64>(1, 4096), allow_negative_numbers = true)]
    pub concurrency: Vec<u64>,

    /// MCP sessions per run (at most the concurrency).
    #[arg(long, default_value_t = 4, value_parser = whole::<u64>(1, 256), allow_negative_numbers = true)]
    pub connections: u64,

    /// Mean LLM latencies to measure (comma-separated; seconds or with a unit: 0,200ms).
    #[arg(long, value_delimiter = ',', default_value = "0,200ms", value_parser = parse_duration, allow_negative_numbers = true)]
    pub latency: Vec<Duration>,

    /// How far answer times spread around a non-zero mean latency (uniformly).
    #[arg(long, default_value = "100ms", value_parser = parse_duration, allow_negative_numbers = true)]
    pub latency_spread: Duration,

    /// Request limits the mock LLM enforces, per minute (comma-separated; `none` for no limit).
    #[arg(long, value_delimiter = ',', default_value = "none,1200", value_parser = parse_provider_rpm, allow_negative_numbers = true)]
    pub rpm: Vec<Option<u32>>,

    /// For runs with a limit: whether the client is told it (`match`: --rpm set to it) or
    /// finds it itself (`unset`); comma-separated.
    #[arg(long, value_delimiter = ',', value_enum, default_value = "match")]
    pub client_limit: Vec<ClientLimit>,

    /// Seconds' worth of lines a run with a known bound sends.
    #[arg(long, default_value_t = 20.0, value_parser = parse_run_seconds, allow_negative_numbers = true)]
    pub run_seconds: f64,

    /// The longest one run may take.
    #[arg(long, default_value = "5m", value_parser = parse_timeout, allow_negative_numbers = true)]
    pub run_timeout: Duration,

    // The runs' clients offer these revisions (auto takes 2026-07-28 with the built-in server;
    // 2025-11-25 measures the classic sampling path).
    #[command(flatten)]
    pub revisions: ProtocolArgs,

    /// Most entries per tool call in every run (`archive --batch`; 1 sends each entry in a
    /// call of its own).
    #[arg(long, default_value_t = 16, value_parser = whole::<u64>(1, MAX_BATCH_LINES as u64), allow_negative_numbers = true)]
    pub batch: u64,

    /// Where to write bench.csv and throughput.svg.
    #[arg(long, default_value = "bench-results")]
    pub out: PathBuf,
}

fn parse_provider_rpm(text: &str) -> Result<Option<u32>, String> {
    if text == "none" {
        return Ok(None);
    }
    match text.parse::<u32>() {
        Ok(rpm) if rpm > 0 => Ok(Some(rpm)),
        _ => Err(format!(
            "'{text}' is not a positive number of requests per minute, or none"
        )),
    }
}

impl BenchArgs {
    fn matrix(&self) -> Matrix {
        Matrix {
            concurrency: self.concurrency.iter().map(|&c| c as usize).collect(),
            connections: self.connections as usize,
            latencies: self
                .latency
                .iter()
                .map(|&mean| {
                    let spread = if mean.is_zero() {
                        Duration::ZERO
                    } else {
                        self.latency_spread.min(mean * 2)
                    };
                    LatencyProfile {
                        base: mean - spread / 2,
                        spread,
                    }
                })
                .collect(),
            provider_rpm: self.rpm.clone(),
            client_limits: self.client_limit.clone(),
            max_lines: self.lines,
            target_seconds: self.run_seconds,
        }
    }
}

fn parse_run_seconds(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds > 0.0 => Ok(seconds),
        Ok(_) => Err("must be more than zero".to_string()),
        Err(_) => Err("not a number of seconds".to_string()),
    }
}

pub async fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.out)
        .map_err(|error| anyhow::anyhow!("cannot create '{}': {error}", args.out.display()))?;
    let scenarios = expand_matrix(&args.matrix());
    let settings = RunSettings {
        run_timeout: args.run_timeout,
        protocol: args.revisions.protocol,
        batch: args.batch,
    };
    let workspace = BenchWorkspace::new(args.input.clone(), settings)?;
    let mut results = Vec::with_capacity(scenarios.len());
    for (index, scenario) in scenarios.iter().enumerate() {
        let amount = match &args.input {
            Some(input) => input.display().to_string(),
            None => format!("{} lines", scenario.lines),
        };
        eprintln!(
            "[{}/{}] {scenario}: {amount} ...",
            index + 1,
            scenarios.len()
        );
        let result = run_scenario(&workspace, index, scenario).await?;
        match (&result.lines_per_sec, &result.achieved_fraction) {
            (Some(rate), Some(fraction)) => eprintln!(
                "      {rate:.1} lines/s, {:.1}% of the bound, {}",
                fraction * 100.0,
                result.status
            ),
            (Some(rate), None) => eprintln!("      {rate:.1} lines/s, {}", result.status),
            _ => eprintln!("      {}", result.status),
        }
        results.push(result);
    }
    let mut stdout = std::io::stdout().lock();
    print_table(&results, &mut stdout)?;
    let csv = args.out.join("bench.csv");
    write_csv(&results, &csv)?;
    let svg = args.out.join("throughput.svg");
    write_chart(&results, &svg)?;
    eprintln!("wrote {} and {}", csv.display(), svg.display());
    let all_completed = results
        .iter()
        .all(|result| matches!(result.status, RunStatus::Completed { .. }));
    Ok(if all_completed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
