//! The offline backend: answers every request with the rule-based explainer, with no key and
//! no network. It reports its model as `offline-rules` so nobody mistakes it for an LLM. A line
//! that stands for a kind of entries is explained without its own values.

use super::offline_rules::{OFFLINE_MODEL, explain_prompt};
use super::template_note::{template_in_note, without_varying_values};
use super::{
    ChatRole, Completion, CompletionFuture, CompletionRequest, LlmBackend, Sharing, StopReason,
    TokenUsage,
};
use crate::protocol::log_line_in_prompt;

/// Explains log lines with rules instead of a model.
pub struct OfflineBackend;

impl LlmBackend for OfflineBackend {
    fn complete(&self, request: CompletionRequest) -> CompletionFuture<'_> {
        let prompt = request
            .messages
            .iter()
            .rev()
            .find(|message| message.role == ChatRole::User)
            .map(|message| message.text.as_str())
            .unwrap_or_default();
        let completion = Completion {
            model: OFFLINE_MODEL.to_string(),
            text: explain_for(prompt, request.system.as_deref()),
            stop_reason: Some(StopReason::EndTurn),
            usage: TokenUsage::default(),
            rate_limit: None,
            sharing: Sharing::default(),
        };
        Box::pin(std::future::ready(Ok(completion)))
    }
}

/// The sentence for the line in `prompt`; when the line stands for a template, without the
/// line's own values, so that it holds for every line sharing it.
fn explain_for(prompt: &str, system: Option<&str>) -> String {
    let sentence = explain_prompt(prompt);
    match system.and_then(template_in_note) {
        Some(template) => without_varying_values(&sentence, log_line_in_prompt(prompt), template),
        None => sentence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::ChatMessage;

    #[tokio::test]
    async fn explains_the_line_inside_the_prompt() {
        let request = CompletionRequest {
            model: None,
            system: None,
            messages: vec![ChatMessage {
                role: ChatRole::User,
                text: "You are a Site Reliability Engineer. Explain this log error in one concise \
                       sentence: ERROR: deadlock detected"
                    .into(),
            }],
            max_tokens: 100,
            temperature: None,
            stop_sequences: Vec::new(),
            send_by: None,
        };
        let completion = OfflineBackend.complete(request).await.unwrap();
        assert_eq!(completion.model, "offline-rules");
        assert!(completion.text.contains("deadlock"), "{}", completion.text);
    }
}
