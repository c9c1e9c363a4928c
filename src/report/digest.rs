//! The incident digest: a report's records grouped into kinds, counted and dated, the most
//! severe first, so an engineer reads what happened instead of every record.
//!
//! A kind is the records that share a `template_id` (reports of `--dedup template`); records
//! without one (text reports, other modes) are grouped by their explanation. Each kind keeps its
//! level, count, first and last line number and timestamp, template, explanation, a few example
//! lines and where in the log it occurred. Levels and timestamps come from the log lines'
//! headers, found as template grouping finds them. Kinds absent from a baseline report are new.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::format::EntryRecord;
use crate::dedup::header::{HeaderFormat, SAMPLE_LINES};
use crate::llm::PriceTable;
use crate::pipeline::filter::{Level, level_of};

/// How many example lines a kind keeps.
const EXAMPLES: usize = 3;

/// One kind of records.
#[derive(Debug, Clone, Serialize)]
pub struct DigestKind {
    /// What groups the kind: its template id, or its explanation.
    pub key: String,
    /// The level its lines state (upper case), if any.
    pub level: Option<&'static str>,
    pub count: u64,
    pub first_line: Option<u64>,
    pub last_line: Option<u64>,
    pub first_time: Option<String>,
    pub last_time: Option<String>,
    pub template: Option<String>,
    pub explanation: String,
    /// Up to three distinct lines of the kind, the first ones.
    pub examples: Vec<String>,
    /// Not in the baseline report (always false without one).
    pub new: bool,
    /// Where the kind's records sit in the log: line numbers (or record numbers when the report
    /// has none), in order.
    #[serde(skip)]
    pub positions: Vec<u64>,
    #[serde(skip)]
    severity: Option<Level>,
}

/// A whole report's digest.
#[derive(Debug, Clone, Serialize)]
pub struct Digest {
    pub records: u64,
    pub kinds: Vec<DigestKind>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// The estimated cost of the records' LLM calls at list prices, when every model's prices
    /// are known.
    pub estimated_cost_usd: Option<f64>,
    /// The highest line (or record) number, for drawing where kinds occur.
    pub last_position: u64,
    /// Whether a baseline was given, so that `new` means something.
    pub with_baseline: bool,
}

/// Builds a digest from records read one at a time.
#[derive(Default)]
pub struct DigestBuilder {
    records: u64,
    kinds: Vec<DigestKind>,
    index: HashMap<String, usize>,
    sample: Vec<String>,
    tokens_by_model: HashMap<String, (u64, u64)>,
}

impl DigestBuilder {
    pub fn add(&mut self, record: &EntryRecord) {
        self.records += 1;
        let position = record.line.unwrap_or(self.records);
        if self.sample.len() < SAMPLE_LINES {
            self.sample.push(record.raw.clone());
        }
        if let Some(model) = &record.model {
            let tokens = self.tokens_by_model.entry(model.clone()).or_default();
            tokens.0 += record.input_tokens.unwrap_or(0);
            tokens.1 += record.output_tokens.unwrap_or(0);
        }
        let key = kind_key(record);
        let at = *self.index.entry(key.clone()).or_insert_with(|| {
            self.kinds.push(DigestKind {
                key,
                level: None,
                count: 0,
                first_line: record.line,
                last_line: None,
                first_time: None,
                last_time: None,
                template: record.template.clone(),
                explanation: record.analysis.clone(),
                examples: Vec::new(),
                new: false,
                positions: Vec::new(),
                severity: None,
            });
            self.kinds.len() - 1
        });
        let kind = &mut self.kinds[at];
        kind.count += 1;
        kind.last_line = record.line;
        kind.positions.push(position);
        if kind.examples.len() < EXAMPLES && !kind.examples.contains(&record.raw) {
            kind.examples.push(record.raw.clone());
        }
        // The last line is kept in `last_time` until the header is known.
        kind.last_time = Some(record.raw.clone());
    }

