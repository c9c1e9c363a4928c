//! Fuzzes `parse_report` with arbitrary bytes. For any UTF-8 text it never panics; it accepts
//! a report only when every value's `\u{...}` escapes are well formed (`\u{HEX}` naming a
//! character, as `escape` writes them; any other backslash is a literal one or starts `\\`,
//! `\n` or `\r`); and the records it accepts format back into a report that parses to the same
//! records.
#![no_main]

use libfuzzer_sys::fuzz_target;
use log_archiver::report::{format_record, parse_report};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(records) = parse_report(text) else {
        return;
    };
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    assert_eq!(lines.len(), records.len() * 4, "four lines per record");
    for record_lines in lines.chunks(4) {
        for (line, prefix) in record_lines[1..3].iter().zip(["RAW: ", "ANALYSIS: "]) {
            let value = line
                .strip_suffix('\n')
                .and_then(|line| line.strip_prefix(prefix))
                .expect("an accepted record has its markers");
            assert!(well_formed(value), "accepted a malformed escape: {line:?}");
        }
    }
    let again: String = records
        .iter()
        .map(|record| format_record(&record.raw, &record.analysis))
        .collect();
    assert_eq!(parse_report(&again).as_ref(), Ok(&records));
});

/// Whether every `\u{` in `value` that a backslash starts is an escape `escape` could have
/// written (other backslashes are literal or start `\\`, `\n`, `\r`).
fn well_formed(value: &str) -> bool {
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            continue;
        }
        let mut ahead = chars.clone();
        match ahead.next() {
            Some('\\' | 'n' | 'r') => {
                chars = ahead;
            }
            Some('u') if ahead.next() == Some('{') => {
                let mut hex = String::new();
                loop {
                    match ahead.next() {
                        Some('}') => break,
                        Some(digit) if digit.is_ascii_hexdigit() => hex.push(digit),
                        _ => return false,
                    }
                }
                let named = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                if named.is_none() {
                    return false;
                }
                chars = ahead;
            }
            _ => {}
        }
    }
    true
}
