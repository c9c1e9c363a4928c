//! The settings of one benchmark run, the matrix they are expanded from, and the theoretical
//! throughput bound each implies.

use std::fmt;
use std::time::Duration;

/// How long the mock LLM takes to answer: a fixed part plus a uniform random spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencyProfile {
    pub base: Duration,
    pub spread: Duration,
}

impl LatencyProfile {
    /// The mean answer time.
    pub fn mean(&self) -> Duration {
        self.base + self.spread / 2
    }
}

impl fmt::Display for LatencyProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = |duration: Duration| duration.as_millis();
        if self.spread.is_zero() {
            write!(f, "{} ms", millis(self.base))
        } else {
            write!(
                f,
                "{}-{} ms",
                millis(self.base),
                millis(self.base + self.spread)
            )
        }
    }
}

/// Whether the client's limiter knows the provider's request limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClientLimit {
    /// `--rpm` set to the provider's limit.
    Match,
    /// No `--rpm`: the client finds the limit itself (`auto`).
    Unset,
}

/// One run of the matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    pub concurrency: usize,
    pub connections: usize,
    pub latency: LatencyProfile,
    /// Requests per minute the mock enforces, if any.
    pub provider_rpm: Option<u32>,
    /// How the client is configured when the provider has a limit.
    pub client_limit: Option<ClientLimit>,
    /// Lines to send.
    pub lines: u64,
}

impl Scenario {
    /// The most lines per second this scenario allows: the provider's limit, or as many calls
    /// as are in flight per mean answer time, whichever is lower; `None` when neither bounds it
    /// (no limit and no latency).
    pub fn bound_lines_per_second(&self) -> Option<f64> {
        let by_rate = self.provider_rpm.map(|rpm| f64::from(rpm) / 60.0);
        let mean = self.latency.mean().as_secs_f64();
        let by_latency = (mean > 0.0).then(|| self.concurrency as f64 / mean);
        match (by_rate, by_latency) {
            (Some(rate), Some(latency)) => Some(rate.min(latency)),
            (rate, latency) => rate.or(latency),
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "concurrency {}, {} connections, latency {}",
            self.concurrency, self.connections, self.latency
        )?;
        match (self.provider_rpm, self.client_limit) {
            (Some(rpm), Some(ClientLimit::Match)) => {
                write!(f, ", provider {rpm} rpm (client told)")
            }
            (Some(rpm), _) => write!(f, ", provider {rpm} rpm (client not told)"),
            (None, _) => write!(f, ", no rate limit"),
        }
    }
}

/// The axes of a benchmark matrix.
#[derive(Debug, Clone)]
pub struct Matrix {
    pub concurrency: Vec<usize>,
    pub connections: usize,
    pub latencies: Vec<LatencyProfile>,
    /// `None` is a run without a provider limit.
    pub provider_rpm: Vec<Option<u32>>,
    pub client_limits: Vec<ClientLimit>,
    /// Most lines per run.
    pub max_lines: u64,
    /// Runs with a known bound send about this many seconds' worth of lines.
    pub target_seconds: f64,
}

/// Fewest lines a run sends, so that short runs still mean something.
const MIN_LINES: u64 = 200;

/// Every combination of the matrix's axes, in a stable order; the client-limit axis applies
/// only to runs with a provider limit.
pub fn expand_matrix(matrix: &Matrix) -> Vec<Scenario> {
    let mut scenarios = Vec::new();
    for &provider_rpm in &matrix.provider_rpm {
        let client_limits: Vec<Option<ClientLimit>> = match provider_rpm {
            Some(_) => matrix.client_limits.iter().copied().map(Some).collect(),
            None => vec![None],
        };
        for client_limit in client_limits {
            for &latency in &matrix.latencies {
                for &concurrency in &matrix.concurrency {
                    let mut scenario = Scenario {
                        concurrency,
                        connections: matrix.connections.min(concurrency).max(1),
                        latency,
                        provider_rpm,
                        client_limit,
                        lines: matrix.max_lines,
                    };
                    if let Some(bound) = scenario.bound_lines_per_second() {
                        let worth = (bound * matrix.target_seconds).ceil() as u64;
                        scenario.lines =
                            worth.clamp(MIN_LINES.min(matrix.max_lines), matrix.max_lines);
                    }
                    scenarios.push(scenario);
                }
            }
        }
    }
    scenarios
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latency(base_ms: u64, spread_ms: u64) -> LatencyProfile {
        LatencyProfile {
            base: Duration::from_millis(base_ms),
            spread: Duration::from_millis(spread_ms),
        }
    }

    #[test]
    fn the_bound_is_the_lower_of_rate_and_latency() {
        let mut scenario = Scenario {
            concurrency: 16,
            connections: 4,
            latency: latency(150, 100),
            provider_rpm: None,
            client_limit: None,
            lines: 1,
        };
        assert_eq!(scenario.bound_lines_per_second(), Some(80.0));
        scenario.provider_rpm = Some(600);
        assert_eq!(scenario.bound_lines_per_second(), Some(10.0));
        scenario.latency = latency(0, 0);
        assert_eq!(scenario.bound_lines_per_second(), Some(10.0));
        scenario.provider_rpm = None;
        assert_eq!(scenario.bound_lines_per_second(), None);
    }

    #[test]
    fn the_matrix_expands_and_sizes_each_run() {
        let matrix = Matrix {
            concurrency: vec![16, 256],
            connections: 4,
            latencies: vec![latency(0, 0), latency(150, 100)],
            provider_rpm: vec![None, Some(600)],
            client_limits: vec![ClientLimit::Match, ClientLimit::Unset],
            max_lines: 20_000,
            target_seconds: 20.0,
        };
        let scenarios = expand_matrix(&matrix);
        // 2 latencies x 2 concurrencies without a limit, and again for each client setting.
        assert_eq!(scenarios.len(), 4 + 8);
        assert_eq!(scenarios[0].lines, 20_000, "unbounded runs send the most");
        assert_eq!(scenarios[1].lines, 20_000);
        assert_eq!(scenarios[2].lines, 1_600, "16 / 0.2 s for 20 s");
        assert_eq!(scenarios[3].lines, 20_000, "1,280/s for 20 s, capped");
        assert!(
            scenarios[4..].iter().all(|s| s.lines == 200),
            "10/s for 20 s"
        );
        assert_eq!(scenarios[4].client_limit, Some(ClientLimit::Match));
        assert_eq!(scenarios[11].client_limit, Some(ClientLimit::Unset));
    }
}
