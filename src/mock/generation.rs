//! Which Claude generation the mock behaves like. The classic one (the default) answers at
//! once with text. The 5.5 one behaves as that family is documented: adaptive thinking runs by
//! default (effort `high` unless `output_config.effort` says otherwise) and its tokens count
//! against `max_tokens`; the answer starts with a `thinking` block; non-default `temperature`,
//! any `top_p` or `top_k`, thinking budgets, `thinking: {"type": "disabled"}` and assistant
//! prefill are refused with 400 `invalid_request_error`.

use serde_json::Value;

/// The Claude generation the mock emulates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Generation {
    /// Claude 4.x: sampling parameters accepted, no thinking unless asked.
    #[default]
    #[value(name = "4")]
    Classic,
    /// Claude 5.5: adaptive thinking by default, sampling parameters refused.
    #[value(name = "5.5")]
    Adaptive,
}

/// Thinking tokens spent at each effort (`low`, `medium`, `high`): at `high` a budget of 100
/// is gone before any text.
const THINKING_TOKENS: [(&str, u64); 3] = [("low", 16), ("medium", 64), ("high", 256)];
/// The effort of a 5.5 model when the request names none.
const DEFAULT_EFFORT: &str = "high";

impl Generation {
    /// The thinking tokens a Messages request spends before its text, or why the model refuses
    /// the request (the message of a 400 `invalid_request_error`).
    pub fn thinking_tokens(self, request: &Value) -> Result<u64, String> {
        if self == Self::Classic {
            return Ok(0);
        }
        if let Some(temperature) = request.get("temperature").and_then(Value::as_f64)
            && temperature != 1.0
        {
            return Err(format!(
                "temperature: {temperature} is not supported on this model; only the default (1.0) is accepted"
            ));
        }
        for parameter in ["top_p", "top_k"] {
            if request.get(parameter).is_some_and(|value| !value.is_null()) {
                return Err(format!("{parameter}: is not supported on this model"));
            }
        }
        if let Some(thinking) = request.get("thinking") {
            if thinking["type"] == "disabled" {
                return Err(
                    "thinking: adaptive thinking cannot be disabled on this model".to_string(),
                );
            }
            if thinking.get("budget_tokens").is_some() {
                return Err(
                    "thinking.budget_tokens: is not supported on this model; use output_config.effort"
                        .to_string(),
                );
            }
        }
        let prefilled = request["messages"]
            .as_array()
            .and_then(|messages| messages.last())
            .is_some_and(|last| last["role"] == "assistant");
        if prefilled {
            return Err(
                "messages: assistant message prefill is not supported on this model".to_string(),
            );
        }
        let effort = match &request["output_config"]["effort"] {
            Value::Null => DEFAULT_EFFORT,
            Value::String(effort) => effort.as_str(),
            other => return Err(format!("output_config.effort: {other} is not a string")),
        };
        THINKING_TOKENS
            .iter()
            .find(|(name, _)| *name == effort)
            .map(|(_, tokens)| *tokens)
            .ok_or_else(|| {
                format!("output_config.effort: '{effort}' is not one of low, medium, high")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(extra: Value) -> Value {
        let mut request = json!({"model": "claude-sonnet-5-5", "max_tokens": 100,
            "messages": [{"role": "user", "content": "x"}]});
        request
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        request
    }

    #[test]
    fn the_classic_generation_accepts_everything_and_does_not_think() {
        let tuned = request(json!({"temperature": 0.2, "top_k": 5}));
        assert_eq!(Generation::Classic.thinking_tokens(&tuned), Ok(0));
    }

    #[test]
    fn the_adaptive_generation_thinks_by_effort_and_refuses_what_the_family_refuses() {
        let adaptive = Generation::Adaptive;
        assert_eq!(adaptive.thinking_tokens(&request(json!({}))), Ok(256));
        let low = request(json!({"output_config": {"effort": "low"}}));
        assert_eq!(adaptive.thinking_tokens(&low), Ok(16));
        assert_eq!(
            adaptive.thinking_tokens(&request(json!({"temperature": 1.0}))),
            Ok(256)
        );
        for refused in [
            json!({"temperature": 0.5}),
            json!({"top_p": 0.9}),
            json!({"top_k": 40}),
            json!({"thinking": {"type": "disabled"}}),
            json!({"thinking": {"type": "enabled", "budget_tokens": 1024}}),
            json!({"output_config": {"effort": "max"}}),
            json!({"messages": [{"role": "user", "content": "x"},
                                {"role": "assistant", "content": "The"}]}),
        ] {
            assert!(
                adaptive.thinking_tokens(&request(refused.clone())).is_err(),
                "{refused}"
            );
        }
    }
}
