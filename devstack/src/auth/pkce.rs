//! PKCE as GoTrue runs it (supabase-swift's default flow): a request that starts a flow by email
//! (sign-up, recovery, magic link, email change) may carry `code_challenge` and
//! `code_challenge_method`; its emailed link then carries a `pkce_` token and redirects with
//! `?code=` instead of a session, and `POST /token?grant_type=pkce` trades the code and the
//! verifier for the session. GoTrue keeps flow states in `auth.flow_state`; clients never read
//! it, so the stand-in keeps them in memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{fail, AuthResult};

/// GoTrue's `FlowStateExpiryDuration` default.
const FLOW_STATE_LIFETIME: Duration = Duration::from_secs(300);
/// The prefix of an emailed token that belongs to a PKCE flow.
pub const PKCE_PREFIX: &str = "pkce_";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Method {
    S256,
    Plain,
}

/// A client's `code_challenge` with its method.
#[derive(Debug)]
pub struct Challenge {
    challenge: String,
    method: Method,
}

impl Challenge {
    /// GoTrue's `validatePKCEParams`: both or neither, a challenge of 43 to 128 unreserved
    /// characters, and a method of `s256` or `plain` (any case).
    pub fn from_request(challenge: Option<&str>, method: Option<&str>) -> AuthResult<Option<Self>> {
        let invalid = |message: &str| fail(StatusCode::BAD_REQUEST, "validation_failed", message);
        let (challenge, method) = match (
            challenge.filter(|c| !c.is_empty()),
            method.filter(|m| !m.is_empty()),
        ) {
            (None, None) => return Ok(None),
            (Some(challenge), Some(method)) => (challenge, method),
            _ => {
                return Err(invalid(
                    "PKCE flow requires code_challenge_method and code_challenge",
                ))
            }
        };
        if !(43..=128).contains(&challenge.len()) {
            return Err(invalid(
                "code challenge has to be between 43 and 128 characters",
            ));
        }
        if !challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        {
            return Err(invalid(
                "code challenge can only contain alphanumeric characters, hyphens, periods, underscores and tildes",
            ));
        }
        let method = match method.to_ascii_lowercase().as_str() {
            "s256" => Method::S256,
            "plain" => Method::Plain,
            _ => {
                return Err(invalid(&format!(
                    "unsupported code_challenge method {method:?}"
                )))
            }
        };
        Ok(Some(Self {
            challenge: challenge.to_owned(),
            method,
        }))
    }

