//! Progress reporting for long jobs such as `archive`: job counters, an
//! end-to-end latency histogram, a live progress display on stderr (an
//! indicatif bar on a terminal, periodic plain lines otherwise) and the
//! end-of-job summary, readable as text and serializable as JSON.

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize, Serializer};

use super::resources::ResourceUsage;

/// Counters of a job, updated by the supervisor as outcomes arrive.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobCounters {
    /// Entries read from the input (not counting blank lines).
    pub read: u64,
    /// Entries archived successfully.
    pub archived: u64,
    /// Entries that failed for good.
    pub failed: u64,
    /// Blank lines, skipped and counted.
    pub skipped_blank: u64,
    /// Entries the filters (`--min-level`, `--grep`, `--exclude`) skipped.
    #[serde(default)]
    pub skipped_filtered: u64,
    /// Entries whose bytes were not valid UTF-8 (replaced by U+FFFD).
    #[serde(default)]
    pub invalid_utf8: u64,
    /// Entries longer than the line limit, cut with a marker.
    #[serde(default)]
    pub truncated: u64,
    /// HTTP requests made to the LLM API, retries included.
    pub llm_requests: u64,
    /// Requests that were retries.
    pub retries: u64,
    /// 429 answers seen.
    pub rate_limited: u64,
    /// Input tokens reported by the LLM API.
    pub input_tokens: u64,
    /// Output tokens reported by the LLM API.
    pub output_tokens: u64,
}

/// The report `archive` and `retry` write unless told otherwise.
const DEFAULT_REPORT: &str = "incident_report.txt";

/// Largest latency recorded exactly; longer ones are clamped to it.
const MAX_LATENCY_MICROS: u64 = 3_600_000_000;

/// End-to-end latency of entries (from dispatch to outcome), recorded in
/// microseconds with 3 significant digits up to one hour; longer values are
/// clamped to one hour.
#[derive(Debug, Clone)]
pub struct LatencyRecorder {
    histogram: Histogram<u64>,
}

impl LatencyRecorder {
    /// An empty recorder.
    pub fn new() -> Self {
        let histogram = Histogram::new_with_bounds(1, MAX_LATENCY_MICROS, 3)
            .expect("constant histogram bounds are valid");
        Self { histogram }
    }

    /// Records one latency; never panics, whatever its size.
    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.histogram.saturating_record(micros);
    }

    /// The latency at percentile `p` (0 to 100, clamped), or `None` when
    /// nothing was recorded or `p` is NaN.
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        if self.histogram.is_empty() || p.is_nan() {
            return None;
        }
        let micros = self.histogram.value_at_percentile(p.clamp(0.0, 100.0));
        Some(Duration::from_micros(micros))
    }

    /// How many latencies were recorded.
    pub fn count(&self) -> u64 {
        self.histogram.len()
    }
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        Self::new()
    }
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// `Bar` when stderr is a terminal, `Plain` otherwise.
    Auto,
    /// An animated indicatif bar (or spinner when the total is unknown).
    Bar,
    /// A plain text line from time to time, for logs and CI.
    Plain,
    /// Nothing.
    Off,
}

impl ProgressMode {
    /// The concrete mode to use; only `Auto` depends on the terminal.
    fn resolve(self, stderr_is_terminal: bool) -> Self {
        match self {
            Self::Auto if stderr_is_terminal => Self::Bar,
            Self::Auto => Self::Plain,
            other => other,
        }
    }
}

/// The error for a progress mode that is not one of the known names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseProgressModeError {
    input: String,
}

impl fmt::Display for ParseProgressModeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid progress mode '{}': expected one of auto, bar, plain, off",
            self.input
        )
    }
}

impl std::error::Error for ParseProgressModeError {}

impl FromStr for ProgressMode {
    type Err = ParseProgressModeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "bar" => Ok(Self::Bar),
            "plain" => Ok(Self::Plain),
            "off" => Ok(Self::Off),
            _ => Err(ParseProgressModeError {
                input: s.to_owned(),
            }),
        }
    }
}

