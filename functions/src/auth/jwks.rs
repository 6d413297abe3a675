//! The project's published signing keys, cached per isolate.
//!
//! Keys are fetched on first use, again once the TTL (Cache-Control max-age, else 10 min) has
//! passed, and early when a token names a `kid` we do not know (key rotation). Fetches are
//! single-flight: requests arriving while one is in flight wait for its outcome instead of
//! fetching again. Once keys are cached, a fetch is at most one per [`MIN_FETCH_INTERVAL`], so
//! tokens with made-up kids cannot make us hammer the JWKS endpoint; with nothing cached yet
//! there is nothing to serve meanwhile, so the next request retries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use jwt_compact::jwk::JsonWebKey;
use serde::Deserialize;

use super::keys::VerificationKey;
use super::verified::VerifiedTokens;

const MIN_FETCH_INTERVAL: i64 = 30;
const DEFAULT_TTL: i64 = 600;
const MAX_TTL: i64 = 86_400;
/// How often a request waiting for another's fetch looks whether it has finished.
const IN_FLIGHT_POLL: Duration = Duration::from_millis(5);

#[derive(Default)]
pub struct KeySet(HashMap<String, Arc<VerificationKey>>);

impl KeySet {
    /// Parses a JWKS document, keeping the signature keys we can verify with: EC P-256
    /// (ES256) and RSA (RS256). A key whose own `alg` names another algorithm is skipped.
    pub fn from_jwks_json(document: &str) -> Result<Self, serde_json::Error> {
        #[derive(Deserialize)]
        struct Document {
            keys: Vec<serde_json::Value>,
        }
        #[derive(Deserialize)]
        struct KeyMetadata {
            kid: Option<String>,
            alg: Option<String>,
            #[serde(rename = "use")]
            usage: Option<String>,
        }

        let document: Document = serde_json::from_str(document)?;
        let keys = document.keys.into_iter().filter_map(|raw| {
            let metadata = KeyMetadata::deserialize(&raw).ok()?;
            let jwk = JsonWebKey::deserialize(&raw).ok()?;
            let key = VerificationKey::from_public_jwk(&jwk)?;
            let usable = metadata.usage.as_deref().is_none_or(|usage| usage == "sig")
                && metadata
                    .alg
                    .as_deref()
                    .is_none_or(|alg| alg == key.algorithm());
            if !usable {
                return None;
            }
            Some((metadata.kid?, Arc::new(key)))
        });
        Ok(Self(keys.collect()))
    }

    fn get(&self, kid: &str) -> Option<Arc<VerificationKey>> {
        self.0.get(kid).cloned()
    }
}

struct CachedKeys {
    keys: KeySet,
    expires_at: i64,
}

struct CacheState {
    cached: Option<CachedKeys>,
    last_fetch_at: Option<i64>,
    fetch_in_flight: bool,
    /// Completed fetches, so a request that waited for another's fetch can tell it happened.
    fetches: u64,
    /// Why the latest fetch failed (`None` after a success).
    last_fetch_error: Option<String>,
}

pub struct JwksCache {
    state: Mutex<CacheState>,
    verified: VerifiedTokens,
}

impl JwksCache {
    pub const fn new() -> Self {
        Self::with_state(None, None)
    }

    const fn with_state(cached: Option<CachedKeys>, last_fetch_at: Option<i64>) -> Self {
        Self {
            state: Mutex::new(CacheState {
                cached,
                last_fetch_at,
                fetch_in_flight: false,
                fetches: 0,
                last_fetch_error: None,
            }),
            verified: VerifiedTokens::new(),
        }
    }

    /// The tokens already verified with these keys.
    pub fn verified(&self) -> &VerifiedTokens {
        &self.verified
    }

