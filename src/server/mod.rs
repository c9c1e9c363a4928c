//! The MCP server "Log-Archiver": the `process_log_entry` tool and the transports that serve it
//! (Streamable HTTP and stdio).

mod http;
mod prompt;
mod tool;

pub use http::{HttpServer, HttpServerSettings, MCP_PATH};
pub use prompt::{DEFAULT_PROMPT_TEMPLATE, PromptTemplate, SYSTEM_PROMPT};
pub use tool::{LogArchiverServer, SERVER_NAME, TOOL_NAME, ToolSettings};

use rmcp::ServiceExt;

/// Serves one MCP session on this process's stdin and stdout until the client hangs up.
pub async fn serve_stdio(server: LogArchiverServer) -> anyhow::Result<()> {
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|error| anyhow::anyhow!("MCP session on stdio failed to start: {error}"))?;
    running.waiting().await?;
    Ok(())
}
