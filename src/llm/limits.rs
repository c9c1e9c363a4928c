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
/// Adaptive limiting never goes below one request a second without evidence that the provider
/// wants less.
const ADAPTIVE_FLOOR: u32 = 60;
/// How much adaptive limiting grows after a window without congestion, once it has met
/// congestion (before that it doubles).
const ADAPTIVE_STEP: u32 = 60;
/// How much adaptive limiting shrinks after a congested window.
const ADAPTIVE_DECREASE: f64 = 0.5;
/// A window is congested when more than this share of its answers are 429s: random 429s of a
/// busy provider do not slow the job, a pace the provider cannot take does.
const CONGESTED_SHARE: f64 = 0.5;
/// 429s in a row, with no answer between them, that show the provider wants less than the
/// floor.
const BELOW_FLOOR_EVIDENCE: u32 = 3;
/// The longest a request waits before looking at the adaptive limiter again.
const ADAPTIVE_RECHECK: Duration = Duration::from_millis(50);
/// A window lasts at least this long; one whose 429s are a majority also holds at least
/// `WINDOW_ANSWERS` answers (or lasts `WINDOW_LONGEST`), so that a verdict of congestion rests
/// on more than a few answers.
const WINDOW_SHORTEST: Duration = Duration::from_secs(1);
const WINDOW_ANSWERS: u32 = 20;
const WINDOW_LONGEST: Duration = Duration::from_secs(10);

/// Requests per minute found by additive increase, multiplicative decrease over windows of
/// answers: a window whose 429s are a majority halves the pace (measured, not configured),
/// never below the provider's announced limit or one request a second unless 429s keep
/// coming in a row; a window with fewer grows it, doubling until the first congestion and by
/// `ADAPTIVE_STEP` after. Each 429 is also waited out by its own request (`retry-after`).
struct AdaptiveRate {
    per_minute: u32,
    /// The provider's announced limit: the pace never goes above it, nor below it.
    announced: Option<u32>,
    limiter: Arc<Limiter>,
    window: Window,
    /// Doubling until the first congested window.
    slow_start: bool,
    /// 429s since the last answer.
    throttled_in_a_row: u32,
    throttles: u64,
    decreases: u64,
}

/// What a window of answers held.
struct Window {
    start: Instant,
    answers: u32,
    throttled: u32,
}

impl Window {
    fn new(now: Instant) -> Self {
        Self {
            start: now,
            answers: 0,
            throttled: 0,
        }
    }
}

impl AdaptiveRate {
    fn new() -> Self {
        Self {
            per_minute: ADAPTIVE_START_RPM,
            announced: None,
            limiter: Arc::new(request_limiter(nonzero(ADAPTIVE_START_RPM))),
            window: Window::new(Instant::now()),
            slow_start: true,
            throttled_in_a_row: 0,
            throttles: 0,
            decreases: 0,
        }
    }

    fn observe(&mut self, headers: Option<RateLimitHeaders>, throttled: bool) {
        self.observe_at(Instant::now(), headers, throttled);
    }

