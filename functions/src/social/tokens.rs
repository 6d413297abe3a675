//! Stored tokens: sealed per connection, opened only here, and kept fresh.
//!
//! [`fresh_access_token`] is what every user of a connection calls (verification here,
//! publishing later): it returns a usable access token, refreshing it first when it expires
//! within two minutes. A refresh is single-flight across workers: the database hands out one
//! lease per connection and token generation (`claim_social_token_refresh`); the holder spends
//! the refresh token, and the same statement that stores the new tokens releases the lease.
//! Everyone else waits briefly and re-reads, so a single-use (rotating) refresh token such as
//! X's is never spent twice. A refused grant (`invalid_grant`) marks the connection
//! `reauth_required` instead of being retried; transient platform failures are retried with
//! backoff by the transport.

use std::time::Duration;

use serde_json::{json, Value};

use crate::config::Config;
use crate::error::ApiError;
use crate::infra::clock::{sleep, Clock};
use crate::infra::crypto::{reseal_in_pages, KeyRing, Resealed, SealedKey};
use crate::infra::outbound::{Call, Reply};

use super::failure::SocialFailure;
use super::store::{
    self, Access, ConnectionStatus, RefreshClaim, RefreshEnd, SealedTokens, StoredConnection,
};
use super::transport::Transport;
use super::{Grant, Platform, SocialError};

/// Refresh when the access token expires within this many seconds.
pub const REFRESH_MARGIN_SECONDS: i64 = 120;
/// How long a request waits for another one's refresh before giving up (503, retry).
const WAIT_FOR_REFRESH: Duration = Duration::from_secs(20);
const POLL_INTERVAL: Duration = Duration::from_millis(150);

/// What the refresh asks of a row.
impl StoredConnection {
    fn expires_within(&self, seconds: i64) -> bool {
        self.access_token_expires_in
            .is_some_and(|left| left <= seconds as f64)
    }

    fn refreshable(&self) -> bool {
        self.platform.api().spec().supports_refresh && self.encrypted_refresh_token.is_some()
    }
}

/// The associated data binding a token to its connection, platform, key version and kind, so
/// a ciphertext moved to another row, platform or slot does not open.
fn associated_data(connection_id: &str, platform: Platform, version: &str, kind: &str) -> String {
    format!(
        "social-token:{connection_id}:{}:{version}:{kind}",
        platform.as_str()
    )
}

pub fn seal_tokens(
    ring: &KeyRing,
    connection_id: &str,
    platform: Platform,
    access: &str,
    refresh: Option<&str>,
) -> SealedTokens {
    let access = ring.seal_with(access, |version| {
        associated_data(connection_id, platform, version, "access")
    });
    let refresh = refresh.map(|refresh| {
        ring.seal_with(refresh, |version| {
            associated_data(connection_id, platform, version, "refresh")
        })
        .ciphertext
    });
    SealedTokens {
        access: access.ciphertext,
        refresh,
        version: access.version,
    }
}

/// Opens a row's tokens: (access, refresh).
pub fn open_tokens(
    ring: &KeyRing,
    row: &StoredConnection,
) -> Result<(String, Option<String>), SocialFailure> {
    let open = |ciphertext: &str, kind: &str| {
        let sealed = SealedKey {
            version: row.token_key_version.clone(),
            ciphertext: ciphertext.to_owned(),
        };
        let aad = associated_data(&row.id, row.platform, &row.token_key_version, kind);
        ring.open_with(&sealed, &aad).map_err(|error| {
            SocialFailure::Undecryptable(format!("connection {}: {error}", row.id))
        })
    };
    let access = open(&row.encrypted_access_token, "access")?;
    let refresh = row
        .encrypted_refresh_token
        .as_deref()
        .map(|ciphertext| open(ciphertext, "refresh"))
        .transpose()?;
    Ok((access, refresh))
}

pub fn key_ring(config: &Config) -> Result<&KeyRing, SocialFailure> {
    config.social.key_ring.as_ref().ok_or_else(|| {
        SocialFailure::NotConfigured("SOCIAL_TOKEN_ENCRYPTION_KEYS is not configured".into())
    })
}

/// A usable access token and the connection it belongs to.
pub struct Fresh {
    pub access_token: String,
    pub connection: StoredConnection,
}

/// When a token must be renewed.
#[derive(Clone, Copy)]
pub enum Renew {
    /// If it expires within this many seconds.
    ExpiringWithin(i64),
    /// If it is still the token of this generation, which the platform refused (401).
    Refused(i64),
}

