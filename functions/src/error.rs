//! The worker's one error type: each variant maps to a status, a stable `code` and a message
//! safe to show callers. Internal causes travel along for the request log only.

use serde::Serialize;
use serde_json::{json, Value};

use crate::ai::provider::ProviderError;
use crate::auth::AuthError;
use crate::http::{BodyError, Response};
use crate::social::failure::SocialFailure;

#[derive(Debug)]
pub enum ApiError {
    NotFound,
    MethodNotAllowed {
        allowed: Vec<&'static str>,
    },
    /// The request body is over the endpoint's limit (`router::Route::max_body`).
    PayloadTooLarge {
        limit: usize,
    },
    Auth(AuthError),
    ProfileNotFound,
    /// The database (PostgREST) could not be reached or did not answer a health check.
    DatabaseUnavailable(String),
    /// PostgREST answered a data request with an unexpected status or body.
    Upstream(String),
    Misconfigured(String),
    /// A request body field is missing or invalid: `field` names it (JSON path).
    InvalidRequest {
        field: String,
        reason: String,
    },
    /// Fields of what the request names (a post and its destinations) break rules: every
    /// problem at once, the first also named as `field`.
    InvalidFields(Vec<Problem>),
    /// The database could not take a value the request carried (a data exception or a check
    /// constraint): the caller's 400, with the database's words for the log only.
    InvalidValue(String),
    /// A rate window of the caller (AI requests per minute, or a windowed limit of the
    /// database's `take_rate_limit`) is full.
    RateLimited {
        retry_after: u64,
    },
    /// The call's estimate (`needed`) does not fit in what remains of the monthly credits.
    CreditLimitReached {
        needed: i64,
        remaining: i64,
        limit: i64,
        resets_at: String,
    },
    NotTeamMember,
    /// Authenticated, but the action needs a role the caller lacks.
    Forbidden,
    Provider(ProviderError),
    /// JSON mode was asked for and the model's answer is not JSON.
    InvalidModelOutput,
    /// Supabase Auth did not do what we asked (e.g. send an invite email).
    AuthServiceUnavailable(String),
    /// A social connection endpoint failed (its own codes), with an internal cause for the log.
    Social(SocialFailure, Option<String>),
    /// A wall time its zone skips (`ambiguous: false`) or repeats (`true`) around a DST change;
    /// `candidates` are the instants it could mean.
    LocalTimeUnresolved {
        ambiguous: bool,
        candidates: Vec<String>,
    },
    /// The database refused by one of our rules; `message` was written for users.
    Rejected {
        status: u16,
        code: &'static str,
        message: String,
    },
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            Self::NotFound | Self::ProfileNotFound => 404,
            Self::InvalidRequest { .. }
            | Self::InvalidFields(_)
            | Self::InvalidValue(_)
            | Self::LocalTimeUnresolved { .. } => 400,
            Self::RateLimited { .. } => 429,
            Self::CreditLimitReached { .. } | Self::NotTeamMember | Self::Forbidden => 403,
            Self::Provider(error) => match error {
                ProviderError::RateLimited { .. } => 429,
                ProviderError::ContentFiltered => 422,
                ProviderError::Unavailable(_) => 503,
                ProviderError::AuthFailed(_) | ProviderError::Malformed(_) => 502,
            },
            Self::InvalidModelOutput => 502,
            Self::MethodNotAllowed { .. } => 405,
            Self::PayloadTooLarge { .. } => 413,
            Self::Auth(error) => error.status(),
            Self::DatabaseUnavailable(_) | Self::AuthServiceUnavailable(_) => 503,
            Self::Upstream(_) => 502,
            Self::Misconfigured(_) => 500,
            Self::Rejected { status, .. } => *status,
            Self::Social(failure, _) => failure.status(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::Auth(error) => error.code(),
            Self::ProfileNotFound => "profile_not_found",
            Self::DatabaseUnavailable(_) => "database_unavailable",
            Self::AuthServiceUnavailable(_) => "auth_service_unavailable",
            Self::Upstream(_) => "upstream_error",
            Self::Misconfigured(_) => "server_misconfigured",
            Self::InvalidRequest { .. } | Self::InvalidFields(_) => "invalid_request",
            Self::InvalidValue(_) => "invalid_value",
            Self::RateLimited { .. } => "rate_limited",
            Self::CreditLimitReached { .. } => "credit_limit_reached",
            Self::NotTeamMember => "not_team_member",
            Self::Forbidden => "forbidden",
            Self::Provider(error) => error.code(),
            Self::InvalidModelOutput => "invalid_model_output",
            Self::LocalTimeUnresolved {
                ambiguous: true, ..
            } => "schedule_time_ambiguous",
            Self::LocalTimeUnresolved { .. } => "schedule_time_nonexistent",
            Self::Rejected { code, .. } => code,
            Self::Social(failure, _) => failure.code(),
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::InvalidRequest { field, reason } => return format!("`{field}` {reason}."),
            Self::InvalidFields(problems) => {
                if let [first, rest @ ..] = problems.as_slice() {
                    let more = match rest.len() {
                        0 => String::new(),
                        n => format!(" ({n} more in `problems`)"),
                    };
                    return format!("`{}` {}.{more}", first.path, first.message);
                }
            }
            Self::Rejected { message, .. } => return message.clone(),
            Self::CreditLimitReached {
                needed,
                remaining,
                limit,
                resets_at,
            } => {
                return format!(
                    "This call needs an estimated {needed} AI credits, and {remaining} of the monthly {limit} \
                     remain (they reset at {resets_at})."
                )
            }
            _ => {}
        }
        self.fixed_message().to_owned()
    }

    fn fixed_message(&self) -> &'static str {
        match self {
            Self::NotFound => "No such endpoint.",
            Self::MethodNotAllowed { .. } => "This endpoint does not support that method.",
            Self::PayloadTooLarge { .. } => "The request body is too large for this endpoint.",
            Self::Auth(error) => error.message(),
            Self::ProfileNotFound => "No profile is visible for this user.",
            Self::DatabaseUnavailable(_) => "The database is unavailable. Try again later.",
            Self::AuthServiceUnavailable(_) => {
                "The sign-in service is unavailable. Try again later."
            }
            Self::Upstream(_) => "The database returned an unexpected answer.",
            Self::Misconfigured(_) => "The server is misconfigured.",
            Self::InvalidRequest { .. } | Self::InvalidFields(_) => "The request is invalid.",
            Self::InvalidValue(_) => {
                "A value in the request has the wrong form or is out of range."
            }
            Self::RateLimited { .. } => "Too many requests. Retry after the indicated delay.",
            Self::CreditLimitReached { .. } => "Not enough AI credits remain for this call.",
            Self::NotTeamMember => "You are not a member of that team.",
            Self::Forbidden => "You are not allowed to do that.",
            Self::Provider(ProviderError::AuthFailed(_)) => "The AI provider refused the API key.",
            Self::Provider(ProviderError::RateLimited { .. }) => {
                "The AI provider is rate limiting. Try again later."
            }
            Self::Provider(ProviderError::ContentFiltered) => {
                "The AI provider refused the content."
            }
            Self::Provider(_) => "The AI provider is unavailable. Try again later.",
            Self::InvalidModelOutput => "The model did not return valid JSON.",
            Self::LocalTimeUnresolved {
                ambiguous: true, ..
            } => {
                "That local time happens twice in its time zone (the clocks go back): send one of \
                 `candidates` as `scheduledAt`."
            }
            Self::LocalTimeUnresolved { .. } => {
                "That local time does not exist in its time zone (the clocks jump over it): send \
                 one of `candidates` as `scheduledAt`."
            }
            Self::Rejected { .. } => "The request was refused.",
            Self::Social(failure, _) => failure.message(),
        }
    }

    /// Structured facts beside `code` and `message`, e.g. what remains of the credits.
    fn details(&self) -> Option<Value> {
        match self {
            Self::InvalidRequest { field, .. } => Some(json!({ "field": field })),
            Self::InvalidFields(problems) => Some(json!({
                "field": problems.first().map(|first| &first.path),
                "problems": problems,
            })),
            Self::PayloadTooLarge { limit } => Some(json!({ "maxBytes": limit })),
            Self::RateLimited { retry_after } => Some(json!({ "retryAfter": retry_after })),
            Self::LocalTimeUnresolved { candidates, .. } => {
                Some(json!({ "field": "localTime", "candidates": candidates }))
            }
            Self::CreditLimitReached {
                needed,
                remaining,
                limit,
                resets_at,
            } => Some(json!({
                "needed": needed, "remaining": remaining, "limit": limit, "resetsAt": resets_at,
            })),
            _ => None,
        }
    }

    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after } => Some(*retry_after),
            Self::Provider(ProviderError::RateLimited {
                retry_after_seconds,
            }) => *retry_after_seconds,
            Self::Social(failure, _) => failure.retry_after(),
            _ => None,
        }
    }

    /// What went wrong internally, for the request log; never sent to the caller.
    pub fn cause(&self) -> Option<&str> {
        match self {
            Self::DatabaseUnavailable(cause)
            | Self::AuthServiceUnavailable(cause)
            | Self::Upstream(cause)
            | Self::InvalidValue(cause)
            | Self::Misconfigured(cause) => Some(cause),
            Self::Auth(error) => error.cause(),
            Self::Provider(
                ProviderError::AuthFailed(cause)
                | ProviderError::Unavailable(cause)
                | ProviderError::Malformed(cause),
            ) => Some(cause),
            Self::Social(failure, cause) => cause.as_deref().or_else(|| failure.cause()),
            _ => None,
        }
    }

    /// Adds an internal cause for the log (social failures only).
    pub fn with_cause(self, cause: String) -> Self {
        match self {
            Self::Social(failure, _) => Self::Social(failure, Some(cause)),
            other => other,
        }
    }

    pub fn to_response(&self) -> Response {
        self.respond(json!({ "code": self.code(), "message": self.message() }))
    }

    /// The error as OpenAI's API answers one, `{"error": {"message", "type", "param", "code"}}`,
    /// for the OpenAI-compatible routes: OpenAI's SDKs raise it as their class for the status,
    /// with this `code`, `type` and `param`. The details the worker adds stay beside them.
    pub fn to_openai_response(&self) -> Response {
        let param = match self {
            Self::InvalidRequest { field, .. } => Some(field.as_str()),
            Self::Rejected { code, .. } if code.starts_with("model_") => Some("model"),
            _ => None,
        };
        self.respond(json!({
            "message": self.message(), "type": self.openai_type(), "param": param, "code": self.code(),
        }))
    }

    /// The `type` OpenAI gives an error of this status.
    fn openai_type(&self) -> &'static str {
        match self {
            Self::CreditLimitReached { .. } => "insufficient_quota",
            _ => match self.status() {
                429 => "requests",
                500.. => "server_error",
                _ => "invalid_request_error",
            },
        }
    }

    /// `{"error": fields + details}` with the error's status and headers.
    fn respond(&self, mut fields: Value) -> Response {
        if let (Some(Value::Object(details)), Value::Object(fields)) = (self.details(), &mut fields)
        {
            fields.extend(details);
        }
        let response = Response::json(self.status(), &json!({ "error": fields }));
        if let Some(seconds) = self.retry_after() {
            return response.with_header("retry-after", seconds.to_string());
        }
        match self {
            Self::MethodNotAllowed { allowed } => response.with_header("allow", allowed.join(", ")),
            Self::Auth(_) => response.with_header("www-authenticate", "Bearer"),
            Self::Social(SocialFailure::Redirected { location, .. }, _) => {
                response.with_header("location", location.clone())
            }
            _ => response,
        }
    }
}