    fn observe_at(&mut self, now: Instant, headers: Option<RateLimitHeaders>, throttled: bool) {
        if let Some(headers) = headers {
            self.announced = Some(headers.limit.max(1));
        }
        self.window.answers += 1;
        if throttled {
            self.window.throttled += 1;
            self.throttled_in_a_row += 1;
            self.throttles += 1;
        } else {
            self.throttled_in_a_row = 0;
        }
        let elapsed = now.duration_since(self.window.start);
        // A window whose 429s are a minority is clear at once; congestion needs enough answers.
        let share = f64::from(self.window.throttled) / f64::from(self.window.answers);
        let congested = share > CONGESTED_SHARE;
        let window_over = elapsed >= WINDOW_LONGEST
            || (elapsed >= WINDOW_SHORTEST
                && (!congested || self.window.answers >= WINDOW_ANSWERS));
        let mut target = self.per_minute;
        if window_over {
            let measured = (f64::from(self.window.answers) * 60.0 / elapsed.as_secs_f64()) as u32;
            if congested {
                target = (f64::from(measured.min(self.per_minute)) * ADAPTIVE_DECREASE) as u32;
                self.slow_start = false;
                self.decreases += 1;
            } else if measured.saturating_mul(2) >= self.per_minute {
                // Grow only while the pace is used: an idle limit says nothing.
                target = if self.slow_start {
                    self.per_minute.saturating_mul(2)
                } else {
                    self.per_minute.saturating_add(ADAPTIVE_STEP)
                };
            }
            self.window = Window::new(now);
        }
        target = target.min(self.ceiling()).max(self.floor()).max(1);
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

    fn ceiling(&self) -> u32 {
        self.announced.unwrap_or(ADAPTIVE_MAX)
    }

    /// The lowest pace: the announced limit, else one request a second (or the pace now, when
    /// lower), unless 429s keep coming in a row.
    fn floor(&self) -> u32 {
        match self.announced {
            Some(announced) => announced,
            None if self.throttled_in_a_row >= BELOW_FLOOR_EVIDENCE => 1,
            None => ADAPTIVE_FLOOR.min(self.per_minute),
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
                let announced = adaptive
                    .announced
                    .map_or_else(|| "not announced".to_string(), |limit| limit.to_string());
                Some(format!(
                    "adaptive, settled at {} requests/min (provider limit {announced}, {} 429s, \
                     {} slowdowns)",
                    adaptive.per_minute, adaptive.throttles, adaptive.decreases
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

    /// An adaptive rate and the time of its last answer.
    struct Paced {
        rate: AdaptiveRate,
        now: Instant,
    }

    impl Paced {
        fn new() -> Self {
            let rate = AdaptiveRate::new();
            let now = rate.window.start;
            Self { rate, now }
        }
    }

    /// Feeds `count` answers spread over `seconds` after the last one, those `throttled`
    /// picks (by their number, from 0) being 429s.
    fn feed(paced: &mut Paced, count: u32, seconds: f64, throttled: impl Fn(u32) -> bool) {
        let step = Duration::from_secs_f64(seconds / f64::from(count));
        for i in 0..count {
            paced.now += step;
            paced.rate.observe_at(paced.now, None, throttled(i));
        }
    }

    fn none(_: u32) -> bool {
        false
    }

    /// Two 429s of every three answers: congestion, but never three in a row.
    fn two_of_three(i: u32) -> bool {
        i % 3 != 2
    }

    #[test]
    fn adaptive_rate_doubles_until_congested_then_grows_additively() {
        let mut rate = Paced::new();
        feed(&mut rate, 20, 1.0, none);
        assert_eq!(rate.rate.per_minute, 2 * ADAPTIVE_START_RPM);
        // A majority of 429s halves the pace, not below one request a second.
        feed(&mut rate, 24, 1.2, two_of_three);
        assert_eq!(rate.rate.per_minute, ADAPTIVE_FLOOR);
        assert!(!rate.rate.slow_start);
        feed(&mut rate, 20, 1.0, none);
        assert_eq!(rate.rate.per_minute, ADAPTIVE_FLOOR + ADAPTIVE_STEP);
    }

    #[test]
    fn random_429s_that_are_a_minority_do_not_slow_the_pace() {
        let mut rate = Paced::new();
        for _ in 0..10 {
            // 30% of the answers are 429s, at the pace allowed.
            let per_second = (rate.rate.per_minute / 60).max(20);
            feed(&mut rate, per_second, 1.0, |i| i % 10 < 3);
        }
        assert!(
            rate.rate.per_minute > 10 * ADAPTIVE_START_RPM,
            "{}",
            rate.rate.per_minute
        );
        assert_eq!(rate.rate.decreases, 0);
    }

    #[test]
    fn the_pace_stays_at_or_above_the_floor_without_evidence() {
        let mut rate = Paced::new();
        feed(&mut rate, 20, 1.0, none);
        for _ in 0..20 {
            feed(&mut rate, 24, 1.2, two_of_three);
        }
        assert_eq!(rate.rate.per_minute, ADAPTIVE_FLOOR);
        // Nothing but 429s: the provider wants less.
        feed(&mut rate, 20, 1.0, |_| true);
        assert!(
            rate.rate.per_minute < ADAPTIVE_FLOOR,
            "{}",
            rate.rate.per_minute
        );
    }

    #[test]
    fn the_announced_limit_is_both_ceiling_and_floor() {
        let mut rate = Paced::new();
        let announced = Some(RateLimitHeaders {
            limit: 400,
            remaining: 300,
        });
        rate.rate.observe(announced, false);
        assert_eq!(rate.rate.per_minute, 400);
        feed(&mut rate, 20, 1.0, |_| true);
        assert_eq!(rate.rate.per_minute, 400, "never below the announced limit");
        for _ in 0..5 {
            feed(&mut rate, 20, 1.0, none);
        }
        assert_eq!(rate.rate.per_minute, 400, "never above it");
        assert_eq!(rate.rate.throttles, 20);
    }
}
