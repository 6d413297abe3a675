//! PostgREST clients for `{SUPABASE_URL}/rest/v1`, one per identity the worker acts as, and
//! `rpc`, the service-role call of a `public` function every feature uses.

use std::fmt;

use postgrest::{Builder, Postgrest};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::auth::{AccessToken, AuthError};
use crate::config::Config;
use crate::error::ApiError;
use crate::infra::outbound;

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
    Status {
        status: u16,
        body: String,
        database: Option<DatabaseError>,
    },
}

/// The database error PostgREST reports: its SQLSTATE (`code`), message and hint.
#[derive(Debug, serde::Deserialize)]
pub struct DatabaseError {
    pub code: String,
    pub message: String,
    #[serde(default)]
    pub hint: Option<String>,
}

/// `app_private.take_rate_limit`'s refusal; its hint is the seconds until the window ends.
const RATE_LIMITED: &str = "PR429";
/// PostgREST's refusals of the forwarded token: undecodable or bad signature, no token where
/// one is required, claims invalid (e.g. expired between our check and its own).
const TOKEN_REFUSED: [&str; 3] = ["PGRST301", "PGRST302", "PGRST303"];

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreachable(cause) => write!(f, "PostgREST unreachable: {cause}"),
            Self::Status { status, body, .. } => write!(f, "PostgREST answered {status}: {body}"),
        }
    }
}

impl From<UpstreamError> for ApiError {
    /// Errors our SQL raises on purpose become the caller's answer: 42501 (not allowed),
    /// P0001/22023 (a rule, with the message written for users), P0002 (no such row),
    /// 23505 (already exists), 23503 (a reference to something that is not there), PR429 (a rate
    /// window is full: 429 with Retry-After). A refused token (PGRST301-303, or a bare 401) is
    /// the caller's 401; a value the database cannot take (class 22 data exceptions, a check
    /// constraint) a 400. Outages (no answer, or a 5xx) are 503; any other refusal is an answer
    /// we did not expect, 502.
    fn from(error: UpstreamError) -> Self {
        let rejected = |status, code, message: &str| Self::Rejected {
            status,
            code,
            message: message.to_owned(),
        };
        if let UpstreamError::Status {
            database: Some(database),
            ..
        } = &error
        {
            match database.code.as_str() {
                "42501" => return Self::Forbidden,
                RATE_LIMITED => {
                    let retry_after = database.hint.as_deref().and_then(|s| s.parse().ok());
                    return Self::RateLimited {
                        retry_after: retry_after.unwrap_or(60),
                    };
                }
                "P0001" | "22023" => return rejected(400, "rule_violation", &database.message),
                code if TOKEN_REFUSED.contains(&code) => {
                    return Self::Auth(AuthError::TokenRefused(error.to_string()))
                }
                code if code.starts_with("22") || code == "23514" => {
                    return Self::InvalidValue(error.to_string())
                }
                "P0002" => return rejected(404, "resource_not_found", &database.message),
                "23505" => return rejected(409, "conflict", "That already exists."),
                "23503" => {
                    return rejected(
                        400,
                        "invalid_reference",
                        "A referenced record does not exist or is not yours.",
                    )
                }
                _ => {}
            }
        }
        match error {
            UpstreamError::Status {
                status: 401,
                database: None,
                ..
            } => Self::Auth(AuthError::TokenRefused(error.to_string())),
            UpstreamError::Status { status, .. } if status < 500 => {
                Self::Upstream(error.to_string())
            }
            _ => Self::DatabaseUnavailable(error.to_string()),
        }
    }
}

/// Sends the request and returns the 2xx body text. (postgrest's reqwest 0.11 has no `json`
/// feature, so callers parse the text with serde_json.)
pub async fn send(request: Builder) -> Result<String, UpstreamError> {
    reply_text(request.build()).await
}

/// `GET {rest}/{table}?{query}` with the caller's token, so RLS decides what it returns. For
/// what postgrest-rs cannot say (`limit` and `offset` as query parameters).
pub async fn select_as_user(
    config: &Config,
    caller: &AccessToken,
    table: &str,
    query: &[(&str, String)],
) -> Result<String, UpstreamError> {
    let request = reqwest::Client::new()
        .get(format!("{}/{table}", config.supabase_url.rest_url()))
        .query(query)
        .header("apikey", config.anon_key.expose())
        .header("authorization", format!("Bearer {}", caller.expose()));
    reply_text(request).await
}

async fn reply_text(request: reqwest::RequestBuilder) -> Result<String, UpstreamError> {
    let reply = outbound::send(request)
        .await
        .map_err(|failure| UpstreamError::Unreachable(failure.to_string()))?;
    if !reply.succeeded() {
        return Err(UpstreamError::Status {
            status: reply.status,
            body: reply.body_excerpt(),
            database: serde_json::from_slice(&reply.body).ok(),
        });
    }
    Ok(String::from_utf8_lossy(&reply.body).into_owned())
}

