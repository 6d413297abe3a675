//! The RPCs a user's publishing request calls (see the `publishing` migrations), as the service
//! role with the user id the worker verified, each answer decoded into what it means.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::config::Config;
use crate::error::ApiError;
use crate::ids::PostId;
use crate::infra::supabase::{self, rpc, Refusal};
use crate::publishing::media::StoredMedia;
use crate::social::store::ConnectionStatus;
use crate::social::Platform;

/// A destination as `post_for_submission` reads it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DestinationRow {
    pub platform: Platform,
    pub account_status: ConnectionStatus,
    pub options: Value,
}

/// A post with its destinations and media as `post_for_submission` reads them in one snapshot,
/// with the fingerprint `submit_post` compares.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Draft {
    pub team_id: String,
    pub body: String,
    pub media: Vec<Option<StoredMedia>>,
    pub destinations: Vec<DestinationRow>,
    pub fingerprint: String,
}

#[derive(Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
enum DraftRead {
    Ok(Draft),
    #[serde(untagged)]
    Refused(Refusal),
}

/// The post as the caller may submit it.
pub async fn draft(config: &Config, user_id: &str, post_id: &str) -> Result<Draft, ApiError> {
    let params = json!({ "user_id": user_id, "post_id": post_id });
    match rpc(config, "post_for_submission", params).await? {
        DraftRead::Ok(draft) => Ok(draft),
        DraftRead::Refused(refusal) => Err(refusal.into_error(ApiError::NotFound)),
    }
}

/// What submitting, reviewing, canceling or retrying a post did: its answer (status and the
/// post as it is now), or why the post could not move.
#[derive(Deserialize)]
#[serde(untagged)]
enum PostChange {
    Refused(PostRefusal),
    Moved(Value),
}

/// Why a post could not move.
#[derive(Debug, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PostRefusal {
    /// It started publishing or was canceled.
    NotEditable,
    NoDestinations,
    /// It is not waiting for approval.
    NotPending,
    /// It changed while it was being checked.
    Changed,
    #[serde(untagged)]
    Shared(Refusal),
}

impl From<PostRefusal> for ApiError {
    fn from(refusal: PostRefusal) -> Self {
        let conflict = |code, message: &str| ApiError::Rejected {
            status: 409,
            code,
            message: message.to_owned(),
        };
        match refusal {
            PostRefusal::NotEditable => conflict(
                "post_not_editable",
                "The post has started publishing (or was canceled); it can no longer be scheduled.",
            ),
            PostRefusal::NoDestinations => ApiError::InvalidRequest {
                field: "destinations".into(),
                reason: "a post needs at least one destination".into(),
            },
            PostRefusal::NotPending => {
                conflict("post_not_pending", "The post is not waiting for approval.")
            }
            PostRefusal::Changed => conflict(
                "post_changed",
                "The post, its destinations or its media changed while it was being checked; submit it again.",
            ),
            PostRefusal::Shared(refusal) => refusal.into_error(ApiError::NotFound),
        }
    }
}

/// Calls one of the RPCs that move a post; its answer, or its refusal as the caller's error.
async fn change(config: &Config, function: &str, params: Value) -> Result<Value, ApiError> {
    match rpc(config, function, params).await? {
        PostChange::Moved(answer) => Ok(answer),
        PostChange::Refused(refusal) => Err(refusal.into()),
    }
}

/// Schedules the checked post (or submits it for review); refused as `post_changed` when it
/// is no longer what `fingerprint` describes.
pub async fn submit(
    config: &Config,
    user_id: &str,
    post_id: &str,
    scheduled_at: &str,
    timezone: &str,
    fingerprint: &str,
) -> Result<Value, ApiError> {
    let params = json!({
        "user_id": user_id, "post_id": post_id, "scheduled_at": scheduled_at,
        "timezone": timezone, "fingerprint": fingerprint,
    });
    change(config, "submit_post", params).await
}

pub async fn review(
    config: &Config,
    user_id: &str,
    post_id: &str,
    approve: bool,
    comment: Option<&str>,
) -> Result<Value, ApiError> {
    let params =
        json!({ "user_id": user_id, "post_id": post_id, "approve": approve, "comment": comment });
    change(config, "review_post", params).await
}

pub async fn cancel(config: &Config, user_id: &str, post_id: &str) -> Result<Value, ApiError> {
    let params = json!({ "user_id": user_id, "post_id": post_id });
    change(config, "cancel_post", params).await
}

pub async fn retry(
    config: &Config,
    user_id: &str,
    post_id: &str,
    include_unconfirmed: bool,
) -> Result<Value, ApiError> {
    let params = json!({
        "user_id": user_id, "post_id": post_id, "include_unconfirmed": include_unconfirmed,
    });
    change(config, "retry_post", params).await
}

/// `post_from_job`'s answer: the job's post to submit, or why there is none to submit.
#[derive(Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PostFromJob {
    Draft {
        #[serde(rename = "postId")]
        post_id: PostId,
    },
    Existing {
        #[serde(rename = "postId")]
        post_id: PostId,
    },
    InvalidJobState,
    #[serde(untagged)]
    Refused(Refusal),
}

/// The finished job's post, made once per job with these `{connectionId, options}` destinations.
pub async fn post_from_job(
    config: &Config,
    user_id: &str,
    job_id: &str,
    destinations: Value,
) -> Result<PostFromJob, ApiError> {
    let params = json!({ "user_id": user_id, "job_id": job_id, "destinations": destinations });
    rpc(config, "post_from_job", params).await
}

/// The caller's own time zone (their profile's, read under their own rights), for a post
/// submitted without one; UTC when they have no profile.
pub async fn authors_timezone(config: &Config, caller: &Caller) -> Result<String, ApiError> {
    #[derive(Deserialize)]
    struct Profile {
        timezone: String,
    }
    let query = supabase::user_client(config, &caller.token)
        .from("profiles")
        .select("timezone")
        .eq("id", caller.user.id.as_str());
    let rows: Vec<Profile> = serde_json::from_str(&supabase::send(query).await?)
        .map_err(|error| ApiError::Upstream(format!("profiles rows unparsable: {error}")))?;
    Ok(rows
        .into_iter()
        .next()
        .map_or_else(|| "UTC".to_owned(), |profile| profile.timezone))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal_of(answer: Value) -> Option<ApiError> {
        match serde_json::from_value(answer).unwrap() {
            PostChange::Refused(refusal) => Some(refusal.into()),
            PostChange::Moved(_) => None,
        }
    }

    #[test]
    fn a_post_that_cannot_move_is_refused_and_one_that_moved_is_answered() {
        let changed = refusal_of(json!({ "status": "changed", "post": {} })).unwrap();
        assert_eq!((changed.status(), changed.code()), (409, "post_changed"));
        let forbidden = refusal_of(json!({ "status": "forbidden" })).unwrap();
        assert_eq!(forbidden.status(), 403);
        let missing = refusal_of(json!({ "status": "not_found" })).unwrap();
        assert_eq!(missing.status(), 404);
        assert!(refusal_of(json!({ "status": "scheduled", "post": {} })).is_none());
    }
}
