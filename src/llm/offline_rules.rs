//! Offline explainer: a deterministic, rule-based stand-in for the LLM, used to explain log
//! lines when no model is available (no API key, air-gapped machines).
//!
//! A fixed table of regular expressions recognises common families of log errors (database
//! locks, network, DNS, TLS, memory, disk, authentication, HTTP, crashes, JVM and Python
//! exceptions, kernel and hardware, HDFS, ZooKeeper, Apache httpd) and turns a line into one
//! sentence naming what happened and its likely cause. A line no rule knows gets a sentence
//! built from its level, component and message. The same line always gets the same sentence.

use std::borrow::Cow;
use std::sync::LazyLock;

use crate::protocol::log_line_in_prompt;

use regex::{Captures, Regex};

/// The model name the offline explainer reports, so nobody mistakes it for an LLM.
pub const OFFLINE_MODEL: &str = "offline-rules";

/// Longest sentence returned, in characters.
const MAX_SENTENCE_CHARS: usize = 300;
/// Only this many bytes at the start of a line are examined.
const MAX_INPUT_BYTES: usize = 4096;
/// Longest captured detail (user, path, exception message) put into a sentence.
const DETAIL_CHARS: usize = 60;
/// Longest message quoted by the sentence for an unrecognised line.
const QUOTE_CHARS: usize = 100;
/// A level word further into a line than this is part of the message, not of its header.
const HEADER_BYTES: usize = 64;

/// Sentence for a line with nothing in it.
const EMPTY_LINE_SENTENCE: &str = "The log line is empty, so there is nothing to explain.";

const DATABASE_LOCK: &str = "database-lock";
const CONNECTION: &str = "connection";
const DNS: &str = "dns";
const TLS: &str = "tls";
const MEMORY: &str = "out-of-memory";
const DISK: &str = "disk";
const AUTH: &str = "auth";
const HTTP: &str = "http";
const CRASH: &str = "crash";
const JVM: &str = "jvm-exception";
const PYTHON: &str = "python-exception";
const KERNEL: &str = "kernel-hardware";
const HDFS: &str = "hdfs";
const ZOOKEEPER: &str = "zookeeper";
const APACHE: &str = "apache-httpd";

/// Explains one log line in one sentence (ending with a period, no newline, at most ~300 chars).
pub fn explain_line(line: &str) -> String {
    let line = normalize(line);
    if line.is_empty() {
        return EMPTY_LINE_SENTENCE.to_string();
    }
    // Testing for a match is much cheaper than capturing, so capture only with the rule found.
    let sentence = find_rule(&line)
        .and_then(|rule| {
            rule.pattern
                .captures(&line)
                .map(|caps| rule.explain(&caps, &line))
        })
        .unwrap_or_else(|| explain_unrecognised(&line));
    finish(&sentence)
}

/// Explains a prompt sent to an LLM: finds the log line inside it and explains that.
pub fn explain_prompt(prompt: &str) -> String {
    explain_line(log_line_in_prompt(prompt))
}

/// The family of the first rule that recognises `line` (such as `"auth"`, `"hdfs"`,
/// `"jvm-exception"`), or `None` when the line would get the generic explanation. The tests
/// measure with it how much of real logs the rules recognise.
#[cfg(test)]
fn matched_family(line: &str) -> Option<&'static str> {
    find_rule(&normalize(line)).map(|rule| rule.family)
}

/// The first rule that matches `line`, skipping every group whose gate does not match.
fn find_rule(line: &str) -> Option<&'static Rule> {
    RULE_GROUPS
        .iter()
        .filter(|group| group.gate.is_match(line))
        .flat_map(|group| &group.rules)
        .find(|rule| rule.pattern.is_match(line))
}

/// The start of `line` (at most [`MAX_INPUT_BYTES`]) with control characters turned into
/// spaces and surrounding whitespace removed.
fn normalize(line: &str) -> Cow<'_, str> {
    let mut end = line.len().min(MAX_INPUT_BYTES);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    let head = line[..end].trim();
    if !head.chars().any(is_hidden) {
        return Cow::Borrowed(head);
    }
    let cleaned: String = head
        .chars()
        .map(|ch| if is_hidden(ch) { ' ' } else { ch })
        .collect();
    Cow::Owned(cleaned.trim().to_string())
}

/// Control characters and invisible formatting characters, which never belong in a sentence.
fn is_hidden(ch: char) -> bool {
    ch.is_control()
        || matches!(ch, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Makes `sentence` one clean line: no hidden characters, single spaces, at most
/// [`MAX_SENTENCE_CHARS`] characters, ending with a period.
fn finish(sentence: &str) -> String {
    let mut out = String::with_capacity(sentence.len() + 1);
    for ch in sentence.chars() {
        let ch = if is_hidden(ch) || ch.is_whitespace() {
            ' '
        } else {
            ch
        };
        if ch == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push(ch);
    }
    out.truncate(out.trim_end().len());
    if out.chars().nth(MAX_SENTENCE_CHARS - 1).is_some() {
        out = clip(&out, MAX_SENTENCE_CHARS - 1);
    }
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// `text` cut to at most `max` characters, with an ellipsis marking a cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().nth(max).is_none() {
        return text.to_string();
    }
    let kept: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", kept.trim_end())
}

/// A captured detail, shortened to [`DETAIL_CHARS`].
fn detail(text: &str) -> String {
    clip(text, DETAIL_CHARS)
}

/// `prefix` followed by the shortened `value`, or nothing when `value` is empty.
fn optional(prefix: &str, value: &str) -> String {
    if value.is_empty() {
        String::new()
    } else {
        format!("{prefix}{}", detail(value))
    }
}

/// The text of a named group, or "" when the group took no part in the match.
fn cap<'h>(caps: &Captures<'h>, name: &str) -> &'h str {
    caps.name(name).map_or("", |m| m.as_str().trim())
}

/// The first group of `re` that matched in `line` (or the whole match), or "".
fn extract<'h>(re: &Regex, line: &'h str) -> &'h str {
    re.captures(line)
        .and_then(|caps| caps.iter().skip(1).flatten().next().or_else(|| caps.get(0)))
        .map_or("", |m| m.as_str())
}

/// Compiles a built-in pattern (every one is exercised by the tests, so failing is a bug).
/// Its `\b` word boundaries become ASCII ones: a Unicode `\b` stops the fast matching engine
/// at the first non-ASCII character, which makes such lines about fifty times slower.
fn compile(pattern: &str) -> Regex {
    Regex::new(&pattern.replace(r"\b", r"(?-u:\b)"))
        .unwrap_or_else(|err| panic!("built-in pattern {pattern:?} is invalid: {err}"))
}

/// A recognised failure pattern and how to phrase it.
struct Rule {
    /// The family the rule belongs to, read by the coverage tests.
    #[cfg_attr(not(test), allow(dead_code))]
    family: &'static str,
    pattern: Regex,
    phrasing: Phrasing,
}

/// How a rule turns its match into a sentence.
enum Phrasing {
    /// A sentence with placeholders for named captures, see [`fill`].
    Template(&'static str),
    /// Code building the sentence from the captures and the whole normalised line.
    Build(fn(&Captures, &str) -> String),
}

/// A rule whose sentence is a template, see [`fill`].
fn rule(family: &'static str, pattern: &str, template: &'static str) -> Rule {
    Rule {
        family,
        pattern: compile(pattern),
        phrasing: Phrasing::Template(template),
    }
}

/// A rule whose sentence is built by code.
fn rule_with(family: &'static str, pattern: &str, build: fn(&Captures, &str) -> String) -> Rule {
    Rule {
        family,
        pattern: compile(pattern),
        phrasing: Phrasing::Build(build),
    }
}

impl Rule {
    /// The sentence for a line this rule matched.
    fn explain(&self, caps: &Captures, line: &str) -> String {
        match self.phrasing {
            Phrasing::Template(template) => fill(template, caps),
            Phrasing::Build(build) => build(caps, line),
        }
    }
}

/// Fills a template: `{name}` becomes the named capture (shortened, with double quotes made
/// single), and a `[...]` segment is left out when a capture inside it is empty. Templates
/// therefore contain no other braces or square brackets.
fn fill(template: &str, caps: &Captures) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('[') {
        out.push_str(&substitute(&rest[..open], caps).0);
        let close = rest[open..].find(']').map_or(rest.len(), |len| open + len);
        let (segment, complete) = substitute(&rest[open + 1..close], caps);
        if complete {
            out.push_str(&segment);
        }
        rest = rest.get(close + 1..).unwrap_or("");
    }
    out.push_str(&substitute(rest, caps).0);
    out
}

/// `text` with each `{name}` replaced by its capture, and whether every capture was non-empty.
fn substitute(text: &str, caps: &Captures) -> (String, bool) {
    let mut out = String::with_capacity(text.len() + 32);
    let mut complete = true;
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let Some(len) = rest[open..].find('}') else {
            break;
        };
        let value = cap(caps, &rest[open + 1..open + len]);
        complete &= !value.is_empty();
        out.push_str(&rest[..open]);
        out.push_str(&detail(&value.replace('"', "'")));
        rest = &rest[open + len + 1..];
    }
    out.push_str(rest);
    (out, complete)
}

/// Rules that are tried one after the other, behind a gate that matches exactly when one of
/// them does. A line matching none of a group costs one regex search instead of one per rule.
struct RuleGroup {
    gate: Regex,
    rules: Vec<Rule>,
}

/// Named groups, which the gate drops so that the rules' patterns can share names.
static GROUP_NAME: LazyLock<Regex> = LazyLock::new(|| compile(r"\(\?P<\w+>"));

impl RuleGroup {
    fn new(rules: Vec<Rule>) -> Self {
        let union: Vec<String> = rules
            .iter()
            .map(|rule| {
                format!(
                    "(?:{})",
                    GROUP_NAME.replace_all(rule.pattern.as_str(), "(?:")
                )
            })
            .collect();
        RuleGroup {
            gate: compile(&union.join("|")),
            rules,
        }
    }
}

/// All rules, tried in order: specific systems first, then general families, so that for
/// example an HDFS write failure caused by a reset connection is explained as HDFS.
static RULE_GROUPS: LazyLock<Vec<RuleGroup>> = LazyLock::new(|| {
    [
        apache_rules(),
        hdfs_rules(),
        zookeeper_rules(),
        sshd_rules(),
        database_lock_rules(),
        http_rules(),
        tls_rules(),
        dns_rules(),
        connection_rules(),
        memory_rules(),
        disk_rules(),
        crash_rules(),
        kernel_rules(),
        permission_rules(),
        jvm_rules(),
        python_rules(),
    ]
    .into_iter()
    .map(RuleGroup::new)
    .collect()
});

/// HDFS block ids such as `blk_-6952295868487656571`.
static BLOCK_ID: LazyLock<Regex> = LazyLock::new(|| compile(r"blk_-?\d+"));
/// Fully qualified Java exception classes such as `java.io.IOException`.
static JAVA_EXCEPTION: LazyLock<Regex> =
    LazyLock::new(|| compile(r"\b(?:[a-z][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error)\b"));
