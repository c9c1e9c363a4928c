//! Explain each kind of log message once. Repeated entries still get their own records, in
//! order, written by the server; what is deduplicated is the LLM call: the client answers a
//! sampling request whose log line was already explained from its cache.
//!
//! - `exact`: identical entries (after trimming) share one explanation.
//! - `template`: entries are grouped by message template, mined online (`templates`); the first
//!   entry of a template is explained with a note that its variable parts vary, and the others
//!   share that explanation.
//!
//! Concurrent requests for the same key wait for the first one instead of calling the LLM too;
//! a failed or empty explanation is not cached, so the next entry of the kind tries again. Explanations
//! are also kept in a file beside the report, so `retry`, `--resume` and later jobs on the same
//! report do not pay twice for a kind already explained.

pub mod grouping;
pub mod header;
pub mod templates;

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use self::grouping::{EntryKind, GroupBook, KindId};
use self::templates::{MinerConfig, TemplateId, TemplateMiner};
use crate::llm::{
    Completion, CompletionFuture, CompletionRequest, LlmBackend, LlmError, Sharing, TokenUsage,
    template_note,
};
use crate::protocol::log_line_in_prompt;

/// How entries are grouped to share an explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DedupMode {
    /// Every entry is explained on its own.
    Off,
    /// Identical entries (after trimming) share one explanation.
    Exact,
    /// Entries with the same message template share one explanation.
    Template,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Line(String),
    Template(TemplateId),
    Kind(KindId),
}

/// One explanation kept on disk.
#[derive(serde::Serialize, serde::Deserialize)]
struct Kept {
    /// `line:` and the prompt, or `template:` and the template.
    key: String,
    model: String,
    text: String,
}

/// Explanations kept in a JSON-lines file: those of earlier runs, and an appender for new ones.
struct Store {
    earlier: HashMap<String, Completion>,
    file: Mutex<File>,
}

impl Store {
    fn open(path: &Path) -> anyhow::Result<Self> {
        let mut earlier = HashMap::new();
        if let Ok(file) = File::open(path) {
            for line in BufReader::new(file).lines().map_while(Result::ok) {
                // A torn last line (a crash mid-write) is skipped.
                if let Ok(kept) = serde_json::from_str::<Kept>(&line) {
                    let template_id = kept.key.strip_prefix("template:").map(template_id);
                    earlier.insert(
                        kept.key,
                        Completion {
                            model: kept.model,
                            text: kept.text,
                            stop_reason: None,
                            usage: Default::default(),
                            rate_limit: None,
                            sharing: Sharing {
                                template_id,
                                from_cache: true,
                                ..Sharing::default()
                            },
                        },
                    );
                }
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|error| {
                anyhow::anyhow!(
                    "cannot open explanation cache '{}': {error}",
                    path.display()
                )
            })?;
        Ok(Self {
            earlier,
            file: Mutex::new(file),
        })
    }

    fn keep(&self, key: &str, completion: &Completion) {
        let kept = Kept {
            key: key.to_string(),
            model: completion.model.clone(),
            text: completion.text.clone(),
        };
        let mut line = serde_json::to_string(&kept).expect("explanations serialize");
        line.push('\n');
        let mut file = self.file.lock().expect("cache file lock poisoned");
        if let Err(error) = file.write_all(line.as_bytes()) {
            tracing::warn!(%error, "cannot keep an explanation on disk");
        }
    }
}

type SharedAnswer = Arc<OnceCell<Completion>>;

struct Cache {
    miner: TemplateMiner,
    answers: HashMap<Key, SharedAnswer>,
}

/// Most explanations kept; past it the cache starts afresh (memory stays bounded).
const MAX_CACHED: usize = 10_000;

/// A backend that answers repeated kinds of log lines from a cache.
pub struct DedupBackend {
    inner: Arc<dyn LlmBackend>,
    mode: DedupMode,
    cache: Mutex<Cache>,
    store: Option<Store>,
    /// The kinds the job grouped its entries into, in input order.
    book: Option<Arc<GroupBook>>,
}

impl DedupBackend {
    pub fn new(inner: Arc<dyn LlmBackend>, mode: DedupMode) -> Self {
        Self {
            inner,
            mode,
            cache: Mutex::new(Cache {
                miner: TemplateMiner::new(MinerConfig::default()),
                answers: HashMap::new(),
            }),
            store: None,
            book: None,
        }
    }

