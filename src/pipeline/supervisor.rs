//! The job supervisor: one per job. It numbers the input's entries, keeps a bounded window of
//! them, hands them to connection actors (at most `concurrency` entries at once, those sent
//! together to one connection in shared calls of at most `batch` entries), collects their
//! outcomes, re-sends the entries of a connection that died and restarts it, and settles entries
//! in input order: counters, the failures file and checkpoints always describe a prefix of the
//! input.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;

use super::budget::{Budget, TokenCount};
use super::checkpoint::{Checkpoint, InputIdentity};
use super::connection::{
    ConnectionActor, ConnectionArgs, ConnectionMessage, OutgoingEntry, calls_of,
};
use super::failures::{FailureRow, FailuresWriter};
use super::filter::EntryFilter;
use super::input::{Entry, InputError, InputItem};
use super::progress::{JobCounters, LatencyRecorder, ProgressDisplay};
use crate::client::{SamplingHandler, ServerTarget};
use crate::llm::{LlmErrorKind, LlmStats};
use crate::redact::Redactor;
use crate::report::{ReportWriter, Resolution};

/// How often progress is shown and the checkpoint written.
const TICK: Duration = Duration::from_secs(1);
/// Failed connection attempts in a row, on every connection, before the job gives up.
const MAX_CONNECT_FAILURES: u32 = 5;
/// How long a connection may take to close its session at the end of a job.
const CONNECTION_STOP_TIMEOUT: Duration = Duration::from_secs(3);
/// How long an interrupted job waits for calls in flight before abandoning them.
const INTERRUPT_GRACE: Duration = Duration::from_secs(10);

/// Everything a job needs.
pub struct JobPlan {
    /// Names this job's entries on the server (ordering) and its actors.
    pub job: String,
    /// The input's name, told to the server with each entry (unknown when retrying).
    pub source: Option<Arc<str>>,
    pub target: ServerTarget,
    pub handler: SamplingHandler,
    pub connections: usize,
    /// Most entries in flight at once, over all connections, when no connection batches.
    pub concurrency: usize,
    /// Most entries in flight at once when a connection batches: more than `concurrency`, so
    /// the LLM stays busy while a batch waits for its slowest answer.
    pub batched_in_flight: usize,
    /// Most entries sent together in one call (when the server takes several).
    pub batch: usize,
    /// Most input lines held at once (in flight, or done and waiting for an earlier one).
    pub window: usize,
    pub call_timeout: Duration,
    /// How often one entry may be sent before it counts as failed.
    pub max_sends: u32,
    pub input: mpsc::Receiver<Result<InputItem, InputError>>,
    /// Lines below this one were dealt with by an earlier run.
    pub start_line: u64,
    /// Counters carried over from an earlier run.
    pub counters: JobCounters,
    /// Which entries are processed; the others are counted skips.
    pub filter: EntryFilter,
    /// Masks secrets in each entry before it is sent, when the server is not this process's
    /// (its report then never sees them either).
    pub redact_before_sending: Option<Redactor>,
    /// The spending limit, when there is one.
    pub budget: Option<Budget>,
    pub failures: FailuresWriter,
    /// The writer of the server running in this process, when there is one.
    pub embedded_writer: Option<ReportWriter>,
    /// Checkpoints, when the job owns the report (the server runs in this process) and reads a file.
    pub checkpoint: Option<CheckpointPlan>,
    pub progress: ProgressDisplay,
    pub llm_stats: Arc<LlmStats>,
}

