//! Multi-line entries: continuation lines (stack-trace frames, indented lines, `Caused by:`)
//! fold into the entry that starts them, so a Java exception is one entry, not forty. A folded
//! entry keeps its first line's number; its lines are joined with ` ⏎ ` so that the record
//! stays on one line.

use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;
use tokio::sync::mpsc;

use super::input::{Entry, InputError, InputItem};

/// What joins the lines of a folded entry.
pub const LINE_JOINER: &str = " ⏎ ";

/// Which lines continue the entry before them.
#[derive(Debug, Clone)]
pub enum MultilineMode {
    /// Every line is an entry.
    Off,
    /// Lines starting with whitespace, `Caused by:` or `... N more`.
    Auto,
    /// Lines matching this pattern.
    Pattern(Regex),
}

static AUTO_CONTINUATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:[ \t]+\S|Caused by:|\.\.\. \d+ more)").expect("valid pattern")
});

impl MultilineMode {
    fn continues(&self, line: &str) -> bool {
        match self {
            Self::Off => false,
            Self::Auto => AUTO_CONTINUATION.is_match(line),
            Self::Pattern(pattern) => pattern.is_match(line),
        }
    }
}

impl FromStr for MultilineMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "off" => Ok(Self::Off),
            "auto" => Ok(Self::Auto),
            pattern => Regex::new(pattern).map(Self::Pattern).map_err(|error| {
                format!("'{text}' is neither auto, off nor a valid pattern: {error}")
            }),
        }
    }
}

/// Folds continuation lines of `input` into their entries; a folded entry is cut (and marked
/// truncated) past `max_bytes`.
pub fn fold(
    mut input: mpsc::Receiver<Result<InputItem, InputError>>,
    mode: MultilineMode,
    max_bytes: usize,
) -> mpsc::Receiver<Result<InputItem, InputError>> {
    if matches!(mode, MultilineMode::Off) {
        return input;
    }
    let (sender, output) = mpsc::channel(input.max_capacity());
    tokio::spawn(async move {
        let mut pending: Option<Entry> = None;
        while let Some(item) = input.recv().await {
            let item = match item {
                Ok(InputItem::Entry(entry)) if pending.is_some() && mode.continues(&entry.text) => {
                    let folded = pending.as_mut().expect("checked above");
                    append(folded, &entry, max_bytes);
                    continue;
                }
                other => other,
            };
            let next = match item {
                Ok(InputItem::Entry(entry)) => pending
                    .replace(entry)
                    .map(|entry| Ok(InputItem::Entry(entry))),
                other => {
                    if let Some(entry) = pending.take()
                        && sender.send(Ok(InputItem::Entry(entry))).await.is_err()
                    {
                        return;
                    }
                    Some(other)
                }
            };
            if let Some(next) = next
                && sender.send(next).await.is_err()
            {
                return;
            }
        }
        if let Some(entry) = pending {
            let _ = sender.send(Ok(InputItem::Entry(entry))).await;
        }
    });
    output
}

fn append(folded: &mut Entry, continuation: &Entry, max_bytes: usize) {
    folded.invalid_utf8 |= continuation.invalid_utf8;
    if folded.truncated {
        return;
    }
    let line = continuation.text.trim();
    if folded.text.len() + LINE_JOINER.len() + line.len() > max_bytes {
        folded.text.push_str(" [continuation lines cut]");
        folded.truncated = true;
        return;
    }
    folded.text.push_str(LINE_JOINER);
    folded.text.push_str(line);
    folded.truncated |= continuation.truncated;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(line_number: u64, text: &str) -> Result<InputItem, InputError> {
        Ok(InputItem::Entry(Entry {
            line_number,
            text: text.to_string(),
            invalid_utf8: false,
            truncated: false,
        }))
    }

    async fn run(lines: &[&str], mode: MultilineMode, max_bytes: usize) -> Vec<(u64, String)> {
        let (sender, receiver) = mpsc::channel(16);
        let items: Vec<_> = lines
            .iter()
            .enumerate()
            .map(|(index, line)| {
                if line.is_empty() {
                    Ok(InputItem::Blank {
                        line_number: index as u64 + 1,
                    })
                } else {
                    entry(index as u64 + 1, line)
                }
            })
            .collect();
        tokio::spawn(async move {
            for item in items {
                sender.send(item).await.unwrap();
            }
        });
        let mut output = fold(receiver, mode, max_bytes);
        let mut folded = Vec::new();
        while let Some(item) = output.recv().await {
            match item.unwrap() {
                InputItem::Entry(entry) => folded.push((entry.line_number, entry.text)),
                InputItem::Blank { line_number } => folded.push((line_number, String::new())),
            }
        }
        folded
    }

    #[tokio::test]
    async fn a_java_exception_is_one_entry() {
        let lines = [
            "2026-11-29 10:00:00 ERROR [main] request failed",
            "java.lang.IllegalStateException: boom",
            "\tat com.example.Service.call(Service.java:42)",
            "\tat com.example.Main.main(Main.java:7)",
            "Caused by: java.io.IOException: disk",
            "\t... 2 more",
            "2026-11-29 10:00:01 INFO [main] recovered",
        ];
        let folded = run(&lines, MultilineMode::Auto, 65536).await;
        assert_eq!(folded.len(), 3);
        assert_eq!(folded[0], (1, lines[0].to_string()));
        assert_eq!(folded[1].0, 2);
        assert_eq!(
            folded[1].1,
            "java.lang.IllegalStateException: boom ⏎ at com.example.Service.call(Service.java:42) ⏎ at com.example.Main.main(Main.java:7) ⏎ Caused by: java.io.IOException: disk ⏎ ... 2 more"
        );
        assert_eq!(folded[2].0, 7);
    }

    #[tokio::test]
    async fn off_a_pattern_blank_lines_and_the_size_cap() {
        let lines = [
            "start",
            "  indented",
            "",
            "  after blank",
            "next",
            "+ more",
            "+ again",
        ];
        assert_eq!(run(&lines, MultilineMode::Off, 100).await.len(), 7);
        let pattern: MultilineMode = r"^\+".parse().unwrap();
        let folded = run(&lines, pattern, 100).await;
        assert_eq!(
            folded.last().unwrap(),
            &(5, "next ⏎ + more ⏎ + again".to_string())
        );
        let auto = run(&lines, MultilineMode::Auto, 100).await;
        assert_eq!(auto[0], (1, "start ⏎ indented".to_string()));
        assert_eq!(auto[1], (3, String::new()), "a blank line ends an entry");
        assert_eq!(
            auto[2],
            (4, "  after blank".to_string()),
            "nothing to continue after a blank"
        );
        let capped = run(&["start", " a", " b"], MultilineMode::Auto, 12).await;
        assert_eq!(capped[0].1, "start ⏎ a [continuation lines cut]");
        assert!("(".parse::<MultilineMode>().is_err());
    }
}
