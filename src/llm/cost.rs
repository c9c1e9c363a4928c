//! What LLM requests cost: the model table's list prices (US dollars per million input and
//! output tokens), overridable with `--price`, and the estimate of a job's spending.

use std::collections::HashMap;

use super::models::model_info;

/// Prices of one model, in US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prices {
    pub input_per_million: f64,
    pub output_per_million: f64,
}

impl Prices {
    pub fn cost(&self, input_tokens: u64, output_tokens: u64) -> f64 {
        (input_tokens as f64 * self.input_per_million
            + output_tokens as f64 * self.output_per_million)
            / 1_000_000.0
    }
}

/// Prices by model: the user's first, then the list prices of the model table.
#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    overrides: HashMap<String, Prices>,
}

impl PriceTable {
    pub fn with_price(mut self, model: &str, prices: Prices) -> Self {
        self.overrides.insert(model.to_string(), prices);
        self
    }

    /// The prices of `model`, when known.
    pub fn prices(&self, model: &str) -> Option<Prices> {
        if let Some(prices) = self.overrides.get(model) {
            return Some(*prices);
        }
        model_info(model)
            .and_then(|info| info.prices)
            .map(|(input, output)| Prices {
                input_per_million: input,
                output_per_million: output,
            })
    }

    /// The cost of the tokens each model used, or `None` when a model's prices are unknown.
    pub fn cost(&self, usage: &HashMap<String, (u64, u64)>) -> Option<f64> {
        usage
            .iter()
            .try_fold(0.0, |total, (model, (input, output))| {
                self.prices(model)
                    .map(|prices| total + prices.cost(*input, *output))
            })
    }
}

/// Parses `--price MODEL=INPUT/OUTPUT` (dollars per million tokens).
pub fn parse_price(text: &str) -> Result<(String, Prices), String> {
    let usage = || format!("'{text}' is not MODEL=INPUT/OUTPUT (dollars per million tokens)");
    let (model, prices) = text.split_once('=').ok_or_else(usage)?;
    let (input, output) = prices.split_once('/').ok_or_else(usage)?;
    let number = |value: &str| {
        value
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n >= 0.0)
    };
    match (model.trim(), number(input), number(output)) {
        (model, Some(input), Some(output)) if !model.is_empty() => Ok((
            model.to_string(),
            Prices {
                input_per_million: input,
                output_per_million: output,
            },
        )),
        _ => Err(usage()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_come_from_overrides_then_the_model_table() {
        let table = PriceTable::default();
        assert_eq!(
            table.prices("claude-sonnet-4-6").unwrap().input_per_million,
            3.0
        );
        let sonnet = table.prices("claude-sonnet-5-5").unwrap();
        assert_eq!(
            (sonnet.input_per_million, sonnet.output_per_million),
            (2.0, 10.0)
        );
        let opus = table.prices("claude-opus-5-5").unwrap();
        assert_eq!(
            (opus.input_per_million, opus.output_per_million),
            (4.0, 20.0)
        );
        assert!(
            table.prices("claude-opus-4").is_none(),
            "not a listed model"
        );
        assert!(
            table.prices("claude-sonnet-5").is_none(),
            "served, not priced"
        );
        assert_eq!(
            table.prices("gpt-4o-mini-2024").unwrap().input_per_million,
            0.15
        );
        assert_eq!(table.prices("gpt-4o").unwrap().input_per_million, 2.5);
        assert!(table.prices("llama3").is_none());
        let (model, prices) = parse_price("llama3=0.1/0.2").unwrap();
        let table = table.with_price(&model, prices);
        let usage = HashMap::from([("llama3".to_string(), (1_000_000, 500_000))]);
        assert!((table.cost(&usage).unwrap() - 0.2).abs() < 1e-9);
        let unknown = HashMap::from([("mystery".to_string(), (1, 1))]);
        assert_eq!(table.cost(&unknown), None);
        assert!(parse_price("x=1").is_err());
        assert!(parse_price("x=-1/2").is_err());
    }
}
