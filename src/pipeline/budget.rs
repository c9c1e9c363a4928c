//! A job's spending limits: estimated US dollars (`--max-cost`) and LLM tokens
//! (`--max-llm-tokens`). An entry is sent only when, counted pessimistically (its text plus the
//! prompt around it, and every output token it may use), it cannot take the job past either.

use std::collections::HashMap;
use std::ops::Add;

use crate::llm::{PriceTable, Prices, estimate_tokens};

/// Tokens used, or reserved for an entry before it is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenCount {
    pub input: u64,
    pub output: u64,
}

impl TokenCount {
    fn total(self) -> u64 {
        self.input + self.output
    }
}

impl Add for TokenCount {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self {
            input: self.input + other.input,
            output: self.output + other.output,
        }
    }
}

/// A limit on estimated spending.
pub struct CostLimit {
    pub max_usd: f64,
    /// Prices of the models that answered, for what was spent.
    pub prices: PriceTable,
    /// The prices an entry is estimated at before it is sent.
    pub estimate_prices: Prices,
}

/// The limits of one job.
pub struct Budget {
    pub cost: Option<CostLimit>,
    /// Most input plus output tokens the job may use.
    pub max_tokens: Option<u64>,
    /// Output tokens reserved per entry (the tool's `--max-tokens`).
    pub reserved_output_tokens: u32,
}

/// Input tokens of the prompt around a log line.
const PROMPT_TOKENS: u64 = 120;

impl Budget {
    /// The most one entry may use.
    pub fn entry_estimate(&self, text: &str) -> TokenCount {
        TokenCount {
            input: estimate_tokens(text) + PROMPT_TOKENS,
            output: u64::from(self.reserved_output_tokens),
        }
    }

    /// Whether `reserved` more tokens (entries in flight and the next one) fit beside what was
    /// `spent` per model; when not, names the limit that would be exceeded.
    pub fn check(
        &self,
        spent: &HashMap<String, (u64, u64)>,
        reserved: TokenCount,
    ) -> Result<(), String> {
        if let Some(max_tokens) = self.max_tokens {
            let used: u64 = spent.values().map(|(input, output)| input + output).sum();
            if used + reserved.total() > max_tokens {
                return Err(format!(
                    "the --max-llm-tokens budget of {max_tokens} tokens would be exceeded"
                ));
            }
        }
        if let Some(limit) = &self.cost {
            let used = limit.prices.cost(spent).unwrap_or(0.0);
            let reserved = limit.estimate_prices.cost(reserved.input, reserved.output);
            if used + reserved > limit.max_usd {
                return Err(format!(
                    "the --max-cost budget of ${} would be exceeded",
                    limit.max_usd
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spent(input: u64, output: u64) -> HashMap<String, (u64, u64)> {
        HashMap::from([("claude-haiku-4-5".to_string(), (input, output))])
    }

    #[test]
    fn a_token_limit_counts_what_was_spent_and_what_is_reserved() {
        let budget = Budget {
            cost: None,
            max_tokens: Some(1_000),
            reserved_output_tokens: 100,
        };
        let entry = budget.entry_estimate("x".repeat(40).as_str());
        assert_eq!(
            entry,
            TokenCount {
                input: 130,
                output: 100
            }
        );
        assert!(budget.check(&spent(500, 200), entry).is_ok());
        let error = budget.check(&spent(600, 200), entry).unwrap_err();
        assert!(error.contains("--max-llm-tokens budget of 1000 tokens"));
    }

    #[test]
    fn a_cost_limit_prices_what_was_spent_and_what_is_reserved() {
        let prices = Prices {
            input_per_million: 1.0,
            output_per_million: 5.0,
        };
        let budget = Budget {
            cost: Some(CostLimit {
                max_usd: 0.01,
                prices: PriceTable::default().with_price("claude-haiku-4-5", prices),
                estimate_prices: prices,
            }),
            max_tokens: None,
            reserved_output_tokens: 100,
        };
        let entry = TokenCount {
            input: 1_000,
            output: 100,
        };
        // $0.0015 reserved beside $0.0080 spent fits; beside $0.0090 it does not.
        assert!(budget.check(&spent(3_000, 1_000), entry).is_ok());
        let error = budget.check(&spent(4_000, 1_000), entry).unwrap_err();
        assert!(error.contains("--max-cost budget of $0.01"));
    }
}
