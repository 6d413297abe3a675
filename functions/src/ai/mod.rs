//! The AI proxy: provider wire formats (one module each), stored-key encryption, and metering.
//! A metered call is `begin` (reserve credits, resolve provider, model and key) → the provider
//! call → `finish` (settle what the provider reported, or release on failure).

pub mod credits;
pub mod gemini;
pub mod keys;
pub mod openai;
pub mod provider;
pub mod retry;
pub mod settings;
pub mod sse;
pub mod stream;
pub mod transport;
pub mod xai;

use std::future::Future;
use std::time::Duration;

use crate::config::Config;
use crate::error::ApiError;
use crate::scope::Scope;

use credits::{Reservation, ReserveRequest, Settlement};
use keys::SealedKey;
use provider::{Capability, ProviderEndpoint, ProviderError, ProviderKind, Usage};
use retry::{is_transient, with_retries, RetryPolicy};

/// A call with credits reserved: where it goes and what it is billed against.
#[derive(Clone, Debug)]
pub struct MeteredCall {
    pub request_id: String,
    pub provider: ProviderKind,
    pub model: String,
    pub endpoint: ProviderEndpoint,
    log_prompts: bool,
}

/// What a successful provider call consumed.
pub struct Consumed {
    pub usage: Usage,
    pub images: u32,
}

pub async fn begin(config: &Config, request: &ReserveRequest<'_>) -> Result<MeteredCall, ApiError> {
    let reservation = credits::reserve(config, request).await?;
    match resolve(config, reservation, request.capability) {
        Ok(call) => Ok(call),
        Err((request_id, error)) => {
            credits::release(config, &request_id, error.code(), 0).await?;
            Err(error)
        }
    }
}

/// The caller's own key and base URL when their active configuration has them, else the
/// platform's.
fn resolve(
    config: &Config,
    reservation: Reservation,
    capability: Capability,
) -> Result<MeteredCall, (String, ApiError)> {
    let fail = |error| (reservation.request_id.clone(), error);
    let kind = reservation.provider;
    let api_key = match (
        &reservation.encrypted_api_key,
        &reservation.api_key_version,
        &reservation.config_id,
    ) {
        (Some(ciphertext), Some(version), Some(config_id)) => {
            let key_ring = config.ai.key_ring.as_ref().ok_or_else(|| {
                fail(ApiError::Misconfigured(
                    "AI_KEY_ENCRYPTION_KEYS is not configured".into(),
                ))
            })?;
            let sealed = SealedKey {
                version: version.clone(),
                ciphertext: ciphertext.clone(),
            };
            key_ring.open(&sealed, config_id).map_err(|error| {
                fail(ApiError::Misconfigured(format!(
                    "stored provider key {config_id}: {error}"
                )))
            })?
        }
        _ => config
            .ai
            .platform_key(kind)
            .map(|key| key.expose().to_owned())
            .ok_or_else(|| {
                fail(ApiError::Misconfigured(format!(
                    "no platform API key for {}",
                    kind.as_str()
                )))
            })?,
    };
    let base_url = reservation
        .base_url
        .clone()
        .or_else(|| config.ai.platform_base_url(kind).map(str::to_owned))
        .ok_or_else(|| {
            fail(ApiError::Misconfigured(format!(
                "no base URL for {}",
                kind.as_str()
            )))
        })?;
    Ok(MeteredCall {
        model: reservation
            .model
            .clone()
            .unwrap_or_else(|| kind.default_model(capability).to_owned()),
        provider: kind,
        endpoint: ProviderEndpoint { base_url, api_key },
        log_prompts: reservation.log_prompts,
        request_id: reservation.request_id,
    })
}

/// Settles a successful call (charging what the provider reported) or releases a failed one
/// (`Err` holds the error code it failed with).
pub async fn finish(
    config: &Config,
    call: &MeteredCall,
    outcome: Result<Consumed, &str>,
    latency_ms: u32,
    prompt: &str,
) -> Result<(), ApiError> {
    match outcome {
        Ok(consumed) => {
            let settlement = Settlement {
                provider: call.provider,
                model: &call.model,
                usage: consumed.usage,
                images: consumed.images,
                latency_ms,
                prompt: call.log_prompts.then_some(prompt),
            };
            credits::settle(config, &call.request_id, &settlement).await
        }
        Err(error_code) => credits::release(config, &call.request_id, error_code, latency_ms).await,
    }
}

/// `finish` as work after the response (`waitUntil`), so the caller never waits for the
/// ledger. A failure is logged; the reservation then stays open, uncharged, until the monthly
/// reset expires it.
pub fn finish_later(
    scope: &Scope<'_>,
    config: &Config,
    call: &MeteredCall,
    outcome: Result<Consumed, &'static str>,
    latency_ms: u32,
    prompt: &str,
) {
    let (config, call) = (config.clone(), call.clone());
    let prompt = if call.log_prompts {
        prompt.to_owned()
    } else {
        String::new()
    };
    scope.defer(async move { finish_logged(&config, &call, outcome, latency_ms, &prompt).await });
}

/// `finish`, with a failure turned into the log line that reports it.
pub async fn finish_logged(
    config: &Config,
    call: &MeteredCall,
    outcome: Result<Consumed, &str>,
    latency_ms: u32,
    prompt: &str,
) -> Option<String> {
    let finished = finish(config, call, outcome, latency_ms, prompt).await;
    finished.err().map(|error| {
        serde_json::json!({
            "level": "error", "msg": "credit settlement failed", "request_id": call.request_id,
            "error_code": error.code(), "cause": error.cause(),
        })
        .to_string()
    })
}

