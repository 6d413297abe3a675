//! Access-token verification: signature with the key the token resolves to, then claims.

use std::sync::{Arc, Mutex, PoisonError};

use jwt_compact::alg::Hs256Key;
use jwt_compact::{Claims, UntrustedToken, ValidationError};
use serde::Deserialize;

use super::jwks::JwksCache;
use super::keys::{VerificationKey, SUPPORTED_ALGORITHMS};
use super::verified::TokenDigest;
use super::{AccessToken, AuthError, AuthenticatedUser, Caller, UserId};
use crate::config::{Config, JwtSecret};

/// Tolerated clock skew between Supabase Auth and this worker, in seconds.
const CLOCK_LEEWAY: i64 = 30;

pub struct Verifier<'a> {
    jwks_url: String,
    issuer: String,
    audience: &'a str,
    legacy_secret: Option<&'a JwtSecret>,
    keys: &'a JwksCache,
    allow_anonymous: bool,
}

/// The legacy secret's HS256 key, made once per isolate (again only if the secret differs):
/// memo entries count only for the key object they were checked with, so a key made per
/// request would never let an HS256 token skip its check.
static LEGACY_KEY: Mutex<Option<(Vec<u8>, Arc<VerificationKey>)>> = Mutex::new(None);

fn legacy_key(secret: &JwtSecret) -> Arc<VerificationKey> {
    let mut cached = LEGACY_KEY.lock().unwrap_or_else(PoisonError::into_inner);
    match &*cached {
        Some((made_from, key)) if made_from == secret.expose() => Arc::clone(key),
        _ => {
            let key = Arc::new(VerificationKey::Hs256(Hs256Key::new(secret.expose())));
            *cached = Some((secret.expose().to_vec(), Arc::clone(&key)));
            key
        }
    }
}

/// The claims we check or use; `exp`, `nbf` and `iat` are parsed by jwt-compact.
#[derive(Deserialize)]
struct SupabaseClaims {
    sub: Option<String>,
    email: Option<String>,
    iss: Option<String>,
    aud: Option<Audience>,
    /// Supabase Auth's anonymous sign-ins carry `true`.
    #[serde(default)]
    is_anonymous: bool,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, expected: &str) -> bool {
        match self {
            Self::One(audience) => audience == expected,
            Self::Many(audiences) => audiences.iter().any(|audience| audience == expected),
        }
    }
}

impl<'a> Verifier<'a> {
    pub fn new(config: &'a Config, keys: &'a JwksCache) -> Self {
        Self {
            jwks_url: config.supabase_url.jwks_url(),
            issuer: config.supabase_url.token_issuer(),
            audience: &config.jwt_audience,
            legacy_secret: config.jwt_secret.as_ref(),
            keys,
            allow_anonymous: config.allow_anonymous_users,
        }
    }

    /// Verifies `token` at `now` (unix seconds).
    pub async fn verify(&self, token: &str, now: i64) -> Result<Caller, AuthError> {
        let untrusted = UntrustedToken::new(token).map_err(|_| AuthError::MalformedToken)?;
        if !SUPPORTED_ALGORITHMS.contains(&untrusted.algorithm()) {
            return Err(AuthError::UnsupportedAlgorithm);
        }
        let key = self.resolve_key(&untrusted, now).await?;
        if key.algorithm() != untrusted.algorithm() {
            return Err(AuthError::AlgorithmMismatch);
        }
        let verified = self.keys.verified();
        let digest = TokenDigest::of(token);
        let remembered = verified.contains(&digest, &key);
        let claims = if remembered {
            untrusted
                .deserialize_claims_unchecked::<SupabaseClaims>()
                .map_err(|_| AuthError::MalformedToken)?
        } else {
            key.verify::<SupabaseClaims>(&untrusted)
                .map_err(signature_error)?
        };
        let expires_at = claims.expiration.map(|moment| moment.timestamp());
        let user = self.check_claims(claims, now)?;
        if let Some(expires_at) = expires_at.filter(|_| !remembered) {
            verified.remember(digest, &key, expires_at, now);
        }
        Ok(Caller {
            user,
            token: AccessToken(token.to_owned()),
        })
    }