    /// Takes each entry's kind from `book` (grouped in input order) rather than mining the
    /// requests in the order they come; requests for lines the book does not know (another
    /// client's) are still mined here.
    pub fn with_book(mut self, book: Arc<GroupBook>) -> Self {
        self.book = Some(book);
        self
    }

    /// Also keeps explanations in `path`, and starts from those kept there before.
    pub fn with_store(mut self, path: &Path) -> anyhow::Result<Self> {
        if self.mode != DedupMode::Off {
            self.store = Some(Store::open(path)?);
        }
        Ok(self)
    }

    /// The shared answer for a request, its key as kept on disk and, for a template, the
    /// template's text.
    fn key(
        &self,
        request: &CompletionRequest,
        kind: Option<&EntryKind>,
    ) -> (SharedAnswer, String, Option<String>) {
        let prompt = prompt_of(request);
        let mut cache = self.cache.lock().expect("cache lock poisoned");
        let (key, template) = match (self.mode, kind) {
            (DedupMode::Template, Some(kind)) => {
                (Key::Kind(kind.kind), Some(kind.key_template.to_string()))
            }
            (DedupMode::Template, None) => {
                let id = cache.miner.add(log_line_in_prompt(prompt));
                (
                    Key::Template(id),
                    Some(cache.miner.template(id).to_string()),
                )
            }
            _ => (Key::Line(prompt.trim().to_string()), None),
        };
        let stored_key = match (&key, &template) {
            (Key::Line(prompt), _) => format!("line:{prompt}"),
            (Key::Template(_) | Key::Kind(_), Some(template)) => format!("template:{template}"),
            (Key::Template(id), None) => format!("template#{id}"),
            (Key::Kind(id), None) => format!("kind#{id}"),
        };
        if cache.answers.len() >= MAX_CACHED && !cache.answers.contains_key(&key) {
            cache.answers.clear();
        }
        let earlier = self
            .store
            .as_ref()
            .and_then(|store| store.earlier.get(&stored_key));
        let answer = cache
            .answers
            .entry(key)
            .or_insert_with(|| Arc::new(OnceCell::new_with(earlier.cloned())))
            .clone();
        (answer, stored_key, template)
    }

    async fn complete_once(&self, request: CompletionRequest) -> Result<Completion, LlmError> {
        if self.mode == DedupMode::Off {
            return self.inner.complete(request).await;
        }
        let kind = self.kind_of(prompt_of(&request));
        let is_representative = kind
            .as_ref()
            .is_some_and(|kind| log_line_in_prompt(prompt_of(&request)) == &*kind.representative);
        let (answer, stored_key, template) = self.key(&request, kind.as_ref());
        let asked_the_llm = AtomicBool::new(false);
        let shared = answer
            .get_or_try_init(|| async {
                asked_the_llm.store(true, Ordering::Relaxed);
                let request = match &kind {
                    Some(kind) => about_representative(request, kind),
                    None => request,
                };
                let request = match &template {
                    Some(template) => with_template_note(request, template),
                    None => request,
                };
                let mut completion = self
                    .inner
                    .complete(request)
                    .await
                    .map_err(NotKept::Failed)?;
                if completion.text.trim().is_empty() {
                    return Err(NotKept::Empty(completion));
                }
                completion.sharing.template_id = template.as_deref().map(template_id);
                if let Some(store) = &self.store {
                    store.keep(&stored_key, &completion);
                }
                Ok(completion)
            })
            .await;
        let completion = match shared {
            Ok(completion) => completion,
            Err(NotKept::Failed(error)) => return Err(error),
            // An empty answer is this entry's alone: the server classifies it.
            Err(NotKept::Empty(completion)) => return Ok(completion),
        };
        let mut completion = completion.clone();
        // A kind's explanation is counted as its representative's own answer, whichever of its
        // entries came first, so records do not depend on timing; an answer kept from an
        // earlier run is shared by all.
        let shared = match &kind {
            Some(_) => completion.sharing.from_cache || !is_representative,
            None => !asked_the_llm.load(Ordering::Relaxed),
        };
        if shared {
            completion.usage = TokenUsage::default();
            completion.sharing.from_cache = true;
        }
        completion.sharing.template = match &kind {
            Some(kind) => Some(kind.template.to_string()),
            None => template,
        };
        Ok(completion)
    }

