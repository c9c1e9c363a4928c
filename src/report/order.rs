//! The reorder buffer: puts each job's records into input order, whatever order they complete
//! in. A job numbers its entries 0, 1, 2, ...; each number is resolved once, with a record or as
//! a skip (the client gave up on the entry). The first resolution of a number is final: a second
//! record is not written again, and a record for a skipped number is refused, so an entry is
//! never both in the report and in the client's failures. For clients that may vanish, a gap
//! that stays open too long, or a buffer that grows too large, is passed over so the writer is
//! never wedged; a record that arrives for a passed-over number is still written (late).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// When the buffer gives up waiting for a gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderPolicy {
    /// How long a gap may block later records before it is passed over; `None` waits for the
    /// client to resolve every number (a job that owns the server resolves them all).
    pub gap_timeout: Option<Duration>,
    /// How many records one job may hold waiting for a gap before the gap is passed over.
    pub max_pending: usize,
    /// Write what still waits for a gap when the writer stops, rather than drop it.
    pub flush_pending_on_stop: bool,
}

impl OrderPolicy {
    /// For a server shared by clients that may vanish: a gap is waited for somewhat longer than
    /// the slowest sampling call, and nothing that arrived is dropped at shutdown.
    pub fn shared_server(sampling_timeout: Duration) -> Self {
        Self {
            gap_timeout: Some(sampling_timeout.saturating_add(Duration::from_secs(30))),
            max_pending: 10_000,
            flush_pending_on_stop: true,
        }
    }

    /// For the server a job runs in-process: the job resolves every number itself, bounds what
    /// is in flight, and resumes from its checkpoint, so gaps are always waited for.
    pub fn job_owned() -> Self {
        Self {
            gap_timeout: None,
            max_pending: usize::MAX,
            flush_pending_on_stop: false,
        }
    }
}

/// What became of a resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// The first resolution of this number: its record is (or will be) written, or it is skipped.
    Accepted,
    /// A record for this number was already accepted: nothing more is written.
    AlreadyWritten,
    /// This number was already given up on: nothing is written for it.
    AlreadySkipped,
    /// The number is so far ahead of the job that accepting it could exhaust memory.
    OutOfRange,
}

/// Most passed-over numbers remembered per job, for late arrivals.
const MAX_PASSED_OVER: u64 = 100_000;
/// How far ahead of the next expected number a number may be, when gaps can be passed over.
const MAX_AHEAD: u64 = 1_000_000;
/// How long an idle job's bookkeeping is kept.
const IDLE_JOB_TTL: Duration = Duration::from_secs(3600);

#[derive(Default)]
struct JobOrder {
    next_seq: u64,
    /// Resolved numbers waiting for a gap: `None` is a skip.
    pending: BTreeMap<u64, Option<String>>,
    /// Numbers below `next_seq` that were passed over unresolved.
    passed_over: BTreeSet<u64>,
    /// Numbers below `next_seq` that were skipped (bounded like `passed_over`).
    skipped: BTreeSet<u64>,
    /// Report length just before each record written in order, for checkpoints.
    offsets: BTreeMap<u64, u64>,
    /// When the job last moved forward or started waiting.
    last_progress: Option<Instant>,
}

/// Orders the records of every job writing to one report, and tracks the report's length.
pub struct ReorderBuffer {
    jobs: HashMap<String, JobOrder>,
    policy: OrderPolicy,
    report_len: u64,
}

impl ReorderBuffer {
    /// A buffer for a report that already holds `report_len` bytes.
    pub fn new(policy: OrderPolicy, report_len: u64) -> Self {
        Self {
            jobs: HashMap::new(),
            policy,
            report_len,
        }
    }

    /// A record without ordering information: written at once. Appends its bytes to `out`.
    pub fn append_unordered(&mut self, record: String, out: &mut Vec<u8>) {
        self.emit(record, out);
    }

    /// Resolves number `seq` of `job` with a record, or as a skip. Appends to `out` every record
    /// that can now be written in order.
    pub fn resolve(
        &mut self,
        job: &str,
        seq: u64,
        record: Option<String>,
        now: Instant,
        out: &mut Vec<u8>,
    ) -> Resolution {
        let policy = self.policy;
        let order = self.jobs.entry(job.to_string()).or_default();
        if seq < order.next_seq {
            if order.skipped.contains(&seq) {
                return Resolution::AlreadySkipped;
            }
            if !order.passed_over.remove(&seq) {
                return Resolution::AlreadyWritten;
            }
            match record {
                Some(record) => {
                    tracing::warn!(job, seq, "a late record is appended out of order");
                    self.emit(record, out);
                }
                None => remember(
                    &mut self.jobs.get_mut(job).expect("job exists").skipped,
                    seq,
                ),
            }
            return Resolution::Accepted;
        }
        if let Some(earlier) = order.pending.get(&seq) {
            return match earlier {
                Some(_) => Resolution::AlreadyWritten,
                None => Resolution::AlreadySkipped,
            };
        }
        if policy.gap_timeout.is_some() && seq - order.next_seq > MAX_AHEAD {
            return Resolution::OutOfRange;
        }
        if order.pending.is_empty() {
            order.last_progress = Some(now);
        }
        order.pending.insert(seq, record);
        let over_capacity = order.pending.len() > policy.max_pending;
        self.flush_job(job, now, out);
        if over_capacity {
            self.pass_over_gap(job, now, out);
        }
        Resolution::Accepted
    }

