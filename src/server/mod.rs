//! The MCP server "Log-Archiver": the `process_log_entry` tool and the transports that serve it
//! (Streamable HTTP and stdio), and who may use them.

mod auth;
mod conformance;
mod http;
mod prompt;
mod sampling;
mod tool;
mod wire_fixes;

pub use auth::{AUTH_TOKEN_ENV, AuthToken};
pub use http::{HttpServer, HttpServerSettings, MCP_PATH};
pub use prompt::{DEFAULT_PROMPT_TEMPLATE, PromptTemplate, SYSTEM_PROMPT};
pub use tool::{
    BATCH_TOOL_NAME, DEFAULT_MAX_LOG_LINE_BYTES, LogArchiverServer, MAX_BATCH_LINES, ReportLine,
    SERVER_NAME, TOOL_NAME, ToolSettings,
};

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
