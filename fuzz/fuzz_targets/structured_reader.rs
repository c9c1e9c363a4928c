//! Fuzzes reading reports back in every format (`ReportReader`): arbitrary bytes never make it
//! panic, and whatever records it reads before any error, written again in the same format,
//! read back to the same records.
#![no_main]

use libfuzzer_sys::fuzz_target;
use log_archiver::report::{EntryRecord, ReportFormat, ReportReader};

fuzz_target!(|data: &[u8]| {
    for format in [ReportFormat::Text, ReportFormat::Jsonl, ReportFormat::Csv] {
        let Ok(reader) = ReportReader::new(data, format) else {
            continue;
        };
        let records: Vec<EntryRecord> = reader.map_while(Result::ok).collect();
        let mut written = format.preamble().to_string();
        for record in &records {
            written.push_str(&format.render(record));
        }
        let read_back: Vec<EntryRecord> = ReportReader::new(written.as_bytes(), format)
            .expect("a written report opens")
            .collect::<Result<_, _>>()
            .expect("a written report reads back");
        assert_eq!(read_back.len(), records.len(), "{format}");
        for (again, record) in read_back.iter().zip(&records) {
            match format {
                // The text format keeps only the line and the analysis.
                ReportFormat::Text => {
                    assert_eq!((&again.raw, &again.analysis), (&record.raw, &record.analysis))
                }
                _ => assert_eq!(again, record, "{format}"),
            }
        }
    }
});
