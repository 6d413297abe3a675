//! The AI proxy: provider wire formats (one module each), stored-key encryption, and metering.
//! A metered call is `begin` (reserve credits, resolve provider, model and key) → the provider
//! call → `finish` (settle what the provider reported, or release on failure). The rule: a
//! call whose caller gets an error is never charged, whatever the provider did.

pub mod call;
pub mod credits;
pub mod gemini;
pub mod keys;
pub mod moderation;
pub mod openai;
pub mod provider;
pub mod reseal;
pub mod routes;
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

use crate::infra::retry::{with_retries, RetryPolicy};
use credits::{Reservation, ReserveRequest, Reserved, Settlement};
use keys::SealedKey;
use provider::is_transient;
use provider::{Capability, ProviderEndpoint, ProviderError, ProviderKind, Usage};

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
#[derive(Clone, Copy, Debug, Default)]
pub struct Consumed {
    pub usage: Usage,
    pub images: u32,
}

/// Reserves the request's credits and resolves where the call goes, with the state of the rate
/// window it counted in.
pub async fn begin(config: &Config, request: &ReserveRequest<'_>) -> Reserved<MeteredCall> {
    let Reserved { outcome, window } = credits::reserve(config, request).await;
    let outcome = match outcome.map(|reservation| resolve(config, reservation, request.capability))
    {
        Ok(Ok(call)) => Ok(call),
        Ok(Err((request_id, error))) => credits::release(config, &request_id, error.code(), 0)
            .await
            .and(Err(error)),
        Err(error) => Err(error),
    };
    Reserved { outcome, window }
}

/// The caller's own key, with their base URL (else the platform's for the provider), when the
/// reservation resolved their configuration; else the platform's key with the platform's base
/// URL. A base URL of the caller never goes with the platform's key.
fn resolve(
    config: &Config,
    reservation: Reservation,
    capability: Capability,
) -> Result<MeteredCall, (String, ApiError)> {
    let fail = |error| (reservation.request_id.clone(), error);
    let kind = reservation.provider;
    let endpoint = match (
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
            let base_url = reservation.base_url.as_deref();
            let api_key = keys::open(key_ring, &sealed, config_id, base_url)
                .map_err(|error| fail(stored_key_unusable(config_id, &error)))?;
            let base_url = base_url
                .or_else(|| config.ai.platform_base_url(kind))
                .ok_or_else(|| fail(no_base_url(kind)))?;
            ProviderEndpoint {
                base_url: base_url.to_owned(),
                api_key,
            }
        }
        _ => platform_endpoint(config, kind).ok_or_else(|| {
            fail(ApiError::Misconfigured(format!(
                "no platform API key or base URL for {}",
                kind.as_str()
            )))
        })?,
    };
    Ok(MeteredCall {
        model: reservation
            .model
            .clone()
            .unwrap_or_else(|| kind.default_model(capability).to_owned()),
        provider: kind,
        endpoint,
        log_prompts: reservation.log_prompts,
        request_id: reservation.request_id,
    })
}

/// A stored key that does not open for its row and base URL (sealed before base URLs were bound
/// into keys, or its row was changed outside the API): the owner must enter it again.
fn stored_key_unusable(config_id: &str, error: &keys::KeyRingError) -> ApiError {
    ApiError::Rejected {
        status: 409,
        code: "api_key_reentry_required",
        message: format!(
            "The stored API key of configuration {config_id} cannot be used ({error:?}); save it again."
        ),
    }
}

fn no_base_url(kind: ProviderKind) -> ApiError {
    ApiError::Misconfigured(format!("no base URL for {}", kind.as_str()))
}

/// What the caller of a metered call got: an answer (and what it consumed), or an error (its
/// code).
pub type Answered = Result<Consumed, &'static str>;

