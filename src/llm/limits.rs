//! The provider's rate limits, enforced on the client: requests per minute, input tokens per
//! minute and output tokens per minute (output reserved up front from `max_tokens`). Limiters
//! run on governor's monotonic clock.

use std::num::NonZeroU32;

use governor::clock::MonotonicClock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

type Limiter = RateLimiter<
    NotKeyed,
    InMemoryState,
    MonotonicClock,
    NoOpMiddleware<<MonotonicClock as governor::clock::Clock>::Instant>,
>;

/// The limits to respect; `None` means unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimits {
    pub requests_per_minute: Option<NonZeroU32>,
    pub input_tokens_per_minute: Option<NonZeroU32>,
    pub output_tokens_per_minute: Option<NonZeroU32>,
}

/// Shared limiters that every LLM request passes before it is sent.
pub struct Limiters {
    requests: Option<Limiter>,
    input_tokens: Option<(Limiter, NonZeroU32)>,
    output_tokens: Option<(Limiter, NonZeroU32)>,
}

impl Limiters {
    pub fn new(limits: RateLimits) -> Self {
        Self {
            requests: limits.requests_per_minute.map(|rpm| {
                // A burst of five seconds' worth: close to the provider's smooth refill, so a
                // provider enforcing the same limit never sees more than it allows.
                let burst = NonZeroU32::new(rpm.get().div_ceil(12)).unwrap_or(NonZeroU32::MIN);
                limiter(Quota::per_minute(rpm).allow_burst(burst))
            }),
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
        if let Some(requests) = &self.requests {
            requests.until_ready().await;
        }
        for (bucket, tokens) in [
            (&self.input_tokens, input_tokens),
            (&self.output_tokens, output_tokens),
        ] {
            if let Some((limiter, burst)) = bucket {
                let cells =
                    NonZeroU32::new(u32::try_from(tokens).unwrap_or(u32::MAX).min(burst.get()))
                        .unwrap_or(NonZeroU32::MIN);
                // Cannot fail: the reservation is clamped to the burst size.
                let _ = limiter.until_n_ready(cells).await;
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
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn unlimited_never_waits() {
        let limiters = Limiters::new(RateLimits::default());
        let start = Instant::now();
        for _ in 0..1000 {
            limiters.acquire(1_000_000, 1_000_000).await;
        }
        assert!(start.elapsed() < Duration::from_secs(5));
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
            requests_per_minute: NonZeroU32::new(120),
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
}
