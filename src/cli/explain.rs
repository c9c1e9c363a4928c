//! `log-archiver explain`: send log lines to a server's `process_log_entry` tool and answer the
//! server's sampling requests with the chosen LLM (Claude by default when a key is set).

use std::process::ExitCode;

use clap::Args;

use super::args::LlmArgs;
use crate::client::{SamplingHandler, ServerTarget, connect, process_log_entry};
use crate::redact::{RedactionSet, parse_redaction_set};
use crate::server::{AUTH_TOKEN_ENV, AuthToken};

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The log lines to explain, each sent as one tool call.
    #[arg(required = true, value_name = "LOG_LINE")]
    pub log_lines: Vec<String>,

    /// The MCP server's Streamable HTTP endpoint.
    #[arg(long, default_value = "http://127.0.0.1:8000/mcp")]
    pub server: String,

    /// The bearer token the server asks for (see `serve --auth-token`).
    #[arg(long, env = AUTH_TOKEN_ENV, hide_env_values = true, value_parser = AuthToken::parse)]
    pub auth_token: Option<AuthToken>,

    /// Start this command as a stdio MCP server instead of connecting over HTTP
    /// (e.g. "log-archiver serve --stdio").
    #[arg(long, value_name = "COMMAND", conflicts_with = "server")]
    pub stdio_server: Option<String>,

    /// What to mask in prompts before they reach the LLM: a comma-separated list of secrets,
    /// email and ip; or none.
    #[arg(long, default_value = "secrets", value_name = "KINDS", value_parser = parse_redaction_set)]
    pub redact: RedactionSet,

    #[command(flatten)]
    pub llm: LlmArgs,
}

impl ExplainArgs {
    fn target(&self) -> anyhow::Result<ServerTarget> {
        let Some(command) = &self.stdio_server else {
            return Ok(ServerTarget::Http {
                url: self.server.clone(),
                auth_token: self.auth_token.clone(),
            });
        };
        let mut words = shell_words::split(command)
            .map_err(|error| anyhow::anyhow!("cannot parse --stdio-server '{command}': {error}"))?
            .into_iter();
        let program = words
            .next()
            .ok_or_else(|| anyhow::anyhow!("--stdio-server needs a command"))?;
        Ok(ServerTarget::Stdio {
            program,
            args: words.collect(),
        })
    }
}

pub async fn run(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let target = args.target()?;
    let llm = args.llm.start().await?;
    eprintln!("LLM: {}", llm.description);
    let handler = SamplingHandler::with_model_choice(llm.backend.clone(), llm.models.clone())
        .with_rules(
            args.llm
                .sampling_rules(&target.to_string(), args.redact.clone())?,
        );
    let session = connect(&target, handler).await?;
    let mut all_succeeded = true;
    for line in &args.log_lines {
        let outcome = process_log_entry(&session, line).await?;
        if outcome.is_error {
            all_succeeded = false;
            eprintln!("error: {}", outcome.text);
        } else {
            println!("{}", outcome.text);
        }
    }
    let _ = session.cancel().await;
    Ok(if all_succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
