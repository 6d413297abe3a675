//! Delayed wake-ups: messages on the `PUBLISH_WAKEUPS` Cloudflare Queue (wrangler.toml), each
//! delivered to this worker's `queue` handler once its delay has passed. The runtime keeps the
//! time; nothing waits in the worker meanwhile.

/// Sends one message per delay (whole seconds from now).
#[cfg(target_arch = "wasm32")]
pub async fn send(delays: &[u32]) -> Result<(), String> {
    crate::wasm::send_wakeups(delays).await
}

/// Outside the Workers runtime there is no queue to send to.
#[cfg(not(target_arch = "wasm32"))]
pub async fn send(_delays: &[u32]) -> Result<(), String> {
    Err("queues exist only in the Workers runtime".into())
}