/// A usable access token of the connection, refreshed first if it expires soon. The function
/// the publishing code calls (with `Access::Internal` on schedule).
pub async fn fresh_access_token(
    config: &Config,
    clock: &dyn Clock,
    connection_id: &str,
    access: Access<'_>,
) -> Result<Fresh, ApiError> {
    ensure_fresh(
        config,
        clock,
        connection_id,
        access,
        Renew::ExpiringWithin(REFRESH_MARGIN_SECONDS),
    )
    .await
}

/// [`fresh_access_token`] for a connection row just read with something else (the dispatcher's
/// claim): it is checked first instead of being read again.
pub async fn fresh_access_token_of(
    config: &Config,
    clock: &dyn Clock,
    row: StoredConnection,
) -> Result<Fresh, ApiError> {
    let id = row.id.clone();
    renew_if_due(
        config,
        clock,
        &id,
        Access::Internal,
        Renew::ExpiringWithin(REFRESH_MARGIN_SECONDS),
        Some(row),
    )
    .await
}

pub async fn ensure_fresh(
    config: &Config,
    clock: &dyn Clock,
    connection_id: &str,
    access: Access<'_>,
    renew: Renew,
) -> Result<Fresh, ApiError> {
    renew_if_due(config, clock, connection_id, access, renew, None).await
}

/// The connection's tokens, refreshed first when `renew` says so. `known` is a row already read.
async fn renew_if_due(
    config: &Config,
    clock: &dyn Clock,
    connection_id: &str,
    access: Access<'_>,
    renew: Renew,
    mut known: Option<StoredConnection>,
) -> Result<Fresh, ApiError> {
    let ring = key_ring(config)?;
    let started = clock.unix_millis();
    loop {
        let row = match known.take() {
            Some(row) => row,
            None => store::connection(config, connection_id, access).await?,
        };
        if row.status == ConnectionStatus::ReauthRequired {
            return Err(SocialFailure::ReauthRequired.into());
        }
        let due = match renew {
            Renew::ExpiringWithin(seconds) => row.expires_within(seconds),
            Renew::Refused(generation) => row.token_generation == generation,
        };
        if !due {
            let (access_token, _) = open_tokens(ring, &row)?;
            return Ok(Fresh {
                access_token,
                connection: row,
            });
        }
        if !row.refreshable() {
            let refused = matches!(renew, Renew::Refused(_)) || row.expires_within(0);
            if refused {
                mark_reauth_required(config, &row, "token expired or refused").await?;
                return Err(SocialFailure::ReauthRequired.into());
            }
            let (access_token, _) = open_tokens(ring, &row)?;
            return Ok(Fresh {
                access_token,
                connection: row,
            });
        }
        match store::claim_refresh(config, &row.id, row.token_generation).await? {
            RefreshClaim::Claimed { lease_id } => {
                refresh_with_lease(config, clock, ring, &row, &lease_id).await?;
                // Read back what was stored (the new generation), for the caller.
                let row = store::connection(config, connection_id, access).await?;
                let (access_token, _) = open_tokens(ring, &row)?;
                return Ok(Fresh {
                    access_token,
                    connection: row,
                });
            }
            // Someone stored new tokens meanwhile: read them.
            RefreshClaim::Changed => continue,
            RefreshClaim::ReauthRequired => return Err(SocialFailure::ReauthRequired.into()),
            RefreshClaim::NotFound => return Err(SocialFailure::ConnectionNotFound.into()),
            // Someone else is refreshing: wait for their tokens.
            RefreshClaim::Busy => {
                if clock.unix_millis() - started > WAIT_FOR_REFRESH.as_millis() as f64 {
                    return Err(SocialFailure::RefreshBusy.into());
                }
                sleep(POLL_INTERVAL).await;
            }
        }
    }
}

/// Marks the connection `reauth_required`; if it was refreshed meanwhile, nothing changes.
async fn mark_reauth_required(
    config: &Config,
    row: &StoredConnection,
    error: &str,
) -> Result<(), ApiError> {
    store::mark_reauth_required(config, &row.id, row.token_generation, error)
        .await
        .map(drop)
}