/// Where a job writes checkpoints, and what input they belong to.
pub struct CheckpointPlan {
    pub path: PathBuf,
    pub input: InputIdentity,
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobStatus {
    /// Every entry was dealt with.
    Completed,
    /// Stopped by the user; what is left can be resumed.
    Interrupted,
    /// Could not go on; what is left can be resumed once the cause is fixed.
    Aborted(String),
    /// The input could not be read to its end (a truncated or corrupt gzip stream, a read
    /// error): every entry read before the damage was dealt with, and nothing is left to
    /// resume.
    InputDamaged(String),
}

impl JobStatus {
    /// Whether the job dealt with everything it will ever read, so its files are final and
    /// its checkpoint can go.
    pub fn is_over(&self) -> bool {
        matches!(self, Self::Completed | Self::InputDamaged(_))
    }
}

/// The end of a job.
pub struct JobResult {
    pub status: JobStatus,
    pub counters: JobCounters,
    pub latency: LatencyRecorder,
    pub elapsed: Duration,
}

/// Messages the supervisor handles.
pub enum SupervisorMessage {
    /// The next input item, holding its place in the window.
    Input(InputItem, OwnedSemaphorePermit),
    InputEnded,
    InputFailed(String),
    /// A connection's outcomes for the entries of one call, by entry number.
    Outcomes {
        connection: ConnectionTag,
        results: Vec<(u64, CallResult)>,
    },
    Reconnect(usize),
    /// The external server's answer to the skip of entry `seq`: whether a record for it got
    /// there first (false when the server did not say).
    SkipAnswered {
        seq: u64,
        already_written: bool,
    },
    /// A connection attempt finished.
    Connected {
        index: usize,
        generation: u64,
        /// The connection, and whether it sends several entries per call.
        result: Result<(ActorRef<ConnectionMessage>, bool), String>,
    },
    Tick,
    /// Send what waits now: asked for once after the messages queued before it, so entries
    /// freed by several of them go out together.
    SendWaiting,
    /// Ctrl-C or SIGTERM: stop reading; a second one stops waiting.
    Interrupt,
}

/// Names one incarnation of a connection actor: its slot and how often the slot was connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionTag {
    pub index: usize,
    pub generation: u64,
}

/// What became of one tool call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallResult {
    Archived,
    Failed {
        kind: String,
        message: String,
        llm_attempts: Option<u32>,
    },
    /// The call got no answer: the session broke or wedged.
    Lost(String),
}

enum Settled {
    Archived,
    Failed(FailureRow),
}

struct EntrySlot {
    entry: Entry,
    seq: u64,
    sends: u32,
    first_sent: Option<Instant>,
    connection: Option<ConnectionTag>,
    settled: Option<Settled>,
    /// Given up on, waiting for the external server to answer the skip: the failure to list
    /// unless a record got there first, and when the entry was first sent.
    awaiting_skip: Option<(FailureRow, Option<Instant>)>,
}

enum Slot {
    Blank,
    /// An entry the filters skip.
    Filtered,
    Entry(Box<EntrySlot>),
}

struct Held {
    slot: Slot,
    _place: OwnedSemaphorePermit,
}

#[derive(Default)]
struct ConnectionSlot {
    actor: Option<ActorRef<ConnectionMessage>>,
    /// Counts connection attempts; outcomes and attempts carry it to tell stale ones apart.
    generation: u64,
    connecting: bool,
    /// The connection sends several entries per call.
    batches: bool,
    in_flight: usize,
    connect_failures: u32,
}

pub struct SupervisorState {
    myself: ActorRef<SupervisorMessage>,
    /// Set, with the limit's name, once the budget would be exceeded: every entry left is
    /// listed for `retry` unsent.
    over_budget: Option<String>,
    plan: PlanParts,
    failures_broken: bool,
    /// A `SendWaiting` is queued.
    send_queued: bool,
    started: Instant,
    feeder: Option<JoinHandle<()>>,
    input_ended: bool,
    /// Why the input could not be read past where it ended, when it was damaged.
    input_damage: Option<String>,
    stopping: Option<JobStatus>,
    interrupt_deadline: Option<Instant>,
    held: BTreeMap<u64, Held>,
    line_of_seq: HashMap<u64, u64>,
    next_seq: u64,
    waiting: VecDeque<u64>,
    in_flight: usize,
    /// Entries given up on whose skip the external server has not answered yet.
    awaiting_skips: usize,
    connections: Vec<ConnectionSlot>,
    settled: JobCounters,
    latency: LatencyRecorder,
    next_unread_line: u64,
    done: Option<oneshot::Sender<JobResult>>,
}

/// The parts of the plan the supervisor keeps after start-up.
struct PlanParts {
    job: String,
    source: Option<Arc<str>>,
    target: ServerTarget,
    handler: SamplingHandler,
    concurrency: usize,
    batched_in_flight: usize,
    batch: usize,
    call_timeout: Duration,
    max_sends: u32,
    failures: FailuresWriter,
    embedded_writer: Option<ReportWriter>,
    checkpoint: Option<CheckpointPlan>,
    filter: EntryFilter,
    redact_before_sending: Option<Redactor>,
    budget: Option<Budget>,
    progress: ProgressDisplay,
    llm_stats: Arc<LlmStats>,
    llm_base: JobCounters,
}

