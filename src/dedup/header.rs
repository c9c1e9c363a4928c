//! The header of a log line (timestamp, host, process, level, thread, logger) and its message.
//!
//! Template mining must see only the message: header fields vary from line to line (a new
//! second, another day, another host or process id) and would split one kind of event into
//! many. The header's shape is found once per file, from a sample of its first lines, and then
//! applied to every line, so that no line is guessed on its own:
//!
//! 1. Each sampled line is cut into header fields: whitespace-separated words, where a `[...]`
//!    group counts as one field even with spaces inside and `|` also separates fields.
//! 2. Each field is classified: a timestamp piece (dates and times in their common shapes,
//!    month and weekday names, epoch seconds), a number (pids, thread and record ids), a level
//!    word (`INFO`, `[error]`, logcat's single letters after numeric fields), a separator (`-`, `|`), a
//!    process or logger ending with a colon (`sshd[24200]:`, `dfs.DataNode$PacketResponder:`),
//!    a bracketed group (`[main]`), or a plain word.
//! 3. A column belongs to the header when all but a few sampled lines hold a header field there;
//!    the header runs to the last such column among the first few, and plain words before it
//!    (host names, program names) are header too.
//!
//! A line that does not fit the shape (a continuation, a banner) is taken whole as a message.
//! `--log-format` replaces detection with an explicit format: loghub-style
//! (`<Date> <Time> <Level> <Content>`) or a regular expression with named groups, where
//! `content` (or `message`) names the message and `level` the level.

use std::sync::LazyLock;

use regex::Regex;

use crate::pipeline::filter::Level;

/// How many leading fields may belong to a header.
const MAX_HEADER_FIELDS: usize = 12;
/// The share of sampled lines that must hold a header field in a column for it to be header.
const COLUMN_AGREEMENT: f64 = 0.9;
/// How many extra words may come before a header's closing field.
const MAX_EXTRA_WORDS: usize = 3;
/// How many lines are sampled to find the header.
pub const SAMPLE_LINES: usize = 1000;

/// One line cut into its header and its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineParts<'a> {
    /// The message (the whole line when no header was found).
    pub message: &'a str,
    /// The level the header states.
    pub level: Option<Level>,
    /// The header's timestamp as written (its first timestamp field through its last).
    pub timestamp: Option<&'a str>,
}

impl<'a> LineParts<'a> {
    fn whole(line: &'a str) -> Self {
        Self {
            message: line.trim(),
            level: None,
            timestamp: None,
        }
    }
}

/// The header shape of one input: found from a sample or given with `--log-format`.
#[derive(Debug, Clone)]
pub enum HeaderFormat {
    /// No header: every line is a message.
    None,
    /// The first `fields` fields are header; `kinds` says what each column holds.
    Detected { kinds: Vec<FieldKind> },
    /// A user's regular expression with a `content` (or `message`) group.
    Pattern(Regex),
}

/// What a header column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Timestamp,
    Number,
    Level,
    Separator,
    /// A process or logger name ending with a colon; the header ends with it.
    Source,
    Bracketed,
    Word,
}

impl FieldKind {
    fn is_header_like(self) -> bool {
        self != Self::Word
    }
}

