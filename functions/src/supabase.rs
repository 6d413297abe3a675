//! PostgREST clients for `{SUPABASE_URL}/rest/v1`, one per identity the worker acts as.

use std::fmt;

use postgrest::{Builder, Postgrest};

use crate::auth::AccessToken;
use crate::config::Config;
use crate::error::ApiError;

/// Bypasses RLS: only for server-side work that no user triggers with their own rights.
pub fn service_role_client(config: &Config) -> Postgrest {
    client(
        config,
        config.service_role_key.expose(),
        config.service_role_key.expose(),
    )
}

/// Acts as the caller: PostgREST sees their token, so RLS decides what they may read.
pub fn user_client(config: &Config, caller: &AccessToken) -> Postgrest {
    client(config, config.anon_key.expose(), caller.expose())
}

fn client(config: &Config, api_key: &str, bearer: &str) -> Postgrest {
    Postgrest::new(config.supabase_url.rest_url())
        .insert_header("apikey", api_key)
        .insert_header("authorization", format!("Bearer {bearer}"))
}

/// A PostgREST call that did not succeed. The text is for logs only.
#[derive(Debug)]
pub enum UpstreamError {
    Unreachable(String),
    Status { status: u16, body: String },
}

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreachable(cause) => write!(f, "PostgREST unreachable: {cause}"),
            Self::Status { status, body } => write!(f, "PostgREST answered {status}: {body}"),
        }
    }
}

impl From<UpstreamError> for ApiError {
    /// Outages (no answer, or a 5xx from the gateway/PostgREST) are 503; any other refusal
    /// is an answer we did not expect, 502.
    fn from(error: UpstreamError) -> Self {
        match error {
            UpstreamError::Status { status, .. } if status < 500 => {
                Self::Upstream(error.to_string())
            }
            _ => Self::DatabaseUnavailable(error.to_string()),
        }
    }
}

/// How much of an error body goes into the log: enough to diagnose, bounded in size.
const LOGGED_BODY_CHARS: usize = 300;

/// Sends the request and returns the 2xx body text. (postgrest's reqwest 0.11 has no `json`
/// feature, so callers parse the text with serde_json.)
pub async fn send(request: Builder) -> Result<String, UpstreamError> {
    let unreachable = |error: reqwest::Error| UpstreamError::Unreachable(error.to_string());
    let response = request.execute().await.map_err(unreachable)?;
    let status = response.status();
    let body = response.text().await.map_err(unreachable)?;
    if !status.is_success() {
        let body = body.chars().take(LOGGED_BODY_CHARS).collect();
        return Err(UpstreamError::Status {
            status: status.as_u16(),
            body,
        });
    }
    Ok(body)
}
