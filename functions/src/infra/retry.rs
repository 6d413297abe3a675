//! Resilience of outbound calls (AI providers, social platforms): a timeout per attempt,
//! retries of what the caller's error type calls transient with exponential backoff and full
//! jitter (honouring `Retry-After`), all within a deadline for the whole request. Streams are
//! retried only until they open: once a byte went to the client, a retry would repeat it.

use std::future::Future;
use std::time::Duration;

use futures::future::{select, Either};

use crate::infra::clock::sleep;

#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    /// The first retry waits up to this; each further one up to twice as long.
    pub base_delay: Duration,
    pub max_delay: Duration,
    pub attempt_timeout: Duration,
    /// No retry starts if its wait would end past this, counted from the first attempt.
    pub deadline: Duration,
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1 for the first): full jitter over the exponential
    /// bound, or the provider's `Retry-After` when it asked for longer. `random` is in [0, 1).
    fn delay(&self, retry: u32, retry_after_seconds: Option<u64>, random: f64) -> Duration {
        let bound = self
            .base_delay
            .saturating_mul(1 << (retry - 1).min(16))
            .min(self.max_delay);
        let jittered = bound.mul_f64(random);
        retry_after_seconds.map_or(jittered, |seconds| {
            jittered.max(Duration::from_secs(seconds))
        })
    }
}

/// The longest `Retry-After` kept: past a day it only says "not soon", and the cap keeps every
/// sum and product made of it far from overflow.
pub const MAX_RETRY_AFTER_SECONDS: u64 = 24 * 3600;

/// `Retry-After` in delay-seconds form (a fraction is rounded up), at most a day; `None` for
/// anything else, an HTTP date included (providers and platforms send seconds).
pub fn parse_retry_after(value: &str) -> Option<u64> {
    let seconds = value.trim().parse::<f64>().ok()?;
    (seconds.is_finite() && seconds >= 0.0)
        .then(|| seconds.min(MAX_RETRY_AFTER_SECONDS as f64).ceil() as u64)
}

/// An error `with_retries` can classify: the AI providers' and the social platforms'.
pub trait Retryable: Sized {
    /// `Some(retry_after_seconds)` when another attempt may succeed; `None` when it will not.
    fn retry_hint(&self) -> Option<Option<u64>>;
    /// What an attempt that got no answer within `limit` fails with.
    fn timed_out(limit: Duration) -> Self;
}

/// Runs `attempt` until it succeeds, fails for good, or the policy gives up; returns the last
/// outcome. `elapsed` reads the time since the first attempt (the platform's clock).
pub async fn with_retries<T, E, Attempt, Outcome>(
    policy: &RetryPolicy,
    elapsed: impl Fn() -> Duration,
    mut attempt: Attempt,
) -> Result<T, E>
where
    E: Retryable,
    Attempt: FnMut() -> Outcome,
    Outcome: Future<Output = Result<T, E>>,
{
    let mut retry = 0;
    loop {
        let error = match with_timeout(policy.attempt_timeout, attempt()).await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        retry += 1;
        let Some(retry_after) = error.retry_hint() else {
            return Err(error);
        };
        if retry >= policy.max_attempts {
            return Err(error);
        }
        let delay = policy.delay(retry, retry_after, random_unit());
        // Saturating: `Retry-After` is the other side's number, and a wait past the deadline
        // (however far) means giving up now, not waiting.
        if elapsed().saturating_add(delay) > policy.deadline {
            return Err(error);
        }
        sleep(delay).await;
    }
}

async fn with_timeout<T, E: Retryable>(
    limit: Duration,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    match select(Box::pin(call), Box::pin(sleep(limit))).await {
        Either::Left((outcome, _)) => outcome,
        Either::Right(_) => Err(E::timed_out(limit)),
    }
}

