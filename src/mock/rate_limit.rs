//! The mock LLM's own requests-per-minute limit, with Anthropic-style rate-limit headers.

use std::num::NonZeroU32;
use std::time::{Duration, SystemTime};

use governor::clock::{Clock, MonotonicClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

type Limiter = RateLimiter<NotKeyed, InMemoryState, MonotonicClock, StateInformationMiddleware>;

/// A token bucket holding a minute's worth of requests, refilled continuously.
pub struct RequestLimit {
    limiter: Limiter,
    clock: MonotonicClock,
    per_minute: NonZeroU32,
}

/// The outcome of asking the limit for one request.
pub struct LimitDecision {
    pub allowed: bool,
    pub remaining: u32,
    /// When the bucket will be full again, or when the next request is allowed.
    pub reset_in: Duration,
}

impl RequestLimit {
    pub fn new(per_minute: NonZeroU32) -> Self {
        let clock = MonotonicClock;
        let limiter = RateLimiter::direct_with_clock(Quota::per_minute(per_minute), clock.clone())
            .with_middleware::<StateInformationMiddleware>();
        Self {
            limiter,
            clock,
            per_minute,
        }
    }

    pub fn limit(&self) -> u32 {
        self.per_minute.get()
    }

    pub fn check(&self) -> LimitDecision {
        let interval = Duration::from_secs(60) / self.per_minute.get();
        match self.limiter.check() {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                LimitDecision {
                    allowed: true,
                    remaining,
                    reset_in: interval * (self.per_minute.get() - remaining),
                }
            }
            Err(not_until) => LimitDecision {
                allowed: false,
                remaining: 0,
                reset_in: not_until.wait_time_from(self.clock.now()),
            },
        }
    }
}

/// Formats an instant `after` from now as RFC 3339, as Anthropic's reset headers do.
pub fn rfc3339_after(after: Duration) -> String {
    humantime::format_rfc3339_seconds(SystemTime::now() + after).to_string()
}
