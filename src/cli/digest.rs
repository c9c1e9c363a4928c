//! Shows a report's digest: as text in the terminal, as JSON, or as one self-contained HTML page
//! (no network, no external assets; every value escaped by the template engine).

use std::fmt;
use std::path::Path;

use std::fs::File;
use std::io::BufReader;

use askama::Template;

use crate::pipeline::progress::thousands;
use crate::report::digest::{Digest, DigestBuilder, DigestKind};
use crate::report::{ReportReader, detect_format};

/// The width and height of a kind's timeline, in pixels, and its number of bars.
const TIMELINE_WIDTH: u32 = 240;
const TIMELINE_HEIGHT: u32 = 24;
const TIMELINE_BARS: u32 = 60;

/// The digest as text: one block per kind, most severe first.
pub struct DigestText<'a> {
    pub digest: &'a Digest,
    pub name: &'a str,
    /// At most this many kinds (all when `None`).
    pub limit: Option<usize>,
}

impl fmt::Display for DigestText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digest = self.digest;
        let new = digest.kinds.iter().filter(|kind| kind.new).count();
        write!(
            f,
            "Digest of {}: {} records, {} kinds",
            self.name,
            thousands(digest.records),
            thousands(digest.kinds.len() as u64)
        )?;
        if digest.with_baseline {
            write!(f, ", {} new since the baseline", thousands(new as u64))?;
        }
        writeln!(f)?;
        let shown = self.limit.unwrap_or(digest.kinds.len());
        for kind in digest.kinds.iter().take(shown) {
            writeln!(
                f,
                "{:<9} {:>9}  {}{}{}",
                kind.level.unwrap_or("-"),
                thousands(kind.count),
                line_span(kind),
                time_span(kind)
                    .map(|span| format!("  {span}"))
                    .unwrap_or_default(),
                if kind.new { "  NEW" } else { "" }
            )?;
            if let Some(template) = &kind.template {
                writeln!(f, "          {template}")?;
            }
            writeln!(f, "          -> {}", kind.explanation)?;
        }
        if shown < digest.kinds.len() {
            writeln!(
                f,
                "... and {} more kinds (log-archiver report REPORT --digest lists them all)",
                thousands((digest.kinds.len() - shown) as u64)
            )?;
        }
        Ok(())
    }
}

fn line_span(kind: &DigestKind) -> String {
    match (kind.first_line, kind.last_line) {
        (Some(first), Some(last)) if first != last => {
            format!("lines {}-{}", thousands(first), thousands(last))
        }
        (Some(first), _) => format!("line {}", thousands(first)),
        _ => String::new(),
    }
}

fn time_span(kind: &DigestKind) -> Option<String> {
    match (&kind.first_time, &kind.last_time) {
        (Some(first), Some(last)) if first != last => Some(format!("{first} .. {last}")),
        (Some(first), _) => Some(first.clone()),
        _ => None,
    }
}

/// The page's template; askama escapes every value for HTML.
#[derive(Template)]
#[template(path = "digest.html")]
struct DigestPage<'a> {
    title: &'a str,
    records: String,
    kinds: String,
    new_kinds: String,
    with_baseline: bool,
    tokens: String,
    cost: String,
    last_position: String,
    timeline_width: u32,
    timeline_height: u32,
    rows: Vec<PageRow<'a>>,
}

struct PageRow<'a> {
    level: &'a str,
    /// Severity for sorting and colour: 0 (none) to 8 (emergency).
    rank: u8,
    new: bool,
    count: u64,
    count_text: String,
    first_line: u64,
    first_line_text: String,
    last_line: u64,
    last_line_text: String,
    first_time: &'a str,
    last_time: &'a str,
    bars: Vec<Bar>,
    template: &'a str,
    explanation: &'a str,
    examples: &'a [String],
}

struct Bar {
    x: u32,
    y: u32,
    width: u32,
    height: u32,
}

