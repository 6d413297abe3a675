//! The calls into `glue.js`: platform work done in one crossing of the wasm boundary where the
//! worker crate's types would cross once per value.

use wasm_bindgen::prelude::wasm_bindgen;
use worker::js_sys::Promise;
use worker::web_sys::{AbortSignal, Headers};

#[wasm_bindgen(module = "/src/glue.js")]
extern "C" {
    /// Headers from `http::header_lines`' form.
    #[wasm_bindgen(js_name = headersOf)]
    pub fn headers_of(lines: &str) -> Headers;

    /// Headers in `http::header_lines`' form.
    #[wasm_bindgen(js_name = headerLines)]
    pub fn header_lines(headers: &Headers) -> String;

    /// Sends a request and reads the whole answer; resolves to an [`Exchanged`].
    pub fn exchange(
        url: &str,
        method: &str,
        header_lines: &str,
        body: Option<&[u8]>,
        signal: &AbortSignal,
    ) -> Promise;

    pub type Exchanged;
    #[wasm_bindgen(method, getter)]
    pub fn status(this: &Exchanged) -> u16;
    #[wasm_bindgen(method, getter)]
    pub fn headers(this: &Exchanged) -> Headers;
    #[wasm_bindgen(method, getter)]
    pub fn body(this: &Exchanged) -> Vec<u8>;
}
