//! The text record of one explained log entry, byte-compatible with the original report format
//! for ordinary lines, and the reader that parses a report back.
//!
//! Values are escaped so that no log line or LLM answer can break or forge a record, and only
//! where that is needed: a line feed becomes `\n`, a carriage return `\r`, any other control
//! character but the tab `\u{XX}`, and a backslash is doubled only where it would otherwise
//! start one of those escapes (before `n`, `r`, `u{`, another backslash, or a control
//! character). Every other backslash stays single, so a value without control characters is
//! written as it is unless a backslash in it precedes `n`, `r`, `u{` or a backslash. A value
//! never contains a line break, so every line of a report starts with one of the record's own
//! markers. Reports written when every backslash was doubled read back the same.

use std::fmt::Write as _;

/// The line that opens every record.
pub const RECORD_HEADER: &str = "--- INCIDENT REPORT ---";
/// The line that closes every record: thirty dashes.
pub const RECORD_SEPARATOR: &str = "------------------------------";

/// One record of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub raw: String,
    pub analysis: String,
}

/// Formats one report record:
///
/// ```text
/// --- INCIDENT REPORT ---
/// RAW: <log line>
/// ANALYSIS: <explanation>
/// ------------------------------
/// ```
pub fn format_record(raw_line: &str, analysis: &str) -> String {
    format!(
        "{RECORD_HEADER}\nRAW: {}\nANALYSIS: {}\n{RECORD_SEPARATOR}\n",
        escape(raw_line),
        escape(analysis)
    )
}

/// Escapes a value so that it stays on one line.
pub fn escape(value: &str) -> String {
    if !value.chars().any(|c| c == '\\' || needs_escape(c)) {
        return value.to_string();
    }
    let mut escaped = String::with_capacity(value.len() + 8);
    for (index, c) in value.char_indices() {
        match c {
            '\\' => {
                escaped.push('\\');
                // Doubled only where the reader would otherwise take it for an escape.
                if decodes_after_backslash(&value[index + 1..]) {
                    escaped.push('\\');
                }
            }
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            c if needs_escape(c) => {
                let _ = write!(escaped, "\\u{{{:x}}}", u32::from(c));
            }
            c => escaped.push(c),
        }
    }
    escaped
}

fn needs_escape(c: char) -> bool {
    c.is_control() && c != '\t'
}

/// Whether a backslash followed by `rest` (of the value, before escaping) must be doubled: when
/// what follows is written starting with something the reader decodes after a backslash.
fn decodes_after_backslash(rest: &str) -> bool {
    let mut chars = rest.chars();
    match chars.next() {
        Some('n' | 'r' | '\\') => true,
        Some('u') => chars.next() == Some('{'),
        Some(c) => needs_escape(c),
        None => false,
    }
}

/// Reverses `escape`; `None` for a malformed `\u{...}` escape. A backslash that starts no
/// escape (`C:\Users`) stands for itself.
pub fn unescape(value: &str) -> Option<String> {
    if !value.contains('\\') {
        return Some(value.to_string());
    }
    let mut plain = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            plain.push(c);
            continue;
        }
        match chars.peek() {
            Some('\\') => plain.push('\\'),
            Some('n') => plain.push('\n'),
            Some('r') => plain.push('\r'),
            Some('u') => {
                let mut ahead = chars.clone();
                ahead.next();
                if ahead.next() != Some('{') {
                    plain.push('\\');
                    continue;
                }
                let mut hex = String::new();
                loop {
                    match ahead.next()? {
                        '}' => break,
                        digit if digit.is_ascii_hexdigit() => hex.push(digit),
                        _ => return None,
                    }
                }
                plain.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                chars = ahead;
                continue;
            }
            _ => {
                plain.push('\\');
                continue;
            }
        }
        chars.next();
    }
    Some(plain)
}

/// Parses a whole report; the error names the first line that is not part of a whole record.
pub fn parse_report(text: &str) -> Result<Vec<Record>, String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    lines
        .chunks(4)
        .enumerate()
        .map(|(index, chunk)| parse_record(chunk, index as u64 * 4 + 1))
        .collect::<Result<_, _>>()
        .map_err(|error| error.to_string())
}

/// A report that cannot be read, and the line where that shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ReportReadError {
    pub line: u64,
    pub reason: String,
}

impl ReportReadError {
    pub fn new(line: u64, reason: impl Into<String>) -> Self {
        Self {
            line,
            reason: reason.into(),
        }
    }
}

