//! The configuration file: any option of any command can be set in TOML, at the top level (for
//! every command that has it) or in a section named after a command. The file's values become
//! the options' defaults, so flags win over environment variables, which win over the file,
//! which wins over the built-in defaults. API keys stay out of files. `config` prints what a
//! command would use as such a file.
//!
//! ```toml
//! llm = "anthropic"
//! model = "claude-haiku-4-5"
//! [archive]
//! concurrency = 32
//! rpm = 50
//! ```

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::ArgAction;

/// Options that never come from a file, and are masked when shown.
const SECRETS: &[&str] = &["api-key", "auth-token"];

/// The configuration file in use and what it set, by command.
pub struct ConfigFile {
    pub path: PathBuf,
    /// For each command, the options the file set and their values.
    pub set: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

/// Where the configuration file is: `--config PATH`, else `LOG_ARCHIVER_CONFIG`, else
/// `$XDG_CONFIG_HOME/log-archiver/config.toml` (or `~/.config/...`) when it exists.
pub fn locate(argv: &[OsString]) -> Option<PathBuf> {
    let mut args = argv.iter().skip(1);
    while let Some(arg) = args.next() {
        let arg = arg.to_string_lossy();
        if arg == "--" {
            break;
        }
        if arg == "--config" {
            return args.next().map(PathBuf::from);
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    if let Some(path) = std::env::var_os("LOG_ARCHIVER_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".config")))?;
    Some(base.join("log-archiver").join("config.toml")).filter(|path| path.is_file())
}

/// Reads `path` and makes its values the defaults of `command`'s options.
pub fn apply(command: clap::Command, path: &Path) -> anyhow::Result<(clap::Command, ConfigFile)> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        anyhow::anyhow!("cannot read config file '{}': {error}", path.display())
    })?;
    let table: toml::Table = text.parse().map_err(|error| {
        anyhow::anyhow!(
            "config file '{}' is not valid TOML: {error}",
            path.display()
        )
    })?;
    let mut file = ConfigFile {
        path: path.to_path_buf(),
        set: BTreeMap::new(),
    };
    let commands: Vec<String> = command
        .get_subcommands()
        .map(|sub| sub.get_name().to_string())
        .collect();
    // Top-level values first, so a command's own section overrides them.
    for (key, value) in &table {
        if !value.is_table() {
            let mut applied = false;
            for name in &commands {
                applied |= record(&command, name, key, value, &mut file)?;
            }
            anyhow::ensure!(
                applied,
                "config file '{}': no command has an option '{key}'",
                path.display()
            );
        }
    }
    for (key, value) in &table {
        if let Some(section) = value.as_table() {
            anyhow::ensure!(
                commands.contains(key),
                "config file '{}': [{key}] is not a command",
                path.display()
            );
            for (option, value) in section {
                let applied = record(&command, key, option, value, &mut file)?;
                anyhow::ensure!(
                    applied,
                    "config file '{}': '{key}' has no option '{option}'",
                    path.display()
                );
            }
        }
    }
    let mut command = command;
    for (name, options) in &file.set {
        command = command.mut_subcommand(name.as_str(), |mut sub| {
            for (option, values) in options {
                let id = option_id(&sub, option).expect("recorded options exist");
                sub = sub.mut_arg(id, |arg| arg.default_values(values.clone()));
            }
            sub
        });
    }
    Ok((command, file))
}

/// Notes `key = value` for command `name` when it has that option.
fn record(
    command: &clap::Command,
    name: &str,
    key: &str,
    value: &toml::Value,
    file: &mut ConfigFile,
) -> anyhow::Result<bool> {
    anyhow::ensure!(
        !SECRETS.contains(&key),
        "config file '{}': keep secrets out of files ({key}): set ANTHROPIC_API_KEY, \
         OPENAI_API_KEY or LOG_ARCHIVER_AUTH_TOKEN, or pass --{key}",
        file.path.display()
    );
    let sub = command
        .find_subcommand(name)
        .expect("listed commands exist");
    let Some(id) = option_id(sub, key) else {
        return Ok(false);
    };
    let arg = sub
        .get_arguments()
        .find(|arg| *arg.get_id() == id)
        .expect("found by id");
    let values = match value {
        toml::Value::Array(items) => items.iter().map(scalar).collect::<Option<Vec<_>>>(),
        other => scalar(other).map(|value| vec![value]),
    }
    .ok_or_else(|| {
        anyhow::anyhow!(
            "config file '{}': '{key}' must be a string, number or boolean",
            file.path.display()
        )
    })?;
    if matches!(arg.get_action(), ArgAction::SetTrue) && values != ["true"] && values != ["false"] {
        anyhow::bail!(
            "config file '{}': '{key}' must be true or false",
            file.path.display()
        );
    }
    file.set
        .entry(name.to_string())
        .or_default()
        .insert(key.to_string(), values);
    Ok(true)
}

fn scalar(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(text) => Some(text.clone()),
        toml::Value::Integer(number) => Some(number.to_string()),
        toml::Value::Float(number) => Some(number.to_string()),
        toml::Value::Boolean(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// The id of the option spelled `--key` in `command`.
fn option_id(command: &clap::Command, key: &str) -> Option<clap::Id> {
    command
        .get_arguments()
        .find(|arg| arg.get_long() == Some(key))
        .map(|arg| arg.get_id().clone())
}

/// Options whose environment variables the program reads itself (by backend), in the order
/// they are looked at.
const READ_FROM_ENV: &[(&str, &[&str])] = &[
    ("api-key", &["ANTHROPIC_API_KEY", "OPENAI_API_KEY"]),
    ("base-url", &["ANTHROPIC_BASE_URL", "OPENAI_BASE_URL"]),
];

/// Prints the effective configuration of `name`: each option, its value and where it comes
/// from, as a configuration file (a `[name]` section) that `--config` accepts. Options without
/// a value, and secrets (masked), are shown as comments.
pub fn print_effective(
    command: &clap::Command,
    name: &str,
    file: Option<&ConfigFile>,
) -> anyhow::Result<()> {
    let sub = command
        .find_subcommand(name)
        .ok_or_else(|| anyhow::anyhow!("'{name}' is not a command"))?;
    match file {
        Some(file) => println!("# {name}: configuration file {}", file.path.display()),
        None => println!("# {name}: no configuration file"),
    }
    println!("# Each value's source follows it; this output is itself a valid --config file.");
    println!("[{name}]");
    let from_file = file.and_then(|file| file.set.get(name));
    let openai = effective_llm(sub, from_file) == "openai";
    for arg in sub.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if matches!(long, "help" | "version" | "config") {
            continue;
        }
        let (values, source) = effective_value(arg, long, from_file, openai);
        let multiple = matches!(arg.get_action(), ArgAction::Append);
        match values {
            _ if SECRETS.contains(&long) => match source.as_str() {
                "default" => println!("# {long}: not set"),
                source => {
                    println!("# {long} = \"********\"  # {source} (secrets stay out of files)")
                }
            },
            values if values.is_empty() => println!("# {long}: not set"),
            values => {
                let value = if multiple {
                    toml::Value::Array(values.iter().map(|value| typed(arg, value)).collect())
                } else {
                    typed(arg, &values.join(","))
                };
                println!("{long} = {value}  # {source}");
            }
        }
    }
    Ok(())
}

/// The values an option takes and where they come from: its environment variable, the file,
/// or the built-in default.
fn effective_value(
    arg: &clap::Arg,
    long: &str,
    from_file: Option<&BTreeMap<String, Vec<String>>>,
    openai: bool,
) -> (Vec<String>, String) {
    let mut variables: Vec<String> = arg
        .get_env()
        .map(|variable| variable.to_string_lossy().into_owned())
        .into_iter()
        .collect();
    if let Some((_, read)) = READ_FROM_ENV.iter().find(|(option, _)| *option == long) {
        let mut read: Vec<String> = read.iter().map(|variable| variable.to_string()).collect();
        if openai {
            read.reverse();
        }
        variables.extend(read);
    }
    let env = variables.into_iter().find_map(|variable| {
        std::env::var(&variable)
            .ok()
            .filter(|value| !value.is_empty())
            .map(|value| (variable, value))
    });
    if let Some((variable, value)) = env {
        return (vec![value], format!("env {variable}"));
    }
    if let Some(values) = from_file.and_then(|set| set.get(long)) {
        return (values.clone(), "file".to_string());
    }
    let mut defaults: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|value| value.to_string_lossy().into_owned())
        .collect();
    if defaults.is_empty() && matches!(arg.get_action(), ArgAction::SetTrue) {
        defaults.push("false".to_string());
    }
    (defaults, "default".to_string())
}

/// The `--llm` the command would use, which decides which provider's variables count.
fn effective_llm(sub: &clap::Command, from_file: Option<&BTreeMap<String, Vec<String>>>) -> String {
    sub.get_arguments()
        .find(|arg| arg.get_long() == Some("llm"))
        .map(|arg| effective_value(arg, "llm", from_file, false).0.join(""))
        .unwrap_or_default()
}

/// A value as TOML: a boolean for a flag, a number when it is one, else a string.
fn typed(arg: &clap::Arg, value: &str) -> toml::Value {
    if matches!(arg.get_action(), ArgAction::SetTrue) {
        return toml::Value::Boolean(value == "true");
    }
    match value.parse::<i64>() {
        Ok(number) => toml::Value::Integer(number),
        Err(_) => toml::Value::String(value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("config.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn file_values_become_defaults_per_command() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "concurrency = 8\nmodel = \"m1\"\n[archive]\nconcurrency = 32\n[serve]\nport = 9001\n",
        );
        let (command, file) = apply(crate::cli::Cli::command(), &path).unwrap();
        assert_eq!(file.set["archive"]["concurrency"], ["32"]);
        assert_eq!(file.set["retry"]["concurrency"], ["8"]);
        assert_eq!(file.set["explain"]["model"], ["m1"]);
        let matches = command
            .clone()
            .try_get_matches_from(["log-archiver", "serve"])
            .unwrap();
        let (_, serve) = matches.subcommand().unwrap();
        assert_eq!(serve.get_one::<u16>("port"), Some(&9001));
        let matches = command
            .try_get_matches_from(["log-archiver", "serve", "--port", "7"])
            .unwrap();
        let (_, serve) = matches.subcommand().unwrap();
        assert_eq!(
            serve.get_one::<u16>("port"),
            Some(&7),
            "flags win over the file"
        );
    }

    #[test]
    fn bad_files_are_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        for (text, expected) in [
            ("nonsense = 1", "no command has an option 'nonsense'"),
            ("api-key = \"sk\"", "keep secrets out of files (api-key)"),
            (
                "[serve]\nauth-token = \"0123456789abcdef\"",
                "keep secrets out of files (auth-token)",
            ),
            ("[archive]\nport = 1", "'archive' has no option 'port'"),
            ("[nope]\nx = 1", "[nope] is not a command"),
            ("concurrency = [", "not valid TOML"),
        ] {
            let path = write(dir.path(), text);
            let error = apply(crate::cli::Cli::command(), &path)
                .err()
                .unwrap()
                .to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn finds_the_file_from_the_command_line() {
        let argv: Vec<OsString> = ["log-archiver", "archive", "--config", "x.toml", "f"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(locate(&argv), Some(PathBuf::from("x.toml")));
        let argv: Vec<OsString> = ["log-archiver", "--config=y.toml"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(locate(&argv), Some(PathBuf::from("y.toml")));
    }
}