/// Spends the refresh token (we hold the lease) and stores the outcome, releasing the lease.
async fn refresh_with_lease(
    config: &Config,
    clock: &dyn Clock,
    ring: &KeyRing,
    row: &StoredConnection,
    lease_id: &str,
) -> Result<(), ApiError> {
    // Whether the lease was still ours changes nothing here: the caller reads the row again.
    let finish = |end| store::finish_refresh(config, &row.id, lease_id, end);
    let api = row.platform.api();
    let credentials = match config.social.credentials(row.platform) {
        Ok(credentials) => credentials,
        Err(missing) => {
            finish(RefreshEnd::Failed("platform_not_configured")).await?;
            return Err(
                SocialFailure::NotConfigured(format!("{missing} is not configured")).into(),
            );
        }
    };
    let (_, refresh_token) = open_tokens(ring, row)?;
    let refresh_token = refresh_token.unwrap_or_default();
    let transport = Transport::new(config.social.api_origin_override.as_deref(), clock);
    let call = api.token_call(
        &credentials,
        &Grant::Refresh {
            refresh_token: &refresh_token,
        },
    );
    let outcome = match transport.send(&call).await {
        Ok(reply) => api.parse_token(&reply),
        Err(error) => Err(error),
    };
    match outcome {
        Ok(tokens) => {
            // Platforms that do not rotate keep the refresh token we have.
            let refresh = tokens.refresh_token.as_deref().unwrap_or(&refresh_token);
            let sealed = seal_tokens(
                ring,
                &row.id,
                row.platform,
                &tokens.access_token,
                Some(refresh),
            );
            finish(RefreshEnd::Refreshed {
                sealed: &sealed,
                access_token_expires_in: tokens.expires_in.or(api.spec().default_access_lifetime),
                refresh_token_expires_in: tokens.refresh_expires_in,
            })
            .await?;
            Ok(())
        }
        Err(SocialError::InvalidGrant(cause)) => {
            finish(RefreshEnd::Refused).await?;
            Err(ApiError::from(SocialFailure::ReauthRequired).with_cause(cause))
        }
        Err(error) => {
            let failure = SocialFailure::Platform(error);
            finish(RefreshEnd::Failed(failure.code())).await?;
            Err(failure.into())
        }
    }
}

/// What the platform says about the connected account, with a token refreshed (once) if the
/// platform refuses the stored one. Marks the connection `reauth_required` when even a fresh
/// token is refused.
pub async fn verify(
    config: &Config,
    clock: &dyn Clock,
    connection_id: &str,
    access: Access<'_>,
) -> Result<(StoredConnection, super::Account), ApiError> {
    ask_platform(
        config,
        clock,
        connection_id,
        access,
        |connection, token| {
            let api = connection.platform.api();
            Ok(api.profile_call(token, &connection.external_account_id))
        },
        |connection, reply| connection.platform.api().parse_profile(reply),
    )
    .await
}

/// Asks the platform as the connection: `call` makes the request of the connection and its
/// fresh access token (an error there answers without calling), `read` reads the reply. The
/// token is refreshed once if the platform refuses it; the connection is marked
/// `reauth_required` when even a fresh token is refused.
pub async fn ask_platform<T>(
    config: &Config,
    clock: &dyn Clock,
    connection_id: &str,
    access: Access<'_>,
    call: impl Fn(&StoredConnection, &str) -> Result<Call, ApiError>,
    read: impl Fn(&StoredConnection, &Reply) -> Result<T, SocialError>,
) -> Result<(StoredConnection, T), ApiError> {
    let transport = Transport::new(config.social.api_origin_override.as_deref(), clock);
    let mut fresh = fresh_access_token(config, clock, connection_id, access).await?;
    let mut refreshed = false;
    loop {
        let request = call(&fresh.connection, &fresh.access_token)?;
        let outcome = match transport.send(&request).await {
            Ok(reply) => read(&fresh.connection, &reply),
            Err(error) => Err(error),
        };
        match outcome {
            Ok(answer) => return Ok((fresh.connection, answer)),
            Err(SocialError::Unauthorized(cause) | SocialError::InvalidGrant(cause)) => {
                if refreshed {
                    mark_reauth_required(config, &fresh.connection, "access token refused").await?;
                    return Err(ApiError::from(SocialFailure::ReauthRequired).with_cause(cause));
                }
                refreshed = true;
                let generation = fresh.connection.token_generation;
                fresh = ensure_fresh(
                    config,
                    clock,
                    connection_id,
                    access,
                    Renew::Refused(generation),
                )
                .await?;
            }
            Err(error) => return Err(SocialFailure::Platform(error).into()),
        }
    }
}

