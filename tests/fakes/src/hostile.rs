//! A hostile "OpenAI-compatible" server under `/hostile/{behaviour}/v1/chat/completions`, for
//! the worker's outbound limits: `redirect` answers 307 to the real OpenAI fake (following it
//! would succeed), `endless` a 200 JSON body that never ends, and `endless-event` a 200 event
//! stream whose first event never ends.

use axum::body::{Body, Bytes};
use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

/// What an endless body sends per chunk.
const CHUNK: usize = 64 * 1024;

pub async fn handle(Path(behaviour): Path<String>) -> Response {
    match behaviour.as_str() {
        "redirect" => (
            StatusCode::TEMPORARY_REDIRECT,
            [(header::LOCATION, "/openai/v1/chat/completions")],
        )
            .into_response(),
        "endless" => endless("application/json", b""),
        "endless-event" => endless("text/event-stream", b"data: "),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `prefix`, then spaces (or `x`s after `data: `) until the client hangs up.
fn endless(content_type: &'static str, prefix: &'static [u8]) -> Response {
    let filler = if prefix.is_empty() { b' ' } else { b'x' };
    let chunks = futures::stream::once(async move { Bytes::from_static(prefix) })
        .chain(futures::stream::repeat(Bytes::from(vec![filler; CHUNK])))
        .map(Ok::<_, std::convert::Infallible>);
    (
        [(header::CONTENT_TYPE, content_type)],
        Body::from_stream(chunks),
    )
        .into_response()
}
