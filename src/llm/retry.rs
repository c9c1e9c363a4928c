//! The retry policy: which failures are tried again, and how long to wait first. Exponential
//! backoff with jitter, unless the provider said how long to wait.

use std::time::Duration;

use super::LlmError;

/// The longest `retry-after` honoured; anything longer is capped.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// When and how often to try a failed LLM request again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Backoff before the first retry; it doubles for each retry after.
    pub base_delay: Duration,
    /// The longest backoff.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Rides out a provider outage of a minute or more (about 69 to 92 s of backoff in all)
    /// before an entry is listed as failed.
    fn default() -> Self {
        Self {
            max_retries: 8,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// How long to wait before retry number `retry` (0 for the first retry) after `error`, or
    /// `None` when the failure is not worth retrying or the retries are spent. `jitter` is a
    /// uniform random draw in [0, 1): backoffs are scaled by 0.75 to 1.0 so that many clients
    /// failing together do not retry together.
    pub fn delay_before_retry(
        &self,
        retry: u32,
        error: &LlmError,
        jitter: f64,
    ) -> Option<Duration> {
        if retry >= self.max_retries || !error.is_retryable() {
            return None;
        }
        if let Some(after) = error.retry_after {
            return Some(after.min(MAX_RETRY_AFTER));
        }
        let exponential = self.base_delay.saturating_mul(1u32 << retry.min(16));
        Some(
            exponential
                .min(self.max_delay)
                .mul_f64(0.75 + 0.25 * jitter.clamp(0.0, 1.0)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_waits_out_a_minute_long_outage() {
        let policy = RetryPolicy::default();
        let down = LlmError::new(LlmErrorKind::Unreachable, "connection refused");
        let shortest: Duration = (0..policy.max_retries)
            .map(|retry| policy.delay_before_retry(retry, &down, 0.0).unwrap())
            .sum();
        assert!(shortest > Duration::from_secs(60), "{shortest:?}");
        assert_eq!(
            policy.delay_before_retry(policy.max_retries, &down, 0.0),
            None
        );
    }
    use crate::llm::LlmErrorKind;

    #[test]
    fn backs_off_exponentially_up_to_the_cap() {
        let policy = RetryPolicy::default();
        let error = LlmError::new(LlmErrorKind::Overloaded, "busy");
        let delays: Vec<_> = (0..8)
            .map(|retry| policy.delay_before_retry(retry, &error, 1.0).unwrap())
            .collect();
        assert_eq!(
            delays,
            [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]
                .map(Duration::from_millis)
                .to_vec()
        );
        assert_eq!(policy.delay_before_retry(8, &error, 1.0), None);
        let jittered = policy.delay_before_retry(0, &error, 0.0).unwrap();
        assert_eq!(jittered, Duration::from_millis(375));
    }

    #[test]
    fn honours_retry_after_and_refuses_what_cannot_succeed() {
        let policy = RetryPolicy::default();
        let mut limited = LlmError::new(LlmErrorKind::RateLimited, "slow down");
        limited.retry_after = Some(Duration::from_secs(3));
        assert_eq!(
            policy.delay_before_retry(0, &limited, 0.5),
            Some(Duration::from_secs(3))
        );
        limited.retry_after = Some(Duration::from_secs(600));
        assert_eq!(
            policy.delay_before_retry(0, &limited, 0.5),
            Some(MAX_RETRY_AFTER)
        );
        limited.should_retry = Some(false);
        assert_eq!(policy.delay_before_retry(0, &limited, 0.5), None);
        let auth = LlmError::new(LlmErrorKind::Authentication, "bad key");
        assert_eq!(policy.delay_before_retry(0, &auth, 0.5), None);
        let mut forced = LlmError::new(LlmErrorKind::InvalidRequest, "odd");
        forced.should_retry = Some(true);
        assert!(policy.delay_before_retry(0, &forced, 0.5).is_some());
    }
}
