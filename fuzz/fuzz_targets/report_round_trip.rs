//! Fuzzes the record format's round trip: any log line and analysis, formatted with
//! `format_record`, take exactly four lines and parse back with `parse_report` to exactly one
//! record holding the same values; a line without control characters and without a backslash
//! before `n`, `r`, `u{` or another backslash is written as it is; and a
//! run of records parses back to the same sequence. `format_record` asks nothing of its inputs
//! (it escapes line breaks and control characters itself), so the strings are arbitrary rather
//! than the cleaned, single-line analysis the server writes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use log_archiver::report::{Record, format_record, parse_report};

fuzz_target!(|pairs: Vec<(String, String)>| {
    let mut report = String::new();
    let mut expected = Vec::new();
    for (raw, analysis) in pairs {
        let formatted = format_record(&raw, &analysis);
        assert_eq!(formatted.matches('\n').count(), 4, "{formatted:?}");
        let plain = |value: &str| {
            !value.chars().any(|c| c.is_control() && c != '\t')
                && !["\\n", "\\r", "\\u{", "\\\\"]
                    .iter()
                    .any(|lookalike| value.contains(lookalike))
        };
        if plain(&raw) {
            assert!(
                formatted.contains(&format!("\nRAW: {raw}\n")),
                "{formatted:?}"
            );
        }
        let record = Record { raw, analysis };
        assert_eq!(parse_report(&formatted), Ok(vec![record.clone()]));
        report.push_str(&formatted);
        expected.push(record);
    }
    assert_eq!(parse_report(&report), Ok(expected));
});
