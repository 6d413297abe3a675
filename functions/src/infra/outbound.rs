//! Sends a request made with reqwest's builder (as postgrest-rs and the provider modules make
//! them) and reads the answer, whole or as it arrives.
//!
//! Every exchange is bounded: redirects are never followed (a 3xx is the answer), the body is
//! read with a running count and cut past a cap ([`Limits`], 8 MiB by default), and the whole
//! exchange (for a stream: opening it, then each chunk) must finish within a timeout (30 s by
//! default). A Supabase or provider that accepts and never answers cannot hold a request.
//! Where a user chose the URL, [`policy`] says whether it may be called at all.
//!
//! In workerd the request goes straight to the runtime's `fetch`, in one call into `glue.js` that
//! settles when the whole body is read. reqwest's fetch backend aborts each request's
//! `AbortController` when its response is dropped, finished or not, and moves every header and
//! step across the wasm boundary on its own; in a CPU profile of an AI call the abort alone was
//! the largest single cost (~15% of the isolate's time). Here the exchange is aborted only when it
//! is dropped before it finished (a timeout), so an abandoned call still stops. On the host (unit
//! tests) reqwest sends it.

pub mod call;
pub mod policy;

use std::fmt;
use std::time::Duration;

use futures::future::{select, Either};
use futures::stream::{self, LocalBoxStream, StreamExt};

pub use call::{url_encoded, Body, Call, FilePart, Method, Reply};
use policy::OutboundPolicy;

use crate::infra::clock::sleep;

/// How much of an answer is read, and how long an exchange may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub timeout: Duration,
    pub max_body_bytes: usize,
}

impl Limits {
    /// Any JSON answer the worker reads: PostgREST, Storage, Auth, JWKS, AI providers.
    pub const DEFAULT: Limits = Limits {
        timeout: Duration::from_secs(30),
        max_body_bytes: 8 << 20,
    };
}

/// Why no (whole) answer came; the text is for logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The outbound policy refused the URL a user chose; nothing was sent.
    Refused(String),
    /// The connection could not be opened: the other side never saw the request.
    NotSent(String),
    /// No answer; the request may have arrived.
    Unreachable(String),
    TimedOut(Duration),
    /// The answer went past `Limits::max_body_bytes`; reading stopped there.
    TooLarge {
        limit: usize,
    },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(cause) | Self::NotSent(cause) | Self::Unreachable(cause) => {
                f.write_str(cause)
            }
            Self::TimedOut(limit) => write!(f, "no answer within {} s", limit.as_secs_f64()),
            Self::TooLarge { limit } => write!(f, "answer larger than {limit} bytes"),
        }
    }
}

/// An answer whose body is read as it arrives.
pub struct Streamed {
    pub status: u16,
    headers: platform::ReplyHeaders,
    /// Ends after the first error.
    pub chunks: LocalBoxStream<'static, Result<Vec<u8>, Failure>>,
}

impl Streamed {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name)
    }

    /// The rest of the body, read whole (for an answer that is not a stream after all: an
    /// error).
    pub async fn read_whole(mut self) -> Result<Reply, Failure> {
        let mut body = Vec::new();
        while let Some(chunk) = self.chunks.next().await {
            body.extend(chunk?);
        }
        Ok(Reply::received(self.status, body, self.headers))
    }
}

/// Where a [`Call`] may go and how its answer is bounded.
#[derive(Clone, Copy, Debug)]
pub struct Destination<'a> {
    /// Checks the URL first, when a user chose it (an AI base URL).
    pub policy: Option<OutboundPolicy>,
    /// `SOCIAL_API_ORIGIN_OVERRIDE`: serves every platform from the local fakes (see [`rewrite`]).
    pub origin_override: Option<&'a str>,
    /// Headers every call to this destination carries.
    pub headers: &'a [(&'static str, &'static str)],
    pub limits: Limits,
}