    /// The key named `kid`, fetching the JWKS at `jwks_url` when the cache is empty, stale, or
    /// lacks `kid` (the last two at most once per [`MIN_FETCH_INTERVAL`] seconds).
    /// `Ok(None)`: the key set is known and has no such key.
    pub async fn find(
        &self,
        jwks_url: &str,
        kid: &str,
        now: i64,
    ) -> Result<Option<Arc<VerificationKey>>, String> {
        let (may_fetch, fetches_seen) = {
            let state = self.lock();
            let fresh = state
                .cached
                .as_ref()
                .filter(|cached| now < cached.expires_at);
            if let Some(key) = fresh.and_then(|cached| cached.keys.get(kid)) {
                return Ok(Some(key));
            }
            let may_fetch = state.cached.is_none()
                || state
                    .last_fetch_at
                    .is_none_or(|last| now - last >= MIN_FETCH_INTERVAL);
            (may_fetch, state.fetches)
        };

        let fetch_failure = if may_fetch {
            self.fetch_once(jwks_url, now, fetches_seen).await
        } else {
            None
        };

        // After a failed refresh, keys we already had still serve the tokens they sign.
        let state = self.lock();
        let key = state
            .cached
            .as_ref()
            .and_then(|cached| cached.keys.get(kid));
        match (key, fetch_failure, &state.cached) {
            (Some(key), _, _) => Ok(Some(key)),
            (None, Some(cause), _) => Err(cause),
            (None, None, Some(_)) => Ok(None),
            (None, None, None) => Err("JWKS not loaded yet".to_owned()),
        }
    }

    /// Fetches the key set unless a fetch completes meanwhile (`fetches_seen` is the count the
    /// caller saw): then that fetch's outcome is the caller's too. Returns why the fetch failed.
    ///
    /// A waiter polls on its own timer rather than awaiting the fetching request: workerd
    /// cancels a request as hung when all it waits for is another request's I/O.
    async fn fetch_once(&self, jwks_url: &str, now: i64, fetches_seen: u64) -> Option<String> {
        loop {
            {
                let mut state = self.lock();
                if state.fetches != fetches_seen {
                    return state.last_fetch_error.clone();
                }
                if !state.fetch_in_flight {
                    state.fetch_in_flight = true;
                    state.last_fetch_at = Some(now);
                    break;
                }
            }
            crate::infra::clock::sleep(IN_FLIGHT_POLL).await;
        }
        // Frees the flight even if this request is dropped mid-fetch (client gone).
        let _flight = InFlight(self);
        let outcome = fetch(jwks_url, now).await;
        let mut state = self.lock();
        state.fetches += 1;
        match outcome {
            Ok(fetched) => {
                state.cached = Some(fetched);
                state.last_fetch_error = None;
            }
            Err(cause) => state.last_fetch_error = Some(cause),
        }
        let failure = state.last_fetch_error.clone();
        drop(state); // before `_flight`, whose drop takes the lock again
        failure
    }

    fn lock(&self) -> MutexGuard<'_, CacheState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(test)]
    pub(crate) fn preloaded(keys: KeySet, now: i64) -> Self {
        let cached = CachedKeys {
            keys,
            expires_at: now + DEFAULT_TTL,
        };
        Self::with_state(Some(cached), Some(now))
    }

    #[cfg(test)]
    pub(crate) fn insert(&self, kid: &str, key: VerificationKey) {
        let mut state = self.lock();
        let cached = state
            .cached
            .as_mut()
            .expect("insert into a preloaded cache");
        cached.keys.0.insert(kid.to_owned(), Arc::new(key));
    }
}

struct InFlight<'a>(&'a JwksCache);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.lock().fetch_in_flight = false;
    }
}

impl Default for JwksCache {
    fn default() -> Self {
        Self::new()
    }
}