    /// The kind the job gave the entry a prompt is about, in template mode.
    fn kind_of(&self, prompt: &str) -> Option<EntryKind> {
        match (&self.book, self.mode) {
            (Some(book), DedupMode::Template) => book.kind_of(log_line_in_prompt(prompt)),
            _ => None,
        }
    }
}

/// The text of a request's last message.
fn prompt_of(request: &CompletionRequest) -> &str {
    request
        .messages
        .last()
        .map(|message| message.text.as_str())
        .unwrap_or_default()
}

/// Asks about the kind's representative instead of the entry that came first, so that the
/// explanation of a kind does not depend on timing.
fn about_representative(mut request: CompletionRequest, kind: &EntryKind) -> CompletionRequest {
    if kind.representative.contains("log_line>") {
        return request;
    }
    if let Some(message) = request.messages.last_mut() {
        let line = log_line_in_prompt(&message.text).to_string();
        if !line.is_empty() && line != *kind.representative {
            message.text = message.text.replacen(&line, &kind.representative, 1);
        }
    }
    request
}

/// Why an answer is not shared: the LLM failed, or answered with no text.
enum NotKept {
    Failed(LlmError),
    Empty(Completion),
}

/// The stable id of the group of entries that share one explanation in template mode: the
/// first 16 hex digits of the SHA-256 of the template as it was explained. The same template
/// gives the same id in every run.
pub fn template_id(template: &str) -> String {
    let digest = Sha256::digest(template.as_bytes());
    digest[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Tells the LLM that the line stands for a template whose variable parts vary, so that the
/// explanation holds for every entry sharing it.
fn with_template_note(mut request: CompletionRequest, template: &str) -> CompletionRequest {
    let note = template_note(template);
    request.system = Some(match request.system.take() {
        Some(system) => format!("{system}\n\n{note}"),
        None => note,
    });
    request
}

impl LlmBackend for DedupBackend {
    fn complete(&self, request: CompletionRequest) -> CompletionFuture<'_> {
        Box::pin(self.complete_once(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{ChatMessage, ChatRole, LlmErrorKind};
    use std::sync::atomic::AtomicUsize;

    /// Counts calls; fails the first `failures` of them, and answers the next `empty` with no
    /// text.
    struct Counting {
        calls: AtomicUsize,
        failures: usize,
        empty: usize,
        systems: Mutex<Vec<Option<String>>>,
    }

    impl LlmBackend for Counting {
        fn complete(&self, request: CompletionRequest) -> CompletionFuture<'_> {
            let call = self.calls.fetch_add(1, Ordering::SeqCst);
            self.systems.lock().unwrap().push(request.system.clone());
            let outcome = if call < self.failures {
                Err(LlmError::new(LlmErrorKind::Overloaded, "busy"))
            } else {
                Ok(Completion {
                    model: "m".into(),
                    text: if call < self.failures + self.empty {
                        String::new()
                    } else {
                        format!("answer {call}")
                    },
                    stop_reason: None,
                    usage: TokenUsage {
                        input_tokens: 40,
                        output_tokens: 9,
                    },
                    rate_limit: None,
                    sharing: Sharing::default(),
                })
            };
            Box::pin(async move {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                outcome
            })
        }
    }

    fn counting(failures: usize) -> Arc<Counting> {
        counting_with_empty(failures, 0)
    }

    fn counting_with_empty(failures: usize, empty: usize) -> Arc<Counting> {
        Arc::new(Counting {
            calls: AtomicUsize::new(0),
            failures,
            empty,
            systems: Mutex::new(Vec::new()),
        })
    }

    fn request(line: &str) -> CompletionRequest {
        CompletionRequest {
            model: None,
            system: None,
            messages: vec![ChatMessage {
                role: ChatRole::User,
                text: format!("Explain this log error in one concise sentence: {line}"),
            }],
            max_tokens: 100,
            temperature: None,
            stop_sequences: Vec::new(),
            send_by: None,
        }
    }

    #[tokio::test]
    async fn exact_mode_calls_once_per_distinct_line_even_concurrently() {
        let inner = counting(0);
        let dedup = Arc::new(DedupBackend::new(inner.clone(), DedupMode::Exact));
        let calls: Vec<_> = ["ERROR a", "ERROR a", "ERROR b", "ERROR a  "]
            .into_iter()
            .map(|line| {
                let dedup = dedup.clone();
                tokio::spawn(async move { dedup.complete(request(line)).await.unwrap().text })
            })
            .collect();
        let mut answers = Vec::new();
        for call in calls {
            answers.push(call.await.unwrap());
        }
        assert_eq!(inner.calls.load(Ordering::SeqCst), 2);
        assert_eq!(answers[0], answers[1]);
        assert_ne!(answers[0], answers[2]);
    }

    #[tokio::test]
    async fn template_mode_explains_a_template_once_and_says_parts_vary() {
        let inner = counting(0);
        let dedup = DedupBackend::new(inner.clone(), DedupMode::Template);
        for user in ["alice", "bob", "carol"] {
            dedup
                .complete(request(&format!(
                    "Failed password for {user} from 10.0.0.{} port 22",
                    user.len()
                )))
                .await
                .unwrap();
        }
        dedup
            .complete(request("Disk /dev/sda1 is full"))
            .await
            .unwrap();
        assert_eq!(inner.calls.load(Ordering::SeqCst), 2);
        let systems = inner.systems.lock().unwrap();
        assert!(systems[0].as_deref().unwrap().contains("parts that vary"));
    }

    #[tokio::test]
    async fn shared_answers_say_so_and_cost_nothing() {
        let dedup = DedupBackend::new(counting(0), DedupMode::Template);
        let first = dedup
            .complete(request("Failed password for alice from 10.0.0.1 port 22"))
            .await
            .unwrap();
        let second = dedup
            .complete(request("Failed password for bob from 10.0.0.2 port 22"))
            .await
            .unwrap();
        assert!(!first.sharing.from_cache);
        assert_ne!(first.usage, TokenUsage::default());
        assert!(second.sharing.from_cache);
        assert_eq!(second.usage, TokenUsage::default());
        let id = first.sharing.template_id.clone().unwrap();
        assert_eq!(
            id,
            template_id("Failed password for alice from <*> port <*>")
        );
        assert_eq!(
            second.sharing.template_id,
            Some(id),
            "one explanation, one id"
        );
        assert_eq!(
            second.sharing.template.as_deref(),
            Some("Failed password for <*> from <*> port <*>"),
            "the template as mined so far"
        );

        let exact = DedupBackend::new(counting(0), DedupMode::Exact);
        let answer = exact.complete(request("ERROR a")).await.unwrap();
        assert_eq!(answer.sharing, Sharing::default());
    }

    #[test]
    fn template_ids_are_stable_and_distinct() {
        assert_eq!(template_id("a <*> b"), template_id("a <*> b"));
        assert_ne!(template_id("a <*> b"), template_id("a <*> c"));
        assert_eq!(template_id("a <*> b").len(), 16);
    }

    #[tokio::test]
    async fn failures_are_not_cached() {
        let inner = counting(1);
        let dedup = DedupBackend::new(inner.clone(), DedupMode::Exact);
        assert!(dedup.complete(request("ERROR a")).await.is_err());
        assert!(dedup.complete(request("ERROR a")).await.is_ok());
        assert_eq!(inner.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn empty_answers_are_not_shared() {
        let inner = counting_with_empty(0, 1);
        let dedup = DedupBackend::new(inner.clone(), DedupMode::Exact);
        assert_eq!(dedup.complete(request("ERROR a")).await.unwrap().text, "");
        assert_eq!(
            dedup.complete(request("ERROR a")).await.unwrap().text,
            "answer 1"
        );
        assert_eq!(inner.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn off_mode_calls_every_time() {
        let inner = counting(0);
        let dedup = DedupBackend::new(inner.clone(), DedupMode::Off);
        for _ in 0..3 {
            dedup.complete(request("ERROR a")).await.unwrap();
        }
        assert_eq!(inner.calls.load(Ordering::SeqCst), 3);
    }
}