impl HeaderFormat {
    /// Finds the header shape shared by (nearly) all of `sample`'s lines.
    pub fn detect<'s>(sample: impl IntoIterator<Item = &'s str>) -> Self {
        let mut columns: Vec<[usize; 7]> = vec![[0; 7]; MAX_HEADER_FIELDS];
        let mut lines = 0usize;
        for line in sample {
            if line.trim().is_empty() {
                continue;
            }
            lines += 1;
            for (column, field) in fields(line).take(MAX_HEADER_FIELDS).enumerate() {
                columns[column][classify(field.text, column) as usize] += 1;
            }
        }
        if lines == 0 {
            return Self::None;
        }
        let needed = (lines as f64 * COLUMN_AGREEMENT).ceil() as usize;
        let kinds_of_column: Vec<FieldKind> = columns
            .iter()
            .map(|counts| {
                let (best, count) = ALL_KINDS
                    .iter()
                    .filter(|kind| kind.is_header_like())
                    .map(|&kind| (kind, counts[kind as usize]))
                    .max_by_key(|&(_, count)| count)
                    .expect("kinds");
                // Timestamps and numbers often share a column (`081109 203615`, epoch
                // seconds): count them together.
                let stamps =
                    counts[FieldKind::Timestamp as usize] + counts[FieldKind::Number as usize];
                if count >= needed {
                    best
                } else if stamps >= needed {
                    FieldKind::Timestamp
                } else {
                    FieldKind::Word
                }
            })
            .collect();
        let Some(last) = kinds_of_column
            .iter()
            .rposition(|kind| kind.is_header_like())
        else {
            return Self::None;
        };
        // A header ends at a message; a line-leading column alone (a level, a number) with only
        // plain words after it is more likely part of the message when nothing marks time.
        let kinds = kinds_of_column[..=last].to_vec();
        if !kinds.iter().any(|kind| {
            matches!(
                kind,
                FieldKind::Timestamp | FieldKind::Level | FieldKind::Source | FieldKind::Separator
            )
        }) && kinds.len() < 2
        {
            return Self::None;
        }
        Self::Detected { kinds }
    }

    /// Parses `--log-format`: loghub-style `<Date> <Time> <Level> <Content>`, or a regular
    /// expression with a named group `content` (or `message`) and optionally `level`.
    pub fn parse(format: &str) -> Result<Self, String> {
        let pattern = if format.contains("(?P<") || format.contains("(?<") {
            format.to_string()
        } else if format.contains('<') && format.contains('>') {
            loghub_pattern(format)?
        } else {
            return Err(format!(
                "--log-format '{format}' is neither a loghub-style format such as \
                 '<Date> <Time> <Level> <Content>' nor a regular expression with a named group \
                 (?P<content>...)"
            ));
        };
        let regex = Regex::new(&pattern)
            .map_err(|error| format!("--log-format is not a valid regular expression: {error}"))?;
        if !regex.capture_names().flatten().any(|name| {
            name.eq_ignore_ascii_case("content") || name.eq_ignore_ascii_case("message")
        }) {
            return Err(format!(
                "--log-format '{format}' has no Content (or message) field: it must say where \
                 the message is"
            ));
        }
        Ok(Self::Pattern(regex))
    }

    /// Cuts `line` into header and message.
    pub fn split<'a>(&self, line: &'a str) -> LineParts<'a> {
        match self {
            Self::None => LineParts::whole(line),
            Self::Pattern(regex) => split_by_pattern(regex, line),
            Self::Detected { kinds } => split_by_kinds(kinds, line),
        }
    }

    /// A short description for messages: the columns found, or the user's pattern.
    pub fn describe(&self) -> String {
        match self {
            Self::None => "none (whole lines are messages)".to_string(),
            Self::Pattern(regex) => format!("--log-format {}", regex.as_str()),
            Self::Detected { kinds } => kinds
                .iter()
                .map(|kind| match kind {
                    FieldKind::Timestamp => "time",
                    FieldKind::Number => "number",
                    FieldKind::Level => "level",
                    FieldKind::Separator => "separator",
                    FieldKind::Source => "source:",
                    FieldKind::Bracketed => "[..]",
                    FieldKind::Word => "word",
                })
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

const ALL_KINDS: [FieldKind; 7] = [
    FieldKind::Timestamp,
    FieldKind::Number,
    FieldKind::Level,
    FieldKind::Separator,
    FieldKind::Source,
    FieldKind::Bracketed,
    FieldKind::Word,
];

fn split_by_kinds<'a>(kinds: &[FieldKind], line: &'a str) -> LineParts<'a> {
    let mut parts = LineParts::whole(line);
    let mut end = 0;
    let mut first_stamp: Option<usize> = None;
    let mut last_stamp = 0;
    let mut matched = 0;
    let mut line_fields = fields(line);
    let mut column = 0;
    while column < kinds.len() {
        let Some(mut field) = line_fields.next() else {
            break;
        };
        let expected = kinds[column];
        let mut kind = if expected == FieldKind::Word {
            FieldKind::Word
        } else {
            classify(field.text, column)
        };
        let closing = column + 1 == kinds.len()
            && matches!(expected, FieldKind::Source | FieldKind::Separator);
        if closing && kind != expected {
            // The closing field may come a little later, after a name with spaces or an
            // extra word (`Google Chrome Helper[12]:`, `svchost.exe *64 -`).
            let mut ahead = line_fields.clone();
            if let Some(found) = (0..MAX_EXTRA_WORDS)
                .filter_map(|_| ahead.next())
                .find(|next| classify(next.text, column) == expected)
            {
                field = found;
                kind = expected;
            }
        }
        column += 1;
        if expected == FieldKind::Word {
            // Any field fits a plain word's column.
            end = field.start + field.text.len();
            matched += 1;
            continue;
        }
        let fits = kind == expected
            || (expected == FieldKind::Timestamp && kind == FieldKind::Number)
            || (expected == FieldKind::Number && kind == FieldKind::Timestamp);
        if !fits {
            // A missing closing field (a line without `process:`) ends the header early; any
            // other mismatch means the line does not have this header.
            if closing && column > 1 {
                break;
            }
            return LineParts::whole(line);
        }
        match kind {
            FieldKind::Timestamp => {
                first_stamp.get_or_insert(field.start);
                last_stamp = field.start + field.text.len();
            }
            FieldKind::Level if parts.level.is_none() => parts.level = level_of_field(field.text),
            _ => {}
        }
        end = field.start + field.text.len();
        matched += 1;
    }
    if matched == 0 {
        return parts;
    }
    let message = line[end..].trim_start_matches([' ', '\t', '|', ',']).trim();
    if message.is_empty() {
        // A line that is all header keeps its last field as the message.
        return LineParts::whole(line);
    }
    parts.message = message;
    parts.timestamp = first_stamp.map(|start| {
        line[start..last_stamp].trim_matches(|c: char| matches!(c, '[' | ']' | ',' | ' '))
    });
    parts
}

