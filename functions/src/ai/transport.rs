//! Sends provider calls over HTTP through `outbound` (no redirects, bounded answers): whole
//! answers, or streams read as they arrive, whose abort when dropped stops the provider
//! generating for a client that left.
//!
//! Every call's URL passes the outbound policy first, even the platform's: a user's base URL
//! may have been written straight into the database, past the check when it was saved. A
//! refused URL fails before any request (so no key) is sent.

use super::provider::{HttpCall, HttpReply, ProviderError};
use crate::config::Config;
use crate::outbound::policy::OutboundPolicy;
use crate::outbound::{self, Failure, Limits};

/// What an image answer may weigh: up to four base64 images.
pub const IMAGE_ANSWER_BYTES: usize = 32 << 20;
/// What a whole stream may weigh; it is relayed as it arrives, never held.
const STREAM_BYTES: usize = 64 << 20;

pub struct Client {
    http: reqwest::Client,
    policy: OutboundPolicy,
    limits: Limits,
}

impl Client {
    /// Answers within `AI_CALL_TIMEOUT_SECONDS` (a stream: each chunk) and 8 MiB.
    pub fn new(config: &Config) -> Self {
        Self {
            http: reqwest::Client::new(),
            policy: config.outbound,
            limits: Limits {
                timeout: config.ai.call_timeout,
                ..Limits::DEFAULT
            },
        }
    }

    pub fn answering_up_to(mut self, max_body_bytes: usize) -> Self {
        self.limits.max_body_bytes = max_body_bytes;
        self
    }

    fn request(&self, call: &HttpCall) -> Result<reqwest::RequestBuilder, ProviderError> {
        let url = self.policy.check(&call.url).map_err(|refusal| {
            ProviderError::Malformed(format!("provider URL refused: {}", refusal.reason()))
        })?;
        let mut request = self.http.post(url).body(call.body.clone());
        for (name, value) in &call.headers {
            request = request.header(*name, value);
        }
        Ok(request)
    }
}

pub async fn send(client: &Client, call: &HttpCall) -> Result<HttpReply, ProviderError> {
    let reply = outbound::send_within(client.request(call)?, client.limits)
        .await
        .map_err(failed)?;
    not_redirected(reply.status)?;
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

pub async fn open_stream(client: &Client, call: &HttpCall) -> Result<Opened, ProviderError> {
    use futures::StreamExt;

    let limits = Limits {
        max_body_bytes: STREAM_BYTES.max(client.limits.max_body_bytes),
        ..client.limits
    };
    let streamed = outbound::open(client.request(call)?, limits)
        .await
        .map_err(failed)?;
    let status = streamed.status;
    not_redirected(status)?;
    if !(200..300).contains(&status) {
        let retry_after = streamed.header("retry-after");
        let body = streamed.read_whole().await.map_err(failed)?.body;
        return Ok(Opened::Refused(HttpReply {
            status,
            retry_after,
            body,
        }));
    }
    let chunks = streamed.chunks.map(|chunk| chunk.map_err(failed));
    Ok(Opened::Streaming(chunks.boxed_local()))
}

/// A redirect is never followed (it could lead anywhere, key and all): the endpoint is wrong.
fn not_redirected(status: u16) -> Result<(), ProviderError> {
    if (300..400).contains(&status) {
        return Err(ProviderError::Malformed(format!(
            "provider answered a redirect ({status})"
        )));
    }
    Ok(())
}

/// No answer is transient; an oversized one will be oversized again.
fn failed(failure: Failure) -> ProviderError {
    match failure {
        Failure::TooLarge { .. } => ProviderError::Malformed(format!("provider {failure}")),
        Failure::Unreachable(_) | Failure::TimedOut(_) => {
            ProviderError::Unavailable(format!("provider unreachable: {failure}"))
        }
    }
}