/// Default time between two lines in `Plain` mode.
const DEFAULT_PLAIN_INTERVAL: Duration = Duration::from_secs(10);
/// Minimum time between two refreshes of the bar's message.
const BAR_MESSAGE_REFRESH: Duration = Duration::from_millis(100);
/// How often the bar redraws itself when no update arrives.
const BAR_TICK: Duration = Duration::from_millis(200);
const BAR_TEMPLATE: &str = "{spinner:.green} [{elapsed_precise}] [{wide_bar:.cyan/blue}] {human_pos}/{human_len} lines (ETA {eta}) {msg}";
const SPINNER_TEMPLATE: &str = "{spinner:.green} [{elapsed_precise}] {human_pos} lines, {msg}";

/// Shows a job's progress on stderr.
pub struct ProgressDisplay {
    output: Output,
}

/// Where and how a `ProgressDisplay` draws.
enum Output {
    Bar(BarOutput),
    Plain(Mutex<PlainOutput>),
    Off,
}

struct BarOutput {
    bar: ProgressBar,
    last_message: Mutex<Option<Instant>>,
}

struct PlainOutput {
    writer: Box<dyn Write + Send>,
    total: Option<u64>,
    interval: Duration,
    started: Instant,
    last_line: Instant,
}

impl ProgressDisplay {
    /// total: the number of lines expected when known (a progress bar with
    /// ETA), `None` otherwise (a spinner with counts and rate).
    pub fn new(mode: ProgressMode, total: Option<u64>) -> Self {
        Self::with_writer(mode, total, Box::new(io::stderr()))
    }

    /// A `Plain` display writing to `writer` every `interval` at most.
    pub fn plain_to(writer: Box<dyn Write + Send>, total: Option<u64>, interval: Duration) -> Self {
        Self::with_writer(ProgressMode::Plain, total, writer).with_plain_interval(interval)
    }

    /// Sets the time between two lines in `Plain` mode (default 10 s).
    pub fn with_plain_interval(self, interval: Duration) -> Self {
        if let Output::Plain(plain) = &self.output {
            lock(plain).interval = interval;
        }
        self
    }

    /// `writer` receives the `Plain` lines; the bar always draws on stderr.
    fn with_writer(mode: ProgressMode, total: Option<u64>, writer: Box<dyn Write + Send>) -> Self {
        let output = match mode.resolve(io::stderr().is_terminal()) {
            ProgressMode::Bar => Output::Bar(BarOutput::new(total)),
            ProgressMode::Plain => {
                let now = Instant::now();
                Output::Plain(Mutex::new(PlainOutput {
                    writer,
                    total,
                    interval: DEFAULT_PLAIN_INTERVAL,
                    started: now,
                    last_line: now,
                }))
            }
            ProgressMode::Auto | ProgressMode::Off => Output::Off,
        };
        Self { output }
    }

    /// Shows the latest counters; `done_lines` is the number of input lines
    /// fully dealt with (archived + failed + skipped), `waiting` why LLM requests
    /// wait, when some do. Cheap enough to call thousands of times per second.
    pub fn update(&self, counters: &JobCounters, done_lines: u64, waiting: Option<&str>) {
        match &self.output {
            Output::Bar(bar) => bar.update(counters, done_lines, waiting),
            Output::Plain(plain) => lock(plain).update(counters, done_lines, waiting),
            Output::Off => {}
        }
    }

    /// Clears the bar; `Plain` and `Off` print nothing more.
    pub fn finish(&self) {
        if let Output::Bar(bar) = &self.output {
            bar.bar.finish_and_clear();
        }
    }
}