/// The remote end named in a network error: an address, a host name or `name:port`.
static NETWORK_PEER: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r#"(?i)\b(?:to|host|server|upstream|peer|address|dial tcp|dial udp|refused:)\s*[:=]?\s*['"/]?(?:[a-z][a-z0-9+.\-]*://)?((?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f]*:[0-9a-f:]*\]|localhost|[a-z0-9][a-z0-9\-]*(?:\.[a-z0-9\-]+)+)(?::\d{1,5})?|[a-z][a-z0-9\-]*:\d{1,5})"#,
    )
});
/// The host name a failed DNS lookup was for.
static LOOKED_UP_NAME: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r#"(?i)(?:resolve(?: host(?:name)?)?|UnknownHostException|ENOTFOUND|EAI_AGAIN|lookup|NXDOMAIN(?: for)?|query(?: for)?|host)\s*[:=]?\s*['"]?([a-z0-9_][a-z0-9_\-]*(?:\.[a-z0-9_\-]+)+)"#,
    )
});
/// The first absolute file path in a line.
static FILE_PATH: LazyLock<Regex> =
    LazyLock::new(|| compile(r#"(?:^|[\s'"(=:\[])(/[\w.\-/@+~]+)"#));
/// A `user=name` or `user name` detail.
static USER_NAME: LazyLock<Regex> = LazyLock::new(|| compile(r#"(?i)\buser[= ]['"]?([\w.@\-]+)"#));

// ---------------------------------------------------------------------------------------
// Rules, one function per family. In templates, `{name}` is a named capture and `[...]`
// is left out when a capture inside it is empty.
// ---------------------------------------------------------------------------------------

fn apache_rules() -> Vec<Rule> {
    vec![
        rule(
            APACHE,
            r"\[client (?P<client>[^\]]+)\] File does not exist: (?P<path>\S+)",
            "Apache httpd could not find {path} requested by client {client}; the link is broken, the file was removed, or a bot is probing for common paths, so the client got a 404.",
        ),
        rule(
            APACHE,
            r"\[client (?P<client>[^\]]+)\] Directory index forbidden by rule: (?P<path>\S+)",
            "Apache httpd refused to list the directory {path} for client {client}; it has no index file and directory listings are disabled (Options -Indexes), so the client, often a scanner, got a 403.",
        ),
        rule(
            APACHE,
            r"\[client (?P<client>[^\]]+)\] client denied by server configuration: (?P<path>\S+)",
            "Apache httpd denied client {client} access to {path}; an access rule (Require or Deny) blocks it, so the client got a 403.",
        ),
        rule(
            APACHE,
            r"script not found or unable to stat: (?P<path>\S+)",
            "Apache httpd could not find the CGI script {path}; the script is missing or unreadable, or a scanner probed for it, so the client got a 404.",
        ),
        rule(
            APACHE,
            r"Premature end of script headers|malformed header from script",
            "Apache httpd got no valid response headers from a CGI script; the script crashed, timed out, or printed output before its headers, so the client got a 500.",
        ),
        rule(
            APACHE,
            r"mod_jk child workerEnv in error state (?P<state>\d+)",
            "Apache's mod_jk connector found its worker environment in error state {state} in an httpd child; the child could not set up its Tomcat (AJP) workers, typically while httpd restarts or recycles children.",
        ),
        rule(
            APACHE,
            r"jk2_init\(\) Can't find child (?P<pid>\d+) in scoreboard",
            "Apache's mod_jk2 could not find child process {pid} in the scoreboard; the child exited or was recycled before mod_jk2 initialised it, usually during a restart or when the scoreboard is full.",
        ),
        rule(
            APACHE,
            r"mod_jk child init (?P<code>-?\d+ -?\d+)",
            "Apache's mod_jk failed to initialise in an httpd child (init {code}); the Tomcat connector could not start in that process, usually because of its workers configuration or shared memory.",
        ),
        rule(
            APACHE,
            r"(?i)server reached (?:MaxClients|MaxRequestWorkers) setting",
            "Apache httpd reached its MaxClients/MaxRequestWorkers limit; every worker is busy, so new requests wait or fail, because of a traffic spike or slow backends holding workers.",
        ),
    ]
}

fn hdfs_rules() -> Vec<Rule> {
    vec![
        rule(
            HDFS,
            r"Got exception while serving (?P<block>blk_-?\d+) to /?(?P<client>[\w.:\-]*[\w.\-])",
            "The HDFS DataNode hit an exception while sending block {block} to {client}; the reading client usually disconnected or timed out mid-transfer, which is harmless unless it keeps recurring.",
        ),
        rule(
            HDFS,
            r"writeBlock (?P<block>blk_-?\d+) received exception (?P<exception>[\w.$]+)(?::\s*(?P<message>.*))?",
            "The HDFS DataNode failed to write block {block} because of {exception}[ (\"{message}\")]; a peer DataNode or the client in the write pipeline disconnected or timed out, so the write is retried on another pipeline.",
        ),
        rule_with(
            HDFS,
            r"PacketResponder (?:blk_-?\d+ \d+|\d+ for block blk_-?\d+) (?:Exception|Interrupted)",
            |_, line| {
                format!(
                    "An HDFS DataNode PacketResponder failed while acknowledging block {}{}; a downstream DataNode in the write pipeline died, timed out, or closed the connection, so the client rebuilds the pipeline.",
                    detail(extract(&BLOCK_ID, line)),
                    optional(" with ", extract(&JAVA_EXCEPTION, line))
                )
            },
        ),
        rule_with(
            HDFS,
            r"DataXceiver(?::\s*[\w.$]+(?:Exception|Error)\b| error processing)",
            |_, line| {
                format!(
                    "The HDFS DataNode's data transfer thread (DataXceiver) failed{}; a client or peer DataNode connection broke during a block read or write (disconnect, timeout, or a full disk).",
                    optional(" with ", extract(&JAVA_EXCEPTION, line))
                )
            },
        ),
        rule(
            HDFS,
            r"(?i)(?:Not able|Failed) to place enough replicas",
            "HDFS could not place enough replicas of a block; too few DataNodes are alive, have free space, or satisfy the placement policy for the replication factor.",
        ),
        rule(
            HDFS,
            r"Redundant addStoredBlock request received for (?P<block>blk_-?\d+)",
            "The HDFS NameNode got a duplicate report that a DataNode stores block {block}; usually a harmless race after re-replication or a DataNode re-registering.",
        ),
        rule_with(
            HDFS,
            r"(?i)\bis corrupt\b|\bcorrupt (?:block|replica)s?\b",
            |_, line| {
                format!(
                    "HDFS found a corrupt replica{}; a checksum mismatch from a disk or memory error, so the replica is discarded and re-replicated from a good copy.",
                    optional(" of block ", extract(&BLOCK_ID, line))
                )
            },
        ),
        rule(
            HDFS,
            r"\b(?:WARN|ERROR|FATAL) (?:[\w$]+\.)*BlockManager:\s*(?P<message>.*)",
            "The HDFS NameNode's BlockManager reported a problem[ (\"{message}\")]; blocks are missing, corrupt, or under-replicated, usually because DataNodes died or their disks failed.",
        ),
    ]
}

fn zookeeper_rules() -> Vec<Rule> {
    vec![
        rule(
            ZOOKEEPER,
            r"Connection broken for id (?P<peer>\d+), my id = (?P<me>\d+)",
            "ZooKeeper server {me} lost its quorum connection to peer {peer}; the peer restarted or crashed, or the network between them dropped, which can trigger a leader election.",
        ),
        rule(
            ZOOKEEPER,
            r"Interrupted while waiting for message on queue",
            "ZooKeeper's quorum send thread was interrupted while waiting for messages; its connection to a peer was being torn down (peer restart or network loss), normally right after a 'Connection broken' warning.",
        ),
        rule(
            ZOOKEEPER,
            r"Interrupting SendWorker|Send worker leaving thread",
            "ZooKeeper is stopping the send thread of a quorum peer connection; the connection to that peer broke (peer restart or network loss) and will be re-established.",
        ),
        rule(
            ZOOKEEPER,
            r"Cannot open channel to (?P<peer>\d+) at election address /?(?P<address>\S+)",
            "ZooKeeper could not connect to peer {peer} at election address {address}; that server is down, not started yet, or blocked by a firewall, so the ensemble may lack a quorum.",
        ),
        rule(
            ZOOKEEPER,
            r"caught end of stream exception",
            "ZooKeeper saw a client connection end unexpectedly (end of stream); the client exited or was killed without closing its session, which is harmless unless it happens constantly.",
        ),
        rule(
            ZOOKEEPER,
            r"Notification time out: (?P<millis>\d+)",
            "ZooKeeper's leader election got no votes within {millis} ms and is retrying; peers are unreachable or slow, so the ensemble has no leader yet.",
        ),
        rule(
            ZOOKEEPER,
            r"Exception causing close of session (?P<session>\S+) due to (?P<exception>[\w.$]+)(?::\s*(?P<message>.*))?",
            "ZooKeeper closed client session {session} because of {exception}[ (\"{message}\")]; the server was not serving yet (starting up or without quorum) or the client connection failed.",
        ),
        rule(
            ZOOKEEPER,
            r"Unexpected exception causing shutdown while sock still open",
            "A ZooKeeper quorum connection handler hit an unexpected exception and shut down with its socket still open; the follower disconnected or the link broke, so the follower must resync with the leader.",
        ),
        rule(
            ZOOKEEPER,
            r"\bGOODBYE /?(?P<peer>[\w.:\-]+)",
            "ZooKeeper's leader ended its connection with follower {peer} (GOODBYE); the follower disconnected or restarted and must resync with the leader.",
        ),
        rule(
            ZOOKEEPER,
            r"Connection request from old client /?(?P<client>[\w.:\-]+);",
            "ZooKeeper accepted a connection from client {client} speaking the old protocol, which would be dropped in read-only mode; upgrade that client's ZooKeeper library.",
        ),
        rule(
            ZOOKEEPER,
            r"Expiring session (?P<session>\S+?),? timeout of (?P<millis>\d+) ?ms exceeded",
            "ZooKeeper expired session {session} because its client sent no heartbeat within {millis} ms; the client crashed, paused (for example in garbage collection), or lost the network, and its ephemeral znodes are deleted.",
        ),
        rule_with(
            ZOOKEEPER,
            r"KeeperErrorCode = (?P<code>\w+)(?: for (?P<path>\S+))?",
            |c, _| {
                format!(
                    "{}; {}.",
                    fill("ZooKeeper answered a request with {code}[ for {path}]", c),
                    keeper_error_hint(cap(c, "code"))
                )
            },
        ),
    ]
}

fn sshd_rules() -> Vec<Rule> {
    vec![
        rule(
            AUTH,
            r"Failed (?P<method>password|publickey|none|keyboard-interactive\S*|hostbased|gssapi\S*) for invalid user (?P<user>.*?) from (?P<ip>\S+)",
            "sshd rejected a login (method {method}) for the non-existent user '{user}' from {ip}; someone is guessing user names, typical of an automated brute-force scan.",
        ),
        rule(
            AUTH,
            r"Failed (?P<method>password|publickey|none|keyboard-interactive\S*|hostbased|gssapi\S*) for (?P<user>.*?) from (?P<ip>\S+)",
            "sshd rejected a login (method {method}) for user '{user}' from {ip}; the password or key was wrong, and many such failures from one address mean a brute-force attempt.",
        ),
        rule(
            AUTH,
            r"(?i)\bInvalid user (?P<user>.*?) from (?P<ip>\S+)",
            "sshd received a login attempt for the non-existent user '{user}' from {ip}; the client is probing user names, typical of an automated brute-force scan.",
        ),
        rule(
            AUTH,
            r"input_userauth_request: invalid user (?P<user>\S*)",
            "sshd received an authentication request for the non-existent user '{user}'; the client is probing user names, typical of an automated brute-force scan.",
        ),
        rule(
            AUTH,
            r"pam_unix\((?P<service>[^)]*)\): authentication failure;.*?\brhost=(?P<rhost>\S*)(?:\s+user=(?P<user>\S+))?",
            "PAM ({service}) recorded an authentication failure[ for user '{user}'][ from {rhost}]; a wrong password was given, and repeated failures from one host mean password guessing.",
        ),
        rule(
            AUTH,
            r"pam_unix\((?P<service>[^)]*)\): check pass; user unknown",
            "PAM ({service}) could not check a password because the user does not exist on this host; someone tried to log in with an unknown user name, likely a scan.",
        ),
        rule(
            AUTH,
            r"PAM (?P<count>\d+) more authentication failures?;.*?\brhost=(?P<rhost>\S*)(?:\s+user=(?P<user>\S+))?",
            "PAM logged {count} more authentication failures[ for user '{user}'][ from {rhost}]; the same client kept failing to log in, a sign of password guessing.",
        ),
        rule(
            AUTH,
            r"PAM service\((?P<service>[^)]*)\) ignoring max retries; (?P<tries>\d+) > (?P<max>\d+)",
            "PAM ({service}) saw {tries} failed authentication attempts on one connection, more than the allowed {max}; the client kept retrying wrong credentials, typical of a brute-force attempt.",
        ),
        rule(
            AUTH,
            r"Too many authentication failures(?: for (?:invalid user )?(?P<user>\S+))?",
            "sshd disconnected a client after too many authentication failures[ for user '{user}']; it kept sending wrong passwords or offered too many keys (MaxAuthTries).",
        ),
        rule(
            AUTH,
            r"reverse mapping checking getaddrinfo for (?P<host>\S+) \[(?P<ip>[^\]]+)\] failed",
            "sshd could not confirm that {ip} really is {host} (its reverse DNS does not map back), so it flagged a possible break-in attempt; the client's DNS is misconfigured or spoofed, common for scanning hosts.",
        ),
        rule(
            AUTH,
            r"Address (?P<ip>\S+) maps to (?P<host>\S+), but this does not map back to the address",
            "sshd found that {ip} claims to be {host} but that name does not resolve back to it, so it flagged a possible break-in attempt; the client's reverse DNS is misconfigured or spoofed.",
        ),
        rule_with(
            AUTH,
            r"Received disconnect from (?P<ip>\S+?)(?: port \d+)?: ?\d+: (?P<reason>.*?)\s*(?P<preauth>\[preauth\])?$",
            explain_ssh_disconnect,
        ),
        rule(
            AUTH,
            r"(?:Connection closed by|Disconnected from) (?:(?:invalid|authenticating) user (?P<user>\S+) )?(?P<ip>\S+)(?: port \d+)? \[preauth\]",
            "The client {ip} closed its connection to sshd before finishing authentication[ as user '{user}']; usually a scanner or a client giving up after failed login attempts.",
        ),
        rule(
            AUTH,
            r"Did not receive identification string from (?P<ip>\S+)",
            "sshd got a connection from {ip} that never sent an SSH identification string; usually a port scanner or health check that connects and closes without speaking SSH.",
        ),
        rule(
            AUTH,
            r"Permission denied \((?P<methods>[\w,\-]+)\)",
            "The SSH server refused the login because none of the offered authentication methods ({methods}) succeeded; the key or password is wrong or not authorised for that user.",
        ),
        rule(
            AUTH,
            r"Accepted (?P<method>password|publickey|keyboard-interactive\S*|hostbased|gssapi\S*) for (?P<user>\S+) from (?P<ip>\S+)",
            "sshd accepted a login (method {method}) for user '{user}' from {ip}; a successful login, worth checking only if it follows failed attempts or comes from an unexpected address.",
        ),
        rule(
            AUTH,
            r"pam_unix\((?P<service>[^)]*)\): session (?P<action>opened|closed) for user (?P<user>\S+)",
            "PAM ({service}) {action} a session for user '{user}'; a normal login or logout.",
        ),
        rule(
            AUTH,
            r"POSSIBLE BREAK-IN ATTEMPT",
            "sshd flagged a possible break-in attempt because the client's reverse DNS does not match its address; the client's DNS is misconfigured or spoofed, common for scanning hosts.",
        ),
    ]
}

fn database_lock_rules() -> Vec<Rule> {
    vec![
        rule(
            DATABASE_LOCK,
            r"(?i)Deadlock found when trying to get lock",
            "MySQL (InnoDB) found a deadlock and rolled back one transaction; two transactions locked the same rows in opposite order, so the rolled-back one should be retried and the lock order made consistent.",
        ),
        rule(
            DATABASE_LOCK,
            r"ORA-00060",
            "Oracle detected a deadlock while waiting for a resource (ORA-00060); two sessions were waiting on each other's row locks, so one statement was rolled back and should be retried.",
        ),
        rule(
            DATABASE_LOCK,
            r"(?i)\bdeadlock detected\b",
            "PostgreSQL detected a deadlock between transactions; two transactions were waiting on each other's locks, so one was aborted and should be retried.",
        ),
        rule(
            DATABASE_LOCK,
            r"(?i)Lock wait timeout exceeded",
            "MySQL (InnoDB) gave up waiting for a row lock (Lock wait timeout exceeded); another long-running or uncommitted transaction held the lock, so find it and keep transactions short before retrying.",
        ),
        rule(
            DATABASE_LOCK,
            r"(?i)canceling statement due to lock timeout|could not obtain lock on (?:row|relation)",
            "PostgreSQL cancelled a statement because it waited too long for a lock; another transaction held the row or table lock, so look for long-running or idle-in-transaction sessions.",
        ),
        rule(
            DATABASE_LOCK,
            r"(?i)\bdatabase is locked\b|\bSQLITE_BUSY\b",
            "SQLite reported that the database is locked; another connection held a write lock, so serialise the writers or raise the busy timeout.",
        ),
        rule(
            DATABASE_LOCK,
            r"(?i)\bdeadlock\b",
            "A deadlock was reported: two or more transactions or threads were waiting on each other's locks, so one was aborted and its work should be retried.",
        ),
        rule(
            DATABASE_LOCK,
            r"(?i)LockTimeoutException|LockAcquisitionException|timeout waiting for (?:a )?lock|\block (?:wait )?time(?:d)? ?out",
            "A lock wait timed out; another transaction or thread held the lock too long, so look for long-running transactions or lock contention.",
        ),
    ]
}

fn http_rules() -> Vec<Rule> {
    vec![
        rule_with(HTTP, r"(?i)upstream timed out", |_, line| {
            format!(
                "Nginx gave up waiting for the upstream server{} (upstream timed out), so the client got a 504; the backend is too slow or overloaded, or proxy_read_timeout is too short.",
                optional(" ", extract(&NETWORK_PEER, line))
            )
        }),
        rule_with(
            HTTP,
            r"(?i)no live upstreams|upstream prematurely closed connection|connect\(\) failed \([^)]*\) while connecting to upstream",
            |_, line| {
                format!(
                    "Nginx could not get a response from the upstream server{}, so the client got a 502; the backend is down, refusing connections, or crashed mid-response.",
                    optional(" ", extract(&NETWORK_PEER, line))
                )
            },
        ),
        rule_with(
            HTTP,
            r#""(?:GET|POST|PUT|DELETE|HEAD|PATCH|OPTIONS|CONNECT|TRACE|PROPFIND) (?P<path>\S+)(?: HTTP/[\d.]+)?" (?P<status>[45]\d\d)\b"#,
            explain_http_status,
        ),
        rule_with(
            HTTP,
            r#"(?i)\bHTTP/\d(?:\.\d)?"?\s+(?P<status>[45]\d\d)\b"#,
            explain_http_status,
        ),
        rule_with(
            HTTP,
            r#"(?i)status(?:[_ ]?code)?\s*[=:]\s*"?(?P<status>[45]\d\d)\b"#,
            explain_http_status,
        ),
        rule_with(
            HTTP,
            r"\b(?P<status>[45]\d\d) (?:Bad Request|Unauthorized|Forbidden|Not Found|Method Not Allowed|Request Timeout|Conflict|Payload Too Large|Too Many Requests|Internal Server Error|Bad Gateway|Service Unavailable|Gateway Time-?out)\b",
            explain_http_status,
        ),
    ]
}

fn tls_rules() -> Vec<Rule> {
    vec![
        rule(
            TLS,
            r"(?i)certificate (?:has )?expired|certificate is not yet valid|CERT_HAS_EXPIRED|expired certificate|certificate_expired",
            "A TLS certificate has expired or is not yet valid; renew the certificate, or fix the system clock if its dates look right.",
        ),
        rule(
            TLS,
            r"(?i)hostname mismatch|certificate is valid for|No subject alternative (?:DNS )?names?|ERR_TLS_CERT_ALTNAME_INVALID|(?:host ?name|common name|subject)\b.{0,60}(?:doesn't|does not|did not) match",
            "The TLS certificate does not match the host name being contacted (hostname mismatch); the client used a name missing from the certificate's CN/SAN entries, such as another alias or a bare IP address.",
        ),
        rule(
            TLS,
            r"(?i)unknown (?:ca|certificate authority)|self[- ]signed certificate|unable to get local issuer certificate|signed by unknown authority|PKIX path building failed|unable to find valid certification path|certificate verify failed|untrusted certificate",
            "TLS certificate verification failed because the certificate's issuer is not trusted (unknown CA); the chain is incomplete or self-signed, or the client's CA bundle or truststore lacks the issuing CA.",
        ),
        rule(
            TLS,
            r"(?i)(?:SSL|TLS) ?handshake (?:failed|failure|error|timed out|timeout)|handshake_failure|SSLHandshakeException|\bsslv3 alert\b|wrong version number|no shared cipher|unsupported protocol|no protocols available|handshake failed",
            "The TLS handshake failed; client and server could not agree on a protocol version or cipher suite, or one side rejected the other's certificate, so compare their TLS settings.",
        ),
        rule(
            TLS,
            r"(?i)\b(?:SSL|TLS)\b.{0,60}\b(?:error|fail(?:ed|ure)?|alert)\b|\bSSL_ERROR_\w+",
            "A TLS/SSL error broke a secure connection; check the certificates and protocol versions on both sides, and that the peer really speaks TLS on that port.",
        ),
    ]
}

fn dns_rules() -> Vec<Rule> {
    vec![
        rule_with(DNS, r"NXDOMAIN", |_, line| {
            format!(
                "DNS answered NXDOMAIN{}: the name does not exist, so check for a typo, a missing DNS record, or a wrong search domain.",
                optional(" for ", extract(&LOOKED_UP_NAME, line))
            )
        }),
        rule_with(
            DNS,
            r"(?i)Temporary failure in name resolution|\bEAI_AGAIN\b|\bSERVFAIL\b|DNS (?:lookup|resolution|query) (?:failed|timed out)",
            |_, line| {
                format!(
                    "DNS resolution failed temporarily{}; the DNS server was unreachable, failing, or timed out, so check /etc/resolv.conf and the network path to the resolver.",
                    optional(" for ", extract(&LOOKED_UP_NAME, line))
                )
            },
        ),
        rule_with(
            DNS,
            r"(?i)Name or service not known|nodename nor servname provided|\bENOTFOUND\b|UnknownHostException|could not resolve host|no such host|unknown host|Name does not resolve|getaddrinfo failed",
            |_, line| {
                format!(
                    "The host name{} could not be resolved by DNS; the record is missing or misspelled, or the machine uses the wrong DNS server or search domain.",
                    optional(" ", extract(&LOOKED_UP_NAME, line))
                )
            },
        ),
    ]
}

fn connection_rules() -> Vec<Rule> {
    vec![
        rule_with(
            CONNECTION,
            r"(?i)connection refused|\bECONNREFUSED\b|\bConnectException\b",
            |_, line| {
                format!(
                    "The connection{} was refused; nothing is listening on that host and port (the service is down, still starting, or on another port) or a firewall is rejecting it.",
                    optional(" to ", extract(&NETWORK_PEER, line))
                )
            },
        ),
        rule_with(
            CONNECTION,
            r"(?i)connection reset|\bECONNRESET\b",
            |_, line| {
                format!(
                    "The connection{} was reset by the peer; the remote side closed it abruptly (crash, restart, idle timeout, or a proxy or load balancer dropping it).",
                    optional(" to ", extract(&NETWORK_PEER, line))
                )
            },
        ),
        rule_with(CONNECTION, r"(?i)broken pipe|\bEPIPE\b", |_, line| {
            format!(
                "A write failed with a broken pipe{}; the other end had already closed the connection (the client went away or timed out) before the data was sent.",
                optional(" to ", extract(&NETWORK_PEER, line))
            )
        }),
        rule_with(
            CONNECTION,
            r"(?i)no route to host|\bEHOSTUNREACH\b|network is unreachable|\bENETUNREACH\b|host is unreachable",
            |_, line| {
                format!(
                    "The host{} was unreachable (no route to host); it is down, or a routing or firewall problem blocks the network path to it.",
                    optional(" ", extract(&NETWORK_PEER, line))
                )
            },
        ),
        rule_with(
            CONNECTION,
            r"(?i)connection timed out|connect(?:ion)? timeout|connect timed out|\bETIMEDOUT\b|SocketTimeoutException|\b(?:read|i/o|operation) timed? ?out\b",
            |_, line| {
                format!(
                    "The connection{} timed out; the remote host did not answer in time because it is down or overloaded, or a firewall silently drops the packets.",
                    optional(" to ", extract(&NETWORK_PEER, line))
                )
            },
        ),
        rule_with(
            CONNECTION,
            r"(?i)connection (?:was )?(?:aborted|lost|closed unexpectedly)|\bECONNABORTED\b",
            |_, line| {
                format!(
                    "The connection{} was lost unexpectedly; the peer crashed or restarted, or the network or a proxy dropped it.",
                    optional(" to ", extract(&NETWORK_PEER, line))
                )
            },
        ),
    ]
}

fn memory_rules() -> Vec<Rule> {
    vec![
        rule(
            MEMORY,
            r"(?i)Memory cgroup out of memory: Kill(?:ed)? process (?P<pid>\d+) \((?P<name>[^)]*)\)",
            "The kernel killed process {pid} ({name}) because its memory cgroup ran out of memory; the container's memory limit is too low for its workload or it is leaking memory.",
        ),
        rule(
            MEMORY,
            r"(?i)Out of memory(?: \([^)]*\))?: Kill(?:ed)? process (?P<pid>\d+) \((?P<name>[^)]*)\)",
            "The kernel OOM killer killed process {pid} ({name}) because the system ran out of memory; the host is overcommitted or that process (or another) uses or leaks too much memory.",
        ),
        rule(
            MEMORY,
            r"(?P<name>\S+) invoked oom-killer",
            "{name} triggered the kernel OOM killer because memory ran out; the kernel kills the largest process to free memory, so look for a memory-hungry or leaking process.",
        ),
        rule_with(
            MEMORY,
            r"java\.lang\.OutOfMemoryError(?::\s*(?P<kind>.*))?",
            |c, _| {
                format!(
                    "{}; {}.",
                    fill("The JVM ran out of memory (OutOfMemoryError[: {kind}])", c),
                    java_memory_hint(cap(c, "kind"))
                )
            },
        ),
        rule(
            MEMORY,
            r"(?i)\bOOMKilled\b|exit code 137\b|killed by signal 9\b|\bSIGKILL\b",
            "The process was killed with SIGKILL (exit code 137), most often by the kernel OOM killer or a container memory limit, otherwise by a stop timeout; check its memory use against the limits.",
        ),
        rule(
            MEMORY,
            r"(?i)Cannot allocate memory|\bENOMEM\b|\bMemoryError\b|std::bad_alloc|(?:memory allocation|malloc\(\)) failed|failed to allocate|\bout of memory\b",
            "A memory allocation failed (out of memory); the process or host exhausted RAM and swap, or hit a memory limit (ulimit, cgroup, or container limit).",
        ),
    ]
}

fn disk_rules() -> Vec<Rule> {
    vec![
        rule_with(
            DISK,
            r"(?i)No space left on device|\bENOSPC\b|\bdisk (?:is )?full\b",
            |_, line| {
                format!(
                    "A write{} failed because the filesystem is full (no space left on device); free space or inodes (old logs, temp files, data) or grow the volume.",
                    optional(" to ", extract(&FILE_PATH, line))
                )
            },
        ),
        rule(
            DISK,
            r"(?i)Disk quota exceeded|\bEDQUOT\b",
            "A write failed because the user's disk quota is exceeded; delete that user's files or raise the quota.",
        ),
        rule(
            DISK,
            r"(?i)Read-only file system|\bEROFS\b|remounting filesystem read-only",
            "A write failed because the filesystem is read-only; the kernel usually remounts a filesystem read-only after disk or filesystem errors, so check dmesg and run fsck.",
        ),
        rule(
            DISK,
            r"(?i)\bEXT[234]-fs (?:error|warning|critical)(?: \(device (?P<device>[\w\-]+)\))?",
            "The ext4 filesystem[ on device {device}] reported an error; this points to on-disk corruption or a failing disk, so check dmesg and SMART data and run fsck.",
        ),
        rule(
            DISK,
            r"(?i)\bXFS \((?P<device>[\w\-]+)\):.*?(?:corrupt|error|shut ?down)",
            "The XFS filesystem on device {device} reported corruption or an I/O error; the disk is failing or the filesystem is damaged, so check dmesg and run xfs_repair.",
        ),
        rule_with(DISK, r"(?i)Input/output error|\bEIO\b", |_, line| {
            format!(
                "An I/O operation{} failed with an Input/output error; the underlying disk, filesystem, or network storage is failing or was disconnected.",
                optional(" on ", extract(&FILE_PATH, line))
            )
        }),
    ]
}

fn crash_rules() -> Vec<Rule> {
    vec![
        rule(
            CRASH,
            r"(?P<name>[\w.\-]+)\[(?P<pid>\d+)\]: segfault at (?P<address>[0-9a-fA-F]+)(?:.*? in (?P<object>[^\s\[]+))?",
            "The process {name} (pid {pid}) crashed with a segmentation fault, an invalid memory access at address {address}[ in {object}]; a bug such as a null or dangling pointer, or a corrupted binary or library.",
        ),
        rule(
            CRASH,
            r"(?i)Segmentation fault|\bSIGSEGV\b|\bsignal 11\b|\bsegfault\b",
            "The process crashed with a segmentation fault (SIGSEGV); it accessed invalid memory, usually a bug (null or dangling pointer, stack overflow) or a broken native library.",
        ),
        rule(
            CRASH,
            r"(?i)\bSIGABRT\b|\bAborted \(core dumped\)|\bsignal 6\b|\babort\(\) called|\bAssertion .{1,200}? failed",
            "The process aborted (SIGABRT) because a failed assertion or a fatal internal check, such as heap corruption detected by the allocator, made it call abort().",
        ),
        rule(
            CRASH,
            r"\bSIGBUS\b",
            "The process crashed with SIGBUS; it touched misaligned memory or a memory-mapped file that shrank underneath it.",
        ),
        rule(
            CRASH,
            r"\bSIGILL\b",
            "The process crashed with SIGILL; it ran an illegal CPU instruction, from a binary built for a newer CPU or corrupted code.",
        ),
        rule(
            CRASH,
            r"\bSIGFPE\b",
            "The process crashed with SIGFPE; it hit an arithmetic fault such as an integer division by zero.",
        ),
        rule(
            CRASH,
            r"(?i)core dumped|dumped core|\bcore ?dump\b",
            "The process crashed and wrote a core dump; open the core file with a debugger (gdb or coredumpctl) to find the faulting code.",
        ),
    ]
}

fn kernel_rules() -> Vec<Rule> {
    vec![
        rule(
            KERNEL,
            r"(?i)Machine Check Exception|Machine check events logged|\bmce: \[Hardware Error\]",
            "The CPU raised a Machine Check Exception, a hardware error; faulty memory, CPU, or motherboard (or overheating) is likely, so check mcelog or rasdaemon and the EDAC counters.",
        ),
        rule(
            KERNEL,
            r"(?i)\[Hardware Error\]|\bhardware error\b|\bEDAC\b.*?\b(?:CE|UE|error)\b",
            "The kernel logged a hardware error; a component such as ECC memory, the CPU, or a PCIe device is failing, so check EDAC or mcelog and schedule a hardware check.",
        ),
        rule(
            KERNEL,
            r"(?i)I/O error,? dev (?P<device>[\w\-]+),? sector (?P<sector>\d+)",
            "The kernel got an I/O error from disk {device} at sector {sector}; the disk is failing or its cable or controller is faulty, so check SMART data and replace the disk if errors repeat.",
        ),
        rule(
            KERNEL,
            r"(?i)Buffer I/O error on (?:dev(?:ice)? )?(?P<device>[\w\-]+)",
            "The kernel failed a buffered I/O on device {device}; the disk or its controller is failing, or the device disappeared.",
        ),
        rule(
            KERNEL,
            r"(?i)soft lockup - CPU#(?P<cpu>\d+) stuck for (?P<duration>\d+s)!?(?: \[(?P<task>[^\]]+)\])?",
            "The kernel watchdog detected a soft lockup: CPU {cpu} was stuck for {duration}[ running {task}]; a kernel or driver bug, or heavy overload of the host or hypervisor, kept it from scheduling.",
        ),
        rule(
            KERNEL,
            r"(?i)hard LOCKUP",
            "The NMI watchdog detected a hard lockup, a CPU that stopped servicing interrupts; usually a kernel or driver bug or a hardware fault.",
        ),
        rule(
            KERNEL,
            r"(?i)task (?P<task>\S+) blocked for more than (?P<seconds>\d+) seconds",
            "The kernel found task {task} blocked for more than {seconds} seconds (hung task); it is stuck waiting on I/O, usually slow or failing storage or an unresponsive NFS server.",
        ),
        rule(
            KERNEL,
            r"(?i)\bCPU\s?#?\d*\s?stuck\b|\brcu_\w+ (?:self-)?detected (?:expedited )?stalls?|\bRCU stall\b",
            "The kernel found a CPU stuck (an RCU stall or lockup); a kernel or driver bug, an interrupt storm, or an overloaded hypervisor kept that CPU from making progress.",
        ),
        rule(
            KERNEL,
            r"(?i)\bNMI received\b|\bNMI\b.*?\b(?:error|parity|unknown reason|dazed)\b",
            "The kernel received a Non-Maskable Interrupt (NMI); it signals a hardware fault such as a memory parity or bus error, or a watchdog firing on a hung CPU.",
        ),
        rule(
            KERNEL,
            r"(?i)Kernel panic(?: - not syncing)?:?\s*(?P<reason>.*)",
            "The kernel panicked[ (\"{reason}\")]; it stopped on a fatal error (a driver bug, a hardware fault, or an unmountable root filesystem) and the machine must be rebooted.",
        ),
        rule(
            KERNEL,
            r"(?i)BUG: unable to handle kernel|kernel BUG at|\bOops:",
            "The kernel hit an internal bug (an oops); a kernel or driver bug, or faulty memory, caused an invalid access, and the system may be unstable until rebooted.",
        ),
        rule(
            KERNEL,
            r"(?i)temperature above threshold|\bthermal\b.*?\b(?:critical|shutdown|throttl\w*)",
            "The CPU overheated and was throttled; cooling is failing (fans, airflow, thermal paste) or the machine is overloaded.",
        ),
    ]
}

fn permission_rules() -> Vec<Rule> {
    vec![
        rule(
            AUTH,
            r"(?i)Access denied for user '(?P<user>[^']*)'(?:@'(?P<host>[^']*)')?",
            "The database rejected the login for user '{user}'[ from {host}]; the password is wrong or that user has no grant for this host.",
        ),
        rule(
            AUTH,
            r#"(?i)password authentication failed for user "(?P<user>[^"]*)""#,
            "PostgreSQL rejected the password for user '{user}'; the password is wrong, or pg_hba.conf requires another authentication method.",
        ),
        rule_with(
            AUTH,
            r"(?i)authentication fail(?:ure|ed)|\bauth(?:entication)? fail\b|login failed|invalid credentials|bad credentials|\bunauthori[sz]ed\b",
            |_, line| {
                format!(
                    "An authentication attempt failed{}; the credentials (password, token, or key) were wrong, expired, or revoked, and repeated failures from one source suggest guessing.",
                    optional(" for user ", extract(&USER_NAME, line))
                )
            },
        ),
        rule_with(
            AUTH,
            r"(?i)Permission denied|\bEACCES\b|Operation not permitted|\bEPERM\b|AccessDeniedException|\baccess denied\b",
            |_, line| {
                format!(
                    "An operation{} was denied for lack of permission; the process's user lacks rights on that file or resource (ownership, mode bits, SELinux/AppArmor, or a missing role).",
                    optional(" on ", extract(&FILE_PATH, line))
                )
            },
        ),
    ]
}

fn jvm_rules() -> Vec<Rule> {
    vec![
        rule_with(
            JVM,
            r#"Exception in thread "(?P<thread>[^"]*)" (?P<class>[\w.$]+)(?::\s*(?P<message>.*))?"#,
            |c, _| {
                format!(
                    "{}; {}.",
                    fill(
                        "An uncaught {class}[ (\"{message}\")] killed the Java thread '{thread}'",
                        c
                    ),
                    java_exception_hint(cap(c, "class"))
                )
            },
        ),
        rule_with(
            JVM,
            r"Caused by: (?P<class>[\w.$]+)(?::\s*(?P<message>.*))?",
            |c, _| {
                format!(
                    "{}; {}.",
                    fill(
                        "The Java stack trace's underlying cause is {class}[ (\"{message}\")]",
                        c
                    ),
                    java_exception_hint(cap(c, "class"))
                )
            },
        ),
        rule(
            JVM,
            r"^at (?P<frame>[\w$.<>]+)\((?P<location>[^)]*)\)",
            "This is a Java stack-trace frame ({frame} at {location}); it shows where an exception passed through, and the first 'Caused by' line names the root cause.",
        ),
        rule_with(
            JVM,
            r"\b(?P<class>(?:java|javax|jakarta|sun|jdk|com|org|net|io|kotlin|scala|akka)\.(?:[\w$]+\.)*[\w$]*(?:Exception|Error|Throwable))\b(?::\s*(?P<message>.*))?",
            explain_java_exception,
        ),
        rule_with(
            JVM,
            r"\b(?P<class>[A-Z]\w*Exception)\b(?::\s*(?P<message>.*))?",
            explain_java_exception,
        ),
    ]
}

fn python_rules() -> Vec<Rule> {
    vec![
        rule(
            PYTHON,
            r"Traceback \(most recent call last\)",
            "Python raised an uncaught exception and printed a traceback; the exception type and message are on the traceback's last line, and the frame above it shows where it happened.",
        ),
        rule(
            PYTHON,
            r#"^File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<function>\S+))?"#,
            "This is a Python traceback frame ({file}, line {line}[, in {function}]); the exception itself is named on the traceback's last line.",
        ),
        rule_with(
            PYTHON,
            r"\b(?P<class>KeyError|ValueError|TypeError|AttributeError|IndexError|NameError|UnboundLocalError|ImportError|ModuleNotFoundError|ZeroDivisionError|FileNotFoundError|FileExistsError|IsADirectoryError|NotADirectoryError|RuntimeError|AssertionError|RecursionError|UnicodeDecodeError|UnicodeEncodeError|OSError|IOError|TimeoutError|NotImplementedError|SyntaxError|IndentationError|OverflowError|LookupError|StopIteration|KeyboardInterrupt|JSONDecodeError)\b(?::\s*(?P<message>.*))?",
            explain_python_exception,
        ),
        rule_with(
            PYTHON,
            r"^(?P<class>[a-z_]\w*(?:\.\w+)*\.[A-Z]\w*(?:Error|Exception)|[A-Z]\w*Error): (?P<message>.*)",
            explain_python_exception,
        ),
    ]
}

// ---------------------------------------------------------------------------------------
// Sentence builders shared by several rules.
// ---------------------------------------------------------------------------------------

/// An HTTP error status, with what it usually means.
fn explain_http_status(c: &Captures, _line: &str) -> String {
    let status: u16 = cap(c, "status").parse().unwrap_or(0);
    let (name, cause) = http_status_meaning(status);
    format!(
        "The HTTP request{} failed with status {status} {name}; {cause}.",
        optional(" for ", cap(c, "path"))
    )
}

/// The reason phrase of an HTTP error status and its usual cause.
fn http_status_meaning(status: u16) -> (&'static str, &'static str) {
    match status {
        400 => (
            "Bad Request",
            "the client sent a malformed or invalid request",
        ),
        401 => (
            "Unauthorized",
            "the request had no valid credentials (a missing or expired token or password)",
        ),
        403 => (
            "Forbidden",
            "the client is not allowed to access this resource",
        ),
        404 => (
            "Not Found",
            "the path does not exist (a broken link, a wrong URL, or a scanner probing)",
        ),
        405 => (
            "Method Not Allowed",
            "the endpoint does not accept that HTTP method",
        ),
        408 => (
            "Request Timeout",
            "the client was too slow to send its request",
        ),
        409 => (
            "Conflict",
            "the request conflicts with the resource's current state, such as a concurrent update",
        ),
        413 => (
            "Payload Too Large",
            "the request body exceeds the server's size limit",
        ),
        429 => ("Too Many Requests", "the client hit a rate limit"),
        499 => (
            "Client Closed Request",
            "the client gave up before the server answered, usually because the backend was slow",
        ),
        500 => (
            "Internal Server Error",
            "the application failed while handling the request (an unhandled exception or bug, so check its log)",
        ),
        502 => (
            "Bad Gateway",
            "the proxy got no valid response from the upstream server (backend down, crashed, or refusing connections)",
        ),
        503 => (
            "Service Unavailable",
            "the server or its backends are overloaded, in maintenance, or have no healthy instances",
        ),
        504 => (
            "Gateway Timeout",
            "the upstream server did not answer the proxy in time (a slow or stuck backend)",
        ),
        _ if status < 500 => (
            "(client error)",
            "the server rejected the request as invalid",
        ),
        _ => (
            "(server error)",
            "the server failed while handling the request",
        ),
    }
}

/// A client disconnecting from sshd, read from the reason it gave.
fn explain_ssh_disconnect(c: &Captures, _line: &str) -> String {
    let reason = cap(c, "reason");
    let before_login = !cap(c, "preauth").is_empty();
    let template = if reason.contains("Bye Bye") && before_login {
        "The client {ip} disconnected from sshd before logging in, saying 'Bye Bye'; this is the usual sign-off of an automated SSH brute-force scanner after failed login attempts."
    } else if reason.contains("No more user authentication methods") {
        "The client {ip} gave up because it had no more authentication methods to try; none of its passwords or keys were accepted, typical of failed or automated login attempts."
    } else if reason.contains("Auth fail") {
        "The client {ip} disconnected after its authentication failed; it sent wrong credentials, likely from an automated login tool."
    } else if before_login {
        "The client {ip} disconnected from sshd before authenticating[ (\"{reason}\")]; usually a scanner or a client that gave up after failed login attempts."
    } else {
        "The client {ip} disconnected from sshd[ (\"{reason}\")]; the normal end of an SSH session."
    };
    fill(template, c)
}

/// The usual meaning of a ZooKeeper `KeeperErrorCode`.
fn keeper_error_hint(code: &str) -> &'static str {
    match code {
        "NodeExists" => {
            "the znode already existed, usually a harmless race between clients creating it"
        }
        "NoNode" => "the znode does not exist (it was deleted or never created)",
        "ConnectionLoss" => "the client lost its connection to the server and should retry",
        "SessionExpired" => {
            "the client's session expired, so its ephemeral znodes and watches are gone"
        }
        "BadVersion" => "a conditional update used a stale version because of a concurrent update",
        "NotEmpty" => "the znode still has children, so it cannot be deleted",
        "NoAuth" => "the client lacks the ACL permission for that znode",
        _ => "the error code names the reason the server refused the operation",
    }
}

/// A Java exception, with a likely cause for its class.
fn explain_java_exception(c: &Captures, _line: &str) -> String {
    format!(
        "{}; {}.",
        fill("Java code threw {class}[ (\"{message}\")]", c),
        java_exception_hint(cap(c, "class"))
    )
}

/// A likely cause for a Java exception, from its simple class name.
fn java_exception_hint(class: &str) -> &'static str {
    let simple = class.rsplit(['.', '$']).next().unwrap_or(class);
    match simple {
        "NullPointerException" => "the code used a null reference, a bug or a missing value",
        "ClassNotFoundException" | "NoClassDefFoundError" => {
            "a class is missing from the classpath (a missing or mismatched JAR)"
        }
        "ClassCastException" => "an object was cast to an incompatible type",
        "IllegalArgumentException" => "a method was called with an invalid argument",
        "IllegalStateException" => "a method was called while the object was in the wrong state",
        "ArrayIndexOutOfBoundsException"
        | "IndexOutOfBoundsException"
        | "StringIndexOutOfBoundsException" => {
            "the code indexed past the end of an array, list, or string"
        }
        "NumberFormatException" => "a string could not be parsed as a number",
        "ConcurrentModificationException" => "a collection was modified while being iterated",
        "UnsupportedOperationException" => {
            "the object does not support that operation (for example an immutable collection)"
        }
        "StackOverflowError" => "recursion went too deep (unbounded recursion)",
        "FileNotFoundException" => "a file path does not exist or is not readable",
        "EOFException" => "a stream ended early because the other side closed it",
        "InterruptedException" => "a thread was interrupted while waiting, usually during shutdown",
        s if s.ends_with("SQLException") => {
            "a database call failed (see the SQL state and message)"
        }
        s if s.ends_with("TimeoutException") => "an operation did not finish in time",
        s if s.ends_with("IOException") || s.ends_with("SocketException") => {
            "an I/O operation on a file or socket failed"
        }
        _ => "the stack trace that follows shows where it was thrown",
    }
}

/// A likely cause for a `java.lang.OutOfMemoryError`, from its detail message.
fn java_memory_hint(kind: &str) -> &'static str {
    if kind.contains("Metaspace") || kind.contains("PermGen") {
        "too many classes are loaded, from a class-loader leak or a too-small Metaspace limit"
    } else if kind.contains("native thread") {
        "the process hit the operating system's thread or memory limit (ulimit -u or a container limit)"
    } else if kind.contains("Direct buffer") {
        "off-heap direct buffers exceeded -XX:MaxDirectMemorySize"
    } else {
        "the heap (-Xmx) is too small for the load or the application is leaking objects"
    }
}

/// A Python exception, with a likely cause for its class.
fn explain_python_exception(c: &Captures, _line: &str) -> String {
    format!(
        "{}; {}.",
        fill("Python raised {class}[ (\"{message}\")]", c),
        python_exception_hint(cap(c, "class"))
    )
}

/// A likely cause for a Python exception, from its class name.
fn python_exception_hint(class: &str) -> &'static str {
    match class.rsplit('.').next().unwrap_or(class) {
        "KeyError" => {
            "a dict was looked up with a key it does not contain (a missing field or setting)"
        }
        "ValueError" => "a function got an argument with the right type but an invalid value",
        "TypeError" => {
            "an operation got an object of the wrong type, often None where a value was expected"
        }
        "AttributeError" => {
            "the code used an attribute the object does not have, often on a None value"
        }
        "IndexError" => "a sequence index was out of range (an empty list or an off-by-one)",
        "NameError" | "UnboundLocalError" => {
            "the code used a variable that is not defined (a typo or a missing import)"
        }
        "ImportError" | "ModuleNotFoundError" => {
            "a module could not be imported (a missing package or the wrong environment)"
        }
        "ZeroDivisionError" => "the code divided by zero",
        "FileNotFoundError" => "a file or directory does not exist",
        "RecursionError" => "recursion went too deep (unbounded recursion)",
        "UnicodeDecodeError" | "UnicodeEncodeError" => {
            "text was decoded or encoded with the wrong character encoding"
        }
        "OSError" | "IOError" => "an operating-system call on a file, socket, or device failed",
        "TimeoutError" => "an operation did not finish in time",
        "AssertionError" => "an assert statement failed, so an internal assumption was violated",
        "KeyboardInterrupt" => "the process was interrupted (Ctrl-C or SIGINT)",
        "JSONDecodeError" => "the input was not valid JSON (often an empty or truncated response)",
        _ => "its message and the traceback frames show where it was raised",
    }
}

