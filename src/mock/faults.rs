//! Fault injection for the mock LLM: which failure to answer with, and when.

use std::fmt;
use std::str::FromStr;

/// A failure the mock can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// 429 `rate_limit_error` with `retry-after`.
    RateLimited,
    /// 529 `overloaded_error`.
    Overloaded,
    /// 500 `api_error`.
    ServerError,
    /// Holds the request longer than any sensible client timeout.
    Hang,
    /// 200 with a body that is not valid JSON.
    Malformed,
}

/// When a fault fires.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FaultSchedule {
    /// On each request with this probability (0.0 to 1.0).
    Rate(f64),
    /// On every Nth request (N, 2N, 3N, ...), counting all requests.
    EveryNth(u64),
}

/// One fault and its schedule, written `KIND:rate=P` or `KIND:every=N`
/// (KIND is `429`, `529`, `500`, `hang` or `malformed`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fault {
    pub kind: FaultKind,
    pub schedule: FaultSchedule,
}

impl Fault {
    /// Whether the fault fires for the request numbered `request_number` (1-based), given a
    /// uniform random draw in [0, 1).
    pub fn fires(&self, request_number: u64, draw: f64) -> bool {
        match self.schedule {
            FaultSchedule::Rate(probability) => draw < probability,
            FaultSchedule::EveryNth(n) => request_number.is_multiple_of(n),
        }
    }
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let usage = || {
            format!(
                "invalid fault '{spec}': expected KIND:rate=P or KIND:every=N, \
                 KIND one of 429, 529, 500, hang, malformed"
            )
        };
        let (kind, schedule) = spec.split_once(':').ok_or_else(usage)?;
        let kind = match kind {
            "429" => FaultKind::RateLimited,
            "529" => FaultKind::Overloaded,
            "500" => FaultKind::ServerError,
            "hang" => FaultKind::Hang,
            "malformed" => FaultKind::Malformed,
            _ => return Err(usage()),
        };
        let (key, value) = schedule.split_once('=').ok_or_else(usage)?;
        let schedule = match key {
            "rate" => match value.parse::<f64>() {
                Ok(p) if (0.0..=1.0).contains(&p) => FaultSchedule::Rate(p),
                _ => {
                    return Err(format!(
                        "invalid fault '{spec}': rate must be between 0 and 1"
                    ));
                }
            },
            "every" => match value.parse::<u64>() {
                Ok(n) if n > 0 => FaultSchedule::EveryNth(n),
                _ => {
                    return Err(format!(
                        "invalid fault '{spec}': every must be a positive integer"
                    ));
                }
            },
            _ => return Err(usage()),
        };
        Ok(Self { kind, schedule })
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            FaultKind::RateLimited => "429",
            FaultKind::Overloaded => "529",
            FaultKind::ServerError => "500",
            FaultKind::Hang => "hang",
            FaultKind::Malformed => "malformed",
        };
        match self.schedule {
            FaultSchedule::Rate(p) => write!(f, "{kind}:rate={p}"),
            FaultSchedule::EveryNth(n) => write!(f, "{kind}:every={n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_specs() {
        let fault: Fault = "529:every=3".parse().unwrap();
        assert_eq!(fault.kind, FaultKind::Overloaded);
        assert!(fault.fires(6, 0.99));
        assert!(!fault.fires(7, 0.0));
        assert_eq!(fault.to_string(), "529:every=3");
        let fault: Fault = "hang:rate=0.25".parse().unwrap();
        assert!(fault.fires(1, 0.2));
        assert!(!fault.fires(1, 0.3));
        assert!("404:every=1".parse::<Fault>().is_err());
        assert!("500:rate=2".parse::<Fault>().is_err());
        assert!("500:every=0".parse::<Fault>().is_err());
        assert!("500".parse::<Fault>().is_err());
    }
}
