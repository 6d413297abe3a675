//! `GET /v1/me`: the caller and their profile, read with the caller's own token so RLS
//! decides what is visible.

use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::http::cx::Cx;
use crate::http::Response;
use crate::infra::supabase;

/// A `public.profiles` row, read as PostgREST names its columns and answered in camelCase.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all(serialize = "camelCase"))]
pub struct Profile {
    pub id: String,
    pub display_name: Option<String>,
    pub avatar_url: Option<String>,
    pub timezone: String,
    pub preferences: serde_json::Map<String, serde_json::Value>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Serialize)]
struct MeResponse<'a> {
    user: UserView<'a>,
    profile: Profile,
}

#[derive(Serialize)]
struct UserView<'a> {
    id: &'a str,
    email: Option<&'a str>,
}

pub async fn me(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, ..) = cx.parts();
    let query = supabase::user_client(config, &caller.token)
        .from("profiles")
        .select("*")
        .eq("id", caller.user.id.as_str());
    let body = supabase::send(query).await?;
    let rows: Vec<Profile> = serde_json::from_str(&body)
        .map_err(|error| ApiError::Upstream(format!("profiles rows unparsable: {error}")))?;
    // `id` is the primary key: at most one row.
    let profile = rows.into_iter().next().ok_or(ApiError::ProfileNotFound)?;
    let user = UserView {
        id: caller.user.id.as_str(),
        email: caller.user.email.as_deref(),
    };
    Ok(Response::json(200, &MeResponse { user, profile }))
}
