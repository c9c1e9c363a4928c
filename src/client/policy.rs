//! What the client agrees to sample: only while one of its own tool calls is in progress, so a
//! server cannot spend the LLM budget on its own initiative, and at most a set number of output
//! tokens per answer, whatever the server asks for.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The default cap on `maxTokens` of one sampling request.
pub const DEFAULT_MAX_SAMPLING_TOKENS: u32 = 1024;

/// The rules a sampling request must meet. Clones share the count of calls in progress.
#[derive(Debug, Clone)]
pub struct SamplingPolicy {
    max_tokens: u32,
    calls_in_progress: Arc<AtomicUsize>,
}

impl Default for SamplingPolicy {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_SAMPLING_TOKENS)
    }
}

/// Marks a tool call of this client as in progress until dropped.
#[must_use = "the call counts as in progress only while the guard lives"]
pub struct CallInProgress(Arc<AtomicUsize>);

impl Drop for CallInProgress {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl SamplingPolicy {
    /// Answers with at most `max_tokens` output tokens (at least one).
    pub fn new(max_tokens: u32) -> Self {
        Self {
            max_tokens: max_tokens.max(1),
            calls_in_progress: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Counts a tool call as in progress while the returned guard lives.
    pub fn call_started(&self) -> CallInProgress {
        self.calls_in_progress.fetch_add(1, Ordering::AcqRel);
        CallInProgress(self.calls_in_progress.clone())
    }

    /// The output tokens granted to a request asking for `requested`, or why it is refused.
    pub fn admit(&self, requested: u32) -> Result<u32, String> {
        if self.calls_in_progress.load(Ordering::Acquire) == 0 {
            return Err(
                "sampling refused: this client has no tool call in progress with the \
                        server, and answers sampling only on behalf of its own calls"
                    .into(),
            );
        }
        Ok(requested.min(self.max_tokens))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_only_during_a_call_and_caps_tokens() {
        let policy = SamplingPolicy::new(500);
        assert!(policy.admit(100).is_err());
        let call = policy.call_started();
        let shared = policy.clone();
        assert_eq!(shared.admit(100), Ok(100));
        assert_eq!(shared.admit(50_000), Ok(500));
        drop(call);
        assert!(shared.admit(100).is_err());
    }
}
