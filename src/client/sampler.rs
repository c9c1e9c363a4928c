//! Sampler actors: the pool that answers the server's sampling requests. Each actor serves one
//! LLM request at a time through the job's shared backend (limits, retries); a request goes to
//! the least busy actor, so the pool size bounds how many LLM calls run at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::llm::{
    Completion, CompletionFuture, CompletionRequest, LlmBackend, LlmError, LlmErrorKind,
};

/// A request for one completion.
pub struct SampleRequest {
    request: CompletionRequest,
    reply: RpcReplyPort<Result<Completion, LlmError>>,
}

struct SamplerActor;

impl Actor for SamplerActor {
    type Msg = SampleRequest;
    type State = Arc<dyn LlmBackend>;
    type Arguments = Arc<dyn LlmBackend>;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        backend: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(backend)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        backend: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if message.reply.is_closed() {
            return Ok(()); // the server gave up on it while it waited in the mailbox
        }
        let outcome = backend.complete(message.request).await;
        let _ = message.reply.send(outcome);
        Ok(())
    }
}

struct Sampler {
    actor: ActorRef<SampleRequest>,
    busy: AtomicUsize,
}

/// Counts a request as running on a sampler until dropped, even if the caller gives up.
struct BusyGuard<'a>(&'a AtomicUsize);

impl<'a> BusyGuard<'a> {
    fn enter(busy: &'a AtomicUsize) -> Self {
        busy.fetch_add(1, Ordering::Relaxed);
        Self(busy)
    }
}

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A pool of sampler actors, usable as a backend by the sampling handler.
pub struct SamplerPool {
    samplers: Vec<Sampler>,
}

impl SamplerPool {
    /// Starts `size` sampler actors sharing `backend`.
    pub async fn start(
        size: usize,
        backend: Arc<dyn LlmBackend>,
    ) -> Result<Self, ractor::SpawnErr> {
        let mut samplers = Vec::with_capacity(size.max(1));
        for _ in 0..size.max(1) {
            let (actor, _join) = Actor::spawn(None, SamplerActor, backend.clone()).await?;
            samplers.push(Sampler {
                actor,
                busy: AtomicUsize::new(0),
            });
        }
        Ok(Self { samplers })
    }

    /// Stops every sampler; requests still queued are answered with an error.
    pub fn stop(&self) {
        for sampler in &self.samplers {
            sampler.actor.stop(None);
        }
    }

    async fn sample(&self, request: CompletionRequest) -> Result<Completion, LlmError> {
        let sampler = self
            .samplers
            .iter()
            .min_by_key(|sampler| sampler.busy.load(Ordering::Relaxed))
            .expect("the pool has at least one sampler");
        let _busy = BusyGuard::enter(&sampler.busy);
        let outcome = ractor::call!(sampler.actor, |reply| SampleRequest { request, reply });
        outcome.unwrap_or_else(|error| {
            Err(LlmError::new(
                LlmErrorKind::Unreachable,
                format!("the sampler stopped before answering: {error}"),
            ))
        })
    }
}

impl LlmBackend for SamplerPool {
    fn complete(&self, request: CompletionRequest) -> CompletionFuture<'_> {
        Box::pin(self.sample(request))
    }
}
