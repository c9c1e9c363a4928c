//! The sampling audit log (`--audit-log FILE`): one JSON line per sampling request the client
//! received, with what it sent to the LLM (after redaction) and the answer or the refusal.
//! Each line is appended with a single write, so a crash never leaves half a line behind
//! another.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::llm::{ChatRole, Completion, CompletionRequest};

/// An append-only JSONL file of sampling requests and answers.
pub struct AuditLog {
    server: String,
    file: Mutex<File>,
}

/// What became of one sampling request.
pub enum AuditOutcome<'a> {
    Answered(&'a Completion),
    /// Refused by the client's policy, never sent to the LLM.
    Refused(&'a str),
    /// Sent, but the LLM request failed.
    Failed {
        kind: &'a str,
        message: &'a str,
    },
}

#[derive(Serialize)]
struct AuditRecord<'a> {
    time: String,
    server: &'a str,
    outcome: &'static str,
    /// The `maxTokens` the server asked for.
    requested_max_tokens: u32,
    /// What was sent; absent when the request was refused before mapping.
    #[serde(skip_serializing_if = "Option::is_none")]
    request: Option<SentRequest<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    answer: Option<Answer<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorRecord<'a>>,
    latency_ms: u64,
}

#[derive(Serialize)]
struct SentRequest<'a> {
    model: Option<&'a str>,
    system: Option<&'a str>,
    messages: Vec<Message<'a>>,
    max_tokens: u32,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    text: &'a str,
}

#[derive(Serialize)]
struct Answer<'a> {
    model: &'a str,
    text: &'a str,
    input_tokens: u64,
    output_tokens: u64,
}

#[derive(Serialize)]
struct ErrorRecord<'a> {
    kind: &'a str,
    message: &'a str,
}

impl AuditLog {
    /// Opens (or creates) `path` for appending the requests of `server`.
    pub fn open(path: &Path, server: impl Into<String>) -> anyhow::Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|error| {
                anyhow::anyhow!("cannot open audit log '{}': {error}", path.display())
            })?;
        Ok(Self {
            server: server.into(),
            file: Mutex::new(file),
        })
    }

    /// Appends one request's record. A failed write is logged, not fatal: the answer matters
    /// more to the job than its audit line.
    pub fn record(
        &self,
        requested_max_tokens: u32,
        request: Option<&CompletionRequest>,
        outcome: AuditOutcome<'_>,
        latency: Duration,
    ) {
        let (label, answer, error) = match outcome {
            AuditOutcome::Answered(completion) => (
                "answered",
                Some(Answer {
                    model: &completion.model,
                    text: &completion.text,
                    input_tokens: completion.usage.input_tokens,
                    output_tokens: completion.usage.output_tokens,
                }),
                None,
            ),
            AuditOutcome::Refused(reason) => (
                "refused",
                None,
                Some(ErrorRecord {
                    kind: "sampling_refused",
                    message: reason,
                }),
            ),
            AuditOutcome::Failed { kind, message } => {
                ("failed", None, Some(ErrorRecord { kind, message }))
            }
        };
        let record = AuditRecord {
            time: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            server: &self.server,
            outcome: label,
            requested_max_tokens,
            request: request.map(|request| SentRequest {
                model: request.model.as_deref(),
                system: request.system.as_deref(),
                messages: request
                    .messages
                    .iter()
                    .map(|message| Message {
                        role: match message.role {
                            ChatRole::User => "user",
                            ChatRole::Assistant => "assistant",
                        },
                        text: &message.text,
                    })
                    .collect(),
                max_tokens: request.max_tokens,
            }),
            answer,
            error,
            latency_ms: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
        };
        let mut line = serde_json::to_vec(&record).expect("audit records serialize");
        line.push(b'\n');
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Err(error) = file.write_all(&line) {
            tracing::error!(%error, "cannot write the audit log");
        }
    }
}
