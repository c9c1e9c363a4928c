//! The redaction rules: one table of regular expressions per [`SecretKind`], compiled once, and
//! how one rule rewrites a line.
//!
//! A rule's pattern marks the secret with capture groups (alternatives, such as a quoted or a
//! bare value): the first group that took part in a match is replaced by `[REDACTED:<rule>]`,
//! and everything around it (the key, the scheme, the host) is kept. A rule without groups
//! replaces its whole match. Rules never see a marker: they run on the text between markers,
//! which makes redacting twice the same as redacting once.

use std::net::Ipv6Addr;
use std::ops::Range;
use std::sync::LazyLock;

use regex::{Regex, RegexSet};

use super::SecretKind;

/// The rules of one kind, with a set of all their patterns to skip lines none of them matches.
#[derive(Debug)]
pub(super) struct RuleSet {
    pub(super) gate: RegexSet,
    pub(super) rules: Vec<Rule>,
}

/// One rule: its name (the marker's), its pattern, and what a match must also satisfy.
#[derive(Debug)]
pub(super) struct Rule {
    pub(super) name: &'static str,
    pattern: Regex,
    accept: Accept,
}

/// A test on a match that a regular expression cannot express.
#[derive(Debug, Clone, Copy)]
enum Accept {
    /// Every match.
    Any,
    /// A value that is not a placeholder (`null`, `true`, `********`, an auth scheme name...).
    Value,
    /// An IPv4 address that is not part of a longer dotted number or a `product/version`.
    Ipv4,
    /// A real IPv6 address with a digit in it, not part of a longer word (`std::fs`, times).
    Ipv6,
    /// A random-looking token: a long stretch of letters and digits mixed, with high Shannon
    /// entropy.
    HighEntropy,
}

/// The least Shannon entropy, in bits per character, of a token taken for a secret next to a
/// keyword (gitleaks' generic-key rule asks 3.5 too): random keys have 4 or more, words, paths
/// and ids less.
const MIN_SECRET_ENTROPY: f64 = 3.5;

/// The rules of `kind`, compiled on first use.
pub(super) fn rules_for(kind: SecretKind) -> &'static RuleSet {
    match kind {
        SecretKind::Secrets => &SECRETS,
        SecretKind::Email => &EMAIL,
        SecretKind::Ip => &IP,
    }
}

/// Key prefixes such as `db_`, `spring.datasource.`, `x-` in `x-api-key`.
const KEY_PREFIX: &str = r"(?:[a-z0-9]+[_.-])*";

/// A quoted value: `\"...\"` inside a JSON string, `"..."` (with escapes), or `'...'`.
const QUOTED_VALUE: &str = r#"\\"((?:[^"\\]|\\[^"])+)\\"|"((?:[^"\\]|\\.)+)"|'([^']+)'"#;

/// An unquoted value: up to a space, a quote, a backslash or a `&`/`,`/`;` separator, not
/// starting with an opening bracket and not ending with a closing one (`User{password=x}`).
const BARE_VALUE: &str = r#"([^\s"'\\&,;\[<({](?:[^\s"'\\&,;]*[^\s"'\\&,;)}\]>])?)"#;

/// [`BARE_VALUE`] not starting with `/`: `PWD=/home/alice` is a directory, not a password.
const BARE_VALUE_NO_PATH: &str = r#"([^\s"'\\&,;\[<({/](?:[^\s"'\\&,;]*[^\s"'\\&,;)}\]>])?)"#;

/// An `Authorization` header or field, up to its value: `Authorization: `, `"authorization":"`,
/// Go's `Authorization:[`.
const AUTHORIZATION: &str = r#"(?i)\b(?:proxy-)?authorization\\?["']?[ \t]*[:=][ \t]*\[?\\?["']?"#;

/// Authorization schemes kept in front of a redacted credential.
const AUTH_SCHEMES: &[&str] = &[
    "bearer",
    "basic",
    "token",
    "bot",
    "digest",
    "negotiate",
    "ntlm",
    "aws4-hmac-sha256",
];

/// Values that are not secrets: flags, nulls, status words, masks and auth scheme names.
const NOT_SECRETS: &[&str] = &[
    "yes",
    "no",
    "true",
    "false",
    "null",
    "nil",
    "none",
    "undefined",
    "empty",
    "unset",
    "missing",
    "invalid",
    "expired",
    "required",
];

