//! A backend wrapped for bulk jobs: every request passes the shared rate limiters first, failed
//! requests are retried by the retry policy, and everything is counted. An authentication
//! failure is remembered so the job can stop instead of burning through the input.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
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
}

impl LlmStats {
    /// The failure that makes every further request pointless (a rejected key), once seen.
    pub fn fatal(&self) -> Option<&LlmError> {
        self.fatal.get()
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
        let mut retry = 0;
        loop {
            if let Some(fatal) = self.stats.fatal() {
                return Err(fatal.clone());
            }
            self.limiters
                .acquire(input_estimate, u64::from(request.max_tokens))
                .await;
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            let mut error = match self.inner.complete(request.clone()).await {
                Ok(completion) => {
                    self.limiters.observe(completion.rate_limit, false);
                    self.stats.record_usage(&completion);
                    return Ok(completion);
                }
                Err(error) => {
                    let throttled = error.kind == LlmErrorKind::RateLimited;
                    self.limiters.observe(error.rate_limit, throttled);
                    error
                }
            };
            match error.kind {
                LlmErrorKind::RateLimited => {
                    self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                }
                LlmErrorKind::Authentication => {
                    let _ = self.stats.fatal.set(error.clone());
                }
                _ => {}
            }
            let jitter = rand::rng().random::<f64>();
            match self.retry.delay_before_retry(retry, &error, jitter) {
                Some(delay) => {
                    tracing::debug!(kind = ?error.kind, ?delay, "retrying an LLM request");
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    retry += 1;
                    tokio::time::sleep(delay).await;
                }
                None => {
                    error.attempts = retry + 1;
                    return Err(error);
                }
            }
        }
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
