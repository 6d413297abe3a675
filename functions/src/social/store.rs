//! The OAuth flow's and the token refresh's RPCs (see the `social_connections` and
//! `limits_invitations_connections` migrations), each answer decoded into its enum.

use serde::Deserialize;
use serde_json::Value;

use crate::config::Config;
use crate::error::ApiError;
use crate::infra::supabase::{rpc, Refusal};

/// `create_oauth_state`'s answer.
#[derive(Debug, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum StateCreation {
    Created,
    #[serde(untagged)]
    Refused(Refusal),
}

pub async fn create_state(config: &Config, params: Value) -> Result<StateCreation, ApiError> {
    rpc(config, "create_oauth_state", params).await
}

/// Who started an authorization, for which team, and its PKCE verifier.
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub struct Pending {
    pub user_id: String,
    pub team_id: String,
    pub code_verifier: String,
}

/// `consume_oauth_state`'s answer.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ConsumedState {
    /// The browser that started (or the app's flow without a code): connect now.
    Valid {
        redirect_to: String,
        #[serde(flatten)]
        pending: Pending,
    },
    /// A cookie-bound flow came back without the starting browser's cookie.
    BrowserMismatch { redirect_to: String },
    /// Its user may no longer connect accounts for the team.
    Forbidden { redirect_to: String },
    /// An app-bound flow: the code is parked for the app to complete.
    Confirm { redirect_to: String },
    /// Unknown, used, expired or for another platform: not even its redirect can be trusted.
    Invalid,
}

pub async fn consume_state(config: &Config, params: Value) -> Result<ConsumedState, ApiError> {
    rpc(config, "consume_oauth_state", params).await
}

/// `take_oauth_confirmation`'s answer.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TakenConfirmation {
    Valid {
        authorization_code: String,
        #[serde(flatten)]
        pending: Pending,
    },
    Forbidden,
    Invalid,
}

pub async fn take_confirmation(
    config: &Config,
    params: Value,
) -> Result<TakenConfirmation, ApiError> {
    rpc(config, "take_oauth_confirmation", params).await
}

/// `claim_social_token_refresh`'s answer.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RefreshClaim {
    /// This worker holds the lease and spends the refresh token.
    Claimed {
        lease_id: String,
    },
    /// Someone stored new tokens meanwhile.
    Changed,
    ReauthRequired,
    NotFound,
    /// Someone else holds the lease.
    Busy,
}

pub async fn claim_refresh(config: &Config, params: Value) -> Result<RefreshClaim, ApiError> {
    rpc(config, "claim_social_token_refresh", params).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_decode_with_their_fields_and_unknown_statuses_fail() {
        let consumed = |value: Value| serde_json::from_value::<ConsumedState>(value);
        assert_eq!(
            consumed(json!({"status": "valid", "user_id": "u", "team_id": "t",
                            "redirect_to": "https://app.example/done", "code_verifier": "v"}))
            .unwrap(),
            ConsumedState::Valid {
                redirect_to: "https://app.example/done".into(),
                pending: Pending {
                    user_id: "u".into(),
                    team_id: "t".into(),
                    code_verifier: "v".into(),
                },
            }
        );
        assert_eq!(
            consumed(json!({"status": "browser_mismatch", "redirect_to": "r"})).unwrap(),
            ConsumedState::BrowserMismatch {
                redirect_to: "r".into()
            }
        );
        assert_eq!(
            consumed(json!({"status": "invalid"})).unwrap(),
            ConsumedState::Invalid
        );
        assert!(consumed(json!({"status": "exploded"})).is_err());
        let taken = serde_json::from_value::<TakenConfirmation>(json!({
            "status": "valid", "user_id": "u", "team_id": "t", "redirect_to": "r",
            "code_verifier": "v", "authorization_code": "c"}))
        .unwrap();
        assert!(
            matches!(taken, TakenConfirmation::Valid { authorization_code, .. } if authorization_code == "c")
        );
        assert!(matches!(
            serde_json::from_value::<StateCreation>(json!({"status": "not_team_member"})),
            Ok(StateCreation::Refused(Refusal::NotTeamMember))
        ));
        assert_eq!(
            serde_json::from_value::<RefreshClaim>(json!({"status": "claimed", "lease_id": "l"}))
                .unwrap(),
            RefreshClaim::Claimed {
                lease_id: "l".into()
            }
        );
    }
}
