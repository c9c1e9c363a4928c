//! The prompt the server sends for each log line.

/// The original prompt; `{log_line}` is replaced by the entry.
pub const DEFAULT_PROMPT_TEMPLATE: &str = "You are a Site Reliability Engineer. Explain this log error in one concise sentence: {log_line}";

const PLACEHOLDER: &str = "{log_line}";

/// A prompt with a `{log_line}` placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptTemplate(String);

impl PromptTemplate {
    /// Checks that the template has a place for the log line.
    pub fn new(template: impl Into<String>) -> Result<Self, String> {
        let template = template.into();
        if !template.contains(PLACEHOLDER) {
            return Err(format!("the prompt template must contain {PLACEHOLDER}"));
        }
        Ok(Self(template))
    }

    pub fn render(&self, log_line: &str) -> String {
        self.0.replace(PLACEHOLDER, log_line)
    }
}

impl Default for PromptTemplate {
    fn default() -> Self {
        Self(DEFAULT_PROMPT_TEMPLATE.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_seed_prompt() {
        assert_eq!(
            PromptTemplate::default().render("ERROR x"),
            "You are a Site Reliability Engineer. Explain this log error in one concise sentence: ERROR x"
        );
        assert!(PromptTemplate::new("no placeholder").is_err());
    }
}