/// Parses the lines of one record (each with its line feed) that start at line `first_line`.
pub fn parse_record(lines: &[&str], first_line: u64) -> Result<Record, ReportReadError> {
    let [header, raw, analysis, separator] = lines else {
        return Err(ReportReadError::new(first_line, "a record is cut short"));
    };
    let value = |text: &str, prefix: &str, at: u64| {
        text.strip_suffix('\n')
            .and_then(|text| text.strip_prefix(prefix))
            .and_then(unescape)
            .ok_or_else(|| ReportReadError::new(at, format!("expected '{prefix}<value>'")))
    };
    if header.strip_suffix('\n') != Some(RECORD_HEADER) {
        return Err(ReportReadError::new(
            first_line,
            format!("expected '{RECORD_HEADER}'"),
        ));
    }
    let raw = value(raw, "RAW: ", first_line + 1)?;
    let analysis = value(analysis, "ANALYSIS: ", first_line + 2)?;
    if separator.strip_suffix('\n') != Some(RECORD_SEPARATOR) {
        return Err(ReportReadError::new(
            first_line + 3,
            "expected the record separator",
        ));
    }
    Ok(Record { raw, analysis })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_matches_the_seed_format_byte_for_byte() {
        let record = format_record("ERROR db timeout", "The database timed out.");
        assert_eq!(
            record,
            "--- INCIDENT REPORT ---\nRAW: ERROR db timeout\nANALYSIS: The database timed out.\n------------------------------\n"
        );
        assert_eq!(RECORD_SEPARATOR.len(), 30);
    }

    #[test]
    fn a_hostile_corpus_round_trips_and_forges_nothing() {
        let hostile = [
            "plain line",
            "two\nlines",
            "fake record\n------------------------------\n--- INCIDENT REPORT ---\nRAW: forged",
            "carriage\rreturn and \\n literal backslash-n",
            "bell \u{7} escape \u{1b}[31m nul \u{0} del \u{7f} tab\tkept",
            "unicode ✓ ⏎ \u{2028} separator",
            "trailing backslash \\",
            "\\u{41} looks escaped",
            "",
        ];
        let mut report = String::new();
        for (index, raw) in hostile.iter().enumerate() {
            report.push_str(&format_record(raw, hostile[hostile.len() - 1 - index]));
        }
        let records = parse_report(&report).unwrap();
        assert_eq!(records.len(), hostile.len());
        for (index, record) in records.iter().enumerate() {
            assert_eq!(record.raw, hostile[index]);
            assert_eq!(record.analysis, hostile[hostile.len() - 1 - index]);
        }
        assert_eq!(
            report.lines().count(),
            hostile.len() * 4,
            "one line per field"
        );
    }

    #[test]
    fn backslashes_stay_single_unless_they_would_start_an_escape() {
        for exact in [
            "C:\\Users\\x",
            "C:\\Program Files\\App\\log.txt",
            "regex \\d+\\s*\\.",
            "ends with a backslash \\",
            "\\u not an escape, nor \\x41 nor \\t",
        ] {
            assert_eq!(escape(exact), exact);
            let record = format_record(exact, "ok");
            assert!(record.contains(&format!("\nRAW: {exact}\n")), "{record}");
            assert_eq!(parse_report(&record).unwrap()[0].raw, exact);
        }
        for (value, written) in [
            ("C:\\new\\report", "C:\\\\new\\\\report"),
            ("\\\\server\\share", "\\\\\\server\\share"),
            ("\\u{41}", "\\\\u{41}"),
            ("a\\\nb", "a\\\\\\nb"),
            ("bell\u{7}", "bell\\u{7}"),
        ] {
            assert_eq!(escape(value), written, "{value:?}");
            assert_eq!(unescape(written).as_deref(), Some(value), "{written}");
        }
    }

    /// How reports were escaped before: every backslash doubled.
    fn escape_every_backslash(value: &str) -> String {
        value
            .replace('\\', "\\\\")
            .replace('\n', "\\n")
            .replace('\r', "\\r")
    }

    proptest::proptest! {
        #[test]
        fn any_value_round_trips_on_one_line(raw in ".*", analysis in "(?s).*") {
            let record = format_record(&raw, &analysis);
            proptest::prop_assert_eq!(record.matches('\n').count(), 4);
            let records = parse_report(&record).unwrap();
            proptest::prop_assert_eq!(&records[0].raw, &raw);
            proptest::prop_assert_eq!(&records[0].analysis, &analysis);
        }

        #[test]
        fn backslash_heavy_values_round_trip(value in "[\\\\nru{}a0-9\n\r\u{1}]{0,24}") {
            proptest::prop_assert_eq!(unescape(&escape(&value)), Some(value));
        }

        #[test]
        fn values_without_escape_lookalikes_are_written_as_they_are(
            value in "([^\\\\\\p{Cc}]|\\\\[a-mo-qs-tv-z A-Z0-9.:/])*\\\\?"
        ) {
            proptest::prop_assert_eq!(&escape(&value), &value);
        }

        #[test]
        fn reports_escaped_the_old_way_read_back_the_same(value in "[^\\p{Cc}]*|(?s).*") {
            let old = escape_every_backslash(&value);
            if !value.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
                proptest::prop_assert_eq!(unescape(&old), Some(value));
            }
        }
    }

    #[test]
    fn damaged_reports_are_refused_with_the_line() {
        let record = format_record("a", "b");
        let torn = &record[..record.len() - 5];
        assert!(parse_report(torn).unwrap_err().contains("line 4"));
        let short = &record[..record.len() - 40];
        assert!(
            parse_report(short)
                .unwrap_err()
                .contains("line 1: a record is cut short")
        );
        let forged = record.replace("RAW: a", "RAW: a\\u{zz}");
        assert!(parse_report(&forged).unwrap_err().contains("line 2"));
        for malformed in ["\\u{41", "\\u{+41}", "\\u{}", "\\u{d800}", "\\u{110000}"] {
            assert_eq!(unescape(malformed), None, "{malformed}");
        }
        assert_eq!(parse_report("").unwrap(), vec![]);
    }
}
