//! `log-archiver explain`: send log lines to a server's `process_log_entry` tool and answer the
//! server's sampling requests with the chosen LLM (Claude by default when a key is set).

use std::process::ExitCode;

use clap::Args;

use super::peer::ServerConnectionArgs;
use crate::client::process_log_entry;

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The log lines to explain, each sent as one tool call.
    #[arg(required = true, value_name = "LOG_LINE")]
    pub log_lines: Vec<String>,

    #[command(flatten)]
    pub connection: ServerConnectionArgs,
}

pub async fn run(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let session = args.connection.connect().await?;
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