/// Calls a `public` RPC as the service role and parses the value it returned.
pub async fn rpc<T: DeserializeOwned>(
    config: &Config,
    function: &str,
    params: Value,
) -> Result<T, ApiError> {
    let call =
        service_role_client(config).rpc(function, without_null_arguments(params).to_string());
    let body = send(call).await?;
    // PostgREST answers a scalar as the bare value, a row as an object and a set as an array.
    serde_json::from_str(&body)
        .map_err(|error| ApiError::Upstream(format!("{function} answer unparsable: {error}")))
}

/// Leaves null arguments out, so the SQL default (null) applies: PostgREST-compatible servers
/// differ in how they bind a JSON null (postrust binds it as an empty string).
fn without_null_arguments(params: Value) -> Value {
    match params {
        Value::Object(arguments) => Value::Object(
            arguments
                .into_iter()
                .filter(|(_, value)| !value.is_null())
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn database_error(code: &str, message: &str) -> ApiError {
        ApiError::from(UpstreamError::Status {
            status: 400,
            body: String::new(),
            database: Some(DatabaseError {
                code: code.into(),
                message: message.into(),
                hint: None,
            }),
        })
    }

    #[test]
    fn errors_raised_on_purpose_reach_the_caller() {
        assert!(matches!(
            database_error("42501", "only owners"),
            ApiError::Forbidden
        ));
        let full = database_error("P0001", "this team is full");
        assert_eq!((full.status(), full.code()), (400, "rule_violation"));
        assert!(full.to_response().body_text().contains("this team is full"));
        assert_eq!(
            database_error("23505", "duplicate key value violates \"pk\"").status(),
            409
        );
        let dangling = database_error("23503", "the connection does not belong to this team");
        assert_eq!(
            (dangling.status(), dangling.code()),
            (400, "invalid_reference")
        );
        assert!(!database_error("23505", "violates \"pk\"")
            .to_response()
            .body_text()
            .contains("pk"));
    }

    #[test]
    fn a_full_rate_window_is_a_429_with_the_seconds_to_wait() {
        let reply = r#"{"code": "PR429", "message": "Too many requests of this kind (oauth_start). Retry in 42 seconds.",
                        "details": null, "hint": "42"}"#;
        let error = ApiError::from(UpstreamError::Status {
            status: 400,
            body: reply.into(),
            database: serde_json::from_str(reply).ok(),
        });
        assert_eq!((error.status(), error.code()), (429, "rate_limited"));
        let response = error.to_response();
        assert_eq!(response.header("retry-after"), Some("42"));
        assert!(response.body_text().contains(r#""retryAfter":42"#));
        assert_eq!(database_error("PR429", "no hint").retry_after(), Some(60));
    }

    #[test]
    fn a_refused_token_is_the_callers_401() {
        for code in TOKEN_REFUSED {
            let error = database_error(code, "JWT expired");
            assert_eq!((error.status(), error.code()), (401, "token_refused"));
            assert!(!error.to_response().body_text().contains("JWT expired"));
            assert!(error.cause().is_some(), "logged");
        }
        let bare = ApiError::from(UpstreamError::Status {
            status: 401,
            body: "Invalid JWT".into(),
            database: None,
        });
        assert_eq!((bare.status(), bare.code()), (401, "token_refused"));
    }

    #[test]
    fn a_value_the_database_cannot_take_is_a_400() {
        for (code, message) in [
            (
                "22008",
                "date/time field value out of range: \"2026-13-45\"",
            ),
            (
                "22007",
                "invalid input syntax for type timestamp with time zone",
            ),
            ("22P02", "invalid input syntax for type uuid: \"x\""),
            (
                "22003",
                "value \"99999999999\" is out of range for type integer",
            ),
            (
                "23514",
                "new row violates check constraint \"posts_body_check\"",
            ),
        ] {
            let error = database_error(code, message);
            assert_eq!(
                (error.status(), error.code()),
                (400, "invalid_value"),
                "{code}"
            );
            assert!(!error.to_response().body_text().contains("check constraint"));
            assert!(error.cause().is_some(), "logged");
        }
    }

    #[test]
    fn other_database_errors_stay_internal() {
        let error = database_error("42P01", "relation \"secret_table\" does not exist");
        assert_eq!(error.code(), "upstream_error");
        assert!(!error.to_response().body_text().contains("secret_table"));
        let outage = ApiError::from(UpstreamError::Unreachable("connection refused".into()));
        assert_eq!(outage.status(), 503);
    }

    #[test]
    fn null_arguments_are_left_out() {
        let params = json!({"user_id": "u", "team_id": null, "images": 0, "clear_key": false});
        assert_eq!(
            without_null_arguments(params),
            json!({"user_id": "u", "images": 0, "clear_key": false})
        );
        assert_eq!(without_null_arguments(json!({})), json!({}));
    }
}
