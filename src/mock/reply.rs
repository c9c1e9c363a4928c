//! The mock LLM's deterministic answers: one sentence derived from the prompt.

use crate::protocol::log_line_in_prompt;

/// Keywords the mock recognises, and how it names them.
const FAMILIES: &[(&[&str], &str)] = &[
    (&["timed out", "timeout"], "an operation that timed out"),
    (
        &["refused", "reset", "unreachable"],
        "a failed network connection",
    ),
    (
        &["denied", "unauthorized", "forbidden", "authentication"],
        "an access failure",
    ),
    (&["out of memory", "oom", "killed"], "memory exhaustion"),
    (&["disk", "no space", "i/o error"], "a storage failure"),
    (&["deadlock", "lock"], "lock contention"),
    (
        &["exception", "error", "fail", "fatal"],
        "an application error",
    ),
];

/// The sentence the mock answers for a prompt. The same prompt always gets the same answer; the
/// answer quotes the end of the log line in the prompt so that it can be traced to its input.
pub fn mock_reply(prompt: &str) -> String {
    let prompt = log_line_in_prompt(prompt);
    let lowered = prompt.to_lowercase();
    let family = FAMILIES
        .iter()
        .find(|(words, _)| words.iter().any(|word| lowered.contains(word)))
        .map_or("an unremarkable event", |(_, name)| name);
    // One plain line: control characters and runs of whitespace become single spaces.
    let flattened = prompt
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let tail: String = {
        let chars: Vec<char> = flattened.chars().collect();
        let tail: String = chars[chars.len().saturating_sub(60)..].iter().collect();
        tail.trim().to_string()
    };
    format!("Mock analysis: \"{tail}\" points to {family}.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_deterministic_and_traceable() {
        let prompt = "Explain: ERROR connection refused to db-7:5432";
        assert_eq!(mock_reply(prompt), mock_reply(prompt));
        let reply = mock_reply(prompt);
        assert!(reply.contains("db-7:5432"), "{reply}");
        assert!(reply.contains("failed network connection"), "{reply}");
        assert!(!mock_reply("line one\nline two").contains('\n'));
    }
}
