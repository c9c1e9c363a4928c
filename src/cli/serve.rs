//! `log-archiver serve`: run the MCP server over Streamable HTTP or stdio.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use rmcp::model::ProtocolVersion;
use tokio::net::TcpListener;

use super::args::{ReportFileArgs, ToolArgs};
use super::numbers::whole;
use super::signal::shutdown_requested;
use crate::report::{OrderPolicy, ReportLock, ReportWriter};
use crate::server::{
    AUTH_TOKEN_ENV, AuthToken, DEFAULT_MAX_LOG_LINE_BYTES, HttpServer, HttpServerSettings,
    LogArchiverServer, serve_stdio,
};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,

    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8000, value_parser = whole::<u16>(0, u64::from(u16::MAX)), allow_negative_numbers = true)]
    pub port: u16,

    /// Speak MCP on stdin/stdout instead of HTTP, for MCP hosts that launch the server.
    #[arg(long, conflicts_with_all = ["host", "port"])]
    pub stdio: bool,

    #[command(flatten)]
    pub report: ReportFileArgs,

    /// A secret every HTTP request must carry as `Authorization: Bearer <token>` (at least 16
    /// characters); required when listening on a non-loopback address. Prefer the environment
    /// variable: a flag shows in the process list.
    #[arg(long, env = AUTH_TOKEN_ENV, hide_env_values = true, value_parser = AuthToken::parse)]
    pub auth_token: Option<AuthToken>,

    /// A host name clients use to reach a non-loopback server, accepted in the `Host` header
    /// (repeatable; loopback names and the --host address are always accepted).
    #[arg(long = "allowed-host", value_name = "NAME")]
    pub allowed_hosts: Vec<String>,

    /// A browser origin allowed to call the server, such as https://app.example.com (repeatable;
    /// loopback origins are always allowed, requests without an Origin header pass).
    #[arg(long = "allowed-origin", value_name = "ORIGIN")]
    pub allowed_origins: Vec<String>,

    /// The longest log line the tool accepts, in bytes; longer ones get a tool error.
    #[arg(long, default_value_t = DEFAULT_MAX_LOG_LINE_BYTES, value_parser = whole::<usize>(64, u64::MAX), allow_negative_numbers = true)]
    pub max_log_line_bytes: usize,

    /// The newest MCP protocol revision to serve: 2026-07-28 (clients that offer it sample
    /// through input-required results) or 2025-11-25 (every client uses the classic handshake).
    #[arg(long, value_enum, default_value_t = NewestProtocol::V2026_07_28)]
    pub max_protocol: NewestProtocol,

    /// Also serve the fixture tools the official MCP conformance suite calls (test_sampling);
    /// for testing servers, not for production.
    #[arg(long)]
    pub conformance_fixtures: bool,

    #[command(flatten)]
    pub tool: ToolArgs,
}

/// The newest protocol revision `serve` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NewestProtocol {
    #[value(name = "2026-07-28")]
    V2026_07_28,
    #[value(name = "2025-11-25")]
    V2025_11_25,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut tool = args.tool.settings();
    tool.newest_protocol = match args.max_protocol {
        NewestProtocol::V2026_07_28 => ProtocolVersion::V_2026_07_28,
        NewestProtocol::V2025_11_25 => ProtocolVersion::V_2025_11_25,
    };
    tool.max_log_line_bytes = args.max_log_line_bytes;
    let access = Access {
        auth_token: args.auth_token.clone(),
        allowed_hosts: args.allowed_hosts.clone(),
        allowed_origins: args.allowed_origins.clone(),
        max_request_bytes: tool.max_request_bytes(),
    };
    let policy = OrderPolicy::shared_server(tool.sampling_timeout);
    let report = args.report.path();
    // Held while the server runs: no job or other server may write this report meanwhile.
    let _lock = ReportLock::acquire(&report)?;
    let (writer, writer_done) = ReportWriter::start(&report, policy, args.report.format()).await?;
    let sampling_timeout = tool.sampling_timeout;
    let mut server = LogArchiverServer::new(tool, writer.clone());
    if args.conformance_fixtures {
        server = server.with_conformance_fixtures();
    }
    let outcome = if args.stdio {
        serve_stdio(server).await
    } else {
        serve_http(&args.host, args.port, sampling_timeout, access, server).await
    };
    writer.stop();
    let _ = writer_done.await;
    outcome.map(|()| ExitCode::SUCCESS)
}

/// Who may use the HTTP server.
struct Access {
    auth_token: Option<AuthToken>,
    allowed_hosts: Vec<String>,
    allowed_origins: Vec<String>,
    max_request_bytes: usize,
}

async fn serve_http(
    host: &str,
    port: u16,
    sampling_timeout: Duration,
    access: Access,
    server: LogArchiverServer,
) -> anyhow::Result<()> {
    let addresses: Vec<_> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|error| anyhow::anyhow!("cannot resolve --host {host}: {error}"))?
        .collect();
    let all_loopback = addresses.iter().all(|address| address.ip().is_loopback());
    if !all_loopback && access.auth_token.is_none() {
        anyhow::bail!(
            "refusing to listen on {host}, a non-loopback address, without a token: set \
             {AUTH_TOKEN_ENV} (or --auth-token) so that only clients holding it can use the \
             server and the LLM of its clients"
        );
    }
    let listener = TcpListener::bind(addresses.as_slice())
        .await
        .map_err(|error| anyhow::anyhow!("cannot listen on {host}:{port}: {error}"))?;
    let address = listener.local_addr()?.ip();
    let mut extra_allowed_hosts = access.allowed_hosts;
    if !address.is_loopback() && !address.is_unspecified() {
        extra_allowed_hosts.push(host.to_string());
    }
    // Listening on every interface, the names clients use are unknown unless given.
    let check_hosts = !address.is_unspecified() || !extra_allowed_hosts.is_empty();
    if !check_hosts {
        tracing::warn!(
            "the Host header is not checked: pass --allowed-host with the names clients use"
        );
    }
    let settings = HttpServerSettings {
        sampling_timeout,
        extra_allowed_hosts: check_hosts.then_some(extra_allowed_hosts),
        extra_allowed_origins: access.allowed_origins,
        auth_token: access.auth_token,
        max_request_bytes: access.max_request_bytes,
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
