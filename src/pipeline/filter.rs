//! Entry filters: a minimum severity (understanding common level words and syslog priorities),
//! a pattern entries must match, and one they must not. Filtered entries are counted skips.

use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;

/// Severities, least severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Notice,
    Warning,
    Error,
    Critical,
    Alert,
    Emergency,
}

impl Level {
    pub fn from_word(word: &str) -> Option<Self> {
        // The longest level word has 13 letters; lower-case it on the stack.
        let mut lower = [0u8; 13];
        let bytes = word.as_bytes();
        let lower = lower.get_mut(..bytes.len())?;
        for (to, from) in lower.iter_mut().zip(bytes) {
            *to = from.to_ascii_lowercase();
        }
        Some(match std::str::from_utf8(lower).ok()? {
            "trace" | "finest" | "finer" => Self::Trace,
            "debug" | "fine" => Self::Debug,
            "info" | "information" | "informational" | "config" => Self::Info,
            "notice" => Self::Notice,
            "warn" | "warning" => Self::Warning,
            "error" | "err" | "severe" => Self::Error,
            "critical" | "crit" | "fatal" => Self::Critical,
            "alert" => Self::Alert,
            "emerg" | "emergency" | "panic" => Self::Emergency,
            _ => return None,
        })
    }

    /// The level's name in upper case, as kinds are named.
    pub fn name(self) -> &'static str {
        match self {
            Self::Trace => "TRACE",
            Self::Debug => "DEBUG",
            Self::Info => "INFO",
            Self::Notice => "NOTICE",
            Self::Warning => "WARN",
            Self::Error => "ERROR",
            Self::Critical => "CRITICAL",
            Self::Alert => "ALERT",
            Self::Emergency => "EMERGENCY",
        }
    }

    /// A syslog priority `<PRI>`: its severity is `PRI % 8`, 0 the most severe.
    fn from_syslog_priority(priority: u32) -> Self {
        match priority % 8 {
            0 => Self::Emergency,
            1 => Self::Alert,
            2 => Self::Critical,
            3 => Self::Error,
            4 => Self::Warning,
            5 => Self::Notice,
            6 => Self::Info,
            _ => Self::Debug,
        }
    }
}

impl FromStr for Level {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::from_word(text.trim()).ok_or_else(|| {
            format!(
                "unknown level '{text}': expected trace, debug, info, notice, warn, error, \
                 critical, alert or emergency"
            )
        })
    }
}

static SYSLOG_PRIORITY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*<(\d{1,3})>").expect("valid pattern"));
static LEVEL_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:^|[\s\[(<|:])(trace|finest|finer|debug|fine|info|information|informational|config|notice|warn|warning|error|err|severe|critical|crit|fatal|alert|emerg|emergency|panic)(?:$|[\s\]):>|,])",
    )
    .expect("valid pattern")
});

/// The severity a line states: a syslog priority, else the first level word.
pub fn level_of(line: &str) -> Option<Level> {
    if let Some(captures) = SYSLOG_PRIORITY.captures(line) {
        return captures[1].parse().ok().map(Level::from_syslog_priority);
    }
    LEVEL_WORD
        .captures(line)
        .and_then(|captures| Level::from_word(&captures[1]))
}

/// Which entries a job processes.
#[derive(Debug, Clone, Default)]
pub struct EntryFilter {
    /// Entries stating a lower severity are skipped; entries stating none are kept.
    pub min_level: Option<Level>,
    pub grep: Option<Regex>,
    pub exclude: Option<Regex>,
}

impl EntryFilter {
    pub fn keeps(&self, line: &str) -> bool {
        let level_ok = match (self.min_level, level_of(line)) {
            (Some(min), Some(level)) => level >= min,
            _ => true,
        };
        level_ok
            && self.grep.as_ref().is_none_or(|grep| grep.is_match(line))
            && self
                .exclude
                .as_ref()
                .is_none_or(|exclude| !exclude.is_match(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_levels_from_words_and_syslog_priorities() {
        assert_eq!(
            level_of("2026-11-29 10:00:01,123 ERROR [db] down"),
            Some(Level::Error)
        );
        assert_eq!(
            level_of("[Sun Dec 04 04:47:44 2005] [error] mod_jk child"),
            Some(Level::Error)
        );
        assert_eq!(
            level_of("081109 203615 148 INFO dfs.DataNode: ok"),
            Some(Level::Info)
        );
        assert_eq!(
            level_of("WARN  [QuorumPeer] - Interrupted"),
            Some(Level::Warning)
        );
        assert_eq!(level_of("<11>Nov 29 sshd: failure"), Some(Level::Error));
        assert_eq!(level_of("<30>Nov 29 cron: started"), Some(Level::Info));
        assert_eq!(level_of("sshd[1]: Failed password for root"), None);
        assert_eq!(level_of("errors=5 informative"), None);
    }

    #[test]
    fn filters_by_level_and_patterns() {
        let filter = EntryFilter {
            min_level: Some(Level::Warning),
            grep: Some(Regex::new("db").unwrap()),
            exclude: Some(Regex::new("healthcheck").unwrap()),
        };
        assert!(filter.keeps("ERROR db down"));
        assert!(!filter.keeps("INFO db up"));
        assert!(!filter.keeps("ERROR cache down"));
        assert!(!filter.keeps("ERROR db healthcheck failed"));
        assert!(
            filter.keeps("sshd: db Failed password"),
            "no stated level: kept"
        );
        assert!(EntryFilter::default().keeps("anything"));
        assert!("verbose".parse::<Level>().is_err());
        assert_eq!("WARN".parse::<Level>(), Ok(Level::Warning));
    }
}