pub struct Supervisor;

impl Actor for Supervisor {
    type Msg = SupervisorMessage;
    type State = SupervisorState;
    type Arguments = (JobPlan, oneshot::Sender<JobResult>);

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        (plan, done): Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        let window = Arc::new(Semaphore::new(plan.window.max(1)));
        let feeder = tokio::spawn(feed(plan.input, plan.start_line, window, myself.clone()));
        myself.send_interval(TICK, || SupervisorMessage::Tick);
        let mut settled = plan.counters.clone();
        let llm_base = JobCounters {
            llm_requests: settled.llm_requests,
            retries: settled.retries,
            rate_limited: settled.rate_limited,
            input_tokens: settled.input_tokens,
            output_tokens: settled.output_tokens,
            ..JobCounters::default()
        };
        settled.llm_requests = 0;
        settled.retries = 0;
        settled.rate_limited = 0;
        settled.input_tokens = 0;
        settled.output_tokens = 0;
        Ok(SupervisorState {
            myself: myself.clone(),
            over_budget: None,
            failures_broken: false,
            send_queued: false,
            plan: PlanParts {
                job: plan.job,
                source: plan.source,
                target: plan.target,
                handler: plan.handler,
                concurrency: plan.concurrency.max(1),
                batched_in_flight: plan.batched_in_flight.max(plan.concurrency).max(1),
                batch: plan.batch.max(1),
                call_timeout: plan.call_timeout,
                max_sends: plan.max_sends.max(1),
                failures: plan.failures,
                embedded_writer: plan.embedded_writer,
                checkpoint: plan.checkpoint,
                filter: plan.filter,
                redact_before_sending: plan.redact_before_sending,
                budget: plan.budget,
                progress: plan.progress,
                llm_stats: plan.llm_stats,
                llm_base,
            },
            started: Instant::now(),
            feeder: Some(feeder),
            input_ended: false,
            input_damage: None,
            stopping: None,
            interrupt_deadline: None,
            held: BTreeMap::new(),
            line_of_seq: HashMap::new(),
            next_seq: 0,
            waiting: VecDeque::new(),
            in_flight: 0,
            awaiting_skips: 0,
            connections: (0..plan.connections.max(1))
                .map(|_| ConnectionSlot::default())
                .collect(),
            settled,
            latency: LatencyRecorder::new(),
            next_unread_line: plan.start_line.max(1),
            done: Some(done),
        })
    }

    async fn post_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // A job that fails in its first second (the disk is full, say) can still be resumed.
        if let Err(error) = state.save_checkpoint().await {
            state.stop(JobStatus::Aborted(format!("{error:#}")));
        }
        for index in 0..state.connections.len() {
            state.connect(index);
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if state.done.is_none() {
            // The job is over: a connection that comes up late is closed again.
            if let SupervisorMessage::Connected {
                result: Ok((actor, _)),
                ..
            } = message
            {
                actor.stop(None);
            }
            return Ok(());
        }
        let sending = matches!(message, SupervisorMessage::SendWaiting);
        match message {
            SupervisorMessage::Input(item, place) => state.accept(item, place),
            SupervisorMessage::InputEnded => state.input_ended = true,
            // What was read before the damage is still archived; the job then ends there.
            SupervisorMessage::InputFailed(reason) => {
                state.input_ended = true;
                state.input_damage = Some(reason);
            }
            SupervisorMessage::Outcomes {
                connection,
                results,
            } => {
                for (seq, result) in results {
                    state.record_outcome(seq, connection, result).await;
                }
            }
            SupervisorMessage::SkipAnswered {
                seq,
                already_written,
            } => state.skip_answered(seq, already_written),
            SupervisorMessage::Reconnect(index) => state.connect(index),
            SupervisorMessage::Connected {
                index,
                generation,
                result,
            } => state.connected(index, generation, result),
            SupervisorMessage::SendWaiting => {
                state.send_queued = false;
                state.send_waiting();
            }
            SupervisorMessage::Tick => {
                state.show_progress();
                if let Err(error) = state.save_checkpoint().await {
                    state.stop(JobStatus::Aborted(format!("{error:#}")));
                }
                let grace_over = state
                    .interrupt_deadline
                    .is_some_and(|at| Instant::now() >= at);
                if grace_over {
                    state.finish(&myself).await;
                    return Ok(());
                }
            }
            SupervisorMessage::Interrupt => {
                if state.stopping.is_some() {
                    state.finish(&myself).await;
                    return Ok(());
                }
                eprintln!("interrupted: finishing entries in flight (interrupt again to stop now)");
                state.stop(JobStatus::Interrupted);
                state.interrupt_deadline = Some(Instant::now() + INTERRUPT_GRACE);
            }
        }
        if !sending {
            state.queue_send();
        }
        state.list_unaffordable().await;
        state.settle();
        if state.is_finished() {
            state.finish(&myself).await;
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let cell = match &event {
            SupervisionEvent::ActorTerminated(cell, _, _)
            | SupervisionEvent::ActorFailed(cell, _) => cell,
            _ => return Ok(()),
        };
        if state.done.is_none() {
            return Ok(());
        }
        let Some(index) = state.connections.iter().position(|slot| {
            slot.actor
                .as_ref()
                .is_some_and(|actor| actor.get_id() == cell.get_id())
        }) else {
            return Ok(());
        };
        tracing::info!(
            connection = index,
            "connection stopped; re-sending its entries and reconnecting"
        );
        state.connection_lost(index, "the connection stopped").await;
        state.schedule_reconnect(index, Duration::ZERO);
        state.send_waiting();
        Ok(())
    }
}