fn split_by_pattern<'a>(regex: &Regex, line: &'a str) -> LineParts<'a> {
    let Some(captures) = regex.captures(line) else {
        return LineParts::whole(line);
    };
    let named = |wanted: &[&str]| {
        regex
            .capture_names()
            .flatten()
            .find(|name| wanted.iter().any(|w| name.eq_ignore_ascii_case(w)))
            .and_then(|name| captures.name(name))
            .map(|m| m.as_str())
    };
    let Some(message) = named(&["content", "message"]) else {
        return LineParts::whole(line);
    };
    LineParts {
        message: message.trim(),
        level: named(&["level", "severity"]).and_then(level_of_field),
        timestamp: named(&["timestamp", "datetime", "time", "date"]),
    }
}

/// Turns `<Date> <Time> <Level> <Content>` into a regular expression: every field but the last
/// matches one word, the last field (or `<Content>`) the rest of the line.
fn loghub_pattern(format: &str) -> Result<String, String> {
    static FIELD: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"<([A-Za-z_][A-Za-z0-9_]*)>").expect("valid pattern"));
    let mut pattern = String::from("^");
    let mut rest = 0;
    let fields: Vec<_> = FIELD.captures_iter(format).collect();
    if fields.is_empty() {
        return Err(format!("--log-format '{format}' names no <Field>"));
    }
    for (index, captures) in fields.iter().enumerate() {
        let whole = captures.get(0).expect("match");
        pattern.push_str(&literal_between(&format[rest..whole.start()]));
        let name = &captures[1];
        let last = index + 1 == fields.len();
        if last || name.eq_ignore_ascii_case("content") {
            pattern.push_str(&format!("(?P<{name}>.*?)"));
        } else {
            pattern.push_str(&format!("(?P<{name}>\\S+?)"));
        }
        rest = whole.end();
    }
    pattern.push_str(&literal_between(&format[rest..]));
    pattern.push('$');
    Ok(pattern)
}