/// Within `outbound`'s limits: a JWKS endpoint that never answers must not hold every
/// request waiting on this fetch.
async fn fetch(jwks_url: &str, now: i64) -> Result<CachedKeys, String> {
    let reply = crate::infra::outbound::send(reqwest::Client::new().get(jwks_url))
        .await
        .map_err(|failure| format!("JWKS request failed: {failure}"))?;
    if !reply.succeeded() {
        return Err(format!("JWKS request answered {}", reply.status));
    }
    let ttl = reply
        .header("cache-control")
        .as_deref()
        .and_then(max_age)
        .unwrap_or(DEFAULT_TTL)
        .clamp(MIN_FETCH_INTERVAL, MAX_TTL);
    let body =
        String::from_utf8(reply.body).map_err(|error| format!("JWKS body unreadable: {error}"))?;
    let keys =
        KeySet::from_jwks_json(&body).map_err(|error| format!("JWKS unparsable: {error}"))?;
    Ok(CachedKeys {
        keys,
        expires_at: now + ttl,
    })
}

/// `max-age` in seconds from a Cache-Control value.
fn max_age(cache_control: &str) -> Option<i64> {
    cache_control.split(',').find_map(|directive| {
        let (name, value) = directive.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("max-age")
            .then(|| value.trim().trim_matches('"').parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{es256_keypair, jwk_json, rs256_keypair, JwksServer};

    #[test]
    fn parses_max_age() {
        assert_eq!(max_age("public, max-age=600"), Some(600));
        assert_eq!(max_age("Max-Age=\"60\", must-revalidate"), Some(60));
        assert_eq!(max_age("no-cache"), None);
        assert_eq!(max_age("max-age=soon"), None);
    }

    #[test]
    fn keeps_only_signature_keys_of_supported_types() {
        let (_, ec) = es256_keypair();
        let (_, rsa) = rs256_keypair();
        let document = serde_json::json!({ "keys": [
            jwk_json("ec", &ec, "ES256"),
            jwk_json("rsa", &rsa, "RS256"),
            jwk_json("rsa-pss", &rsa, "PS256"),
            { "kty": "EC", "crv": "P-256", "kid": "enc", "use": "enc",
              "x": jwk_json("", &ec, "ES256")["x"], "y": jwk_json("", &ec, "ES256")["y"] },
            { "kty": "oct", "kid": "hmac", "k": "c2VjcmV0" },
            { "kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" },
            { "kty": "EC", "crv": "P-256", "x": "AA", "y": "AA" },
        ]});
        let keys = KeySet::from_jwks_json(&document.to_string()).unwrap();
        let mut kids: Vec<_> = keys.0.keys().cloned().collect();
        kids.sort();
        assert_eq!(kids, ["ec", "rsa"]);
        assert_eq!(keys.get("ec").unwrap().algorithm(), "ES256");
        assert_eq!(keys.get("rsa").unwrap().algorithm(), "RS256");
    }

    fn document(kids: &[&str]) -> String {
        let (_, ec) = es256_keypair();
        let keys: Vec<_> = kids.iter().map(|kid| jwk_json(kid, &ec, "ES256")).collect();
        serde_json::json!({ "keys": keys }).to_string()
    }

    const T0: i64 = 1_800_000_000;

    #[tokio::test(flavor = "current_thread")]
    async fn fetches_once_then_serves_from_cache() {
        let server = JwksServer::start(document(&["a"]), Some("max-age=600")).await;
        let cache = JwksCache::new();
        assert!(cache.find(&server.url, "a", T0).await.unwrap().is_some());
        assert!(cache
            .find(&server.url, "a", T0 + 599)
            .await
            .unwrap()
            .is_some());
        assert_eq!(server.fetch_count(), 1);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn refreshes_after_max_age_or_default_ttl() {
        let server = JwksServer::start(document(&["a"]), Some("public, max-age=60")).await;
        let cache = JwksCache::new();
        cache.find(&server.url, "a", T0).await.unwrap();
        cache.find(&server.url, "a", T0 + 59).await.unwrap();
        assert_eq!(server.fetch_count(), 1);
        cache.find(&server.url, "a", T0 + 60).await.unwrap();
        assert_eq!(server.fetch_count(), 2);

        let server = JwksServer::start(document(&["a"]), None).await;
        let cache = JwksCache::new();
        cache.find(&server.url, "a", T0).await.unwrap();
        cache
            .find(&server.url, "a", T0 + DEFAULT_TTL - 1)
            .await
            .unwrap();
        assert_eq!(server.fetch_count(), 1);
        cache
            .find(&server.url, "a", T0 + DEFAULT_TTL)
            .await
            .unwrap();
        assert_eq!(server.fetch_count(), 2);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn unknown_kid_triggers_a_refresh_that_finds_a_rotated_key() {
        let server = JwksServer::start(document(&["old"]), None).await;
        let cache = JwksCache::new();
        cache.find(&server.url, "old", T0).await.unwrap();
        server.set_document(document(&["old", "new"]));
        let key = cache
            .find(&server.url, "new", T0 + MIN_FETCH_INTERVAL)
            .await
            .unwrap();
        assert!(key.is_some());
        assert_eq!(server.fetch_count(), 2);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn unknown_kid_refreshes_are_rate_limited() {
        let server = JwksServer::start(document(&["a"]), None).await;
        let cache = JwksCache::new();
        cache.find(&server.url, "a", T0).await.unwrap();
        for (offset, kid) in [(1, "x"), (2, "y"), (MIN_FETCH_INTERVAL - 1, "z")] {
            assert!(cache
                .find(&server.url, kid, T0 + offset)
                .await
                .unwrap()
                .is_none());
        }
        assert_eq!(
            server.fetch_count(),
            1,
            "forced refreshes within the interval are skipped"
        );
        assert!(cache
            .find(&server.url, "x", T0 + MIN_FETCH_INTERVAL)
            .await
            .unwrap()
            .is_none());
        assert_eq!(server.fetch_count(), 2);
        assert!(cache
            .find(&server.url, "a", T0 + MIN_FETCH_INTERVAL + 1)
            .await
            .unwrap()
            .is_some());
        assert_eq!(server.fetch_count(), 2, "known kids never force a refresh");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn failed_fetches_report_unavailable_and_keep_old_keys() {
        let server = JwksServer::start(document(&["a"]), Some("max-age=30")).await;
        let cache = JwksCache::new();
        cache.find(&server.url, "a", T0).await.unwrap();
        server.fail_with(500);
        let stale = cache.find(&server.url, "a", T0 + 100).await;
        assert!(
            stale.unwrap().is_some(),
            "a failed refresh keeps serving known keys"
        );
        let unknown = cache.find(&server.url, "b", T0 + 200).await;
        assert!(unknown.unwrap_err().contains("500"));

        let empty = JwksCache::new();
        assert!(empty.find(&server.url, "a", T0).await.is_err());
        assert_eq!(server.fetch_count(), 4);
        server.recover();
        assert!(
            empty
                .find(&server.url, "a", T0 + 1)
                .await
                .unwrap()
                .is_some(),
            "with nothing cached, the next request retries at once"
        );
        assert_eq!(server.fetch_count(), 5);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn concurrent_requests_share_one_fetch() {
        let server = JwksServer::start(document(&["a"]), None).await;
        let cache = JwksCache::new();
        let finds = (0..50).map(|_| cache.find(&server.url, "a", T0));
        let found = futures::future::join_all(finds).await;
        assert!(found.iter().all(|key| matches!(key, Ok(Some(_)))));
        assert_eq!(server.fetch_count(), 1);

        let server = JwksServer::start(document(&["a"]), None).await;
        server.fail_with(503);
        let cache = JwksCache::new();
        let finds = (0..50).map(|_| cache.find(&server.url, "a", T0));
        let failed = futures::future::join_all(finds).await;
        assert!(failed
            .iter()
            .all(|key| key.as_ref().is_err_and(|cause| cause.contains("503"))));
        assert_eq!(
            server.fetch_count(),
            1,
            "waiters take the failed fetch's outcome too"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn unreachable_endpoint_is_unavailable() {
        let cache = JwksCache::new();
        let error = cache
            .find("http://127.0.0.1:1/jwks.json", "a", T0)
            .await
            .unwrap_err();
        assert!(error.starts_with("JWKS request failed"));
    }
}
