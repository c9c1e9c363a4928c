//! The Streamable HTTP transport: the MCP endpoint at `/mcp`, one session per client, with a
//! session keep-alive longer than any sampling call, behind Host and Origin validation, a
//! request size limit and, when set, a bearer token; a thin layer corrects a few of rmcp's
//! HTTP answers (see `wire_fixes`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use rmcp::transport::streamable_http_server::session::local::{LocalSessionManager, SessionConfig};
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::auth::{AuthToken, require_token};
use super::tool::{LogArchiverServer, ToolSettings};
use super::wire_fixes::correct_rmcp_answers;

/// The path of the MCP endpoint.
pub const MCP_PATH: &str = "/mcp";

/// How the HTTP transport behaves.
#[derive(Debug, Clone)]
pub struct HttpServerSettings {
    /// The longest a sampling call may take; idle sessions live well beyond it.
    pub sampling_timeout: Duration,
    /// Host names accepted in the `Host` header besides the loopback names; `None` turns the
    /// check off (a server on every interface that was not told its public names).
    pub extra_allowed_hosts: Option<Vec<String>>,
    /// Browser origins accepted besides the loopback ones (a request without `Origin` passes).
    pub extra_allowed_origins: Vec<String>,
    /// Required of every request when set.
    pub auth_token: Option<AuthToken>,
    /// The largest request body accepted.
    pub max_request_bytes: usize,
}

impl HttpServerSettings {
    /// For a server on a loopback address serving `tool`, open to every local client unless
    /// `auth_token` is set.
    pub fn loopback(tool: &ToolSettings, auth_token: Option<AuthToken>) -> Self {
        Self {
            sampling_timeout: tool.sampling_timeout,
            extra_allowed_hosts: Some(Vec::new()),
            extra_allowed_origins: Vec::new(),
            auth_token,
            max_request_bytes: tool.max_request_bytes(),
        }
    }
}

/// Origins of pages served from this machine.
const LOOPBACK_ORIGINS: [&str; 6] = [
    "http://localhost:*",
    "https://localhost:*",
    "http://127.0.0.1:*",
    "https://127.0.0.1:*",
    "http://[::1]:*",
    "https://[::1]:*",
];

/// A running Streamable HTTP server.
pub struct HttpServer {
    address: SocketAddr,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl HttpServer {
    /// Serves `server` (one clone per session) on `listener`.
    pub fn start(
        listener: TcpListener,
        server: LogArchiverServer,
        settings: HttpServerSettings,
    ) -> std::io::Result<Self> {
        let address = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let mut session_config = SessionConfig::default();
        session_config.keep_alive = Some(session_keep_alive(settings.sampling_timeout));
        let mut sessions = LocalSessionManager::default();
        sessions.session_config = session_config;
        let mut config = StreamableHttpServerConfig::default()
            .with_allowed_origins(
                LOOPBACK_ORIGINS
                    .iter()
                    .map(|origin| origin.to_string())
                    .chain(settings.extra_allowed_origins),
            )
            .enforce_origin_validation()
            .with_max_request_body_bytes(settings.max_request_bytes)
            // Calls on 2026-07-28 are plain request and response: answer them as JSON rather
            // than as a one-event SSE stream (classic sessions keep their streams).
            .with_json_response(true)
            .with_cancellation_token(shutdown.child_token());
        config = match settings.extra_allowed_hosts {
            Some(extra) => {
                let mut allowed = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
                allowed.extend(extra);
                config.with_allowed_hosts(allowed)
            }
            None => config.disable_allowed_hosts(),
        };
        let service =
            StreamableHttpService::new(move || Ok(server.clone()), Arc::new(sessions), config);
        let mut router = axum::Router::new().nest_service(MCP_PATH, service).layer(
            axum::middleware::from_fn_with_state(settings.max_request_bytes, correct_rmcp_answers),
        );
        if let Some(token) = settings.auth_token {
            router = router.layer(axum::middleware::from_fn_with_state(token, require_token));
        }
        let stop = shutdown.clone();
        let task = tokio::spawn(async move {
            // Small SSE frames and responses go out at once, not after the peer's delayed ACK.
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            axum::serve(listener, router)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
        });
        Ok(Self {
            address,
            shutdown,
            task,
        })
    }

    /// The URL clients connect to.
    pub fn url(&self) -> String {
        format!("http://{}{MCP_PATH}", self.address)
    }

    /// A token that stops the server when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Runs until the server stops.
    pub async fn wait(self) -> std::io::Result<()> {
        self.task
            .await
            .unwrap_or_else(|error| Err(std::io::Error::other(error)))
    }

    /// Stops the server: sessions end and open streams close.
    pub async fn stop(self) -> std::io::Result<()> {
        self.shutdown.cancel();
        self.wait().await
    }
}

/// An idle session outlives the longest sampling call by a wide margin.
fn session_keep_alive(sampling_timeout: Duration) -> Duration {
    (sampling_timeout * 2 + Duration::from_secs(60)).max(SessionConfig::DEFAULT_KEEP_ALIVE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_alive_exceeds_sampling_timeout() {
        for secs in [1, 120, 600, 3600] {
            let timeout = Duration::from_secs(secs);
            assert!(session_keep_alive(timeout) > timeout);
        }
    }
}
