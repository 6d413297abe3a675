//! Sends platform calls through `outbound` (no redirects: a 3xx is the answer, for the
//! platform module to refuse; bounded answers), with a timeout per attempt and retries of 429,
//! 5xx and network failures (exponential backoff with full jitter, honouring `Retry-After`).
//! `SOCIAL_API_ORIGIN_OVERRIDE` points every call at the local fakes (see `outbound::rewrite`).

use std::time::Duration;

use crate::infra::clock::Clock;
use crate::infra::outbound::{self, Call, Destination, Limits, Reply};
use crate::infra::retry::{with_retries, RetryPolicy};

use super::SocialError;

pub const POLICY: RetryPolicy = RetryPolicy {
    max_attempts: 3,
    base_delay: Duration::from_millis(200),
    max_delay: Duration::from_secs(2),
    attempt_timeout: Duration::from_secs(15),
    deadline: Duration::from_secs(30),
};

pub struct Transport<'a> {
    destination: Destination<'a>,
    clock: &'a dyn Clock,
}

impl<'a> Transport<'a> {
    pub fn new(origin_override: Option<&'a str>, clock: &'a dyn Clock) -> Self {
        Self {
            destination: Destination {
                headers: &[("accept", "application/json")],
                ..Destination::platform(origin_override, Limits::DEFAULT)
            },
            clock,
        }
    }

    /// The reply to `call`, after retrying transient failures; 4xx replies are for the
    /// platform module to read.
    pub async fn send(&self, call: &Call) -> Result<Reply, SocialError> {
        let started = self.clock.unix_millis();
        let elapsed =
            || Duration::from_millis((self.clock.unix_millis() - started).max(0.0) as u64);
        with_retries(&POLICY, elapsed, || async {
            let reply = outbound::exchange(call, &self.destination)
                .await
                .map_err(|failure| SocialError::Transient {
                    retry_after: None,
                    cause: format!("platform unreachable: {failure}"),
                })?;
            if reply.status == 429 || reply.status >= 500 {
                return Err(super::classify_error_host(call, &reply));
            }
            Ok(reply)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::without_waiting;

    #[tokio::test(flavor = "current_thread")]
    async fn a_platforms_huge_retry_after_gives_up_without_overflowing() {
        let outcome = without_waiting(with_retries(
            &POLICY,
            || Duration::from_secs(2),
            || async {
                Err::<(), _>(SocialError::Transient {
                    retry_after: Some(u64::MAX),
                    cause: "platform answered 429".into(),
                })
            },
        ))
        .await;
        assert!(matches!(
            outcome,
            Err(SocialError::Transient {
                retry_after: Some(u64::MAX),
                ..
            })
        ));
    }
}
