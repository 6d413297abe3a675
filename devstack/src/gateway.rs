//! One port serving Supabase's API paths, as a project's API gateway does: `/rest/v1/*` is proxied
//! to the PostgREST-compatible server, `/auth/v1/*` is the auth stand-in. Requests must carry a
//! valid `apikey` (header or query) except on the few open auth paths; a REST request without
//! `Authorization` is forwarded with the API key as its bearer token, as Supabase does.

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::json;

/// Largest request body the gateway forwards (Supabase's API gateway limits bodies too).
const MAX_BODY_BYTES: usize = 50 * 1024 * 1024;

/// Auth paths a browser reaches by following a link, or that publish keys: no API key needed.
const OPEN_PATHS: [&str; 3] = [
    "/auth/v1/verify",
    "/auth/v1/.well-known/jwks.json",
    "/auth/v1/health",
];

pub struct GatewayConfig {
    /// Base URL of the REST surface, e.g. `http://127.0.0.1:54323/api`.
    pub postgrest_url: String,
    pub anon_key: String,
    pub service_role_key: String,
}

pub struct Gateway {
    config: GatewayConfig,
    client: reqwest::Client,
}

impl Gateway {
    pub fn new(config: GatewayConfig) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client");
        Self { config, client }
    }

    /// The REST proxy, with `services` (auth, storage, mailbox) mounted beside it.
    pub fn router(self, services: Router) -> Router {
        let gateway = Arc::new(self);
        Router::new()
            .route("/rest/v1", any(proxy_rest))
            .route("/rest/v1/{*path}", any(proxy_rest))
            .with_state(gateway.clone())
            .merge(services)
            .fallback(no_route)
            .layer(middleware::from_fn_with_state(gateway, require_api_key))
    }

    /// The API key a request presents, if it is one of the project's keys.
    fn api_key<'a>(
        &self,
        headers: &'a HeaderMap,
        query: Option<&'a str>,
    ) -> Result<&'a str, Response> {
        let presented = headers
            .get("apikey")
            .and_then(|v| v.to_str().ok())
            .or_else(|| query_param(query?, "apikey"));
        match presented {
            None => Err(kong_error(
                StatusCode::UNAUTHORIZED,
                "No API key found in request",
            )),
            Some(key) if key == self.config.anon_key || key == self.config.service_role_key => {
                Ok(key)
            }
            Some(_) => Err(kong_error(StatusCode::UNAUTHORIZED, "Invalid API key")),
        }
    }
}

async fn require_api_key(
    State(gateway): State<Arc<Gateway>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let guarded = ["/rest/v1", "/auth/v1", "/storage/v1"]
        .iter()
        .any(|p| path.starts_with(p));
    if guarded && !OPEN_PATHS.contains(&path) && !path.starts_with("/storage/v1/object/sign/") {
        if let Err(response) = gateway.api_key(request.headers(), request.uri().query()) {
            return response;
        }
    }
    next.run(request).await
}

async fn no_route() -> Response {
    kong_error(StatusCode::NOT_FOUND, "no Route matched with those values")
}

async fn proxy_rest(State(gateway): State<Arc<Gateway>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let query = parts.uri.query();
    let api_key = match gateway.api_key(&parts.headers, query) {
        Ok(key) => key.to_owned(),
        Err(response) => return response,
    };
    let rest = parts
        .uri
        .path()
        .strip_prefix("/rest/v1")
        .unwrap_or_default();
    let mut url = format!("{}{}", gateway.config.postgrest_url, rest);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    let Ok(body) = to_bytes(body, MAX_BODY_BYTES).await else {
        return kong_error(StatusCode::PAYLOAD_TOO_LARGE, "Request size limit exceeded");
    };

    let mut headers = forwarded_headers(&parts.headers);
    if !headers.contains_key(header::AUTHORIZATION) {
        let bearer =
            HeaderValue::from_str(&format!("Bearer {api_key}")).expect("API keys are ASCII");
        headers.insert(header::AUTHORIZATION, bearer);
    }
    let upstream = gateway
        .client
        .request(parts.method, url)
        .headers(headers)
        .body(body)
        .send()
        .await;
    match upstream {
        Ok(upstream) => {
            let status = upstream.status();
            let headers = forwarded_headers(upstream.headers());
            match upstream.bytes().await {
                Ok(bytes) => (status, headers, Body::from(bytes)).into_response(),
                Err(_) => kong_error(
                    StatusCode::BAD_GATEWAY,
                    "An invalid response was received from the upstream server",
                ),
            }
        }
        Err(_) => kong_error(
            StatusCode::BAD_GATEWAY,
            "An invalid response was received from the upstream server",
        ),
    }
}

/// Drops hop-by-hop headers and those the HTTP stack recomputes.
fn forwarded_headers(headers: &HeaderMap) -> HeaderMap {
    const DROPPED: [header::HeaderName; 5] = [
        header::HOST,
        header::CONNECTION,
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
    ];
    let mut out = headers.clone();
    for name in DROPPED {
        out.remove(name);
    }
    out
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find_map(|(key, value)| (key == name).then_some(value))
}

/// Error bodies in the shape Supabase's API gateway uses.
fn kong_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "message": message }))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_is_read_from_the_query_when_no_header() {
        assert_eq!(query_param("select=*&apikey=abc", "apikey"), Some("abc"));
        assert_eq!(query_param("select=*", "apikey"), None);
    }
}
