//! `POST /v1/teams/{team_id}/invitations`: invites an email address to a team.
//!
//! The invitation row is created by the `create_team_invitation` RPC with the caller's own token,
//! so the database decides who may invite (owner/admin), enforces its rules and counts the
//! invitation against the inviter's and the team's rate limits (they bound the e-mail one account
//! can cause). People without an account then get Supabase Auth's invite email (service role): its
//! link signs them in, and the invitation token waits in their user metadata for the app to accept
//! it. Auth does not invite an address that already has an account: its owner finds the
//! invitation in the app (`my_team_invitations`, `respond_to_team_invitation`). The inviter gets
//! the same answer either way, so the endpoint does not tell which addresses have accounts.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use supabase_auth::error::Error as AuthClientError;
use supabase_auth::models::AuthClient;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::http::cx::Cx;
use crate::http::extract::is_uuid;
use crate::http::Response;
use crate::infra::supabase;

/// The invitee, parsed once: a plausible, normalized address.
#[derive(Debug, PartialEq)]
struct EmailAddress(String);

impl EmailAddress {
    fn parse(raw: &str) -> Result<Self, ApiError> {
        let email = raw.trim().to_lowercase();
        let plausible = email.len() <= 254
            && !email.contains(char::is_whitespace)
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            });
        if !plausible {
            return Err(invalid("email", "must be an email address"));
        }
        Ok(Self(email))
    }
}

#[derive(Debug, Deserialize, Serialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
enum InviteeRole {
    Member,
    Admin,
}

/// What the RPC returns: the token is shown once and only its hash is stored.
#[derive(Deserialize)]
struct CreatedInvitation {
    invitation_id: String,
    token: String,
}

/// The same for every address: whether it has an account is not the inviter's to learn.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InvitationResponse {
    invitation_id: String,
}

pub async fn create(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, request, ..) = cx.parts();
    let team_id = cx.param("team_id");
    if !is_uuid(team_id) {
        return Err(invalid("team_id", "must be a UUID"));
    }
    let (email, role) = parse_body(&request.body)?;

    let params = json!({ "team_id": team_id, "email": email.0, "role": role });
    let call = supabase::user_client(config, &caller.token)
        .rpc("create_team_invitation", params.to_string());
    let body = supabase::send(call).await?;
    let invitation = single_row::<CreatedInvitation>(&body)?;

    // The JWT secret argument is only for the client's own token checks, which this call skips.
    let auth = AuthClient::new(config.supabase_url.base(), config.anon_key.expose(), "");
    let metadata = json!({ "team_invitation_token": invitation.token, "team_id": team_id });
    match auth
        .invite_user_by_email(&email.0, Some(metadata), config.service_role_key.expose())
        .await
    {
        Ok(_) => {}
        // 422: the address already has an account, which Auth will not invite; its owner sees
        // the invitation in the app.
        Err(AuthClientError::AuthError { status, .. }) if status.as_u16() == 422 => {}
        Err(error) => {
            // Not emailed and not to be retried into a duplicate: withdraw the invitation.
            let revoke = json!({ "invitation_id": invitation.invitation_id });
            let call = supabase::user_client(config, &caller.token)
                .rpc("revoke_team_invitation", revoke.to_string());
            supabase::send(call).await?;
            return Err(ApiError::AuthServiceUnavailable(error.to_string()));
        }
    }
    let response = InvitationResponse {
        invitation_id: invitation.invitation_id,
    };
    Ok(Response::json(201, &response))
}

fn parse_body(bytes: &[u8]) -> Result<(EmailAddress, InviteeRole), ApiError> {
    // The size is capped before the body is read (`router::Route::max_body`).
    let Ok(Value::Object(fields)) = serde_json::from_slice(bytes) else {
        return Err(invalid("body", "must be a JSON object"));
    };
    if let Some(unknown) = fields
        .keys()
        .find(|name| !["email", "role"].contains(&name.as_str()))
    {
        return Err(invalid(unknown, "is not a field of an invitation"));
    }
    let email = match fields.get("email") {
        Some(Value::String(email)) => EmailAddress::parse(email)?,
        _ => return Err(invalid("email", "is required")),
    };
    let role = match fields.get("role") {
        None | Some(Value::Null) => InviteeRole::Member,
        Some(role) => serde_json::from_value(role.clone())
            .map_err(|_| invalid("role", "must be `member` or `admin`"))?,
    };
    Ok((email, role))
}

/// A function returning one row: PostgREST sends an array of it.
fn single_row<T: serde::de::DeserializeOwned>(body: &str) -> Result<T, ApiError> {
    let rows: Vec<T> = serde_json::from_str(body)
        .map_err(|error| ApiError::Upstream(format!("RPC answer unparsable: {error}")))?;
    rows.into_iter()
        .next()
        .ok_or_else(|| ApiError::Upstream("RPC returned no row".into()))
}

fn invalid(field: &str, reason: &str) -> ApiError {
    ApiError::InvalidRequest {
        field: field.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(
            EmailAddress::parse("  New.Person@Example.COM ").unwrap(),
            EmailAddress("new.person@example.com".into())
        );
        for bad in ["", "nobody", "a@b", "a b@c.de", "@c.de", "a@.de"] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bodies_default_to_member_and_refuse_owner_and_extra_fields() {
        let (email, role) = parse_body(br#"{"email": "x@y.io"}"#).unwrap();
        assert_eq!((email.0.as_str(), role), ("x@y.io", InviteeRole::Member));
        assert_eq!(
            parse_body(br#"{"email": "x@y.io", "role": "admin"}"#)
                .unwrap()
                .1,
            InviteeRole::Admin
        );
        for bad in [
            &br#"{"email": "x@y.io", "role": "owner"}"#[..],
            br#"{"email": "x@y.io", "token": "t"}"#,
            b"[]",
            b"{}",
        ] {
            assert!(matches!(
                parse_body(bad),
                Err(ApiError::InvalidRequest { .. })
            ));
        }
        let Err(ApiError::InvalidRequest { field, .. }) =
            parse_body(br#"{"email": "x@y.io", "role": "owner"}"#)
        else {
            unreachable!()
        };
        assert_eq!(field, "role");
    }

    #[test]
    fn the_rpc_row_is_read_from_the_array() {
        let row: CreatedInvitation =
            single_row(r#"[{"invitation_id": "i", "token": "t"}]"#).unwrap();
        assert_eq!((row.invitation_id.as_str(), row.token.as_str()), ("i", "t"));
        assert!(single_row::<CreatedInvitation>("[]").is_err());
    }
}