pub(crate) fn random_unit() -> f64 {
    let mut bytes = [0_u8; 8];
    getrandom::getrandom(&mut bytes).expect("the platform provides randomness");
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1_u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ai::provider::ProviderError;
    use crate::ai::PROVIDER_CALLS;
    use crate::test_support::without_waiting;
    use std::cell::Cell;

    const FAST: RetryPolicy = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(4),
        attempt_timeout: Duration::from_millis(200),
        deadline: Duration::from_secs(5),
    };

    #[test]
    fn backs_off_exponentially_with_full_jitter_and_honours_retry_after() {
        let policy = PROVIDER_CALLS;
        assert_eq!(
            policy.delay(1, None, 0.999_999),
            Duration::from_millis(250).mul_f64(0.999_999)
        );
        assert_eq!(policy.delay(3, None, 0.5), Duration::from_millis(500));
        assert_eq!(
            policy.delay(9, None, 0.5),
            Duration::from_secs(2),
            "capped at max_delay"
        );
        assert_eq!(policy.delay(1, None, 0.0), Duration::ZERO);
        assert_eq!(policy.delay(1, Some(3), 0.5), Duration::from_secs(3));
        let samples: Vec<f64> = (0..100).map(|_| random_unit()).collect();
        assert!(
            samples.iter().all(|r| (0.0..1.0).contains(r))
                && samples.iter().any(|r| *r > 0.5)
                && samples.iter().any(|r| *r < 0.5)
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn retries_transient_failures_only() {
        let calls = Cell::new(0);
        let outcome = with_retries(
            &FAST,
            || Duration::ZERO,
            || {
                calls.set(calls.get() + 1);
                let n = calls.get();
                async move {
                    if n < 3 {
                        Err(ProviderError::Unavailable("503".into()))
                    } else {
                        Ok(n)
                    }
                }
            },
        )
        .await;
        assert_eq!(outcome, Ok(3));

        calls.set(0);
        let refused = with_retries(
            &FAST,
            || Duration::ZERO,
            || {
                calls.set(calls.get() + 1);
                async { Err::<(), _>(ProviderError::AuthFailed("401".into())) }
            },
        )
        .await;
        assert!(matches!(refused, Err(ProviderError::AuthFailed(_))));
        assert_eq!(calls.get(), 1, "a refused key is not retried");

        calls.set(0);
        let limited = with_retries(
            &FAST,
            || Duration::ZERO,
            || {
                calls.set(calls.get() + 1);
                async {
                    Err::<(), _>(ProviderError::RateLimited {
                        retry_after_seconds: None,
                    })
                }
            },
        )
        .await;
        assert!(limited.is_err());
        assert_eq!(calls.get(), FAST.max_attempts);
    }

    #[test]
    fn retry_after_is_seconds_capped_at_a_day_and_nothing_else() {
        for (value, seconds) in [
            ("3", Some(3)),
            (" 2.5 ", Some(3)),
            ("0", Some(0)),
            ("86401", Some(86_400)),
            ("1e30", Some(86_400)),
            ("18446744073709551616", Some(86_400)),
            ("-1", None),
            ("NaN", None),
            ("inf", None),
            ("Wed, 21 Oct 2999 07:28:00 GMT", None),
            ("", None),
        ] {
            assert_eq!(parse_retry_after(value), seconds, "{value}");
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_huge_retry_after_gives_up_without_overflowing() {
        let calls = Cell::new(0);
        let outcome = without_waiting(with_retries(
            &PROVIDER_CALLS,
            || Duration::from_secs(2),
            || {
                calls.set(calls.get() + 1);
                async {
                    Err::<(), _>(ProviderError::RateLimited {
                        retry_after_seconds: Some(u64::MAX),
                    })
                }
            },
        ))
        .await;
        assert!(matches!(outcome, Err(ProviderError::RateLimited { .. })));
        assert_eq!(calls.get(), 1, "no wait past the deadline");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_retry_whose_wait_ends_at_the_deadline_is_made() {
        let calls = Cell::new(0);
        let outcome = with_retries(
            &FAST,
            // FAST's jitter stays under 4 ms, so the wait is the 1 s asked for, ending on the
            // deadline exactly.
            || FAST.deadline - Duration::from_secs(1),
            || {
                calls.set(calls.get() + 1);
                let first = calls.get() == 1;
                async move {
                    if first {
                        Err(ProviderError::RateLimited {
                            retry_after_seconds: Some(1),
                        })
                    } else {
                        Ok(())
                    }
                }
            },
        )
        .await;
        assert_eq!(outcome, Ok(()));
        assert_eq!(calls.get(), 2);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn times_out_slow_attempts_and_respects_the_deadline() {
        let slow = with_retries(
            &FAST,
            || Duration::ZERO,
            || async {
                sleep(Duration::from_secs(5)).await;
                Ok(())
            },
        )
        .await;
        assert!(matches!(slow, Err(ProviderError::Unavailable(cause)) if cause.contains("within")));

        let calls = Cell::new(0);
        let late = with_retries(
            &FAST,
            || FAST.deadline,
            || {
                calls.set(calls.get() + 1);
                async {
                    Err::<(), _>(ProviderError::RateLimited {
                        retry_after_seconds: Some(1),
                    })
                }
            },
        )
        .await;
        assert!(late.is_err());
        assert_eq!(
            calls.get(),
            1,
            "no retry whose wait would end past the deadline"
        );
    }
}