/// A `key=value` rule for the keys `keys` (case-insensitive): a quoted key (JSON, Python) is
/// followed by `:` or `=`, a bare key by `bare_separator`; then a quoted value or `bare_value`.
fn pair(keys: &str, bare_separator: &str, bare_value: &str) -> String {
    let quoted_key = format!(r#"\\?["']{KEY_PREFIX}(?:{keys})\\?["'][ \t]*[:=][ \t]*"#);
    let bare_key = format!(r"\b{KEY_PREFIX}(?:{keys}){bare_separator}");
    format!(r"(?i)(?:{quoted_key}|{bare_key})(?:{QUOTED_VALUE}|{bare_value})")
}

/// After a bare key: `=` or `=>` (spaces after it only if there are some before it, so that
/// the `b=2` of `a= b=2` is not taken for the value of `a`), or `:` and spaces.
const EQUALS_OR_COLON: &str = r"(?:[ \t]+=>?[ \t]*|=>?|:[ \t]*)";

/// [`EQUALS_OR_COLON`] without the colon: `passwd:` and `pwd:` are program names in syslog and
/// PAM (`pam_unix(passwd:chauthtok)`).
const EQUALS: &str = r"(?:[ \t]+=>?[ \t]*|=>?)";

static SECRETS: LazyLock<RuleSet> = LazyLock::new(|| {
    let schemes = AUTH_SCHEMES.join("|");
    RuleSet::new(vec![
        // PEM blocks, with or without their end (a truncated line): the body goes.
        Rule::new(
            "private-key",
            concat!(
                r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----\s*(\S(?s:.*?))",
                r"(?:\s*-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\s*$)",
            ),
            Accept::Any,
        ),
        // scheme://user:password@host
        Rule::new(
            "password",
            r#"(?i)\b[a-z][a-z0-9+.-]*://[^\s:@/?#\[\]"'\\]*:([^\s/?#"'\\]+)@"#,
            Accept::Any,
        ),
        Rule::new(
            "jwt",
            r"\beyJ[A-Za-z0-9_-]{4,}\.ey[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*",
            Accept::Any,
        ),
        Rule::new(
            "basic-auth",
            &format!(r"{AUTHORIZATION}basic[ \t]+([a-z0-9+/._~-]+=*)"),
            Accept::Any,
        ),
        // Authorization: [scheme] credentials (the scheme is kept).
        Rule::new(
            "bearer-token",
            &format!(r#"{AUTHORIZATION}(?:(?:{schemes})[ \t]+)?([^\s"'\\,;\[\]]+)"#),
            Accept::Value,
        ),
        // A lone `Bearer <token>`: the token needs a digit or 20 characters, so that
        // `bearer token expired` stays.
        Rule::new(
            "bearer-token",
            r"(?i)\bbearer[ \t]+([a-z0-9._~+/-]*[0-9][a-z0-9._~+/-]*=*|[a-z0-9._~+/-]{20,}=*)",
            Accept::Any,
        ),
        // Anthropic, OpenAI, GitHub, Slack, Stripe and Google keys, by their prefixes.
        Rule::new(
            "api-key",
            concat!(
                r"\b(?:sk-ant-[A-Za-z0-9_-]{20,}",
                r"|sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}|sk-[A-Za-z0-9]{32,}",
                r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}",
                r"|xox[baprs]-[A-Za-z0-9-]{10,}",
                r"|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}",
                r"|AIza[A-Za-z0-9_-]{35,})",
            ),
            Accept::Any,
        ),
        Rule::new(
            "aws-access-key",
            r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b",
            Accept::Any,
        ),
        Rule::new(
            "aws-secret-key",
            &pair(r"secret[_-]?access[_-]?key", EQUALS_OR_COLON, BARE_VALUE),
            Accept::Value,
        ),
        Rule::new(
            "api-key",
            &pair(r"api[_-]?key", EQUALS_OR_COLON, BARE_VALUE),
            Accept::Value,
        ),
        Rule::new(
            "token",
            &pair(r"[a-z0-9]*token", EQUALS_OR_COLON, BARE_VALUE),
            Accept::Value,
        ),
        Rule::new(
            "secret",
            &pair(r"[a-z0-9]*secret(?:[_-]?key)?", EQUALS_OR_COLON, BARE_VALUE),
            Accept::Value,
        ),
        Rule::new(
            "password",
            &pair(
                r"[a-z0-9]*password|passphrase|pass",
                EQUALS_OR_COLON,
                BARE_VALUE,
            ),
            Accept::Value,
        ),
        Rule::new(
            "password",
            &pair(r"passwd|pwd", EQUALS, BARE_VALUE_NO_PATH),
            Accept::Value,
        ),
        // A keyword and, a few characters on, a random-looking token (the gitleaks generic-key
        // approach): `secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY`, `token: 3fA9...`.
        Rule::new(
            "secret",
            concat!(
                r"(?i)\b(?:[a-z0-9]+[_.-])*(?:secret|token|key|password|passwd|credentials?",
                r"|api[_-]?key|access[_-]?key)\b[ \t:=>\x22'`]{1,4}",
                r"([a-z0-9+/_=.-]{16,256})(?:[^a-z0-9+/_=.-]|$)",
            ),
            Accept::HighEntropy,
        ),
        // curl -u user:password
        Rule::new(
            "password",
            r#"\bcurl\b.*?[ \t](?:-u|--user)[ \t=]*["']?[^\s:"']+:([^\s"']+)"#,
            Accept::Any,
        ),
    ])
});

static EMAIL: LazyLock<RuleSet> = LazyLock::new(|| {
    RuleSet::new(vec![Rule::new(
        "email",
        concat!(
            r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?",
            r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}\b",
        ),
        Accept::Any,
    )])
});

