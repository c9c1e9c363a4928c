//! A backend wrapped for bulk jobs: every request passes the shared rate limiters first, failed
//! requests are retried by the retry policy, and everything is counted, including why requests
//! are waiting. A rejected key, or an LLM that cannot be reached before it has answered once,
//! is remembered so the job can stop instead of burning through the input.
//!
//! A request may carry the last moment a new attempt may be sent (`send_by`): waiting on the
//! limiters or backing off never goes past it, but an attempt under way always runs to its end,
//! so an answer that arrives is never thrown away.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use rand::Rng;

use super::limits::Limiters;
use super::retry::RetryPolicy;
use super::{
    Completion, CompletionFuture, CompletionRequest, LlmBackend, LlmError, LlmErrorKind,
    estimate_tokens,
};

/// Counters of all LLM traffic of a job.
#[derive(Debug, Default)]
pub struct LlmStats {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub rate_limited: AtomicU64,
    pub input_tokens: AtomicU64,
    pub output_tokens: AtomicU64,
    /// Input and output tokens by the model that answered, for costs.
    by_model: Mutex<HashMap<String, (u64, u64)>>,
    fatal: OnceLock<LlmError>,
    /// Whether the LLM has answered at least once.
    answered: AtomicBool,
    /// Requests waiting now, by why.
    waiting: [AtomicUsize; 3],
}

/// Why a request is waiting instead of being sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WaitReason {
    /// On the rate limiters, or out a 429's `retry-after`.
    RateLimited = 0,
    /// Before retrying a failure (5xx, 529, timeout, malformed answer).
    BackingOff = 1,
    /// Before trying again to reach an LLM that could not be reached.
    Unreachable = 2,
}

impl WaitReason {
    fn after(error: &LlmError) -> Self {
        match error.kind {
            LlmErrorKind::RateLimited => Self::RateLimited,
            LlmErrorKind::Unreachable => Self::Unreachable,
            _ => Self::BackingOff,
        }
    }
}

/// Counts a request as waiting for a reason until dropped.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl LlmStats {
    /// The failure that makes every further request pointless, once seen: a rejected key, or
    /// an LLM that could not be reached before it ever answered.
    pub fn fatal(&self) -> Option<&LlmError> {
        self.fatal.get()
    }

    /// Why requests are waiting now, such as `LLM unreachable (4 requests), 2 rate limited`,
    /// or `None` when none is.
    pub fn waiting(&self) -> Option<String> {
        let count = |reason: WaitReason| self.waiting[reason as usize].load(Ordering::Relaxed);
        let mut reasons = Vec::new();
        match count(WaitReason::Unreachable) {
            0 => {}
            1 => reasons.push("LLM unreachable (1 request)".to_string()),
            n => reasons.push(format!("LLM unreachable ({n} requests)")),
        }
        let limited = count(WaitReason::RateLimited);
        if limited > 0 {
            reasons.push(format!("{limited} rate limited"));
        }
        let backing_off = count(WaitReason::BackingOff);
        if backing_off > 0 {
            reasons.push(format!("{backing_off} backing off"));
        }
        (!reasons.is_empty()).then(|| reasons.join(", "))
    }

    fn wait(&self, reason: WaitReason) -> Waiting<'_> {
        let counter = &self.waiting[reason as usize];
        counter.fetch_add(1, Ordering::Relaxed);
        Waiting(counter)
    }

    /// Input and output tokens by model so far.
    pub fn tokens_by_model(&self) -> HashMap<String, (u64, u64)> {
        self.by_model.lock().expect("stats lock poisoned").clone()
    }

    fn record_usage(&self, completion: &Completion) {
        let usage = completion.usage;
        self.input_tokens
            .fetch_add(usage.input_tokens, Ordering::Relaxed);
        self.output_tokens
            .fetch_add(usage.output_tokens, Ordering::Relaxed);
        let mut by_model = self.by_model.lock().expect("stats lock poisoned");
        let entry = by_model.entry(completion.model.clone()).or_default();
        entry.0 += usage.input_tokens;
        entry.1 += usage.output_tokens;
    }
}

/// Before the LLM has answered once, this many attempts in a row that cannot reach it make it
/// unreachable for the whole job (a wrong URL, a DNS name that does not resolve, no route).
const ATTEMPTS_TO_REACH_IT_FIRST: u32 = 3;

/// Limits, retries and counts the requests of an inner backend.
pub struct ManagedBackend {
    inner: Arc<dyn LlmBackend>,
    limiters: Limiters,
    retry: RetryPolicy,
    stats: Arc<LlmStats>,
}

impl ManagedBackend {
    /// How requests were paced, for the summary.
    pub fn describe_rate_limit(&self) -> Option<String> {
        self.limiters.describe()
    }

    pub fn new(
        inner: Arc<dyn LlmBackend>,
        limiters: Limiters,
        retry: RetryPolicy,
        stats: Arc<LlmStats>,
    ) -> Self {
        Self {
            inner,
            limiters,
            retry,
            stats,
        }
    }

