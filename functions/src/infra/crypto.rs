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
    DuplicateVersion,
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
        // A repeated version would seal with one key and open with another.
        let repeated = keys
            .iter()
            .enumerate()
            .any(|(at, (version, _))| keys[..at].iter().any(|(seen, _)| seen == version));
        if repeated {
            return Err(KeyRingError::DuplicateVersion);
        }
        Ok(Self(keys))
    }

    /// The version of the key that seals new writes.
    pub fn newest_version(&self) -> &str {
        &self.0.last().expect("a parsed key ring is never empty").0
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

/// One re-sealing pass over rows sealed with older key versions (`/v1/cron/tokens/reencrypt`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ResealReport {
    pub checked: usize,
    pub resealed: usize,
    /// Rows that do not open with the ring: skipped (and reported) so the pass goes on.
    pub unreadable: Vec<String>,
    /// Every stale row was looked at, and all opened.
    pub done: bool,
}

/// What re-sealing one row did.
pub enum Resealed {
    /// Written, or `false`: the row changed meanwhile (and was sealed anew by that change).
    Written(bool),
    Unreadable,
}

/// Rows one pass looks at, at most, in pages by id; the rest waits for the next call.
const RESEAL_PAGE: usize = 100;
const RESEAL_PASS_LIMIT: usize = 1000;

/// Re-seals the rows `page(after_id, size)` lists (ordered by id, after the cursor), one at a
/// time with `reseal`. A row that does not open is skipped, so it cannot stop rotation forever.
pub async fn reseal_in_pages<T, E, P, PF, R, RF>(
    mut page: P,
    id_of: impl Fn(&T) -> &str,
    mut reseal: R,
) -> Result<ResealReport, E>
where
    P: FnMut(Option<String>, usize) -> PF,
    PF: std::future::Future<Output = Result<Vec<T>, E>>,
    R: FnMut(T) -> RF,
    RF: std::future::Future<Output = Result<Resealed, E>>,
{
    let mut report = ResealReport::default();
    let mut after = None;
    loop {
        let rows = page(after.take(), RESEAL_PAGE).await?;
        let full = rows.len() == RESEAL_PAGE;
        report.checked += rows.len();
        for row in rows {
            let id = id_of(&row).to_owned();
            match reseal(row).await? {
                Resealed::Written(written) => report.resealed += usize::from(written),
                Resealed::Unreadable => report.unreadable.push(id.clone()),
            }
            after = Some(id);
        }
        if !full || report.checked >= RESEAL_PASS_LIMIT {
            report.done = !full && report.unreadable.is_empty();
            return Ok(report);
        }
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
            Self::DuplicateVersion => "a key version is listed twice",
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
        let sealed_old = old.seal_with("sk-old", |_| "row-1".to_owned());
        let rotated = ring(&[("v1", 1), ("v2", 2)]);
        assert_eq!(rotated.open_with(&sealed_old, "row-1").unwrap(), "sk-old");
        let sealed = rotated.seal_with("sk-new", |_| "row-1".to_owned());
        assert_eq!(sealed.version, "v2");
        assert!(!sealed.ciphertext.contains("sk-new"));
        assert_eq!(rotated.open_with(&sealed, "row-1").unwrap(), "sk-new");
        assert_eq!(
            old.open_with(&sealed, "row-1"),
            Err(KeyRingError::UnknownVersion)
        );
    }

    #[test]
    fn a_ciphertext_is_bound_to_its_row() {
        let keys = ring(&[("v1", 7)]);
        let sealed = keys.seal_with("sk-secret", |_| "row-1".to_owned());
        assert_eq!(
            keys.open_with(&sealed, "row-2"),
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
    fn a_ciphertext_too_short_or_not_base64_is_undecryptable() {
        let keys = ring(&[("v1", 1)]);
        for ciphertext in ["", "AAAA", &STANDARD.encode([0; 12]), "not base64!"] {
            let sealed = SealedKey {
                version: "v1".into(),
                ciphertext: ciphertext.into(),
            };
            assert_eq!(
                keys.open_with(&sealed, "row-1"),
                Err(KeyRingError::Undecryptable),
                "{ciphertext}"
            );
        }
    }

    #[test]
    fn errors_read_as_what_to_fix() {
        assert_eq!(
            KeyRingError::Malformed.to_string(),
            "expected v1:<base64 of 32 bytes>[,v2:…]"
        );
        assert_eq!(
            KeyRingError::UnknownVersion.to_string(),
            "the stored secret was sealed with a key version no longer configured"
        );
    }

    /// A pass over `rows` stale rows (ids `0000`, `0001`, ...) of which `unreadable` do not open
    /// and `changed` were sealed anew meanwhile (so not written).
    async fn reseal_pass(rows: usize, unreadable: &[&str], changed: &[&str]) -> ResealReport {
        let rows: Vec<String> = (0..rows).map(|n| format!("{n:04}")).collect();
        reseal_in_pages(
            |after: Option<String>, size| {
                let page: Vec<String> = rows
                    .iter()
                    .filter(|id| after.as_ref().is_none_or(|after| *id > after))
                    .take(size)
                    .cloned()
                    .collect();
                async move { Ok::<_, ()>(page) }
            },
            |id| id.as_str(),
            |id| async move {
                Ok(if unreadable.contains(&id.as_str()) {
                    Resealed::Unreadable
                } else {
                    Resealed::Written(!changed.contains(&id.as_str()))
                })
            },
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn a_reseal_pass_is_done_when_every_stale_row_opened() {
        let report = reseal_pass(150, &[], &["0001"]).await;
        assert_eq!(
            report,
            ResealReport {
                checked: 150,
                resealed: 149,
                unreadable: vec![],
                done: true,
            }
        );
    }

    #[tokio::test]
    async fn a_reseal_pass_stops_at_its_limit_and_is_not_done() {
        let report = reseal_pass(1200, &[], &[]).await;
        assert_eq!((report.checked, report.done), (RESEAL_PASS_LIMIT, false));
    }

    #[tokio::test]
    async fn a_reseal_pass_skips_unreadable_rows_and_goes_on() {
        let report = reseal_pass(250, &["0000", "0150"], &[]).await;
        assert_eq!(
            report,
            ResealReport {
                checked: 250,
                resealed: 248,
                unreadable: vec!["0000".into(), "0150".into()],
                done: false,
            }
        );
    }

    #[test]
    fn rejects_malformed_rings_and_redacts_debug() {
        let key = STANDARD.encode([0; 32]);
        for raw in [
            "",
            "v1",
            "v1:short",
            "v 1:AAAA",
            &format!("v1:{}", STANDARD.encode([0; 16])),
            &format!(":{key}"),
            &format!("v 1:{key}"),
            &format!("v-1:{key}"),
        ] {
            assert_eq!(
                KeyRing::parse(raw).unwrap_err(),
                KeyRingError::Malformed,
                "{raw}"
            );
        }
        let twice = format!(
            "v1:{},v1:{}",
            STANDARD.encode([1; 32]),
            STANDARD.encode([2; 32])
        );
        assert_eq!(
            KeyRing::parse(&twice).unwrap_err(),
            KeyRingError::DuplicateVersion
        );
        assert_eq!(
            format!("{:?}", ring(&[("v1", 9)])),
            "KeyRing([\"v1\"], <redacted>)"
        );
    }
}
