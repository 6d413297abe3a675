//! The calls into `glue.js`: platform work done in one crossing of the wasm boundary where the
//! worker crate's types would cross once per value.

use wasm_bindgen::prelude::wasm_bindgen;
use worker::js_sys::Promise;
use worker::web_sys::{ReadableStream, Request, Response};

#[wasm_bindgen(module = "/src/glue.js")]
extern "C" {
    /// The method, path, query and header lines of `request`, one per line (see
    /// `http::Request::from_head`).
    #[wasm_bindgen(js_name = requestHead)]
    pub fn request_head(request: &Request) -> String;

    /// Resolves to the body's bytes (a `Uint8Array`), or to `null` (the read stopped) once
    /// more than `limit` bytes arrive; `None` when the request has no body.
    #[wasm_bindgen(js_name = requestBody)]
    pub fn request_body(request: &Request, limit: usize) -> Option<Promise>;

    /// A whole response, headers in `http::header_lines`' form.
    pub fn respond(status: u16, header_lines: &str, body: &[u8]) -> Response;

    #[wasm_bindgen(js_name = respondStreamed)]
    pub fn respond_streamed(status: u16, header_lines: &str, stream: &ReadableStream) -> Response;

    /// Sends a request, following no redirect; its `answer` resolves to an [`Exchanged`] once
    /// the whole answer is read, or rejects with a `RangeError` past `limit` bytes.
    pub fn exchange(
        url: &str,
        method: &str,
        header_lines: &str,
        body: Option<&[u8]>,
        limit: usize,
    ) -> Exchange;

    /// As `exchange`, but `answer` resolves once the headers arrived; the body follows through
    /// [`Exchanged::chunks`].
    #[wasm_bindgen(js_name = exchangeStreamed)]
    pub fn exchange_streamed(
        url: &str,
        method: &str,
        header_lines: &str,
        body: Option<&[u8]>,
    ) -> Exchange;

    pub type Exchange;
    #[wasm_bindgen(method, getter)]
    pub fn answer(this: &Exchange) -> Promise;

    /// Stops an unfinished exchange.
    #[wasm_bindgen(js_name = abortExchange)]
    pub fn abort_exchange(exchange: &Exchange);

    pub type Exchanged;
    #[wasm_bindgen(method, getter)]
    pub fn status(this: &Exchanged) -> u16;
    #[wasm_bindgen(method, getter)]
    pub fn headers(this: &Exchanged) -> worker::web_sys::Headers;
    #[wasm_bindgen(method, getter)]
    pub fn body(this: &Exchanged) -> Vec<u8>;
    /// A streamed answer's body.
    #[wasm_bindgen(method, getter)]
    pub fn chunks(this: &Exchanged) -> BodyChunks;

    pub type BodyChunks;
    /// Resolves to the next `Uint8Array`, `undefined` at the end.
    #[wasm_bindgen(method)]
    pub fn next(this: &BodyChunks) -> Promise;
}
