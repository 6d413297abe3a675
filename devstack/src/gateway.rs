//! One port serving Supabase's API paths, as a project's API gateway does: `/rest/v1/*` is proxied
//! to the PostgREST-compatible server, `/auth/v1/*` is the auth stand-in. Requests must carry a
//! valid `apikey` (header or query) except on the few open auth paths and CORS preflights; a REST
//! request without `Authorization` is forwarded with the API key as its bearer token, as Supabase
//! does. The current keys (`sb_publishable_…`, `sb_secret_…`) are not JWTs: as hosted, the
//! gateway stands the role's JWT in for them (in `apikey` and, when `Authorization` is absent or
//! repeats the key, as the bearer), so the services behind see what they always saw. Where the server answers differently from PostgREST (a `+` in a query, RPC result
//! shapes, the OpenAPI description at `/rest/v1/`), the gateway answers as PostgREST does.

use std::sync::Arc;

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use deadpool_postgres::Pool;
use serde_json::json;

use crate::openapi;
use crate::postgrest_parity::{
    hosted_error, names_a_missing_column, selected_columns, unquoted_columns,
};
use crate::rpc_shape::{reshape, Returns, RpcShapes};

/// Largest request body the gateway forwards (Supabase's API gateway limits bodies too).
const MAX_BODY_BYTES: usize = 50 * 1024 * 1024;

/// Storage paths served without an API key on hosted Supabase: signed URLs carry their own
/// token, and a public bucket's objects are public (an avatar in an `<img>`).
const OPEN_STORAGE_PREFIXES: [&str; 2] = ["/storage/v1/object/sign/", "/storage/v1/object/public/"];

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
    /// The current-style keys of the same two roles.
    pub publishable_key: String,
    pub secret_key: String,
}

pub struct Gateway {
    config: GatewayConfig,
    client: reqwest::Client,
    /// The database, as the catalog reader behind the RPC shapes and the OpenAPI description.
    pool: Pool,
    rpc_shapes: RpcShapes,
}

impl Gateway {
    pub fn new(config: GatewayConfig, pool: Pool) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client");
        Self {
            config,
            client,
            rpc_shapes: RpcShapes::new(pool.clone()),
            pool,
        }
    }

    /// The REST proxy, with `services` (auth, storage, mailbox) mounted beside it.
    pub fn router(self, services: Router) -> Router {
        let gateway = Arc::new(self);
        Router::new()
            .route("/rest/v1", any(proxy_rest))
            .route("/rest/v1/", any(proxy_rest))
            .route("/rest/v1/{*path}", any(proxy_rest))
            .with_state(gateway.clone())
            .merge(services)
            .fallback(no_route)
            .layer(middleware::from_fn_with_state(gateway, require_api_key))
            .layer(middleware::from_fn(cors))
    }

    /// The API key a request presents, if it is one of the project's keys.
    fn api_key<'a>(
        &self,
        headers: &'a HeaderMap,
        query: Option<&'a str>,
    ) -> Result<&'a str, Response> {
        match presented_key(headers, query) {
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
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let guarded = ["/rest/v1", "/auth/v1", "/storage/v1", "/realtime/v1"]
        .iter()
        .any(|p| path.starts_with(p));
    let open = OPEN_PATHS.contains(&path)
        || OPEN_STORAGE_PREFIXES
            .iter()
            .any(|prefix| path.starts_with(prefix));
    // Open paths need no key, but one that is sent still names the role (e.g. signing a URL
    // as the service role).
    if guarded {
        if let Err(response) = gateway.stand_in_for_current_key(&mut request) {
            return response;
        }
    }
    if guarded && !open {
        if let Err(response) = gateway.api_key(request.headers(), request.uri().query()) {
            return response;
        }
    }
    next.run(request).await
}

impl Gateway {
    /// The role's JWT for a current-style key (`sb_publishable_…` → anon, `sb_secret_…` →
    /// service_role), `None` for any other string.
    fn jwt_for_current_key(&self, key: &str) -> Option<&str> {
        let config = &self.config;
        if key == config.publishable_key {
            Some(&config.anon_key)
        } else if key == config.secret_key {
            Some(&config.service_role_key)
        } else {
            None
        }
    }