impl Destination<'_> {
    /// A URL a user chose, held to `policy`.
    pub fn chosen_by_user(policy: OutboundPolicy, limits: Limits) -> Self {
        Destination {
            policy: Some(policy),
            origin_override: None,
            headers: &[],
            limits,
        }
    }
}

impl<'a> Destination<'a> {
    /// A platform's public API, or the fakes standing in for it.
    pub fn platform(origin_override: Option<&'a str>, limits: Limits) -> Self {
        Destination {
            policy: None,
            origin_override,
            headers: &[],
            limits,
        }
    }
}

/// `https://api.x.com/2/users/me` → `{override}/api.x.com/2/users/me`.
pub fn rewrite(url: &str, origin_override: Option<&str>) -> String {
    match (origin_override, url.strip_prefix("https://")) {
        (Some(origin), Some(rest)) => format!("{origin}/{rest}"),
        _ => url.to_owned(),
    }
}

/// Sends `call` to `to`, whole: the one path every adapter's call takes.
pub async fn exchange(call: &Call, to: &Destination<'_>) -> Result<Reply, Failure> {
    send_within(request(call, to)?, to.limits).await
}

/// Sends `call` to `to` and answers once the headers arrived (see [`open`]).
pub async fn open_exchange(call: &Call, to: &Destination<'_>) -> Result<Streamed, Failure> {
    open(request(call, to)?, to.limits).await
}

fn request(call: &Call, to: &Destination<'_>) -> Result<reqwest::RequestBuilder, Failure> {
    let url = match to.policy {
        Some(policy) => policy
            .check(&call.url)
            .map_err(|refusal| Failure::Refused(refusal.reason().to_owned()))?
            .to_string(),
        None => rewrite(&call.url, to.origin_override),
    };
    let client = reqwest::Client::new();
    let mut request = match call.method {
        Method::Get => client.get(url),
        Method::Post => client.post(url),
        Method::Put => client.put(url),
        Method::Delete => client.delete(url),
    };
    for (name, value) in &call.headers {
        request = request.header(*name, value);
    }
    for (name, value) in to.headers {
        request = request.header(*name, *value);
    }
    Ok(match &call.body {
        Body::Empty => request,
        Body::Json(value) => request
            .header("content-type", "application/json")
            .body(value.to_string()),
        Body::Form(form) => request
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(form.iter().map(|(name, value)| (*name, value.as_str())))
                    .finish(),
            ),
        Body::Bytes {
            content_type,
            bytes,
        } => request
            .header("content-type", content_type)
            .body(bytes.clone()),
    })
}

/// Sends the request within [`Limits::DEFAULT`].
pub async fn send(request: reqwest::RequestBuilder) -> Result<Reply, Failure> {
    send_within(request, Limits::DEFAULT).await
}

pub async fn send_within(
    request: reqwest::RequestBuilder,
    limits: Limits,
) -> Result<Reply, Failure> {
    within(
        limits.timeout,
        platform::send(request, limits.max_body_bytes),
    )
    .await
}

/// Sends the request and answers once the headers arrived; the body follows as `chunks`, each
/// within `limits.timeout` of the one before, all of them within `limits.max_body_bytes`.
pub async fn open(request: reqwest::RequestBuilder, limits: Limits) -> Result<Streamed, Failure> {
    let (status, headers, chunks) = within(limits.timeout, platform::open(request)).await?;
    Ok(Streamed {
        status,
        headers,
        chunks: bounded(chunks, limits),
    })
}

async fn within<T>(
    limit: Duration,
    exchange: impl std::future::Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    match select(Box::pin(exchange), Box::pin(sleep(limit))).await {
        Either::Left((outcome, _)) => outcome,
        Either::Right(_) => Err(Failure::TimedOut(limit)),
    }
}

type Chunks = LocalBoxStream<'static, Result<Vec<u8>, Failure>>;

