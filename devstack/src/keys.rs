//! Local signing keys, laid out the way a Supabase project has them: a legacy HS256 secret that
//! signs the `anon` and `service_role` API keys, an ES256 key (published in the JWKS) that
//! signs user access tokens, and the current API keys (`sb_publishable_…`, `sb_secret_…`), which
//! are not JWTs: the gateway stands them in for the role's legacy key.

use std::path::Path;

use anyhow::Context;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jwt_compact::alg::{Es256, Hs256, Hs256Key};
use jwt_compact::{AlgorithmExt, Claims, Header, TimeOptions, UntrustedToken};
use p256::ecdsa::SigningKey;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Key id of the local ES256 signing key, as it appears in token headers and the JWKS.
pub const ES256_KEY_ID: &str = "local-es256";
/// API keys are issued at a fixed instant so the same secret always yields the same key strings
/// (clients and the gateway compare them verbatim), valid for ten years like Supabase's.
const API_KEY_ISSUED_AT: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const API_KEY_TTL_SECONDS: i64 = 10 * 365 * 24 * 3600;

#[derive(Clone, Serialize, Deserialize)]
pub struct DevKeys {
    /// Legacy HS256 JWT secret (what Supabase calls the JWT secret).
    pub jwt_secret: String,
    /// The ES256 private scalar, base64url.
    es256_private_key: String,
}

/// A user to mint an access token for.
pub struct DevUser<'a> {
    pub id: &'a str,
    pub email: &'a str,
}

impl DevKeys {
    pub fn generate() -> anyhow::Result<Self> {
        let secret: [u8; 32] = random_bytes()?;
        let signing_key = loop {
            // Rejection sampling: a random 32-byte string is a valid P-256 scalar almost always.
            if let Ok(key) = SigningKey::from_slice(&random_bytes::<32>()?) {
                break key;
            }
        };
        Ok(Self {
            jwt_secret: URL_SAFE_NO_PAD.encode(secret),
            es256_private_key: URL_SAFE_NO_PAD.encode(signing_key.to_bytes()),
        })
    }

