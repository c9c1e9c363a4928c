//! Argument pieces shared by several commands: durations, the report file and its format, the
//! tool's prompt settings, the LLM backend and its limits.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::numbers::{per_minute, whole};

use crate::client::{
    AuditLog, DEFAULT_MAX_SAMPLING_TOKENS, ModelChoice, ProtocolChoice, SamplingPolicy,
    SamplingRules,
};
use crate::llm::{
    AnthropicBackend, AnthropicSettings, DEFAULT_ANTHROPIC_BASE_URL, DEFAULT_MODEL,
    DEFAULT_OPENAI_BASE_URL, DEFAULT_OPENAI_MODEL, Effort, LlmBackend, OFFLINE_MODEL,
    OfflineBackend, OpenAiBackend, OpenAiSettings, RateLimits, RequestRate, RetryPolicy,
    capabilities_of, dropped_parameters_warning,
};
use crate::mock::{MockLlm, MockSettings};
use crate::redact::{RedactionSet, Redactor, parse_redaction_set};
use crate::report::ReportFormat;
use crate::server::{DEFAULT_PROMPT_TEMPLATE, PromptTemplate, ReportLine, ToolSettings};

/// The longest duration any option takes.
const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Parses a duration: plain seconds (`120`, `0.5`) or with a unit (`2m`, `500ms`), at most a week.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = match text.parse::<f64>() {
        Ok(seconds) => Duration::try_from_secs_f64(seconds)
            .map_err(|_| format!("'{text}' is not a valid number of seconds"))?,
        Err(_) => humantime::parse_duration(text).map_err(|error| format!("'{text}': {error}"))?,
    };
    if duration > MAX_DURATION {
        return Err(format!("'{text}' is longer than a week"));
    }
    Ok(duration)
}

/// Parses a timeout: a duration as `parse_duration` reads it, longer than zero.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        Duration::ZERO => Err("must be longer than zero".to_string()),
        duration => Ok(duration),
    }
}

/// Which LLM answers sampling requests, and how to reach it. Each value comes from its flag,
/// else its environment variable, else the backend's default.
#[derive(Debug, Args)]
pub struct LlmArgs {
    /// Which LLM answers.
    #[arg(long, value_enum, default_value_t = LlmChoice::Auto)]
    pub llm: LlmChoice,

    /// Model id to ask [default: claude-haiku-4-5 for anthropic, gpt-4o-mini for openai].
    #[arg(long, env = "LOG_ARCHIVER_MODEL")]
    pub model: Option<String>,

    /// How much a model that thinks by default (the Claude 5.5 models) thinks before it
    /// answers; other models ignore it.
    #[arg(long, value_enum, default_value_t = Effort::Low)]
    pub effort: Effort,

    /// API key [env: ANTHROPIC_API_KEY or OPENAI_API_KEY]; never printed.
    #[arg(long)]
    pub api_key: Option<String>,

    /// Base URL of the API [env: ANTHROPIC_BASE_URL or OPENAI_BASE_URL] (e.g. the mock's URL, or
    /// http://127.0.0.1:11434/v1 for Ollama).
    #[arg(long)]
    pub base_url: Option<String>,

    /// The model a server's preference for a family picks, as FAMILY=MODEL (repeatable; the
    /// Claude families haiku, sonnet and opus are known for anthropic).
    #[arg(long = "model-family", value_name = "FAMILY=MODEL", value_parser = parse_family)]
    pub model_families: Vec<(String, String)>,

    /// Longest wait for one LLM answer (seconds, or with a unit such as 2m).
    #[arg(long, default_value = "60", value_parser = parse_timeout, allow_negative_numbers = true)]
    pub llm_timeout: Duration,

    /// Most output tokens granted to one sampling request, whatever the server asks for.
    #[arg(long, default_value_t = DEFAULT_MAX_SAMPLING_TOKENS, value_parser = whole::<u32>(1, u64::from(u32::MAX)), allow_negative_numbers = true)]
    pub max_sampling_tokens: u32,

    /// Append every sampling request (as sent to the LLM) and its answer to this JSONL file.
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
}