// ---------------------------------------------------------------------------------------
// The sentence for a line that no rule recognises.
// ---------------------------------------------------------------------------------------

/// How severe a line says it is.
#[derive(Clone, Copy, Debug)]
enum Severity {
    Fatal,
    Critical,
    Error,
    Warning,
    Notice,
    Info,
    Debug,
    Unstated,
}

impl Severity {
    /// The severity a level word such as `WARN` or `error` names.
    fn from_word(word: &str) -> Option<Self> {
        Some(match word.to_ascii_lowercase().as_str() {
            "emerg" | "emergency" | "alert" | "fatal" => Self::Fatal,
            "crit" | "critical" | "severe" => Self::Critical,
            "err" | "error" | "errors" | "fail" | "failed" | "failure" => Self::Error,
            "warn" | "warning" => Self::Warning,
            "notice" => Self::Notice,
            "info" => Self::Info,
            "debug" | "trace" => Self::Debug,
            _ => return None,
        })
    }

    /// The severity of a syslog `<priority>` (facility * 8 + severity).
    fn from_syslog_priority(priority: u32) -> Self {
        match priority % 8 {
            0 | 1 => Self::Fatal,
            2 => Self::Critical,
            3 => Self::Error,
            4 => Self::Warning,
            5 => Self::Notice,
            6 => Self::Info,
            _ => Self::Debug,
        }
    }

