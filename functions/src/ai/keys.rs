//! Provider keys at rest: sealed by the shared key ring (`crate::infra::crypto`) with the config row's
//! id as associated data, so a ciphertext copied onto another row does not decrypt, and with the
//! base URL the key is sent to when the row has one, so a key never opens for another endpoint
//! than the one it was stored for (a row without a base URL keeps the row id alone, as keys were
//! sealed before base URLs were bound).

pub use crate::infra::crypto::{KeyRing, KeyRingError, SealedKey};

/// What a stored key is bound to: its row and, if any, its base URL.
fn associated_data(config_id: &str, base_url: Option<&str>) -> String {
    match base_url {
        None => config_id.to_owned(),
        Some(base_url) => format!("{config_id}|{base_url}"),
    }
}

/// Seals `api_key` for the configuration `config_id` sending to `base_url`.
pub fn seal(ring: &KeyRing, api_key: &str, config_id: &str, base_url: Option<&str>) -> SealedKey {
    ring.seal_with(api_key, |_| associated_data(config_id, base_url))
}

/// Opens a key `seal` sealed for the same configuration and base URL.
pub fn open(
    ring: &KeyRing,
    sealed: &SealedKey,
    config_id: &str,
    base_url: Option<&str>,
) -> Result<String, KeyRingError> {
    ring.open_with(sealed, &associated_data(config_id, base_url))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> KeyRing {
        KeyRing::parse("v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap()
    }

    #[test]
    fn a_key_opens_only_for_the_base_url_it_was_sealed_for() {
        let ring = ring();
        let sealed = seal(&ring, "sk-user", "row-1", Some("https://x.example/v1"));
        assert_eq!(
            open(&ring, &sealed, "row-1", Some("https://x.example/v1")).unwrap(),
            "sk-user"
        );
        for (row, base_url) in [
            ("row-1", Some("https://y.example/v1")),
            ("row-1", None),
            ("row-2", Some("https://x.example/v1")),
        ] {
            assert_eq!(
                open(&ring, &sealed, row, base_url),
                Err(KeyRingError::Undecryptable),
                "{row} {base_url:?}"
            );
        }
        let unbound = seal(&ring, "sk-user", "row-1", None);
        assert_eq!(
            open(&ring, &unbound, "row-1", Some("https://x.example/v1")),
            Err(KeyRingError::Undecryptable),
            "a key stored for the provider's own URL does not follow a base URL set later"
        );
    }

    #[test]
    fn keys_of_rows_without_a_base_url_still_open_as_sealed_before() {
        let ring = ring();
        let sealed_before = ring.seal_with("sk-user", |_| "row-1".to_owned());
        assert_eq!(
            open(&ring, &sealed_before, "row-1", None).unwrap(),
            "sk-user"
        );
    }
}