    async fn complete_with_retries(
        &self,
        request: CompletionRequest,
    ) -> Result<Completion, LlmError> {
        let input_estimate = estimate_request_tokens(&request);
        let send_by = request.send_by.map(tokio::time::Instant::from_std);
        let mut retry = 0;
        loop {
            if let Some(fatal) = self.stats.fatal() {
                return Err(fatal.clone());
            }
            let acquired = {
                let _waiting = self.stats.wait(WaitReason::RateLimited);
                let acquire = self
                    .limiters
                    .acquire(input_estimate, u64::from(request.max_tokens));
                match send_by {
                    Some(deadline) => tokio::time::timeout_at(deadline, acquire).await.is_ok(),
                    None => {
                        acquire.await;
                        true
                    }
                }
            };
            if !acquired {
                return Err(self.not_sent());
            }
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            let mut error = match self.inner.complete(request.clone()).await {
                Ok(completion) => {
                    self.limiters.observe(completion.rate_limit, false);
                    self.stats.record_usage(&completion);
                    self.stats.answered.store(true, Ordering::Relaxed);
                    return Ok(completion);
                }
                Err(error) => {
                    // Only the provider's answers tell the pace it takes.
                    if error.status.is_some() {
                        let throttled = error.kind == LlmErrorKind::RateLimited;
                        self.limiters.observe(error.rate_limit, throttled);
                    }
                    error
                }
            };
            error.attempts = retry + 1;
            match error.kind {
                LlmErrorKind::RateLimited => {
                    self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                }
                LlmErrorKind::Authentication => {
                    let _ = self.stats.fatal.set(error.clone());
                }
                LlmErrorKind::Unreachable
                    if !self.stats.answered.load(Ordering::Relaxed)
                        && error.attempts >= ATTEMPTS_TO_REACH_IT_FIRST =>
                {
                    let _ = self.stats.fatal.set(error.clone());
                    return Err(error);
                }
                _ => {}
            }
            let jitter = rand::rng().random::<f64>();
            let delay = self.retry.delay_before_retry(retry, &error, jitter);
            // No backoff past the moment a new attempt may start: give up with the cause now.
            let in_time = |delay| send_by.is_none_or(|at| tokio::time::Instant::now() + delay < at);
            match delay.filter(|&delay| in_time(delay)) {
                Some(delay) => {
                    tracing::debug!(kind = ?error.kind, ?delay, "retrying an LLM request");
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    retry += 1;
                    let _waiting = self.stats.wait(WaitReason::after(&error));
                    tokio::time::sleep(delay).await;
                }
                None => return Err(error),
            }
        }
    }

    /// The failure of a request the rate limits held past the moment it had to be sent by.
    fn not_sent(&self) -> LlmError {
        let pace = self
            .limiters
            .describe()
            .unwrap_or_else(|| "the token limits".into());
        let mut error = LlmError::new(
            LlmErrorKind::Timeout,
            format!(
                "not sent: the rate limit ({pace}) left no time to ask the LLM before the \
                 sampling timeout"
            ),
        );
        error.attempts = 0;
        error
    }
}

impl LlmBackend for ManagedBackend {
    fn complete(&self, request: CompletionRequest) -> CompletionFuture<'_> {
        Box::pin(self.complete_with_retries(request))
    }
}

