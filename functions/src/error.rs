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
    /// The database could not take a value the request carried (a data exception or a check
    /// constraint): the caller's 400, with the database's words for the log only.
    InvalidValue(String),
    /// A rate window of the caller (AI requests per minute, or a windowed limit of the
    /// database's `take_rate_limit`) is full.
    RateLimited {
        retry_after: u64,
    },
    CreditLimitReached {
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
            Self::InvalidRequest { .. } | Self::InvalidValue(_) => 400,
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
            Self::InvalidRequest { .. } => "invalid_request",
            Self::InvalidValue(_) => "invalid_value",
            Self::RateLimited { .. } => "rate_limited",
            Self::CreditLimitReached { .. } => "credit_limit_reached",
            Self::NotTeamMember => "not_team_member",
            Self::Forbidden => "forbidden",
            Self::Provider(error) => error.code(),
            Self::InvalidModelOutput => "invalid_model_output",
            Self::Rejected { code, .. } => code,
            Self::Social(failure, _) => failure.code(),
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::InvalidRequest { field, reason } => return format!("`{field}` {reason}."),
            Self::Rejected { message, .. } => return message.clone(),
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
            Self::InvalidRequest { .. } => "The request is invalid.",
            Self::InvalidValue(_) => {
                "A value in the request has the wrong form or is out of range."
            }
            Self::RateLimited { .. } => "Too many requests. Retry after the indicated delay.",
            Self::CreditLimitReached { .. } => "The monthly AI credits are used up.",
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
            Self::Rejected { .. } => "The request was refused.",
            Self::Social(failure, _) => failure.message(),
        }
    }

    /// Structured facts beside `code` and `message`, e.g. what remains of the credits.
    fn details(&self) -> Option<Value> {
        match self {
            Self::InvalidRequest { field, .. } => Some(json!({ "field": field })),
            Self::PayloadTooLarge { limit } => Some(json!({ "maxBytes": limit })),
            Self::RateLimited { retry_after } => Some(json!({ "retryAfter": retry_after })),
            Self::CreditLimitReached {
                remaining,
                limit,
                resets_at,
            } => Some(json!({ "remaining": remaining, "limit": limit, "resetsAt": resets_at })),
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
        #[derive(Serialize)]
        struct Envelope<'a> {
            error: Detail<'a>,
        }
        #[derive(Serialize)]
        struct Detail<'a> {
            code: &'a str,
            message: String,
            #[serde(flatten, skip_serializing_if = "Option::is_none")]
            details: Option<Value>,
        }
        let response = Response::json(
            self.status(),
            &Envelope {
                error: Detail {
                    code: self.code(),
                    message: self.message(),
                    details: self.details(),
                },
            },
        );
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
    fn an_excerpt_keeps_the_first_300_characters_whole() {
        assert_eq!(excerpt("short"), "short");
        let long = "é".repeat(400);
        assert_eq!(excerpt(&long), "é".repeat(300));
    }
}
