//! The note a request carries when its log line stands for a whole kind of entries: written by
//! the deduplicating backend for the LLM, read back by the offline explainer so that it, too,
//! explains the kind rather than the one line's values.

const OPENING: &str = "This log line is one instance of the message template `";
const CLOSING: &str = "` (`<*>` marks parts that vary";

/// The note for a line that stands for `template`.
pub fn template_note(template: &str) -> String {
    format!(
        "{OPENING}{template}{CLOSING}: numbers, addresses, ids, names). Explain it so that the \
         explanation holds for every instance of the template, without relying on the values of \
         the varying parts."
    )
}

/// The template a system prompt's note names, if it has one.
pub fn template_in_note(system: &str) -> Option<&str> {
    let start = system.find(OPENING)? + OPENING.len();
    let length = system[start..].find(CLOSING)?;
    Some(&system[start..start + length])
}

/// Replaces, in a sentence made for `line`, the values of `line` that vary within `template`
/// (quoted words, and words with digits, dots or slashes, such as addresses, host names and
/// paths, that the template does not hold) with `<*>`, so that the
/// sentence holds for every line of the template.
pub fn without_varying_values(sentence: &str, line: &str, template: &str) -> String {
    let mut values: Vec<&str> = line
        .split(|c: char| {
            c.is_whitespace() || matches!(c, '=' | ',' | ';' | '(' | ')' | '[' | ']' | '\'' | '"')
        })
        .map(|piece| piece.trim_end_matches([':', '.']))
        .filter(|piece| piece.len() >= 2 && !template.contains(piece))
        .filter(|piece| {
            piece
                .bytes()
                .any(|b| b.is_ascii_digit() || b == b'.' || b == b'/')
                || sentence.contains(&format!("'{piece}'"))
                || sentence.contains(&format!("\"{piece}\""))
        })
        .collect();
    // Longer values first, so that a value inside another is not cut out of it.
    values.sort_by_key(|value| std::cmp::Reverse(value.len()));
    values.dedup();
    values
        .into_iter()
        .fold(sentence.to_string(), |sentence, value| {
            sentence.replace(value, "<*>")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_note_names_its_template() {
        let note = template_note("Invalid user <*> from <*>");
        assert_eq!(template_in_note(&note), Some("Invalid user <*> from <*>"));
        assert_eq!(template_in_note("You explain log entries."), None);
    }

    #[test]
    fn values_that_vary_leave_the_sentence() {
        let sentence = "sshd received a login attempt for the non-existent user 'chen' from \
                        202.100.179.208; the client is probing user names.";
        let line = "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user chen from 202.100.179.208";
        assert_eq!(
            without_varying_values(sentence, line, "Invalid user <*> from <*>"),
            "sshd received a login attempt for the non-existent user '<*>' from <*>; the \
             client is probing user names."
        );
        let sentence = "sshd could not confirm that 1.2.3.4 really is ns.example.com.";
        let line = "reverse mapping checking getaddrinfo for ns.example.com [1.2.3.4] failed";
        assert_eq!(
            without_varying_values(
                sentence,
                line,
                "reverse mapping checking getaddrinfo for <*> [<*>] failed"
            ),
            "sshd could not confirm that <*> really is <*>."
        );
    }
}