impl BarOutput {
    fn new(total: Option<u64>) -> Self {
        let template = if total.is_some() {
            BAR_TEMPLATE
        } else {
            SPINNER_TEMPLATE
        };
        let style = ProgressStyle::with_template(template)
            .expect("constant progress template is valid")
            .progress_chars("=> ");
        let bar =
            ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr()).with_style(style);
        bar.enable_steady_tick(BAR_TICK);
        Self {
            bar,
            last_message: Mutex::new(None),
        }
    }

    fn update(&self, counters: &JobCounters, done_lines: u64, waiting: Option<&str>) {
        self.bar.set_position(done_lines);
        let now = Instant::now();
        let mut last_message = lock(&self.last_message);
        if last_message.is_some_and(|at| now.duration_since(at) < BAR_MESSAGE_REFRESH) {
            return;
        }
        *last_message = Some(now);
        let rate = lines_per_sec(done_lines, self.bar.elapsed());
        self.bar.set_message(format!(
            "{} archived, {} failed, {} lines/s{}",
            thousands(counters.archived),
            thousands(counters.failed),
            thousands(rate.round() as u64),
            waiting_note(waiting)
        ));
    }
}

impl PlainOutput {
    fn update(&mut self, counters: &JobCounters, done_lines: u64, waiting: Option<&str>) {
        let now = Instant::now();
        if now.duration_since(self.last_line) < self.interval {
            return;
        }
        self.last_line = now;
        let line = plain_line(
            counters,
            done_lines,
            self.total,
            now - self.started,
            waiting,
        );
        // Progress is best effort: a closed stderr must not stop the job.
        let _ = writeln!(self.writer, "{line}").and_then(|()| self.writer.flush());
    }
}

/// One `Plain` progress line, e.g.
/// `progress: 12000/100000 lines, 11950 archived, 50 failed, 3400 lines/s, ETA 26 s`, and why
/// requests wait when some do (`, waiting: 16 rate limited`).
fn plain_line(
    counters: &JobCounters,
    done_lines: u64,
    total: Option<u64>,
    elapsed: Duration,
    waiting: Option<&str>,
) -> String {
    let rate = lines_per_sec(done_lines, elapsed);
    let lines = match total {
        Some(total) => format!("{done_lines}/{total}"),
        None => done_lines.to_string(),
    };
    let eta = match total {
        Some(total) if rate > 0.0 => {
            let eta_secs = (total.saturating_sub(done_lines) as f64 / rate).round() as u64;
            format!(", ETA {}", format_whole_secs(eta_secs))
        }
        _ => String::new(),
    };
    format!(
        "progress: {lines} lines, {} archived, {} failed, {rate:.0} lines/s{eta}{}",
        counters.archived,
        counters.failed,
        waiting_note(waiting)
    )
}

/// `, waiting: REASONS` when requests wait, nothing otherwise.
fn waiting_note(waiting: Option<&str>) -> String {
    waiting.map_or_else(String::new, |reasons| format!(", waiting: {reasons}"))
}

fn lines_per_sec(lines: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { lines as f64 / secs } else { 0.0 }
}

/// Locks `mutex`, going on after a panic elsewhere: progress is never worth a second panic.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The kinds a job grouped its entries into, for the summary.
#[derive(Debug, Clone)]
pub struct KindsSeen {
    pub kinds: usize,
    pub entries: u64,
    /// The most frequent kinds' templates and counts.
    pub top: Vec<(String, u64)>,
}

/// The end-of-job summary.
#[derive(Debug, Clone, Serialize)]
pub struct JobSummary {
    /// Final counters.
    pub counters: JobCounters,
    /// Wall-clock duration of the job.
    #[serde(rename = "elapsed_secs", serialize_with = "as_secs")]
    pub elapsed: Duration,
    /// Median end-to-end latency.
    #[serde(rename = "latency_p50_ms", serialize_with = "as_millis")]
    pub latency_p50: Option<Duration>,
    /// 95th percentile end-to-end latency.
    #[serde(rename = "latency_p95_ms", serialize_with = "as_millis")]
    pub latency_p95: Option<Duration>,
    /// 99th percentile end-to-end latency.
    #[serde(rename = "latency_p99_ms", serialize_with = "as_millis")]
    pub latency_p99: Option<Duration>,
    /// Path of the report written.
    pub report: String,
    /// Path of the failed entries file, if one was written.
    pub failures_file: Option<String>,
    /// How requests were paced, when a limit applied (e.g. what adaptive limiting settled on).
    pub rate_limit: Option<String>,
    /// Estimated cost in US dollars, when the model's prices are known.
    pub estimated_cost_usd: Option<f64>,
    /// How many message templates the job saw, when it grouped entries by template.
    pub distinct_templates: Option<usize>,
    /// The entries grouped into those kinds.
    pub grouped_entries: Option<u64>,
    /// The most frequent templates.
    pub top_templates: Vec<TemplateCount>,
    /// Peak memory and CPU time of the process, where the operating system tells them.
    #[serde(flatten)]
    pub resources: Option<ResourceUsage>,
}

