//! Verifies Supabase access tokens: legacy HS256 with the project's JWT secret, ES256/RS256
//! with the keys Supabase Auth publishes in its JWKS.

pub mod cron;
mod jwks;
mod keys;
mod verified;
mod verifier;

use std::fmt;

use crate::config::{Config, ConfigError};
use crate::http::Headers;

pub use cron::{Cron, CronSecret};
pub use jwks::JwksCache;
pub use verifier::Verifier;

/// Keys fetched by one isolate, shared by all the requests it serves.
pub static SHARED_JWKS: JwksCache = JwksCache::new();

/// Why a token was refused (401), or why it could not be checked (503).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    MissingToken,
    MalformedToken,
    UnsupportedAlgorithm,
    AlgorithmMismatch,
    UnknownSigningKey,
    InvalidSignature,
    TokenExpired,
    TokenNotYetValid,
    InvalidAudience,
    InvalidIssuer,
    InvalidToken,
    /// PostgREST refused the token we forwarded (its JWT errors, PGRST301-303); the cause is
    /// for the log.
    TokenRefused(String),
    /// An anonymous sign-in's token, and the deployment does not serve anonymous users.
    AnonymousUser,
    /// The signing keys could not be fetched: not the caller's fault.
    KeysUnavailable(String),
}

impl AuthError {
    pub fn status(&self) -> u16 {
        match self {
            Self::KeysUnavailable(_) => 503,
            Self::AnonymousUser => 403,
            _ => 401,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::MalformedToken => "malformed_token",
            Self::UnsupportedAlgorithm => "unsupported_algorithm",
            Self::AlgorithmMismatch => "algorithm_mismatch",
            Self::UnknownSigningKey => "unknown_signing_key",
            Self::InvalidSignature => "invalid_signature",
            Self::TokenExpired => "token_expired",
            Self::TokenNotYetValid => "token_not_yet_valid",
            Self::InvalidAudience => "invalid_audience",
            Self::InvalidIssuer => "invalid_issuer",
            Self::InvalidToken => "invalid_token",
            Self::TokenRefused(_) => "token_refused",
            Self::AnonymousUser => "anonymous_user",
            Self::KeysUnavailable(_) => "auth_unavailable",
        }
    }

    pub fn message(&self) -> &'static str {
        match self {
            Self::MissingToken => "An access token is required (Authorization: Bearer <token>).",
            Self::MalformedToken => "The access token is malformed.",
            Self::UnsupportedAlgorithm => "The access token's signing algorithm is not supported.",
            Self::AlgorithmMismatch => "The access token's algorithm does not match its key.",
            Self::UnknownSigningKey => "The access token was signed by an unknown key.",
            Self::InvalidSignature => "The access token's signature is invalid.",
            Self::TokenExpired => "The access token has expired.",
            Self::TokenNotYetValid => "The access token is not valid yet.",
            Self::InvalidAudience => "The access token is not meant for this service.",
            Self::InvalidIssuer => "The access token was not issued by this project.",
            Self::InvalidToken => "The access token lacks required claims.",
            Self::TokenRefused(_) => "The access token was refused. Sign in again.",
            Self::AnonymousUser => {
                "Anonymous users cannot use this service. Sign in with an account."
            }
            Self::KeysUnavailable(_) => "Tokens cannot be verified right now. Try again later.",
        }
    }

    pub fn cause(&self) -> Option<&str> {
        match self {
            Self::KeysUnavailable(cause) | Self::TokenRefused(cause) => Some(cause),
            _ => None,
        }
    }
}

/// `ALLOW_ANONYMOUS_USERS`: whether tokens of Supabase Auth's anonymous sign-ins are served
/// (off unless `true`: an anonymous user costs nothing to make, so each could farm free AI
/// credits).
pub fn anonymous_users_setting(raw: Option<&str>) -> Result<bool, ConfigError> {
    match raw.map(str::trim) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ConfigError::Invalid {
            name: "ALLOW_ANONYMOUS_USERS",
            reason: "must be true or false",
        }),
    }
}

/// The Supabase user id (`sub`), non-empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserId(String);

impl UserId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthenticatedUser {
    pub id: UserId,
    pub email: Option<String>,
}