    /// The digest, kinds most severe first and then most frequent; kinds whose keys `baseline`
    /// lacks are new.
    pub fn finish(mut self, baseline: Option<&HashSet<String>>) -> Digest {
        let header = HeaderFormat::detect(self.sample.iter().map(String::as_str));
        let mut last_position = 0;
        for kind in &mut self.kinds {
            let first = header.split(&kind.examples[0]);
            let last_raw = kind.last_time.take().unwrap_or_default();
            let last = header.split(&last_raw);
            kind.severity = first.level.or_else(|| level_of(&kind.examples[0]));
            kind.level = kind.severity.map(Level::name);
            kind.first_time = first.timestamp.map(str::to_string);
            kind.last_time = last.timestamp.map(str::to_string);
            kind.new = baseline.is_some_and(|keys| !keys.contains(&kind.key));
            last_position = last_position.max(kind.positions.last().copied().unwrap_or(0));
        }
        self.kinds.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(b.count.cmp(&a.count))
                .then_with(|| a.key.cmp(&b.key))
        });
        let (input_tokens, output_tokens) = self
            .tokens_by_model
            .values()
            .fold((0, 0), |(i, o), (mi, mo)| (i + mi, o + mo));
        Digest {
            records: self.records,
            kinds: self.kinds,
            input_tokens,
            output_tokens,
            estimated_cost_usd: PriceTable::default().cost(&self.tokens_by_model),
            last_position,
            with_baseline: baseline.is_some(),
        }
    }
}

/// What groups a record into a kind: its template id, else its explanation.
pub fn kind_key(record: &EntryRecord) -> String {
    match &record.template_id {
        Some(id) => format!("template:{id}"),
        None => format!("analysis:{}", record.analysis),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(line: u64, raw: &str, analysis: &str, template_id: Option<&str>) -> EntryRecord {
        EntryRecord {
            source: None,
            line: Some(line),
            raw: raw.into(),
            analysis: analysis.into(),
            model: Some("offline-rules".into()),
            input_tokens: Some(0),
            output_tokens: Some(0),
            latency_ms: None,
            cached: None,
            template_id: template_id.map(str::to_string),
            template: None,
        }
    }

    #[test]
    fn kinds_are_counted_dated_and_ordered_by_level_then_count() {
        let mut builder = DigestBuilder::default();
        let lines = [
            ("2026-11-29 10:00:01 INFO db: up", "a"),
            ("2026-11-29 10:00:02 ERROR db: down", "b"),
            ("2026-11-29 10:00:03 INFO db: up", "a"),
            ("2026-11-29 10:00:04 INFO db: up", "a"),
            ("2026-11-29 10:00:05 ERROR db: down", "b"),
        ];
        for (index, (raw, id)) in lines.iter().enumerate() {
            builder.add(&record(
                index as u64 + 1,
                raw,
                &format!("explains {id}"),
                Some(id),
            ));
        }
        let baseline: HashSet<String> = ["template:a".to_string()].into();
        let digest = builder.finish(Some(&baseline));
        assert_eq!(digest.records, 5);
        let [error, info] = &digest.kinds[..] else {
            panic!("two kinds: {:?}", digest.kinds)
        };
        assert_eq!(error.level, Some("ERROR"));
        assert_eq!(
            (error.count, error.first_line, error.last_line),
            (2, Some(2), Some(5))
        );
        assert_eq!(error.first_time.as_deref(), Some("2026-11-29 10:00:02"));
        assert_eq!(error.last_time.as_deref(), Some("2026-11-29 10:00:05"));
        assert!(error.new);
        assert_eq!(info.count, 3);
        assert!(!info.new);
        assert_eq!(info.examples.len(), 3, "the first three distinct lines");
        assert_eq!(info.examples[0], "2026-11-29 10:00:01 INFO db: up");
        assert_eq!(info.positions, [1, 3, 4]);
    }

    #[test]
    fn records_without_templates_group_by_explanation() {
        let mut builder = DigestBuilder::default();
        for (raw, analysis) in [("x 1", "same"), ("x 2", "same"), ("y", "other")] {
            builder.add(&EntryRecord {
                line: None,
                ..record(0, raw, analysis, None)
            });
        }
        let digest = builder.finish(None);
        assert_eq!(digest.kinds.len(), 2);
        assert_eq!(digest.kinds[0].count, 2);
        assert_eq!(
            digest.kinds[0].positions,
            [1, 2],
            "record numbers stand in for lines"
        );
        assert!(!digest.with_baseline);
    }
}
