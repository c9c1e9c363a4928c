//! Opens an MCP client session to a server, over Streamable HTTP or by spawning a stdio server.

use std::sync::LazyLock;
use std::time::Duration;

use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};

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

/// Connects to `target` and completes the MCP handshake.
pub async fn connect(
    target: &ServerTarget,
    handler: SamplingHandler,
) -> anyhow::Result<ClientSession> {
    match target {
        ServerTarget::Http { url, auth_token } => {
            let mut config = StreamableHttpClientTransportConfig::with_uri(url.as_str())
                .max_concurrent_requests(MAX_CALLS_PER_SESSION);
            if let Some(token) = auth_token {
                config = config.auth_header(token.secret());
            }
            let transport =
                StreamableHttpClientTransport::with_client(pooled_http_client(), config);
            handler
                .serve(transport)
                .await
                .map_err(|error| anyhow::anyhow!("cannot open an MCP session with {url}: {error}"))
        }
        ServerTarget::Stdio { program, args } => {
            let mut command = tokio::process::Command::new(program);
            command.args(args);
            let (transport, _stderr) = TokioChildProcess::builder(command)
                .stderr(std::process::Stdio::inherit())
                .spawn()
                .map_err(|error| anyhow::anyhow!("cannot start MCP server '{program}': {error}"))?;
            handler.serve(transport).await.map_err(|error| {
                anyhow::anyhow!("cannot open an MCP session with '{program}' over stdio: {error}")
            })
        }
    }
}