static IP: LazyLock<RuleSet> = LazyLock::new(|| {
    RuleSet::new(vec![
        // Candidates only (hex groups and colons, an optional dotted IPv4 tail and zone);
        // `Accept::Ipv6` parses them. IPv6 goes first so that `::ffff:10.0.0.1` is one address.
        Rule::new(
            "ip",
            r"(?i)[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?:(?:\.[0-9]{1,3}){3})?(?:%[0-9a-z_-]+)?",
            Accept::Ipv6,
        ),
        Rule::new(
            "ip",
            concat!(
                r"\b(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}",
                r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\b",
            ),
            Accept::Ipv4,
        ),
    ])
});

/// A value that names a program object rather than holding a secret: a Java object's
/// `Class{hash` or `package.Class@hash`, or a bundle or package name (`com.apple.xpc.activity`),
/// as Android's `token=Token{a64f992 ...}` and macOS's `stream/token: com.apple...` print them.
static NAMES_AN_OBJECT: LazyLock<Regex> = LazyLock::new(|| {
    compile(concat!(
        r"^(?:[A-Za-z_$][A-Za-z0-9_.$]*[{@][0-9a-f]{4,}$",
        r"|[a-z][a-z0-9-]*(?:\.[a-z][a-z0-9_-]*){2,}(?:/|:|$))",
    ))
});

/// A redaction marker, which no rule may touch.
static MARKER: LazyLock<Regex> = LazyLock::new(|| compile(r"\[REDACTED:[a-z0-9-]+\]"));

/// Compiles a built-in pattern (every one is exercised by the tests, so failing is a bug).
/// Its `\b` word boundaries become ASCII ones: a Unicode `\b` stops the fast matching engine at
/// the first non-ASCII character.
fn compile(pattern: &str) -> Regex {
    Regex::new(&pattern.replace(r"\b", r"(?-u:\b)"))
        .unwrap_or_else(|err| panic!("built-in pattern {pattern:?} is invalid: {err}"))
}

impl RuleSet {
    fn new(rules: Vec<Rule>) -> Self {
        let gate = RegexSet::new(rules.iter().map(|rule| rule.pattern.as_str()))
            .expect("the patterns compiled one by one");
        Self { gate, rules }
    }
}

impl Rule {
    fn new(name: &'static str, pattern: &str, accept: Accept) -> Self {
        Self {
            name,
            pattern: compile(pattern),
            accept,
        }
    }