    /// Passes over gaps that have blocked their job longer than the gap timeout, and forgets
    /// jobs idle for an hour.
    pub fn expire(&mut self, now: Instant, out: &mut Vec<u8>) {
        let Some(gap_timeout) = self.policy.gap_timeout else {
            return;
        };
        let waited_too_long = |order: &JobOrder| {
            order
                .last_progress
                .is_some_and(|at| now.duration_since(at) >= gap_timeout)
        };
        let stuck: Vec<String> = self
            .jobs
            .iter()
            .filter(|(_, order)| !order.pending.is_empty() && waited_too_long(order))
            .map(|(job, _)| job.clone())
            .collect();
        for job in stuck {
            tracing::warn!(job, "entries never arrived; passing over the gap");
            self.pass_over_gap(&job, now, out);
        }
        self.jobs.retain(|_, order| {
            !order.pending.is_empty()
                || order
                    .last_progress
                    .is_none_or(|at| now.duration_since(at) < IDLE_JOB_TTL)
        });
    }

    /// Writes whatever still waits for a gap, in order, when the policy says so.
    pub fn flush_on_stop(&mut self, now: Instant, out: &mut Vec<u8>) {
        if !self.policy.flush_pending_on_stop {
            return;
        }
        let jobs: Vec<String> = self.jobs.keys().cloned().collect();
        for job in jobs {
            while !self.jobs[&job].pending.is_empty() {
                self.pass_over_gap(&job, now, out);
            }
        }
    }

    /// The report's length holding exactly what `job` resolved below `seq` (plus other jobs'
    /// records): its length just before the first record numbered `seq` or later was written.
    /// Forgets offsets below `seq`.
    pub fn length_before(&mut self, job: &str, seq: u64) -> u64 {
        let Some(order) = self.jobs.get_mut(job) else {
            return self.report_len;
        };
        let length = order
            .offsets
            .range(seq..)
            .next()
            .map_or(self.report_len, |(_, offset)| *offset);
        order.offsets = order.offsets.split_off(&seq);
        length
    }

    fn emit(&mut self, record: String, out: &mut Vec<u8>) {
        self.report_len += record.len() as u64;
        out.extend_from_slice(record.as_bytes());
    }

    fn flush_job(&mut self, job: &str, now: Instant, out: &mut Vec<u8>) {
        loop {
            let order = self.jobs.get_mut(job).expect("job exists");
            let next = order.next_seq;
            let Some(record) = order.pending.remove(&next) else {
                return;
            };
            order.next_seq += 1;
            order.last_progress = Some(now);
            match record {
                Some(record) => {
                    order.offsets.insert(next, self.report_len);
                    self.emit(record, out);
                }
                None => remember(&mut order.skipped, next),
            }
        }
    }

    fn pass_over_gap(&mut self, job: &str, now: Instant, out: &mut Vec<u8>) {
        let order = self.jobs.get_mut(job).expect("job exists");
        let Some(&first_pending) = order.pending.keys().next() else {
            return;
        };
        let remembered_from = order
            .next_seq
            .max(first_pending.saturating_sub(MAX_PASSED_OVER));
        for seq in remembered_from..first_pending {
            remember(&mut order.passed_over, seq);
        }
        order.next_seq = first_pending;
        self.flush_job(job, now, out);
    }
}

