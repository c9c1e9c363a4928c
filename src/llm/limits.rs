//! The provider's rate limits, enforced on the client: requests per minute (fixed, or adaptive
//! when the user did not say), input tokens per minute and output tokens per minute (output
//! reserved up front from `max_tokens`). Limiters run on governor's monotonic clock.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::clock::{Clock, MonotonicClock};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

use super::RateLimitHeaders;

type Limiter = RateLimiter<
    NotKeyed,
    InMemoryState,
    MonotonicClock,
    NoOpMiddleware<<MonotonicClock as Clock>::Instant>,
>;

/// How requests per minute are limited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RequestRate {
    /// No limit.
    #[default]
    Unlimited,
    /// A limit the user knows.
    Fixed(NonZeroU32),
    /// Find the limit: start at the lowest tier's, grow while the provider leaves headroom,
    /// halve on a 429, never above the limit the provider's headers announce.
    Adaptive,
}

/// The limits to respect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimits {
    pub requests: RequestRate,
    pub input_tokens_per_minute: Option<NonZeroU32>,
    pub output_tokens_per_minute: Option<NonZeroU32>,
}

/// Shared limiters that every LLM request passes before it is sent.
pub struct Limiters {
    requests: RequestLimiter,
    input_tokens: Option<(Limiter, NonZeroU32)>,
    output_tokens: Option<(Limiter, NonZeroU32)>,
}

enum RequestLimiter {
    Unlimited,
    Fixed(Limiter, NonZeroU32),
    Adaptive(Mutex<AdaptiveRate>),
}

/// Where adaptive limiting starts: the lowest Anthropic tier.
pub const ADAPTIVE_START_RPM: u32 = 50;
/// Adaptive limiting never goes above this without the provider saying so.
const ADAPTIVE_MAX: u32 = 1_000_000;
/// The longest a request waits before looking at the adaptive limiter again.
const ADAPTIVE_RECHECK: Duration = Duration::from_millis(50);
/// How often adaptive limiting may grow.
const ADAPTIVE_WINDOW: Duration = Duration::from_secs(1);

struct AdaptiveRate {
    per_minute: u32,
    /// The provider's announced limit.
    ceiling: Option<u32>,
    limiter: Arc<Limiter>,
    window_start: Instant,
    throttled_in_window: bool,
    throttles: u64,
}

impl AdaptiveRate {
    fn new() -> Self {
        Self {
            per_minute: ADAPTIVE_START_RPM,
            ceiling: None,
            limiter: Arc::new(request_limiter(nonzero(ADAPTIVE_START_RPM))),
            window_start: Instant::now(),
            throttled_in_window: false,
            throttles: 0,
        }
    }

    fn observe(&mut self, headers: Option<RateLimitHeaders>, throttled: bool) {
        let now = Instant::now();
        if let Some(headers) = headers {
            self.ceiling = Some(headers.limit.max(1));
        }
        let mut target = self.per_minute;
        if throttled {
            target = (target / 2).max(1);
            self.throttled_in_window = true;
            self.throttles += 1;
            self.window_start = now;
        } else if now.duration_since(self.window_start) >= ADAPTIVE_WINDOW {
            let headroom =
                headers.is_none_or(|h| u64::from(h.remaining) * 10 >= u64::from(h.limit));
            if !self.throttled_in_window && headroom {
                target = target.saturating_mul(2).min(ADAPTIVE_MAX);
            }
            self.throttled_in_window = false;
            self.window_start = now;
        }
        if let Some(ceiling) = self.ceiling {
            target = target.min(ceiling);
        }
        if target != self.per_minute {
            tracing::debug!(
                from = self.per_minute,
                to = target,
                "adaptive rate limit changed"
            );
            self.per_minute = target;
            self.limiter = Arc::new(request_limiter(nonzero(target)));
        }
    }
}

fn nonzero(value: u32) -> NonZeroU32 {
    NonZeroU32::new(value).unwrap_or(NonZeroU32::MIN)
}

/// A request limiter allowing a burst of five seconds' worth: close to the provider's smooth
/// refill, so a provider enforcing the same limit never sees more than it allows.
fn request_limiter(per_minute: NonZeroU32) -> Limiter {
    let burst = nonzero(per_minute.get().div_ceil(12));
    limiter(Quota::per_minute(per_minute).allow_burst(burst))
}

impl Limiters {
    pub fn new(limits: RateLimits) -> Self {
        let requests = match limits.requests {
            RequestRate::Unlimited => RequestLimiter::Unlimited,
            RequestRate::Fixed(rpm) => RequestLimiter::Fixed(request_limiter(rpm), rpm),
            RequestRate::Adaptive => RequestLimiter::Adaptive(Mutex::new(AdaptiveRate::new())),
        };
        Self {
            requests,
            input_tokens: limits
                .input_tokens_per_minute
                .map(|tpm| (limiter(Quota::per_minute(tpm)), tpm)),
            output_tokens: limits
                .output_tokens_per_minute
                .map(|tpm| (limiter(Quota::per_minute(tpm)), tpm)),
        }
    }

