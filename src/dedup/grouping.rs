//! Groups a job's entries into kinds, in input order, in one place, before any is sent.
//!
//! A kind is a level and a message template: the header of each line is cut off
//! ([`HeaderFormat`], found from the first lines of the input or given with `--log-format`), and
//! its message is mined with one [`TemplateMiner`] per level, so an `ERROR` and an `INFO` of the
//! same text are different kinds. Because entries are grouped here, in the order the input holds
//! them, the kinds and their ids do not depend on concurrency, batching or timing.
//!
//! The [`GroupBook`] is what the client's deduplicating backend reads: for each entry in flight
//! (by the text the LLM will see), its kind, and for each kind the first entry that had it, the
//! *representative*. Every kind is explained once, for its representative, whichever of its
//! entries reaches the LLM first.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::header::{HeaderFormat, SAMPLE_LINES};
use super::templates::{MinerConfig, TemplateId, TemplateMiner};
use crate::pipeline::filter::{EntryFilter, Level};
use crate::pipeline::input::{InputError, InputItem};
use crate::redact::Redactor;

/// Identifies a kind within a job (dense, in order of first appearance).
pub type KindId = usize;

/// A kind as the summary and the dry run show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindSummary {
    pub template: String,
    pub count: u64,
}

/// What the deduplicating backend needs to know of an entry's kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryKind {
    pub kind: KindId,
    /// The kind's template as first mined (level included): the explanation is made for it, and
    /// it names the kind in the explanation cache and in `template_id`.
    pub key_template: Arc<str>,
    /// The template as mined when this entry came (level included).
    pub template: Arc<str>,
    /// The text of the kind's first entry, which its explanation is asked for.
    pub representative: Arc<str>,
}

struct Kind {
    level: Option<Level>,
    miner_template: TemplateId,
    key_template: Arc<str>,
    representative: Arc<str>,
    count: u64,
}

#[derive(Default)]
struct Book {
    kinds: Vec<Kind>,
    /// The kind of each recently grouped entry text, oldest first in `order`.
    recent: HashMap<Arc<str>, EntryKind>,
    order: VecDeque<Arc<str>>,
    /// The latest template text of each kind, kept with the miners.
    templates: Vec<Arc<str>>,
    lines: u64,
}

/// The kinds of a job and of its entries in flight, shared with the deduplicating backend.
pub struct GroupBook {
    book: Mutex<Book>,
    /// The header format in use, described, once known.
    header: Mutex<Option<String>>,
    /// How many entry texts are remembered; older ones are forgotten (their entries have been
    /// sent long before).
    capacity: usize,
}

impl GroupBook {
    /// A book remembering the kinds of the last `capacity` entries (at least the job's window).
    pub fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            book: Mutex::new(Book::default()),
            header: Mutex::new(None),
            capacity: capacity.max(1),
        })
    }

    /// The kind of an entry by the text the LLM sees, if it was grouped recently.
    pub fn kind_of(&self, text: &str) -> Option<EntryKind> {
        let book = self.book.lock().expect("group book lock poisoned");
        book.recent.get(text.trim()).cloned()
    }

    /// The header format the entries were cut by, described (once grouping has started).
    pub fn header_description(&self) -> Option<String> {
        self.header
            .lock()
            .expect("group book lock poisoned")
            .clone()
    }

    /// How many kinds and entries were grouped.
    pub fn totals(&self) -> (usize, u64) {
        let book = self.book.lock().expect("group book lock poisoned");
        (book.kinds.len(), book.lines)
    }

    /// The most frequent kinds, most frequent first (ties by template), with their current
    /// templates.
    pub fn top_kinds(&self, limit: usize) -> Vec<KindSummary> {
        let book = self.book.lock().expect("group book lock poisoned");
        let mut kinds: Vec<KindSummary> = book
            .kinds
            .iter()
            .enumerate()
            .map(|(id, kind)| KindSummary {
                template: book.templates[id].to_string(),
                count: kind.count,
            })
            .collect();
        kinds.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.template.cmp(&b.template))
        });
        kinds.truncate(limit);
        kinds
    }

    /// The representative texts of every kind, in order of first appearance.
    pub fn representatives(&self) -> Vec<Arc<str>> {
        let book = self.book.lock().expect("group book lock poisoned");
        book.kinds
            .iter()
            .map(|kind| kind.representative.clone())
            .collect()
    }

    fn record(&self, text: Arc<str>, kind: EntryKind) {
        let mut book = self.book.lock().expect("group book lock poisoned");
        book.lines += 1;
        if book.recent.insert(text.clone(), kind).is_none() {
            book.order.push_back(text);
            while book.order.len() > self.capacity {
                if let Some(oldest) = book.order.pop_front() {
                    book.recent.remove(&oldest);
                }
            }
        }
    }
}

/// Assigns entries to kinds, in input order.
pub struct Grouper {
    header: HeaderFormat,
    miners: HashMap<Option<Level>, TemplateMiner>,
    /// The kind of each (level, miner template).
    kind_ids: HashMap<(Option<Level>, TemplateId), KindId>,
    book: Arc<GroupBook>,
}

impl Grouper {
    pub fn new(header: HeaderFormat, book: Arc<GroupBook>) -> Self {
        *book.header.lock().expect("group book lock poisoned") = Some(header.describe());
        Self {
            header,
            miners: HashMap::new(),
            kind_ids: HashMap::new(),
            book,
        }
    }

