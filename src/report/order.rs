//! The reorder buffer: puts each job's records into input order, whatever order they complete
//! in. A job numbers its entries 0, 1, 2, ...; each number is resolved once, with a record or as
//! a skip (the client gave up on the entry). The first resolution of a number is final: a second
//! record is not written again, and a record for a skipped number is refused, so an entry is
//! never both in the report and in the client's failures. For clients that may vanish, a gap
//! that stays open too long, or a buffer that grows too large, is passed over so the writer is
//! never wedged; a record that arrives for a passed-over number is still written (late). What a
//! shared server knows of its jobs can be carried across a restart (`OrderMemory`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

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
    /// Keep what is known of each job across a restart of the server, so that entries its
    /// clients send again are not written twice and later ones do not wait for old gaps.
    pub remember_across_restarts: bool,
}

impl OrderPolicy {
    /// For a server shared by clients that may vanish: a gap is waited for somewhat longer than
    /// the slowest sampling call, and nothing that arrived is dropped at shutdown.
    pub fn shared_server(sampling_timeout: Duration) -> Self {
        Self {
            gap_timeout: Some(sampling_timeout.saturating_add(Duration::from_secs(30))),
            max_pending: 10_000,
            flush_pending_on_stop: true,
            remember_across_restarts: true,
        }
    }

