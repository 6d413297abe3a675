//! pg_cron's calls to `/v1/cron/*`: their bearer must be `CRON_SECRET`. Only `check` makes a
//! [`Cron`], and a cron route's handler takes one, so the router cannot serve a cron route
//! without this check.

use crate::config::{ApiKey, ConfigError};
use crate::error::ApiError;
use crate::http::Headers;
use crate::infra::hex;

/// `CRON_SECRET`: a static bearer anyone who sees one request could replay, so at least 256
/// bits.
#[derive(Clone, Debug)]
pub struct CronSecret(ApiKey);

const MIN_CRON_SECRET_BYTES: usize = 32;

impl CronSecret {
    pub fn setting(raw: Option<String>) -> Result<Option<Self>, ConfigError> {
        raw.map(|secret| {
            if secret.len() < MIN_CRON_SECRET_BYTES {
                return Err(ConfigError::Invalid {
                    name: "CRON_SECRET",
                    reason: "must be at least 32 bytes (e.g. openssl rand -hex 32)",
                });
            }
            ApiKey::parse("CRON_SECRET", secret).map(Self)
        })
        .transpose()
    }

    /// The secret itself, for the bearer a scheduled run sends as pg_cron does.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The secret's SHA-256 in hex: enough for the database to tell whether Vault holds the
    /// same secret, without the secret travelling.
    pub fn sha256_hex(&self) -> String {
        hex::sha256(self.0.expose())
    }
}

/// Proof that the request came from pg_cron.
#[derive(Debug)]
pub struct Cron(());

/// The bearer must be the configured secret (compared in constant time).
pub fn check(secret: Option<&CronSecret>, headers: &Headers) -> Result<Cron, ApiError> {
    let expected = configured(secret)?;
    let presented = headers
        .get("authorization")
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !constant_time_eq(presented.as_bytes(), expected.0.expose().as_bytes()) {
        return Err(ApiError::Forbidden);
    }
    Ok(Cron(()))
}

/// The configured secret; a deployment without one is misconfigured, not the caller's fault.
pub fn configured(secret: Option<&CronSecret>) -> Result<&CronSecret, ApiError> {
    secret.ok_or_else(|| ApiError::Misconfigured("CRON_SECRET is not configured".into()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "cron-secret-of-at-least-thirty-two-bytes";

    #[test]
    fn the_digest_is_the_secrets_sha256_in_lower_hex() {
        let secret = CronSecret::setting(Some(SECRET.into())).unwrap().unwrap();
        // printf %s cron-secret-of-at-least-thirty-two-bytes | sha256sum
        assert_eq!(
            secret.sha256_hex(),
            "ab061a89f19df7f316b8aaeb5d0e691465167ef9659ee6bcbadf1f41c699aa54"
        );
    }

    fn headers(authorization: &str) -> Headers {
        [("Authorization".to_owned(), authorization.to_owned())]
            .into_iter()
            .collect()
    }

    #[test]
    fn only_the_configured_bearer_passes() {
        let secret = CronSecret::setting(Some(SECRET.into())).unwrap();
        assert!(check(secret.as_ref(), &headers(&format!("Bearer {SECRET}"))).is_ok());
        for wrong in [
            SECRET,
            "Bearer ",
            "Bearer cron-secret-of-at-least-thirty-two-byteS",
        ] {
            assert!(matches!(
                check(secret.as_ref(), &headers(wrong)),
                Err(ApiError::Forbidden)
            ));
        }
        assert!(matches!(
            check(None, &headers(&format!("Bearer {SECRET}"))),
            Err(ApiError::Misconfigured(_))
        ));
    }

    #[test]
    fn a_short_secret_is_refused() {
        assert!(matches!(
            CronSecret::setting(Some("short-and-guessable-31-bytes...".into())),
            Err(ConfigError::Invalid {
                name: "CRON_SECRET",
                ..
            })
        ));
        assert!(CronSecret::setting(None).unwrap().is_none());
        let exactly_256_bits = "0123456789abcdef".repeat(2);
        assert!(CronSecret::setting(Some(exactly_256_bits))
            .unwrap()
            .is_some());
    }

    #[test]
    fn compares_secrets_fully() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(
            !constant_time_eq(b"secret", b"secreT") && !constant_time_eq(b"secret", b"secret2")
        );
        // Two differences whose XORs are equal must not cancel out.
        assert!(!constant_time_eq(b"ab", b"ba"));
    }
}