    /// Groups one entry by the text the LLM will see.
    pub fn group(&mut self, text: &str) -> EntryKind {
        let text = text.trim();
        let parts = self.header.split(text);
        let miner = self
            .miners
            .entry(parts.level)
            .or_insert_with(|| TemplateMiner::new(MinerConfig::default()));
        let template_id = miner.add(parts.message);
        let template: Arc<str> = with_level(parts.level, miner.template(template_id)).into();
        let mut book = self.book.book.lock().expect("group book lock poisoned");
        let next = book.kinds.len();
        let kind = *self
            .kind_ids
            .entry((parts.level, template_id))
            .or_insert(next);
        let text: Arc<str> = text.into();
        if kind == next {
            book.kinds.push(Kind {
                level: parts.level,
                miner_template: template_id,
                key_template: template.clone(),
                representative: text.clone(),
                count: 0,
            });
            book.templates.push(template.clone());
        } else {
            book.templates[kind] = template.clone();
        }
        let entry_kind = {
            let found = &mut book.kinds[kind];
            found.count += 1;
            debug_assert_eq!(
                (found.level, found.miner_template),
                (parts.level, template_id)
            );
            EntryKind {
                kind,
                key_template: found.key_template.clone(),
                template,
                representative: found.representative.clone(),
            }
        };
        drop(book);
        self.book.record(text, entry_kind.clone());
        entry_kind
    }
}

/// A template with its level in front, as kinds are named.
fn with_level(level: Option<Level>, template: &str) -> String {
    match level {
        Some(level) => format!("{} {template}", level.name()),
        None => template.to_string(),
    }
}

/// What the LLM will see of an entry: the line as kept by the filter, redacted like the server
/// redacts it.
#[derive(Clone)]
pub struct GroupingInput {
    pub header: Option<HeaderFormat>,
    pub filter: EntryFilter,
    pub redactor: Redactor,
}

/// Groups every entry of `input` as it passes, in order, into `book`; the header is found from
/// the first [`SAMPLE_LINES`] entries unless given. Items pass on unchanged.
pub fn group_stream(
    mut input: mpsc::Receiver<Result<InputItem, InputError>>,
    settings: GroupingInput,
    book: Arc<GroupBook>,
) -> mpsc::Receiver<Result<InputItem, InputError>> {
    let (sender, output) = mpsc::channel(input.max_capacity());
    tokio::spawn(async move {
        let mut sample = Vec::new();
        let mut grouper = settings
            .header
            .clone()
            .map(|header| Grouper::new(header, book.clone()));
        let mut ended = false;
        while grouper.is_none() {
            match input.recv().await {
                Some(item) => {
                    let last = item.is_err();
                    sample.push(item);
                    if sample.len() >= SAMPLE_LINES || last {
                        break;
                    }
                }
                None => {
                    ended = true;
                    break;
                }
            }
        }
        let mut grouper = grouper.take().unwrap_or_else(|| {
            let header = HeaderFormat::detect(sample.iter().filter_map(|item| match item {
                Ok(InputItem::Entry(entry)) => Some(entry.text.as_str()),
                _ => None,
            }));
            Grouper::new(header, book.clone())
        });
        for item in sample {
            if !pass(&mut grouper, &settings, item, &sender).await {
                return;
            }
        }
        if ended {
            return;
        }
        while let Some(item) = input.recv().await {
            if !pass(&mut grouper, &settings, item, &sender).await {
                return;
            }
        }
    });
    output
}

async fn pass(
    grouper: &mut Grouper,
    settings: &GroupingInput,
    item: Result<InputItem, InputError>,
    sender: &mpsc::Sender<Result<InputItem, InputError>>,
) -> bool {
    if let Ok(InputItem::Entry(entry)) = &item
        && settings.filter.keeps(&entry.text)
    {
        grouper.group(&settings.redactor.redact(&entry.text));
    }
    sender.send(item).await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_input_order_and_keep_levels_apart() {
        let book = GroupBook::new(100);
        let sample = [
            "2026-11-29 10:00:01 ERROR db: connection to 10.0.0.1 refused",
            "2026-11-29 10:00:02 INFO db: connection to 10.0.0.2 refused",
            "2026-11-29 10:00:03 ERROR db: connection to 10.0.0.3 refused",
        ];
        let mut grouper = Grouper::new(HeaderFormat::detect(sample), book.clone());
        let kinds: Vec<EntryKind> = sample.iter().map(|line| grouper.group(line)).collect();
        assert_eq!(kinds[0].kind, 0);
        assert_eq!(kinds[1].kind, 1, "another level is another kind");
        assert_eq!(kinds[2].kind, 0);
        assert_eq!(&*kinds[2].representative, sample[0]);
        assert_eq!(&*kinds[0].key_template, "ERROR connection to <*> refused");
        assert_eq!(book.kind_of(sample[2]).unwrap().kind, 0);
        assert_eq!(book.totals(), (2, 3));
        assert_eq!(book.top_kinds(1)[0].count, 2);
    }

    #[test]
    fn the_book_forgets_old_entries() {
        let book = GroupBook::new(2);
        let mut grouper = Grouper::new(HeaderFormat::None, book.clone());
        for line in ["a 1", "b 2", "c 3"] {
            grouper.group(line);
        }
        assert!(book.kind_of("a 1").is_none());
        assert!(book.kind_of("c 3").is_some());
        assert_eq!(book.totals().1, 3);
    }
}