    /// Puts the role's JWT where a current-style key was presented, as hosted's gateway does; a
    /// secret key from a browser, or beside a bearer that is another `sb_` key, is refused.
    fn stand_in_for_current_key(&self, request: &mut Request) -> Result<(), Response> {
        let headers = request.headers();
        let presented = presented_key(headers, request.uri().query())
            .unwrap_or_default()
            .to_owned();
        let Some(jwt) = self.jwt_for_current_key(&presented).map(str::to_owned) else {
            return Ok(());
        };
        if presented == self.config.secret_key && from_a_browser(headers) {
            return Err(kong_error(
                StatusCode::UNAUTHORIZED,
                "Forbidden use of secret API key in browser",
            ));
        }
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        // The SDKs send the key as the bearer too when no one is signed in.
        let key_as_bearer = match bearer {
            None => true,
            Some(token) if token == presented => true,
            Some(token) if token.starts_with("sb_") => {
                return Err(kong_error(StatusCode::UNAUTHORIZED, "Invalid API key"))
            }
            Some(_) => false,
        };
        let as_header = |value: String| HeaderValue::from_str(&value).expect("API keys are ASCII");
        request
            .headers_mut()
            .insert("apikey", as_header(jwt.clone()));
        if key_as_bearer {
            let bearer = as_header(format!("Bearer {jwt}"));
            request.headers_mut().insert(header::AUTHORIZATION, bearer);
        }
        replace_query_key(request, &presented, &jwt);
        Ok(())
    }
}

/// The `apikey` header, or the query's (how WebSocket clients send it).
fn presented_key<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> Option<&'a str> {
    headers
        .get("apikey")
        .and_then(|v| v.to_str().ok())
        .or_else(|| query_param(query?, "apikey"))
}

/// A WebSocket client sends its key in the query: the role's JWT replaces it there too.
fn replace_query_key(request: &mut Request, presented: &str, jwt: &str) {
    let uri = request.uri();
    let Some(query) = uri
        .query()
        .filter(|q| query_param(q, "apikey") == Some(presented))
    else {
        return;
    };
    let query = query.replace(&format!("apikey={presented}"), &format!("apikey={jwt}"));
    let rewritten = format!("{}?{query}", uri.path());
    *request.uri_mut() = rewritten.parse().expect("a path and query stay a URI");
}

/// Hosted refuses secret keys from browsers, told apart by their `User-Agent`.
fn from_a_browser(headers: &HeaderMap) -> bool {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|agent| agent.starts_with("Mozilla/"))
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
    if matches!(rest, "" | "/") && parts.method == Method::GET {
        return openapi_description(&gateway, &api_key, &parts.headers).await;
    }
    let mut url = format!("{}{}", gateway.config.postgrest_url, rest);
    if let Some(query) = query {
        url.push('?');
        url.push_str(&unquoted_columns(&plus_as_space(query)));
    }
    // Read before the request moves upstream: the answer is reshaped as PostgREST would send it.
    let rpc_function = rest.strip_prefix("/rpc/").map(str::to_owned);
    let wants_object = accepts_single_object(&parts.headers);
    let Ok(body) = to_bytes(body, MAX_BODY_BYTES).await else {
        return kong_error(StatusCode::PAYLOAD_TOO_LARGE, "Request size limit exceeded");
    };

    let rpc_arguments = argument_names(&body, query);
    let mut headers = forwarded_headers(&parts.headers);
    if !headers.contains_key(header::AUTHORIZATION) {
        let bearer =
            HeaderValue::from_str(&format!("Bearer {api_key}")).expect("API keys are ASCII");
        headers.insert(header::AUTHORIZATION, bearer);
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::to_owned);
    let method = parts.method.clone();
    let (status, headers, bytes) = match gateway.forward(parts.method, url, headers, body).await {
        Ok(answer) => answer,
        Err(response) => return response,
    };
    let missing_column = match names_a_missing_column(&method, status, &bytes) {
        true => missing_column(&gateway.pool, rest, query.unwrap_or_default()).await,
        false => None,
    };
    let bearer = bearer.as_deref();
    if let Some((status, error)) = hosted_error(
        &method,
        rest,
        status,
        &bytes,
        bearer,
        missing_column.as_deref(),
    ) {
        return (status, headers, Body::from(error)).into_response();
    }
    let bytes = match rpc_function.filter(|_| status.is_success() && !wants_object) {
        Some(function) => {
            let returns = gateway.rpc_shapes.returns(&function, &rpc_arguments).await;
            rpc_answer(returns, &headers, bytes)
        }
        None => bytes,
    };
    (status, headers, Body::from(bytes)).into_response()
}

