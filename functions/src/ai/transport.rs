//! Sends provider calls over HTTP through `outbound` (no redirects, bounded answers): whole
//! answers, or streams read as they arrive, whose abort when dropped stops the provider
//! generating for a client that left.
//!
//! Every call's URL passes the outbound policy first, even the platform's: a user's base URL
//! may have been written straight into the database, past the check when it was saved. A
//! refused URL fails before any request (so no key) is sent.

use super::provider::ProviderError;
use crate::config::Config;
use crate::infra::outbound::{self, Call, Destination, Failure, Limits, Reply};

/// What an image answer may weigh: up to four base64 images.
pub const IMAGE_ANSWER_BYTES: usize = 32 << 20;
/// What a whole stream may weigh; it is relayed as it arrives, never held.
const STREAM_BYTES: usize = 64 << 20;

/// Where provider calls go: the base URL a user may have chosen, under the outbound policy.
pub struct Client {
    destination: Destination<'static>,
}

impl Client {
    /// Answers within `AI_CALL_TIMEOUT_SECONDS` (a stream: each chunk) and 8 MiB.
    pub fn new(config: &Config) -> Self {
        let limits = Limits {
            timeout: config.ai.call_timeout,
            ..Limits::DEFAULT
        };
        Self {
            destination: Destination::chosen_by_user(config.outbound, limits),
        }
    }

    pub fn answering_up_to(mut self, max_body_bytes: usize) -> Self {
        self.destination.limits.max_body_bytes = max_body_bytes;
        self
    }
}

pub async fn send(client: &Client, call: &Call) -> Result<Reply, ProviderError> {
    let reply = outbound::exchange(call, &client.destination)
        .await
        .map_err(failed)?;
    not_redirected(reply.status)?;
    Ok(reply)
}

/// A provider's answer to a streamed call.
pub enum Opened {
    /// 2xx: the body, read as it arrives.
    Streaming(futures::stream::LocalBoxStream<'static, Result<Vec<u8>, ProviderError>>),
    /// Anything else, read whole so the provider module classifies it as for a plain call.
    Refused(Reply),
}

pub async fn open_stream(client: &Client, call: &Call) -> Result<Opened, ProviderError> {
    use futures::StreamExt;

    let mut destination = client.destination;
    destination.limits.max_body_bytes = STREAM_BYTES.max(destination.limits.max_body_bytes);
    let streamed = outbound::open_exchange(call, &destination)
        .await
        .map_err(failed)?;
    let status = streamed.status;
    not_redirected(status)?;
    if !(200..300).contains(&status) {
        let reply = streamed.read_whole().await.map_err(failed)?;
        return Ok(Opened::Refused(reply));
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

/// No answer is transient; an oversized one will be oversized again, a refused URL refused
/// again.
fn failed(failure: Failure) -> ProviderError {
    match failure {
        Failure::Refused(reason) => {
            ProviderError::Malformed(format!("provider URL refused: {reason}"))
        }
        Failure::TooLarge { .. } => ProviderError::Malformed(format!("provider {failure}")),
        Failure::NotSent(_) | Failure::Unreachable(_) | Failure::TimedOut(_) => {
            ProviderError::Unavailable(format!("provider unreachable: {failure}"))
        }
    }
}
