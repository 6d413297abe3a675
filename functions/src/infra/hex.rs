//! Lower-case hex, as digests and random ids are written in headers, logs and SQL.

use sha2::{Digest, Sha256};

pub fn encode(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The SHA-256 of `text`: what the database keeps of a secret it must recognise, never the
/// secret itself.
pub fn sha256(text: &str) -> String {
    encode(&Sha256::digest(text.as_bytes()))
}

/// 128 random bits: ids no one can guess or collide with.
pub fn random_128() -> String {
    let mut bytes = [0_u8; 16];
    getrandom::getrandom(&mut bytes).expect("the platform provides randomness");
    encode(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_byte_is_two_lower_case_digits() {
        assert_eq!(encode(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
    }

    #[test]
    fn sha256_is_the_standard_digest() {
        // printf %s abc | sha256sum
        assert_eq!(
            sha256("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn random_ids_are_32_hex_digits_and_differ() {
        let (a, b) = (random_128(), random_128());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|byte| byte.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
