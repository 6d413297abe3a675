//! The social connections' RPCs (see the `social_connections` and
//! `limits_invitations_connections` migrations): the OAuth flow's, the stored connection's and
//! the token refresh's, each answer decoded into its type.

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::config::Config;
use crate::error::ApiError;
use crate::infra::supabase::{rpc, Refusal};

use super::failure::SocialFailure;
use super::{Account, Platform};

/// A connection row as the worker reads it (`get_social_connection`, the dispatcher's claim).
/// The sealed columns are opened only by `tokens`; `public` is what callers may see.
#[derive(Clone, Deserialize)]
pub struct StoredConnection {
    pub id: String,
    pub team_id: String,
    pub platform: Platform,
    pub external_account_id: String,
    pub display_name: Option<String>,
    pub handle: Option<String>,
    pub avatar_url: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    pub status: ConnectionStatus,
    pub connected_by: Option<String>,
    pub(super) encrypted_access_token: String,
    pub(super) encrypted_refresh_token: Option<String>,
    pub(super) token_key_version: String,
    pub token_generation: i64,
    pub access_token_expires_at: Option<String>,
    /// Seconds left, by the database's clock.
    pub(super) access_token_expires_in: Option<f64>,
    pub last_refreshed_at: Option<String>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// `social_connection_status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    Active,
    /// A refresh was refused: only connecting the account again helps.
    ReauthRequired,
}

impl StoredConnection {
    /// The connection as clients see it (the `social_accounts` view's columns, camelCase).
    pub fn public(&self) -> Value {
        json!({
            "id": self.id,
            "teamId": self.team_id,
            "platform": self.platform,
            "externalAccountId": self.external_account_id,
            "displayName": self.display_name,
            "handle": self.handle,
            "avatarUrl": self.avatar_url,
            "scopes": self.scopes,
            "status": self.status,
            "connectedBy": self.connected_by,
            "accessTokenExpiresAt": self.access_token_expires_at,
            "lastRefreshedAt": self.last_refreshed_at,
            "lastError": self.last_error,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        })
    }
}

/// Both tokens of a connection, sealed under one key version: the columns as stored.
pub struct SealedTokens {
    pub access: String,
    pub refresh: Option<String>,
    pub version: String,
}

/// Who asks for a connection, and for what.
#[derive(Clone, Copy)]
pub enum Access<'a> {
    /// A team member using it (verify, publish).
    Use(&'a str),
    /// An owner, admin or its connecting member removing it.
    Remove(&'a str),
    /// The worker itself (cron jobs, publishing on schedule).
    Internal,
}

/// `get_social_connection`'s answer.
#[derive(Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
enum Lookup {
    Ok { connection: Box<StoredConnection> },
    NotFound,
    Forbidden,
}

/// The connection, if `access` allows it.
pub async fn connection(
    config: &Config,
    connection_id: &str,
    access: Access<'_>,
) -> Result<StoredConnection, ApiError> {
    let params = match access {
        Access::Use(user) => {
            json!({"connection_id": connection_id, "user_id": user, "action": "use"})
        }
        Access::Remove(user) => {
            json!({"connection_id": connection_id, "user_id": user, "action": "remove"})
        }
        Access::Internal => json!({"connection_id": connection_id}),
    };
    match rpc(config, "get_social_connection", params).await? {
        Lookup::Ok { connection } => Ok(*connection),
        Lookup::NotFound => Err(SocialFailure::ConnectionNotFound.into()),
        Lookup::Forbidden => Err(ApiError::Forbidden),
    }
}

/// The id of the team's connection to this account: the one it has, or a new one to seal its
/// tokens for before [`save_connection`].
pub async fn connection_id(
    config: &Config,
    team_id: &str,
    platform: Platform,
    external_account_id: &str,
) -> Result<String, ApiError> {
    let params = json!({"team_id": team_id, "platform": platform,
                        "external_account_id": external_account_id});
    rpc(config, "social_connection_id", params).await
}

/// A connection as the OAuth flow saves it.
pub struct NewConnection<'a> {
    pub id: &'a str,
    pub pending: &'a Pending,
    pub platform: Platform,
    pub account: &'a Account,
    pub scopes: &'a [String],
    pub sealed: &'a SealedTokens,
    /// Lifetimes in seconds from now (`None`: does not expire, or unknown).
    pub access_token_expires_in: Option<i64>,
    pub refresh_token_expires_in: Option<i64>,
}

/// Creates the connection, or connects it again (new tokens, active again).
pub async fn save_connection(config: &Config, new: &NewConnection<'_>) -> Result<(), ApiError> {
    let NewConnection {
        id,
        pending,
        account,
        sealed,
        ..
    } = new;
    let params = json!({"connection_id": id, "team_id": pending.team_id, "user_id": pending.user_id,
        "platform": new.platform, "external_account_id": account.external_id,
        "display_name": account.display_name, "handle": account.handle,
        "avatar_url": account.avatar_url, "scopes": new.scopes,
        "encrypted_access_token": sealed.access, "encrypted_refresh_token": sealed.refresh,
        "token_key_version": sealed.version, "access_token_expires_in": new.access_token_expires_in,
        "refresh_token_expires_in": new.refresh_token_expires_in});
    // It answers the saved row, which the flow does not need.
    rpc::<IgnoredAny>(config, "save_social_connection", params)
        .await
        .map(drop)
}

/// Deletes the connection; `false` when there was none to delete.
pub async fn delete_connection(config: &Config, connection_id: &str) -> Result<bool, ApiError> {
    rpc(
        config,
        "delete_social_connection",
        json!({"connection_id": connection_id}),
    )
    .await
}

