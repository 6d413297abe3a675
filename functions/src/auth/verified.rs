//! Tokens whose signature already checked out in this isolate. Clients send the same access
//! token for up to an hour and an ES256 check costs milliseconds in wasm, so a repeat skips it.
//! Claims (expiry, issuer, audience) are still checked on every request. An entry counts only
//! for the very key object it was checked with: a JWKS refresh replaces the keys, and with
//! them every entry. Entries are keyed by the token's SHA-256, so each takes the same few
//! bytes however large the token (its `user_metadata` is the user's to fill): the memo's
//! memory is bounded by its capacity alone.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use sha2::{Digest, Sha256};

use super::keys::VerificationKey;

/// Enough for the distinct tokens one isolate sees between two JWKS refreshes.
const CAPACITY: usize = 4096;

/// A token's SHA-256: what the memo keeps instead of the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }
}

pub struct VerifiedTokens {
    entries: Mutex<BTreeMap<TokenDigest, Entry>>,
}

struct Entry {
    key: Arc<VerificationKey>,
    expires_at: i64,
}

impl VerifiedTokens {
    pub const fn new() -> Self {
        Self {
            entries: Mutex::new(BTreeMap::new()),
        }
    }

    /// Whether the signature of the token with this digest was checked with `key`.
    pub fn contains(&self, token: &TokenDigest, key: &Arc<VerificationKey>) -> bool {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(token)
            .is_some_and(|entry| Arc::ptr_eq(&entry.key, key))
    }

    /// Records a token that passed; `now` and `expires_at` are unix seconds. When full, expired
    /// entries go first, and everything if that frees nothing.
    pub fn remember(
        &self,
        token: TokenDigest,
        key: &Arc<VerificationKey>,
        expires_at: i64,
        now: i64,
    ) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= CAPACITY {
            entries.retain(|_, entry| entry.expires_at > now);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        let entry = Entry {
            key: Arc::clone(key),
            expires_at,
        };
        entries.insert(token, entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::es256_keypair;

    fn key() -> Arc<VerificationKey> {
        Arc::new(VerificationKey::Es256(es256_keypair().1))
    }

    #[test]
    fn an_entry_counts_only_for_the_key_object_it_was_checked_with() {
        let memo = VerifiedTokens::new();
        let (checked_with, refetched) = (key(), key());
        memo.remember(TokenDigest::of("a.b.c"), &checked_with, 2_000, 1_000);
        assert!(memo.contains(&TokenDigest::of("a.b.c"), &checked_with));
        assert!(
            !memo.contains(&TokenDigest::of("a.b.c"), &refetched),
            "a refreshed key set starts over"
        );
        assert!(
            !memo.contains(&TokenDigest::of("a.b.d"), &checked_with),
            "another token is checked afresh"
        );
    }

    #[test]
    fn an_entry_is_the_same_size_however_large_the_token() {
        let memo = VerifiedTokens::new();
        let key = key();
        let huge = "x".repeat(64 * 1024);
        memo.remember(TokenDigest::of(&huge), &key, 2_000, 1_000);
        assert!(memo.contains(&TokenDigest::of(&huge), &key));
        assert_eq!(
            std::mem::size_of::<TokenDigest>(),
            32,
            "all an entry keeps of it"
        );
    }

    /// A memo filled with `first` (expiring at `first_expires_at`) and live entries, then
    /// given one more token at 1 500.
    fn overfilled(first_expires_at: i64) -> (VerifiedTokens, Arc<VerificationKey>) {
        let memo = VerifiedTokens::new();
        let key = key();
        memo.remember(TokenDigest::of("first"), &key, first_expires_at, 900);
        for n in 1..CAPACITY {
            memo.remember(TokenDigest::of(&format!("live-{n}")), &key, 5_000, 900);
        }
        memo.remember(TokenDigest::of("newest"), &key, 5_000, 1_500);
        (memo, key)
    }

    #[test]
    fn a_full_memo_drops_expired_entries_first() {
        let (memo, key) = overfilled(1_000);
        let kept = |token: &str| memo.contains(&TokenDigest::of(token), &key);
        assert!(!kept("first"));
        assert!(kept("live-1") && kept("newest"));
    }

    #[test]
    fn an_entry_expiring_this_second_counts_as_expired() {
        let (memo, key) = overfilled(1_500);
        let kept = |token: &str| memo.contains(&TokenDigest::of(token), &key);
        assert!(!kept("first"));
        assert!(kept("live-1"), "dropping it made room");
    }
}