    /// Tokens naming a `kid` use that published key, except HS256 ones: symmetric keys are
    /// never published, so those (and tokens without `kid`) use the legacy secret.
    async fn resolve_key(
        &self,
        token: &UntrustedToken<'_>,
        now: i64,
    ) -> Result<Arc<VerificationKey>, AuthError> {
        match token.header().key_id.as_deref() {
            Some(kid) if token.algorithm() != "HS256" => self
                .keys
                .find(&self.jwks_url, kid, now)
                .await
                .map_err(AuthError::KeysUnavailable)?
                .ok_or(AuthError::UnknownSigningKey),
            _ => self
                .legacy_secret
                .map(legacy_key)
                .ok_or(AuthError::UnknownSigningKey),
        }
    }

    fn check_claims(
        &self,
        claims: Claims<SupabaseClaims>,
        now: i64,
    ) -> Result<AuthenticatedUser, AuthError> {
        let expires_at = claims
            .expiration
            .ok_or(AuthError::InvalidToken)?
            .timestamp();
        if expires_at + CLOCK_LEEWAY <= now {
            return Err(AuthError::TokenExpired);
        }
        let valid_from = [claims.not_before, claims.issued_at].into_iter().flatten();
        if valid_from
            .map(|moment| moment.timestamp())
            .any(|from| from > now + CLOCK_LEEWAY)
        {
            return Err(AuthError::TokenNotYetValid);
        }
        let custom = claims.custom;
        if custom.iss.as_deref() != Some(self.issuer.as_str()) {
            return Err(AuthError::InvalidIssuer);
        }
        if !custom.aud.is_some_and(|aud| aud.contains(self.audience)) {
            return Err(AuthError::InvalidAudience);
        }
        let sub = custom
            .sub
            .filter(|sub| !sub.is_empty())
            .ok_or(AuthError::InvalidToken)?;
        if custom.is_anonymous && !self.allow_anonymous {
            return Err(AuthError::AnonymousUser);
        }
        Ok(AuthenticatedUser {
            id: UserId(sub),
            email: custom.email,
        })
    }
}

