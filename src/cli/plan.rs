//! Prints the plan of `archive --dry-run`: what the job would read, group and ask the LLM, and
//! what that would cost in money and time.

use std::fmt;

use crate::pipeline::plan::JobPlanSummary;
use crate::pipeline::progress::thousands;

/// Prints the plan as text, or as JSON on stdout.
pub fn print_plan(plan: &JobPlanSummary, json: bool) {
    if json {
        println!("{}", serde_json::to_string(plan).expect("plans serialize"));
    } else {
        println!("{}", PlanText(plan));
    }
}

struct PlanText<'a>(&'a JobPlanSummary);

impl fmt::Display for PlanText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plan = self.0;
        writeln!(f, "Plan (dry run: nothing sent, nothing written)")?;
        writeln!(
            f,
            "  lines            {}   (entries {}, blank {}, filtered {})",
            thousands(plan.lines),
            thousands(plan.entries),
            thousands(plan.blank),
            thousands(plan.filtered)
        )?;
        if let Some(header) = &plan.header {
            writeln!(f, "  header           {header}")?;
        }
        match plan.kinds {
            Some(kinds) => writeln!(
                f,
                "  kinds            {}   (each explained once for all its entries)",
                thousands(kinds as u64)
            )?,
            None => writeln!(f, "  sharing          --dedup {}", plan.dedup)?,
        }
        writeln!(f, "  LLM requests     {}", thousands(plan.llm_requests))?;
        writeln!(
            f,
            "  tokens           about {} in, at most {} out",
            thousands(plan.estimated_input_tokens),
            thousands(plan.max_output_tokens)
        )?;
        match plan.estimated_cost_usd {
            Some(cost) => writeln!(
                f,
                "  cost             at most ${cost:.4} with {}",
                plan.model
            )?,
            None => writeln!(
                f,
                "  cost             unknown: no prices for model '{}' (give them with --price)",
                plan.model
            )?,
        }
        match plan.minutes_at_rate_limit {
            Some(minutes) => writeln!(
                f,
                "  time             about {} at {}",
                duration(minutes),
                plan.rate_limit
            )?,
            None => writeln!(f, "  time             no request limit set (--rpm)")?,
        }
        if !plan.top_kinds.is_empty() {
            writeln!(f, "  top kinds")?;
            for kind in &plan.top_kinds {
                writeln!(f, "    {:>9}  {}", thousands(kind.count), kind.template)?;
            }
        }
        Ok(())
    }
}

fn duration(minutes: f64) -> String {
    if minutes < 1.0 {
        format!("{:.0} s", (minutes * 60.0).ceil())
    } else if minutes < 120.0 {
        format!("{minutes:.1} min")
    } else {
        format!("{:.1} h", minutes / 60.0)
    }
}