fn parse_family(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((family, model)) if !family.is_empty() && !model.is_empty() => {
            Ok((family.to_string(), model.to_string()))
        }
        _ => Err(format!("'{text}' is not FAMILY=MODEL")),
    }
}

/// Which LLM answers sampling requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LlmChoice {
    /// Anthropic when an Anthropic API key is set, the offline explainer otherwise.
    Auto,
    /// Anthropic's Messages API.
    Anthropic,
    /// An OpenAI-compatible chat-completions API: OpenAI, Ollama, vLLM, llama.cpp, LM Studio.
    Openai,
    /// The rule-based offline explainer: no key, no network, not an LLM.
    Offline,
    /// The built-in mock LLM: canned sentences, for demos and benchmarks.
    Mock,
}

/// A running backend; the built-in mock lives as long as this does.
pub struct StartedLlm {
    pub backend: Arc<dyn LlmBackend>,
    /// Said plainly at start.
    pub description: String,
    /// Said once at start, when the model refuses request parameters a server may ask for.
    pub warning: Option<String>,
    /// Served by this process: no provider, no limits to respect.
    pub local: bool,
    pub models: ModelChoice,
    /// The model asked unless a server's preferences pick another.
    pub model: String,
    _mock: Option<MockLlm>,
}

/// Whether `--flag` was typed on the command line (as opposed to coming from a file).
fn given_on_command_line(flag: &str) -> bool {
    let long = format!("--{flag}");
    let with_value = format!("--{flag}=");
    std::env::args().any(|arg| arg == long || arg.starts_with(&with_value))
}

