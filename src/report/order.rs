//! The reorder buffer: puts each job's records into input order, whatever order they complete
//! in. A job numbers its entries 0, 1, 2, ...; each number is resolved once, with a record or as
//! a skip (the entry failed). A gap that stays open too long, or a buffer that grows too large,
//! is passed over so a vanished client never wedges the writer; a record that arrives for a
//! passed-over number is still written (late), and a number resolved twice is written once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// Identifies one job's sequence of entries.
pub type JobId = String;

/// How the buffer bounds itself.
#[derive(Debug, Clone, Copy)]
pub struct OrderLimits {
    /// How long a gap may block later records before it is passed over.
    pub gap_timeout: Duration,
    /// How many records one job may hold waiting for a gap before the gap is passed over.
    pub max_pending: usize,
    /// How long an idle job's bookkeeping is kept.
    pub idle_job_ttl: Duration,
}

impl Default for OrderLimits {
    fn default() -> Self {
        Self {
            gap_timeout: Duration::from_secs(150),
            max_pending: 10_000,
            idle_job_ttl: Duration::from_secs(3600),
        }
    }
}

impl OrderLimits {
    /// Limits for a server whose sampling calls may take up to `sampling_timeout`: a gap is
    /// waited for somewhat longer than the slowest call.
    pub fn for_sampling_timeout(sampling_timeout: Duration) -> Self {
        Self {
            gap_timeout: sampling_timeout + Duration::from_secs(30),
            ..Self::default()
        }
    }
}

/// What became of a resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// First resolution of this number: it will be (or was) written in order.
    Accepted,
    /// This number was already resolved: nothing more is written.
    Duplicate,
}

/// Most passed-over numbers remembered per job, for late arrivals.
const MAX_PASSED_OVER: usize = 100_000;

#[derive(Default)]
struct JobOrder {
    next_seq: u64,
    /// Resolved numbers waiting for a gap: `None` is a skip.
    pending: BTreeMap<u64, Option<String>>,
    /// Numbers below `next_seq` that were passed over unresolved.
    passed_over: BTreeSet<u64>,
    /// Report length just before each written record, for checkpoints.
    offsets: BTreeMap<u64, u64>,
    last_progress: Option<Instant>,
}

/// Orders the records of every job writing to one report, and tracks the report's length.
pub struct ReorderBuffer {
    jobs: HashMap<JobId, JobOrder>,
    limits: OrderLimits,
    report_len: u64,
}

impl ReorderBuffer {
    /// A buffer for a report that already holds `report_len` bytes.
    pub fn new(limits: OrderLimits, report_len: u64) -> Self {
        Self {
            jobs: HashMap::new(),
            limits,
            report_len,
        }
    }