    /// How the severity reads in a sentence ("logged a warning").
    fn phrase(self) -> &'static str {
        match self {
            Self::Fatal => "a fatal error",
            Self::Critical => "a critical error",
            Self::Error => "an error",
            Self::Warning => "a warning",
            Self::Notice => "a notice",
            Self::Info => "an informational message",
            Self::Debug => "a debug message",
            Self::Unstated => "a message",
        }
    }

    /// What to make of an unrecognised line of this severity.
    fn advice(self) -> &'static str {
        match self {
            Self::Fatal | Self::Critical | Self::Error | Self::Warning => {
                "no known failure pattern matched, so check the surrounding entries for the cause"
            }
            Self::Notice | Self::Info | Self::Debug => {
                "it matches no known failure pattern and looks like routine operation"
            }
            Self::Unstated => {
                "no known failure pattern matched, so check the surrounding entries for context"
            }
        }
    }
}

/// A syslog priority such as `<3>` at the start of a line.
static SYSLOG_PRIORITY: LazyLock<Regex> = LazyLock::new(|| compile(r"^<(?P<priority>\d{1,3})>"));
/// A level written as a level: upper case, in brackets, or followed by a colon.
static LEVEL_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"\b(?P<upper>EMERG|ALERT|FATAL|CRIT|CRITICAL|SEVERE|ERROR|ERR|WARNING|WARN|NOTICE|INFO|DEBUG|TRACE)\b|\[(?P<bracketed>(?i:emerg|alert|fatal|crit|critical|severe|error|err|warning|warn|notice|info|debug|trace))\]|\b(?P<tagged>(?i:fatal|critical|error|err|warning|warn|notice|info|debug)):",
    )
});
/// Words that hint at a severity anywhere in a line without a level.
static SEVERITY_WORD: LazyLock<Regex> =
    LazyLock::new(|| compile(r"(?i)\b(?:fatal|critical|errors?|fail(?:ed|ure)?|warning)\b"));
