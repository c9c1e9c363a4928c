//! `log-archiver mock-llm`: run the fake Anthropic Messages API on loopback.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use tokio::net::TcpListener;

use super::args::parse_duration;
use super::numbers::whole;
use super::signal::shutdown_requested;
use crate::mock::{Fault, Generation, MockLlm, MockSettings};

#[derive(Debug, Args)]
pub struct MockLlmArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,

    /// Port to listen on (0 picks a free one; the URL is printed on stdout).
    #[arg(long, default_value_t = 8089, value_parser = whole::<u16>(0, u64::from(u16::MAX)), allow_negative_numbers = true)]
    pub port: u16,

    /// Fixed delay before each answer (seconds, or e.g. 200ms).
    #[arg(long, default_value = "0", value_parser = parse_duration, allow_negative_numbers = true)]
    pub latency: Duration,

    /// Random extra delay, uniform between zero and this, added to --latency.
    #[arg(long, default_value = "0", value_parser = parse_duration, allow_negative_numbers = true)]
    pub latency_spread: Duration,

    /// Inject a fault: KIND:rate=P or KIND:every=N, KIND one of 429, 529, 500, hang,
    /// malformed. Repeat for several; the first that fires answers.
    #[arg(long = "fault", value_name = "SPEC")]
    pub faults: Vec<Fault>,

    /// `retry-after` sent with injected 429s (seconds).
    #[arg(long, default_value = "1", value_parser = parse_duration, allow_negative_numbers = true)]
    pub retry_after: Duration,

    /// How long a `hang` fault holds a request.
    #[arg(long, default_value = "600", value_parser = parse_duration, allow_negative_numbers = true)]
    pub hang: Duration,

    /// Enforce this many requests per minute, answering 429 beyond it.
    #[arg(long, value_parser = whole::<u32>(1, u64::from(u32::MAX)), allow_negative_numbers = true)]
    pub rpm: Option<u32>,

    /// Accept only this API key (any non-empty key when unset).
    #[arg(long)]
    pub api_key: Option<String>,

    /// Seed for the random latency spread and fault rates.
    #[arg(long, default_value_t = 0, value_parser = whole::<u64>(0, u64::MAX), allow_negative_numbers = true)]
    pub seed: u64,

    /// The Claude generation to behave like: 4 (answers with text at once) or 5.5 (thinks
    /// first, at effort high unless asked otherwise, within max_tokens; refuses temperature,
    /// top_p, top_k and disabling thinking with 400).
    #[arg(long, value_enum, default_value_t = Generation::Classic)]
    pub generation: Generation,
}

pub async fn run(args: MockLlmArgs) -> anyhow::Result<ExitCode> {
    let listener = TcpListener::bind((args.host.as_str(), args.port))
        .await
        .map_err(|error| {
            anyhow::anyhow!("cannot listen on {}:{}: {error}", args.host, args.port)
        })?;
    let settings = MockSettings {
        latency: args.latency,
        latency_spread: args.latency_spread,
        faults: args.faults,
        retry_after: args.retry_after,
        hang: args.hang,
        requests_per_minute: args.rpm,
        api_key: args.api_key,
        seed: args.seed,
        generation: args.generation,
    };
    let mock = MockLlm::start(listener, settings)?;
    println!("mock LLM listening on {}", mock.base_url());
    shutdown_requested().await;
    mock.stop().await;
    Ok(ExitCode::SUCCESS)
}
