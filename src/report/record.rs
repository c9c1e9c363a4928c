//! The text record of one explained log entry, byte-compatible with the original report format.

/// The line that closes every record: thirty dashes.
pub const RECORD_SEPARATOR: &str = "------------------------------";

/// Formats one report record:
///
/// ```text
/// --- INCIDENT REPORT ---
/// RAW: <log line>
/// ANALYSIS: <explanation>
/// ------------------------------
/// ```
pub fn format_record(raw_line: &str, analysis: &str) -> String {
    format!("--- INCIDENT REPORT ---\nRAW: {raw_line}\nANALYSIS: {analysis}\n{RECORD_SEPARATOR}\n")
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
}
