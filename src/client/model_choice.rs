//! Maps a server's model preferences (MCP sampling `modelPreferences`: name hints and
//! cost/speed/intelligence priorities) onto the models the user configured.

// Sampling is deprecated in the newest protocol revision but is what classic servers speak.
#![allow(deprecated)]

use rmcp::model::ModelPreferences;

use crate::llm::current_claude_families;

/// Named model families and the model id each stands for, e.g. `haiku` -> `claude-haiku-4-5`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelChoice {
    families: Vec<(String, String)>,
}

/// A priority at or above this counts as what the server cares about.
const HIGH_PRIORITY: f32 = 0.7;

impl ModelChoice {
    /// The Claude families, each standing for its current model in the model table: haiku
    /// (fast, cheap), sonnet (balanced), opus (most capable).
    pub fn claude() -> Self {
        current_claude_families().fold(Self::default(), |choice, (family, model)| {
            choice.with_family(family, model)
        })
    }

    /// Adds or replaces a family.
    pub fn with_family(mut self, family: &str, model: &str) -> Self {
        let family = family.to_lowercase();
        self.families.retain(|(name, _)| *name != family);
        self.families.push((family, model.to_string()));
        self
    }

    fn model_of(&self, family: &str) -> Option<String> {
        self.families
            .iter()
            .find(|(name, _)| name == family)
            .map(|(_, model)| model.clone())
    }

    /// The model the preferences ask for, or `None` for the configured default. Hints are tried
    /// in order (a hint names a family when one contains the other, so `claude-3-haiku` picks
    /// `haiku`); without a matching hint, a high intelligence priority picks `opus`, a high speed
    /// or cost priority picks `haiku`.
    pub fn choose(&self, preferences: Option<&ModelPreferences>) -> Option<String> {
        let preferences = preferences?;
        for hint in preferences.hints.iter().flatten() {
            let Some(name) = hint.name.as_deref().map(str::to_lowercase) else {
                continue;
            };
            let found = self.families.iter().find(|(family, model)| {
                name.contains(family.as_str()) || family.contains(&name) || *model == name
            });
            if let Some((_, model)) = found {
                return Some(model.clone());
            }
        }
        let intelligence = preferences.intelligence_priority.unwrap_or(0.0);
        let speed = preferences.speed_priority.unwrap_or(0.0);
        let cost = preferences.cost_priority.unwrap_or(0.0);
        if intelligence >= HIGH_PRIORITY && intelligence >= speed.max(cost) {
            self.model_of("opus")
        } else if speed.max(cost) >= HIGH_PRIORITY {
            self.model_of("haiku")
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preferences(json: serde_json::Value) -> ModelPreferences {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn hints_pick_families_in_order() {
        let choice = ModelChoice::claude();
        let prefs = preferences(
            serde_json::json!({"hints": [{"name": "gpt-4"}, {"name": "claude-3-haiku"}]}),
        );
        assert_eq!(
            choice.choose(Some(&prefs)).as_deref(),
            Some("claude-haiku-4-5")
        );
        for (hint, model) in [
            ("sonnet", "claude-sonnet-5-5"),
            ("claude-3-5-sonnet", "claude-sonnet-5-5"),
            ("claude-sonnet-4-6", "claude-sonnet-5-5"),
            ("opus", "claude-opus-5-5"),
            ("claude-3-opus-20240229", "claude-opus-5-5"),
            ("haiku", "claude-haiku-4-5"),
        ] {
            let prefs = preferences(serde_json::json!({"hints": [{"name": hint}]}));
            assert_eq!(
                choice.choose(Some(&prefs)).as_deref(),
                Some(model),
                "{hint}"
            );
        }
    }

    #[test]
    fn priorities_pick_a_family_when_no_hint_matches() {
        let choice = ModelChoice::claude().with_family("haiku", "my-fast-model");
        let fast =
            preferences(serde_json::json!({"speedPriority": 0.9, "intelligencePriority": 0.2}));
        assert_eq!(choice.choose(Some(&fast)).as_deref(), Some("my-fast-model"));
        let smart =
            preferences(serde_json::json!({"intelligencePriority": 0.9, "costPriority": 0.1}));
        assert_eq!(
            choice.choose(Some(&smart)).as_deref(),
            Some("claude-opus-5-5")
        );
        let neutral = preferences(serde_json::json!({"costPriority": 0.5}));
        assert_eq!(choice.choose(Some(&neutral)), None);
        assert_eq!(choice.choose(None), None);
        assert_eq!(ModelChoice::default().choose(Some(&fast)), None);
    }
}
