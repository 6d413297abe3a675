//! `POST /v1/teams/{team_id}/invitations` `{email, role?, redirectTo?}`: invites an email
//! address to a team.
//!
//! The invitation row is created by the `create_team_invitation` RPC with the caller's own token,
//! so the database decides who may invite (owner/admin), refuses what cannot lead anywhere (a
//! member's address, a full team, an invitation already pending: 409 before any email) and
//! counts the invitation against the inviter's and the team's rate limits (they bound the e-mail
//! one account can cause). Then Supabase Auth emails the address (`teams::email`): an invite to
//! a new address, a sign-in link to an existing account, both landing on `redirectTo` in the
//! app. The inviter gets the same answer either way, so the endpoint does not tell which
//! addresses have accounts.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::http::cx::Cx;
use crate::http::extract::invalid;
use crate::http::redirect::RedirectAllowlist;
use crate::http::Response;
use crate::ids::Team;
use crate::infra::supabase::{self, UpstreamError};
use crate::teams::email::{self, InvitationEmail};

/// `POST /v1/teams/{team_id}/invitations`' body as sent; no other fields.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InvitationBody {
    email: EmailAddress,
    /// `member` when not given.
    role: Option<InviteeRole>,
    /// Any value: one that is not an allowed app address, text or not, is refused alike.
    redirect_to: Option<Value>,
}

/// The invitee, parsed once: a plausible, normalized address.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(try_from = "Value")]
struct EmailAddress(String);

const EMAIL_RULE: &str = "must be an email address";

impl TryFrom<Value> for EmailAddress {
    type Error = &'static str;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        value.as_str().map_or(Err(EMAIL_RULE), Self::parse)
    }
}

impl EmailAddress {
    fn parse(raw: &str) -> Result<Self, &'static str> {
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
            return Err(EMAIL_RULE);
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
    let (config, caller, ..) = cx.parts();
    let team_id = cx
        .id::<Team>("team_id")
        .ok_or_else(|| invalid("team_id", "must be a UUID"))?;
    let InvitationRequest {
        email,
        role,
        redirect_to,
    } = InvitationRequest::checked(cx.body()?, &config.invitation_redirects)?;

    let params = json!({ "team_id": team_id, "email": email.0, "role": role });
    let call = supabase::user_client(config, &caller.token)
        .rpc("create_team_invitation", params.to_string());
    let body = supabase::send(call).await.map_err(refusal)?;
    let invitation = single_row::<CreatedInvitation>(&body)?;

    let sent = InvitationEmail {
        email: &email.0,
        team_id: team_id.as_str(),
        token: &invitation.token,
        redirect_to: redirect_to.as_deref(),
    };
    if let Err(cause) = email::send(config, &sent).await {
        // Not emailed and not to be retried into a duplicate: withdraw the invitation.
        let revoke = json!({ "invitation_id": invitation.invitation_id });
        let call = supabase::user_client(config, &caller.token)
            .rpc("revoke_team_invitation", revoke.to_string());
        supabase::send(call).await?;
        return Err(ApiError::AuthServiceUnavailable(cause));
    }
    let response = InvitationResponse {
        invitation_id: invitation.invitation_id,
    };
    Ok(Response::json(201, &response))
}

/// The database's refusals of an invitation that cannot lead anywhere: PostgREST's `PT409` with
/// the stable code in `details`.
const CONFLICTS: [&str; 3] = ["already_member", "team_full", "invitation_pending"];