/// A token that passed verification, kept so it can be forwarded to PostgREST (RLS then sees
/// the caller). Only the verifier constructs it.
#[derive(Clone)]
pub struct AccessToken(String);

impl AccessToken {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

#[derive(Debug)]
pub struct Caller {
    pub user: AuthenticatedUser,
    pub token: AccessToken,
}

/// The token from `Authorization: Bearer <token>`.
pub fn bearer_token(headers: &Headers) -> Result<&str, AuthError> {
    let value = headers
        .get("authorization")
        .ok_or(AuthError::MissingToken)?
        .trim();
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::MalformedToken)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(AuthError::MalformedToken);
    }
    Ok(token)
}

/// Verifies the caller's bearer token; `now` is unix seconds.
pub async fn authenticate(
    headers: &Headers,
    config: &Config,
    now: i64,
) -> Result<Caller, AuthError> {
    let token = bearer_token(headers)?;
    Verifier::new(config, &SHARED_JWKS).verify(token, now).await
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn headers(authorization: Option<&str>) -> Headers {
        authorization
            .map(|value| ("Authorization".to_owned(), value.to_owned()))
            .into_iter()
            .collect()
    }

    #[test]
    fn extracts_bearer_tokens() {
        assert_eq!(
            bearer_token(&headers(Some("Bearer abc.def.ghi"))),
            Ok("abc.def.ghi")
        );
        assert_eq!(bearer_token(&headers(Some("bearer  abc"))), Ok("abc"));
    }

    const EVERY_ERROR: [AuthError; 14] = [
        AuthError::MissingToken,
        AuthError::MalformedToken,
        AuthError::UnsupportedAlgorithm,
        AuthError::AlgorithmMismatch,
        AuthError::UnknownSigningKey,
        AuthError::InvalidSignature,
        AuthError::TokenExpired,
        AuthError::TokenNotYetValid,
        AuthError::InvalidAudience,
        AuthError::InvalidIssuer,
        AuthError::InvalidToken,
        AuthError::TokenRefused(String::new()),
        AuthError::AnonymousUser,
        AuthError::KeysUnavailable(String::new()),
    ];

    #[test]
    fn each_refusal_has_its_own_code_and_explanation() {
        let codes: BTreeSet<&str> = EVERY_ERROR.iter().map(AuthError::code).collect();
        let messages: BTreeSet<&str> = EVERY_ERROR.iter().map(AuthError::message).collect();
        assert_eq!((codes.len(), messages.len()), (14, 14));
        assert!(messages.iter().all(|message| message.ends_with('.')));
    }

    #[test]
    fn only_unavailable_keys_and_refused_tokens_carry_a_cause_for_the_log() {
        let unavailable = AuthError::KeysUnavailable("JWKS request answered 502".into());
        assert_eq!(unavailable.cause(), Some("JWKS request answered 502"));
        let refused = AuthError::TokenRefused("PGRST301".into());
        assert_eq!(refused.cause(), Some("PGRST301"));
        assert!(EVERY_ERROR
            .iter()
            .filter(|error| !matches!(
                error,
                AuthError::TokenRefused(_) | AuthError::KeysUnavailable(_)
            ))
            .all(|error| error.cause().is_none()));
    }

    #[test]
    fn a_user_id_shows_as_itself_and_a_token_never_shows() {
        let id = UserId("8d0fd2b3".into());
        assert_eq!(format!("user {id}"), "user 8d0fd2b3");
        let token = AccessToken("eyJhbGciOi.secret.sig".into());
        assert_eq!(format!("{token:?}"), "AccessToken(<redacted>)");
    }

    #[test]
    fn refuses_missing_or_non_bearer_credentials() {
        assert_eq!(bearer_token(&headers(None)), Err(AuthError::MissingToken));
        assert_eq!(
            bearer_token(&headers(Some("Basic dXNlcjpwYXNz"))),
            Err(AuthError::MalformedToken)
        );
        assert_eq!(
            bearer_token(&headers(Some("Bearer"))),
            Err(AuthError::MalformedToken)
        );
        assert_eq!(
            bearer_token(&headers(Some("Bearer   "))),
            Err(AuthError::MalformedToken)
        );
    }
}
