//! The models this program knows: id, family, generation, list prices, and which request
//! parameters each accepts. The single source of the cost estimate's prices, of the request
//! mapping (what may be sent to a model), of the default model and of the families a server's
//! model preferences name. Each row says when it was checked against the provider's public
//! documentation.

/// What a model accepts beyond the basic request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Takes non-default `temperature`, `top_p` and `top_k` (the Claude 5.5 models answer 400).
    pub sampling_parameters: bool,
    /// Thinks before answering unless told otherwise; thinking tokens count against
    /// `max_tokens`.
    pub thinks_by_default: bool,
    /// Takes `output_config: {"effort": ...}`.
    pub effort: bool,
}

/// Whether a model is the one to use now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Current,
    /// Still served, but superseded.
    Legacy,
}

/// One known model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelInfo {
    pub id: &'static str,
    /// `haiku`, `sonnet`, `opus`, `gpt`, or the program's own (`offline`, `mock`).
    pub family: &'static str,
    pub generation: &'static str,
    pub status: Status,
    /// US dollars per million input and output tokens, when the provider lists them.
    pub prices: Option<(f64, f64)>,
    pub capabilities: Capabilities,
    /// When (year-month) the row was checked against the provider's documentation; `-` for
    /// rows carried over unchecked (the GPT prices) and the program's own models.
    pub checked: &'static str,
}

/// What the classic Messages API accepts: sampling parameters, no thinking unless asked.
const CLASSIC: Capabilities = Capabilities {
    sampling_parameters: true,
    thinks_by_default: false,
    effort: false,
};

/// The Claude 5.5 family: adaptive thinking by default, effort, no sampling parameters.
const ADAPTIVE_THINKING: Capabilities = Capabilities {
    sampling_parameters: false,
    thinks_by_default: true,
    effort: true,
};

/// The models, checked against the providers' public documentation on the dates given.
pub const MODELS: &[ModelInfo] = &[
    ModelInfo {
        id: "claude-haiku-4-5",
        family: "haiku",
        generation: "4.5",
        status: Status::Current,
        prices: Some((1.0, 5.0)),
        capabilities: CLASSIC,
        checked: "2026-12",
    },
    ModelInfo {
        id: "claude-sonnet-5-5",
        family: "sonnet",
        generation: "5.5",
        status: Status::Current,
        prices: Some((2.0, 10.0)),
        capabilities: ADAPTIVE_THINKING,
        checked: "2026-12",
    },
    ModelInfo {
        id: "claude-opus-5-5",
        family: "opus",
        generation: "5.5",
        status: Status::Current,
        prices: Some((4.0, 20.0)),
        capabilities: ADAPTIVE_THINKING,
        checked: "2026-12",
    },
    ModelInfo {
        id: "claude-sonnet-5",
        family: "sonnet",
        generation: "5",
        status: Status::Legacy,
        // Served, but no longer on the price list: give it with --price.
        prices: None,
        capabilities: CLASSIC,
        checked: "2026-12",
    },
    ModelInfo {
        id: "claude-sonnet-4-6",
        family: "sonnet",
        generation: "4.6",
        status: Status::Legacy,
        prices: Some((3.0, 15.0)),
        capabilities: CLASSIC,
        checked: "2026-12",
    },
    ModelInfo {
        id: "gpt-4o-mini",
        family: "gpt",
        generation: "4o",
        status: Status::Current,
        prices: Some((0.15, 0.6)),
        capabilities: CLASSIC,
        checked: "-",
    },
    ModelInfo {
        id: "gpt-4o",
        family: "gpt",
        generation: "4o",
        status: Status::Current,
        prices: Some((2.5, 10.0)),
        capabilities: CLASSIC,
        checked: "-",
    },
    ModelInfo {
        id: "offline-rules",
        family: "offline",
        generation: "-",
        status: Status::Current,
        prices: Some((0.0, 0.0)),
        capabilities: CLASSIC,
        checked: "-",
    },
    ModelInfo {
        id: "mock",
        family: "mock",
        generation: "-",
        status: Status::Current,
        prices: Some((0.0, 0.0)),
        capabilities: CLASSIC,
        checked: "-",
    },
];

/// The Anthropic model used unless configured otherwise: one-sentence explanations need
/// neither thinking nor the most capable model, and Haiku 4.5 is the cheapest and fastest
/// current Claude model, so all of `max_tokens` goes to the answer.
pub const DEFAULT_MODEL: &str = "claude-haiku-4-5";

/// The row of `model`: its id, or a dated snapshot of it (`claude-haiku-4-5-20251001`).
pub fn model_info(model: &str) -> Option<&'static ModelInfo> {
    MODELS
        .iter()
        .filter(|info| {
            model
                .strip_prefix(info.id)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
        })
        .max_by_key(|info| info.id.len())
}

/// The current model of each Claude family, such as `("sonnet", "claude-sonnet-5-5")`.
pub fn current_claude_families() -> impl Iterator<Item = (&'static str, &'static str)> {
    MODELS
        .iter()
        .filter(|info| info.status == Status::Current && info.id.starts_with("claude-"))
        .map(|info| (info.family, info.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_models_and_their_snapshots_but_not_their_neighbours() {
        assert_eq!(model_info("claude-sonnet-5-5").unwrap().generation, "5.5");
        assert_eq!(model_info("claude-sonnet-5").unwrap().generation, "5");
        assert_eq!(
            model_info("claude-sonnet-5-20260301").unwrap().id,
            "claude-sonnet-5"
        );
        assert_eq!(
            model_info("claude-haiku-4-5-20251001").unwrap().id,
            "claude-haiku-4-5"
        );
        assert_eq!(
            model_info("gpt-4o-mini-2024-07-18").unwrap().id,
            "gpt-4o-mini"
        );
        assert!(model_info("claude-sonnet-50").is_none());
        assert!(model_info("llama3").is_none());
    }

    #[test]
    fn the_current_family_is_one_model_each_and_the_default_is_current() {
        let families: Vec<_> = current_claude_families().collect();
        assert_eq!(
            families,
            [
                ("haiku", "claude-haiku-4-5"),
                ("sonnet", "claude-sonnet-5-5"),
                ("opus", "claude-opus-5-5")
            ]
        );
        let default = model_info(DEFAULT_MODEL).unwrap();
        assert_eq!(default.status, Status::Current);
        assert!(!default.capabilities.thinks_by_default);
    }
}