fn env_value(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

impl StartedLlm {
    /// Says which LLM answers, and once what it will not be sent.
    pub fn announce(&self) {
        eprintln!("LLM: {}", self.description);
        if let Some(warning) = &self.warning {
            eprintln!("warning: {warning}");
        }
    }
}

impl LlmArgs {
    /// A setting: the flag when given on the command line, else the environment variable, else
    /// the configuration file's value (which clap holds as the flag's default).
    fn setting(&self, value: &Option<String>, flag: &str, variable: &str) -> Option<String> {
        if given_on_command_line(flag) {
            return value.clone();
        }
        env_value(variable).or_else(|| value.clone())
    }

    fn model_choice(&self, base: ModelChoice) -> ModelChoice {
        self.model_families
            .iter()
            .fold(base, |choice, (family, model)| {
                choice.with_family(family, model)
            })
    }

    /// The client's sampling rules, masking `redaction` in what it sends to the LLM, and its
    /// audit log of the requests of `server` when asked.
    pub fn sampling_rules(
        &self,
        server: &str,
        redaction: RedactionSet,
    ) -> anyhow::Result<SamplingRules> {
        let audit = match &self.audit_log {
            Some(path) => Some(Arc::new(AuditLog::open(path, server)?)),
            None => None,
        };
        Ok(SamplingRules {
            policy: SamplingPolicy::new(self.max_sampling_tokens),
            audit,
            redactor: Redactor::new(redaction),
        })
    }

    /// Starts the chosen backend.
    pub async fn start(&self) -> anyhow::Result<StartedLlm> {
        let anthropic_key = self.setting(&self.api_key, "api-key", "ANTHROPIC_API_KEY");
        let choice = match self.llm {
            LlmChoice::Auto if anthropic_key.is_some() => LlmChoice::Anthropic,
            LlmChoice::Auto => LlmChoice::Offline,
            chosen => chosen,
        };
        // Clap already ranks the flag, LOG_ARCHIVER_MODEL and the file.
        let model = self.model.clone();
        Ok(match choice {
            LlmChoice::Auto | LlmChoice::Anthropic => {
                let settings = AnthropicSettings {
                    api_key: anthropic_key.unwrap_or_default(),
                    base_url: self
                        .setting(&self.base_url, "base-url", "ANTHROPIC_BASE_URL")
                        .unwrap_or_else(|| DEFAULT_ANTHROPIC_BASE_URL.into()),
                    model: model.unwrap_or_else(|| DEFAULT_MODEL.into()),
                    request_timeout: self.llm_timeout,
                    effort: self.effort,
                };
                StartedLlm {
                    description: format!(
                        "Anthropic {} at {}{}",
                        settings.model,
                        settings.base_url,
                        if capabilities_of(&settings.model).thinks_by_default {
                            format!(", thinking at effort {}", settings.effort)
                        } else {
                            String::new()
                        }
                    ),
                    warning: dropped_parameters_warning(&settings.model),
                    local: false,
                    models: self.model_choice(ModelChoice::claude()),
                    model: settings.model.clone(),
                    backend: Arc::new(AnthropicBackend::new(settings)?),
                    _mock: None,
                }
            }
            LlmChoice::Openai => {
                let settings = OpenAiSettings {
                    api_key: self.setting(&self.api_key, "api-key", "OPENAI_API_KEY"),
                    base_url: self
                        .setting(&self.base_url, "base-url", "OPENAI_BASE_URL")
                        .unwrap_or_else(|| DEFAULT_OPENAI_BASE_URL.into()),
                    model: model.unwrap_or_else(|| DEFAULT_OPENAI_MODEL.into()),
                    request_timeout: self.llm_timeout,
                };
                StartedLlm {
                    description: format!(
                        "OpenAI-compatible {} at {}",
                        settings.model, settings.base_url
                    ),
                    warning: None,
                    local: false,
                    models: self.model_choice(ModelChoice::default()),
                    model: settings.model.clone(),
                    backend: Arc::new(OpenAiBackend::new(settings)?),
                    _mock: None,
                }
            }
            LlmChoice::Offline => {
                let why = if self.llm == LlmChoice::Auto {
                    " (no ANTHROPIC_API_KEY)"
                } else {
                    ""
                };
                StartedLlm {
                    description: format!(
                        "the offline explainer{why}: rule-based sentences, not an LLM (model \
                         '{OFFLINE_MODEL}'); set ANTHROPIC_API_KEY or choose --llm for a real model"
                    ),
                    warning: None,
                    local: true,
                    models: ModelChoice::default(),
                    model: OFFLINE_MODEL.into(),
                    backend: Arc::new(OfflineBackend),
                    _mock: None,
                }
            }
            LlmChoice::Mock => {
                let mock = MockLlm::start_on_loopback(MockSettings::default()).await?;
                let backend = AnthropicBackend::new(AnthropicSettings {
                    api_key: "built-in-mock".into(),
                    base_url: mock.base_url(),
                    model: "mock".into(),
                    request_timeout: self.llm_timeout,
                    effort: self.effort,
                })?;
                StartedLlm {
                    description: "the built-in mock LLM: canned sentences, not a model's".into(),
                    warning: None,
                    local: true,
                    models: ModelChoice::default(),
                    model: "mock".into(),
                    backend: Arc::new(backend),
                    _mock: Some(mock),
                }
            }
        })
    }
}

/// Parses `--rpm`: a positive number, `auto` or `unlimited`.
pub fn parse_request_rate(text: &str) -> Result<RequestRate, String> {
    match text {
        "auto" => Ok(RequestRate::Adaptive),
        "unlimited" => Ok(RequestRate::Unlimited),
        number => number
            .parse::<NonZeroU32>()
            .map(RequestRate::Fixed)
            .map_err(|_| format!("'{text}' is not a positive number, auto or unlimited")),
    }
}

/// Which MCP protocol revisions a client offers.
#[derive(Debug, Args)]
pub struct ProtocolArgs {
    /// Which MCP protocol revisions to offer: auto (2026-07-28 when the server offers it,
    /// else the classic 2025-11-25), 2026-07-28 or 2025-11-25.
    #[arg(long, value_enum, default_value_t = ProtocolChoice::Auto)]
    pub protocol: ProtocolChoice,
}

/// The report a server appends to, and its format.
#[derive(Debug, Args)]
pub struct ReportFileArgs {
    /// The incident report to append to [default: incident_report.txt; for `retry`, the
    /// report the failures file is named after: REPORT.failed.csv belongs to REPORT].
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,

    /// The report's format: text (the incident-report records), jsonl or csv (every field:
    /// source, line, raw, analysis, model, tokens, latency, template). Default: from the
    /// report's extension (.jsonl, .ndjson, .csv), else text.
    #[arg(long, value_enum)]
    pub format: Option<ReportFormat>,
}

/// The report written when none is named.
pub const DEFAULT_REPORT: &str = "incident_report.txt";

impl ReportFileArgs {
    /// The report named with --report, else `incident_report.txt`.
    pub fn path(&self) -> PathBuf {
        self.report
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_REPORT))
    }

    /// The format asked for, else the one the report's extension implies.
    pub fn format(&self) -> ReportFormat {
        self.format
            .unwrap_or_else(|| ReportFormat::for_path(&self.path()))
    }
}