    /// `text` with every secret this rule finds outside markers replaced by its marker, or
    /// `None` when it finds none.
    pub(super) fn redact(&self, text: &str) -> Option<String> {
        let mut redacted = String::new();
        let mut copied = 0;
        for segment in unmarked(text) {
            let haystack = &text[segment.clone()];
            for caps in self.pattern.captures_iter(haystack) {
                let secret = caps
                    .iter()
                    .skip(1)
                    .flatten()
                    .next()
                    .unwrap_or_else(|| caps.get_match());
                if !self.accept.accepts(haystack, secret.range()) {
                    continue;
                }
                redacted.push_str(&text[copied..segment.start + secret.start()]);
                redacted.push_str("[REDACTED:");
                redacted.push_str(self.name);
                redacted.push(']');
                copied = segment.start + secret.end();
            }
        }
        // Secrets are never empty, so nothing was copied iff nothing was found.
        if copied == 0 {
            return None;
        }
        redacted.push_str(&text[copied..]);
        Some(redacted)
    }
}

/// The byte ranges of `text` between markers.
fn unmarked(text: &str) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut start = 0;
    MARKER
        .find_iter(text)
        .map(|marker| marker.range())
        .chain(std::iter::once(text.len()..text.len()))
        .map(move |marker| {
            let segment = start..marker.start;
            start = marker.end;
            segment
        })
}

impl Accept {
    /// Whether the match `span` of `haystack` is a secret.
    fn accepts(self, haystack: &str, span: Range<usize>) -> bool {
        let value = &haystack[span.clone()];
        let before = &haystack.as_bytes()[..span.start];
        let after = &haystack.as_bytes()[span.end..];
        match self {
            Self::Any => true,
            Self::Value => !is_placeholder(value) && !NAMES_AN_OBJECT.is_match(value),
            Self::Ipv4 => {
                let dotted = matches!(before, [.., b'.'])
                    || matches!(after, [b'.', digit, ..] if digit.is_ascii_digit());
                let version = matches!(before, [.., word, b'/'] if word.is_ascii_alphanumeric());
                !dotted && !version
            }
            Self::HighEntropy => looks_random(value) && !NAMES_AN_OBJECT.is_match(value),
            Self::Ipv6 => {
                let address = value
                    .split_once('%')
                    .map_or(value, |(address, _zone)| address);
                let glued = before
                    .last()
                    .is_some_and(|byte| byte.is_ascii_alphanumeric() || b"_:.".contains(byte))
                    || after
                        .first()
                        .is_some_and(|byte| byte.is_ascii_alphanumeric() || b"_:".contains(byte));
                !glued
                    && address.bytes().any(|byte| byte.is_ascii_digit())
                    && address.parse::<Ipv6Addr>().is_ok()
            }
        }
    }
}

/// Whether a token looks like a generated secret rather than an identifier: one stretch of
/// at least 16 characters between `_`, `-` and `.` mixes letters and digits (so
/// `user_profile_settings_v2` and `application_1445087491445_0005` are not secrets), it is not
/// a path (one starting with `/`, or with `/` and no capital letter, such as an object key
/// `logs/2024/05/01/app.log`, where base64 has capitals), and it has at least
/// [`MIN_SECRET_ENTROPY`] bits per character.
fn looks_random(token: &str) -> bool {
    let path = token.starts_with('/')
        || (token.contains('/') && !token.bytes().any(|byte| byte.is_ascii_uppercase()));
    let random_stretch = token.split(['_', '-', '.']).any(|stretch| {
        stretch.len() >= 16
            && stretch.bytes().any(|byte| byte.is_ascii_digit())
            && stretch.bytes().any(|byte| byte.is_ascii_alphabetic())
    });
    random_stretch && !path && shannon_entropy(token) >= MIN_SECRET_ENTROPY
}

/// Shannon entropy of `text` in bits per byte.
fn shannon_entropy(text: &str) -> f64 {
    let mut counts = [0u32; 256];
    for byte in text.bytes() {
        counts[usize::from(byte)] += 1;
    }
    let length = text.len() as f64;
    counts
        .iter()
        .filter(|count| **count > 0)
        .map(|count| {
            let share = f64::from(*count) / length;
            -share * share.log2()
        })
        .sum()
}

/// Whether a value is a flag, a null, a status word, a mask (`****`) or an auth scheme name.
fn is_placeholder(value: &str) -> bool {
    value.bytes().all(|byte| byte == b'*')
        || NOT_SECRETS
            .iter()
            .chain(AUTH_SCHEMES)
            .any(|word| value.eq_ignore_ascii_case(word))
}