/// `chunks` with a timeout per chunk and a cap on their total, ending after the first error.
/// Dropping it drops (and so stops) the exchange.
fn bounded(chunks: Chunks, limits: Limits) -> Chunks {
    let state = Some((chunks, limits.max_body_bytes));
    stream::unfold(state, move |state| async move {
        let (mut chunks, left) = state?;
        match within(limits.timeout, async { chunks.next().await.transpose() }).await {
            Ok(None) => None,
            Ok(Some(chunk)) if chunk.len() > left => Some((
                Err(Failure::TooLarge {
                    limit: limits.max_body_bytes,
                }),
                None,
            )),
            Ok(Some(chunk)) => {
                let left = left - chunk.len();
                Some((Ok(chunk), Some((chunks, left))))
            }
            Err(failure) => Some((Err(failure), None)),
        }
    })
    .boxed_local()
}

#[cfg(not(target_arch = "wasm32"))]
mod platform {
    use futures::stream::{self, StreamExt};

    use super::{Chunks, Failure, Reply};

    pub struct ReplyHeaders(reqwest::header::HeaderMap);

    impl ReplyHeaders {
        pub fn get(&self, name: &str) -> Option<String> {
            Some(self.0.get(name)?.to_str().ok()?.to_owned())
        }
    }

    /// Without the URL: its query could carry a token.
    fn unreachable(error: reqwest::Error) -> Failure {
        if error.is_connect() {
            Failure::NotSent(error.without_url().to_string())
        } else {
            Failure::Unreachable(error.without_url().to_string())
        }
    }

    /// Through a client that follows no redirect, whoever built the request.
    pub async fn open(
        request: reqwest::RequestBuilder,
    ) -> Result<(u16, ReplyHeaders, Chunks), Failure> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(unreachable)?;
        let response = client
            .execute(request.build().map_err(unreachable)?)
            .await
            .map_err(unreachable)?;
        let status = response.status().as_u16();
        let headers = ReplyHeaders(response.headers().clone());
        let chunks = stream::unfold(response, |mut response| async move {
            let chunk = response.chunk().await.map_err(unreachable).transpose()?;
            Some((chunk.map(|bytes| bytes.to_vec()), response))
        });
        Ok((status, headers, chunks.boxed_local()))
    }

    /// The body counted as it is read, as in workerd (see `glue.js`).
    pub async fn send(request: reqwest::RequestBuilder, limit: usize) -> Result<Reply, Failure> {
        let (status, headers, chunks) = open(request).await?;
        let limits = super::Limits {
            max_body_bytes: limit,
            ..super::Limits::DEFAULT
        };
        super::Streamed {
            status,
            headers,
            chunks: super::bounded(chunks, limits),
        }
        .read_whole()
        .await
    }
}

#[cfg(target_arch = "wasm32")]
mod platform {
    use futures::stream::{self, StreamExt};
    use wasm_bindgen::{JsCast, JsValue};
    use worker::js_sys::{RangeError, Uint8Array};
    use worker::wasm_bindgen_futures::JsFuture;

    use super::{Chunks, Failure, Reply};
    use crate::glue::{abort_exchange, exchange, exchange_streamed, Exchange, Exchanged};
    use crate::http::header_lines;

    /// The answer's headers, read from the platform's only when asked for (rarely: a
    /// `retry-after`).
    pub struct ReplyHeaders(Exchanged);

    impl ReplyHeaders {
        pub fn get(&self, name: &str) -> Option<String> {
            self.0.headers().get(name).ok().flatten()
        }
    }

    /// Aborts the exchange when dropped while still holding it: before the whole answer was
    /// read (a timeout dropped the call, or a stream's reader went away).
    struct AbortUnlessFinished(Option<Exchange>);

    impl Drop for AbortUnlessFinished {
        fn drop(&mut self) {
            if let Some(exchange) = self.0.take() {
                abort_exchange(&exchange);
            }
        }
    }

