//! Request ids and the one JSON log line written per request.

use serde::Serialize;

use crate::http::Headers;
use crate::infra::hex;

const REQUEST_ID_HEADER: &str = "x-request-id";
const MAX_REQUEST_ID_LEN: usize = 128;

/// The id that ties a response to its log line: the caller's when sane, else a random one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RequestId(String);

impl RequestId {
    pub const HEADER: &'static str = REQUEST_ID_HEADER;

    pub fn from_headers(headers: &Headers) -> Self {
        headers
            .get(REQUEST_ID_HEADER)
            .filter(|candidate| is_sane(candidate))
            .map(|candidate| Self(candidate.to_owned()))
            .unwrap_or_else(Self::generate)
    }

    fn generate() -> Self {
        Self(hex::random_128())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Echoed ids end up in our logs and headers, so only short, plain tokens are accepted.
fn is_sane(candidate: &str) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&candidate.len())
        && candidate
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
}

/// Fields of the request log line. Holds only what is safe to log: the route template
/// (never the raw path or query), no headers, no tokens.
#[derive(Debug, Serialize)]
pub struct RequestLog<'a> {
    pub request_id: &'a RequestId,
    pub method: &'a str,
    pub route: Option<&'static str>,
    pub status: u16,
    pub duration_ms: f64,
    pub user_id: Option<&'a str>,
    /// Stable error code and internal cause when the request failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<&'a str>,
}

impl RequestLog<'_> {
    pub fn to_json_line(&self) -> String {
        #[derive(Serialize)]
        struct Line<'b, 'a> {
            level: &'static str,
            msg: &'static str,
            #[serde(flatten)]
            fields: &'b RequestLog<'a>,
        }
        let level = if self.status >= 500 { "error" } else { "info" };
        serde_json::to_string(&Line {
            level,
            msg: "request",
            fields: self,
        })
        .expect("log fields serialize to JSON")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers_with_request_id(value: &str) -> Headers {
        [("X-Request-Id".to_owned(), value.to_owned())]
            .into_iter()
            .collect()
    }

    #[test]
    fn echoes_sane_request_ids() {
        for id in ["abc-123", "A.b_c-9", &"x".repeat(128)] {
            assert_eq!(
                RequestId::from_headers(&headers_with_request_id(id)).as_str(),
                id
            );
        }
    }

    #[test]
    fn replaces_missing_or_unsafe_request_ids() {
        for id in [
            "",
            "has space",
            "quote\"",
            "line\nbreak",
            "ünï",
            &"x".repeat(129),
        ] {
            let generated = RequestId::from_headers(&headers_with_request_id(id));
            assert_ne!(generated.as_str(), id);
            assert_eq!(generated.as_str().len(), 32);
            assert!(is_sane(generated.as_str()));
        }
        let first = RequestId::from_headers(&Headers::default());
        let second = RequestId::from_headers(&Headers::default());
        assert_ne!(first, second);
    }

    #[test]
    fn formats_one_json_line_with_the_contract_fields() {
        let request_id = RequestId("req-1".into());
        let log = RequestLog {
            request_id: &request_id,
            method: "GET",
            route: Some("/v1/me"),
            status: 503,
            duration_ms: 12.5,
            user_id: Some("user-1"),
            error_code: Some("database_unavailable"),
            cause: Some("connection refused"),
        };
        let line = log.to_json_line();
        assert!(!line.contains('\n'));
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({
                "level": "error", "msg": "request", "request_id": "req-1", "method": "GET",
                "route": "/v1/me", "status": 503, "duration_ms": 12.5, "user_id": "user-1",
                "error_code": "database_unavailable", "cause": "connection refused",
            })
        );
    }
}
