//! Sends provider calls over HTTP: whole answers through `outbound`, streams with reqwest
//! (fetch in workerd, hyper on the host), whose abort when a stream is dropped stops the
//! provider generating for a client that left.

use super::provider::{HttpCall, HttpReply, ProviderError};
use crate::outbound;

pub async fn send(client: &reqwest::Client, call: &HttpCall) -> Result<HttpReply, ProviderError> {
    let reply = outbound::send(request(client, call))
        .await
        .map_err(unreachable)?;
    Ok(HttpReply {
        status: reply.status,
        retry_after: reply.header("retry-after"),
        body: reply.body,
    })
}

/// A provider's answer to a streamed call.
pub enum Opened {
    /// 2xx: the body, read as it arrives.
    Streaming(futures::stream::LocalBoxStream<'static, Result<Vec<u8>, ProviderError>>),
    /// Anything else, read whole so the provider module classifies it as for a plain call.
    Refused(HttpReply),
}

pub async fn open_stream(
    client: &reqwest::Client,
    call: &HttpCall,
) -> Result<Opened, ProviderError> {
    use futures::StreamExt;

    let response = request(client, call).send().await.map_err(unreachable)?;
    let status = response.status().as_u16();
    if !response.status().is_success() {
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let body = response.bytes().await.map_err(unreachable)?.to_vec();
        return Ok(Opened::Refused(HttpReply {
            status,
            retry_after,
            body,
        }));
    }
    let chunks = response
        .bytes_stream()
        .map(|chunk| chunk.map(|bytes| bytes.to_vec()).map_err(unreachable));
    Ok(Opened::Streaming(chunks.boxed_local()))
}

fn request(client: &reqwest::Client, call: &HttpCall) -> reqwest::RequestBuilder {
    let mut request = client.post(&call.url).body(call.body.clone());
    for (name, value) in &call.headers {
        request = request.header(*name, value);
    }
    request
}

fn unreachable(cause: impl std::fmt::Display) -> ProviderError {
    ProviderError::Unavailable(format!("provider unreachable: {cause}"))
}