fn estimate_request_tokens(request: &CompletionRequest) -> u64 {
    let system = request.system.as_deref().map_or(0, estimate_tokens);
    system
        + request
            .messages
            .iter()
            .map(|message| estimate_tokens(&message.text))
            .sum::<u64>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::limits::RateLimits;
    use crate::llm::{ChatMessage, ChatRole, Sharing, TokenUsage};
    use std::sync::Mutex;
    use std::time::Duration;

    /// Fails with the scripted errors, then succeeds.
    struct Scripted(Mutex<Vec<LlmError>>);

    impl LlmBackend for Scripted {
        fn complete(&self, _request: CompletionRequest) -> CompletionFuture<'_> {
            let next = self.0.lock().unwrap().pop();
            Box::pin(async move {
                match next {
                    Some(error) => Err(error),
                    None => Ok(Completion {
                        model: "m".into(),
                        text: "ok".into(),
                        stop_reason: None,
                        usage: TokenUsage {
                            input_tokens: 7,
                            output_tokens: 3,
                        },
                        rate_limit: None,
                        sharing: Sharing::default(),
                    }),
                }
            })
        }
    }

    fn request() -> CompletionRequest {
        CompletionRequest {
            model: None,
            system: None,
            messages: vec![ChatMessage {
                role: ChatRole::User,
                text: "hello".into(),
            }],
            max_tokens: 10,
            temperature: None,
            stop_sequences: Vec::new(),
            send_by: None,
        }
    }

    fn managed(errors: Vec<LlmError>, max_retries: u32) -> (ManagedBackend, Arc<LlmStats>) {
        let stats = Arc::new(LlmStats::default());
        let retry = RetryPolicy {
            max_retries,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        };
        let backend = ManagedBackend::new(
            Arc::new(Scripted(Mutex::new(errors))),
            Limiters::new(RateLimits::default()),
            retry,
            stats.clone(),
        );
        (backend, stats)
    }

    #[tokio::test]
    async fn retries_transient_failures_and_counts_everything() {
        let mut limited = LlmError::new(LlmErrorKind::RateLimited, "429");
        limited.retry_after = Some(Duration::from_millis(1));
        let errors = vec![LlmError::new(LlmErrorKind::Overloaded, "529"), limited];
        let (backend, stats) = managed(errors, 5);
        let completion = backend.complete(request()).await.unwrap();
        assert_eq!(completion.text, "ok");
        assert_eq!(stats.requests.load(Ordering::Relaxed), 3);
        assert_eq!(stats.retries.load(Ordering::Relaxed), 2);
        assert_eq!(stats.rate_limited.load(Ordering::Relaxed), 1);
        assert_eq!(stats.input_tokens.load(Ordering::Relaxed), 7);
        assert_eq!(stats.output_tokens.load(Ordering::Relaxed), 3);
    }

    #[tokio::test]
    async fn gives_up_after_the_last_retry_with_the_attempt_count() {
        let errors = (0..4)
            .map(|_| LlmError::new(LlmErrorKind::ServerError, "500"))
            .collect();
        let (backend, _stats) = managed(errors, 2);
        let error = backend.complete(request()).await.unwrap_err();
        assert_eq!(error.kind, LlmErrorKind::ServerError);
        assert_eq!(error.attempts, 3);
    }

    #[tokio::test]
    async fn an_llm_never_reached_is_fatal_after_a_few_attempts() {
        let errors = (0..5)
            .map(|_| LlmError::new(LlmErrorKind::Unreachable, "connection refused"))
            .collect();
        let (backend, stats) = managed(errors, 8);
        let error = backend.complete(request()).await.unwrap_err();
        assert_eq!(error.kind, LlmErrorKind::Unreachable);
        assert_eq!(error.attempts, ATTEMPTS_TO_REACH_IT_FIRST);
        assert_eq!(stats.fatal().unwrap().kind, LlmErrorKind::Unreachable);
        assert!(backend.complete(request()).await.is_err());
        let requests = u64::from(ATTEMPTS_TO_REACH_IT_FIRST);
        assert_eq!(stats.requests.load(Ordering::Relaxed), requests);
    }

    #[tokio::test]
    async fn an_llm_that_answered_once_is_waited_for_and_says_why() {
        let stats = Arc::new(LlmStats::default());
        stats.answered.store(true, Ordering::Relaxed);
        let retry = RetryPolicy {
            max_retries: 8,
            base_delay: Duration::from_secs(3600),
            max_delay: Duration::from_secs(3600),
        };
        let errors = vec![LlmError::new(
            LlmErrorKind::Unreachable,
            "connection refused",
        )];
        let backend = Arc::new(ManagedBackend::new(
            Arc::new(Scripted(Mutex::new(errors))),
            Limiters::new(RateLimits::default()),
            retry,
            stats.clone(),
        ));
        assert_eq!(stats.waiting(), None);
        let waiting = tokio::spawn({
            let backend = backend.clone();
            async move { backend.complete(request()).await }
        });
        let reason = async {
            loop {
                if let Some(reason) = stats.waiting() {
                    return reason;
                }
                tokio::task::yield_now().await;
            }
        };
        let reason = tokio::time::timeout(Duration::from_secs(60), reason)
            .await
            .expect("the request waits");
        assert_eq!(reason, "LLM unreachable (1 request)");
        assert!(stats.fatal().is_none());
        waiting.abort();
        let _ = waiting.await;
        assert_eq!(stats.waiting(), None, "the count ends with the wait");
    }

    #[tokio::test]
    async fn no_attempt_starts_after_the_sending_deadline() {
        let mut limited = LlmError::new(LlmErrorKind::RateLimited, "429");
        limited.retry_after = Some(Duration::from_secs(3600));
        limited.status = Some(429);
        let (backend, stats) = managed(vec![limited], 5);
        let mut late = request();
        late.send_by = Some(std::time::Instant::now() + Duration::from_secs(30));
        let error = backend.complete(late).await.unwrap_err();
        assert_eq!(error.kind, LlmErrorKind::RateLimited, "the cause, at once");
        assert_eq!(error.attempts, 1);
        assert_eq!(stats.retries.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn a_rejected_key_is_fatal_for_every_later_request() {
        let errors = vec![LlmError::new(LlmErrorKind::Authentication, "401")];
        let (backend, stats) = managed(errors, 5);
        assert_eq!(backend.complete(request()).await.unwrap_err().attempts, 1);
        assert!(stats.fatal().is_some());
        let again = backend.complete(request()).await.unwrap_err();
        assert_eq!(again.kind, LlmErrorKind::Authentication);
        assert_eq!(stats.requests.load(Ordering::Relaxed), 1);
    }
}