/// Reads input items into the supervisor, each holding a place in the window.
async fn feed(
    mut input: mpsc::Receiver<Result<InputItem, InputError>>,
    start_line: u64,
    window: Arc<Semaphore>,
    supervisor: ActorRef<SupervisorMessage>,
) {
    loop {
        let Ok(place) = window.clone().acquire_owned().await else {
            return;
        };
        let message = match input.recv().await {
            Some(Ok(item)) if item_line(&item) < start_line => continue,
            Some(Ok(item)) => SupervisorMessage::Input(item, place),
            Some(Err(error)) => SupervisorMessage::InputFailed(error.to_string()),
            None => SupervisorMessage::InputEnded,
        };
        let last = !matches!(message, SupervisorMessage::Input(..));
        if supervisor.send_message(message).is_err() || last {
            return;
        }
    }
}

fn item_line(item: &InputItem) -> u64 {
    match item {
        InputItem::Entry(entry) => entry.line_number,
        InputItem::Blank { line_number } => *line_number,
    }
}

impl SupervisorState {
    fn accept(&mut self, item: InputItem, place: OwnedSemaphorePermit) {
        if self.stopping.is_some() {
            return;
        }
        let line = item_line(&item);
        self.next_unread_line = line + 1;
        let slot = match item {
            InputItem::Blank { .. } => Slot::Blank,
            InputItem::Entry(entry) if !self.plan.filter.keeps(&entry.text) => Slot::Filtered,
            InputItem::Entry(mut entry) => {
                if let Some(redactor) = &self.plan.redact_before_sending {
                    redactor.redact_in_place(&mut entry.text);
                }
                let seq = self.next_seq;
                self.next_seq += 1;
                self.line_of_seq.insert(seq, line);
                self.waiting.push_back(seq);
                Slot::Entry(Box::new(EntrySlot {
                    entry,
                    seq,
                    sends: 0,
                    first_sent: None,
                    connection: None,
                    settled: None,
                    awaiting_skip: None,
                }))
            }
        };
        self.held.insert(
            line,
            Held {
                slot,
                _place: place,
            },
        );
    }

    fn entry_mut(&mut self, seq: u64) -> Option<&mut EntrySlot> {
        let line = self.line_of_seq.get(&seq)?;
        match &mut self.held.get_mut(line)?.slot {
            Slot::Entry(entry) => Some(entry),
            Slot::Blank | Slot::Filtered => None,
        }
    }

    /// Asks for a `SendWaiting` unless one is queued already.
    fn queue_send(&mut self) {
        if !self.send_queued {
            self.send_queued = true;
            let _ = self.myself.send_message(SupervisorMessage::SendWaiting);
        }
    }

    /// Sends waiting entries while calls and connections are free, those going to the same
    /// connection together, in calls of at most `batch` entries (see `calls_of`).
    fn send_waiting(&mut self) {
        let mut outgoing: Vec<Vec<OutgoingEntry>> = Vec::new();
        outgoing.resize_with(self.connections.len(), Vec::new);
        self.choose_waiting(&mut outgoing);
        for (index, entries) in outgoing.into_iter().enumerate() {
            if entries.is_empty() {
                continue;
            }
            let actor = self.connections[index]
                .actor
                .as_ref()
                .expect("chosen connections are live");
            for call in calls_of(entries, self.plan.batch) {
                let _ = actor.send_message(ConnectionMessage::Process(call));
            }
        }
    }