/// A syslog header `Mon dd hh:mm:ss host program[pid]: ` (or with an ISO timestamp).
static SYSLOG_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"^(?:<\d{1,3}>)?(?:[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}|\d{4}-\d{2}-\d{2}T[\d:.]+(?:Z|[+\-]\d{2}:?\d{2})?) +\S+ +(?P<component>[A-Za-z_][\w.\-/]*)(?:\[\d+\])?: ",
    )
});
/// A `program[pid]: ` anywhere in a line.
static PROGRAM_PID: LazyLock<Regex> =
    LazyLock::new(|| compile(r"\b(?P<component>[A-Za-z_][\w.\-/]*)\[\d+\]: "));
/// A log4j `Class@line]` location, as in ZooKeeper logs.
static LOG4J_LOCATION: LazyLock<Regex> =
    LazyLock::new(|| compile(r"(?P<component>[A-Za-z_][\w$]*)@\d+\]"));
/// A Java logger name after the level, as in `INFO dfs.DataNode$PacketResponder: `.
static JAVA_LOGGER: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"\b(?:FATAL|ERROR|WARN|WARNING|INFO|DEBUG|TRACE|SEVERE)\b:?\s+(?:\[[^\]]*\]\s+)?(?P<component>(?:[A-Za-z_][\w$]*\.)+[A-Za-z_][\w$]*)(?::|\s)",
    )
});
/// A bracketed single-word tag such as `[scheduler]`.
static BRACKETED_TAG: LazyLock<Regex> =
    LazyLock::new(|| compile(r"\[(?P<component>[A-Za-z][\w.\-/]{1,40})\]"));