/// Literal text of a format between fields; whitespace matches any run of whitespace.
fn literal_between(text: &str) -> String {
    let mut out = String::new();
    let mut in_space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            if !in_space {
                out.push_str(r"\s+");
            }
            in_space = true;
        } else {
            in_space = false;
            out.push_str(&regex::escape(&c.to_string()));
        }
    }
    out
}

/// One header field of a line.
#[derive(Debug, Clone, Copy)]
struct Field<'a> {
    start: usize,
    text: &'a str,
}

/// The fields of a line: words, `[...]` groups (spaces allowed inside), `|` separated parts.
fn fields(line: &str) -> impl Iterator<Item = Field<'_>> + Clone {
    let bytes = line.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < bytes.len() && (bytes[at].is_ascii_whitespace() || bytes[at] == b'|') {
            at += 1;
        }
        if at >= bytes.len() {
            return None;
        }
        let start = at;
        if bytes[at] == b'[' {
            let mut depth = 0;
            let mut end = None;
            for (offset, &byte) in bytes[at..].iter().enumerate() {
                match byte {
                    b'[' => depth += 1,
                    b']' => {
                        depth -= 1;
                        if depth == 0 {
                            end = Some(at + offset + 1);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            if let Some(end) = end
                && (end == bytes.len() || !bytes[end].is_ascii_alphanumeric())
            {
                // Trailing punctuation stays with the group (`[12]:`).
                let mut end = end;
                while end < bytes.len() && matches!(bytes[end], b':' | b',') {
                    end += 1;
                }
                at = end;
                return Some(Field {
                    start,
                    text: &line[start..end],
                });
            }
        }
        while at < bytes.len() && !bytes[at].is_ascii_whitespace() && bytes[at] != b'|' {
            at += 1;
        }
        Some(Field {
            start,
            text: &line[start..at],
        })
    })
}

static DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}([-/.]\d{2,4})?|\d{6}|\d{8})([T_ -]?\d{1,2}:\d{2}(:\d{2})?([.,:]\d+)?)?(Z|[+-]\d{2}:?\d{2})?$",
    )
    .expect("valid pattern")
});
static TIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\d{1,2}:\d{2}(:\d{2})?([.,:]\d{1,9})?(Z|[+-]\d{2}:?\d{2})?$")
        .expect("valid pattern")
});
const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// What a header field is. `column` is its place: logcat's one-letter levels only count after
/// the first fields.
fn classify(field: &str, column: usize) -> FieldKind {
    if let Some(inner) = field
        .strip_prefix('[')
        .map(|rest| rest.trim_end_matches([':', ',']))
        .and_then(|rest| rest.strip_suffix(']'))
    {
        if inner.split_ascii_whitespace().any(is_timestamp) {
            return FieldKind::Timestamp;
        }
        if Level::from_word(inner).is_some() {
            return FieldKind::Level;
        }
        return FieldKind::Bracketed;
    }
    let core = field.trim_end_matches([',', ';']);
    if matches!(core, "-" | "--" | "|" | ":" | ">" | "*") {
        return FieldKind::Separator;
    }
    let unsigned = core.strip_prefix('-').unwrap_or(core);
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return if unsigned.len() == core.len() && is_numeric_stamp(core) {
            FieldKind::Timestamp
        } else {
            FieldKind::Number
        };
    }
    if is_timestamp(core) {
        return FieldKind::Timestamp;
    }
    let bare = core.trim_matches(|c: char| matches!(c, '<' | '>' | '(' | ')' | ':'));
    if Level::from_word(bare).is_some() && (bare.len() > 1) {
        return FieldKind::Level;
    }
    if column >= 2 && bare.len() == 1 && "VDIWEFA".contains(bare) {
        return FieldKind::Level;
    }
    if core.len() > 1 && core.ends_with(':') && !core.contains("://") {
        return FieldKind::Source;
    }
    FieldKind::Word
}

