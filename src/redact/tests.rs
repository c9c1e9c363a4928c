//! Tests of the redaction rules: the corpus of realistic log lines in `corpus.tsv`, real loghub
//! lines that must not change, idempotence, the `--redact` parser and the borrowed no-match
//! path.

use std::borrow::Cow;

use proptest::prelude::*;

use super::rules::rules_for;
use super::*;

const CORPUS: &str = include_str!("corpus.tsv");

/// One corpus row: the input, then what it becomes with `secrets` and with every kind.
struct Case {
    line: usize,
    input: &'static str,
    secrets: &'static str,
    all: &'static str,
}

fn corpus() -> Vec<Case> {
    CORPUS
        .lines()
        .enumerate()
        .filter(|(_, text)| !text.is_empty() && !text.starts_with('#'))
        .map(|(index, text)| {
            let cells: Vec<&str> = text.split('\t').collect();
            let [input, secrets, all] = cells[..] else {
                panic!("corpus line {} has {} cells, not 3", index + 1, cells.len());
            };
            let secrets = if secrets == "=" { input } else { secrets };
            let all = if all == "=" { secrets } else { all };
            Case {
                line: index + 1,
                input,
                secrets,
                all,
            }
        })
        .collect()
}

fn every_kind() -> RedactionSet {
    RedactionSet::from_kinds(&[SecretKind::Secrets, SecretKind::Email, SecretKind::Ip])
}

#[test]
fn the_corpus_is_redacted_as_expected() {
    let cases = corpus();
    assert!(cases.len() >= 60, "only {} corpus rows", cases.len());
    let secrets = Redactor::new(RedactionSet::secrets());
    let all = Redactor::new(every_kind());
    let mut failures = Vec::new();
    for case in &cases {
        for (kinds, redactor, expected) in [
            ("secrets", &secrets, case.secrets),
            ("all kinds", &all, case.all),
        ] {
            let got = redactor.redact(case.input);
            if got != expected {
                failures.push(format!(
                    "line {} ({kinds}):\n  input    {}\n  expected {expected}\n  got      {got}",
                    case.line, case.input
                ));
            }
            if (expected == case.input) != matches!(got, Cow::Borrowed(_)) {
                failures.push(format!(
                    "line {} ({kinds}): borrowed iff unchanged",
                    case.line
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn redacting_twice_changes_nothing() {
    let secrets = Redactor::new(RedactionSet::secrets());
    let all = Redactor::new(every_kind());
    for case in corpus() {
        for (redactor, once) in [(&secrets, case.secrets), (&all, case.all)] {
            let twice = redactor.redact(once);
            assert!(
                matches!(twice, Cow::Borrowed(_)),
                "line {}: {once:?} became {twice:?}",
                case.line
            );
        }
    }
}

#[test]
fn every_rule_is_exercised_by_the_corpus() {
    for kind in SecretKind::value_variants() {
        for rule in &rules_for(*kind).rules {
            let marker = format!("[REDACTED:{}]", rule.name);
            assert!(
                corpus()
                    .iter()
                    .any(|case| case.all.contains(&marker) && !case.input.contains(&marker)),
                "no corpus row produces {marker}"
            );
        }
    }
}

#[test]
fn multi_line_and_truncated_private_keys_are_redacted() {
    let redactor = Redactor::new(RedactionSet::secrets());
    let block = "key: -----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34Gkx\nFhD90vcNLYLInFEX\n\
                 -----END RSA PRIVATE KEY-----\nnext";
    assert_eq!(
        redactor.redact(block),
        "key: -----BEGIN RSA PRIVATE KEY-----\n[REDACTED:private-key]\n\
         -----END RSA PRIVATE KEY-----\nnext"
    );
    let truncated = "key: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkq\nhkiG9w0BAQEF\n";
    assert_eq!(
        redactor.redact(truncated),
        "key: -----BEGIN PRIVATE KEY-----\n[REDACTED:private-key]\n"
    );
}

#[test]
fn nothing_is_redacted_with_the_empty_set() {
    let none = Redactor::new(RedactionSet::none());
    for case in corpus() {
        assert!(matches!(none.redact(case.input), Cow::Borrowed(_)));
    }
}

#[test]
fn redaction_sets() {
    assert_eq!(RedactionSet::default(), RedactionSet::secrets());
    assert!(RedactionSet::none().is_empty());
    assert!(!RedactionSet::secrets().is_empty());
    let email = RedactionSet::from_kinds(&[SecretKind::Email]);
    assert!(email.contains(SecretKind::Email));
    assert!(!email.contains(SecretKind::Secrets));
    assert!(!email.contains(SecretKind::Ip));
}

#[test]
fn the_redact_option_is_parsed() {
    assert_eq!(parse_redaction_set("secrets"), Ok(RedactionSet::secrets()));
    assert_eq!(parse_redaction_set("secrets, Email,ip"), Ok(every_kind()));
    assert_eq!(parse_redaction_set("none"), Ok(RedactionSet::none()));
    assert_eq!(parse_redaction_set(" OFF "), Ok(RedactionSet::none()));
    assert_eq!(
        parse_redaction_set("ip,ip"),
        Ok(RedactionSet::from_kinds(&[SecretKind::Ip]))
    );
}

#[test]
fn bad_redact_options_are_named_in_the_error() {
    for (text, bad) in [
        ("secrets,emails", "\"emails\""),
        ("secrets,none", "\"none\""),
        ("secrets,", "\"\""),
        ("", "\"\""),
        ("all", "\"all\""),
    ] {
        let error = parse_redaction_set(text).unwrap_err();
        assert!(
            error.contains(&format!("unknown redaction kind {bad}")),
            "{text:?}: {error}"
        );
        assert!(
            error.contains("secrets, email, ip, or `none`"),
            "{text:?}: {error}"
        );
    }
}

proptest! {
    // Failures are not saved to `proptest-regressions/`: add them to the corpus instead.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    /// Corpus lines and pieces of them, glued together, are redacted once and for all, and
    /// markers come out intact.
    #[test]
    fn redaction_is_idempotent_on_mixed_lines(
        pieces in prop::collection::vec(
            prop::sample::select(
                corpus().iter().flat_map(|case| [case.input, case.all]).flat_map(|text| {
                    std::iter::once(text).chain(text.split(' '))
                }).collect::<Vec<_>>(),
            ),
            1..6,
        ),
        glue in prop::sample::select(vec![" ", "", "\t", ",", "\n", "&", "\"", "=", ":", "@", "["]),
    ) {
        let all = Redactor::new(every_kind());
        let line = pieces.join(glue);
        let once = all.redact(&line).into_owned();
        prop_assert_eq!(all.redact(&once), once.as_str());
        prop_assert!(once.matches("[REDACTED:").count() >= line.matches("[REDACTED:").count());
    }
}

/// Real log lines that mention secret, token, key, password or credential without holding one.
const LOGHUB_KEYWORD_LINES: &str = include_str!("../../fixtures/loghub/keyword_lines.log");

#[test]
fn real_lines_that_only_mention_secrets_are_left_alone() {
    let secrets = Redactor::new(RedactionSet::secrets());
    let changed: Vec<String> = LOGHUB_KEYWORD_LINES
        .lines()
        .filter_map(|line| match secrets.redact(line) {
            Cow::Borrowed(_) => None,
            Cow::Owned(redacted) => Some(format!("{line}\n  -> {redacted}")),
        })
        .collect();
    assert!(LOGHUB_KEYWORD_LINES.lines().count() > 600);
    assert!(changed.is_empty(), "{}", changed.join("\n"));
}
