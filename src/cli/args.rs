//! Argument pieces shared by several commands: durations and the LLM backend settings.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use crate::llm::{
    AnthropicBackend, AnthropicSettings, DEFAULT_ANTHROPIC_BASE_URL, DEFAULT_MODEL, LlmBackend,
};

/// Parses a duration: plain seconds (`120`, `0.5`) or with a unit (`2m`, `500ms`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    if let Ok(seconds) = text.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds)
            .map_err(|_| format!("'{text}' is not a valid number of seconds"));
    }
    humantime::parse_duration(text).map_err(|error| format!("'{text}': {error}"))
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
    }
}