    /// Waits until one request with these token counts may be sent. A reservation larger than
    /// a whole minute's allowance waits for the whole allowance instead of failing.
    pub async fn acquire(&self, input_tokens: u64, output_tokens: u64) {
        match &self.requests {
            RequestLimiter::Unlimited => {}
            RequestLimiter::Fixed(limiter, _) => limiter.until_ready().await,
            RequestLimiter::Adaptive(adaptive) => loop {
                // The limiter is replaced whenever the rate changes: look again after a short
                // wait rather than queue on a limiter that may already be outdated.
                let limiter = adaptive
                    .lock()
                    .expect("limiter lock poisoned")
                    .limiter
                    .clone();
                match limiter.check() {
                    Ok(()) => break,
                    Err(not_until) => {
                        let wait = not_until.wait_time_from(MonotonicClock.now());
                        tokio::time::sleep(wait.min(ADAPTIVE_RECHECK)).await;
                    }
                }
            },
        }
        let buckets = [
            (&self.input_tokens, input_tokens),
            (&self.output_tokens, output_tokens),
        ];
        for (bucket, tokens) in buckets {
            if let Some((limiter, burst)) = bucket {
                let cells = u32::try_from(tokens).unwrap_or(u32::MAX).min(burst.get());
                // Cannot fail: the reservation is clamped to the burst size.
                let _ = limiter.until_n_ready(nonzero(cells)).await;
            }
        }
    }

    /// Learns from an answer: the provider's rate-limit headers, and whether it said 429.
    pub fn observe(&self, headers: Option<RateLimitHeaders>, throttled: bool) {
        if let RequestLimiter::Adaptive(adaptive) = &self.requests {
            adaptive
                .lock()
                .expect("limiter lock poisoned")
                .observe(headers, throttled);
        }
    }

    /// How requests are paced, for the summary.
    pub fn describe(&self) -> Option<String> {
        match &self.requests {
            RequestLimiter::Unlimited => None,
            RequestLimiter::Fixed(_, rpm) => Some(format!("{rpm} requests/min (configured)")),
            RequestLimiter::Adaptive(adaptive) => {
                let adaptive = adaptive.lock().expect("limiter lock poisoned");
                let ceiling = adaptive
                    .ceiling
                    .map_or_else(|| "not announced".to_string(), |limit| limit.to_string());
                Some(format!(
                    "adaptive, settled at {} requests/min (provider limit {ceiling}, {} backoffs on 429)",
                    adaptive.per_minute, adaptive.throttles
                ))
            }
        }
    }
}

fn limiter(quota: Quota) -> Limiter {
    RateLimiter::direct_with_clock(quota, MonotonicClock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unlimited_never_waits() {
        let limiters = Limiters::new(RateLimits::default());
        let start = Instant::now();
        for _ in 0..1000 {
            limiters.acquire(1_000_000, 1_000_000).await;
        }
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(limiters.describe(), None);
    }

    #[tokio::test]
    async fn oversized_reservations_wait_instead_of_failing() {
        let limits = RateLimits {
            input_tokens_per_minute: NonZeroU32::new(600_000),
            output_tokens_per_minute: NonZeroU32::new(600_000),
            ..RateLimits::default()
        };
        let limiters = Limiters::new(limits);
        // Larger than the burst: clamped, so the first one passes at once.
        tokio::time::timeout(Duration::from_secs(5), limiters.acquire(10_000_000, 100))
            .await
            .expect("an oversized reservation does not hang or fail");
    }

    #[tokio::test]
    async fn the_request_burst_is_a_few_seconds_worth() {
        let limits = RateLimits {
            requests: RequestRate::Fixed(NonZeroU32::new(120).unwrap()),
            ..RateLimits::default()
        };
        let limiters = Limiters::new(limits);
        let start = Instant::now();
        // Ten pass at once (five seconds' worth of 2/s); the eleventh waits about half a second.
        for _ in 0..11 {
            limiters.acquire(1, 1).await;
        }
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(400), "{waited:?}");
    }

    #[test]
    fn adaptive_rate_halves_on_429_and_respects_the_announced_limit() {
        let mut rate = AdaptiveRate::new();
        rate.observe(None, true);
        assert_eq!(rate.per_minute, ADAPTIVE_START_RPM / 2);
        rate.observe(
            Some(RateLimitHeaders {
                limit: 10,
                remaining: 9,
            }),
            false,
        );
        assert_eq!(rate.per_minute, 10, "never above the announced limit");
        assert_eq!(rate.throttles, 1);
    }

    #[test]
    fn adaptive_rate_grows_while_headroom_remains() {
        let mut rate = AdaptiveRate::new();
        let headers = Some(RateLimitHeaders {
            limit: 1000,
            remaining: 900,
        });
        rate.window_start -= ADAPTIVE_WINDOW;
        rate.observe(headers, false);
        assert_eq!(rate.per_minute, 2 * ADAPTIVE_START_RPM);
        // A window with a 429 does not grow.
        rate.observe(None, true);
        rate.window_start -= ADAPTIVE_WINDOW;
        rate.observe(headers, false);
        assert_eq!(rate.per_minute, ADAPTIVE_START_RPM);
        // Little headroom left: hold.
        rate.window_start -= ADAPTIVE_WINDOW;
        rate.observe(
            Some(RateLimitHeaders {
                limit: 1000,
                remaining: 5,
            }),
            false,
        );
        assert_eq!(rate.per_minute, ADAPTIVE_START_RPM);
    }
}
