//! What travels between our client and our server beyond the original tool call: the ordering
//! information of bulk jobs, where an entry came from, what an answer cost, the classified
//! reason a call failed, the places and outcomes of a batched call (`process_log_entries`), the
//! request that releases an entry the client gave up on (other clients and servers ignore all
//! of it), and where the log line sits in a sampling prompt.

use rmcp::model::{JsonObject, MetaObject};
use serde::{Deserialize, Serialize};

/// `_meta` key of a `tools/call` request carrying its place in a job: `{"job": "...", "seq": N}`.
pub const ORDER_META_KEY: &str = "log-archiver/order";
/// `_meta` key of a `tools/call` request telling where its entry came from: `EntrySource`.
pub const ENTRY_META_KEY: &str = "log-archiver/entry";
/// `_meta` key of a `process_log_entries` request giving each line's place: `BatchPlaces`.
pub const BATCH_META_KEY: &str = "log-archiver/batch";
/// `_meta` key of a sampling result telling what the answer cost: `AnswerNote`.
pub const ANSWER_META_KEY: &str = "log-archiver/answer";
/// `_meta` key of a failed tool result carrying the classified failure.
pub const FAILURE_META_KEY: &str = "log-archiver/failure";
/// Custom request a client sends for an entry it gave up on, with `EntryOrder` params, so the
/// server's writer does not wait for it. A request rather than a notification: servers on
/// 2026-07-28 drop client notifications over HTTP. The result is a `SkipReply`.
pub const SKIP_REQUEST: &str = "log-archiver/skip";

/// The answer to a skip request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkipReply {
    /// A record for the entry got there first; it is in the report.
    pub already_written: bool,
}

/// An entry's place in a job: jobs number their entries 0, 1, 2, ... in input order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryOrder {
    pub job: String,
    pub seq: u64,
}

/// Where an entry came from, for structured reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntrySource {
    /// The input's name (its path as given, or `-` for standard input), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The entry's first line number in the input.
    pub line: u64,
}

/// Where each line of a `process_log_entries` call belongs, in the order of its `log_lines`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchPlaces {
    pub job: String,
    /// The input's name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub entries: Vec<EntryPlace>,
}

/// One line's number in its job and its first line number in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryPlace {
    pub seq: u64,
    pub line: u64,
}

/// The structured content of a `process_log_entries` result: one outcome per line, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchOutcomes {
    pub entries: Vec<EntryOutcome>,
}

/// What became of one line of a `process_log_entries` call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum EntryOutcome {
    Archived,
    Failed {
        message: String,
        #[serde(flatten)]
        detail: FailureDetail,
    },
}

/// The key under which a `process_log_entries` call asks for the explanation of its line
/// `index` (on 2026-07-28), and under which the client answers it.
pub fn batch_answer_key(index: usize) -> String {
    format!("explanation/{index}")
}

/// The line a `batch_answer_key` stands for.
pub fn batch_answer_index(key: &str) -> Option<usize> {
    key.strip_prefix("explanation/")?.parse().ok()
}

/// What producing a sampling answer took, for structured reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerNote {
    /// How long the client took to answer, in milliseconds.
    pub latency_ms: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Shared from an earlier, equal entry (the tokens are then 0).
    pub cached: bool,
    /// The message template the entry was grouped under, when grouping by template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// The stable id of the group of entries sharing the explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
}

/// Why a call failed, in machine-readable form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureDetail {
    /// A stable kind such as `llm_rate_limited`, `sampling_timeout` or `report_write`.
    pub kind: String,
    /// LLM attempts made for this entry, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
}

/// The `data` of a JSON-RPC error carrying a classified failure, under `FAILURE_META_KEY` so
/// it is not mistaken for another program's error data.
pub fn failure_error_data(detail: &FailureDetail) -> serde_json::Value {
    serde_json::Value::Object(meta_with(FAILURE_META_KEY, detail).0)
}

/// The classified failure in the `data` of a JSON-RPC error, if it carries one.
pub fn failure_in_error_data(data: Option<&serde_json::Value>) -> Option<FailureDetail> {
    data?
        .as_object()
        .and_then(|data| read_meta(data, FAILURE_META_KEY))
}

/// The log line inside a prompt: the last `<log_line>` block, else the text after the
/// legacy prompt's "in one concise sentence: ", else the last non-empty line.
pub fn log_line_in_prompt(prompt: &str) -> &str {
    const OPEN: &str = "<log_line>";
    const CLOSE: &str = "</log_line>";
    const LEGACY_MARKER: &str = "in one concise sentence: ";
    if let Some(close) = prompt.rfind(CLOSE)
        && let Some(open) = prompt[..close].rfind(OPEN)
    {
        return prompt[open + OPEN.len()..close].trim();
    }
    if let Some(at) = prompt.find(LEGACY_MARKER) {
        return prompt[at + LEGACY_MARKER.len()..].trim();
    }
    prompt
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("")
}

/// Reads a typed value stored under `key` in a `_meta` object.
pub fn read_meta<T: for<'de> Deserialize<'de>>(meta: &JsonObject, key: &str) -> Option<T> {
    meta.get(key)
        .and_then(|value| serde_json::from_value(value.clone()).ok())
}

/// A `_meta` object holding `value` under `key`.
pub fn meta_with<T: Serialize>(key: &str, value: &T) -> MetaObject {
    let mut object = JsonObject::new();
    object.insert(
        key.to_string(),
        serde_json::to_value(value).expect("meta values serialize"),
    );
    MetaObject(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_log_line_in_prompts() {
        assert_eq!(
            log_line_in_prompt("Explain:\n<log_line>\nERROR x\n</log_line>"),
            "ERROR x"
        );
        assert_eq!(
            log_line_in_prompt(
                "You are a Site Reliability Engineer. Explain this log error in one concise sentence: ERROR y"
            ),
            "ERROR y"
        );
        assert_eq!(log_line_in_prompt("first\nERROR z\n"), "ERROR z");
    }

    #[test]
    fn batch_keys_name_their_line() {
        assert_eq!(batch_answer_index(&batch_answer_key(17)), Some(17));
        assert_eq!(batch_answer_index("explanation"), None);
        assert_eq!(batch_answer_index("explanation/x"), None);
    }

    #[test]
    fn entry_outcomes_are_tagged_by_status() {
        let failed = EntryOutcome::Failed {
            message: "no".into(),
            detail: FailureDetail {
                kind: "llm_rate_limited".into(),
                attempts: Some(3),
            },
        };
        assert_eq!(
            serde_json::to_value(&failed).unwrap(),
            serde_json::json!({"status": "failed", "message": "no", "kind": "llm_rate_limited", "attempts": 3})
        );
        assert_eq!(
            serde_json::to_value(EntryOutcome::Archived).unwrap(),
            serde_json::json!({"status": "archived"})
        );
    }

    #[test]
    fn order_round_trips_through_meta() {
        let order = EntryOrder {
            job: "j1".into(),
            seq: 42,
        };
        let meta = meta_with(ORDER_META_KEY, &order);
        assert_eq!(
            read_meta::<EntryOrder>(&meta.0, ORDER_META_KEY),
            Some(order)
        );
        assert_eq!(read_meta::<EntryOrder>(&meta.0, "other"), None);
    }
}