    /// `glue.js` rejects with a `RangeError` when the body went past `limit`.
    fn failure(request: &reqwest::Request, error: JsValue, limit: usize) -> Failure {
        if error.is_instance_of::<RangeError>() {
            return Failure::TooLarge { limit };
        }
        // Without the query: it could carry a token. In workerd a refused connection and a lost
        // one look alike, so no failure here proves the request was never sent.
        let url = request.url();
        Failure::Unreachable(format!(
            "{} {}{}: {error:?}",
            request.method(),
            url.origin().ascii_serialization(),
            url.path()
        ))
    }

    /// Starts the exchange with `start(url, method, header lines, body)`.
    fn begin(
        request: &reqwest::Request,
        start: impl FnOnce(&str, &str, &str, Option<&[u8]>) -> Exchange,
    ) -> Result<Exchange, Failure> {
        let headers = request
            .headers()
            .iter()
            .map(|(name, value)| Ok((name.as_str(), value.to_str()?)))
            .collect::<Result<Vec<_>, reqwest::header::ToStrError>>()
            .map_err(|error| Failure::Unreachable(error.to_string()))?;
        let header_lines = header_lines(headers)
            .ok_or_else(|| Failure::Unreachable("a header holds a line break".into()))?;
        let body = request
            .body()
            .and_then(|body| body.as_bytes())
            .filter(|body| !body.is_empty());
        Ok(start(
            request.url().as_str(),
            request.method().as_str(),
            &header_lines,
            body,
        ))
    }

    fn build(request: reqwest::RequestBuilder) -> Result<reqwest::Request, Failure> {
        request
            .build()
            .map_err(|error| Failure::Unreachable(error.to_string()))
    }

    pub async fn send(request: reqwest::RequestBuilder, limit: usize) -> Result<Reply, Failure> {
        let request = build(request)?;
        let running = begin(&request, |url, method, lines, body| {
            exchange(url, method, lines, body, limit)
        })?;
        let answer = JsFuture::from(running.answer());
        let mut guard = AbortUnlessFinished(Some(running));
        let exchanged = answer
            .await
            .map_err(|error| failure(&request, error, limit))?;
        guard.0 = None;
        let exchanged = Exchanged::from(exchanged);
        Ok(Reply::received(
            exchanged.status(),
            exchanged.body(),
            ReplyHeaders(exchanged),
        ))
    }

    /// The body crosses chunk by chunk (counted by `super::bounded`); the exchange is aborted
    /// when the chunks are dropped before the end.
    pub async fn open(
        request: reqwest::RequestBuilder,
    ) -> Result<(u16, ReplyHeaders, Chunks), Failure> {
        let request = build(request)?;
        let running = begin(&request, exchange_streamed)?;
        let answer = JsFuture::from(running.answer());
        let guard = AbortUnlessFinished(Some(running));
        let opened = answer.await.map_err(|error| failure(&request, error, 0))?;
        let opened = Exchanged::from(opened);
        let body = opened.chunks();
        let chunks = stream::unfold(Some((guard, body, request)), |state| async move {
            let (mut guard, body, request) = state?;
            match JsFuture::from(body.next()).await {
                Ok(chunk) if chunk.is_undefined() => {
                    guard.0 = None;
                    None
                }
                Ok(chunk) => {
                    let chunk = Uint8Array::from(chunk).to_vec();
                    Some((Ok(chunk), Some((guard, body, request))))
                }
                Err(error) => Some((Err(failure(&request, error, 0)), None)),
            }
        });
        Ok((opened.status(), ReplyHeaders(opened), chunks.boxed_local()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    #[test]
    fn rewrites_only_https_urls_and_only_with_an_override() {
        assert_eq!(
            rewrite(
                "https://api.x.com/2/users/me",
                Some("http://127.0.0.1:9/social")
            ),
            "http://127.0.0.1:9/social/api.x.com/2/users/me"
        );
        assert_eq!(
            rewrite("https://api.x.com/2/users/me", None),
            "https://api.x.com/2/users/me"
        );
    }

    /// A server that reads each request's head, then writes `head` and `chunk` repeated `count`
    /// times (`usize::MAX`: until the client hangs up) and keeps the connection open; without
    /// `answer` it never answers.
    async fn server(answer: Option<(&str, &[u8], usize)>) -> String {
        let answer = answer.map(|(head, chunk, count)| (head.to_owned(), chunk.to_vec(), count));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                let answer = answer.clone();
                tokio::spawn(async move {
                    let mut request = [0_u8; 4096];
                    let _ = socket.read(&mut request).await;
                    let Some((head, chunk, count)) = answer else {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        return;
                    };
                    socket.write_all(head.as_bytes()).await.unwrap();
                    for _ in 0..count {
                        if socket.write_all(&chunk).await.is_err() {
                            return;
                        }
                    }
                    // Holds the connection: an unfinished body stays unfinished.
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                });
            }
        });
        url
    }

