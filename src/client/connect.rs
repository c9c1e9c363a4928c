//! Opens an MCP client session to a server, over Streamable HTTP or by spawning a stdio server,
//! on the newest protocol revision both sides speak: 2026-07-28 (a tool asks for sampling with
//! an input-required result) when the server offers it, else the classic 2025-11-25 handshake
//! (sampling requests from inside the tool call).

use std::sync::LazyLock;
use std::time::Duration;

use rmcp::model::ProtocolVersion;
use rmcp::service::{ClientInitializeError, RunningService};
use rmcp::transport::IntoTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientLifecycleMode, ClientServiceExt, RoleClient, ServiceExt};

use super::sampling::SamplingHandler;
use crate::server::AuthToken;

/// How many requests one HTTP session may have open at once; bulk jobs bound their own calls.
const MAX_CALLS_PER_SESSION: usize = 1024;

/// The HTTP client of every session. rmcp's own default opens a new TCP connection for every
/// POST (it keeps no idle connections); a bulk job makes two POSTs per entry, so connecting and
/// closing cost more than the rest of the exchange. This one keeps connections alive, with
/// `TCP_NODELAY` so a reused connection never waits on a delayed ACK, and follows no redirects
/// (a redirected POST could carry the session elsewhere).
fn pooled_http_client() -> reqwest::Client {
    static CLIENT: LazyLock<reqwest::Client> = LazyLock::new(|| {
        reqwest::Client::builder()
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client with default TLS settings builds")
    });
    CLIENT.clone()
}

/// A live client session whose sampling requests are answered by a `SamplingHandler`.
pub type ClientSession = RunningService<RoleClient, SamplingHandler>;

/// Where the MCP server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerTarget {
    /// A Streamable HTTP endpoint, such as `http://127.0.0.1:8000/mcp`, and the bearer token
    /// it asks for.
    Http {
        url: String,
        auth_token: Option<AuthToken>,
    },
    /// A server started as a child process speaking MCP on its stdin and stdout.
    Stdio { program: String, args: Vec<String> },
}

impl std::fmt::Display for ServerTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Http { url, .. } => write!(f, "{url}"),
            Self::Stdio { program, args } => write!(f, "stdio: {program} {}", args.join(" ")),
        }
    }
}

/// Which MCP protocol revisions the client offers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ProtocolChoice {
    /// The newest both sides speak: 2026-07-28 when the server offers it, else 2025-11-25.
    #[default]
    Auto,
    /// Only 2026-07-28 (server discovery, input-required sampling); older servers are refused.
    #[value(name = "2026-07-28")]
    V2026_07_28,
    /// Only the classic handshake of 2025-11-25 (sampling requests inside the tool call).
    #[value(name = "2025-11-25")]
    V2025_11_25,
}

/// Connects to `target` on the protocol revisions `handler` offers and completes the MCP
/// handshake (or discovery).
pub async fn connect(
    target: &ServerTarget,
    handler: SamplingHandler,
) -> anyhow::Result<ClientSession> {
    let session = match target {
        ServerTarget::Http { url, auth_token } => {
            let transport = || {
                let mut config = StreamableHttpClientTransportConfig::with_uri(url.as_str())
                    .max_concurrent_requests(MAX_CALLS_PER_SESSION);
                if let Some(token) = auth_token {
                    config = config.auth_header(token.secret());
                }
                Ok(StreamableHttpClientTransport::with_client(
                    pooled_http_client(),
                    config,
                ))
            };
            open_session(handler, transport)
                .await
                .map_err(|error| anyhow::anyhow!("cannot open an MCP session with {url}: {error}"))
        }
        ServerTarget::Stdio { program, args } => {
            let transport = || {
                let mut command = tokio::process::Command::new(program);
                command.args(args);
                let (transport, _stderr) = TokioChildProcess::builder(command)
                    .stderr(std::process::Stdio::inherit())
                    .spawn()
                    .map_err(|error| {
                        anyhow::anyhow!("cannot start MCP server '{program}': {error}")
                    })?;
                Ok(transport)
            };
            open_session(handler, transport).await.map_err(|error| {
                anyhow::anyhow!("cannot open an MCP session with '{program}' over stdio: {error}")
            })
        }
    }?;
    if let Some(info) = session.peer_info() {
        tracing::debug!(%target, protocol = %info.protocol_version, "MCP session open");
    }
    Ok(session)
}

/// Opens a session on a fresh transport from `transport`, as `handler`'s protocol choice says.
async fn open_session<T, E, A>(
    handler: SamplingHandler,
    transport: impl Fn() -> anyhow::Result<T>,
) -> anyhow::Result<ClientSession>
where
    T: IntoTransport<RoleClient, E, A>,
    E: std::error::Error + Send + Sync + 'static,
{
    let modern_only = ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    };
    match handler.protocol() {
        ProtocolChoice::V2025_11_25 => Ok(handler.serve(transport()?).await?),
        ProtocolChoice::V2026_07_28 => Ok(handler
            .serve_with_lifecycle(transport()?, modern_only)
            .await?),
        ProtocolChoice::Auto => {
            let auto = ClientLifecycleMode::Auto {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                legacy_version: Some(ProtocolVersion::V_2025_11_25),
            };
            match handler
                .clone()
                .serve_with_lifecycle(transport()?, auto)
                .await
            {
                // A server that discovers but does not offer 2026-07-28 gets the classic
                // handshake on a fresh transport.
                Err(ClientInitializeError::NoCompatibleProtocolVersion { .. }) => {
                    Ok(handler.serve(transport()?).await?)
                }
                outcome => Ok(outcome?),
            }
        }
    }
}