/// A message template and how many entries had it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TemplateCount {
    pub template: String,
    pub count: u64,
}

fn as_secs<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

fn as_millis<S: Serializer>(duration: &Option<Duration>, serializer: S) -> Result<S::Ok, S::Error> {
    match duration {
        Some(duration) => serializer.serialize_some(&(duration.as_secs_f64() * 1000.0)),
        None => serializer.serialize_none(),
    }
}

impl JobSummary {
    /// A summary taking p50, p95 and p99 from `latency`.
    pub fn new(
        counters: JobCounters,
        elapsed: Duration,
        latency: &LatencyRecorder,
        report: String,
        failures_file: Option<String>,
    ) -> Self {
        Self {
            counters,
            elapsed,
            latency_p50: latency.percentile(50.0),
            latency_p95: latency.percentile(95.0),
            latency_p99: latency.percentile(99.0),
            report,
            failures_file,
            rate_limit: None,
            estimated_cost_usd: None,
            distinct_templates: None,
            grouped_entries: None,
            top_templates: Vec::new(),
            resources: None,
        }
    }

    pub fn with_resources(mut self, resources: Option<ResourceUsage>) -> Self {
        self.resources = resources;
        self
    }

    /// Adds the template statistics of a job that grouped entries by template.
    pub fn with_templates(mut self, templates: Option<KindsSeen>) -> Self {
        if let Some(KindsSeen {
            kinds: distinct,
            entries,
            top,
        }) = templates
        {
            self.distinct_templates = Some(distinct);
            self.grouped_entries = Some(entries);
            self.top_templates = top
                .into_iter()
                .map(|(template, count)| TemplateCount { template, count })
                .collect();
        }
        self
    }

    pub fn with_rate_limit(mut self, rate_limit: Option<String>) -> Self {
        self.rate_limit = rate_limit;
        self
    }

    pub fn with_cost(mut self, estimated_cost_usd: Option<f64>) -> Self {
        self.estimated_cost_usd = estimated_cost_usd;
        self
    }

    /// Entries dealt with (archived + failed) per second; 0 when no time elapsed.
    pub fn throughput(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            (self.counters.archived + self.counters.failed) as f64 / secs
        } else {
            0.0
        }
    }
}