/// Separators, timestamps and level tags that may open a message after its header.
static MESSAGE_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"^(?:[\s:\-|>]|\[\s*\d+\.\d+\]|\[(?i:emerg|alert|fatal|crit|critical|severe|error|err|warning|warn|notice|info|debug|trace)\]|(?i:fatal|critical|error|err|warning|warn|notice|info|debug):|\d{4}-\d{2}-\d{2}[T ][\d:.,]+(?:Z|[+\-]\d{2}:?\d{2})?|[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2})*",
    )
});

/// What an unrecognised line says about itself.
struct LineParts<'a> {
    severity: Severity,
    component: Option<&'a str>,
    message: &'a str,
}

/// Splits an unrecognised line into its severity, component and message.
fn parse_line(line: &str) -> LineParts<'_> {
    let level = LEVEL_TOKEN.captures(line);
    let severity = SYSLOG_PRIORITY
        .captures(line)
        .and_then(|c| c["priority"].parse().ok())
        .map(Severity::from_syslog_priority)
        .or_else(|| {
            level
                .as_ref()
                .and_then(|c| c.iter().skip(1).flatten().next())
                .and_then(|m| Severity::from_word(m.as_str()))
        })
        .or_else(|| {
            SEVERITY_WORD
                .find(line)
                .and_then(|m| Severity::from_word(m.as_str()))
        })
        .unwrap_or(Severity::Unstated);
    let (component, header_end) = match find_component(line) {
        Some((name, end)) => (Some(short_component(name)), end),
        None => {
            let level_end = level
                .and_then(|c| c.get(0))
                .filter(|m| m.start() <= HEADER_BYTES)
                .map_or(0, |m| m.end());
            (None, level_end)
        }
    };
    let rest = &line[header_end..];
    let skip = MESSAGE_PREFIX.find(rest).map_or(0, |m| m.end());
    let message = rest[skip..].trim();
    LineParts {
        severity,
        component,
        message: if message.is_empty() { line } else { message },
    }
}

/// The component that wrote the line and where the line's header ends.
fn find_component(line: &str) -> Option<(&str, usize)> {
    for pattern in [&SYSLOG_HEADER, &PROGRAM_PID, &LOG4J_LOCATION, &JAVA_LOGGER] {
        if let Some(caps) = pattern.captures(line) {
            let name = caps.name("component")?;
            return Some((name.as_str(), caps.get(0)?.end()));
        }
    }
    BRACKETED_TAG.captures_iter(line).find_map(|caps| {
        let name = caps.name("component")?.as_str();
        let is_tag = Severity::from_word(name).is_none() && name != "preauth";
        is_tag.then(|| (name, caps.get(0).map_or(0, |m| m.end())))
    })
}

/// `org.apache.hadoop.hdfs.server.datanode.DataNode$PacketResponder` becomes `DataNode`.
fn short_component(name: &str) -> &str {
    let last = name.rsplit(['.', '/']).next().unwrap_or(name);
    match last.split('$').next() {
        Some(short) if !short.is_empty() => short,
        _ => name,
    }
}

