//! The text record of one explained log entry, byte-compatible with the original report format
//! for ordinary lines, and the reader that parses a report back.
//!
//! Values are escaped so that no log line or LLM answer can break or forge a record: a
//! backslash becomes `\\`, a line feed `\n`, a carriage return `\r`, and any other control
//! character but the tab `\u{XX}`. A value therefore never contains a line break, so every
//! line of a report starts with one of the record's own markers.

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
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
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

/// Reverses `escape`; `None` for a malformed escape.
pub fn unescape(value: &str) -> Option<String> {
    let mut plain = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            plain.push(c);
            continue;
        }
        match chars.next()? {
            '\\' => plain.push('\\'),
            'n' => plain.push('\n'),
            'r' => plain.push('\r'),
            'u' => {
                if chars.next()? != '{' {
                    return None;
                }
                let mut hex = String::new();
                loop {
                    match chars.next()? {
                        '}' => break,
                        digit if digit.is_ascii_hexdigit() => hex.push(digit),
                        _ => return None,
                    }
                }
                plain.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
            }
            _ => return None,
        }
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
        let forged = record.replace("RAW: a", "RAW: a\\q");
        assert!(parse_report(&forged).unwrap_err().contains("line 2"));
        for malformed in ["\\u{41", "\\u{+41}", "\\u{}", "\\u{d800}", "\\u41", "\\"] {
            assert_eq!(unescape(malformed), None, "{malformed}");
        }
        assert_eq!(parse_report("").unwrap(), vec![]);
    }
}
