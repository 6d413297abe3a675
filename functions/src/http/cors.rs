//! CORS: which web apps may call the worker from a browser. Browsers send a preflight `OPTIONS`
//! before any call with an `Authorization` header; the worker answers it for the origins listed in
//! `CORS_ALLOWED_ORIGINS` and marks their answers (errors and streams too) as readable by them.
//! Any other origin gets no CORS header, so the browser keeps the answer from its page.

use super::router::Resolution;
use super::{Headers, Request, Response};
use crate::config::{ConfigError, Environment};
use crate::error::ApiError;

/// The headers the Supabase SDKs and our clients send with a call.
const ALLOWED_HEADERS: &str = "authorization, content-type, apikey, x-client-info, x-team-id, \
     idempotency-key, x-request-id, accept, prefer";

/// The answer headers a page may read: the request id to quote, how long to wait, timings, the
/// idempotent replay marker and the rate-limit fields.
const EXPOSED_HEADERS: &str = "x-request-id, retry-after, server-timing, idempotent-replayed, \
     ratelimit, ratelimit-policy, x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset";

/// How long a browser may reuse a preflight answer (Chromium caps it at two hours).
const PREFLIGHT_MAX_AGE_SECONDS: u32 = 7200;

/// `CORS_ALLOWED_ORIGINS`: exact origins (`https://app.example.com`), comma-separated; none by
/// default, so a deployment opts in per web app.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowedOrigins(Vec<String>);

impl AllowedOrigins {
    pub fn setting(raw: Option<&str>, environment: Environment) -> Result<Self, ConfigError> {
        let invalid = |reason| ConfigError::Invalid {
            name: "CORS_ALLOWED_ORIGINS",
            reason,
        };
        let mut origins = Vec::new();
        for entry in raw.unwrap_or_default().split(',').map(str::trim) {
            if entry.is_empty() {
                continue;
            }
            let origin = parse_origin(entry).ok_or(invalid(
                "each entry must be an exact origin such as https://app.example.com \
                 (scheme and host, an optional port, nothing else)",
            ))?;
            if origin.starts_with("http://") && environment == Environment::Production {
                return Err(invalid(
                    "plain http origins are only allowed in development",
                ));
            }
            origins.push(origin);
        }
        Ok(Self(origins))
    }

    /// The request's `Origin` when it is one of ours.
    fn admitted<'a>(&self, headers: &'a Headers) -> Option<&'a str> {
        let origin = headers.get("origin")?;
        let normalized = parse_origin(origin)?;
        self.0.contains(&normalized).then_some(origin)
    }
}