/// The sentence for a line no rule recognises, from its level, component and message.
fn explain_unrecognised(line: &str) -> String {
    let parts = parse_line(line);
    let quote = clip(&parts.message.replace('"', "'"), QUOTE_CHARS);
    let subject = match parts.component {
        Some(component) => format!("The {} component logged", detail(component)),
        None => "This log line records".to_string(),
    };
    format!(
        "{subject} {}: \"{quote}\"; {}.",
        parts.severity.phrase(),
        parts.severity.advice()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// The shared loghub samples (read-only).
    fn loghub_dir() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/loghub"))
    }

    /// One loghub sample log, such as `HDFS/HDFS_2k.log` for `"HDFS"`.
    fn read_loghub(name: &str) -> String {
        let path = loghub_dir().join(name).join(format!("{name}_2k.log"));
        std::fs::read_to_string(&path)
            .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
    }

    fn assert_one_sentence(sentence: &str) {
        assert!(!sentence.is_empty());
        assert!(sentence.ends_with('.'), "no final period: {sentence}");
        assert!(
            !sentence.chars().any(is_hidden),
            "hidden characters: {sentence:?}"
        );
        assert!(
            sentence.chars().count() <= MAX_SENTENCE_CHARS,
            "too long ({} chars): {sentence}",
            sentence.chars().count()
        );
    }

    /// Each line must be recognised as `family` and its sentence must contain every word.
    fn check_family(family: &str, cases: &[(&str, &[&str])]) {
        for (line, words) in cases {
            assert_eq!(matched_family(line), Some(family), "family of {line}");
            let sentence = explain_line(line);
            assert_one_sentence(&sentence);
            for word in *words {
                assert!(
                    sentence.to_lowercase().contains(&word.to_lowercase()),
                    "{word:?} missing from {sentence:?} (line {line})"
                );
            }
        }
    }

    #[test]
    fn all_patterns_compile() {
        assert!(
            RULE_GROUPS
                .iter()
                .map(|group| group.rules.len())
                .sum::<usize>()
                > 50
        );
        for pattern in [
            &BLOCK_ID,
            &JAVA_EXCEPTION,
            &NETWORK_PEER,
            &LOOKED_UP_NAME,
            &FILE_PATH,
            &USER_NAME,
            &SYSLOG_PRIORITY,
            &LEVEL_TOKEN,
            &SEVERITY_WORD,
            &SYSLOG_HEADER,
            &PROGRAM_PID,
            &LOG4J_LOCATION,
            &JAVA_LOGGER,
            &BRACKETED_TAG,
            &MESSAGE_PREFIX,
        ] {
            assert!(!pattern.as_str().is_empty());
        }
    }

    #[test]
    fn templates_use_only_their_pattern_groups() {
        let placeholder = Regex::new(r"\{(\w+)\}").unwrap();
        for rule in RULE_GROUPS.iter().flat_map(|group| &group.rules) {
            if let Phrasing::Template(template) = rule.phrasing {
                assert_eq!(template.matches('[').count(), template.matches(']').count());
                for name in placeholder.captures_iter(template) {
                    assert!(
                        rule.pattern
                            .capture_names()
                            .flatten()
                            .any(|n| n == &name[1]),
                        "{template} uses a group its pattern lacks: {}",
                        &name[1]
                    );
                }
            }
        }
    }

    #[test]
    fn fill_leaves_out_segments_with_empty_captures() {
        let pattern = Regex::new(r#"user=(?P<user>\S*) host=(?P<host>\S*)"#).unwrap();
        let caps = pattern.captures(r#"user="bob" host="#).unwrap();
        assert_eq!(
            fill("Login[ by {user}][ from {host}] failed for {host}.", &caps),
            "Login by 'bob' failed for ."
        );
    }

    #[test]
    fn database_locks() {
        check_family(
            DATABASE_LOCK,
            &[
                (
                    "2024-03-01 10:00:01.123 UTC [4242] ERROR:  deadlock detected",
                    &["PostgreSQL", "deadlock", "retried"],
                ),
                (
                    "ERROR 1213 (40001): Deadlock found when trying to get lock; try restarting transaction",
                    &["MySQL", "deadlock", "rolled back"],
                ),
                (
                    "SQLSTATE[HY000]: General error: 1205 Lock wait timeout exceeded; try restarting transaction",
                    &["lock", "Lock wait timeout exceeded", "transaction"],
                ),
                (
                    "ERROR:  canceling statement due to lock timeout",
                    &["PostgreSQL", "lock"],
                ),
                (
                    "ORA-00060: deadlock detected while waiting for resource",
                    &["Oracle", "deadlock"],
                ),
            ],
        );
    }

    #[test]
    fn connection_errors() {
        check_family(
            CONNECTION,
            &[
                (
                    "dial tcp 10.0.0.5:5432: connect: connection refused",
                    &["refused", "10.0.0.5:5432", "listening"],
                ),
                (
                    "java.net.ConnectException: Connection refused (Connection refused)",
                    &["refused"],
                ),
                (
                    "recv() failed (104: Connection reset by peer) while reading response header from upstream",
                    &["reset", "peer"],
                ),
                (
                    "Dec 10 09:32:20 LabSZ sshd[24680]: fatal: Write failed: Connection reset by peer [preauth]",
                    &["reset"],
                ),
                (
                    "write tcp 10.1.1.1:443->10.2.2.2:51234: write: broken pipe",
                    &["broken pipe", "closed"],
                ),
                (
                    "ssh: connect to host backup.example.com port 22: No route to host",
                    &["unreachable", "backup.example.com", "route"],
                ),
                (
                    "ERROR: connect to server db01.internal:3306 failed: Connection timed out",
                    &["timed out", "db01.internal:3306"],
                ),
            ],
        );
    }

    #[test]
    fn dns_failures() {
        check_family(
            DNS,
            &[
                (
                    "curl: (6) Could not resolve host: api.example.com",
                    &["resolved", "api.example.com", "DNS"],
                ),
                (
                    "ping: db01.corp.local: Name or service not known",
                    &["resolved", "DNS"],
                ),
                (
                    "socket.gaierror: [Errno -3] Temporary failure in name resolution",
                    &["DNS", "temporarily", "resolv.conf"],
                ),
                (
                    "dnsmasq[812]: reply ghost.example.org is NXDOMAIN",
                    &["NXDOMAIN", "does not exist"],
                ),
                (
                    "java.net.UnknownHostException: kafka-1.cluster.local: Name or service not known",
                    &["kafka-1.cluster.local", "resolved"],
                ),
            ],
        );
    }

    #[test]
    fn tls_problems() {
        check_family(
            TLS,
            &[
                (
                    "x509: certificate has expired or is not yet valid: current time 2024-05-01T00:00:00Z is after 2024-04-30T23:59:59Z",
                    &["certificate", "expired", "renew"],
                ),
                (
                    "SSL routines:ssl3_read_bytes:tlsv1 alert unknown ca",
                    &["unknown CA", "trusted"],
                ),
                (
                    "javax.net.ssl.SSLHandshakeException: PKIX path building failed: unable to find valid certification path to requested target",
                    &["issuer", "truststore"],
                ),
                (
                    "SSL_do_handshake() failed (SSL: error:14094410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure)",
                    &["handshake", "cipher"],
                ),
                (
                    "ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname mismatch, certificate is not valid for 'db.example.com'",
                    &["hostname mismatch", "host name"],
                ),
            ],
        );
    }

    #[test]
    fn memory_exhaustion() {
        check_family(
            MEMORY,
            &[
                (
                    "Mar  1 12:00:00 web1 kernel: [123456.789] Out of memory: Killed process 4242 (java) total-vm:8123456kB, anon-rss:4012345kB",
                    &["OOM killer", "4242", "java", "memory"],
                ),
                (
                    "Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space",
                    &["JVM", "out of memory", "Java heap space", "-Xmx"],
                ),
                (
                    "fork: Cannot allocate memory",
                    &["memory allocation failed"],
                ),
                (
                    "Mar  1 12:00:00 web1 kernel: mysqld invoked oom-killer: gfp_mask=0x201da, order=0, oom_score_adj=0",
                    &["mysqld", "OOM killer"],
                ),
            ],
        );
    }

    #[test]
    fn disk_problems() {
        check_family(
            DISK,
            &[
                (
                    "write /var/lib/docker/tmp/layer.tar: No space left on device",
                    &["full", "/var/lib/docker/tmp/layer.tar", "space"],
                ),
                (
                    "cp: error reading '/mnt/data/file.bin': Input/output error",
                    &["Input/output error", "disk"],
                ),
                (
                    "EXT4-fs error (device sda1): ext4_find_entry:1463: inode #2: comm ls: reading directory lblock 0",
                    &["ext4", "sda1", "fsck"],
                ),
                (
                    "touch: cannot touch '/data/x': Read-only file system",
                    &["read-only", "fsck"],
                ),
            ],
        );
    }

    #[test]
    fn authentication_and_permissions() {
        check_family(
            AUTH,
            &[
                (
                    "Dec 10 07:07:38 LabSZ sshd[24206]: Failed password for invalid user test9 from 52.80.34.196 port 36060 ssh2",
                    &["sshd", "test9", "52.80.34.196", "brute-force"],
                ),
                (
                    "Mar  3 10:00:00 host sshd[777]: Failed password for invalid user josé from 198.51.100.4 port 2222 ssh2",
                    &["josé", "198.51.100.4", "non-existent"],
                ),
                (
                    "Dec 10 09:12:35 LabSZ sshd[24492]: Failed password for root from 112.95.230.3 port 50826 ssh2",
                    &["password", "root", "112.95.230.3"],
                ),
                (
                    "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
                    &["non-existent user", "webmaster", "173.234.31.186"],
                ),
                (
                    "Dec 10 06:55:46 LabSZ sshd[24200]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=173.234.31.186 ",
                    &["authentication failure", "173.234.31.186"],
                ),
                (
                    "Jan  5 10:00:00 host sshd[999]: Connection closed by authenticating user root 203.0.113.9 port 51234 [preauth]",
                    &["203.0.113.9", "root", "authentication"],
                ),
                (
                    "Dec 10 06:55:46 LabSZ sshd[24200]: reverse mapping checking getaddrinfo for ns.marryaldkfaczcz.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!",
                    &["break-in", "173.234.31.186", "ns.marryaldkfaczcz.com"],
                ),
                (
                    "Dec 10 07:08:28 LabSZ sshd[24208]: Received disconnect from 52.80.34.196: 11: Bye Bye [preauth]",
                    &["52.80.34.196", "Bye Bye", "scanner"],
                ),
                (
                    "open() \"/var/www/secret/index.html\" failed (13: Permission denied)",
                    &["permission", "/var/www/secret/index.html"],
                ),
                (
                    "Access denied for user 'app'@'10.0.0.7' (using password: YES)",
                    &["app", "10.0.0.7", "password"],
                ),
            ],
        );
    }

    #[test]
    fn http_errors() {
        check_family(
            HTTP,
            &[
                (
                    r#"10.0.0.1 - - [10/Oct/2023:13:55:36 +0000] "GET /api/orders HTTP/1.1" 503 512 "-" "curl/8.0""#,
                    &["503", "Service Unavailable", "/api/orders"],
                ),
                (
                    r#"192.168.1.20 - - [10/Oct/2023:13:55:36 +0000] "POST /login HTTP/1.1" 404 0"#,
                    &["404", "Not Found", "/login"],
                ),
                (
                    "level=error msg=\"request failed\" method=GET path=/healthz status=502",
                    &["502", "Bad Gateway", "upstream"],
                ),
                (
                    "2023/10/10 13:55:36 [error] 1234#0: *5678 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 10.0.0.1, upstream: \"http://10.0.0.9:8080/api\"",
                    &["upstream timed out", "504", "10.0.0.9:8080"],
                ),
                (
                    "<html><head><title>502 Bad Gateway</title></head></html>",
                    &["502", "Bad Gateway"],
                ),
            ],
        );
    }

    #[test]
    fn crashes() {
        check_family(
            CRASH,
            &[
                (
                    "Mar  1 12:00:00 web1 kernel: [98765.4321] nginx[4321]: segfault at 0 ip 00007f8a2b3c4d5e sp 00007ffd1a2b3c40 error 4 in libc-2.31.so[7f8a2b300000+1b0000]",
                    &["nginx", "segmentation fault", "libc-2.31.so"],
                ),
                (
                    "/usr/local/bin/worker: line 12:  5432 Segmentation fault      (core dumped) ./worker",
                    &["segmentation fault", "SIGSEGV"],
                ),
                (
                    "Program terminated with signal SIGABRT, Aborted.",
                    &["SIGABRT", "abort"],
                ),
                (
                    "systemd-coredump[1234]: Process 999 (redis-server) of user 0 dumped core.",
                    &["core dump"],
                ),
            ],
        );
    }

    #[test]
    fn jvm_exceptions() {
        check_family(
            JVM,
            &[
                (
                    "2024-01-01 12:00:00,123 ERROR [http-nio-8080-exec-1] c.e.OrderService - java.lang.NullPointerException: Cannot invoke \"String.length()\" because \"name\" is null",
                    &["java.lang.NullPointerException", "null"],
                ),
                (
                    "Caused by: java.lang.ClassNotFoundException: org.postgresql.Driver",
                    &[
                        "ClassNotFoundException",
                        "classpath",
                        "org.postgresql.Driver",
                    ],
                ),
                (
                    "Exception in thread \"worker-3\" java.lang.IllegalStateException: queue closed",
                    &["IllegalStateException", "worker-3", "queue closed"],
                ),
                (
                    "\tat com.example.app.OrderService.place(OrderService.java:42)",
                    &["stack-trace frame", "OrderService.java:42"],
                ),
            ],
        );
    }

    #[test]
    fn python_exceptions() {
        check_family(
            PYTHON,
            &[
                (
                    "Traceback (most recent call last):",
                    &["Python", "traceback"],
                ),
                ("KeyError: 'user_id'", &["KeyError", "user_id", "key"]),
                (
                    "ValueError: invalid literal for int() with base 10: 'abc'",
                    &["ValueError", "invalid"],
                ),
                (
                    "  File \"/app/main.py\", line 17, in handle",
                    &["/app/main.py", "17", "handle"],
                ),
            ],
        );
    }

    #[test]
    fn kernel_and_hardware() {
        check_family(
            KERNEL,
            &[
                (
                    "kernel: [Hardware Error]: Machine Check Exception: 4 Bank 5: be00000000800400",
                    &["Machine Check Exception", "hardware"],
                ),
                (
                    "kernel: blk_update_request: I/O error, dev sda, sector 123456",
                    &["I/O error", "sda", "123456"],
                ),
                (
                    "kernel: NMI watchdog: BUG: soft lockup - CPU#2 stuck for 23s! [kworker/2:1:1234]",
                    &["soft lockup", "CPU 2", "23s"],
                ),
                (
                    "kernel: Uhhuh. NMI received for unknown reason 3d on CPU 0.",
                    &["NMI", "hardware"],
                ),
                (
                    "kernel: EDAC MC0: 1 CE memory read error on CPU_SrcID#0_Ha#0_Chan#1_DIMM#0",
                    &["hardware error", "memory"],
                ),
            ],
        );
    }

    #[test]
    fn hdfs_messages() {
        check_family(
            HDFS,
            &[
                (
                    "081109 214043 2561 WARN dfs.DataNode$DataXceiver: 10.251.30.85:50010:Got exception while serving blk_-2918118818249673980 to /10.251.90.64:",
                    &["HDFS", "blk_-2918118818249673980", "10.251.90.64"],
                ),
                (
                    "081109 213004 2377 INFO dfs.DataNode$PacketResponder: PacketResponder blk_-1608999687919862906 2 Exception java.io.InterruptedIOException: Interruped while waiting for IO on channel",
                    &[
                        "PacketResponder",
                        "blk_-1608999687919862906",
                        "java.io.InterruptedIOException",
                    ],
                ),
                (
                    "081109 213048 2405 INFO dfs.DataNode$DataXceiver: writeBlock blk_-5009020203888190378 received exception java.io.IOException: Connection reset by peer",
                    &["write block", "java.io.IOException", "pipeline"],
                ),
                (
                    "081110 103226 2960 WARN dfs.DataNode$DataXceiver: 10.251.43.21:50010:DataXceiver: java.io.IOException: Block blk_123 is valid, and cannot be written to.",
                    &["DataXceiver", "java.io.IOException"],
                ),
            ],
        );
    }

    #[test]
    fn zookeeper_messages() {
        check_family(
            ZOOKEEPER,
            &[
                (
                    "2015-07-29 19:13:24,282 - WARN  [RecvWorker:188978561024:QuorumCnxManager$RecvWorker@762] - Connection broken for id 188978561024, my id = 1, error = ",
                    &["ZooKeeper", "188978561024", "quorum"],
                ),
                (
                    "2015-07-29 19:52:05,118 - WARN  [NIOServerCxn.Factory:0.0.0.0/0.0.0.0:2181:NIOServerCnxn@349] - caught end of stream exception",
                    &["ZooKeeper", "end of stream"],
                ),
                (
                    "2015-07-29 19:04:29,079 - WARN  [SendWorker:188978561024:QuorumCnxManager$SendWorker@679] - Interrupted while waiting for message on queue",
                    &["ZooKeeper", "interrupted"],
                ),
                (
                    "2015-07-30 17:55:26,200 - WARN  [WorkerSender[myid=1]:QuorumCnxManager@368] - Cannot open channel to 2 at election address /10.10.34.12:3888",
                    &["peer 2", "10.10.34.12:3888", "firewall"],
                ),
                (
                    "2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification time out: 3200",
                    &["leader election", "3200"],
                ),
            ],
        );
    }

    #[test]
    fn apache_httpd_messages() {
        check_family(
            APACHE,
            &[
                (
                    "[Sun Dec 04 04:47:44 2005] [error] [client 10.0.0.7] File does not exist: /var/www/html/favicon.ico",
                    &["Apache", "/var/www/html/favicon.ico", "10.0.0.7", "404"],
                ),
                (
                    "[Sun Dec 04 05:15:09 2005] [error] [client 222.166.160.184] Directory index forbidden by rule: /var/www/html/",
                    &["Apache", "/var/www/html/", "403"],
                ),
                (
                    "[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6",
                    &["mod_jk", "error state 6"],
                ),
                (
                    "[Sun Dec 04 17:43:08 2005] [error] jk2_init() Can't find child 1566 in scoreboard",
                    &["mod_jk2", "1566", "scoreboard"],
                ),
            ],
        );
    }

    #[test]
    fn unrecognised_lines_name_level_component_and_message() {
        let cases: &[(&str, &[&str])] = &[
            (
                "2008-11-09 20:36:15,123 WARN org.apache.hadoop.hdfs.server.datanode.DataNode: Slow BlockReceiver write packet to mirror took 350ms",
                &[
                    "The DataNode component logged a warning",
                    "Slow BlockReceiver",
                    "surrounding entries",
                ],
            ),
            (
                "<3>Mar  1 12:00:00 host myapp[77]: something odd happened",
                &["myapp", "an error", "something odd happened"],
            ),
            (
                "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating",
                &[
                    "The DataNode component logged an informational message",
                    "PacketResponder 1",
                    "routine",
                ],
            ),
            (
                "[Sun Dec 04 04:51:08 2005] [notice] jk2_init() Found child 6725 in scoreboard slot 10",
                &["a notice", "\"jk2_init() Found child 6725"],
            ),
            (
                "2015-07-29 17:41:44,747 - ERROR [CommitProcessor:1:NIOServerCnxn@180] - Unexpected Exception: ",
                &[
                    "The NIOServerCnxn component logged an error",
                    "Unexpected Exception",
                ],
            ),
            (
                "[scheduler] critical: queue depth above 10000",
                &["scheduler", "critical error", "queue depth"],
            ),
            ("the weather is nice", &["a message", "the weather is nice"]),
        ];
        for (line, words) in cases {
            assert_eq!(matched_family(line), None, "{line}");
            let sentence = explain_line(line);
            assert_one_sentence(&sentence);
            for word in *words {
                assert!(
                    sentence.contains(word),
                    "{word:?} missing from {sentence:?}"
                );
            }
        }
        let long = format!("ERROR {}", "x".repeat(1000));
        assert!(explain_line(&long).contains('…'));
    }

    #[test]
    fn prompts_yield_their_log_line() {
        let line = "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186";
        let expected = explain_line(line);
        let delimited = format!(
            "Explain the log line below.\n<log_line>ignore me</log_line>\n<log_line>\n{line}\n</log_line>\nAnswer in one sentence."
        );
        assert_eq!(explain_prompt(&delimited), expected);
        let legacy = format!(
            "You are a Site Reliability Engineer. Explain this log error in one concise sentence: {line}"
        );
        assert_eq!(explain_prompt(&legacy), expected);
        assert_eq!(
            explain_prompt(&format!("Explain:\n{line}\n\n  \n")),
            expected
        );
        assert_eq!(explain_prompt(""), EMPTY_LINE_SENTENCE);
        assert_one_sentence(&explain_prompt("<log_line> unclosed"));
        assert_one_sentence(&explain_prompt("</log_line><log_line>"));
    }

    #[test]
    fn any_input_gives_a_clean_bounded_sentence() {
        let huge = "ERROR Connection refused ".repeat(100_000);
        let mut inputs = vec![
            String::new(),
            " \t\r\n ".to_string(),
            huge,
            "ошибка: диск переполнен — No space left on device ✗".to_string(),
            "WARN\u{0}\u{7}\u{1b}[31mred\u{1b}[0m\r\nsecond line\u{202E}".to_string(),
            "é".repeat(5000),
            "[".repeat(3000),
            "Failed password for invalid user  from  port".to_string(),
        ];
        // Deterministic pseudo-random bytes, decoded lossily.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200 {
            let bytes: Vec<u8> = (0..300)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 24) as u8
                })
                .collect();
            inputs.push(String::from_utf8_lossy(&bytes).into_owned());
        }
        for input in &inputs {
            let sentence = explain_line(input);
            assert_one_sentence(&sentence);
            assert_eq!(sentence, explain_line(input), "not deterministic");
            assert_one_sentence(&explain_prompt(input));
        }
    }

    #[test]
    fn gates_pass_exactly_the_lines_their_rules_match() {
        let text = ["Apache", "HDFS", "OpenSSH", "Zookeeper"]
            .map(read_loghub)
            .join("\n");
        for line in text.lines().step_by(7).map(normalize) {
            for group in RULE_GROUPS.iter() {
                let any_rule = group.rules.iter().any(|rule| rule.pattern.is_match(&line));
                assert_eq!(group.gate.is_match(&line), any_rule, "{line}");
            }
        }
    }

    #[test]
    fn loghub_samples_are_explained_and_mostly_recognised() {
        // (log, which lines count as error-ish, minimum share of those lines a family rule matches)
        type ErrorFilter = fn(&str) -> bool;
        let logs: [(&str, ErrorFilter, f64); 4] = [
            ("Apache", |l| l.contains("[error]"), 0.9),
            (
                "HDFS",
                |l| l.contains(" WARN ") || l.contains(" ERROR "),
                0.9,
            ),
            ("OpenSSH", |_| true, 0.8),
            (
                "Zookeeper",
                |l| l.contains(" WARN ") || l.contains(" ERROR "),
                0.8,
            ),
        ];
        for (name, is_errorish, floor) in logs {
            let text = read_loghub(name);
            let (mut total, mut matched, mut errorish, mut errorish_matched) = (0, 0, 0, 0);
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let sentence = explain_line(line);
                assert_one_sentence(&sentence);
                let recognised = matched_family(line).is_some();
                total += 1;
                matched += usize::from(recognised);
                if is_errorish(line) {
                    errorish += 1;
                    errorish_matched += usize::from(recognised);
                }
            }
            let share = errorish_matched as f64 / errorish.max(1) as f64;
            println!(
                "{name}: {matched}/{total} lines ({:.1}%) matched a family rule; error-ish {errorish_matched}/{errorish} ({:.1}%)",
                100.0 * matched as f64 / total as f64,
                100.0 * share
            );
            assert!(total >= 1999, "{name}: only {total} lines");
            assert!(errorish > 0, "{name}: no error-ish lines");
            assert!(
                share >= floor,
                "{name}: only {:.1}% of error-ish lines matched a family rule",
                100.0 * share
            );
        }
    }
}