    /// A record without ordering information: written at once. Returns the bytes to append.
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
        let order = self.jobs.entry(job.to_string()).or_default();
        order.last_progress.get_or_insert(now);
        if seq < order.next_seq {
            if !order.passed_over.remove(&seq) {
                return Resolution::Duplicate;
            }
            tracing::warn!(job, seq, "a late record is appended out of order");
            if let Some(record) = record {
                let offset = self.report_len;
                self.emit(record, out);
                self.jobs
                    .get_mut(job)
                    .expect("job exists")
                    .offsets
                    .insert(seq, offset);
            }
            return Resolution::Accepted;
        }
        if order.pending.contains_key(&seq) {
            return Resolution::Duplicate;
        }
        order.pending.insert(seq, record);
        let over_capacity = order.pending.len() > self.limits.max_pending;
        self.flush_job(job, now, out);
        if over_capacity {
            self.pass_over_gap(job, now, out);
        }
        Resolution::Accepted
    }

    /// Passes over gaps that have blocked their job longer than the gap timeout, and forgets
    /// jobs idle longer than their time to live.
    pub fn expire(&mut self, now: Instant, out: &mut Vec<u8>) {
        let limits = self.limits;
        let stuck: Vec<JobId> = self
            .jobs
            .iter()
            .filter(|(_, order)| {
                !order.pending.is_empty()
                    && order
                        .last_progress
                        .is_some_and(|at| now.duration_since(at) >= limits.gap_timeout)
            })
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
                    .is_none_or(|at| now.duration_since(at) < limits.idle_job_ttl)
        });
    }

    /// The report's length just before the first record of `job` numbered `seq` or later, i.e.
    /// the length of the report holding exactly what this job resolved below `seq` (plus other
    /// jobs' records). Forgets offsets below `seq`.
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
            if let Some(record) = record {
                let offset = self.report_len;
                self.jobs
                    .get_mut(job)
                    .expect("job exists")
                    .offsets
                    .insert(next, offset);
                self.emit(record, out);
            }
        }
    }

    fn pass_over_gap(&mut self, job: &str, now: Instant, out: &mut Vec<u8>) {
        let order = self.jobs.get_mut(job).expect("job exists");
        let Some(&first_pending) = order.pending.keys().next() else {
            return;
        };
        order.passed_over.extend(order.next_seq..first_pending);
        while order.passed_over.len() > MAX_PASSED_OVER {
            order.passed_over.pop_first();
        }
        order.next_seq = first_pending;
        self.flush_job(job, now, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(out: &[u8]) -> String {
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn any_completion_order_gives_input_order() {
        let mut buffer = ReorderBuffer::new(OrderLimits::default(), 0);
        let now = Instant::now();
        let mut out = Vec::new();
        for seq in [3u64, 1, 4, 0, 2] {
            buffer.resolve("job", seq, Some(format!("{seq}\n")), now, &mut out);
        }
        assert_eq!(text(&out), "0\n1\n2\n3\n4\n");
        assert_eq!(buffer.length_before("job", 5), 10);
    }

    #[test]
    fn skips_do_not_block_and_duplicates_are_written_once() {
        let mut buffer = ReorderBuffer::new(OrderLimits::default(), 0);
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
            Resolution::Duplicate
        );
        assert_eq!(
            buffer.resolve("j", 0, Some("a\n".into()), now, &mut out),
            Resolution::Duplicate
        );
        assert_eq!(text(&out), "b\n");
    }

    #[test]
    fn jobs_are_ordered_independently() {
        let mut buffer = ReorderBuffer::new(OrderLimits::default(), 0);
        let now = Instant::now();
        let mut out = Vec::new();
        buffer.resolve("a", 1, Some("a1\n".into()), now, &mut out);
        buffer.resolve("b", 0, Some("b0\n".into()), now, &mut out);
        buffer.resolve("a", 0, Some("a0\n".into()), now, &mut out);
        assert_eq!(text(&out), "b0\na0\na1\n");
    }

    #[test]
    fn a_stuck_gap_is_passed_over_and_a_late_record_still_lands_once() {
        let limits = OrderLimits {
            gap_timeout: Duration::from_secs(10),
            ..OrderLimits::default()
        };
        let mut buffer = ReorderBuffer::new(limits, 0);
        let start = Instant::now();
        let mut out = Vec::new();
        buffer.resolve("j", 1, Some("b\n".into()), start, &mut out);
        buffer.expire(start + Duration::from_secs(5), &mut out);
        assert_eq!(text(&out), "");
        buffer.expire(start + Duration::from_secs(11), &mut out);
        assert_eq!(text(&out), "b\n");
        let late = buffer.resolve("j", 0, Some("a\n".into()), start, &mut out);
        assert_eq!(late, Resolution::Accepted);
        assert_eq!(
            buffer.resolve("j", 0, Some("a\n".into()), start, &mut out),
            Resolution::Duplicate
        );
        assert_eq!(text(&out), "b\na\n");
    }

    #[test]
    fn the_buffer_is_bounded() {
        let limits = OrderLimits {
            max_pending: 3,
            ..OrderLimits::default()
        };
        let mut buffer = ReorderBuffer::new(limits, 0);
        let now = Instant::now();
        let mut out = Vec::new();
        for seq in 1..=4 {
            buffer.resolve("j", seq, Some(format!("{seq}\n")), now, &mut out);
        }
        assert_eq!(text(&out), "1\n2\n3\n4\n");
    }

    #[test]
    fn length_before_cuts_exactly_between_records() {
        let mut buffer = ReorderBuffer::new(OrderLimits::default(), 100);
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