impl fmt::Display for JobSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.counters;
        let [read, archived, failed, requests] =
            [c.read, c.archived, c.failed, c.llm_requests].map(thousands);
        let width = [&read, &archived, &failed, &requests]
            .iter()
            .map(|n| n.len())
            .max()
            .unwrap_or(0);

        writeln!(f, "Summary")?;
        write!(
            f,
            "  {:<16} {read:>width$}   (blank lines skipped: {}",
            "entries read",
            thousands(c.skipped_blank)
        )?;
        if c.skipped_filtered > 0 {
            write!(f, ", filtered out: {}", thousands(c.skipped_filtered))?;
        }
        if c.invalid_utf8 > 0 {
            write!(f, ", invalid UTF-8 replaced: {}", thousands(c.invalid_utf8))?;
        }
        if c.truncated > 0 {
            write!(f, ", cut at the line limit: {}", thousands(c.truncated))?;
        }
        writeln!(f, ")")?;
        write!(f, "  {:<16} {archived:>width$}", "archived")?;
        if !self.report.is_empty() {
            write!(f, "   -> {}", self.report)?;
        }
        writeln!(f)?;
        write!(f, "  {:<16} {failed:>width$}", "failed")?;
        if let Some(path) = self.failures_file.as_deref().filter(|_| c.failed > 0) {
            write!(
                f,
                "   -> {path} (retry with: log-archiver retry {}",
                shell_quote(path)
            )?;
            if self.report != DEFAULT_REPORT {
                write!(f, " --report {}", shell_quote(&self.report))?;
            }
            write!(f, ")")?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "  {:<16} {requests:>width$}   (retries: {}, rate limited: {})",
            "LLM requests",
            thousands(c.retries),
            thousands(c.rate_limited)
        )?;
        writeln!(
            f,
            "  {:<16} in {} / out {}",
            "tokens",
            thousands(c.input_tokens),
            thousands(c.output_tokens)
        )?;
        if let Some(cost) = self.estimated_cost_usd {
            writeln!(f, "  {:<16} ${cost:.4} (estimated)", "cost")?;
        }
        if let Some(rate_limit) = &self.rate_limit {
            writeln!(f, "  {:<16} {rate_limit}", "rate limit")?;
        }
        if let Some(distinct) = self.distinct_templates {
            writeln!(
                f,
                "  {:<16} {} for {} entries, each kind explained once; the top kinds:",
                "kinds",
                thousands(distinct as u64),
                thousands(self.grouped_entries.unwrap_or_default())
            )?;
            for top in &self.top_templates {
                writeln!(
                    f,
                    "  {:<16} {:>8}  {}",
                    "",
                    thousands(top.count),
                    top.template
                )?;
            }
        }
        writeln!(
            f,
            "  {:<16} {}   ({} entries/s)",
            "elapsed",
            format_duration(self.elapsed),
            thousands_one_decimal(self.throughput())
        )?;
        match (self.latency_p50, self.latency_p95, self.latency_p99) {
            (Some(p50), Some(p95), Some(p99)) => writeln!(
                f,
                "  {:<16} p50 {}, p95 {}, p99 {}",
                "latency",
                format_duration(p50),
                format_duration(p95),
                format_duration(p99)
            )?,
            _ => writeln!(f, "  {:<16} n/a", "latency")?,
        }
        if let Some(usage) = self.resources {
            let entries = self.counters.read.max(1) as f64;
            writeln!(
                f,
                "  {:<16} peak memory {:.1} MB, CPU {:.2} s ({:.3} s per 1,000 entries)",
                "resources",
                usage.peak_rss_bytes as f64 / 1e6,
                usage.cpu_seconds,
                usage.cpu_seconds * 1000.0 / entries
            )?;
        }
        Ok(())
    }
}

/// `n` with a comma between groups of three digits: `1234567` -> `1,234,567`.
pub fn thousands(n: u64) -> String {
    group_digits(&n.to_string())
}

/// A non-negative `x` rounded to one decimal, with thousands separators.
fn thousands_one_decimal(x: f64) -> String {
    let formatted = format!("{x:.1}");
    match formatted.split_once('.') {
        Some((whole, fraction)) => format!("{}.{fraction}", group_digits(whole)),
        None => formatted,
    }
}

fn group_digits(digits: &str) -> String {
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

/// A duration for people: `210 ms`, `12.3 s`, `2 min 05 s`, `1 h 03 min`.
fn format_duration(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{} ms", duration.as_millis())
    } else if duration < Duration::from_secs(60) {
        format!("{:.1} s", duration.as_secs_f64())
    } else {
        format_whole_secs(duration.as_secs())
    }
}

/// Whole seconds for people: `45 s`, `2 min 05 s`, `1 h 03 min`.
fn format_whole_secs(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min {:02} s", secs / 60, secs % 60),
        _ => format!("{} h {:02} min", secs / 3600, secs % 3600 / 60),
    }
}

