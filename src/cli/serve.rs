//! `log-archiver serve`: run the MCP server over Streamable HTTP or stdio.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use tokio::net::TcpListener;

use super::args::ToolArgs;
use super::signal::shutdown_requested;
use crate::report::{OrderPolicy, ReportWriter};
use crate::server::{HttpServer, HttpServerSettings, LogArchiverServer, serve_stdio};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,

    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,

    /// Speak MCP on stdin/stdout instead of HTTP, for MCP hosts that launch the server.
    #[arg(long, conflicts_with_all = ["host", "port"])]
    pub stdio: bool,

    /// The incident report to append to.
    #[arg(long, default_value = "incident_report.txt")]
    pub report: PathBuf,

    #[command(flatten)]
    pub tool: ToolArgs,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let tool = args.tool.settings();
    let policy = OrderPolicy::shared_server(tool.sampling_timeout);
    let (writer, writer_done) = ReportWriter::start(&args.report, policy).await?;
    let sampling_timeout = tool.sampling_timeout;
    let server = LogArchiverServer::new(tool, writer.clone());
    let outcome = if args.stdio {
        serve_stdio(server).await
    } else {
        serve_http(&args.host, args.port, sampling_timeout, server).await
    };
    writer.stop();
    let _ = writer_done.await;
    outcome.map(|()| ExitCode::SUCCESS)
}

async fn serve_http(
    host: &str,
    port: u16,
    sampling_timeout: Duration,
    server: LogArchiverServer,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind((host, port))
        .await
        .map_err(|error| anyhow::anyhow!("cannot listen on {host}:{port}: {error}"))?;
    let is_loopback = listener.local_addr()?.ip().is_loopback();
    if !is_loopback {
        tracing::warn!(
            "listening on a non-loopback address: anyone who can reach it can use your client's LLM"
        );
    }
    let settings = HttpServerSettings {
        sampling_timeout,
        extra_allowed_hosts: if is_loopback {
            Vec::new()
        } else {
            vec![host.to_string()]
        },
    };
    let http = HttpServer::start(listener, server, settings)?;
    eprintln!("Log-Archiver MCP server listening on {}", http.url());
    let stop = http.shutdown_token();
    tokio::spawn(async move {
        shutdown_requested().await;
        stop.cancel();
    });
    http.wait().await?;
    Ok(())
}
