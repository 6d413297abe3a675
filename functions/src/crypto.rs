//! Secrets at rest (stored AI provider keys, social platform tokens): AES-256-GCM with a random
//! 96-bit nonce and associated data naming what the secret belongs to, so a ciphertext copied
//! onto another row does not decrypt. Stored as base64(nonce ‖ ciphertext ‖ tag) next to the
//! version of the key that sealed it, so keys rotate without downtime: the newest key seals,
//! every configured one opens.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

const NONCE_BYTES: usize = 12;

/// A key ring such as `AI_KEY_ENCRYPTION_KEYS` or `SOCIAL_TOKEN_ENCRYPTION_KEYS`
/// (`v1:<base64 32 bytes>[,v2:…]`); the last one listed is the newest and seals new writes, the
/// others still open old rows.
#[derive(Clone)]
pub struct KeyRing(Vec<(String, [u8; 32])>);

#[derive(Debug, PartialEq, Eq)]
pub enum KeyRingError {
    Malformed,
    UnknownVersion,
    Undecryptable,
}

/// A secret sealed for one row.
#[derive(Debug, PartialEq, Eq)]
pub struct SealedKey {
    pub version: String,
    pub ciphertext: String,
}

impl KeyRing {
    pub fn parse(raw: &str) -> Result<Self, KeyRingError> {
        let keys = raw
            .split(',')
            .map(|entry| {
                let (version, key) = entry
                    .trim()
                    .split_once(':')
                    .ok_or(KeyRingError::Malformed)?;
                let bytes = STANDARD
                    .decode(key.trim())
                    .map_err(|_| KeyRingError::Malformed)?;
                let key: [u8; 32] = bytes.try_into().map_err(|_| KeyRingError::Malformed)?;
                let version_ok =
                    !version.is_empty() && version.bytes().all(|b| b.is_ascii_alphanumeric());
                version_ok
                    .then(|| (version.to_owned(), key))
                    .ok_or(KeyRingError::Malformed)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self(keys))
    }

    /// The version of the key that seals new writes.
    pub fn newest_version(&self) -> &str {
        &self.0.last().expect("a parsed key ring is never empty").0
    }

    /// Seals `secret` with the row id alone as associated data (stored AI provider keys).
    pub fn seal(&self, secret: &str, row_id: &str) -> SealedKey {
        self.seal_with(secret, |_| row_id.to_owned())
    }

    pub fn open(&self, sealed: &SealedKey, row_id: &str) -> Result<String, KeyRingError> {
        self.open_with(sealed, row_id)
    }

    /// Seals `secret` under the newest key; `associated_data` is given that key's version, so
    /// the binding can name it.
    pub fn seal_with(
        &self,
        secret: &str,
        associated_data: impl FnOnce(&str) -> String,
    ) -> SealedKey {
        let (version, key) = self.0.last().expect("a parsed key ring is never empty");
        let aad = associated_data(version);
        let mut nonce = [0_u8; NONCE_BYTES];
        getrandom::getrandom(&mut nonce).expect("the platform provides randomness");
        let payload = Payload {
            msg: secret.as_bytes(),
            aad: aad.as_bytes(),
        };
        let ciphertext = Aes256Gcm::new(key.into())
            .encrypt(&Nonce::from(nonce), payload)
            .expect("AES-GCM encrypts any message of this size");
        SealedKey {
            version: version.clone(),
            ciphertext: STANDARD.encode([&nonce[..], &ciphertext].concat()),
        }
    }

    /// Opens what `seal_with` sealed, given the same associated data.
    pub fn open_with(
        &self,
        sealed: &SealedKey,
        associated_data: &str,
    ) -> Result<String, KeyRingError> {
        let (_, key) = self
            .0
            .iter()
            .find(|(version, _)| *version == sealed.version)
            .ok_or(KeyRingError::UnknownVersion)?;
        let bytes = STANDARD
            .decode(&sealed.ciphertext)
            .map_err(|_| KeyRingError::Undecryptable)?;
        if bytes.len() <= NONCE_BYTES {
            return Err(KeyRingError::Undecryptable);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().expect("split at the nonce length");
        let plain = Aes256Gcm::new(key.into())
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: associated_data.as_bytes(),
                },
            )
            .map_err(|_| KeyRingError::Undecryptable)?;
        String::from_utf8(plain).map_err(|_| KeyRingError::Undecryptable)
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let versions: Vec<&str> = self.0.iter().map(|(version, _)| version.as_str()).collect();
        write!(f, "KeyRing({versions:?}, <redacted>)")
    }
}

impl fmt::Display for KeyRingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Malformed => "expected v1:<base64 of 32 bytes>[,v2:…]",
            Self::UnknownVersion => {
                "the stored secret was sealed with a key version no longer configured"
            }
            Self::Undecryptable => "the stored secret does not decrypt for this row",
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A ring of `(version, byte every key byte is)`.
    pub(crate) fn ring(versions: &[(&str, u8)]) -> KeyRing {
        let raw: Vec<String> = versions
            .iter()
            .map(|(v, fill)| format!("{v}:{}", STANDARD.encode([*fill; 32])))
            .collect();
        KeyRing::parse(&raw.join(",")).unwrap()
    }

    #[test]
    fn seals_with_the_newest_key_and_opens_older_versions() {
        let old = ring(&[("v1", 1)]);
        let sealed_old = old.seal("sk-old", "row-1");
        let rotated = ring(&[("v1", 1), ("v2", 2)]);
        assert_eq!(rotated.open(&sealed_old, "row-1").unwrap(), "sk-old");
        let sealed = rotated.seal("sk-new", "row-1");
        assert_eq!(sealed.version, "v2");
        assert!(!sealed.ciphertext.contains("sk-new"));
        assert_eq!(rotated.open(&sealed, "row-1").unwrap(), "sk-new");
        assert_eq!(
            old.open(&sealed, "row-1"),
            Err(KeyRingError::UnknownVersion)
        );
    }

    #[test]
    fn a_ciphertext_is_bound_to_its_row() {
        let keys = ring(&[("v1", 7)]);
        let sealed = keys.seal("sk-secret", "row-1");
        assert_eq!(
            keys.open(&sealed, "row-2"),
            Err(KeyRingError::Undecryptable)
        );
    }

    #[test]
    fn associated_data_may_name_the_sealing_version() {
        let keys = ring(&[("v1", 1), ("v7", 2)]);
        assert_eq!(keys.newest_version(), "v7");
        let sealed = keys.seal_with("token", |version| format!("row-1:x:{version}"));
        assert_eq!(sealed.version, "v7");
        assert_eq!(keys.open_with(&sealed, "row-1:x:v7").unwrap(), "token");
        assert_eq!(
            keys.open_with(&sealed, "row-1:x:v1"),
            Err(KeyRingError::Undecryptable)
        );
    }

    #[test]
    fn rejects_malformed_rings_and_redacts_debug() {
        for raw in [
            "",
            "v1",
            "v1:short",
            "v 1:AAAA",
            &format!("v1:{}", STANDARD.encode([0; 16])),
        ] {
            assert_eq!(
                KeyRing::parse(raw).unwrap_err(),
                KeyRingError::Malformed,
                "{raw}"
            );
        }
        assert_eq!(
            format!("{:?}", ring(&[("v1", 9)])),
            "KeyRing([\"v1\"], <redacted>)"
        );
    }
}
