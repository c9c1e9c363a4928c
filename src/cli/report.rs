//! `log-archiver report`: read a report of any format back, filter its records, and count,
//! summarise, digest (text, JSON, HTML) or convert them (text, jsonl, csv). A damaged report is
//! named with its line.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use hdrhistogram::Histogram;
use regex::Regex;

use super::digest::{DigestText, write_digest_html};
use crate::report::digest::{DigestBuilder, kind_key};
use crate::report::{EntryRecord, ReportFormat, ReportReader, detect_format};

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The report to read (`-` for standard input).
    #[arg(value_name = "REPORT")]
    pub report: PathBuf,

    /// The report's format (default: told from its first bytes).
    #[arg(long, value_enum)]
    pub from: Option<ReportFormat>,

    /// Write the selected records in this format instead of summarising them.
    #[arg(long, value_enum)]
    pub to: Option<ReportFormat>,

    /// Where --to writes (default, or `-`: standard output). An existing file is not
    /// overwritten.
    #[arg(long, short, value_name = "FILE", requires = "to")]
    pub output: Option<PathBuf>,

    /// Print only the number of selected records.
    #[arg(long, conflicts_with = "to")]
    pub count: bool,

    /// Print the summary as JSON.
    #[arg(long, conflicts_with_all = ["to", "count"])]
    pub json: bool,

    /// Select records whose log line matches this regular expression.
    #[arg(long, value_name = "REGEX")]
    pub grep: Option<Regex>,

    /// Select records whose analysis matches this regular expression.
    #[arg(long, value_name = "REGEX")]
    pub analysis: Option<Regex>,

    /// Select records answered by this model.
    #[arg(long)]
    pub model: Option<String>,

    /// Select records from this input (as the report names it).
    #[arg(long)]
    pub source: Option<String>,

    /// Select records of this message template id.
    #[arg(long, value_name = "ID")]
    pub template_id: Option<String>,

    /// Print the digest instead of the summary: one row per kind of record (its template id, or
    /// its explanation in a text report), with level, count, first and last line and timestamp,
    /// template and explanation, most severe first, then most frequent.
    #[arg(long, conflicts_with_all = ["to", "count"])]
    pub digest: bool,

    /// Mark the kinds this older report does not have as new (with --digest).
    #[arg(long, value_name = "OLD_REPORT")]
    pub baseline: Option<PathBuf>,

    /// Also write the digest as one self-contained HTML page (sortable table, a timeline per
    /// kind, example lines, totals and cost); an existing file is replaced.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["to", "count"])]
    pub html: Option<PathBuf>,

    /// Select records whose input line lies in this range, such as 100-200, 100- or -200.
    #[arg(long, value_name = "FROM-TO", value_parser = parse_line_range)]
    pub lines: Option<LineRange>,
}

/// An inclusive range of input line numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRange {
    pub first: u64,
    pub last: u64,
}

fn parse_line_range(text: &str) -> Result<LineRange, String> {
    let invalid = || format!("'{text}' is not a line range such as 100-200, 100- or -200");
    let (first, last) = text.split_once('-').ok_or_else(invalid)?;
    let bound = |part: &str, default: u64| {
        if part.is_empty() {
            Ok(default)
        } else {
            part.trim().parse::<u64>().map_err(|_| invalid())
        }
    };
    let range = LineRange {
        first: bound(first, 1)?,
        last: bound(last, u64::MAX)?,
    };
    if range.first > range.last {
        return Err(invalid());
    }
    Ok(range)
}

impl ReportArgs {
    /// Whether a record passes every filter given.
    fn selects(&self, record: &EntryRecord) -> bool {
        let equals = |wanted: &Option<String>, value: &Option<String>| {
            wanted
                .as_ref()
                .is_none_or(|wanted| value.as_ref() == Some(wanted))
        };
        self.grep.as_ref().is_none_or(|re| re.is_match(&record.raw))
            && self
                .analysis
                .as_ref()
                .is_none_or(|re| re.is_match(&record.analysis))
            && equals(&self.model, &record.model)
            && equals(&self.source, &record.source)
            && equals(&self.template_id, &record.template_id)
            && self.lines.is_none_or(|range| {
                record
                    .line
                    .is_some_and(|line| (range.first..=range.last).contains(&line))
            })
    }

    fn open(&self) -> anyhow::Result<Box<dyn BufRead>> {
        if self.report.as_os_str() == "-" {
            return Ok(Box::new(BufReader::new(io::stdin())));
        }
        let file = File::open(&self.report).map_err(|error| {
            anyhow::anyhow!("cannot read report '{}': {error}", self.report.display())
        })?;
        anyhow::ensure!(
            !file.metadata().is_ok_and(|metadata| metadata.is_dir()),
            "report '{}' is a directory: give a report file (or - for stdin)",
            self.report.display()
        );
        Ok(Box::new(BufReader::with_capacity(64 * 1024, file)))
    }
}

pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let input = args.open()?;
    let name = args.report.display().to_string();
    let damaged = |error: crate::report::ReportReadError| {
        anyhow::anyhow!("report '{name}' cannot be read at {error}")
    };
    let (format, input): (ReportFormat, Box<dyn BufRead>) = match args.from {
        Some(format) => (format, input),
        None => {
            let (format, whole) = detect_format(input).map_err(|error| {
                anyhow::anyhow!(
                    "report '{name}' cannot be read at {error}; name its format with --from"
                )
            })?;
            (format, Box::new(whole))
        }
    };
    let reader = ReportReader::new(input, format).map_err(damaged)?;
    let selected = reader.filter(|outcome| outcome.as_ref().map_or(true, |r| args.selects(r)));
    if args.digest || args.html.is_some() || args.baseline.is_some() {
        let baseline = args.baseline.as_deref().map(baseline_kinds).transpose()?;
        let mut builder = DigestBuilder::default();
        for record in selected {
            builder.add(&record.map_err(damaged)?);
        }
        let digest = builder.finish(baseline.as_ref());
        if let Some(path) = &args.html {
            write_digest_html(&digest, &name, path)?;
            eprintln!("digest page written to '{}'", path.display());
        }
        if args.json {
            println!(
                "{}",
                serde_json::to_string(&digest).expect("digests serialize")
            );
        } else if args.digest || args.html.is_none() {
            print!(
                "{}",
                DigestText {
                    digest: &digest,
                    name: &name,
                    limit: None,
                }
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(to) = args.to else {
        let mut summary = Summary::default();
        for record in selected {
            summary.add(&record.map_err(damaged)?);
        }
        if args.count {
            println!("{}", summary.records);
        } else if args.json {
            println!("{}", summary.to_json(format));
        } else {
            print!("{}", summary.describe(&name, format));
        }
        return Ok(ExitCode::SUCCESS);
    };
    match args
        .output
        .as_deref()
        .filter(|path| path.as_os_str() != "-")
    {
        Some(path) => convert_into_file(selected, to, path).map_err(|error| {
            error.context(format!("nothing was written to '{}'", path.display()))
        })?,
        None => {
            let stdout = io::stdout().lock();
            match convert(selected, to, BufWriter::new(stdout)) {
                // A reader such as `head` that stops early is not an error.
                Err(error) if is_broken_pipe(&error) => {}
                outcome => outcome?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The kinds of an older report, for marking what is new.
fn baseline_kinds(path: &Path) -> anyhow::Result<HashSet<String>> {
    let name = path.display();
    let file = File::open(path)
        .map_err(|error| anyhow::anyhow!("cannot read baseline report '{name}': {error}"))?;
    let (format, input) = detect_format(BufReader::new(file))
        .map_err(|error| anyhow::anyhow!("baseline report '{name}' cannot be read at {error}"))?;
    let reader = ReportReader::new(input, format)
        .map_err(|error| anyhow::anyhow!("baseline report '{name}' cannot be read at {error}"))?;
    reader
        .map(|record| {
            record.map(|record| kind_key(&record)).map_err(|error| {
                anyhow::anyhow!("baseline report '{name}' cannot be read at {error}")
            })
        })
        .collect()
}

/// Writes `records` in `format` to `out`; stops at the first damaged record.
fn convert<W: Write>(
    records: impl Iterator<Item = Result<EntryRecord, crate::report::ReportReadError>>,
    format: ReportFormat,
    mut out: W,
) -> anyhow::Result<()> {
    out.write_all(format.preamble().as_bytes())?;
    for record in records {
        let record = record.map_err(|error| anyhow::anyhow!("the report is damaged at {error}"))?;
        out.write_all(format.render(&record).as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

/// Converts into a new file, whole or not at all: written beside it, then renamed.
fn convert_into_file(
    records: impl Iterator<Item = Result<EntryRecord, crate::report::ReportReadError>>,
    format: ReportFormat,
    path: &Path,
) -> anyhow::Result<()> {
    if path.exists() {
        anyhow::bail!(
            "'{}' already exists (it is not overwritten; remove it or choose another --output)",
            path.display()
        );
    }
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    // Created like any new file (0666 less the umask), not owner-only like a temporary file.
    let mut temp = tempfile::Builder::new()
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)?;
    convert(records, format, BufWriter::new(temp.as_file_mut()))?;
    temp.as_file().sync_all()?;
    temp.persist_noclobber(path)?;
    Ok(())
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<io::Error>()
        .is_some_and(|error| error.kind() == io::ErrorKind::BrokenPipe)
}

/// What the selected records of a report add up to.
struct Summary {
    records: u64,
    sources: BTreeMap<String, u64>,
    models: BTreeMap<String, u64>,
    input_tokens: u64,
    output_tokens: u64,
    /// Records that tell their tokens.
    with_tokens: u64,
    cached: u64,
    templates: BTreeMap<String, u64>,
    latencies_ms: Histogram<u64>,
}

impl Default for Summary {
    fn default() -> Self {
        Self {
            records: 0,
            sources: BTreeMap::new(),
            models: BTreeMap::new(),
            input_tokens: 0,
            output_tokens: 0,
            with_tokens: 0,
            cached: 0,
            templates: BTreeMap::new(),
            latencies_ms: Histogram::new(3).expect("3 significant figures are allowed"),
        }
    }
}

/// How a missing value is shown in a summary.
const UNKNOWN: &str = "(not recorded)";

impl Summary {
    fn add(&mut self, record: &EntryRecord) {
        let name = |value: &Option<String>| value.clone().unwrap_or_else(|| UNKNOWN.to_string());
        self.records += 1;
        *self.sources.entry(name(&record.source)).or_default() += 1;
        *self.models.entry(name(&record.model)).or_default() += 1;
        if let (Some(input), Some(output)) = (record.input_tokens, record.output_tokens) {
            self.input_tokens = self.input_tokens.saturating_add(input);
            self.output_tokens = self.output_tokens.saturating_add(output);
            self.with_tokens += 1;
        }
        self.cached += u64::from(record.cached == Some(true));
        if let Some(id) = &record.template_id {
            *self.templates.entry(id.clone()).or_default() += 1;
        }
        if let Some(latency) = record.latency_ms {
            self.latencies_ms.saturating_record(latency);
        }
    }

    /// The longest recorded latency, in milliseconds.
    fn latency_max(&self) -> Option<u64> {
        (!self.latencies_ms.is_empty()).then(|| self.latencies_ms.max())
    }

    /// The `p`-th percentile of the recorded latencies, in milliseconds.
    fn latency_percentile(&self, p: f64) -> Option<u64> {
        (!self.latencies_ms.is_empty()).then(|| self.latencies_ms.value_at_percentile(p))
    }

    fn describe(self, name: &str, format: ReportFormat) -> String {
        let counts = |map: &BTreeMap<String, u64>| {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
            entries
                .iter()
                .map(|(key, count)| format!("{key} ({count})"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut text = format!("{name} ({format}): {} records\n", self.records);
        if self.records == 0 {
            return text;
        }
        text += &format!("  sources: {}\n", counts(&self.sources));
        text += &format!("  models: {}\n", counts(&self.models));
        if self.with_tokens > 0 {
            text += &format!(
                "  tokens: {} input, {} output (told by {} records); {} answered from the cache\n",
                self.input_tokens, self.output_tokens, self.with_tokens, self.cached
            );
        }
        if !self.templates.is_empty() {
            text += &format!("  templates: {}\n", self.templates.len());
        }
        if let (Some(p50), Some(p95), Some(max)) = (
            self.latency_percentile(50.0),
            self.latency_percentile(95.0),
            self.latency_max(),
        ) {
            text += &format!("  latency: p50 {p50} ms, p95 {p95} ms, max {max} ms\n");
        }
        text
    }

    fn to_json(&self, format: ReportFormat) -> serde_json::Value {
        serde_json::json!({
            "format": format.to_string(),
            "records": self.records,
            "sources": self.sources,
            "models": self.models,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "records_with_tokens": self.with_tokens,
            "cached": self.cached,
            "templates": self.templates.len(),
            "latency_ms": {
                "p50": self.latency_percentile(50.0),
                "p95": self.latency_percentile(95.0),
                "max": self.latency_max(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ranges_parse_with_open_ends() {
        assert_eq!(
            parse_line_range("100-200"),
            Ok(LineRange {
                first: 100,
                last: 200
            })
        );
        assert_eq!(parse_line_range("100-").unwrap().last, u64::MAX);
        assert_eq!(parse_line_range("-200").unwrap().first, 1);
        for bad in ["200-100", "abc", "1-x", "12"] {
            assert!(parse_line_range(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn percentiles_come_from_the_recorded_latencies() {
        let mut summary = Summary::default();
        for latency in [5, 1, 3, 2, 4] {
            summary.add(&EntryRecord {
                latency_ms: Some(latency),
                ..EntryRecord::default()
            });
        }
        assert_eq!(summary.latency_percentile(50.0), Some(3));
        assert_eq!(summary.latency_max(), Some(5));
        summary.add(&EntryRecord {
            input_tokens: Some(u64::MAX),
            output_tokens: Some(u64::MAX),
            ..EntryRecord::default()
        });
        summary.add(&EntryRecord {
            input_tokens: Some(u64::MAX),
            output_tokens: Some(1),
            ..EntryRecord::default()
        });
        assert_eq!(summary.input_tokens, u64::MAX, "totals saturate");
        assert_eq!(Summary::default().latency_percentile(50.0), None);
    }
}