fn signature_error(error: ValidationError) -> AuthError {
    match error {
        ValidationError::AlgorithmMismatch { .. } => AuthError::AlgorithmMismatch,
        ValidationError::InvalidSignature
        | ValidationError::InvalidSignatureLen { .. }
        | ValidationError::MalformedSignature(_) => AuthError::InvalidSignature,
        _ => AuthError::MalformedToken,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::auth::jwks::KeySet;
    use crate::config::tests::config_from;
    use crate::test_support::*;

    fn config(with_legacy_secret: bool) -> Config {
        let mut pairs = vec![
            ("SUPABASE_URL", SUPABASE_URL),
            ("SUPABASE_ANON_KEY", "anon"),
            ("SUPABASE_SERVICE_ROLE_KEY", "service"),
        ];
        if with_legacy_secret {
            pairs.push(("SUPABASE_JWT_SECRET", HS_SECRET));
        }
        config_from(&pairs).unwrap()
    }

    /// A cache that already holds kid `es` (ES256) and kid `rs` (RS256) and fetched just now,
    /// so these tests never touch the network.
    fn published_keys() -> JwksCache {
        let cache = JwksCache::preloaded(KeySet::default(), NOW);
        cache.insert("es", VerificationKey::Es256(es256_keypair().1));
        cache.insert("rs", VerificationKey::Rs256(rs256_keypair().1));
        cache
    }

    async fn verify_with(config: &Config, token: &str) -> Result<Caller, AuthError> {
        let keys = published_keys();
        Verifier::new(config, &keys).verify(token, NOW).await
    }

    async fn verify(token: &str) -> Result<Caller, AuthError> {
        verify_with(&config(true), token).await
    }

    fn claims_with(changes: Value) -> Value {
        let mut claims = user_claims();
        for (name, value) in changes.as_object().unwrap() {
            match value {
                Value::Null => claims.as_object_mut().unwrap().remove(name),
                _ => claims
                    .as_object_mut()
                    .unwrap()
                    .insert(name.clone(), value.clone()),
            };
        }
        claims
    }

    fn refusal(result: Result<Caller, AuthError>) -> AuthError {
        result.expect_err("token should be refused")
    }

    #[tokio::test]
    async fn accepts_valid_tokens_of_each_algorithm() {
        for token in [
            es256_token(Some("es"), &user_claims()),
            rs256_token(Some("rs"), &user_claims()),
            hs256_token(HS_SECRET, None, &user_claims()),
            hs256_token(HS_SECRET, Some("legacy"), &user_claims()),
        ] {
            let caller = verify(&token).await.unwrap();
            assert_eq!(
                caller.user.id.as_str(),
                "8d0fd2b3-9ca7-4e4a-9a3e-6f2d1f3e2b11"
            );
            assert_eq!(caller.user.email.as_deref(), Some("ada@example.com"));
            assert_eq!(caller.token.expose(), token);
        }
    }

    #[tokio::test]
    async fn a_token_verified_before_still_has_its_claims_checked_and_its_twin_its_signature() {
        let keys = published_keys();
        let config = config(false);
        let verifier = Verifier::new(&config, &keys);
        let expiry = NOW + 100;
        let token = es256_token(Some("es"), &claims_with(json!({ "exp": expiry })));
        for _ in 0..2 {
            assert!(verifier.verify(&token, NOW).await.is_ok());
        }
        assert_eq!(
            refusal(verifier.verify(&token, expiry + CLOCK_LEEWAY).await),
            AuthError::TokenExpired,
            "a remembered signature does not extend the token's life"
        );
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
        let forged = format!("{signed}.{flipped}{}", &signature[1..]);
        assert_eq!(
            refusal(verifier.verify(&forged, NOW).await),
            AuthError::InvalidSignature
        );
    }

    /// Held by the tests that depend on which secret `LEGACY_KEY` holds.
    static LEGACY_KEY_USERS: futures::lock::Mutex<()> = futures::lock::Mutex::new(());

    #[tokio::test]
    async fn an_hs256_token_verified_before_is_found_in_the_memo() {
        let _exclusive = LEGACY_KEY_USERS.lock().await;
        let keys = published_keys();
        let config = config(true);
        let verifier = Verifier::new(&config, &keys);
        let token = hs256_token(HS_SECRET, None, &user_claims());
        let digest = TokenDigest::of(&token);
        let secret = config.jwt_secret.as_ref().unwrap();
        for _ in 0..2 {
            assert!(verifier.verify(&token, NOW).await.is_ok());
            assert!(keys.verified().contains(&digest, &legacy_key(secret)));
        }
    }

    #[tokio::test]
    async fn a_changed_legacy_secret_takes_effect() {
        let _exclusive = LEGACY_KEY_USERS.lock().await;
        let rotated = "a-rotated-jwt-secret-of-at-least-32-characters";
        let config = config_from(&[
            ("SUPABASE_URL", SUPABASE_URL),
            ("SUPABASE_ANON_KEY", "anon"),
            ("SUPABASE_SERVICE_ROLE_KEY", "service"),
            ("SUPABASE_JWT_SECRET", rotated),
        ])
        .unwrap();
        for (config, secret) in [(&config, rotated), (&self::config(true), HS_SECRET)] {
            let token = hs256_token(secret, None, &user_claims());
            assert!(verify_with(config, &token).await.is_ok());
        }
    }

    #[tokio::test]
    async fn anonymous_users_are_refused_unless_allowed() {
        let anonymous = hs256_token(
            HS_SECRET,
            None,
            &claims_with(json!({ "is_anonymous": true })),
        );
        let refused = refusal(verify(&anonymous).await);
        assert_eq!(refused, AuthError::AnonymousUser);
        assert_eq!((refused.status(), refused.code()), (403, "anonymous_user"));
        let signed_in = hs256_token(
            HS_SECRET,
            None,
            &claims_with(json!({ "is_anonymous": false })),
        );
        assert!(verify(&signed_in).await.is_ok());

        let allowing = config_from(&[
            ("SUPABASE_URL", SUPABASE_URL),
            ("SUPABASE_ANON_KEY", "anon"),
            ("SUPABASE_SERVICE_ROLE_KEY", "service"),
            ("SUPABASE_JWT_SECRET", HS_SECRET),
            ("ALLOW_ANONYMOUS_USERS", "true"),
        ])
        .unwrap();
        assert!(verify_with(&allowing, &anonymous).await.is_ok());
    }

    #[tokio::test]
    async fn refuses_malformed_tokens() {
        let valid = es256_token(Some("es"), &user_claims());
        let (header, rest) = valid.split_once('.').unwrap();
        for token in [
            "not-a-jwt".to_owned(),
            "a.b".to_owned(),
            format!("{valid}.extra"),
            format!("{header}!.{rest}"),
            format!("bm90IGpzb24.{rest}"),
            unsigned_token(&json!({"kid": "es"}), &user_claims()),
        ] {
            assert_eq!(
                refusal(verify(&token).await),
                AuthError::MalformedToken,
                "{token}"
            );
        }
    }

    #[tokio::test]
    async fn refuses_claims_that_are_not_json_objects_as_malformed() {
        let token = es256_token(Some("es"), &user_claims());
        let (header, rest) = token.split_once('.').unwrap();
        let signature = rest.split_once('.').unwrap().1;
        let bad_claims = format!("{header}.WzFd.{signature}"); // claims "[1]"
        assert_eq!(
            refusal(verify(&bad_claims).await),
            AuthError::MalformedToken
        );
    }

    #[tokio::test]
    async fn refuses_alg_none_and_unknown_algorithms() {
        for alg in ["none", "None", "HS512", "ES384", "PS256", "EdDSA"] {
            let token = unsigned_token(&json!({"alg": alg, "kid": "es"}), &user_claims());
            assert_eq!(
                refusal(verify(&token).await),
                AuthError::UnsupportedAlgorithm,
                "{alg}"
            );
        }
    }

    #[tokio::test]
    async fn the_key_decides_the_algorithm() {
        // An RS256 signature presented under the EC key's kid.
        let rs_as_es = rs256_token(Some("es"), &user_claims());
        assert_eq!(
            refusal(verify(&rs_as_es).await),
            AuthError::AlgorithmMismatch
        );
        // Without kid a token resolves to the HS256 secret; an ES256 token cannot use it.
        let es_without_kid = es256_token(None, &user_claims());
        assert_eq!(
            refusal(verify(&es_without_kid).await),
            AuthError::AlgorithmMismatch
        );
    }

    #[tokio::test]
    async fn refuses_hs256_without_a_configured_secret() {
        let token = hs256_token(HS_SECRET, None, &user_claims());
        assert_eq!(
            refusal(verify_with(&config(false), &token).await),
            AuthError::UnknownSigningKey
        );
    }

    #[tokio::test]
    async fn refuses_hs256_tokens_signed_with_the_public_key_bytes() {
        // Classic confusion attack: HMAC keyed with the published key; it never reaches
        // the published key because HS256 always resolves to the legacy secret.
        let public_jwk =
            serde_json::to_string(&jwk_json("es", &es256_keypair().1, "ES256")).unwrap();
        let token = hs256_token(&public_jwk, Some("es"), &user_claims());
        assert_eq!(refusal(verify(&token).await), AuthError::InvalidSignature);
    }

    #[tokio::test]
    async fn refuses_tampered_signatures() {
        let forged_claims = claims_with(json!({"sub": "someone-else"}));
        for (token, forged) in [
            (
                es256_token(Some("es"), &user_claims()),
                es256_token(Some("es"), &forged_claims),
            ),
            (
                rs256_token(Some("rs"), &user_claims()),
                rs256_token(Some("rs"), &forged_claims),
            ),
            (
                hs256_token(HS_SECRET, None, &user_claims()),
                hs256_token(HS_SECRET, None, &forged_claims),
            ),
        ] {
            // The forged token's header and claims with the genuine token's signature.
            let (signed_part, _) = forged.rsplit_once('.').unwrap();
            let (_, genuine_signature) = token.rsplit_once('.').unwrap();
            let tampered = format!("{signed_part}.{genuine_signature}");
            assert_eq!(
                refusal(verify(&tampered).await),
                AuthError::InvalidSignature
            );
        }
        let wrong_secret = hs256_token(
            "another-secret-of-sufficient-length!!",
            None,
            &user_claims(),
        );
        assert_eq!(
            refusal(verify(&wrong_secret).await),
            AuthError::InvalidSignature
        );
        let genuine = es256_token(Some("es"), &user_claims());
        let short_signature = format!("{}.AAAAAAAAAAAAAA", genuine.rsplit_once('.').unwrap().0);
        assert_eq!(
            refusal(verify(&short_signature).await),
            AuthError::InvalidSignature
        );
    }

    #[tokio::test]
    async fn checks_expiry_with_leeway() {
        let expired = es256_token(Some("es"), &claims_with(json!({"exp": NOW - CLOCK_LEEWAY})));
        assert_eq!(refusal(verify(&expired).await), AuthError::TokenExpired);
        let within_leeway = es256_token(Some("es"), &claims_with(json!({"exp": NOW - 5})));
        assert!(verify(&within_leeway).await.is_ok());
        let no_exp = es256_token(Some("es"), &claims_with(json!({"exp": null})));
        assert_eq!(refusal(verify(&no_exp).await), AuthError::InvalidToken);
    }

    #[tokio::test]
    async fn refuses_tokens_not_valid_yet() {
        let future = NOW + CLOCK_LEEWAY + 1;
        for claims in [json!({"nbf": future}), json!({"iat": future})] {
            let token = es256_token(Some("es"), &claims_with(claims));
            assert_eq!(refusal(verify(&token).await), AuthError::TokenNotYetValid);
        }
        let slightly_ahead = json!({"nbf": NOW + 10, "iat": NOW + 10});
        assert!(
            verify(&es256_token(Some("es"), &claims_with(slightly_ahead)))
                .await
                .is_ok()
        );
        let at_the_leeway = json!({"nbf": NOW + CLOCK_LEEWAY, "iat": NOW + CLOCK_LEEWAY});
        assert!(
            verify(&es256_token(Some("es"), &claims_with(at_the_leeway)))
                .await
                .is_ok()
        );
    }

    #[test]
    fn a_signature_checked_under_another_algorithm_is_a_mismatch() {
        // `verify` compares the algorithms first; this keeps jwt-compact's own check mapped.
        let mismatch = ValidationError::AlgorithmMismatch {
            expected: "ES256".into(),
            actual: "HS256".into(),
        };
        assert_eq!(signature_error(mismatch), AuthError::AlgorithmMismatch);
    }

    #[tokio::test]
    async fn checks_the_audience_as_string_or_array() {
        for aud in [
            json!("anon"),
            json!(["anon", "other"]),
            json!(null),
            json!([]),
        ] {
            let token = es256_token(Some("es"), &claims_with(json!({"aud": aud})));
            assert_eq!(
                refusal(verify(&token).await),
                AuthError::InvalidAudience,
                "{aud}"
            );
        }
        let in_array = claims_with(json!({"aud": ["other", "authenticated"]}));
        assert!(verify(&es256_token(Some("es"), &in_array)).await.is_ok());
    }

    #[tokio::test]
    async fn checks_the_issuer() {
        for iss in [
            json!("supabase"),
            json!("http://127.0.0.1:54321/auth/v1/"),
            json!(null),
        ] {
            let token = es256_token(Some("es"), &claims_with(json!({"iss": iss})));
            assert_eq!(
                refusal(verify(&token).await),
                AuthError::InvalidIssuer,
                "{iss}"
            );
        }
    }

    #[tokio::test]
    async fn requires_a_subject() {
        for sub in [json!(null), json!("")] {
            let token = es256_token(Some("es"), &claims_with(json!({"sub": sub})));
            assert_eq!(refusal(verify(&token).await), AuthError::InvalidToken);
        }
    }

    #[tokio::test]
    async fn fetches_published_keys_and_refuses_kids_missing_after_refresh() {
        let (_, ec) = es256_keypair();
        let document = json!({ "keys": [jwk_json("published", &ec, "ES256")] }).to_string();
        let server = JwksServer::start(document, None).await;
        let config = config_from(&[
            ("SUPABASE_URL", server.base_url.as_str()),
            ("SUPABASE_ANON_KEY", "anon"),
            ("SUPABASE_SERVICE_ROLE_KEY", "service"),
        ])
        .unwrap();
        let claims = claims_with(json!({"iss": format!("{}/auth/v1", server.base_url)}));
        let keys = JwksCache::new();
        let verifier = Verifier::new(&config, &keys);

        let token = es256_token(Some("published"), &claims);
        assert!(verifier.verify(&token, NOW).await.is_ok());
        let unknown = es256_token(Some("rotated-away"), &claims);
        let refused = verifier.verify(&unknown, NOW + 60).await;
        assert_eq!(refusal(refused), AuthError::UnknownSigningKey);
        assert_eq!(
            server.fetch_count(),
            2,
            "the unknown kid forced one refresh"
        );
    }

    #[tokio::test]
    async fn reports_unreachable_keys_as_unavailable() {
        let config = config_from(&[
            ("SUPABASE_URL", "http://127.0.0.1:1"),
            ("SUPABASE_ANON_KEY", "anon"),
            ("SUPABASE_SERVICE_ROLE_KEY", "service"),
        ])
        .unwrap();
        let keys = JwksCache::new();
        let token = es256_token(Some("es"), &user_claims());
        let refused = Verifier::new(&config, &keys).verify(&token, NOW).await;
        let error = refusal(refused);
        assert_eq!((error.status(), error.code()), (503, "auth_unavailable"));
    }

    /// Verifies on a fresh single-threaded runtime: proptest bodies are not async.
    fn verify_now(token: &str) -> Result<Caller, AuthError> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(verify(token))
    }

    /// Three dot-separated parts whose header is JSON naming an algorithm (and maybe a kid),
    /// so the garbage gets past the first checks.
    fn token_like() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let base64url = "[A-Za-z0-9_\\-]{0,60}";
        let alg = prop_oneof![
            Just(json!("HS256")),
            Just(json!("ES256")),
            Just(json!("RS256")),
            Just(json!("none")),
            crate::proptests::json_value(),
        ];
        let kid = prop_oneof![
            Just(None),
            Just(Some(json!("es"))),
            Just(Some(json!("rs"))),
            crate::proptests::json_value().prop_map(Some)
        ];
        prop_oneof![
            proptest::string::string_regex(&format!("{base64url}\\.{base64url}\\.{base64url}"))
                .unwrap(),
            (alg, kid, crate::proptests::json_value(), base64url).prop_map(
                |(alg, kid, claims, signature)| {
                    let mut header = json!({ "alg": alg, "typ": "JWT" });
                    if let Some(kid) = kid {
                        header["kid"] = kid;
                    }
                    format!("{}{signature}", unsigned_token(&header, &claims))
                }
            ),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        #[test]
        fn garbage_is_refused_without_panicking(token in token_like()) {
            proptest::prop_assert!(verify_now(&token).is_err());
        }

        #[test]
        fn signed_claims_of_any_shape_are_checked_without_panicking(
            changes in proptest::collection::btree_map(
                proptest::sample::select(
                    ["sub", "exp", "iat", "nbf", "iss", "aud", "email", "is_anonymous", "x"].to_vec(),
                ),
                crate::proptests::json_value(),
                0..6,
            ),
        ) {
            // Signed with the right secret: the claims' shape alone decides.
            let mut claims = user_claims();
            for (name, value) in changes {
                claims[name] = value;
            }
            let _ = verify_now(&hs256_token(HS_SECRET, None, &claims));
        }
    }
}
