//! Provider keys at rest: sealed by the shared key ring (`crate::crypto`) with the config row's
//! id as associated data, so a ciphertext copied onto another row does not decrypt.

pub use crate::crypto::{KeyRing, KeyRingError, SealedKey};