    /// Keys persisted at `path`, created on first use so tokens stay valid across restarts.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        if let Ok(text) = std::fs::read_to_string(path) {
            return serde_json::from_str(&text)
                .with_context(|| format!("reading {}", path.display()));
        }
        let keys = Self::generate()?;
        keys.save(path)?;
        Ok(keys)
    }

    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, serde_json::to_string_pretty(self)?)
            .with_context(|| format!("writing {}", path.display()))
    }

    fn signing_key(&self) -> SigningKey {
        let bytes = URL_SAFE_NO_PAD
            .decode(&self.es256_private_key)
            .expect("stored ES256 key is base64url");
        SigningKey::from_slice(&bytes).expect("stored ES256 key is a valid scalar")
    }

    fn public_jwk(&self) -> Value {
        let point = self.signing_key().verifying_key().to_encoded_point(false);
        json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(point.x().expect("uncompressed point")),
            "y": URL_SAFE_NO_PAD.encode(point.y().expect("uncompressed point")),
            "kid": ES256_KEY_ID,
            "alg": "ES256",
            "use": "sig",
            "key_ops": ["verify"],
        })
    }

    /// What `/auth/v1/.well-known/jwks.json` publishes: public asymmetric keys only.
    pub fn public_jwks(&self) -> Value {
        json!({ "keys": [self.public_jwk()] })
    }

    /// What PostgREST is configured with: the public keys plus the symmetric legacy secret.
    pub fn postgrest_jwks(&self) -> Value {
        let oct = json!({
            "kty": "oct",
            "k": URL_SAFE_NO_PAD.encode(self.jwt_secret.as_bytes()),
            "alg": "HS256",
        });
        json!({ "keys": [oct, self.public_jwk()] })
    }

    pub fn anon_key(&self) -> String {
        self.api_key("anon")
    }

    pub fn service_role_key(&self) -> String {
        self.api_key("service_role")
    }

    /// The current-style key for the `anon` role (safe to ship in an app).
    pub fn publishable_key(&self) -> String {
        self.opaque_key("sb_publishable_")
    }

    /// The current-style key for the `service_role` role (server side only).
    pub fn secret_key(&self) -> String {
        self.opaque_key("sb_secret_")
    }

    /// `prefix` and 32 characters derived from the JWT secret: the same keys after every restart
    /// without storing them, and nothing about the secret learnt from them.
    fn opaque_key(&self, prefix: &str) -> String {
        let digest = Sha256::digest(format!("{prefix}{}", self.jwt_secret));
        format!("{prefix}{}", &URL_SAFE_NO_PAD.encode(digest)[..32])
    }

    fn api_key(&self, role: &str) -> String {
        let claims = json!({
            "iss": "supabase",
            "role": role,
            "iat": API_KEY_ISSUED_AT,
            "exp": API_KEY_ISSUED_AT + API_KEY_TTL_SECONDS,
        });
        Hs256
            .token(&Header::empty(), &Claims::new(claims), &self.hs256_key())
            .expect("signing cannot fail")
    }

    /// An access token with GoTrue's claims, signed with the ES256 key.
    pub fn user_access_token(&self, user: &DevUser<'_>, issuer: &str, ttl_seconds: i64) -> String {
        self.sign(Signing::Es256, user_claims(user, issuer), ttl_seconds)
    }

    /// The same token signed with the legacy HS256 secret, as projects without asymmetric keys do.
    pub fn user_access_token_hs256(
        &self,
        user: &DevUser<'_>,
        issuer: &str,
        ttl_seconds: i64,
    ) -> String {
        self.sign(Signing::Hs256, user_claims(user, issuer), ttl_seconds)
    }

    /// Signs `claims`, adding `iat` and `exp`.
    pub fn sign(&self, signing: Signing, claims: Value, ttl_seconds: i64) -> String {
        let claims = timed(claims, ttl_seconds);
        match signing {
            Signing::Es256 => {
                let header = Header::empty().with_key_id(ES256_KEY_ID);
                Es256.token(&header, &claims, &self.signing_key())
            }
            Signing::Hs256 => Hs256.token(&Header::empty(), &claims, &self.hs256_key()),
        }
        .expect("signing cannot fail")
    }

    /// The claims of a token these keys signed and that has not expired.
    pub fn verify(&self, token: &str) -> Option<Value> {
        self.check(token).ok()
    }

    /// The claims of a token these keys signed and that has not expired, or why not.
    pub fn check(&self, token: &str) -> Result<Value, TokenError> {
        let untrusted = UntrustedToken::new(token).map_err(|_| TokenError::Malformed)?;
        let kid = untrusted.header().key_id.clone();
        let token = match (untrusted.algorithm(), kid.as_deref()) {
            ("HS256", _) => Hs256
                .validator::<Value>(&self.hs256_key())
                .validate(&untrusted),
            ("ES256", None | Some(ES256_KEY_ID)) => Es256
                .validator::<Value>(self.signing_key().verifying_key())
                .validate(&untrusted),
            _ => return Err(TokenError::NoKey { kid }),
        }
        .map_err(|_| TokenError::BadSignature)?;
        let expiration = token.claims().expiration.ok_or(TokenError::NoExpiry)?;
        // No leeway: a signed URL of one second must stop working after one second.
        let past = chrono::Utc::now() - expiration;
        if past > chrono::Duration::zero() {
            return Err(TokenError::Expired {
                seconds_past: past.num_seconds(),
            });
        }
        // The registered times back among the claims, as PostgREST and Realtime pass them on.
        let mut claims = token.claims().custom.clone();
        if let Value::Object(fields) = &mut claims {
            fields.insert("exp".into(), json!(expiration.timestamp()));
            if let Some(issued_at) = token.claims().issued_at {
                fields.insert("iat".into(), json!(issued_at.timestamp()));
            }
        }
        Ok(claims)
    }

    fn hs256_key(&self) -> Hs256Key {
        Hs256Key::new(self.jwt_secret.as_bytes())
    }
}

/// Why a token is not accepted.
#[derive(Clone, Debug, PartialEq)]
pub enum TokenError {
    /// Not a JWT at all.
    Malformed,
    /// Signed with an algorithm and key these keys check, but not by them.
    BadSignature,
    /// Names a key (`kid`) these keys do not publish, or an algorithm they do not use: nothing
    /// to check it with.
    NoKey {
        kid: Option<String>,
    },
    NoExpiry,
    Expired {
        seconds_past: i64,
    },
}

/// How access tokens are signed: ES256 as new Supabase projects do, or the legacy HS256 secret.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Signing {
    Es256,
    Hs256,
}

