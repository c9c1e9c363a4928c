//! Reads a report of any format back one record at a time, so a report of any size can be
//! counted, filtered and converted in bounded memory. Every error names the line it shows on.

use std::io::{BufRead, Chain, Cursor, Read};

use super::format::{CSV_COLUMNS, EntryRecord, ReportFormat};
use super::record::{ReportReadError, parse_record};

/// How many first bytes are enough to tell a report's format.
const DETECT_BYTES: usize = 256;

/// The records of one report, in file order.
pub struct ReportReader<R: BufRead> {
    source: Source<R>,
    /// Set after the first error: a damaged report is not read past it.
    failed: bool,
}

enum Source<R: BufRead> {
    Text { input: R, line: u64 },
    Jsonl { input: R, line: u64 },
    Csv(csv::DeserializeRecordsIntoIter<R, EntryRecord>),
}

impl<R: BufRead> ReportReader<R> {
    /// Reads `input` as a report of `format`.
    pub fn new(input: R, format: ReportFormat) -> Result<Self, ReportReadError> {
        let source = match format {
            ReportFormat::Text => Source::Text { input, line: 0 },
            ReportFormat::Jsonl => Source::Jsonl { input, line: 0 },
            ReportFormat::Csv => {
                let mut reader = csv::ReaderBuilder::new().from_reader(input);
                let header = reader
                    .headers()
                    .map_err(|error| ReportReadError::new(1, error.to_string()))?;
                if !header.is_empty() && header.iter().ne(CSV_COLUMNS) {
                    return Err(ReportReadError::new(
                        1,
                        format!("expected the header row '{}'", CSV_COLUMNS.join(",")),
                    ));
                }
                Source::Csv(reader.into_deserialize())
            }
        };
        Ok(Self {
            source,
            failed: false,
        })
    }

    fn next_record(&mut self) -> Option<Result<EntryRecord, ReportReadError>> {
        match &mut self.source {
            Source::Text { input, line } => {
                let first_line = *line + 1;
                let mut lines = Vec::with_capacity(4);
                while lines.len() < 4 {
                    match read_line(input, line) {
                        Ok(Some(text)) => lines.push(text),
                        Ok(None) => break,
                        Err(error) => return Some(Err(error)),
                    }
                }
                if lines.is_empty() {
                    return None;
                }
                let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
                Some(parse_record(&lines, first_line).map(|record| EntryRecord {
                    raw: record.raw,
                    analysis: record.analysis,
                    ..EntryRecord::default()
                }))
            }
            Source::Jsonl { input, line } => loop {
                let text = match read_line(input, line) {
                    Ok(Some(text)) => text,
                    Ok(None) => return None,
                    Err(error) => return Some(Err(error)),
                };
                if text.trim().is_empty() {
                    continue;
                }
                return Some(
                    serde_json::from_str(&text)
                        .map_err(|error| ReportReadError::new(*line, error.to_string())),
                );
            },
            Source::Csv(records) => records.next().map(|outcome| {
                outcome.map_err(|error| {
                    let line = error.position().map_or(0, |position| position.line());
                    ReportReadError::new(line, error.to_string())
                })
            }),
        }
    }
}

/// An input whose first bytes were read, put back in front of the rest.
pub type Rejoined<R> = Chain<Cursor<Vec<u8>>, R>;

/// The format `input`'s first bytes show (an empty input is an empty text report), and the
/// whole input again, those bytes included; an error when they show none.
pub fn detect_format<R: BufRead>(
    mut input: R,
) -> Result<(ReportFormat, Rejoined<R>), ReportReadError> {
    // A pipe may hand over fewer bytes at a time than the longest opening to recognise.
    let mut start = Vec::with_capacity(DETECT_BYTES);
    while start.len() < DETECT_BYTES {
        let chunk = input
            .fill_buf()
            .map_err(|error| ReportReadError::new(1, error.to_string()))?;
        if chunk.is_empty() {
            break;
        }
        let taken = chunk.len().min(DETECT_BYTES - start.len());
        start.extend_from_slice(&chunk[..taken]);
        input.consume(taken);
    }
    let format = if start.is_empty() {
        ReportFormat::Text
    } else {
        ReportFormat::detect(&start).ok_or_else(|| {
            ReportReadError::new(
                1,
                "not a log-archiver report in any format (text, jsonl, csv)",
            )
        })?
    };
    Ok((format, Cursor::new(start).chain(input)))
}

/// The next line with its line feed, counting lines; `None` at the end.
fn read_line<R: BufRead>(input: &mut R, line: &mut u64) -> Result<Option<String>, ReportReadError> {
    let mut text = String::new();
    match input.read_line(&mut text) {
        Ok(0) => Ok(None),
        Ok(_) => {
            *line += 1;
            Ok(Some(text))
        }
        Err(error) => Err(ReportReadError::new(*line + 1, error.to_string())),
    }
}

