//! The thin Workers glue: worker types in and out, everything else in `handle`.

use std::cell::OnceCell;
use std::rc::Rc;
use std::time::Duration;

use futures::StreamExt;
use wasm_bindgen::JsCast;
use worker::js_sys::Uint8Array;
use worker::wasm_bindgen_futures::JsFuture;
use worker::{
    console_log, event, web_sys, BatchMessageBuilder, Context, Env, MessageBatch, MessageBuilder,
    Queue, ResponseBody, ResponseBuilder, ScheduleContext, ScheduledEvent,
};

use crate::config::{Config, ConfigError};
use crate::glue;
use crate::http::{header_lines, Body, BodyError, Request, Response, UnreadBody};
use crate::infra::clock::WallClock;

thread_local! {
    /// The settings, read once per isolate: a Worker's vars and secrets are fixed for an
    /// isolate's life (changing them deploys a new version, which runs in new isolates).
    static CONFIG: OnceCell<Rc<Result<Config, ConfigError>>> = const { OnceCell::new() };
    /// The queue of publishing wake-ups (`PUBLISH_WAKEUPS`), fixed for an isolate as the
    /// settings are; `None` where the deployment binds none.
    static WAKEUP_QUEUE: OnceCell<Option<Queue>> = const { OnceCell::new() };
}

/// The binding that names the queue of publishing wake-ups in wrangler.toml.
const WAKEUP_QUEUE_BINDING: &str = "PUBLISH_WAKEUPS";

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
    let config = config_of(&env);
    bind_wakeup_queue(&env);
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

/// A Cron Trigger (wrangler.toml's `[triggers]`): the sweeps pg_cron also asks for, run to the
/// end (a scheduled event has no response to send first).
#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let config = config_of(&env);
    bind_wakeup_queue(&env);
    for handled in crate::scheduled::run(&event.cron(), &config, &WallClock).await {
        for line in std::iter::once(&handled.log_line).chain(&handled.more_log_lines) {
            console_log!("{line}");
        }
        for work in handled.deferred {
            if let Some(line) = work.await {
                console_log!("{line}");
            }
        }
    }
}

/// A publishing wake-up came due (see `publishing::on_time`). A failed run is retried by the
/// queue; one that never succeeds leaves its posts to the next minute's sweep.
#[event(queue)]
async fn queue(
    _wakeups: MessageBatch<serde_json::Value>,
    env: Env,
    _ctx: Context,
) -> worker::Result<()> {
    let config = config_of(&env);
    let config = (*config)
        .as_ref()
        .map_err(|error| worker::Error::RustError(error.to_string()))?;
    let tally = crate::publishing::on_time::wake_up(config, &WallClock)
        .await
        .map_err(worker::Error::RustError)?;
    console_log!(
        "{}",
        serde_json::json!({ "event": "publishing_wakeup", "tally": tally })
    );
    Ok(())
}

/// Sends one wake-up message per delay (see `infra::wakeups`).
pub(crate) async fn send_wakeups(delays: &[u32]) -> Result<(), String> {
    let Some(queue) = WAKEUP_QUEUE.with(|queue| queue.get().cloned().flatten()) else {
        return Err(format!("no {WAKEUP_QUEUE_BINDING} queue is bound"));
    };
    let messages = delays.iter().map(|&delay| {
        MessageBuilder::new(serde_json::json!({ "delaySeconds": delay }))
            .delay_seconds(delay)
            .build()
    });
    queue
        .send_batch(BatchMessageBuilder::new().messages(messages).build())
        .await
        .map_err(|error| error.to_string())
}

/// The queue publishing wake-ups go to, bound once per isolate for `send_wakeups`.
fn bind_wakeup_queue(env: &Env) {
    WAKEUP_QUEUE.with(|queue| {
        queue.get_or_init(|| env.queue(WAKEUP_QUEUE_BINDING).ok());
    });
}

/// The settings, read from `env` once per isolate.
fn config_of(env: &Env) -> Rc<Result<Config, ConfigError>> {
    CONFIG.with(|config| {
        config
            .get_or_init(|| Rc::new(Config::from_lookup(|name| setting(env, name))))
            .clone()
    })
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