impl Gateway {
    /// The upstream server's answer, or the gateway's 502.
    async fn forward(
        &self,
        method: Method,
        url: String,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<(StatusCode, HeaderMap, Bytes), Response> {
        let bad_gateway = |_| {
            kong_error(
                StatusCode::BAD_GATEWAY,
                "An invalid response was received from the upstream server",
            )
        };
        let upstream = self
            .client
            .request(method, url)
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(bad_gateway)?;
        let status = upstream.status();
        let headers = forwarded_headers(upstream.headers());
        let bytes = upstream.bytes().await.map_err(bad_gateway)?;
        Ok((status, headers, bytes))
    }
}

/// The first selected column that the table at `path` (`/personas`) lacks, from the catalog.
async fn missing_column(pool: &Pool, path: &str, query: &str) -> Option<String> {
    let columns = selected_columns(query);
    let relation = path.trim_start_matches('/');
    let client = pool.get().await.ok()?;
    let row = client
        .query_opt(
            "select c from unnest($2::text[]) with ordinality s(c, n) \
             where not exists (select 1 from pg_attribute a \
                               where a.attrelid = to_regclass(format('public.%I', $1::text)) \
                                 and a.attname = s.c and a.attnum > 0 and not a.attisdropped) \
             order by n limit 1",
            &[&relation, &columns],
        )
        .await
        .ok()??;
    row.get(0)
}

/// A successful JSON answer of a function in the shape PostgREST gives it.
fn rpc_answer(returns: Returns, headers: &HeaderMap, body: Bytes) -> Bytes {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    match is_json
        .then(|| serde_json::from_slice(&body).ok())
        .flatten()
    {
        Some(answer) => serde_json::to_vec(&reshape(returns, answer))
            .expect("JSON values serialise")
            .into(),
        None => body,
    }
}

/// The arguments a call names: a JSON body's keys, else the query's parameters.
fn argument_names(body: &[u8], query: Option<&str>) -> Vec<String> {
    if let Ok(serde_json::Value::Object(arguments)) = serde_json::from_slice(body) {
        return arguments.keys().cloned().collect();
    }
    const NOT_ARGUMENTS: [&str; 5] = ["select", "order", "limit", "offset", "columns"];
    query
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split('=').next())
        .filter(|name| !name.is_empty() && !NOT_ARGUMENTS.contains(name))
        .map(str::to_owned)
        .collect()
}

/// `Accept: application/vnd.pgrst.object+json`: the server already answers one object.
fn accepts_single_object(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/vnd.pgrst.object"))
}

/// Form encoding's space: the SDKs send `+` for a space in filter values (a literal plus arrives
/// as `%2B`), and PostgREST decodes it so; the server behind takes `+` literally.
fn plus_as_space(query: &str) -> std::borrow::Cow<'_, str> {
    if query.contains('+') {
        query.replace('+', "%20").into()
    } else {
        query.into()
    }
}

/// The schema description is for secret keys only, as on hosted Supabase since 2026.
async fn openapi_description(gateway: &Gateway, api_key: &str, headers: &HeaderMap) -> Response {
    if api_key != gateway.config.service_role_key {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({
                "message": "Access to schema is forbidden",
                "hint": "Accessing the schema via the Data API is only allowed using a secret API key."
            })),
        )
            .into_response();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match openapi::document(&gateway.pool, host).await {
        Ok(document) => (
            [(
                header::CONTENT_TYPE,
                "application/openapi+json; charset=utf-8",
            )],
            document.to_string(),
        )
            .into_response(),
        Err(error) => {
            eprintln!("gateway: building the OpenAPI description failed: {error:#}");
            kong_error(
                StatusCode::BAD_GATEWAY,
                "An invalid response was received from the upstream server",
            )
        }
    }
}

/// Headers a browser may read on any answer: PostgREST's, GoTrue's and Storage's own.
const EXPOSED_HEADERS: &str = "Content-Encoding, Content-Location, Content-Range, Content-Type, \
    Date, Location, Server, Transfer-Encoding, Range-Unit, X-Total-Count, Link, \
    X-Supabase-Api-Version, ETag, Content-Length, Cache-Control, Last-Modified";

/// CORS as Supabase's gateway answers it: any origin; a preflight is answered here, before the
/// API key check, since browsers send it without one.
async fn cors(request: Request, next: Next) -> Response {
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let allowed_headers = request
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .cloned()
            .unwrap_or(HeaderValue::from_static(
                "authorization, apikey, content-type, x-client-info",
            ));
        return (
            StatusCode::OK,
            [
                (
                    header::ACCESS_CONTROL_ALLOW_ORIGIN,
                    HeaderValue::from_static("*"),
                ),
                (
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    HeaderValue::from_static("GET,HEAD,PUT,PATCH,POST,DELETE"),
                ),
                (header::ACCESS_CONTROL_ALLOW_HEADERS, allowed_headers),
                (
                    header::ACCESS_CONTROL_MAX_AGE,
                    HeaderValue::from_static("3600"),
                ),
            ],
        )
            .into_response();
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSED_HEADERS),
    );
    response
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

pub(crate) fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
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
    fn a_plus_in_the_query_is_a_space_and_an_encoded_plus_stays_a_plus() {
        assert_eq!(
            plus_as_space("name=eq.Winter+launch&note=eq.1%2B1"),
            "name=eq.Winter%20launch&note=eq.1%2B1"
        );
    }

    #[test]
    fn api_key_is_read_from_the_query_when_no_header() {
        assert_eq!(query_param("select=*&apikey=abc", "apikey"), Some("abc"));
        assert_eq!(query_param("select=*", "apikey"), None);
    }
}
