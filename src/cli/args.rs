//! Argument pieces shared by several commands: durations, the tool's prompt settings, the LLM
//! backend and its limits.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use crate::llm::{
    AnthropicBackend, AnthropicSettings, DEFAULT_ANTHROPIC_BASE_URL, DEFAULT_MODEL, LlmBackend,
    RateLimits, RequestRate, RetryPolicy,
};
use crate::mock::{MockLlm, MockSettings};
use crate::server::{DEFAULT_PROMPT_TEMPLATE, PromptTemplate, ToolSettings};

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

/// How to reach Anthropic's Messages API.
#[derive(Debug, Args)]
pub struct AnthropicArgs {
    /// Model id to ask.
    #[arg(long, env = "LOG_ARCHIVER_MODEL", default_value = DEFAULT_MODEL)]
    pub model: String,

    /// Anthropic API key.
    #[arg(long, env = "ANTHROPIC_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,

    /// Base URL of the Messages API (the mock's URL for tests).
    #[arg(long, env = "ANTHROPIC_BASE_URL", default_value = DEFAULT_ANTHROPIC_BASE_URL)]
    pub base_url: String,

    /// Longest wait for one LLM answer (seconds, or with a unit such as 2m).
    #[arg(long, default_value = "60", value_parser = parse_duration)]
    pub llm_timeout: Duration,
}

impl AnthropicArgs {
    pub fn backend(&self) -> anyhow::Result<Arc<dyn LlmBackend>> {
        let backend = AnthropicBackend::new(AnthropicSettings {
            api_key: self.api_key.clone().unwrap_or_default(),
            base_url: self.base_url.clone(),
            model: self.model.clone(),
            request_timeout: self.llm_timeout,
        })?;
        Ok(Arc::new(backend))
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

/// How the server asks for explanations.
#[derive(Debug, Args)]
pub struct ToolArgs {
    /// Prompt sent for each log line; `{log_line}` marks where the line goes.
    #[arg(long, default_value = DEFAULT_PROMPT_TEMPLATE, value_parser = |text: &str| PromptTemplate::new(text))]
    pub prompt: PromptTemplate,

    /// Most tokens the LLM may use for one explanation.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_tokens: u32,

    /// Longest wait for the client's answer to a sampling request (seconds, or e.g. 2m).
    #[arg(long, default_value = "120", value_parser = parse_duration)]
    pub sampling_timeout: Duration,
}

impl ToolArgs {
    pub fn settings(&self) -> ToolSettings {
        ToolSettings {
            prompt: self.prompt.clone(),
            max_tokens: self.max_tokens,
            sampling_timeout: self.sampling_timeout,
        }
    }
}

/// Which LLM answers sampling requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LlmChoice {
    /// Anthropic when ANTHROPIC_API_KEY is set, the built-in mock otherwise.
    Auto,
    /// Anthropic's Messages API.
    Anthropic,
    /// The built-in mock LLM: canned sentences, no key, no network.
    Mock,
}

/// The LLM of a bulk job, and the provider's limits.
#[derive(Debug, Args)]
pub struct JobLlmArgs {
    /// Which LLM answers.
    #[arg(long, value_enum, default_value_t = LlmChoice::Auto)]
    pub llm: LlmChoice,

    #[command(flatten)]
    pub anthropic: AnthropicArgs,

    /// Requests per minute the provider allows: a number, `auto` (find it from the provider's
    /// rate-limit headers and 429s, starting at 50) or `unlimited`.
    #[arg(long, default_value = "auto", value_parser = parse_request_rate)]
    pub rpm: RequestRate,

    /// Input tokens per minute the provider allows.
    #[arg(long)]
    pub input_tpm: Option<NonZeroU32>,

    /// Output tokens per minute the provider allows (reserved from --max-tokens up front).
    #[arg(long)]
    pub output_tpm: Option<NonZeroU32>,

    /// Retries of a failed LLM request (429, 5xx, 529, timeouts, connection errors).
    #[arg(long, default_value_t = RetryPolicy::default().max_retries)]
    pub max_retries: u32,
}

/// A running backend; the built-in mock lives as long as this does.
pub struct JobBackend {
    pub backend: Arc<dyn LlmBackend>,
    pub description: String,
    /// Served by this process: no provider, no limits to respect.
    pub local: bool,
    _mock: Option<MockLlm>,
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

    pub async fn start(&self) -> anyhow::Result<JobBackend> {
        let has_key = self
            .anthropic
            .api_key
            .as_deref()
            .is_some_and(|key| !key.trim().is_empty());
        let use_mock = match self.llm {
            LlmChoice::Auto => !has_key,
            LlmChoice::Anthropic => false,
            LlmChoice::Mock => true,
        };
        if !use_mock {
            return Ok(JobBackend {
                backend: self.anthropic.backend()?,
                description: format!(
                    "Anthropic {} at {}",
                    self.anthropic.model, self.anthropic.base_url
                ),
                local: false,
                _mock: None,
            });
        }
        let mock = MockLlm::start_on_loopback(MockSettings::default()).await?;
        let backend = AnthropicBackend::new(AnthropicSettings {
            api_key: "built-in-mock".into(),
            base_url: mock.base_url(),
            model: "mock".into(),
            request_timeout: self.anthropic.llm_timeout,
        })?;
        let why = if self.llm == LlmChoice::Auto {
            " (ANTHROPIC_API_KEY is not set)"
        } else {
            ""
        };
        Ok(JobBackend {
            backend: Arc::new(backend),
            description: format!(
                "the built-in mock LLM{why}: explanations are canned sentences, not a model's"
            ),
            local: true,
            _mock: Some(mock),
        })
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
    }
}