impl<R: BufRead> Iterator for ReportReader<R> {
    type Item = Result<EntryRecord, ReportReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = self.next_record();
        self.failed = matches!(item, Some(Err(_)));
        item
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records() -> Vec<EntryRecord> {
        let hostile = [
            "plain line",
            "two\nlines, with \"quotes\"",
            "fake record\n------------------------------\n--- INCIDENT REPORT ---\nRAW: forged",
            "{\"raw\":\"forged json\"}",
            "bell \u{7} nul \u{0} tab\tkept ✓",
            "",
        ];
        hostile
            .iter()
            .enumerate()
            .map(|(index, raw)| EntryRecord {
                source: Some("app.log".into()),
                line: Some(index as u64 * 3 + 1),
                raw: raw.to_string(),
                analysis: format!("analysis {index}, \"quoted\""),
                model: (index % 2 == 0).then(|| "model-a".to_string()),
                input_tokens: Some(index as u64 * 10),
                output_tokens: Some(7),
                latency_ms: (index != 3).then_some(index as u64),
                cached: Some(index > 3),
                template_id: Some("00ff00ff00ff00ff".into()),
                template: Some("t <*>".into()),
            })
            .collect()
    }

    fn write(format: ReportFormat, records: &[EntryRecord]) -> String {
        let mut report = format.preamble().to_string();
        for record in records {
            report.push_str(&format.render(record));
        }
        report
    }

    fn read(report: &str) -> (ReportFormat, Vec<EntryRecord>) {
        let (format, whole) = detect_format(report.as_bytes()).unwrap();
        let reader = ReportReader::new(whole, format).unwrap();
        (format, reader.collect::<Result<_, _>>().unwrap())
    }

    #[test]
    fn structured_formats_round_trip_every_field() {
        for format in [ReportFormat::Jsonl, ReportFormat::Csv] {
            let report = write(format, &records());
            let (detected, read_back) = read(&report);
            assert_eq!(detected, format);
            assert_eq!(read_back, records(), "{format}");
            assert_eq!(write(format, &read_back), report, "{format} byte for byte");
        }
    }

    #[test]
    fn text_round_trips_the_line_and_analysis() {
        let report = write(ReportFormat::Text, &records());
        let (detected, read_back) = read(&report);
        assert_eq!(detected, ReportFormat::Text);
        for (read, written) in read_back.iter().zip(records()) {
            assert_eq!(
                (&read.raw, &read.analysis),
                (&written.raw, &written.analysis)
            );
            assert_eq!(read.model, None);
        }
        assert_eq!(write(ReportFormat::Text, &read_back), report);
    }

    #[test]
    fn damage_is_reported_with_its_line_and_stops_the_reading() {
        let jsonl = write(ReportFormat::Jsonl, &records()[..2]);
        let torn = &jsonl[..jsonl.len() - 10];
        let outcomes: Vec<_> = ReportReader::new(torn.as_bytes(), ReportFormat::Jsonl)
            .unwrap()
            .collect();
        assert_eq!(outcomes.len(), 2);
        assert_eq!(outcomes[1].as_ref().unwrap_err().line, 2);

        let text = write(ReportFormat::Text, &records()[..2]);
        let torn = &text[..text.len() - 5];
        let error = ReportReader::new(torn.as_bytes(), ReportFormat::Text)
            .unwrap()
            .find_map(Result::err)
            .unwrap();
        assert_eq!(error.line, 8);

        let bad_number = format!(
            "{}app.log,x,raw,analysis,,,,,,,\n",
            ReportFormat::Csv.preamble()
        );
        let error = ReportReader::new(bad_number.as_bytes(), ReportFormat::Csv)
            .unwrap()
            .find_map(Result::err)
            .unwrap();
        assert_eq!(error.line, 2, "{error}");

        let wrong_header = "a,b,c\n1,2,3\n";
        let error = ReportReader::new(wrong_header.as_bytes(), ReportFormat::Csv)
            .err()
            .unwrap();
        assert_eq!(error.line, 1);
        assert!(detect_format("hello\n".as_bytes()).is_err());
        // A pipe handing over a few bytes at a time is still recognised.
        let csv = write(ReportFormat::Csv, &records());
        let trickle = std::io::BufReader::with_capacity(3, csv.as_bytes());
        let (format, whole) = detect_format(trickle).unwrap();
        assert_eq!(format, ReportFormat::Csv);
        let reader = ReportReader::new(whole, format).unwrap();
        assert_eq!(reader.count(), records().len());
        assert_eq!(read("").1, vec![]);
    }
}