fn is_timestamp(word: &str) -> bool {
    let word = word.trim_matches(|c: char| matches!(c, '[' | ']' | ',' | '(' | ')'));
    match word.as_bytes().first() {
        Some(first) if first.is_ascii_digit() => {
            TIME.is_match(word) || DATE.is_match(word) || is_compact_stamp(word)
        }
        Some(first) if first.is_ascii_alphabetic() => {
            (3..=9).contains(&word.len())
                && word.bytes().all(|b| b.is_ascii_alphabetic())
                && MONTHS
                    .iter()
                    .chain(&WEEKDAYS)
                    .any(|name| name.eq_ignore_ascii_case(&word[..3]))
        }
        _ => false,
    }
}

/// Digits that read as a date or a time: `081109` (yyMMdd) or `203615` (HHmmss), `20171223`
/// (yyyyMMdd), or epoch seconds of this century (`1131566461`).
fn is_numeric_stamp(digits: &str) -> bool {
    debug_assert!(digits.bytes().all(|b| b.is_ascii_digit()));
    let pairs = |text: &str| -> Vec<u32> {
        text.as_bytes()
            .chunks(2)
            .map(|pair| u32::from(pair[0] - b'0') * 10 + u32::from(pair[1] - b'0'))
            .collect()
    };
    match digits.len() {
        6 => {
            let [a, b, c] = pairs(digits)[..] else {
                return false;
            };
            let date = (1..=12).contains(&b) && (1..=31).contains(&c);
            let time = a < 24 && b < 60 && c < 60;
            date || time
        }
        8 => {
            let [century, _, month, day] = pairs(digits)[..] else {
                return false;
            };
            (19..=20).contains(&century) && (1..=12).contains(&month) && (1..=31).contains(&day)
        }
        10 => ("1000000000".."2100000000").contains(&digits),
        _ => false,
    }
}

/// `20171223-22:15:29:606`: a date and a time joined without a space.
fn is_compact_stamp(word: &str) -> bool {
    word.len() >= 12
        && word.bytes().filter(u8::is_ascii_digit).count() >= 10
        && word.bytes().all(|b| {
            b.is_ascii_digit() || matches!(b, b'-' | b':' | b'.' | b',' | b'/' | b'T' | b'_')
        })
        && word.contains(':')
}

