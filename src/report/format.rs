//! The three report formats and the record they carry. `text` is the original incident-report
//! format (the raw line and its analysis); `jsonl` and `csv` carry every field of an
//! `EntryRecord`, so a report can be loaded into Elasticsearch, Loki, DuckDB or a spreadsheet.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::record::{RECORD_HEADER, format_record};

/// How a report file is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// The incident-report text records (raw line and analysis only).
    #[default]
    Text,
    /// One JSON object per line with every field.
    Jsonl,
    /// Comma-separated values with a header row and every field.
    Csv,
}

impl fmt::Display for ReportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Text => "text",
            Self::Jsonl => "jsonl",
            Self::Csv => "csv",
        })
    }
}

/// The columns of a CSV report, in order; also the field names of a JSON-lines record.
pub const CSV_COLUMNS: [&str; 11] = [
    "source",
    "line",
    "raw",
    "analysis",
    "model",
    "input_tokens",
    "output_tokens",
    "latency_ms",
    "cached",
    "template_id",
    "template",
];

/// One explained log entry, with what is known about how it was explained. Fields a client or
/// server did not tell are `None` (`null` in JSON, empty in CSV).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryRecord {
    /// The input the entry came from (a file name, or `-` for standard input).
    #[serde(default)]
    pub source: Option<String>,
    /// The entry's first line number in its source.
    #[serde(default)]
    pub line: Option<u64>,
    /// The log line as archived (redacted unless the server keeps raw lines).
    pub raw: String,
    /// The LLM's explanation.
    pub analysis: String,
    /// The model that answered.
    #[serde(default)]
    pub model: Option<String>,
    /// Tokens the LLM call for this entry used; 0 when the answer came from the cache.
    #[serde(default)]
    pub input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens: Option<u64>,
    /// How long the sampling request took, as the server measured it.
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// Whether the answer was shared from an earlier, equal entry.
    #[serde(default)]
    pub cached: Option<bool>,
    /// A stable id of the message template (`--dedup template`): the same text gives the same
    /// id in every run.
    #[serde(default)]
    pub template_id: Option<String>,
    /// The message template, `<*>` marking the parts that vary.
    #[serde(default)]
    pub template: Option<String>,
}

impl ReportFormat {
    /// The format a report path implies: `.jsonl`/`.ndjson` and `.csv`, else text.
    pub fn for_path(path: &Path) -> Self {
        let extension = path
            .extension()
            .map(|extension| extension.to_string_lossy().to_ascii_lowercase());
        match extension.as_deref() {
            Some("jsonl" | "ndjson") => Self::Jsonl,
            Some("csv") => Self::Csv,
            _ => Self::Text,
        }
    }

    /// What a report that starts with `start` is written in, when that can be told.
    pub fn detect(start: &[u8]) -> Option<Self> {
        if start.starts_with(RECORD_HEADER.as_bytes()) {
            Some(Self::Text)
        } else if start.starts_with(b"{") {
            Some(Self::Jsonl)
        } else if start.starts_with(csv_header().as_bytes()) {
            Some(Self::Csv)
        } else {
            None
        }
    }

    /// The bytes that open an empty report of this format.
    pub fn preamble(self) -> &'static str {
        match self {
            Self::Csv => csv_header(),
            Self::Text | Self::Jsonl => "",
        }
    }

    /// One record, as it is appended to a report.
    pub fn render(self, record: &EntryRecord) -> String {
        match self {
            Self::Text => format_record(&record.raw, &record.analysis),
            Self::Jsonl => {
                let mut line = serde_json::to_string(record).expect("records serialize");
                line.push('\n');
                line
            }
            Self::Csv => {
                let mut writer = csv::WriterBuilder::new()
                    .has_headers(false)
                    .from_writer(Vec::new());
                writer.serialize(record).expect("records serialize");
                let bytes = writer.into_inner().expect("writing to memory cannot fail");
                String::from_utf8(bytes).expect("CSV of strings is UTF-8")
            }
        }
    }
}

/// The header row of a CSV report (the column names need no quoting).
fn csv_header() -> &'static str {
    static HEADER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HEADER.get_or_init(|| format!("{}\n", CSV_COLUMNS.join(",")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_record() -> EntryRecord {
        EntryRecord {
            source: Some("app.log".into()),
            line: Some(12),
            raw: "ERROR db, \"primary\" timeout\nsecond line".into(),
            analysis: "The database timed out.".into(),
            model: Some("claude-x".into()),
            input_tokens: Some(57),
            output_tokens: Some(20),
            latency_ms: Some(812),
            cached: Some(false),
            template_id: Some("5b1f0c7a9e3d2b48".into()),
            template: Some("ERROR db <*> timeout".into()),
        }
    }

    #[test]
    fn paths_imply_formats() {
        assert_eq!(
            ReportFormat::for_path(Path::new("r.jsonl")),
            ReportFormat::Jsonl
        );
        assert_eq!(
            ReportFormat::for_path(Path::new("r.NDJSON")),
            ReportFormat::Jsonl
        );
        assert_eq!(
            ReportFormat::for_path(Path::new("r.csv")),
            ReportFormat::Csv
        );
        assert_eq!(
            ReportFormat::for_path(Path::new("incident_report.txt")),
            ReportFormat::Text
        );
        assert_eq!(
            ReportFormat::for_path(Path::new("report")),
            ReportFormat::Text
        );
    }

    #[test]
    fn every_format_is_told_from_its_first_bytes() {
        for format in [ReportFormat::Text, ReportFormat::Jsonl, ReportFormat::Csv] {
            let report = format!("{}{}", format.preamble(), format.render(&full_record()));
            assert_eq!(ReportFormat::detect(report.as_bytes()), Some(format));
        }
        assert_eq!(ReportFormat::detect(b"some other file"), None);
    }

    #[test]
    fn jsonl_keeps_every_field_on_one_line() {
        let line = ReportFormat::Jsonl.render(&full_record());
        assert_eq!(line.matches('\n').count(), 1);
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        for column in CSV_COLUMNS {
            assert!(value.get(column).is_some(), "{column} missing");
        }
        assert_eq!(value["line"], 12);
        let unknown = ReportFormat::Jsonl.render(&EntryRecord::default());
        assert!(unknown.contains("\"model\":null"), "{unknown}");
    }

    #[test]
    fn csv_rows_follow_the_header_and_quote_what_needs_it() {
        assert_eq!(
            ReportFormat::Csv.preamble(),
            "source,line,raw,analysis,model,input_tokens,output_tokens,latency_ms,cached,template_id,template\n"
        );
        let row = ReportFormat::Csv.render(&full_record());
        assert!(row.starts_with("app.log,12,\"ERROR db, \"\"primary\"\" timeout\nsecond line\","));
        let empty = ReportFormat::Csv.render(&EntryRecord::default());
        assert_eq!(empty, ",,,,,,,,,,\n");
    }
}
