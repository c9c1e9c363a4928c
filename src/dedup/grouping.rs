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

    /// The top kinds: the most severe first, then the most frequent (ties by template), with
    /// their current templates.
    pub fn top_kinds(&self, limit: usize) -> Vec<KindSummary> {
        let book = self.book.lock().expect("group book lock poisoned");
        let mut kinds: Vec<(Option<Level>, KindSummary)> = book
            .kinds
            .iter()
            .enumerate()
            .map(|(id, kind)| {
                let summary = KindSummary {
                    template: book.templates[id].to_string(),
                    count: kind.count,
                };
                (kind.level, summary)
            })
            .collect();
        kinds.sort_by(|(level_a, a), (level_b, b)| {
            level_b
                .cmp(level_a)
                .then(b.count.cmp(&a.count))
                .then_with(|| a.template.cmp(&b.template))
        });
        kinds
            .into_iter()
            .take(limit)
            .map(|(_, kind)| kind)
            .collect()
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

/// The header cut and one template miner per level: the mining shared by [`Grouper`] and
/// [`SplitLearner`], which must mine alike.
struct Mining {
    header: HeaderFormat,
    miners: HashMap<Option<Level>, TemplateMiner>,
}

impl Mining {
    fn new(header: HeaderFormat) -> Self {
        Self {
            header,
            miners: HashMap::new(),
        }
    }

    /// Mines one entry; its miner holds the entry's tokens until the next.
    fn add(&mut self, text: &str) -> (Option<Level>, TemplateId, &TemplateMiner) {
        let parts = self.header.split(text);
        let miner = self
            .miners
            .entry(parts.level)
            .or_insert_with(|| TemplateMiner::new(MinerConfig::default()));
        let id = miner.add(parts.message);
        (parts.level, id, miner)
    }
}

/// Most distinct words a position of a template may hold and still name different events.
const MAX_EVENT_WORDS: usize = 4;

/// What reading an input taught about grouping it: its header and, for each template (by level
/// and miner id), the template it ended as and the positions whose words name different events
/// rather than vary: a position the miner generalised to `<*>` that only ever held a few
/// distinct words, none of them masked (`state 'Active'` / `state 'Inactive'`, `Link Up on en0`
/// / `on awdl0`). A user name, an id or a path takes many values there, or is masked.
#[derive(Debug, Clone)]
pub struct Learned {
    pub header: HeaderFormat,
    templates: HashMap<(Option<Level>, TemplateId), LearnedTemplate>,
}

#[derive(Debug, Clone)]
struct LearnedTemplate {
    /// The template's tokens at the end of the input.
    tokens: Vec<Box<str>>,
    /// The positions that split it into events.
    splits: Vec<usize>,
}

impl Learned {
    /// Nothing learned but the header.
    pub fn header_only(header: HeaderFormat) -> Self {
        Self {
            header,
            templates: HashMap::new(),
        }
    }
}

/// The words seen at one position of a template.
enum PositionWords {
    Few(Vec<Box<str>>),
    Many,
}

/// Learns how to group an input from all of it, mining it as [`Grouper`] will.
pub struct SplitLearner {
    mining: Mining,
    words: HashMap<(Option<Level>, TemplateId), Vec<PositionWords>>,
}

impl SplitLearner {
    pub fn new(header: HeaderFormat) -> Self {
        Self {
            mining: Mining::new(header),
            words: HashMap::new(),
        }
    }

    /// Mines one entry (by the text the LLM will see) and notes its words.
    pub fn observe(&mut self, text: &str) {
        let (level, id, miner) = self.mining.add(text.trim());
        let positions = self.words.entry((level, id)).or_default();
        for (index, token) in miner.last_tokens().enumerate() {
            if positions.len() <= index {
                positions.push(PositionWords::Few(Vec::new()));
            }
            let position = &mut positions[index];
            if let PositionWords::Few(words) = position {
                if token.contains(WILD) {
                    *position = PositionWords::Many;
                } else if !words.iter().any(|word| &**word == token) {
                    if words.len() == MAX_EVENT_WORDS {
                        *position = PositionWords::Many;
                    } else {
                        words.push(token.into());
                    }
                }
            }
        }
    }

    /// What the input taught.
    pub fn finish(self) -> Learned {
        let mut templates = HashMap::new();
        for ((level, id), positions) in self.words {
            let miner = &self.mining.miners[&level];
            let tokens: Vec<Box<str>> = miner.template_tokens(id).map(Box::from).collect();
            let splits = tokens
                .iter()
                .zip(&positions)
                .enumerate()
                .filter(|(_, (token, words))| {
                    token.contains(WILD)
                        && matches!(words, PositionWords::Few(words) if words.len() > 1)
                })
                .map(|(index, _)| index)
                .collect();
            templates.insert((level, id), LearnedTemplate { tokens, splits });
        }
        Learned {
            header: self.mining.header,
            templates,
        }
    }
}

const WILD: &str = "<*>";

/// What names a kind: the level, the template and, where it splits, its words there.
type KindKey = (Option<Level>, TemplateId, Option<Box<str>>);

/// Assigns entries to kinds, in input order.
pub struct Grouper {
    mining: Mining,
    learned: HashMap<(Option<Level>, TemplateId), LearnedTemplate>,
    kind_ids: HashMap<KindKey, KindId>,
    book: Arc<GroupBook>,
}

impl Grouper {
    /// A grouper that knows only the header: kinds are named by their templates as mined so far.
    pub fn new(header: HeaderFormat, book: Arc<GroupBook>) -> Self {
        Self::with_learned(Learned::header_only(header), book)
    }

    /// A grouper that names kinds by the templates they end as and splits templates where their
    /// words name events, as learned from the input.
    pub fn with_learned(learned: Learned, book: Arc<GroupBook>) -> Self {
        *book.header.lock().expect("group book lock poisoned") = Some(learned.header.describe());
        Self {
            mining: Mining::new(learned.header),
            learned: learned.templates,
            kind_ids: HashMap::new(),
            book,
        }
    }

    /// Groups one entry by the text the LLM will see.
    pub fn group(&mut self, text: &str) -> EntryKind {
        let text = text.trim();
        let (level, template_id, miner) = self.mining.add(text);
        let learned = self.learned.get(&(level, template_id));
        let words = learned
            .filter(|learned| !learned.splits.is_empty())
            .map(|learned| split_words(learned, miner));
        let key = (level, template_id, words);
        let mut book = self.book.book.lock().expect("group book lock poisoned");
        let (kind, template) = match self.kind_ids.get(&key) {
            // A learned kind's template is known for good.
            Some(&kind) if learned.is_some() => (kind, book.templates[kind].clone()),
            found => {
                let template: Arc<str> = with_level(
                    level,
                    &match learned {
                        Some(learned) => learned_template(learned, miner),
                        None => miner.template(template_id).to_string(),
                    },
                )
                .into();
                let kind = match found {
                    Some(&kind) => kind,
                    None => {
                        book.kinds.push(Kind {
                            level,
                            key_template: template.clone(),
                            representative: text.into(),
                            count: 0,
                        });
                        book.templates.push(template.clone());
                        self.kind_ids.insert(key, book.kinds.len() - 1);
                        book.kinds.len() - 1
                    }
                };
                book.templates[kind] = template.clone();
                (kind, template)
            }
        };
        let found = &mut book.kinds[kind];
        found.count += 1;
        let entry_kind = EntryKind {
            kind,
            key_template: found.key_template.clone(),
            template,
            representative: found.representative.clone(),
        };
        drop(book);
        self.book.record(text.into(), entry_kind.clone());
        entry_kind
    }
}

/// The words of the entry just mined at the places that split its template.
fn split_words(learned: &LearnedTemplate, miner: &TemplateMiner) -> Box<str> {
    let mut words = String::new();
    for (index, token) in miner.last_tokens().enumerate() {
        if learned.splits.contains(&index) {
            words.push_str(token);
            words.push('\u{1f}');
        }
    }
    words.into_boxed_str()
}

/// The learned template with the words of the entry just mined at its split places.
fn learned_template(learned: &LearnedTemplate, miner: &TemplateMiner) -> String {
    let tokens: Vec<&str> = miner.last_tokens().collect();
    learned
        .tokens
        .iter()
        .enumerate()
        .map(|(index, token)| match tokens.get(index) {
            Some(word) if learned.splits.contains(&index) => word,
            _ => &**token,
        })
        .collect::<Vec<_>>()
        .join(" ")
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

impl GroupingInput {
    /// The text of an entry the LLM would see, if the filter keeps it.
    fn seen(&self, item: &Result<InputItem, InputError>) -> Option<String> {
        match item {
            Ok(InputItem::Entry(entry)) if self.filter.keeps(&entry.text) => {
                Some(self.redactor.redact(&entry.text).into_owned())
            }
            _ => None,
        }
    }

    /// The header: given, or found from the sampled items.
    fn header_of(&self, sample: &[Result<InputItem, InputError>]) -> HeaderFormat {
        self.header.clone().unwrap_or_else(|| {
            HeaderFormat::detect(sample.iter().filter_map(|item| match item {
                Ok(InputItem::Entry(entry)) => Some(entry.text.as_str()),
                _ => None,
            }))
        })
    }

    /// Learns how to group from the sampled items alone.
    fn learn_from(&self, sample: &[Result<InputItem, InputError>]) -> Learned {
        let mut learner = SplitLearner::new(self.header_of(sample));
        for text in sample.iter().filter_map(|item| self.seen(item)) {
            learner.observe(&text);
        }
        learner.finish()
    }
}

/// Reads `input` to its end (or to its first error: the job reports it) and learns how to
/// group it: the header from its first [`SAMPLE_LINES`] entries, the splits from all.
pub async fn learn(
    mut input: mpsc::Receiver<Result<InputItem, InputError>>,
    settings: &GroupingInput,
) -> Learned {
    let (sample, rest) = take_sample(&mut input).await;
    let mut learner = SplitLearner::new(settings.header_of(&sample));
    for text in sample.iter().filter_map(|item| settings.seen(item)) {
        learner.observe(&text);
    }
    if rest {
        while let Some(item) = input.recv().await {
            if item.is_err() {
                break;
            }
            if let Some(text) = settings.seen(&item) {
                learner.observe(&text);
            }
        }
    }
    learner.finish()
}

/// The first [`SAMPLE_LINES`] items (fewer at an error or the end), and whether more may come.
async fn take_sample(
    input: &mut mpsc::Receiver<Result<InputItem, InputError>>,
) -> (Vec<Result<InputItem, InputError>>, bool) {
    let mut sample = Vec::new();
    while sample.len() < SAMPLE_LINES {
        match input.recv().await {
            Some(item) => {
                let failed = item.is_err();
                sample.push(item);
                if failed {
                    return (sample, false);
                }
            }
            None => return (sample, false),
        }
    }
    (sample, true)
}

/// Groups every entry of `input` as it passes, in order, into `book`, as `learned` says; without
/// it (stdin), learns from the first [`SAMPLE_LINES`] entries. Items pass on unchanged.
pub fn group_stream(
    mut input: mpsc::Receiver<Result<InputItem, InputError>>,
    settings: GroupingInput,
    learned: Option<Learned>,
    book: Arc<GroupBook>,
) -> mpsc::Receiver<Result<InputItem, InputError>> {
    let (sender, output) = mpsc::channel(input.max_capacity());
    tokio::spawn(async move {
        let (sample, rest) = match learned {
            Some(_) => (Vec::new(), true),
            None => take_sample(&mut input).await,
        };
        let learned = learned.unwrap_or_else(|| settings.learn_from(&sample));
        let mut grouper = Grouper::with_learned(learned, book);
        for item in sample {
            if !pass(&mut grouper, &settings, item, &sender).await {
                return;
            }
        }
        if !rest {
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
    if let Some(text) = settings.seen(&item) {
        grouper.group(&text);
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
        assert_eq!(book.top_kinds(1)[0].count, 2, "ERROR comes first");
        assert_eq!(
            book.top_kinds(2)[1].template,
            "INFO connection to <*> refused"
        );
    }

    #[test]
    fn words_that_take_few_values_split_kinds_and_many_do_not() {
        let lines: Vec<String> = (0..40)
            .flat_map(|i| {
                [
                    format!(
                        "icon should now be in state '{}'",
                        ["Active", "Inactive"][i % 2]
                    ),
                    format!("invalid user u{}x{} from 10.0.0.{i}", i * 7, i),
                    format!(
                        "Invalid user {} from 10.0.0.{i}",
                        ["ab", "cd", "ef", "gh", "ij", "kl"][i % 6]
                    ),
                ]
            })
            .collect();
        let mut learner = SplitLearner::new(HeaderFormat::None);
        for line in &lines {
            learner.observe(line);
        }
        let book = GroupBook::new(1000);
        let mut grouper = Grouper::with_learned(learner.finish(), book.clone());
        let kinds: Vec<EntryKind> = lines.iter().map(|line| grouper.group(line)).collect();
        assert_ne!(
            kinds[0].kind, kinds[3].kind,
            "Active and Inactive are two events"
        );
        assert_eq!(kinds[0].kind, kinds[6].kind);
        assert_eq!(
            &*kinds[3].key_template,
            "icon should now be in state 'Inactive'"
        );
        assert_eq!(
            kinds[2].kind, kinds[5].kind,
            "six user names are a variable"
        );
        assert_eq!(book.totals().0, 4);
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
