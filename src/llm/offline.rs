//! The offline backend: answers every request with the rule-based explainer, with no key and
//! no network. It reports its model as `offline-rules` so nobody mistakes it for an LLM.

use super::offline_rules::{OFFLINE_MODEL, explain_prompt};
use super::{
    ChatRole, Completion, CompletionFuture, CompletionRequest, LlmBackend, Sharing, StopReason,
    TokenUsage,
};

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
            text: explain_prompt(prompt),
            stop_reason: Some(StopReason::EndTurn),
            usage: TokenUsage::default(),
            rate_limit: None,
            sharing: Sharing::default(),
        };
        Box::pin(std::future::ready(Ok(completion)))
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
