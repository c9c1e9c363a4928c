//! The command line: argument definitions, logging set-up, and dispatch to each command.

mod archive;
mod args;
mod bench;
mod call;
mod config;
mod digest;
mod explain;
mod job;
mod mock_llm;
mod numbers;
mod peer;
mod plan;
mod report;
mod retry;
mod serve;
mod signal;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Explain and archive log files with an LLM through the Model Context Protocol.
#[derive(Debug, Parser)]
#[command(name = "log-archiver", version, about, long_about = None, args_override_self = true)]
pub struct Cli {
    /// Log filter for diagnostics on stderr (tracing syntax, e.g. `debug` or `info,rmcp=debug`).
    #[arg(
        long,
        global = true,
        env = "LOG_ARCHIVER_LOG",
        default_value = "info,rmcp=warn"
    )]
    pub log: String,

    /// Configuration file (TOML) giving any option a default [env: LOG_ARCHIVER_CONFIG]
    /// [default: $XDG_CONFIG_HOME/log-archiver/config.toml when it exists].
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Explain and archive a whole log file in input order (the main job).
    Archive(archive::ArchiveArgs),
    /// Re-process the entries of a failures file and replace it with what still fails.
    Retry(retry::RetryArgs),
    /// Run the MCP server "Log-Archiver" (Streamable HTTP, or stdio for MCP hosts).
    Serve(serve::ServeArgs),
    /// Send log lines to a server's process_log_entry tool, answering its sampling requests
    /// with Claude.
    Explain(explain::ExplainArgs),
    /// Call any tool of an MCP server, answering its sampling requests with the chosen LLM,
    /// and print the result.
    Call(call::CallArgs),
    /// Read a report of any format back: summarise, count, filter, or convert it between
    /// text, jsonl and csv.
    Report(report::ReportArgs),
    /// Measure throughput over a matrix of concurrency, LLM latency and rate limits, against
    /// the built-in mock LLM; writes a table, a CSV file and an SVG chart.
    Bench(bench::BenchArgs),
    /// Run a fake Anthropic Messages API on loopback for tests, demos and benchmarks.
    MockLlm(mock_llm::MockLlmArgs),
    /// Print the effective configuration of a command: each option's value and whether it
    /// comes from the environment, the configuration file or the built-in default.
    Config {
        /// The command whose options to show.
        #[arg(default_value = "archive")]
        command_name: String,
    },
}

/// Runs the program and returns its exit code.
pub fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let mut command = Cli::command();
    let mut config_file = None;
    if let Some(path) = config::locate(&argv) {
        match config::apply(command, &path) {
            Ok((configured, file)) => {
                command = configured;
                config_file = Some(file);
            }
            Err(error) => {
                eprintln!("error: {error:#}");
                return ExitCode::FAILURE;
            }
        }
    }
    let parsed = command
        .clone()
        .try_get_matches_from(&argv)
        .and_then(|matches| Cli::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(cli) => cli,
        // Usage errors exit 1 ("could not run"): 2 means some entries failed.
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if let Command::Config { command_name } = &cli.command {
        return match config::print_effective(&command, command_name, config_file.as_ref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error:#}");
                ExitCode::FAILURE
            }
        };
    }
    init_logging(&cli.log);
    signal::report_file_size_limits_as_errors();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Archive(args) => archive::run(args).await,
            Command::Retry(args) => retry::run(args).await,
            Command::Serve(args) => serve::run(args).await,
            Command::Explain(args) => explain::run(args).await,
            Command::Call(args) => call::run(args).await,
            Command::MockLlm(args) => mock_llm::run(args).await,
            Command::Bench(args) => bench::run(args).await,
            Command::Report(args) => report::run(args),
            Command::Config { .. } => unreachable!("handled before the runtime starts"),
        }
    });
    // Sessions and hanging requests are abandoned, not awaited, once the command is done.
    runtime.shutdown_background();
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rmcp=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