/// GoTrue's access-token claims for a user of the seed.
fn user_claims(user: &DevUser<'_>, issuer: &str) -> Value {
    json!({
        "iss": issuer,
        "sub": user.id,
        "aud": "authenticated",
        "role": "authenticated",
        "email": user.email,
        "phone": "",
        "app_metadata": { "provider": "email", "providers": ["email"] },
        "user_metadata": {},
        "session_id": uuid::Uuid::new_v4(),
        "aal": "aal1",
        "amr": [{ "method": "password", "timestamp": chrono::Utc::now().timestamp() }],
        "is_anonymous": false,
    })
}

fn timed(custom: Value, ttl_seconds: i64) -> Claims<Value> {
    Claims::new(custom).set_duration_and_issuance(
        &TimeOptions::default(),
        chrono::Duration::seconds(ttl_seconds),
    )
}

fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).context("no system randomness")?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_tokens_verify_with_the_published_key_and_name_it() {
        let keys = DevKeys::generate().unwrap();
        let token = keys.user_access_token(
            &DevUser {
                id: "u1",
                email: "a@b.c",
            },
            "http://x/auth/v1",
            60,
        );
        let untrusted = UntrustedToken::new(&token).unwrap();
        assert_eq!(untrusted.header().key_id.as_deref(), Some(ES256_KEY_ID));
        let verifying = *keys.signing_key().verifying_key();
        let claims = Es256
            .validator::<Value>(&verifying)
            .validate(&untrusted)
            .unwrap();
        assert_eq!(claims.claims().custom["sub"], "u1");
        assert_eq!(keys.public_jwks()["keys"][0]["kid"], ES256_KEY_ID);
    }

    #[test]
    fn checked_tokens_carry_their_times_and_expired_ones_say_since_when() {
        let keys = DevKeys::generate().unwrap();
        let claims = json!({ "sub": "u1", "role": "authenticated" });
        let valid = keys
            .check(&keys.sign(Signing::Hs256, claims.clone(), 60))
            .unwrap();
        assert_eq!(
            valid["exp"].as_i64().unwrap() - valid["iat"].as_i64().unwrap(),
            60
        );
        // Five seconds and the fraction of the second it was signed in.
        let expired = keys.check(&keys.sign(Signing::Es256, claims, -5));
        assert!(
            matches!(
                expired,
                Err(TokenError::Expired {
                    seconds_past: 5 | 6
                })
            ),
            "{expired:?}"
        );
        assert_eq!(keys.check("not a token"), Err(TokenError::Malformed));
        let foreign = DevKeys::generate().unwrap();
        assert_eq!(
            keys.check(&foreign.service_role_key()),
            Err(TokenError::BadSignature)
        );
        let foreign_user = foreign.sign(Signing::Es256, json!({ "role": "authenticated" }), 60);
        assert_eq!(keys.check(&foreign_user), Err(TokenError::BadSignature));
        let unknown_key = Es256
            .token(
                &Header::empty().with_key_id("rotated-out"),
                &Claims::new(json!({ "role": "authenticated" })),
                &foreign.signing_key(),
            )
            .unwrap();
        assert_eq!(
            keys.check(&unknown_key),
            Err(TokenError::NoKey {
                kid: Some("rotated-out".into())
            })
        );
    }

    #[test]
    fn api_keys_are_stable_strings() {
        let keys = DevKeys::generate().unwrap();
        assert_eq!(keys.anon_key(), keys.anon_key());
        assert_ne!(keys.anon_key(), keys.service_role_key());
        assert_eq!(
            keys.verify(&keys.service_role_key()).unwrap()["role"],
            "service_role"
        );
    }

    #[test]
    fn keys_survive_a_save_and_load() {
        let dir = std::env::temp_dir().join(format!("devkeys-{}", uuid::Uuid::new_v4()));
        let path = dir.join("keys.json");
        let first = DevKeys::load_or_create(&path).unwrap();
        let second = DevKeys::load_or_create(&path).unwrap();
        assert_eq!(first.jwt_secret, second.jwt_secret);
        assert_eq!(first.public_jwks(), second.public_jwks());
        assert_eq!(first.secret_key(), second.secret_key());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn current_style_keys_are_opaque_and_differ_per_project_and_role() {
        let (one, other) = (DevKeys::generate().unwrap(), DevKeys::generate().unwrap());
        assert!(one.publishable_key().starts_with("sb_publishable_"));
        assert!(one.secret_key().starts_with("sb_secret_"));
        assert_eq!(one.secret_key().len(), "sb_secret_".len() + 32);
        assert_ne!(one.secret_key(), other.secret_key());
        assert!(UntrustedToken::new(&one.secret_key()).is_err(), "not a JWT");
    }
}
