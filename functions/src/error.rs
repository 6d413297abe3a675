//! The worker's one error type: each variant maps to a status, a stable `code` and a message
//! safe to show callers. Internal causes travel along for the request log only.

use serde::Serialize;

use crate::auth::AuthError;
use crate::http::Response;

#[derive(Debug)]
pub enum ApiError {
    NotFound,
    MethodNotAllowed {
        allowed: Vec<&'static str>,
    },
    Auth(AuthError),
    ProfileNotFound,
    /// The database (PostgREST) could not be reached or did not answer a health check.
    DatabaseUnavailable(String),
    /// PostgREST answered a data request with an unexpected status or body.
    Upstream(String),
    Misconfigured(String),
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            Self::NotFound | Self::ProfileNotFound => 404,
            Self::MethodNotAllowed { .. } => 405,
            Self::Auth(error) => error.status(),
            Self::DatabaseUnavailable(_) => 503,
            Self::Upstream(_) => 502,
            Self::Misconfigured(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::Auth(error) => error.code(),
            Self::ProfileNotFound => "profile_not_found",
            Self::DatabaseUnavailable(_) => "database_unavailable",
            Self::Upstream(_) => "upstream_error",
            Self::Misconfigured(_) => "server_misconfigured",
        }
    }

    fn message(&self) -> &'static str {
        match self {
            Self::NotFound => "No such endpoint.",
            Self::MethodNotAllowed { .. } => "This endpoint does not support that method.",
            Self::Auth(error) => error.message(),
            Self::ProfileNotFound => "No profile is visible for this user.",
            Self::DatabaseUnavailable(_) => "The database is unavailable. Try again later.",
            Self::Upstream(_) => "The database returned an unexpected answer.",
            Self::Misconfigured(_) => "The server is misconfigured.",
        }
    }

    /// What went wrong internally, for the request log; never sent to the caller.
    pub fn cause(&self) -> Option<&str> {
        match self {
            Self::DatabaseUnavailable(cause)
            | Self::Upstream(cause)
            | Self::Misconfigured(cause) => Some(cause),
            Self::Auth(error) => error.cause(),
            Self::NotFound | Self::MethodNotAllowed { .. } | Self::ProfileNotFound => None,
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
            message: &'a str,
        }
        let response = Response::json(
            self.status(),
            &Envelope {
                error: Detail {
                    code: self.code(),
                    message: self.message(),
                },
            },
        );
        match self {
            Self::MethodNotAllowed { allowed } => response.with_header("allow", allowed.join(", ")),
            Self::Auth(_) => response.with_header("www-authenticate", "Bearer"),
            _ => response,
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
        let Body::Bytes(bytes) = &response.body;
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
}