/// Renders the digest as one HTML page.
pub fn digest_html(digest: &Digest, title: &str) -> String {
    let rows = digest
        .kinds
        .iter()
        .map(|kind| PageRow {
            level: kind.level.unwrap_or("-"),
            rank: rank(kind.level),
            new: kind.new,
            count: kind.count,
            count_text: thousands(kind.count),
            first_line: kind.first_line.unwrap_or(0),
            first_line_text: kind.first_line.map(thousands).unwrap_or_default(),
            last_line: kind.last_line.unwrap_or(0),
            last_line_text: kind.last_line.map(thousands).unwrap_or_default(),
            first_time: kind.first_time.as_deref().unwrap_or(""),
            last_time: kind.last_time.as_deref().unwrap_or(""),
            bars: timeline(&kind.positions, digest.last_position),
            template: kind.template.as_deref().unwrap_or(&kind.explanation),
            explanation: &kind.explanation,
            examples: &kind.examples,
        })
        .collect();
    let page = DigestPage {
        title,
        records: thousands(digest.records),
        kinds: thousands(digest.kinds.len() as u64),
        new_kinds: thousands(digest.kinds.iter().filter(|kind| kind.new).count() as u64),
        with_baseline: digest.with_baseline,
        tokens: format!(
            "{} / {}",
            thousands(digest.input_tokens),
            thousands(digest.output_tokens)
        ),
        cost: digest
            .estimated_cost_usd
            .map_or_else(|| "unknown".to_string(), |cost| format!("${cost:.4}")),
        last_position: thousands(digest.last_position),
        timeline_width: TIMELINE_WIDTH,
        timeline_height: TIMELINE_HEIGHT,
        rows,
    };
    page.render().expect("the digest page renders")
}

/// Writes the page to `path` (through a temporary file beside it, renamed when complete).
pub fn write_digest_html(digest: &Digest, title: &str, path: &Path) -> anyhow::Result<()> {
    let page = digest_html(digest, title);
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut file = tempfile::NamedTempFile::new_in(directory).map_err(|error| {
        anyhow::anyhow!("cannot write the digest page '{}': {error}", path.display())
    })?;
    std::io::Write::write_all(&mut file, page.as_bytes())?;
    file.persist(path).map_err(|error| {
        anyhow::anyhow!("cannot write the digest page '{}': {error}", path.display())
    })?;
    Ok(())
}

/// The digest of every record of the report at `path`.
pub fn digest_of_report(path: &Path) -> anyhow::Result<Digest> {
    let name = path.display();
    let damaged = |error| anyhow::anyhow!("report '{name}' cannot be read at {error}");
    let file = File::open(path)
        .map_err(|error| anyhow::anyhow!("cannot read report '{name}': {error}"))?;
    let (format, input) = detect_format(BufReader::new(file)).map_err(damaged)?;
    let mut builder = DigestBuilder::default();
    for record in ReportReader::new(input, format).map_err(damaged)? {
        builder.add(&record.map_err(damaged)?);
    }
    Ok(builder.finish(None))
}

fn rank(level: Option<&str>) -> u8 {
    match level {
        Some("TRACE") => 1,
        Some("DEBUG") => 2,
        Some("INFO") | Some("NOTICE") => 3,
        Some("WARN") => 4,
        Some("ERROR") => 5,
        Some("CRITICAL") => 6,
        Some("ALERT") => 7,
        Some("EMERGENCY") => 8,
        _ => 0,
    }
}

/// Bars of how many occurrences fall in each stretch of the log, the fullest at full height.
fn timeline(positions: &[u64], last_position: u64) -> Vec<Bar> {
    let span = last_position.max(1);
    let mut buckets = vec![0u64; TIMELINE_BARS as usize];
    for &position in positions {
        let bucket = (position.saturating_sub(1) * u64::from(TIMELINE_BARS) / span)
            .min(u64::from(TIMELINE_BARS - 1));
        buckets[bucket as usize] += 1;
    }
    let fullest = buckets.iter().copied().max().unwrap_or(0).max(1);
    let width = TIMELINE_WIDTH / TIMELINE_BARS;
    buckets
        .iter()
        .enumerate()
        .filter(|(_, count)| **count > 0)
        .map(|(index, &count)| {
            let height = ((count * u64::from(TIMELINE_HEIGHT)).div_ceil(fullest) as u32).max(2);
            Bar {
                x: index as u32 * width,
                y: TIMELINE_HEIGHT - height,
                width: width.saturating_sub(1).max(1),
                height,
            }
        })
        .collect()
}