    const CHUNKED: &str = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";

    fn get(url: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new().get(url)
    }

    const SMALL: Limits = Limits {
        timeout: Duration::from_secs(5),
        max_body_bytes: 1024,
    };

    #[tokio::test(flavor = "current_thread")]
    async fn a_redirect_is_the_answer_not_followed() {
        let ok = "HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n";
        let target = server(Some((ok, b"reached", 1))).await;
        let head = format!(
            "HTTP/1.1 307 Temporary Redirect\r\nlocation: {target}/\r\ncontent-length: 0\r\n\r\n"
        );
        let redirecting = server(Some((&head, b"", 0))).await;
        let reply = send_within(get(&redirecting), SMALL).await.unwrap();
        assert_eq!((reply.status, reply.body.len()), (307, 0));
        let streamed = open(get(&redirecting), SMALL).await.unwrap();
        assert_eq!(streamed.status, 307);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_answer_past_the_cap_is_cut_announced_or_not() {
        let long = "HTTP/1.1 200 OK\r\ncontent-length: 4096\r\n\r\n";
        let announced = server(Some((long, &[b'a'; 1024], 4))).await;
        let chunk_of_1024 = [b"400\r\n".as_slice(), &[b'a'; 1024], b"\r\n"].concat();
        let endless = server(Some((CHUNKED, &chunk_of_1024, usize::MAX))).await;
        for url in [&announced, &endless] {
            assert_eq!(
                send_within(get(url), SMALL).await.err(),
                Some(Failure::TooLarge { limit: 1024 }),
                "{url}"
            );
            let mut streamed = open(get(url), SMALL).await.unwrap();
            let mut outcome = Ok(());
            while let Some(chunk) = streamed.chunks.next().await {
                outcome = chunk.map(drop);
            }
            assert_eq!(outcome, Err(Failure::TooLarge { limit: 1024 }), "{url}");
        }
        let exact = "HTTP/1.1 200 OK\r\ncontent-length: 1024\r\n\r\n";
        let within = server(Some((exact, &[b'a'; 1024], 1))).await;
        let reply = send_within(get(&within), SMALL).await.unwrap();
        assert_eq!(reply.body.len(), 1024);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_server_that_never_answers_times_out() {
        let silent = server(None).await;
        let quick = Limits {
            timeout: Duration::from_millis(200),
            ..SMALL
        };
        let started = std::time::Instant::now();
        assert_eq!(
            send_within(get(&silent), quick).await.err(),
            Some(Failure::TimedOut(quick.timeout))
        );
        assert!(open(get(&silent), quick).await.is_err());
        assert!(started.elapsed() < Duration::from_secs(2));
        let mute_stream = server(Some((CHUNKED, b"", 0))).await;
        let mut streamed = open(get(&mute_stream), quick).await.unwrap();
        assert_eq!(
            streamed.chunks.next().await,
            Some(Err(Failure::TimedOut(quick.timeout))),
            "a stream waits for each chunk at most the timeout"
        );
    }

    #[test]
    fn every_exchange_is_bounded_by_default() {
        assert_eq!(Limits::DEFAULT.max_body_bytes, 8 << 20);
        assert!(Limits::DEFAULT.timeout <= Duration::from_secs(30));
    }
}