/// Counts a verification against the user's rate window (raised as 429 when it is full).
pub async fn take_verify_limit(config: &Config, user_id: &str) -> Result<(), ApiError> {
    let params = json!({"subject": user_id, "action": "connection_verify"});
    // Its answer is always `true`: a full window is raised, not answered.
    rpc::<bool>(config, "take_rate_limit", params)
        .await
        .map(drop)
}

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

/// Asks for the lease to refresh the connection's tokens of `token_generation`.
pub async fn claim_refresh(
    config: &Config,
    connection_id: &str,
    token_generation: i64,
) -> Result<RefreshClaim, ApiError> {
    let params = json!({"connection_id": connection_id, "token_generation": token_generation});
    rpc(config, "claim_social_token_refresh", params).await
}

/// How a refresh under a lease ended, as `finish_social_token_refresh` stores it.
pub enum RefreshEnd<'a> {
    /// New tokens, with their lifetimes in seconds from now.
    Refreshed {
        sealed: &'a SealedTokens,
        access_token_expires_in: Option<i64>,
        refresh_token_expires_in: Option<i64>,
    },
    /// The platform refused the grant: the connection needs connecting again.
    Refused,
    /// It failed for now, for the reason this code names; the next attempt may succeed.
    Failed(&'a str),
}

impl RefreshEnd<'_> {
    /// The arguments of `finish_social_token_refresh` that say how it ended.
    fn arguments(&self) -> Value {
        match self {
            RefreshEnd::Refreshed {
                sealed,
                access_token_expires_in,
                refresh_token_expires_in,
            } => json!({
                "encrypted_access_token": sealed.access,
                "encrypted_refresh_token": sealed.refresh,
                "token_key_version": sealed.version,
                "access_token_expires_in": access_token_expires_in,
                "refresh_token_expires_in": refresh_token_expires_in,
            }),
            RefreshEnd::Refused => json!({"reauth": true, "error": "invalid_grant"}),
            RefreshEnd::Failed(code) => json!({ "error": code }),
        }
    }
}

/// Stores how the refresh ended and releases the lease: `false` when the lease was no longer
/// this worker's (it expired and someone else took it), so nothing was stored.
pub async fn finish_refresh(
    config: &Config,
    connection_id: &str,
    lease_id: &str,
    end: RefreshEnd<'_>,
) -> Result<bool, ApiError> {
    let mut params = end.arguments();
    params["connection_id"] = connection_id.into();
    params["lease_id"] = lease_id.into();
    rpc(config, "finish_social_token_refresh", params).await
}

/// Marks the connection `reauth_required` with `error` as its last error: `false` when its
/// tokens are no longer those of `token_generation` (refreshed meanwhile), so nothing changed.
pub async fn mark_reauth_required(
    config: &Config,
    connection_id: &str,
    token_generation: i64,
    error: &str,
) -> Result<bool, ApiError> {
    let params = json!({"connection_id": connection_id, "token_generation": token_generation,
                        "error": error});
    rpc(config, "mark_social_reauth_required", params).await
}

/// The ids of active connections whose access token expires within `within_seconds` and can be
/// refreshed, soonest first, at most `batch_size`.
pub async fn connections_due(
    config: &Config,
    within_seconds: i64,
    batch_size: u32,
) -> Result<Vec<String>, ApiError> {
    let params = json!({"within_seconds": within_seconds, "batch_size": batch_size});
    rpc(config, "social_connections_due", params).await
}

/// The ids after `after_id` of connections sealed under a key older than `newest_version`.
pub async fn connections_to_reseal(
    config: &Config,
    newest_version: &str,
    batch_size: usize,
    after_id: Option<String>,
) -> Result<Vec<String>, ApiError> {
    let params = json!({"newest_version": newest_version, "batch_size": batch_size,
                        "after_id": after_id});
    rpc(config, "social_connections_to_reseal", params).await
}

/// Stores the connection's tokens sealed again: `false` when they changed since `token_generation`
/// (the newer tokens are left as they are).
pub async fn reseal_tokens(
    config: &Config,
    connection_id: &str,
    token_generation: i64,
    sealed: &SealedTokens,
) -> Result<bool, ApiError> {
    let params = json!({"connection_id": connection_id, "token_generation": token_generation,
        "encrypted_access_token": sealed.access, "encrypted_refresh_token": sealed.refresh,
        "token_key_version": sealed.version});
    rpc(config, "reseal_social_tokens", params).await
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

    #[test]
    fn a_refresh_ends_with_new_tokens_a_reauth_or_a_failure_code() {
        let sealed = SealedTokens {
            access: "sealed-at".into(),
            refresh: Some("sealed-rt".into()),
            version: "v2".into(),
        };
        let refreshed = RefreshEnd::Refreshed {
            sealed: &sealed,
            access_token_expires_in: Some(3600),
            refresh_token_expires_in: None,
        };
        assert_eq!(
            refreshed.arguments(),
            json!({"encrypted_access_token": "sealed-at", "encrypted_refresh_token": "sealed-rt",
                   "token_key_version": "v2", "access_token_expires_in": 3600,
                   "refresh_token_expires_in": null})
        );
        assert_eq!(
            RefreshEnd::Refused.arguments(),
            json!({"reauth": true, "error": "invalid_grant"})
        );
        assert_eq!(
            RefreshEnd::Failed("platform_unavailable").arguments(),
            json!({"error": "platform_unavailable"})
        );
    }
}