fn level_of_field(field: &str) -> Option<Level> {
    let bare =
        field.trim_matches(|c: char| matches!(c, '[' | ']' | '<' | '>' | '(' | ')' | ':' | ','));
    Level::from_word(bare).or(match bare {
        "V" => Some(Level::Trace),
        "D" => Some(Level::Debug),
        "I" => Some(Level::Info),
        "W" => Some(Level::Warning),
        "E" => Some(Level::Error),
        "F" | "A" => Some(Level::Critical),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message_of(sample: &[&str], line: &str) -> String {
        HeaderFormat::detect(sample.iter().copied())
            .split(line)
            .message
            .to_string()
    }

    #[test]
    fn finds_common_headers() {
        let syslog = [
            "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
            "Dec 10 06:55:48 LabSZ sshd[24200]: Failed password for invalid user webmaster",
            "Dec 10 07:02:47 LabSZ sshd[24203]: Connection closed by 212.47.254.145 [preauth]",
        ];
        assert_eq!(
            message_of(&syslog, syslog[1]),
            "Failed password for invalid user webmaster"
        );
        let log4j = [
            "2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification time out: 3200",
            "2015-07-29 19:04:12,394 - WARN  [RecvWorker:188978561024:QuorumCnxManager$RecvWorker@762] - Interrupting SendWorker",
        ];
        let parts = HeaderFormat::detect(log4j).split(log4j[1]);
        assert_eq!(parts.message, "Interrupting SendWorker");
        assert_eq!(parts.level, Some(Level::Warning));
        assert_eq!(parts.timestamp, Some("2015-07-29 19:04:12,394"));
        let apache = [
            "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties",
            "[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6",
        ];
        let parts = HeaderFormat::detect(apache).split(apache[1]);
        assert_eq!(parts.message, "mod_jk child workerEnv in error state 6");
        assert_eq!(parts.level, Some(Level::Error));
        let logcat = [
            "03-17 16:13:38.811  1702  2395 D WindowManager: printFreezingDisplayLogs",
            "03-17 16:13:38.819  1702  8671 E PowerManagerService: acquire lock=233570404",
        ];
        let parts = HeaderFormat::detect(logcat).split(logcat[1]);
        assert_eq!(parts.message, "acquire lock=233570404");
        assert_eq!(parts.level, Some(Level::Error));
        let piped = [
            "20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579",
            "20171223-22:15:29:633|Step_StandReportReceiver|30002312|onReceive action: android.intent.action.SCREEN_ON",
        ];
        assert_eq!(message_of(&piped, piped[0]), "onStandStepChanged 3579");
    }

    #[test]
    fn digits_that_read_as_dates_and_times_are_timestamps() {
        let hdfs = [
            "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 terminating",
            "081109 203807 222 INFO dfs.DataNode$PacketResponder: PacketResponder 0 terminating",
            "081109 204005 35 INFO dfs.FSNamesystem: BLOCK* NameSystem.addStoredBlock: blockMap updated",
        ];
        let parts = HeaderFormat::detect(hdfs).split(hdfs[1]);
        assert_eq!(parts.timestamp, Some("081109 203807"));
        assert_eq!(parts.message, "PacketResponder 0 terminating");
        assert_eq!(
            classify("1131566461", 0),
            FieldKind::Timestamp,
            "epoch seconds"
        );
        assert_eq!(classify("148", 2), FieldKind::Number);
        assert_eq!(classify("987654", 2), FieldKind::Number, "no date, no time");
        assert_eq!(classify("-123456", 2), FieldKind::Number);
    }

    #[test]
    fn lines_without_the_header_stay_whole() {
        let sample = [
            "2026-11-29 10:00:01 ERROR db: timeout",
            "2026-11-29 10:00:02 INFO db: ok",
        ];
        let format = HeaderFormat::detect(sample);
        assert_eq!(
            format.split("    at com.example.Main").message,
            "at com.example.Main"
        );
        assert_eq!(
            format.split("2026-11-29 10:00:03 WARN db: slow").message,
            "slow"
        );
        let plain = ["disk full", "connection refused by peer"];
        assert!(matches!(HeaderFormat::detect(plain), HeaderFormat::None));
    }

    #[test]
    fn user_formats() {
        let format = HeaderFormat::parse("<Date> <Time> <Level> <Component>: <Content>").unwrap();
        let parts = format.split("081109 203615 INFO dfs.DataNode: Receiving block blk_1");
        assert_eq!(parts.message, "Receiving block blk_1");
        assert_eq!(parts.level, Some(Level::Info));
        let format = HeaderFormat::parse(r"^(?P<level>\w+) \| (?P<message>.*)$").unwrap();
        assert_eq!(format.split("ERROR | disk full").message, "disk full");
        assert!(
            HeaderFormat::parse("<Date> <Time>")
                .unwrap_err()
                .contains("Content")
        );
        assert!(HeaderFormat::parse("date time").is_err());
        assert!(HeaderFormat::parse("(?P<content>[").is_err());
    }
}