/// Settles a call that answered its caller (charging what the provider reported), or releases
/// the reservation of one that answered an error: the caller is not charged for it, even when
/// the provider was paid (an answer in a shape it does not document, a model's invalid JSON).
pub async fn finish(
    config: &Config,
    call: &MeteredCall,
    outcome: Answered,
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
    outcome: Answered,
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
    outcome: Answered,
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

/// How provider calls are retried (the attempt timeout is the deployment's).
pub const PROVIDER_CALLS: RetryPolicy = RetryPolicy {
    max_attempts: 3,
    base_delay: Duration::from_millis(250),
    max_delay: Duration::from_secs(4),
    attempt_timeout: Duration::from_secs(60),
    deadline: Duration::from_secs(90),
};

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
        ..PROVIDER_CALLS
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

/// The platform's key for `kind`, with the platform's base URL: never a caller's.
fn platform_endpoint(config: &Config, kind: ProviderKind) -> Option<ProviderEndpoint> {
    Some(ProviderEndpoint {
        base_url: config.ai.platform_base_url(kind)?.to_owned(),
        api_key: config.ai.platform_key(kind)?.expose().to_owned(),
    })
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

    const KEY_RING: &str = "v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

    fn config(fallback: &str) -> Config {
        config_from(&[
            ("SUPABASE_URL", "http://127.0.0.1:1"),
            ("SUPABASE_ANON_KEY", "anon-key"),
            ("SUPABASE_SERVICE_ROLE_KEY", "service-role-key"),
            ("AI_FALLBACK_PROVIDER", fallback),
            ("GEMINI_API_KEY", "platform-gemini"),
            ("GEMINI_BASE_URL", "http://gemini.test/v1beta"),
            ("OPENAI_API_KEY", "platform-openai"),
            ("OPENAI_BASE_URL", "https://openai.platform/v1"),
            ("AI_KEY_ENCRYPTION_KEYS", KEY_RING),
        ])
        .unwrap()
    }

    /// A reservation of the caller's OpenAI configuration with `base_url` and, if given, a key
    /// sealed for it.
    fn reservation(base_url: Option<&str>, own_key: Option<&str>) -> Reservation {
        let sealed = own_key.map(|key| {
            keys::seal(
                &keys::KeyRing::parse(KEY_RING).unwrap(),
                key,
                "config-1",
                base_url,
            )
        });
        Reservation {
            request_id: "r".into(),
            config_id: Some("config-1".into()),
            provider: ProviderKind::Openai,
            model: None,
            base_url: base_url.map(str::to_owned),
            encrypted_api_key: sealed.as_ref().map(|s| s.ciphertext.clone()),
            api_key_version: sealed.map(|s| s.version),
            log_prompts: false,
            window: credits::RateWindow {
                limit: 10,
                remaining: 9,
                reset: 60,
                length: 60,
            },
        }
    }

    #[test]
    fn a_callers_base_url_never_goes_with_the_platform_key() {
        let call = resolve(
            &config("gemini"),
            reservation(Some("https://evil.example/v1"), None),
            Capability::Text,
        )
        .unwrap();
        assert_eq!(
            (
                call.endpoint.base_url.as_str(),
                call.endpoint.api_key.as_str()
            ),
            ("https://openai.platform/v1", "platform-openai"),
            "without a key of its own, the call is the platform's, base URL included"
        );
        assert_eq!(call.model, "gpt-4o-mini");
    }

    #[test]
    fn a_stored_key_goes_to_its_own_base_url_only() {
        let config = config("gemini");
        let own = resolve(
            &config,
            reservation(Some("https://byok.example/v1"), Some("sk-user")),
            Capability::Text,
        )
        .unwrap();
        assert_eq!(
            (
                own.endpoint.base_url.as_str(),
                own.endpoint.api_key.as_str()
            ),
            ("https://byok.example/v1", "sk-user")
        );
        let official = resolve(
            &config,
            reservation(None, Some("sk-user")),
            Capability::Text,
        )
        .unwrap();
        assert_eq!(
            (
                official.endpoint.base_url.as_str(),
                official.endpoint.api_key.as_str()
            ),
            ("https://openai.platform/v1", "sk-user")
        );

        let mut moved = reservation(Some("https://byok.example/v1"), Some("sk-user"));
        moved.base_url = Some("https://evil.example/v1".into());
        let (request_id, error) = resolve(&config, moved, Capability::Text).unwrap_err();
        assert_eq!(
            (request_id.as_str(), error.code()),
            ("r", "api_key_reentry_required"),
            "a key sealed for one base URL does not open for another"
        );
    }

    #[test]
    fn the_fallback_is_the_platforms_own_endpoint() {
        let mut own = call(ProviderKind::Openai);
        own.endpoint.base_url = "https://byok.example/v1".into();
        let standby = fallback(&config("gemini"), &own, Capability::Text).unwrap();
        assert_eq!(
            (
                standby.endpoint.base_url.as_str(),
                standby.endpoint.api_key.as_str(),
                standby.model.as_str()
            ),
            (
                "http://gemini.test/v1beta",
                "platform-gemini",
                "gemini-2.5-flash"
            )
        );
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
        assert!(fallback(
            &config("openai"),
            &call(ProviderKind::Openai),
            Capability::Text
        )
        .is_none());
    }
}