/// Runs `attempt` for the call's provider, with retries; if it still fails transiently and the
/// platform has a fallback provider (`AI_FALLBACK_PROVIDER`, with its platform key), runs it for
/// that one. Returns the call that produced the outcome, so settlement bills what answered.
/// `elapsed` is the time since the first attempt.
pub async fn call_with_fallback<T, Attempt, Outcome>(
    config: &Config,
    call: MeteredCall,
    capability: Capability,
    elapsed: impl Fn() -> Duration,
    attempt: Attempt,
) -> (MeteredCall, Result<T, ProviderError>)
where
    Attempt: Fn(MeteredCall) -> Outcome,
    Outcome: Future<Output = Result<T, ProviderError>>,
{
    let policy = RetryPolicy {
        attempt_timeout: config.ai.call_timeout,
        ..RetryPolicy::PROVIDER_CALLS
    };
    let outcome = with_retries(&policy, &elapsed, || attempt(call.clone())).await;
    let standby = match &outcome {
        Err(error) if is_transient(error) => fallback(config, &call, capability),
        _ => None,
    };
    match standby {
        Some(standby) => {
            let outcome = with_retries(&policy, &elapsed, || attempt(standby.clone())).await;
            (standby, outcome)
        }
        None => (call, outcome),
    }
}

/// The same call (same reservation) sent to the platform's fallback provider, if one is set,
/// differs from the call's and has a platform key.
fn fallback(config: &Config, call: &MeteredCall, capability: Capability) -> Option<MeteredCall> {
    let kind = config
        .ai
        .fallback_provider
        .filter(|kind| *kind != call.provider)?;
    Some(MeteredCall {
        provider: kind,
        model: kind.default_model(capability).to_owned(),
        endpoint: platform_endpoint(config, kind)?,
        ..call.clone()
    })
}

fn platform_endpoint(config: &Config, kind: ProviderKind) -> Option<ProviderEndpoint> {
    Some(ProviderEndpoint {
        base_url: config.ai.platform_base_url(kind)?.to_owned(),
        api_key: config.ai.platform_key(kind)?.expose().to_owned(),
    })
}

/// The call sent to `provider` and `model` when a request names them (the content jobs' chain
/// steps do): with the reservation's own key and base URL when it resolved that provider (the
/// caller's configuration), else with the platform's. A model named alone applies to the
/// reserved provider.
pub fn directed(
    config: &Config,
    call: MeteredCall,
    provider: Option<ProviderKind>,
    model: Option<&str>,
    capability: Capability,
) -> Result<MeteredCall, ApiError> {
    let mut call = match provider {
        Some(kind) if kind != call.provider => MeteredCall {
            provider: kind,
            model: kind.default_model(capability).to_owned(),
            endpoint: platform_endpoint(config, kind).ok_or_else(|| {
                ApiError::Misconfigured(format!("no platform API key for {}", kind.as_str()))
            })?,
            ..call
        },
        _ => call,
    };
    if let Some(model) = model {
        model.clone_into(&mut call.model);
    }
    Ok(call)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::config_from;

    fn call(provider: ProviderKind) -> MeteredCall {
        MeteredCall {
            request_id: "r".into(),
            provider,
            model: "m".into(),
            endpoint: ProviderEndpoint {
                base_url: "http://primary".into(),
                api_key: "user-key".into(),
            },
            log_prompts: false,
        }
    }

    fn config(fallback: &str) -> Config {
        config_from(&[
            ("SUPABASE_URL", "http://127.0.0.1:1"),
            ("SUPABASE_ANON_KEY", "anon-key"),
            ("SUPABASE_SERVICE_ROLE_KEY", "service-role-key"),
            ("AI_FALLBACK_PROVIDER", fallback),
            ("GEMINI_API_KEY", "platform-gemini"),
            ("GEMINI_BASE_URL", "http://gemini.test/v1beta"),
        ])
        .unwrap()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_fallback_stands_in_only_after_transient_failures() {
        let config = config("gemini");
        let answer = |call: MeteredCall| async move {
            match call.provider {
                ProviderKind::Openai => Err(ProviderError::Unavailable("503".into())),
                _ => Ok(call.endpoint.api_key),
            }
        };
        let (used, outcome) = call_with_fallback(
            &config,
            call(ProviderKind::Openai),
            Capability::Chat,
            || Duration::ZERO,
            answer,
        )
        .await;
        assert_eq!(outcome.unwrap(), "platform-gemini");
        assert_eq!(
            (used.provider, used.model.as_str(), used.request_id.as_str()),
            (ProviderKind::Gemini, "gemini-2.5-flash", "r")
        );

        let refused =
            |_: MeteredCall| async { Err::<(), _>(ProviderError::AuthFailed("401".into())) };
        let (used, outcome) = call_with_fallback(
            &config,
            call(ProviderKind::Openai),
            Capability::Chat,
            || Duration::ZERO,
            refused,
        )
        .await;
        assert!(outcome.is_err());
        assert_eq!(
            used.provider,
            ProviderKind::Openai,
            "a refused key is not a reason to fall back"
        );
    }

    #[test]
    fn no_fallback_to_itself_or_without_a_platform_key() {
        assert!(fallback(
            &config("gemini"),
            &call(ProviderKind::Gemini),
            Capability::Text
        )
        .is_none());
        assert!(fallback(
            &config("xai"),
            &call(ProviderKind::Openai),
            Capability::Text
        )
        .is_none());
    }
}