    /// Picks the waiting entries to send now and the connection each goes to.
    fn choose_waiting(&mut self, outgoing: &mut [Vec<OutgoingEntry>]) {
        if self.stopping.is_some() || self.over_budget.is_some() {
            return;
        }
        let spent = self.plan.llm_stats.tokens_by_model();
        let mut reserved = self.reserved_tokens();
        let limit = self.in_flight_limit();
        while self.in_flight < limit {
            let Some(index) = self.least_busy_connection() else {
                return;
            };
            let Some(seq) = self.waiting.pop_front() else {
                return;
            };
            let tag = ConnectionTag {
                index,
                generation: self.connections[index].generation,
            };
            let Some((line, text)) = self
                .entry_mut(seq)
                .map(|slot| (slot.entry.line_number, slot.entry.text.clone()))
            else {
                continue;
            };
            if let Some(budget) = &self.plan.budget {
                let with_entry = reserved + budget.entry_estimate(&text);
                if let Err(limit) = budget.check(&spent, with_entry) {
                    self.waiting.push_front(seq);
                    self.over_budget = Some(limit);
                    return;
                }
                reserved = with_entry;
            }
            let Some(slot) = self.entry_mut(seq) else {
                continue;
            };
            slot.sends += 1;
            slot.first_sent.get_or_insert_with(Instant::now);
            slot.connection = Some(tag);
            self.in_flight += 1;
            self.connections[index].in_flight += 1;
            outgoing[index].push(OutgoingEntry { seq, line, text });
        }
    }

    /// The most the entries in flight may still use.
    fn reserved_tokens(&self) -> TokenCount {
        let Some(budget) = &self.plan.budget else {
            return TokenCount::default();
        };
        self.held
            .values()
            .filter_map(|held| match &held.slot {
                Slot::Entry(entry) if entry.connection.is_some() => {
                    Some(budget.entry_estimate(&entry.entry.text))
                }
                _ => None,
            })
            .fold(TokenCount::default(), |total, entry| total + entry)
    }

    /// Once over budget, lists every entry still waiting as failed, unsent, for `retry`.
    async fn list_unaffordable(&mut self) {
        let Some(limit) = self.over_budget.clone() else {
            return;
        };
        while let Some(seq) = self.waiting.pop_front() {
            let Some(slot) = self.entry_mut(seq) else {
                continue;
            };
            let (line, raw) = (slot.entry.line_number, slot.entry.text.clone());
            let failure = FailureRow {
                line,
                raw,
                error_kind: "budget_exhausted".into(),
                error_message: format!("not sent: {limit}"),
                attempts: 0,
            };
            self.give_up(seq, failure, None).await;
        }
    }

    /// Most entries in flight now: more while a live connection batches.
    fn in_flight_limit(&self) -> usize {
        let batching = self
            .connections
            .iter()
            .any(|slot| slot.actor.is_some() && slot.batches);
        if batching {
            self.plan.batched_in_flight
        } else {
            self.plan.concurrency
        }
    }

