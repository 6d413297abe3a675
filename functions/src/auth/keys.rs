//! Verification keys. Each key fixes its algorithm; a token is checked only with the algorithm
//! of the key it resolves to, whatever its header claims.

use jwt_compact::alg::{Es256, Hs256, Hs256Key, Rsa, RsaPublicKey};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{Algorithm, AlgorithmExt, Claims, UntrustedToken, ValidationError};
use serde::de::DeserializeOwned;

type EcPublicKey = <Es256 as Algorithm>::VerifyingKey;

#[derive(Debug)]
pub enum VerificationKey {
    Es256(EcPublicKey),
    Rs256(RsaPublicKey),
    Hs256(Hs256Key),
}

/// The algorithms this worker accepts (RFC 7518 names).
pub const SUPPORTED_ALGORITHMS: [&str; 3] = ["ES256", "RS256", "HS256"];

impl VerificationKey {
    /// The public key a JWK describes, if it is of a kind we verify with (EC P-256 or RSA).
    pub fn from_public_jwk(jwk: &JsonWebKey<'_>) -> Option<Self> {
        match jwk {
            JsonWebKey::EllipticCurve { .. } => EcPublicKey::try_from(jwk).ok().map(Self::Es256),
            JsonWebKey::Rsa { .. } => RsaPublicKey::try_from(jwk).ok().map(Self::Rs256),
            _ => None,
        }
    }

    pub fn algorithm(&self) -> &'static str {
        match self {
            Self::Es256(_) => "ES256",
            Self::Rs256(_) => "RS256",
            Self::Hs256(_) => "HS256",
        }
    }

    /// Checks the signature with this key's algorithm and returns the (unvalidated) claims.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &UntrustedToken<'_>,
    ) -> Result<Claims<T>, ValidationError> {
        let verified = match self {
            Self::Es256(key) => Es256.validator(key).validate(token),
            Self::Rs256(key) => Rsa::rs256().validator(key).validate(token),
            Self::Hs256(key) => Hs256.validator(key).validate(token),
        };
        verified.map(|token| token.into_parts().1)
    }
}