/// `scheme://host[:port]` lowercased, for http(s) origins with a DNS name or IPv4 host and
/// nothing else (no path, userinfo, query, `null` or wildcard).
fn parse_origin(text: &str) -> Option<String> {
    let (scheme, authority) = text.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    let port_ok =
        port.is_none_or(|p| p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok());
    ((scheme == "http" || scheme == "https") && host_ok && port_ok)
        .then(|| format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

/// A browser's preflight (`OPTIONS` with `Access-Control-Request-Method`), answered here; `None`
/// for every other request.
pub fn preflight(
    request: &Request,
    resolution: &Resolution,
    origins: Option<&AllowedOrigins>,
) -> Option<Result<Response, ApiError>> {
    let is_preflight = request.method.eq_ignore_ascii_case("OPTIONS")
        && request
            .headers
            .get("access-control-request-method")
            .is_some();
    if !is_preflight {
        return None;
    }
    let Resolution::MethodNotAllowed { allowed, .. } = resolution else {
        return Some(Err(ApiError::NotFound));
    };
    let Some(origin) = origins.and_then(|origins| origins.admitted(&request.headers)) else {
        return Some(Err(ApiError::Rejected {
            status: 403,
            code: "origin_not_allowed",
            message: "This origin may not call the API from a browser: add it to \
                      CORS_ALLOWED_ORIGINS."
                .to_owned(),
        }));
    };
    let response = Response::empty(204)
        .with_header("access-control-allow-origin", origin)
        .with_header("access-control-allow-methods", allowed.join(", "))
        .with_header("access-control-allow-headers", ALLOWED_HEADERS)
        .with_header(
            "access-control-max-age",
            PREFLIGHT_MAX_AGE_SECONDS.to_string(),
        );
    Some(Ok(response))
}

/// Marks an answer as readable by the calling page when its origin is allowed. Every answer
/// varies by `Origin`, so caches keep one per origin.
pub fn decorate(
    response: Response,
    headers: &Headers,
    origins: Option<&AllowedOrigins>,
) -> Response {
    let response = response.with_header("vary", "Origin");
    if response.header("access-control-allow-origin").is_some() {
        return response; // a preflight answer
    }
    match origins.and_then(|origins| origins.admitted(headers)) {
        Some(origin) => response
            .with_header("access-control-allow-origin", origin)
            .with_header("access-control-expose-headers", EXPOSED_HEADERS),
        None => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::router::Resolution;

    fn origins(raw: &str) -> AllowedOrigins {
        AllowedOrigins::setting(Some(raw), Environment::Development).unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        Headers::from_lines(
            &pairs
                .iter()
                .map(|(n, v)| format!("{n}\n{v}\n"))
                .collect::<String>(),
        )
    }

    #[test]
    fn origins_are_exact_and_refuse_anything_that_is_not_an_origin() {
        let allowed = origins("https://app.example.com, http://localhost:5173");
        let admitted = |origin: &str| allowed.admitted(&headers(&[("origin", origin)])).is_some();
        assert!(admitted("https://app.example.com"));
        assert!(admitted("HTTPS://APP.example.com"));
        assert!(admitted("http://localhost:5173"));
        for refused in [
            "https://app.example.com.evil.com",
            "https://evil.com",
            "http://app.example.com",
            "https://app.example.com:444",
            "http://localhost:5174",
            "null",
            "https://app.example.com/",
            "https://user@app.example.com",
            "",
        ] {
            assert!(!admitted(refused), "{refused}");
        }
        assert!(allowed.admitted(&headers(&[])).is_none());
        for bad in [
            "*",
            "https://app.example.com/path",
            "app.example.com",
            "ftp://x.com",
            "https://a.com:99999",
        ] {
            assert!(
                AllowedOrigins::setting(Some(bad), Environment::Development).is_err(),
                "{bad}"
            );
        }
        assert!(
            AllowedOrigins::setting(Some("http://localhost:3000"), Environment::Production)
                .is_err()
        );
        assert_eq!(
            AllowedOrigins::setting(None, Environment::Production),
            Ok(AllowedOrigins::default())
        );
    }

    fn options(origin: &str) -> Request {
        Request {
            method: "OPTIONS".into(),
            path: "/v1/posts/schedule".into(),
            query: None,
            headers: headers(&[
                ("origin", origin),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "authorization, content-type",
                ),
            ]),
            body: Vec::new(),
        }
    }

    #[test]
    fn a_preflight_from_an_allowed_origin_lists_the_paths_methods_and_our_headers() {
        let known = Resolution::MethodNotAllowed {
            template: "/v1/posts/schedule",
            allowed: vec!["POST"],
        };
        let allowed = origins("http://localhost:5173");
        let answer = preflight(&options("http://localhost:5173"), &known, Some(&allowed))
            .unwrap()
            .unwrap();
        assert_eq!(answer.status, 204);
        assert_eq!(
            answer.header("access-control-allow-origin"),
            Some("http://localhost:5173")
        );
        assert_eq!(answer.header("access-control-allow-methods"), Some("POST"));
        assert!(answer
            .header("access-control-allow-headers")
            .unwrap()
            .contains("authorization"));
        assert_eq!(answer.header("access-control-max-age"), Some("7200"));

        let refused = preflight(&options("https://evil.com"), &known, Some(&allowed)).unwrap();
        assert_eq!(refused.unwrap_err().code(), "origin_not_allowed");
        let unconfigured = preflight(&options("http://localhost:5173"), &known, None).unwrap();
        assert_eq!(unconfigured.unwrap_err().code(), "origin_not_allowed");
        let unknown = preflight(
            &options("http://localhost:5173"),
            &Resolution::NotFound,
            Some(&allowed),
        );
        assert_eq!(unknown.unwrap().unwrap_err().code(), "not_found");

        let mut plain = options("http://localhost:5173");
        plain.headers = headers(&[("origin", "http://localhost:5173")]);
        assert!(
            preflight(&plain, &known, Some(&allowed)).is_none(),
            "not a preflight"
        );
    }

    #[test]
    fn answers_to_allowed_origins_are_readable_and_every_answer_varies_by_origin() {
        let allowed = origins("https://app.example.com");
        let answer = decorate(
            Response::json(429, &serde_json::json!({})),
            &headers(&[("origin", "https://app.example.com")]),
            Some(&allowed),
        );
        assert_eq!(
            answer.header("access-control-allow-origin"),
            Some("https://app.example.com")
        );
        assert!(answer
            .header("access-control-expose-headers")
            .unwrap()
            .contains("retry-after"));
        assert_eq!(answer.header("vary"), Some("Origin"));

        let other = decorate(
            Response::json(200, &serde_json::json!({})),
            &headers(&[("origin", "https://evil.com")]),
            Some(&allowed),
        );
        assert_eq!(other.header("access-control-allow-origin"), None);
        assert_eq!(other.header("access-control-expose-headers"), None);
        assert_eq!(other.header("vary"), Some("Origin"));
    }
}