/// `POST /v1/cron/tokens/refresh`: refreshes (a bounded batch of) tokens expiring within 15
/// minutes, one connection at a time.
pub async fn refresh_due(config: &Config, clock: &dyn Clock) -> Result<Value, ApiError> {
    const WITHIN_SECONDS: i64 = 15 * 60;
    let due = store::connections_due(config, WITHIN_SECONDS, 25).await?;
    let (mut refreshed, mut reauth_required, mut failed) = (0, 0, 0);
    for id in &due {
        match ensure_fresh(
            config,
            clock,
            id,
            Access::Internal,
            Renew::ExpiringWithin(WITHIN_SECONDS),
        )
        .await
        {
            Ok(_) => refreshed += 1,
            Err(ApiError::Social(SocialFailure::ReauthRequired, _)) => reauth_required += 1,
            Err(_) => failed += 1,
        }
    }
    Ok(
        json!({"checked": due.len(), "refreshed": refreshed, "reauthRequired": reauth_required,
              "failed": failed}),
    )
}

/// `POST /v1/cron/tokens/reencrypt`: re-seals connections sealed with an older key under the
/// newest one (up to a pass's limit). Run after adding a key; remove the old key once `done`.
/// A row that no longer opens is reported in `unreadable` and skipped.
pub async fn reseal_batch(config: &Config) -> Result<Value, ApiError> {
    let ring = key_ring(config)?;
    let newest = ring.newest_version();
    let report = reseal_in_pages(
        |after_id, batch_size| store::connections_to_reseal(config, newest, batch_size, after_id),
        |id| id.as_str(),
        |id| reseal_connection(config, ring, id),
    )
    .await?;
    Ok(
        json!({"keyVersion": newest, "checked": report.checked, "resealed": report.resealed,
              "unreadable": report.unreadable, "done": report.done}),
    )
}

async fn reseal_connection(
    config: &Config,
    ring: &KeyRing,
    id: String,
) -> Result<Resealed, ApiError> {
    let row = store::connection(config, &id, Access::Internal).await?;
    let Ok((access, refresh)) = open_tokens(ring, &row) else {
        return Ok(Resealed::Unreadable);
    };
    let sealed = seal_tokens(ring, &row.id, row.platform, &access, refresh.as_deref());
    let written = store::reseal_tokens(config, &row.id, row.token_generation, &sealed).await?;
    Ok(Resealed::Written(written))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infra::crypto::tests::ring;

    fn row(sealed: &SealedTokens, id: &str, platform: Platform) -> StoredConnection {
        serde_json::from_value(json!({
            "id": id, "team_id": "t", "platform": platform, "external_account_id": "e",
            "status": "active", "encrypted_access_token": sealed.access,
            "encrypted_refresh_token": sealed.refresh, "token_key_version": sealed.version,
            "token_generation": 1, "access_token_expires_in": 30.0, "created_at": "c", "updated_at": "u",
        }))
        .unwrap()
    }

    #[test]
    fn tokens_open_after_rotation_but_not_on_another_row_platform_or_slot() {
        let old = ring(&[("v1", 1)]);
        let sealed = seal_tokens(&old, "conn-1", Platform::X, "at-1", Some("rt-1"));
        assert!(!sealed.access.contains("at-1"));
        let rotated = ring(&[("v1", 1), ("v2", 2)]);
        let stored = row(&sealed, "conn-1", Platform::X);
        assert_eq!(
            open_tokens(&rotated, &stored).unwrap(),
            ("at-1".to_owned(), Some("rt-1".to_owned()))
        );
        assert!(open_tokens(&rotated, &row(&sealed, "conn-2", Platform::X)).is_err());
        assert!(open_tokens(&rotated, &row(&sealed, "conn-1", Platform::Tiktok)).is_err());
        let swapped = SealedTokens {
            access: sealed.refresh.clone().unwrap(),
            refresh: Some(sealed.access.clone()),
            version: sealed.version.clone(),
        };
        assert!(open_tokens(&rotated, &row(&swapped, "conn-1", Platform::X)).is_err());
        assert_eq!(
            seal_tokens(&rotated, "c", Platform::X, "a", None).version,
            "v2"
        );
        assert!(stored.expires_within(REFRESH_MARGIN_SECONDS) && !stored.expires_within(0));
    }

    #[test]
    fn the_public_shape_has_no_token_material() {
        let sealed = seal_tokens(
            &ring(&[("v1", 1)]),
            "conn-1",
            Platform::X,
            "at-1",
            Some("rt-1"),
        );
        let public = row(&sealed, "conn-1", Platform::X).public().to_string();
        assert!(!public.contains(&sealed.access) && !public.contains("encrypted"));
        assert!(public.contains("\"platform\":\"x\""));
    }
}