    fn least_busy_connection(&self) -> Option<usize> {
        self.connections
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.actor.is_some())
            .min_by_key(|(_, slot)| slot.in_flight)
            .map(|(index, _)| index)
    }

    async fn record_outcome(&mut self, seq: u64, from: ConnectionTag, result: CallResult) {
        let Some(slot) = self.entry_mut(seq) else {
            return; // already settled
        };
        if slot.awaiting_skip.is_some() {
            // Given up on: the server's answer to the skip says whether a record landed.
            return;
        }
        let current = slot.connection;
        if let CallResult::Lost(reason) = result {
            // Only the current send counts; a lost earlier send was already replaced.
            if current == Some(from) {
                tracing::debug!(seq, %reason, "a call was lost; reconnecting");
                self.connection_lost(from.index, &reason).await;
                self.schedule_reconnect(from.index, Duration::ZERO);
            }
            return;
        }
        // A definitive answer counts whichever send it answers.
        slot.connection = None;
        let line = slot.entry.line_number;
        let raw = slot.entry.text.clone();
        let sends = slot.sends;
        let first_sent = slot.first_sent;
        if let Some(tag) = current {
            self.release_call(tag);
        }
        match result {
            CallResult::Archived => self.settle_entry(seq, Settled::Archived, first_sent),
            CallResult::Failed {
                kind,
                message,
                llm_attempts,
            } => {
                if let Some(fatal) = self.plan.llm_stats.fatal().cloned() {
                    let unreachable = fatal.kind == LlmErrorKind::Unreachable;
                    self.stop(JobStatus::Aborted(if unreachable {
                        format!(
                            "{fatal}; stopped before sending the rest of the input, as the LLM \
                             has not answered once"
                        )
                    } else {
                        format!(
                            "{fatal}; stopped early so the rest of the input is not spent on a \
                             key that does not work"
                        )
                    }));
                    if unreachable && kind == fatal.kind.failure_kind() {
                        // Not an entry's failure but the job's: it stays unsettled, for --resume.
                        return;
                    }
                }
                let failure = FailureRow {
                    line,
                    raw,
                    error_kind: kind,
                    error_message: message,
                    attempts: llm_attempts.unwrap_or(1).max(sends),
                };
                self.give_up(seq, failure, first_sent).await;
            }
            CallResult::Lost(_) => unreachable!("handled above"),
        }
    }

    fn settle_entry(&mut self, seq: u64, settled: Settled, first_sent: Option<Instant>) {
        if let Some(first_sent) = first_sent {
            self.latency.record(first_sent.elapsed());
        }
        if let Some(slot) = self.entry_mut(seq) {
            slot.settled = Some(settled);
        }
        self.line_of_seq.remove(&seq);
    }

    /// Frees the call slot an entry's current send held.
    fn release_call(&mut self, tag: ConnectionTag) {
        self.in_flight -= 1;
        let connection = &mut self.connections[tag.index];
        if connection.generation == tag.generation {
            connection.in_flight = connection.in_flight.saturating_sub(1);
        }
    }

    /// Gives up on entry `seq` and releases its number on the server, which says whether a
    /// record got there first (an earlier send that was thought lost); then the entry is
    /// archived after all. The server in this process answers at once; an external one answers
    /// the skip request later (`skip_answered`), and the entry waits for it.
    async fn give_up(&mut self, seq: u64, failure: FailureRow, first_sent: Option<Instant>) {
        if let Some(writer) = &self.plan.embedded_writer {
            let settled = match writer.resolve(&self.plan.job, seq, None).await {
                Ok(Resolution::AlreadyWritten) => Settled::Archived,
                Ok(_) => Settled::Failed(failure),
                Err(error) => {
                    self.stop(JobStatus::Aborted(format!("{error}")));
                    Settled::Failed(failure)
                }
            };
            self.settle_entry(seq, settled, first_sent);
            return;
        }
        let live = self.connections.iter().find_map(|slot| slot.actor.clone());
        let Some(actor) = live else {
            self.settle_entry(seq, Settled::Failed(failure), first_sent);
            return;
        };
        if let Some(slot) = self.entry_mut(seq) {
            slot.awaiting_skip = Some((failure, first_sent));
            self.awaiting_skips += 1;
            let _ = actor.send_message(ConnectionMessage::Skip { seq });
        }
    }

    /// Settles an entry given up on once the external server answered its skip.
    fn skip_answered(&mut self, seq: u64, already_written: bool) {
        let Some((failure, first_sent)) = self
            .entry_mut(seq)
            .and_then(|slot| slot.awaiting_skip.take())
        else {
            return;
        };
        self.awaiting_skips -= 1;
        let settled = if already_written {
            Settled::Archived
        } else {
            Settled::Failed(failure)
        };
        self.settle_entry(seq, settled, first_sent);
    }

    /// Settles the held lines at the front of the window, in input order.
    fn settle(&mut self) {
        if self.failures_broken {
            return;
        }
        while let Some(entry) = self.held.first_entry() {
            let (settled, flags) = match &entry.get().slot {
                Slot::Blank => (None, (false, false)),
                Slot::Filtered => {
                    self.settled.skipped_filtered += 1;
                    entry.remove();
                    continue;
                }
                Slot::Entry(slot) => match &slot.settled {
                    None => return,
                    Some(settled) => (
                        Some(settled),
                        (slot.entry.invalid_utf8, slot.entry.truncated),
                    ),
                },
            };
            if settled.is_some() {
                let (invalid_utf8, truncated) = flags;
                self.settled.invalid_utf8 += u64::from(invalid_utf8);
                self.settled.truncated += u64::from(truncated);
            }
            match settled {
                None => self.settled.skipped_blank += 1,
                Some(Settled::Archived) => {
                    self.settled.read += 1;
                    self.settled.archived += 1;
                }
                Some(Settled::Failed(row)) => {
                    if let Err(error) = self.plan.failures.append(row) {
                        // The entry stays unsettled: the checkpoint keeps it for --resume.
                        self.failures_broken = true;
                        self.stop(JobStatus::Aborted(format!("{error:#}")));
                        return;
                    }
                    self.settled.read += 1;
                    self.settled.failed += 1;
                }
            }
            entry.remove();
        }
    }

    fn counters(&self) -> JobCounters {
        let stats = &self.plan.llm_stats;
        let base = &self.plan.llm_base;
        JobCounters {
            llm_requests: base.llm_requests + stats.requests.load(Ordering::Relaxed),
            retries: base.retries + stats.retries.load(Ordering::Relaxed),
            rate_limited: base.rate_limited + stats.rate_limited.load(Ordering::Relaxed),
            input_tokens: base.input_tokens + stats.input_tokens.load(Ordering::Relaxed),
            output_tokens: base.output_tokens + stats.output_tokens.load(Ordering::Relaxed),
            ..self.settled.clone()
        }
    }

    fn show_progress(&self) {
        let counters = self.counters();
        let done_lines = counters.read + counters.skipped_blank + counters.skipped_filtered;
        let waiting = self.plan.llm_stats.waiting();
        self.plan
            .progress
            .update(&counters, done_lines, waiting.as_deref());
    }

    /// The first line not yet dealt with, and the job's number for it.
    fn cut(&self) -> (u64, u64) {
        for (line, held) in &self.held {
            if let Slot::Entry(slot) = &held.slot {
                return (*line, slot.seq);
            }
        }
        (self.next_unread_line, self.next_seq)
    }

    async fn save_checkpoint(&mut self) -> anyhow::Result<()> {
        let (Some(plan), Some(writer)) = (&self.plan.checkpoint, &self.plan.embedded_writer) else {
            return Ok(());
        };
        let (next_line, seq) = self.cut();
        let report_len = writer.length_before(&self.plan.job, seq).await?;
        let failures_len = self.plan.failures.durable_len()?;
        let checkpoint = Checkpoint::new(
            plan.input.clone(),
            next_line,
            report_len,
            failures_len,
            self.counters(),
        );
        checkpoint.save(&plan.path)
    }

    fn stop(&mut self, status: JobStatus) {
        if self.stopping.is_none() {
            self.stopping = Some(status);
            if let Some(feeder) = self.feeder.take() {
                feeder.abort();
            }
        }
    }

    fn is_finished(&self) -> bool {
        let nothing_left = self.held.is_empty() && self.input_ended;
        let stopped_and_idle =
            self.stopping.is_some() && self.in_flight == 0 && self.awaiting_skips == 0;
        nothing_left || stopped_and_idle
    }

    /// Starts connecting slot `index` in the background; `Connected` reports the result.
    fn connect(&mut self, index: usize) {
        let slot = &mut self.connections[index];
        if slot.actor.is_some() || slot.connecting || self.done.is_none() {
            return;
        }
        if self.stopping.is_some() && self.in_flight == 0 {
            return;
        }
        slot.connecting = true;
        slot.generation += 1;
        let generation = slot.generation;
        let args = ConnectionArgs {
            tag: ConnectionTag { index, generation },
            target: self.plan.target.clone(),
            handler: self.plan.handler.clone(),
            supervisor: self.myself.clone(),
            job: self.plan.job.clone(),
            source: self.plan.source.clone(),
            call_timeout: self.plan.call_timeout,
        };
        let name = format!(
            "log-archiver-{}-connection-{index}-{generation}",
            self.plan.job
        );
        let myself = self.myself.clone();
        tokio::spawn(async move {
            let spawned = Actor::spawn_linked(Some(name), ConnectionActor, args, myself.get_cell())
                .await
                .map(|(actor, _)| actor)
                .map_err(|error| root_message(&error));
            let result = match spawned {
                Ok(actor) => {
                    let batches = ractor::call!(actor, ConnectionMessage::TakesBatches);
                    Ok((actor, batches.unwrap_or(false)))
                }
                Err(error) => Err(error),
            };
            let _ = myself.send_message(SupervisorMessage::Connected {
                index,
                generation,
                result,
            });
        });
    }

    fn connected(
        &mut self,
        index: usize,
        generation: u64,
        result: Result<(ActorRef<ConnectionMessage>, bool), String>,
    ) {
        let slot = &mut self.connections[index];
        if slot.generation != generation {
            if let Ok((actor, _)) = result {
                actor.stop(None);
            }
            return;
        }
        slot.connecting = false;
        match result {
            Ok((actor, batches)) => {
                slot.actor = Some(actor);
                slot.batches = batches;
                slot.connect_failures = 0;
            }
            Err(error) => {
                slot.connect_failures += 1;
                let failures = slot.connect_failures;
                let none_live = self.connections.iter().all(|slot| slot.actor.is_none());
                let all_failing = self
                    .connections
                    .iter()
                    .all(|slot| slot.connect_failures >= MAX_CONNECT_FAILURES);
                if none_live && all_failing {
                    self.stop(JobStatus::Aborted(format!(
                        "cannot connect to the MCP server {}: {error}",
                        self.plan.target
                    )));
                    return;
                }
                let delay = Duration::from_millis(250 * 2u64.pow(failures.min(5)));
                tracing::warn!(connection = index, ?delay, "cannot connect: {error}");
                self.schedule_reconnect(index, delay);
            }
        }
    }

    fn schedule_reconnect(&self, index: usize, delay: Duration) {
        if self.done.is_some() {
            self.myself
                .send_after(delay, move || SupervisorMessage::Reconnect(index));
        }
    }

    /// Forgets slot `index`'s connection and queues its entries to be sent again; an entry
    /// already sent `max_sends` times fails instead.
    async fn connection_lost(&mut self, index: usize, reason: &str) {
        let slot = &mut self.connections[index];
        if let Some(actor) = slot.actor.take() {
            actor.stop(None);
        }
        slot.in_flight = 0;
        let max_sends = self.plan.max_sends;
        let mut orphans = Vec::new();
        let mut exhausted = Vec::new();
        for held in self.held.values_mut() {
            if let Slot::Entry(entry) = &mut held.slot
                && entry.settled.is_none()
                && entry.connection.is_some_and(|tag| tag.index == index)
            {
                entry.connection = None;
                if entry.sends >= max_sends {
                    exhausted.push((
                        entry.seq,
                        entry.entry.line_number,
                        entry.entry.text.clone(),
                        entry.sends,
                        entry.first_sent,
                    ));
                } else {
                    orphans.push(entry.seq);
                }
            }
        }
        self.in_flight -= orphans.len() + exhausted.len();
        for seq in orphans.into_iter().rev() {
            self.waiting.push_front(seq);
        }
        for (seq, line, raw, sends, first_sent) in exhausted {
            let failure = FailureRow {
                line,
                raw,
                error_kind: "transport".into(),
                error_message: format!(
                    "the call to the MCP server was lost {sends} times: {reason}"
                ),
                attempts: sends,
            };
            self.give_up(seq, failure, first_sent).await;
        }
    }

    async fn finish(&mut self, myself: &ActorRef<SupervisorMessage>) {
        self.settle();
        let status = self
            .stopping
            .clone()
            .unwrap_or_else(|| match self.input_damage.take() {
                Some(reason) => JobStatus::InputDamaged(reason),
                None => JobStatus::Completed,
            });
        // Even a completed job keeps its checkpoint until the command has put its files in
        // their final places (a retry replaces the failures file), then removes it.
        let status = match (status, self.save_checkpoint().await) {
            (status, Err(error)) if status.is_over() => JobStatus::Aborted(format!("{error:#}")),
            (status, _) => status,
        };
        for slot in &mut self.connections {
            if let Some(actor) = slot.actor.take() {
                let _ = actor
                    .stop_and_wait(None, Some(CONNECTION_STOP_TIMEOUT))
                    .await;
            }
        }
        self.show_progress();
        self.plan.progress.finish();
        if let Some(done) = self.done.take() {
            let _ = done.send(JobResult {
                status,
                counters: self.counters(),
                latency: std::mem::take(&mut self.latency),
                elapsed: self.started.elapsed(),
            });
        }
        myself.stop(None);
    }
}

/// The innermost message of a spawn error (the connection's own words).
fn root_message(error: &ractor::SpawnErr) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        message = inner.to_string();
        source = inner.source();
    }
    message
}