/// `arg` as one POSIX shell word, quoted only when needed.
fn shell_quote(arg: &str) -> String {
    let is_safe = |c: char| c.is_ascii_alphanumeric() || "-_./,:=+@%".contains(c);
    if !arg.is_empty() && arg.chars().all(is_safe) {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A writer that tests can read back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(lock(&self.0).clone()).unwrap()
        }
    }

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            lock(&self.0).write(buf)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn assert_close(actual: Duration, expected: Duration) {
        let tolerance = expected.as_secs_f64() * 0.001 + 1e-6;
        let diff = (actual.as_secs_f64() - expected.as_secs_f64()).abs();
        assert!(diff <= tolerance, "{actual:?} is not close to {expected:?}");
    }

    fn example_counters() -> JobCounters {
        JobCounters {
            read: 12_345,
            archived: 12_300,
            failed: 45,
            skipped_blank: 12,
            llm_requests: 12_400,
            retries: 55,
            rate_limited: 10,
            input_tokens: 1_234_567,
            output_tokens: 456_789,
            ..JobCounters::default()
        }
    }

    fn example_latency() -> LatencyRecorder {
        let mut latency = LatencyRecorder::new();
        for _ in 0..50 {
            latency.record(Duration::from_millis(210));
        }
        for _ in 0..45 {
            latency.record(Duration::from_millis(480));
        }
        for _ in 0..5 {
            latency.record(Duration::from_millis(1200));
        }
        latency
    }

    #[test]
    fn percentiles_of_a_uniform_distribution() {
        let mut latency = LatencyRecorder::default();
        for micros in 1..=100_000 {
            latency.record(Duration::from_micros(micros));
        }
        assert_eq!(latency.count(), 100_000);
        for p in [1.0, 50.0, 95.0, 99.0, 100.0] {
            let expected = Duration::from_micros((p * 1000.0) as u64);
            assert_close(latency.percentile(p).unwrap(), expected);
        }
    }

    #[test]
    fn percentiles_of_a_bimodal_distribution() {
        let mut latency = LatencyRecorder::new();
        for _ in 0..90 {
            latency.record(Duration::from_millis(10));
        }
        for _ in 0..10 {
            latency.record(Duration::from_secs(2));
        }
        assert_close(latency.percentile(50.0).unwrap(), Duration::from_millis(10));
        assert_close(latency.percentile(90.0).unwrap(), Duration::from_millis(10));
        assert_close(latency.percentile(95.0).unwrap(), Duration::from_secs(2));
        assert_close(latency.percentile(150.0).unwrap(), Duration::from_secs(2));
    }

    #[test]
    fn empty_recorder_has_no_percentiles() {
        let latency = LatencyRecorder::new();
        assert_eq!(latency.count(), 0);
        assert_eq!(latency.percentile(50.0), None);
        assert_eq!(example_latency().percentile(f64::NAN), None);
    }

    #[test]
    fn huge_latencies_are_clamped_to_one_hour() {
        let mut latency = LatencyRecorder::new();
        latency.record(Duration::from_secs(10 * 3600));
        latency.record(Duration::MAX);
        latency.record(Duration::from_nanos(300));
        assert_eq!(latency.count(), 3);
        assert_close(
            latency.percentile(100.0).unwrap(),
            Duration::from_secs(3600),
        );
        assert_eq!(latency.percentile(0.0), Some(Duration::ZERO));
    }

    #[test]
    fn progress_mode_from_str() {
        assert_eq!("auto".parse(), Ok(ProgressMode::Auto));
        assert_eq!("bar".parse(), Ok(ProgressMode::Bar));
        assert_eq!(" Plain ".parse(), Ok(ProgressMode::Plain));
        assert_eq!("OFF".parse(), Ok(ProgressMode::Off));
        let error = "fancy".parse::<ProgressMode>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid progress mode 'fancy': expected one of auto, bar, plain, off"
        );
    }

    #[test]
    fn auto_mode_follows_the_terminal() {
        assert_eq!(ProgressMode::Auto.resolve(true), ProgressMode::Bar);
        assert_eq!(ProgressMode::Auto.resolve(false), ProgressMode::Plain);
        assert_eq!(ProgressMode::Off.resolve(true), ProgressMode::Off);
        assert_eq!(ProgressMode::Plain.resolve(true), ProgressMode::Plain);
    }

    #[test]
    fn plain_mode_waits_for_the_interval() {
        let counters = JobCounters {
            read: 12_000,
            archived: 11_950,
            failed: 50,
            ..JobCounters::default()
        };
        let quiet = Captured::default();
        let display = ProgressDisplay::plain_to(
            Box::new(quiet.clone()),
            Some(100_000),
            Duration::from_secs(3600),
        );
        display.update(&counters, 12_000, None);
        display.update(&counters, 12_000, None);
        display.finish();
        assert_eq!(quiet.text(), "");

        let chatty = Captured::default();
        let display =
            ProgressDisplay::plain_to(Box::new(chatty.clone()), Some(100_000), Duration::ZERO);
        display.update(&counters, 12_000, None);
        let text = chatty.text();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.starts_with("progress: 12000/100000 lines, 11950 archived, 50 failed, "),
            "{text}"
        );
        display.finish();
        assert_eq!(chatty.text(), text);
    }

    #[test]
    fn plain_mode_prints_at_most_one_line_per_interval() {
        let captured = Captured::default();
        let interval = Duration::from_millis(20);
        let display = ProgressDisplay::plain_to(Box::new(captured.clone()), None, interval);
        let started = Instant::now();
        let mut done = 0;
        while started.elapsed() < Duration::from_millis(200) {
            done += 1;
            display.update(&JobCounters::default(), done, None);
        }
        let elapsed = started.elapsed();
        let lines = captured.text().lines().count() as u128;
        assert!(lines >= 1);
        assert!(
            lines <= elapsed.as_millis() / interval.as_millis(),
            "{lines} lines"
        );
    }

    #[test]
    fn plain_line_format() {
        let counters = JobCounters {
            archived: 11_950,
            failed: 50,
            ..JobCounters::default()
        };
        let elapsed = Duration::from_secs(4);
        assert_eq!(
            plain_line(&counters, 12_000, Some(100_000), elapsed, None),
            "progress: 12000/100000 lines, 11950 archived, 50 failed, 3000 lines/s, ETA 29 s"
        );
        assert_eq!(
            plain_line(&counters, 12_000, None, elapsed, None),
            "progress: 12000 lines, 11950 archived, 50 failed, 3000 lines/s"
        );
        assert_eq!(
            plain_line(&counters, 0, Some(10), Duration::ZERO, None),
            "progress: 0/10 lines, 11950 archived, 50 failed, 0 lines/s"
        );
        assert_eq!(
            plain_line(
                &counters,
                0,
                None,
                elapsed,
                Some("LLM unreachable (4 requests)")
            ),
            "progress: 0 lines, 11950 archived, 50 failed, 0 lines/s, waiting: LLM unreachable \
             (4 requests)"
        );
    }

    #[test]
    fn with_plain_interval_changes_the_default() {
        let captured = Captured::default();
        let display =
            ProgressDisplay::with_writer(ProgressMode::Plain, None, Box::new(captured.clone()))
                .with_plain_interval(Duration::ZERO);
        display.update(&JobCounters::default(), 1, None);
        assert_eq!(captured.text().lines().count(), 1);
    }

    #[test]
    fn off_mode_prints_nothing() {
        let captured = Captured::default();
        let display =
            ProgressDisplay::with_writer(ProgressMode::Off, Some(10), Box::new(captured.clone()))
                .with_plain_interval(Duration::ZERO);
        display.update(&example_counters(), 5, None);
        display.finish();
        assert_eq!(captured.text(), "");
    }

    #[test]
    fn bar_and_spinner_smoke_test() {
        for total in [Some(1_000), None] {
            let display = ProgressDisplay::new(ProgressMode::Bar, total);
            for done in 0..2_000 {
                display.update(&example_counters(), done, None);
            }
            display.finish();
        }
    }

    #[test]
    fn display_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<ProgressDisplay>();
    }

    #[test]
    fn summary_text_with_failures() {
        let summary = JobSummary::new(
            example_counters(),
            Duration::from_millis(12_300),
            &example_latency(),
            "incident_report.txt".into(),
            Some("incident_report.txt.failed.csv".into()),
        );
        let expected = "\
Summary
  entries read     12,345   (blank lines skipped: 12)
  archived         12,300   -> incident_report.txt
  failed               45   -> incident_report.txt.failed.csv (retry with: log-archiver retry incident_report.txt.failed.csv)
  LLM requests     12,400   (retries: 55, rate limited: 10)
  tokens           in 1,234,567 / out 456,789
  elapsed          12.3 s   (1,003.7 entries/s)
  latency          p50 210 ms, p95 480 ms, p99 1.2 s
";
        assert_eq!(summary.to_string(), expected);
    }

    #[test]
    fn summary_text_without_failures_or_latency() {
        let counters = JobCounters {
            read: 3,
            archived: 3,
            llm_requests: 3,
            ..JobCounters::default()
        };
        let summary = JobSummary::new(
            counters,
            Duration::from_secs(125),
            &LatencyRecorder::new(),
            "report.txt".into(),
            Some("report.txt.failed.csv".into()),
        );
        let text = summary.to_string();
        assert!(!text.contains("retry"), "{text}");
        assert!(text.contains("  failed           0\n"), "{text}");
        assert!(
            text.contains("  elapsed          2 min 05 s   (0.0 entries/s)"),
            "{text}"
        );
        assert!(text.contains("  latency          n/a\n"), "{text}");
    }

    #[test]
    fn retry_hint_quotes_unusual_paths() {
        let counters = JobCounters {
            failed: 1,
            ..JobCounters::default()
        };
        let summary = JobSummary::new(
            counters,
            Duration::ZERO,
            &LatencyRecorder::new(),
            "my report.txt".into(),
            Some("my report's.csv".into()),
        );
        assert!(summary.to_string().contains(
            "(retry with: log-archiver retry 'my report'\\''s.csv' --report 'my report.txt')"
        ));
    }

    #[test]
    fn throughput_counts_archived_and_failed() {
        let summary = JobSummary::new(
            example_counters(),
            Duration::from_secs(5),
            &LatencyRecorder::new(),
            String::new(),
            None,
        );
        assert!((summary.throughput() - 2_469.0).abs() < 1e-9);
        let instant = JobSummary {
            elapsed: Duration::ZERO,
            ..summary
        };
        assert_eq!(instant.throughput(), 0.0);
    }

    #[test]
    fn summary_json_field_names() {
        let summary = JobSummary::new(
            example_counters(),
            Duration::from_millis(1_500),
            &example_latency(),
            "r.txt".into(),
            None,
        );
        let json = serde_json::to_value(&summary).unwrap();
        let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "counters",
                "distinct_templates",
                "elapsed_secs",
                "estimated_cost_usd",
                "failures_file",
                "grouped_entries",
                "latency_p50_ms",
                "latency_p95_ms",
                "latency_p99_ms",
                "rate_limit",
                "report",
                "top_templates"
            ]
        );
        assert_eq!(json["elapsed_secs"], 1.5);
        assert!((json["latency_p50_ms"].as_f64().unwrap() - 210.0).abs() < 0.5);
        assert_eq!(json["counters"]["input_tokens"], 1_234_567);
        assert!(json["failures_file"].is_null());

        let empty = JobSummary::new(
            JobCounters::default(),
            Duration::ZERO,
            &LatencyRecorder::new(),
            String::new(),
            None,
        );
        assert!(serde_json::to_value(&empty).unwrap()["latency_p99_ms"].is_null());
    }

    #[test]
    fn counters_round_trip_through_json() {
        let json = serde_json::to_string(&example_counters()).unwrap();
        let back: JobCounters = serde_json::from_str(&json).unwrap();
        assert_eq!(back, example_counters());
    }

    #[test]
    fn number_and_duration_formats() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
        assert_eq!(thousands_one_decimal(999.96), "1,000.0");
        assert_eq!(thousands_one_decimal(0.04), "0.0");
        assert_eq!(format_duration(Duration::from_millis(210)), "210 ms");
        assert_eq!(format_duration(Duration::from_millis(1_234)), "1.2 s");
        assert_eq!(format_duration(Duration::from_secs(3_780)), "1 h 03 min");
        assert_eq!(format_whole_secs(45), "45 s");
    }
}
