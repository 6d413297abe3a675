//! The thin Workers glue: worker types in and out, everything else in `handle`.

use std::cell::OnceCell;
use std::rc::Rc;
use std::time::Duration;

use futures::StreamExt;
use wasm_bindgen::JsCast;
use worker::js_sys::Uint8Array;
use worker::wasm_bindgen_futures::JsFuture;
use worker::{console_log, event, web_sys, Context, Env, ResponseBody, ResponseBuilder};

use crate::config::{Config, ConfigError};
use crate::glue;
use crate::http::{header_lines, Body, BodyError, Request, Response, UnreadBody};
use crate::infra::clock::WallClock;

thread_local! {
    /// The settings, read once per isolate: a Worker's vars and secrets are fixed for an
    /// isolate's life (changing them deploys a new version, which runs in new isolates).
    static CONFIG: OnceCell<Rc<Result<Config, ConfigError>>> = const { OnceCell::new() };
}

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[event(fetch)]
async fn fetch(
    request: web_sys::Request,
    env: Env,
    ctx: Context,
) -> worker::Result<web_sys::Response> {
    let body = PlatformBody(&request);
    let request = neutral_request(&request)?;
    let config = CONFIG.with(|config| {
        config
            .get_or_init(|| Rc::new(Config::from_lookup(|name| setting(&env, name))))
            .clone()
    });
    let handled = crate::handle_unread(request, body, &config, &WallClock).await;
    for line in std::iter::once(&handled.log_line).chain(&handled.more_log_lines) {
        console_log!("{line}");
    }
    for work in handled.deferred {
        ctx.wait_until(async move {
            // A timer turn first, so the response leaves before this work builds its requests.
            worker::Delay::from(Duration::ZERO).await;
            if let Some(line) = work.await {
                console_log!("{line}");
            }
        });
    }
    platform_response(handled.response)
}

/// Secrets first, then plain vars: a value may be either, depending on the environment.
fn setting(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .map(|secret| secret.to_string())
        .or_else(|_| env.var(name).map(|var| var.to_string()))
        .ok()
}

fn neutral_request(request: &web_sys::Request) -> worker::Result<Request> {
    Request::from_head(&glue::request_head(request)).ok_or_else(|| {
        worker::Error::RustError("the request head from glue.js lacks a line".into())
    })
}

/// The incoming request's body, read by glue.js chunk by chunk up to the route's limit.
struct PlatformBody<'a>(&'a web_sys::Request);

impl UnreadBody for PlatformBody<'_> {
    async fn read(self, limit: usize) -> Result<Vec<u8>, BodyError> {
        let Some(reading) = glue::request_body(self.0, limit) else {
            return Ok(Vec::new());
        };
        let bytes = JsFuture::from(reading)
            .await
            .map_err(|error| BodyError::Unreadable(format!("{error:?}")))?;
        if bytes.is_null() {
            return Err(BodyError::TooLarge { limit });
        }
        Ok(bytes.unchecked_into::<Uint8Array>().to_vec())
    }
}

fn platform_response(response: Response) -> worker::Result<web_sys::Response> {
    let lines = header_lines(
        response
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
    )
    .ok_or_else(|| worker::Error::RustError("a response header holds a line break".into()))?;
    match response.body {
        Body::Bytes(bytes) => Ok(glue::respond(response.status, &lines, &bytes)),
        Body::Stream(chunks) => {
            let streamed =
                ResponseBuilder::new().from_stream(chunks.map(Ok::<_, worker::Error>))?;
            match streamed.body() {
                ResponseBody::Stream(stream) => {
                    Ok(glue::respond_streamed(response.status, &lines, stream))
                }
                _ => Err(worker::Error::RustError(
                    "a stream became a whole body".into(),
                )),
            }
        }
    }
}
