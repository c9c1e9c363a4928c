//! Bearer-token access control for the HTTP transport: the token's rules, and the middleware
//! that refuses requests without it (compared in constant time).

use std::fmt;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::Rng;
use subtle::ConstantTimeEq;

/// The environment variable that holds the token, for the server and for clients.
pub const AUTH_TOKEN_ENV: &str = "LOG_ARCHIVER_AUTH_TOKEN";

/// The shortest token accepted: long enough that guessing it is hopeless.
const MIN_TOKEN_CHARS: usize = 16;

/// A secret that HTTP clients must present as `Authorization: Bearer <token>`. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthToken(Arc<str>);

impl AuthToken {
    /// Checks a token given by the user: at least 16 visible ASCII characters.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.chars().count() < MIN_TOKEN_CHARS {
            return Err(format!(
                "the auth token is too short: use at least {MIN_TOKEN_CHARS} characters \
                 (e.g. the output of `openssl rand -hex 32`)"
            ));
        }
        if !text.chars().all(|c| c.is_ascii_graphic()) {
            return Err(
                "the auth token may hold only visible ASCII characters (no spaces)".to_string(),
            );
        }
        Ok(Self(text.into()))
    }

    /// A fresh random token, for a server only this process talks to.
    pub fn random() -> Self {
        let bytes: [u8; 32] = rand::rng().random();
        let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        Self(hex.into())
    }

    /// The token itself, to send.
    pub fn secret(&self) -> &str {
        &self.0
    }

    /// Whether an `Authorization` header value carries this token.
    fn admits(&self, authorization: Option<&HeaderValue>) -> bool {
        let presented = authorization
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .unwrap_or("");
        bool::from(presented.as_bytes().ct_eq(self.0.as_bytes()))
    }
}

impl fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthToken(****)")
    }
}

/// Middleware: lets a request through only with the right bearer token.
pub async fn require_token(
    State(token): State<AuthToken>,
    request: Request,
    next: Next,
) -> Response {
    if token.admits(request.headers().get(header::AUTHORIZATION)) {
        return next.run(request).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        "This server needs `Authorization: Bearer <token>` (see --auth-token).\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_or_spaced_tokens_are_refused() {
        assert!(AuthToken::parse("short").is_err());
        assert!(AuthToken::parse("sixteen chars ok").is_err());
        assert!(AuthToken::parse("0123456789abcdef").is_ok());
    }

    #[test]
    fn admits_only_the_exact_bearer_token() {
        let token = AuthToken::parse("0123456789abcdef").unwrap();
        let header = |text: &str| HeaderValue::from_str(text).unwrap();
        assert!(token.admits(Some(&header("Bearer 0123456789abcdef"))));
        assert!(!token.admits(Some(&header("Bearer 0123456789abcdeg"))));
        assert!(!token.admits(Some(&header("Bearer 0123456789abcdef0"))));
        assert!(!token.admits(Some(&header("Basic 0123456789abcdef"))));
        assert!(!token.admits(None));
    }

    #[test]
    fn random_tokens_differ_and_are_valid() {
        let (first, second) = (AuthToken::random(), AuthToken::random());
        assert_ne!(first, second);
        assert!(AuthToken::parse(first.secret()).is_ok());
        assert_eq!(format!("{first:?}"), "AuthToken(****)");
    }
}
