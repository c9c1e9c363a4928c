//! Secret redaction: log lines are sent to a third-party LLM, so credentials (and, on request,
//! e-mail and IP addresses) are replaced by markers such as `[REDACTED:password]` first.
//!
//! The non-secret context stays: `password=hunter2` becomes `password=[REDACTED:password]`,
//! `https://user:pass@host/x` becomes `https://user:[REDACTED:password]@host/x`. Markers are
//! never matched by a rule, so redacting twice is the same as redacting once. A line with
//! nothing to redact costs one scan per enabled kind and is returned as it was, borrowed.
//!
//! The rules themselves are in `rules`.

mod rules;
#[cfg(test)]
mod tests;

use std::borrow::Cow;

use clap::ValueEnum;

use self::rules::{RuleSet, rules_for};

/// What kind of sensitive value a rule finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum SecretKind {
    /// Credentials: API keys, tokens, passwords, AWS keys, JWTs, private keys.
    Secrets,
    /// E-mail addresses.
    Email,
    /// IPv4 and IPv6 addresses.
    Ip,
}

/// Which kinds of sensitive values are redacted. The default is [`RedactionSet::secrets`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedactionSet {
    secrets: bool,
    email: bool,
    ip: bool,
}

impl RedactionSet {
    /// Nothing is redacted.
    pub fn none() -> Self {
        Self::from_kinds(&[])
    }

    /// Credentials only (the default).
    pub fn secrets() -> Self {
        Self::from_kinds(&[SecretKind::Secrets])
    }

    /// The given kinds.
    pub fn from_kinds(kinds: &[SecretKind]) -> Self {
        Self {
            secrets: kinds.contains(&SecretKind::Secrets),
            email: kinds.contains(&SecretKind::Email),
            ip: kinds.contains(&SecretKind::Ip),
        }
    }

    /// Whether no kind is redacted.
    pub fn is_empty(&self) -> bool {
        !(self.secrets || self.email || self.ip)
    }

    /// Whether `kind` is redacted.
    pub fn contains(&self, kind: SecretKind) -> bool {
        match kind {
            SecretKind::Secrets => self.secrets,
            SecretKind::Email => self.email,
            SecretKind::Ip => self.ip,
        }
    }
}

impl Default for RedactionSet {
    fn default() -> Self {
        Self::secrets()
    }
}

/// Parses a `--redact` value: a comma-separated list of `secrets`, `email` and `ip`, or `none`
/// (also `off`) alone. Case and spaces around the words do not matter.
pub fn parse_redaction_set(text: &str) -> Result<RedactionSet, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("none") || text.eq_ignore_ascii_case("off") {
        return Ok(RedactionSet::none());
    }
    let kinds = text
        .split(',')
        .map(|word| {
            SecretKind::from_str(word.trim(), true).map_err(|_| {
                let accepted: Vec<String> = SecretKind::value_variants()
                    .iter()
                    .filter_map(ValueEnum::to_possible_value)
                    .map(|value| value.get_name().to_owned())
                    .collect();
                format!(
                    "unknown redaction kind {:?} in {text:?}: expected a comma-separated list \
                     of {}, or `none` (`off`) alone",
                    word.trim(),
                    accepted.join(", "),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RedactionSet::from_kinds(&kinds))
}

/// Replaces the secrets of the enabled kinds in log lines by `[REDACTED:<rule>]` markers.
/// The rules are compiled once per process; a `Redactor` is a few pointers, cheap to clone.
#[derive(Debug, Clone)]
pub struct Redactor {
    kinds: Vec<&'static RuleSet>,
}

impl Default for Redactor {
    /// Redacts credentials.
    fn default() -> Self {
        Self::new(RedactionSet::default())
    }
}

impl Redactor {
    /// A redactor for the kinds in `set` (their rules are compiled now if they were not yet).
    pub fn new(set: RedactionSet) -> Self {
        let kinds = SecretKind::value_variants()
            .iter()
            .filter(|kind| set.contains(**kind))
            .map(|kind| rules_for(*kind))
            .collect();
        Self { kinds }
    }

    /// Redacts `text` in place.
    pub fn redact_in_place(&self, text: &mut String) {
        if let Cow::Owned(redacted) = self.redact(text) {
            *text = redacted;
        }
    }

    /// `line` with its secrets replaced, borrowed when there are none.
    pub fn redact<'a>(&self, line: &'a str) -> Cow<'a, str> {
        let mut text = Cow::Borrowed(line);
        for kind in &self.kinds {
            if !kind.gate.is_match(&text) {
                continue;
            }
            for index in kind.gate.matches(&text).iter() {
                if let Some(redacted) = kind.rules[index].redact(&text) {
                    text = Cow::Owned(redacted);
                }
            }
        }
        text
    }
}
