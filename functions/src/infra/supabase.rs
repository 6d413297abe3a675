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
    service_role_headers(config).into_iter().fold(
        Postgrest::new(config.supabase_url.rest_url()),
        |client, (name, value)| client.insert_header(name, value),
    )
}

/// Acts as the caller: PostgREST sees their token, so RLS decides what they may read.
pub fn user_client(config: &Config, caller: &AccessToken) -> Postgrest {
    Postgrest::new(config.supabase_url.rest_url())
        .insert_header("apikey", config.anon_key.expose())
        .insert_header("authorization", format!("Bearer {}", caller.expose()))
}

/// How every Supabase API (PostgREST, Auth, Storage) takes the service role's key: a current
/// secret key (`sb_secret_…`, not a JWT) in `apikey` alone, the gateway standing the role's
/// token in; a legacy service_role JWT also as the bearer, as it always was.
pub fn service_role_headers(config: &Config) -> Vec<(&'static str, String)> {
    let key = config.service_role_key.expose();
    let mut headers = vec![("apikey", key.to_owned())];
    if !key.starts_with(SECRET_KEY_PREFIX) {
        headers.push(("authorization", format!("Bearer {key}")));
    }
    headers
}

/// A Storage or Auth request, sent as the service role.
pub fn as_service_role(
    config: &Config,
    request: reqwest::RequestBuilder,
) -> reqwest::RequestBuilder {
    service_role_headers(config)
        .into_iter()
        .fold(request, |request, (name, value)| {
            request.header(name, value)
        })
}

/// Supabase's current API keys: `sb_publishable_…` (the anon role) and `sb_secret_…` (the
/// service role).
pub const PUBLISHABLE_KEY_PREFIX: &str = "sb_publishable_";
pub const SECRET_KEY_PREFIX: &str = "sb_secret_";

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

/// The database error PostgREST reports: its SQLSTATE (`code`), message, detail and hint.
#[derive(Debug, serde::Deserialize)]
pub struct DatabaseError {
    pub code: String,
    pub message: String,
    #[serde(default)]
    pub hint: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
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

/// A refusal an RPC answers as its `status` row instead of raising: the conventions every
/// feature's RPCs share. A store's answer enum ends with `#[serde(untagged)] Refused(Refusal)`,
/// and `into_error` maps it to the caller's error, as `From<UpstreamError>` above maps a raised one.
#[derive(Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Refusal {
    /// No such record the caller can read.
    NotFound,
    /// The caller can read it but not do this.
    Forbidden,
    NotTeamMember,
    /// `field` of the request names none of the team's records.
    Invalid {
        field: Option<String>,
    },
}

impl Refusal {
    /// The caller's error; `not_found` is what a missing record means to this call.
    pub fn into_error(self, not_found: ApiError) -> ApiError {
        match self {
            Self::NotFound => not_found,
            Self::Forbidden => ApiError::Forbidden,
            Self::NotTeamMember => ApiError::NotTeamMember,
            Self::Invalid { field } => ApiError::InvalidRequest {
                field: field.unwrap_or_else(|| "body".into()),
                reason: "does not name one of the team's records".into(),
            },
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

    #[test]
    fn a_current_secret_key_goes_in_apikey_alone_and_a_legacy_jwt_also_as_the_bearer() {
        let config = |service: &str| {
            crate::config::tests::config_from(&[
                ("SUPABASE_URL", "https://project.supabase.co"),
                ("SUPABASE_ANON_KEY", "anon"),
                ("SUPABASE_SERVICE_ROLE_KEY", service),
            ])
            .unwrap()
        };
        assert_eq!(
            service_role_headers(&config("sb_secret_abc")),
            [("apikey", "sb_secret_abc".to_owned())]
        );
        assert_eq!(
            service_role_headers(&config("eyJ.legacy.jwt")),
            [
                ("apikey", "eyJ.legacy.jwt".to_owned()),
                ("authorization", "Bearer eyJ.legacy.jwt".to_owned())
            ]
        );
    }

    fn database_error(code: &str, message: &str) -> ApiError {
        ApiError::from(UpstreamError::Status {
            status: 400,
            body: String::new(),
            database: Some(DatabaseError {
                code: code.into(),
                message: message.into(),
                hint: None,
                details: None,
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
    fn shared_refusals_decode_beside_an_answers_own_statuses() {
        #[derive(Debug, serde::Deserialize, PartialEq)]
        #[serde(tag = "status", rename_all = "snake_case")]
        enum Answer {
            Done {
                id: String,
            },
            #[serde(untagged)]
            Refused(Refusal),
        }
        let answer = |value: Value| serde_json::from_value::<Answer>(value);
        assert_eq!(
            answer(json!({"status": "done", "id": "j"})).unwrap(),
            Answer::Done { id: "j".into() }
        );
        assert_eq!(
            answer(json!({"status": "invalid", "field": "personaId"})).unwrap(),
            Answer::Refused(Refusal::Invalid {
                field: Some("personaId".into())
            })
        );
        assert!(
            answer(json!({"status": "exploded"})).is_err(),
            "unknown statuses fail"
        );
        let missing = || ApiError::NotFound;
        let error = Refusal::Invalid {
            field: Some("posts[2].personaId".into()),
        }
        .into_error(missing());
        assert_eq!(
            error.message(),
            "`posts[2].personaId` does not name one of the team's records."
        );
        assert!(matches!(
            Refusal::NotFound.into_error(missing()),
            ApiError::NotFound
        ));
        assert!(matches!(
            Refusal::Forbidden.into_error(missing()),
            ApiError::Forbidden
        ));
        assert!(matches!(
            Refusal::NotTeamMember.into_error(missing()),
            ApiError::NotTeamMember
        ));
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
