//! The thin Workers glue: worker types in and out, everything else in `handle`.

use std::cell::OnceCell;
use std::rc::Rc;
use std::time::Duration;

use futures::StreamExt;
use worker::{console_log, event, Context, Env, Headers, ResponseBuilder};

use crate::clock::WallClock;
use crate::config::{Config, ConfigError};
use crate::glue;
use crate::http::{header_lines, Body, Request, Response};

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
    mut request: worker::Request,
    env: Env,
    ctx: Context,
) -> worker::Result<worker::Response> {
    let request = neutral_request(&mut request).await?;
    let config = CONFIG.with(|config| {
        config
            .get_or_init(|| Rc::new(Config::from_lookup(|name| setting(&env, name))))
            .clone()
    });
    let handled = crate::handle(request, &config, &WallClock).await;
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
    worker_response(handled.response)
}

/// Secrets first, then plain vars: a value may be either, depending on the environment.
fn setting(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .map(|secret| secret.to_string())
        .or_else(|_| env.var(name).map(|var| var.to_string()))
        .ok()
}

async fn neutral_request(request: &mut worker::Request) -> worker::Result<Request> {
    let url = request.url()?;
    Ok(Request {
        // The raw method: worker::Method maps unknown methods to GET.
        method: request.inner().method(),
        path: url.path().to_owned(),
        query: url.query().map(str::to_owned),
        headers: crate::http::Headers::from_lines(&glue::header_lines(&request.headers().0)),
        body: request.bytes().await?,
    })
}

fn worker_response(response: Response) -> worker::Result<worker::Response> {
    let lines = header_lines(
        response
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
    )
    .ok_or_else(|| worker::Error::RustError("a response header holds a line break".into()))?;
    let builder = ResponseBuilder::new()
        .with_status(response.status)
        .with_headers(Headers(glue::headers_of(&lines)));
    match response.body {
        Body::Bytes(bytes) => Ok(builder.fixed(bytes)),
        Body::Stream(chunks) => builder.from_stream(chunks.map(Ok::<_, worker::Error>)),
    }
}
