//! Counters the mock LLM keeps and serves at `GET /stats`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// What the mock has seen so far.
#[derive(Default)]
pub struct MockStats {
    requests: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    input_tokens: AtomicU64,
    output_tokens: AtomicU64,
    by_status: Mutex<BTreeMap<u16, u64>>,
}

/// A point-in-time copy of the counters, as served at `GET /stats`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MockStatsSnapshot {
    pub requests: u64,
    pub in_flight: u64,
    pub max_in_flight: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub by_status: BTreeMap<u16, u64>,
}

/// Marks one request in flight until dropped.
pub struct InFlight<'a>(&'a MockStats);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl MockStats {
    /// Counts a new request and returns its 1-based number and an in-flight guard.
    pub fn begin(&self) -> (u64, InFlight<'_>) {
        let number = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        (number, InFlight(self))
    }

    pub fn record_status(&self, status: u16) {
        *self
            .by_status
            .lock()
            .expect("stats lock poisoned")
            .entry(status)
            .or_default() += 1;
    }

    pub fn record_tokens(&self, input: u64, output: u64) {
        self.input_tokens.fetch_add(input, Ordering::Relaxed);
        self.output_tokens.fetch_add(output, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> MockStatsSnapshot {
        MockStatsSnapshot {
            requests: self.requests.load(Ordering::SeqCst),
            in_flight: self.in_flight.load(Ordering::SeqCst),
            max_in_flight: self.max_in_flight.load(Ordering::SeqCst),
            input_tokens: self.input_tokens.load(Ordering::Relaxed),
            output_tokens: self.output_tokens.load(Ordering::Relaxed),
            by_status: self.by_status.lock().expect("stats lock poisoned").clone(),
        }
    }
}
