//! A fake Anthropic Messages API on loopback, for tests, demos and benchmarks: deterministic
//! replies, configurable latency, injected faults, an optional rate limit, the behaviour of a
//! Claude generation (`generation`), and counters.

mod faults;
mod generation;
mod handler;
mod rate_limit;
mod reply;
mod stats;

pub use faults::{Fault, FaultKind, FaultSchedule};
pub use generation::Generation;
pub use reply::mock_reply;
pub use stats::{MockStats, MockStatsSnapshot};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How the mock behaves.
#[derive(Debug, Clone)]
pub struct MockSettings {
    /// Fixed delay before every answer.
    pub latency: Duration,
    /// A random extra delay, uniform between zero and this, added to `latency`.
    pub latency_spread: Duration,
    /// Faults to inject, checked in order; the first that fires answers the request.
    pub faults: Vec<Fault>,
    /// The `retry-after` (seconds) sent with injected and rate-limit 429s.
    pub retry_after: Duration,
    /// How long a `hang` fault holds the request before answering.
    pub hang: Duration,
    /// Requests per minute the mock accepts before answering 429.
    pub requests_per_minute: Option<u32>,
    /// The only API key accepted; any non-empty key is accepted when unset.
    pub api_key: Option<String>,
    /// Seed of the random choices (latency spread, fault rates).
    pub seed: u64,
    /// The Claude generation the Messages API behaves like.
    pub generation: Generation,
}

impl Default for MockSettings {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            latency_spread: Duration::ZERO,
            faults: Vec::new(),
            retry_after: Duration::from_secs(1),
            hang: Duration::from_secs(600),
            requests_per_minute: None,
            api_key: None,
            seed: 0,
            generation: Generation::default(),
        }
    }
}

/// A mock LLM server running in this process.
pub struct MockLlm {
    address: SocketAddr,
    stats: Arc<MockStats>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl MockLlm {
    /// Starts the mock on `listener`.
    pub fn start(listener: TcpListener, settings: MockSettings) -> std::io::Result<Self> {
        let address = listener.local_addr()?;
        let state = Arc::new(handler::MockState::new(settings));
        let stats = state.stats.clone();
        let shutdown = CancellationToken::new();
        let router = handler::router(state);
        let stop = shutdown.clone();
        let task = tokio::spawn(async move {
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let server = axum::serve(listener, router)
                .with_graceful_shutdown(async move { stop.cancelled().await });
            if let Err(error) = server.await {
                tracing::error!(%error, "mock LLM server failed");
            }
        });
        Ok(Self {
            address,
            stats,
            shutdown,
            task,
        })
    }

    /// Starts the mock on an ephemeral loopback port.
    pub async fn start_on_loopback(settings: MockSettings) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        Self::start(listener, settings)
    }

    /// The base URL to give a client (`ANTHROPIC_BASE_URL`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn stats(&self) -> &MockStats {
        &self.stats
    }

    /// Stops accepting requests; requests that hang are abandoned.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.abort();
        let _ = self.task.await;
    }
}
