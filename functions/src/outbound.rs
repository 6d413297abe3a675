//! Sends a request made with reqwest's builder (as postgrest-rs and the provider modules make
//! them) and reads the whole answer.
//!
//! In workerd the request goes straight to the runtime's `fetch`, in one call into `glue.js` that
//! settles when the whole body is read. reqwest's fetch backend aborts each request's
//! `AbortController` when its response is dropped, finished or not, and moves every header and
//! step across the wasm boundary on its own; in a CPU profile of an AI call the abort alone was
//! the largest single cost (~15% of the isolate's time). Here the exchange is aborted only when it
//! is dropped before it finished (a timeout), so an abandoned call still stops. On the host (unit
//! tests) reqwest sends it.

pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    headers: platform::ReplyHeaders,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name)
    }

    pub fn succeeded(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The start of the body, for a log line: enough to diagnose, bounded in size.
    pub fn body_excerpt(&self) -> String {
        crate::error::excerpt(&String::from_utf8_lossy(&self.body))
    }
}

/// `Err` says why no answer came (for logs).
pub async fn send(request: reqwest::RequestBuilder) -> Result<Reply, String> {
    platform::send(request).await
}

#[cfg(not(target_arch = "wasm32"))]
mod platform {
    use super::Reply;

    pub struct ReplyHeaders(reqwest::header::HeaderMap);

    impl ReplyHeaders {
        pub fn get(&self, name: &str) -> Option<String> {
            Some(self.0.get(name)?.to_str().ok()?.to_owned())
        }
    }

    pub async fn send(request: reqwest::RequestBuilder) -> Result<Reply, String> {
        let response = request.send().await.map_err(|error| error.to_string())?;
        let status = response.status().as_u16();
        let headers = ReplyHeaders(response.headers().clone());
        let body = response.bytes().await.map_err(|error| error.to_string())?;
        Ok(Reply {
            status,
            body: body.to_vec(),
            headers,
        })
    }
}

#[cfg(target_arch = "wasm32")]
mod platform {
    use wasm_bindgen::JsValue;
    use worker::wasm_bindgen_futures::JsFuture;

    use super::Reply;
    use crate::glue::{abort_exchange, exchange, Exchange, Exchanged};
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
    /// read (a timeout dropped the call).
    struct AbortUnlessFinished(Option<Exchange>);

    impl Drop for AbortUnlessFinished {
        fn drop(&mut self) {
            if let Some(exchange) = self.0.take() {
                abort_exchange(&exchange);
            }
        }
    }

    pub async fn send(request: reqwest::RequestBuilder) -> Result<Reply, String> {
        let request = request.build().map_err(|error| error.to_string())?;
        let headers = request
            .headers()
            .iter()
            .map(|(name, value)| Ok((name.as_str(), value.to_str()?)))
            .collect::<Result<Vec<_>, reqwest::header::ToStrError>>()
            .map_err(|error| error.to_string())?;
        let header_lines = header_lines(headers).ok_or("a header holds a line break")?;
        let body = request
            .body()
            .and_then(|body| body.as_bytes())
            .filter(|body| !body.is_empty());
        let running = exchange(
            request.url().as_str(),
            request.method().as_str(),
            &header_lines,
            body,
        );
        let answer = JsFuture::from(running.answer());
        let mut guard = AbortUnlessFinished(Some(running));
        let exchanged = answer.await.map_err(|error: JsValue| {
            format!("{} {}: {error:?}", request.method(), request.url())
        })?;
        guard.0 = None;
        let exchanged = Exchanged::from(exchanged);
        Ok(Reply {
            status: exchanged.status(),
            body: exchanged.body(),
            headers: ReplyHeaders(exchanged),
        })
    }
}