    fn verifies(&self, verifier: &str) -> bool {
        let expected = match self.method {
            Method::S256 => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
            Method::Plain => verifier.to_owned(),
        };
        constant_time_eq(expected.as_bytes(), self.challenge.as_bytes())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

struct FlowState {
    user_id: Uuid,
    /// GoTrue's authentication method (`email/signup`, `recovery`, `magiclink`, ...), the AMR of
    /// the session it ends in.
    method: &'static str,
    challenge: Challenge,
    started: Instant,
}

/// Flow states by their auth code.
#[derive(Default)]
pub struct FlowStates {
    by_code: Mutex<HashMap<String, FlowState>>,
}

impl FlowStates {
    /// Records a flow started for `user_id`; its code is handed out when the emailed link is used.
    pub fn start(&self, user_id: Uuid, method: &'static str, challenge: Challenge) {
        let mut flows = self.by_code.lock().expect("flow lock");
        flows.retain(|_, flow| flow.started.elapsed() < FLOW_STATE_LIFETIME);
        let flow = FlowState {
            user_id,
            method,
            challenge,
            started: Instant::now(),
        };
        flows.insert(Uuid::new_v4().to_string(), flow);
    }

    /// The auth code of the user's newest flow of `method`, as GoTrue's `issueAuthCode` finds it.
    pub fn code_for(&self, user_id: Uuid, method: &str) -> AuthResult<String> {
        let flows = self.by_code.lock().expect("flow lock");
        flows
            .iter()
            .filter(|(_, flow)| flow.user_id == user_id && flow.method == method)
            .max_by_key(|(_, flow)| flow.started)
            .map(|(code, _)| code.clone())
            .ok_or_else(|| {
                fail(
                    StatusCode::BAD_REQUEST,
                    "flow_state_not_found",
                    "No associated flow state found. No valid flow state found for user.",
                )
            })
    }

    /// `grant_type=pkce`: the user and authentication method of the flow, which ends here.
    pub fn exchange(&self, auth_code: &str, verifier: &str) -> AuthResult<(Uuid, &'static str)> {
        if auth_code.is_empty() || verifier.is_empty() {
            return Err(fail(
                StatusCode::BAD_REQUEST,
                "validation_failed",
                "invalid request: both auth code and code verifier should be non-empty",
            ));
        }
        let mut flows = self.by_code.lock().expect("flow lock");
        let flow = flows.get(auth_code).ok_or_else(|| {
            fail(
                StatusCode::NOT_FOUND,
                "flow_state_not_found",
                "invalid flow state, no valid flow state found",
            )
        })?;
        if flow.started.elapsed() >= FLOW_STATE_LIFETIME {
            return Err(fail(
                StatusCode::UNPROCESSABLE_ENTITY,
                "flow_state_expired",
                "invalid flow state, flow state has expired",
            ));
        }
        if !flow.challenge.verifies(verifier) {
            return Err(fail(
                StatusCode::BAD_REQUEST,
                "bad_code_verifier",
                "code challenge does not match previously saved code verifier",
            ));
        }
        let flow = flows.remove(auth_code).expect("found above");
        Ok((flow.user_id, flow.method))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    fn challenge(challenge: &str, method: &str) -> Challenge {
        Challenge::from_request(Some(challenge), Some(method))
            .unwrap()
            .unwrap()
    }

    #[test]
    fn s256_and_plain_verify_as_rfc_7636_says() {
        // RFC 7636, appendix B.
        let s256 = challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "S256");
        assert!(s256.verifies(VERIFIER));
        assert!(!s256.verifies("another-verifier-another-verifier-another-v"));
        let plain = challenge(VERIFIER, "plain");
        assert!(plain.verifies(VERIFIER));
        assert!(!plain.verifies("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
    }

    #[test]
    fn challenges_are_checked_like_gotrue_checks_them() {
        assert!(Challenge::from_request(None, None).unwrap().is_none());
        for (challenge, method) in [
            (Some(VERIFIER), None),
            (None, Some("s256")),
            (Some("short"), Some("s256")),
            (Some(&"a b".repeat(20)[..]), Some("s256")),
            (Some(VERIFIER), Some("md5")),
        ] {
            let refused = Challenge::from_request(challenge, method).unwrap_err();
            assert_eq!(
                refused.code, "validation_failed",
                "{challenge:?} {method:?}"
            );
        }
    }

    #[test]
    fn a_code_is_exchanged_once_and_only_with_its_verifier() {
        let flows = FlowStates::default();
        let user = Uuid::new_v4();
        flows.start(user, "magiclink", challenge(VERIFIER, "plain"));
        let code = flows.code_for(user, "magiclink").unwrap();
        assert!(flows.code_for(user, "recovery").is_err());

        let wrong = flows.exchange(&code, "not-the-verifier").unwrap_err();
        assert_eq!(
            (wrong.status, wrong.code),
            (StatusCode::BAD_REQUEST, "bad_code_verifier")
        );
        assert_eq!(
            flows.exchange(&code, VERIFIER).unwrap(),
            (user, "magiclink")
        );
        let spent = flows.exchange(&code, VERIFIER).unwrap_err();
        assert_eq!(
            (spent.status, spent.code),
            (StatusCode::NOT_FOUND, "flow_state_not_found")
        );
    }
}