    /// For the server a job runs in-process: the job resolves every number itself, bounds what
    /// is in flight, and resumes from its checkpoint, so gaps are always waited for.
    pub fn job_owned() -> Self {
        Self {
            gap_timeout: None,
            max_pending: usize::MAX,
            flush_pending_on_stop: false,
            remember_across_restarts: false,
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

/// What a buffer knows of its jobs once nothing waits for a gap: enough to carry on after a
/// restart without writing an entry twice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderMemory {
    /// The report's length when this was taken; a report that changed since makes it stale.
    pub report_len: u64,
    pub jobs: BTreeMap<String, JobMemory>,
}

/// What is known of one job.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMemory {
    pub next_seq: u64,
    pub skipped: BTreeSet<u64>,
    pub passed_over: BTreeSet<u64>,
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

    /// A buffer that carries on from `memory`, taken when its report had the length it has now.
    pub fn remembering(policy: OrderPolicy, memory: OrderMemory, now: Instant) -> Self {
        let jobs = memory
            .jobs
            .into_iter()
            .map(|(job, known)| {
                let order = JobOrder {
                    next_seq: known.next_seq,
                    skipped: known.skipped,
                    passed_over: known.passed_over,
                    last_progress: Some(now),
                    ..JobOrder::default()
                };
                (job, order)
            })
            .collect();
        Self {
            jobs,
            policy,
            report_len: memory.report_len,
        }
    }

    /// What to carry across a restart. Records still waiting for a gap are not part of it:
    /// take it after `flush_on_stop`.
    pub fn memory(&self) -> OrderMemory {
        let jobs = self
            .jobs
            .iter()
            .map(|(job, order)| {
                let known = JobMemory {
                    next_seq: order.next_seq,
                    skipped: order.skipped.clone(),
                    passed_over: order.passed_over.clone(),
                };
                (job.clone(), known)
            })
            .collect();
        OrderMemory {
            report_len: self.report_len,
            jobs,
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

    /// Properties of the buffer over random completion orders, skips, repeats and jobs. Each
    /// record's text names its job and number, so the output says exactly what was written.
    mod properties {
        use super::super::*;
        use super::{shared, text};
        use proptest::prelude::*;
        use std::collections::HashMap;

        /// Record `seq` of `job`: distinct for each pair, of varying length, one line.
        fn record(job: &str, seq: u64) -> String {
            let padding = (seq as usize * 7 + job.len()) % 13;
            format!("{job}:{seq}:{}\n", "#".repeat(padding))
        }

        /// What a second resolution writes if it wrongly gets through.
        fn repeat_record(job: &str, seq: u64) -> String {
            format!("{job}:{seq}:again\n")
        }

        /// The records of `job` numbered below `end`, not skipped, in order.
        fn expected(job: &str, skipped: &[bool], end: usize) -> String {
            (0..end)
                .filter(|&seq| !skipped[seq])
                .map(|seq| record(job, seq as u64))
                .collect()
        }

        /// How many numbers from 0 on are resolved, without a gap.
        fn resolved_prefix(resolved: &[bool]) -> usize {
            resolved
                .iter()
                .position(|done| !done)
                .unwrap_or(resolved.len())
        }

        /// Both policies: a shared server behaves like a job-owned one while no gap times out
        /// and the buffer stays under its bound.
        fn policy() -> impl Strategy<Value = OrderPolicy> {
            prop_oneof![
                Just(OrderPolicy::job_owned()),
                Just(OrderPolicy::shared_server(Duration::from_secs(10))),
            ]
        }

        /// Which of the numbers 0..n are skipped (n from the length), and an order to resolve
        /// them in.
        fn skips_and_order(max: usize) -> impl Strategy<Value = (Vec<bool>, Vec<u64>)> {
            prop::collection::vec(any::<bool>(), 0..max).prop_flat_map(|skipped| {
                let order = (0..skipped.len() as u64).collect::<Vec<_>>();
                (Just(skipped), Just(order).prop_shuffle())
            })
        }

        /// Resolves one job's numbers in `order`, checking after each step that exactly the
        /// records of the gap-free resolved prefix were written; returns the output.
        fn resolve_all(
            buffer: &mut ReorderBuffer,
            skipped: &[bool],
            order: &[u64],
        ) -> Result<Vec<u8>, TestCaseError> {
            let now = Instant::now();
            let mut out = Vec::new();
            let mut resolved = vec![false; skipped.len()];
            for &seq in order {
                let value = (!skipped[seq as usize]).then(|| record("j", seq));
                let resolution = buffer.resolve("j", seq, value, now, &mut out);
                prop_assert_eq!(resolution, Resolution::Accepted);
                resolved[seq as usize] = true;
                let written = expected("j", skipped, resolved_prefix(&resolved));
                prop_assert_eq!(String::from_utf8(out.clone()).unwrap(), written);
            }
            Ok(out)
        }

        proptest! {
            #[test]
            fn any_completion_order_writes_every_record_once_in_input_order(
                policy in policy(),
                order in (0..48u64).prop_flat_map(|n| Just((0..n).collect::<Vec<_>>()).prop_shuffle()),
            ) {
                let mut buffer = ReorderBuffer::new(policy, 0);
                let skipped = vec![false; order.len()];
                let out = resolve_all(&mut buffer, &skipped, &order)?;
                prop_assert_eq!(text(&out), expected("j", &skipped, order.len()));
            }

            #[test]
            fn skipped_numbers_leave_the_others_in_order(
                policy in policy(),
                (skipped, order) in skips_and_order(48),
            ) {
                let mut buffer = ReorderBuffer::new(policy, 0);
                let out = resolve_all(&mut buffer, &skipped, &order)?;
                prop_assert_eq!(text(&out), expected("j", &skipped, skipped.len()));
            }

            /// Repeats come at random points, before or after the number was written; each
            /// token's kind (record or skip) is random, and the first token of a number decides.
            #[test]
            fn the_first_resolution_of_a_number_is_final(
                policy in policy(),
                tokens in prop::collection::vec(any::<bool>(), 1..40).prop_flat_map(|firsts| {
                    let n = firsts.len() as u64;
                    let repeats = prop::collection::vec((0..n, any::<bool>()), 0..40);
                    (Just(firsts), repeats).prop_flat_map(|(firsts, repeats)| {
                        let all: Vec<(u64, bool)> = firsts
                            .into_iter()
                            .enumerate()
                            .map(|(seq, with_record)| (seq as u64, with_record))
                            .chain(repeats)
                            .collect();
                        Just(all).prop_shuffle()
                    })
                }),
            ) {
                let n = tokens.iter().map(|(seq, _)| seq + 1).max().unwrap() as usize;
                let mut buffer = ReorderBuffer::new(policy, 0);
                let now = Instant::now();
                let mut out = Vec::new();
                let mut first: HashMap<u64, bool> = HashMap::new();
                for (seq, with_record) in tokens {
                    let value = with_record.then(|| match first.contains_key(&seq) {
                        false => record("j", seq),
                        true => repeat_record("j", seq),
                    });
                    let before = out.clone();
                    let resolution = buffer.resolve("j", seq, value, now, &mut out);
                    match first.get(&seq) {
                        None => {
                            prop_assert_eq!(resolution, Resolution::Accepted);
                            first.insert(seq, with_record);
                        }
                        Some(&first_had_record) => {
                            let documented = match first_had_record {
                                true => Resolution::AlreadyWritten,
                                false => Resolution::AlreadySkipped,
                            };
                            prop_assert_eq!(resolution, documented);
                            prop_assert_eq!(&out, &before, "a repeat wrote something");
                        }
                    }
                }
                let skipped: Vec<bool> = (0..n as u64).map(|seq| !first[&seq]).collect();
                prop_assert_eq!(text(&out), expected("j", &skipped, n));
            }

            /// Two or three jobs resolve their own numbers, interleaved at random.
            #[test]
            fn interleaved_jobs_keep_their_own_order(
                policy in policy(),
                report_len in 0..10_000u64,
                tokens in prop::collection::vec(prop::collection::vec(any::<bool>(), 0..24), 2..=3)
                    .prop_flat_map(|jobs| {
                        let all: Vec<(usize, u64, bool)> = jobs
                            .iter()
                            .enumerate()
                            .flat_map(|(job, skips)| {
                                skips.iter().enumerate().map(move |(seq, &skip)| (job, seq as u64, skip))
                            })
                            .collect();
                        (Just(jobs), Just(all).prop_shuffle())
                    }),
            ) {
                let (jobs, order) = tokens;
                let names = ["alpha", "b", "job-c"];
                let mut buffer = ReorderBuffer::new(policy, report_len);
                let now = Instant::now();
                let mut out = Vec::new();
                let mut resolved: Vec<Vec<bool>> =
                    jobs.iter().map(|skips| vec![false; skips.len()]).collect();
                for (job, seq, skip) in order {
                    let value = (!skip).then(|| record(names[job], seq));
                    let resolution = buffer.resolve(names[job], seq, value, now, &mut out);
                    prop_assert_eq!(resolution, Resolution::Accepted);
                    resolved[job][seq as usize] = true;
                    // Every job's written records are exactly its gap-free resolved prefix.
                    for (other, skips) in jobs.iter().enumerate() {
                        let own: String = text(&out)
                            .lines()
                            .filter(|line| line.starts_with(&format!("{}:", names[other])))
                            .map(|line| format!("{line}\n"))
                            .collect();
                        let end = resolved_prefix(&resolved[other]);
                        prop_assert_eq!(own, expected(names[other], skips, end));
                    }
                }
                prop_assert_eq!(buffer.report_len, report_len + out.len() as u64);
                // Where each record starts in the report.
                let mut starts = HashMap::new();
                let mut at = report_len;
                for line in text(&out).split_inclusive('\n') {
                    starts.insert(line.to_string(), at);
                    at += line.len() as u64;
                }
                // length_before(job, seq) is where the job's first record numbered seq or
                // later starts, or the report's end; asked in increasing order, as a
                // checkpoint does (it forgets what lies below).
                for (job, skips) in jobs.iter().enumerate() {
                    for seq in 0..=skips.len() {
                        let next_record = (seq..skips.len()).find(|&next| !skips[next]);
                        let want = next_record
                            .map_or(report_len + out.len() as u64, |next| {
                                starts[&record(names[job], next as u64)]
                            });
                        prop_assert_eq!(buffer.length_before(names[job], seq as u64), want);
                    }
                }
            }

            /// At each checkpoint (the first number not yet resolved), cutting the report at
            /// `length_before` keeps exactly the records numbered below it; afterwards, any
            /// number cuts between its records, and offsets below it are forgotten.
            #[test]
            fn length_before_cuts_the_report_after_exactly_the_resolved_numbers(
                policy in policy(),
                report_len in 0..10_000u64,
                (skipped, order) in skips_and_order(48),
                checkpoints in prop::collection::vec(any::<bool>(), 48),
            ) {
                let mut buffer = ReorderBuffer::new(policy, report_len);
                let now = Instant::now();
                let mut out = Vec::new();
                let mut resolved = vec![false; skipped.len()];
                let mut asked = 0;
                for (&seq, checkpoint) in order.iter().zip(checkpoints) {
                    let value = (!skipped[seq as usize]).then(|| record("j", seq));
                    buffer.resolve("j", seq, value, now, &mut out);
                    resolved[seq as usize] = true;
                    if checkpoint {
                        asked = resolved_prefix(&resolved);
                        let cut = buffer.length_before("j", asked as u64) - report_len;
                        prop_assert_eq!(text(&out[..cut as usize]), expected("j", &skipped, asked));
                        prop_assert_eq!(cut, out.len() as u64, "nothing at or past the checkpoint was written yet");
                    }
                }
                for seq in asked..=skipped.len() {
                    let cut = buffer.length_before("j", seq as u64) - report_len;
                    prop_assert_eq!(text(&out[..cut as usize]), expected("j", &skipped, seq));
                    let forgotten = |order: &JobOrder| order.offsets.keys().all(|&kept| kept >= seq as u64);
                    prop_assert!(buffer.jobs.get("j").is_none_or(forgotten));
                }
            }

            /// On a shared server, numbers passed over at stop still land exactly once when
            /// they arrive late (or are skipped), and are final from then on.
            #[test]
            fn passed_over_numbers_land_once_when_they_arrive_late(
                arrivals in prop::collection::vec((any::<bool>(), any::<bool>()), 1..40)
                    .prop_flat_map(|numbers| {
                        let order = (0..numbers.len() as u64).collect::<Vec<_>>();
                        (Just(numbers), Just(order).prop_shuffle())
                    }),
            ) {
                // numbers[seq] = (arrives before the stop, with a record); the last number always
                // arrives before the stop, so every late one is below the job's next number.
                let (mut numbers, order) = arrivals;
                let last = numbers.len() - 1;
                numbers[last].0 = true;
                let mut buffer = shared();
                let now = Instant::now();
                let mut out = Vec::new();
                let before_stop: Vec<u64> =
                    order.iter().copied().filter(|&seq| numbers[seq as usize].0).collect();
                for &seq in &before_stop {
                    let value = numbers[seq as usize].1.then(|| record("j", seq));
                    prop_assert_eq!(buffer.resolve("j", seq, value, now, &mut out), Resolution::Accepted);
                }
                buffer.flush_on_stop(now, &mut out);
                let mut on_time: Vec<u64> =
                    before_stop.iter().copied().filter(|&seq| numbers[seq as usize].1).collect();
                on_time.sort_unstable();
                let mut want: String = on_time.iter().map(|&seq| record("j", seq)).collect();
                prop_assert_eq!(text(&out), want.clone());
                for &seq in order.iter().filter(|&&seq| !numbers[seq as usize].0) {
                    let with_record = numbers[seq as usize].1;
                    let value = with_record.then(|| record("j", seq));
                    prop_assert_eq!(buffer.resolve("j", seq, value, now, &mut out), Resolution::Accepted);
                    if with_record {
                        want.push_str(&record("j", seq));
                    }
                    prop_assert_eq!(text(&out), want.clone());
                }
                for seq in 0..numbers.len() as u64 {
                    let documented = match numbers[seq as usize].1 {
                        true => Resolution::AlreadyWritten,
                        false => Resolution::AlreadySkipped,
                    };
                    let again = buffer.resolve("j", seq, Some(repeat_record("j", seq)), now, &mut out);
                    prop_assert_eq!(again, documented);
                    prop_assert_eq!(buffer.resolve("j", seq, None, now, &mut out), documented);
                }
                prop_assert_eq!(text(&out), want);
            }
        }
    }
}