/// One refused field: where it is (`destinations[1].body`), a stable code and why.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub path: String,
    pub code: &'static str,
    pub message: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            code,
            message: message.into(),
        }
    }
}

/// The start of a third party's text (an error body, a platform's stated reason), bounded for a
/// log line or a stored message: enough to diagnose, never a whole page.
pub fn excerpt(text: &str) -> String {
    text.chars().take(300).collect()
}

impl From<ProviderError> for ApiError {
    fn from(error: ProviderError) -> Self {
        Self::Provider(error)
    }
}

impl From<SocialFailure> for ApiError {
    fn from(failure: SocialFailure) -> Self {
        Self::Social(failure, None)
    }
}

impl From<BodyError> for ApiError {
    fn from(error: BodyError) -> Self {
        match error {
            BodyError::TooLarge { limit } => Self::PayloadTooLarge { limit },
            // The client went away mid-body: nobody reads this answer.
            BodyError::Unreadable(_) => Self::InvalidRequest {
                field: "body".into(),
                reason: "could not be read".into(),
            },
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        Self::Auth(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Body;

    fn body_json(response: &Response) -> serde_json::Value {
        let Body::Bytes(bytes) = &response.body else {
            panic!("a whole body")
        };
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn renders_the_error_envelope_without_the_cause() {
        let error = ApiError::DatabaseUnavailable("connect to http://10.0.0.1:5432 refused".into());
        let response = error.to_response();
        assert_eq!(response.status, 503);
        let body = body_json(&response);
        assert_eq!(body["error"]["code"], "database_unavailable");
        assert!(!body.to_string().contains("10.0.0.1"));
        assert_eq!(
            error.cause(),
            Some("connect to http://10.0.0.1:5432 refused")
        );
    }

    #[test]
    fn method_not_allowed_lists_the_allowed_methods() {
        let response = ApiError::MethodNotAllowed {
            allowed: vec!["GET"],
        }
        .to_response();
        assert_eq!(response.status, 405);
        assert_eq!(response.header("allow"), Some("GET"));
        assert_eq!(body_json(&response)["error"]["code"], "method_not_allowed");
    }

    #[test]
    fn rule_violations_list_every_problem_and_name_the_first() {
        let error = ApiError::InvalidFields(vec![
            Problem::new(
                "destinations[0].body",
                "too_long",
                "x allows at most 280 characters",
            ),
            Problem::new(
                "destinations[1].options.boardId",
                "invalid_option",
                "is required",
            ),
        ]);
        let body = body_json(&error.to_response());
        assert_eq!((error.status(), error.code()), (400, "invalid_request"));
        assert_eq!(body["error"]["field"], "destinations[0].body");
        assert_eq!(
            body["error"]["message"],
            "`destinations[0].body` x allows at most 280 characters. (1 more in `problems`)"
        );
        assert_eq!(
            body["error"]["problems"][1],
            json!({"path": "destinations[1].options.boardId", "code": "invalid_option", "message": "is required"})
        );
    }

    #[test]
    fn a_credit_refusal_says_what_the_call_needs_beside_what_remains() {
        let error = ApiError::CreditLimitReached {
            needed: 60,
            remaining: 40,
            limit: 100,
            resets_at: "2026-01-01T00:00:00+00:00".into(),
        };
        let body = body_json(&error.to_response());
        assert_eq!(
            (&body["error"]["needed"], &body["error"]["remaining"]),
            (&json!(60), &json!(40))
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("needs an estimated 60") && message.contains("40 of the monthly 100"),
            "{message}"
        );
    }

    #[test]
    fn the_openai_shape_has_message_type_param_and_code() {
        let invalid = ApiError::InvalidRequest {
            field: "messages[0].role".into(),
            reason: "is unknown".into(),
        };
        assert_eq!(
            body_json(&invalid.to_openai_response()),
            json!({"error": {"message": "`messages[0].role` is unknown.", "type": "invalid_request_error",
                             "param": "messages[0].role", "code": "invalid_request", "field": "messages[0].role"}})
        );
        let limited = ApiError::RateLimited { retry_after: 7 }.to_openai_response();
        assert_eq!(
            (limited.status, limited.header("retry-after")),
            (429, Some("7"))
        );
        assert_eq!(body_json(&limited)["error"]["type"], "requests");
        let error = ApiError::Upstream("x".into());
        assert_eq!(
            body_json(&error.to_openai_response())["error"],
            json!({"message": error.message(), "type": "server_error", "param": null, "code": "upstream_error"})
        );
    }

    #[test]
    fn an_excerpt_keeps_the_first_300_characters_whole() {
        assert_eq!(excerpt("short"), "short");
        let long = "é".repeat(400);
        assert_eq!(excerpt(&long), "é".repeat(300));
    }
}
