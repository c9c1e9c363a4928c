//! What `explain` and `call` share: which MCP server to reach (Streamable HTTP, or a stdio
//! command), with which token, and the LLM that answers its sampling requests under the
//! client's sampling rules.

use clap::Args;

use super::args::{LlmArgs, ProtocolArgs};
use crate::client::{ClientSession, SamplingHandler, ServerTarget, connect};
use crate::redact::{RedactionSet, parse_redaction_set};
use crate::server::{AUTH_TOKEN_ENV, AuthToken};

#[derive(Debug, Args)]
pub struct ServerConnectionArgs {
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
    pub revisions: ProtocolArgs,

    #[command(flatten)]
    pub llm: LlmArgs,
}

impl ServerConnectionArgs {
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

    /// Starts the LLM (saying which one answers) and opens a session to the server (saying on
    /// which protocol revision).
    pub async fn connect(&self) -> anyhow::Result<ClientSession> {
        let target = self.target()?;
        let llm = self.llm.start().await?;
        llm.announce();
        let handler = SamplingHandler::with_model_choice(llm.backend.clone(), llm.models.clone())
            .with_rules(
                self.llm
                    .sampling_rules(&target.to_string(), self.redact.clone())?,
            )
            .with_protocol(self.revisions.protocol);
        let session = connect(&target, handler).await?;
        if let Some(info) = session.peer_info() {
            eprintln!("MCP: {target}, protocol {}", info.protocol_version);
        }
        Ok(session)
    }
}