/// Adds `seq` to a bounded set of numbers, forgetting the oldest.
fn remember(set: &mut BTreeSet<u64>, seq: u64) {
    set.insert(seq);
    while set.len() as u64 > MAX_PASSED_OVER {
        set.pop_first();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(out: &[u8]) -> String {
        String::from_utf8(out.to_vec()).unwrap()
    }

    fn shared() -> ReorderBuffer {
        ReorderBuffer::new(OrderPolicy::shared_server(Duration::from_secs(10)), 0)
    }

    #[test]
    fn any_completion_order_gives_input_order() {
        let mut buffer = ReorderBuffer::new(OrderPolicy::job_owned(), 0);
        let now = Instant::now();
        let mut out = Vec::new();
        for seq in [3u64, 1, 4, 0, 2] {
            buffer.resolve("job", seq, Some(format!("{seq}\n")), now, &mut out);
        }
        assert_eq!(text(&out), "0\n1\n2\n3\n4\n");
        assert_eq!(buffer.length_before("job", 5), 10);
    }

    #[test]
    fn the_first_resolution_is_final() {
        let mut buffer = shared();
        let now = Instant::now();
        let mut out = Vec::new();
        assert_eq!(
            buffer.resolve("j", 1, Some("b\n".into()), now, &mut out),
            Resolution::Accepted
        );
        assert_eq!(
            buffer.resolve("j", 0, None, now, &mut out),
            Resolution::Accepted
        );
        assert_eq!(
            buffer.resolve("j", 1, Some("b\n".into()), now, &mut out),
            Resolution::AlreadyWritten
        );
        assert_eq!(
            buffer.resolve("j", 1, None, now, &mut out),
            Resolution::AlreadyWritten
        );
        assert_eq!(
            buffer.resolve("j", 0, Some("a\n".into()), now, &mut out),
            Resolution::AlreadySkipped
        );
        assert_eq!(
            buffer.resolve("j", 3, None, now, &mut out),
            Resolution::Accepted
        );
        assert_eq!(
            buffer.resolve("j", 3, Some("d\n".into()), now, &mut out),
            Resolution::AlreadySkipped
        );
        assert_eq!(text(&out), "b\n");
    }

    #[test]
    fn jobs_are_ordered_independently() {
        let mut buffer = shared();
        let now = Instant::now();
        let mut out = Vec::new();
        buffer.resolve("a", 1, Some("a1\n".into()), now, &mut out);
        buffer.resolve("b", 0, Some("b0\n".into()), now, &mut out);
        buffer.resolve("a", 0, Some("a0\n".into()), now, &mut out);
        assert_eq!(text(&out), "b0\na0\na1\n");
    }

    #[test]
    fn a_stuck_gap_is_passed_over_and_a_late_record_still_lands_once() {
        let mut buffer = shared();
        let start = Instant::now();
        let mut out = Vec::new();
        buffer.resolve("j", 1, Some("b\n".into()), start, &mut out);
        buffer.expire(start + Duration::from_secs(5), &mut out);
        assert_eq!(text(&out), "");
        buffer.expire(start + Duration::from_secs(41), &mut out);
        assert_eq!(text(&out), "b\n");
        let late = buffer.resolve("j", 0, Some("a\n".into()), start, &mut out);
        assert_eq!(late, Resolution::Accepted);
        assert_eq!(
            buffer.resolve("j", 0, Some("a\n".into()), start, &mut out),
            Resolution::AlreadyWritten
        );
        assert_eq!(text(&out), "b\na\n");
    }

    #[test]
    fn a_job_owned_buffer_waits_for_every_gap() {
        let mut buffer = ReorderBuffer::new(OrderPolicy::job_owned(), 0);
        let start = Instant::now();
        let mut out = Vec::new();
        buffer.resolve("j", 1, Some("b\n".into()), start, &mut out);
        buffer.expire(start + Duration::from_secs(100_000), &mut out);
        buffer.flush_on_stop(start, &mut out);
        assert_eq!(text(&out), "");
    }

    #[test]
    fn the_buffer_is_bounded_and_far_numbers_are_refused() {
        let policy = OrderPolicy {
            max_pending: 3,
            ..OrderPolicy::shared_server(Duration::from_secs(10))
        };
        let mut buffer = ReorderBuffer::new(policy, 0);
        let now = Instant::now();
        let mut out = Vec::new();
        for seq in 1..=4 {
            buffer.resolve("j", seq, Some(format!("{seq}\n")), now, &mut out);
        }
        assert_eq!(text(&out), "1\n2\n3\n4\n");
        let far = buffer.resolve(
            "j",
            1_000_000_000_000_000_000,
            Some("x\n".into()),
            now,
            &mut out,
        );
        assert_eq!(far, Resolution::OutOfRange);
    }

    #[test]
    fn a_huge_gap_is_passed_over_in_bounded_memory() {
        let mut buffer = shared();
        let start = Instant::now();
        let mut out = Vec::new();
        buffer.resolve("j", MAX_AHEAD, Some("far\n".into()), start, &mut out);
        buffer.expire(start + Duration::from_secs(60), &mut out);
        assert_eq!(text(&out), "far\n");
        assert!(buffer.jobs["j"].passed_over.len() as u64 <= MAX_PASSED_OVER);
    }

    #[test]
    fn pending_records_are_written_at_stop_on_a_shared_server() {
        let mut buffer = shared();
        let now = Instant::now();
        let mut out = Vec::new();
        buffer.resolve("j", 2, Some("c\n".into()), now, &mut out);
        buffer.resolve("j", 4, Some("e\n".into()), now, &mut out);
        buffer.flush_on_stop(now, &mut out);
        assert_eq!(text(&out), "c\ne\n");
    }

    #[test]
    fn length_before_cuts_exactly_between_records() {
        let mut buffer = ReorderBuffer::new(OrderPolicy::job_owned(), 100);
        let now = Instant::now();
        let mut out = Vec::new();
        buffer.resolve("j", 0, Some("aa\n".into()), now, &mut out);
        buffer.resolve("j", 1, None, now, &mut out);
        buffer.resolve("j", 2, Some("ccc\n".into()), now, &mut out);
        assert_eq!(buffer.length_before("j", 0), 100);
        assert_eq!(buffer.length_before("j", 1), 103);
        assert_eq!(buffer.length_before("j", 2), 103);
        assert_eq!(buffer.length_before("j", 3), 107);
        assert_eq!(buffer.length_before("unknown", 0), 107);
    }
}