fn refusal(error: UpstreamError) -> ApiError {
    if let UpstreamError::Status {
        database: Some(database),
        ..
    } = &error
    {
        let conflict = CONFLICTS
            .into_iter()
            .find(|code| database.code == "PT409" && database.details.as_deref() == Some(code));
        if let Some(code) = conflict {
            return ApiError::Rejected {
                status: 409,
                code,
                message: format!("{}.", capitalized(&database.message)),
            };
        }
    }
    error.into()
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The invitation asked for: `role` defaulted, `redirectTo` normalized if the allow-list has it.
#[derive(Debug)]
struct InvitationRequest {
    email: EmailAddress,
    role: InviteeRole,
    redirect_to: Option<String>,
}

impl InvitationRequest {
    fn checked(body: InvitationBody, redirects: &RedirectAllowlist) -> Result<Self, ApiError> {
        let not_allowed = || ApiError::Rejected {
            status: 400,
            code: "redirect_not_allowed",
            message: "`redirectTo` is not an app address this deployment allows \
                      (INVITATION_REDIRECT_ALLOWLIST)."
                .into(),
        };
        let redirect_to = body
            .redirect_to
            .map(|target| {
                target
                    .as_str()
                    .and_then(|target| redirects.check(target))
                    .ok_or_else(not_allowed)
            })
            .transpose()?;
        Ok(Self {
            email: body.email,
            role: body.role.unwrap_or(InviteeRole::Member),
            redirect_to,
        })
    }
}

/// A function returning one row: PostgREST sends an array of it.
fn single_row<T: serde::de::DeserializeOwned>(body: &str) -> Result<T, ApiError> {
    let rows: Vec<T> = serde_json::from_str(body)
        .map_err(|error| ApiError::Upstream(format!("RPC answer unparsable: {error}")))?;
    rows.into_iter()
        .next()
        .ok_or_else(|| ApiError::Upstream("RPC returned no row".into()))
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

    fn parse(body: &[u8]) -> Result<InvitationRequest, ApiError> {
        let apps =
            RedirectAllowlist::parse("https://app.pixa.example/join, pixa://invitations").unwrap();
        InvitationRequest::checked(crate::http::extract::decode(body)?, &apps)
    }

    #[test]
    fn bodies_default_to_member_and_refuse_owner_and_extra_fields() {
        let request = parse(br#"{"email": "x@y.io"}"#).unwrap();
        assert_eq!(
            (request.email.0.as_str(), request.role, request.redirect_to),
            ("x@y.io", InviteeRole::Member, None)
        );
        assert_eq!(
            parse(br#"{"email": "x@y.io", "role": "admin"}"#)
                .unwrap()
                .role,
            InviteeRole::Admin
        );
        for bad in [
            &br#"{"email": "x@y.io", "role": "owner"}"#[..],
            br#"{"email": "x@y.io", "token": "t"}"#,
            b"[]",
            b"{}",
        ] {
            assert!(matches!(parse(bad), Err(ApiError::InvalidRequest { .. })));
        }
        let Err(ApiError::InvalidRequest { field, .. }) =
            parse(br#"{"email": "x@y.io", "role": "owner"}"#)
        else {
            unreachable!()
        };
        assert_eq!(field, "role");
    }

    #[test]
    fn the_landing_page_must_be_an_allowed_app_address() {
        let landing = |target: &str| {
            parse(
                json!({"email": "x@y.io", "redirectTo": target})
                    .to_string()
                    .as_bytes(),
            )
            .map(|request| request.redirect_to.unwrap())
        };
        assert_eq!(
            landing("pixa://invitations/open?team=1").unwrap(),
            "pixa://invitations/open?team=1"
        );
        assert_eq!(
            landing("https://APP.pixa.example/join").unwrap(),
            "https://app.pixa.example/join"
        );
        for refused in [
            "https://evil.example/join",
            "https://app.pixa.example@evil.example/join",
            "//evil.example/join",
            "Pixa://invitations",
            "javascript:alert(1)",
        ] {
            let Err(error) = landing(refused) else {
                panic!("{refused} was allowed")
            };
            assert_eq!(
                (error.status(), error.code()),
                (400, "redirect_not_allowed")
            );
        }
        let not_text = parse(br#"{"email": "x@y.io", "redirectTo": 1}"#).unwrap_err();
        assert_eq!(not_text.code(), "redirect_not_allowed");
    }

    #[test]
    fn the_databases_conflicts_keep_their_codes_and_other_refusals_map_as_usual() {
        let refused = |code: &str, details: Option<&str>| {
            refusal(UpstreamError::Status {
                status: 409,
                body: String::new(),
                database: Some(supabase::DatabaseError {
                    code: code.into(),
                    message: "this team is full (at most 3 members)".into(),
                    hint: None,
                    details: details.map(Into::into),
                }),
            })
        };
        for code in CONFLICTS {
            let error = refused("PT409", Some(code));
            assert_eq!((error.status(), error.code()), (409, code));
        }
        assert_eq!(
            refused("PT409", Some("team_full")).message(),
            "This team is full (at most 3 members)."
        );
        assert_eq!(refused("PT409", Some("other")).code(), "upstream_error");
        assert_eq!(refused("42501", Some("team_full")).code(), "forbidden");
    }

    #[test]
    fn the_rpc_row_is_read_from_the_array() {
        let row: CreatedInvitation =
            single_row(r#"[{"invitation_id": "i", "token": "t"}]"#).unwrap();
        assert_eq!((row.invitation_id.as_str(), row.token.as_str()), ("i", "t"));
        assert!(single_row::<CreatedInvitation>("[]").is_err());
    }
}