/// How the server asks for explanations.
#[derive(Debug, Args)]
pub struct ToolArgs {
    /// Prompt sent for each log line; `{log_line}` marks where the line goes.
    #[arg(long, default_value = DEFAULT_PROMPT_TEMPLATE, value_parser = |text: &str| PromptTemplate::new(text))]
    pub prompt: PromptTemplate,

    /// Most tokens the LLM may use for one explanation.
    #[arg(long, default_value_t = 100, value_parser = whole::<u32>(1, u64::from(u32::MAX)), allow_negative_numbers = true)]
    pub max_tokens: u32,

    /// Longest wait for the client's answer to a sampling request (seconds, or e.g. 2m).
    #[arg(long, default_value = "120", value_parser = parse_timeout, allow_negative_numbers = true)]
    pub sampling_timeout: Duration,

    /// What to mask in log lines before they reach the LLM: a comma-separated list of secrets
    /// (API keys, tokens, passwords, AWS keys, JWTs, private keys), email and ip; or none.
    #[arg(long, default_value = "secrets", value_name = "KINDS", value_parser = parse_redaction_set)]
    pub redact: RedactionSet,

    /// Which line the report keeps: the redacted one, or the raw line as read.
    #[arg(long, value_enum, default_value_t = ReportLine::Redacted)]
    pub report_line: ReportLine,
}

impl ToolArgs {
    pub fn settings(&self) -> ToolSettings {
        ToolSettings {
            prompt: self.prompt.clone(),
            max_tokens: self.max_tokens,
            sampling_timeout: self.sampling_timeout,
            redactor: Redactor::new(self.redact.clone()),
            report_line: self.report_line,
            ..ToolSettings::default()
        }
    }
}

/// The LLM of a bulk job, and the provider's limits.
#[derive(Debug, Args)]
pub struct JobLlmArgs {
    #[command(flatten)]
    pub choice: LlmArgs,

    /// Requests per minute the provider allows: a number, `auto` (the provider's announced
    /// limit when its headers give one, else found from its 429s by additive increase and
    /// multiplicative decrease, starting at 50) or `unlimited`.
    #[arg(long, default_value = "auto", value_parser = parse_request_rate, allow_negative_numbers = true)]
    pub rpm: RequestRate,

    /// Input tokens per minute the provider allows.
    #[arg(long, value_parser = per_minute, allow_negative_numbers = true)]
    pub input_tpm: Option<NonZeroU32>,

    /// Output tokens per minute the provider allows (reserved from --max-tokens up front).
    #[arg(long, value_parser = per_minute, allow_negative_numbers = true)]
    pub output_tpm: Option<NonZeroU32>,

    /// Retries of a failed LLM request (429, 5xx, 529, timeouts, connection errors).
    #[arg(long, default_value_t = RetryPolicy::default().max_retries, value_parser = whole::<u32>(0, u64::from(u32::MAX)), allow_negative_numbers = true)]
    pub max_retries: u32,
}

impl JobLlmArgs {
    pub fn limits(&self) -> RateLimits {
        RateLimits {
            requests: self.rpm,
            input_tokens_per_minute: self.input_tpm,
            output_tokens_per_minute: self.output_tpm,
        }
    }

    pub fn retry(&self) -> RetryPolicy {
        RetryPolicy {
            max_retries: self.max_retries,
            ..RetryPolicy::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_seconds_and_units() {
        assert_eq!(parse_duration("120"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("1e19").is_err());
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_timeout("0").unwrap_err(), "must be longer than zero");
        assert_eq!(parse_timeout("2m"), Ok(Duration::from_secs(120)));
    }
}
