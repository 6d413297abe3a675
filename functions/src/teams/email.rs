//! The email an invitation sends, through Supabase Auth's API with the service role key.
//!
//! An address without an account gets Auth's invite email (`POST /invite`): its link signs the
//! new account in, with the invitation token in its user metadata. For an address whose account
//! is confirmed Auth answers 422 `email_exists`; its owner gets a sign-in link instead (`POST
//! /otp` with `create_user: false`: Auth's magic-link email). Both links land on `redirect_to`
//! (checked against `INVITATION_REDIRECT_ALLOWLIST` by the caller; Auth also requires it in its
//! own redirect URLs), where the app lists what waits with `my_team_invitations`. An account
//! Auth emailed within its per-address interval (`max_frequency`, e.g. invited to two teams in
//! a minute) is not emailed again: the link it already has leads to the same list.

use serde::Deserialize;
use serde_json::json;

use crate::config::Config;
use crate::infra::outbound::{self, Call, Destination, Limits, Method, Reply};
use crate::infra::supabase::service_role_headers;

/// The service role's headers, as `service_role_headers` makes them.
type Credentials = [(&'static str, String)];

/// What to send: the invitation token rides along for a new account only.
pub struct InvitationEmail<'a> {
    pub email: &'a str,
    pub team_id: &'a str,
    pub token: &'a str,
    pub redirect_to: Option<&'a str>,
}

/// Sends the invite, or the sign-in link when the address has an account. The error is Auth's
/// answer (or why none came), for the log.
pub async fn send(config: &Config, invitation: &InvitationEmail<'_>) -> Result<(), String> {
    let auth_url = config.supabase_url.auth_url();
    let credentials = service_role_headers(config);
    let reply = exchange(&invite_call(&auth_url, &credentials, invitation)).await?;
    if reply.succeeded() {
        return Ok(());
    }
    if auth_error_code(&reply, 422) != Some("email_exists".into()) {
        return Err(refusal("invite", &reply));
    }
    let reply = exchange(&sign_in_link_call(&auth_url, &credentials, invitation)).await?;
    if reply.succeeded()
        || auth_error_code(&reply, 429) == Some("over_email_send_rate_limit".into())
    {
        Ok(())
    } else {
        Err(refusal("otp", &reply))
    }
}

async fn exchange(call: &Call) -> Result<Reply, String> {
    let to = Destination::platform(None, Limits::DEFAULT);
    outbound::exchange(call, &to)
        .await
        .map_err(|failure| format!("Auth unreachable: {failure}"))
}

fn refusal(endpoint: &str, reply: &Reply) -> String {
    format!(
        "Auth /{endpoint} answered {}: {}",
        reply.status,
        reply.body_excerpt()
    )
}

/// `POST /invite?redirect_to=…` `{email, data}`: GoTrue's admin invite.
fn invite_call(
    auth_url: &str,
    credentials: &Credentials,
    invitation: &InvitationEmail<'_>,
) -> Call {
    let metadata =
        json!({ "team_invitation_token": invitation.token, "team_id": invitation.team_id });
    auth_call(auth_url, "invite", credentials, invitation.redirect_to)
        .json(json!({ "email": invitation.email, "data": metadata }))
}

/// `POST /otp?redirect_to=…` `{email, create_user: false}`: a magic link to an existing account.
fn sign_in_link_call(
    auth_url: &str,
    credentials: &Credentials,
    invitation: &InvitationEmail<'_>,
) -> Call {
    auth_call(auth_url, "otp", credentials, invitation.redirect_to)
        .json(json!({ "email": invitation.email, "create_user": false }))
}

fn auth_call(
    auth_url: &str,
    endpoint: &str,
    credentials: &Credentials,
    redirect_to: Option<&str>,
) -> Call {
    let mut url = format!("{auth_url}/{endpoint}");
    if let Some(redirect_to) = redirect_to {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("redirect_to", redirect_to)
            .finish();
        url = format!("{url}?{query}");
    }
    credentials.iter().fold(
        Call::unauthenticated(Method::Post, url),
        |call, (name, value)| call.header(name, value.clone()),
    )
}

/// GoTrue's `error_code` when it answered `status`: `email_exists` (422) refuses to invite an
/// address whose account is confirmed, `over_email_send_rate_limit` (429) to email it again
/// this soon.
fn auth_error_code(reply: &Reply, status: u16) -> Option<String> {
    #[derive(Deserialize)]
    struct AuthRefusal {
        error_code: String,
    }
    (reply.status == status)
        .then(|| serde_json::from_slice::<AuthRefusal>(&reply.body).ok())
        .flatten()
        .map(|refusal| refusal.error_code)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTH: &str = "https://project.supabase.co/auth/v1";

    fn invitation(redirect_to: Option<&str>) -> InvitationEmail<'_> {
        InvitationEmail {
            email: "new@example.com",
            team_id: "team-1",
            token: "t0ken",
            redirect_to,
        }
    }

    #[test]
    fn the_invite_carries_the_token_in_metadata_and_the_landing_page() {
        let credentials = [("apikey", "sb_secret_x".to_owned())];
        let call = invite_call(
            AUTH,
            &credentials,
            &invitation(Some("pixa://invitations?x=1")),
        );
        assert_eq!(
            call.url,
            format!("{AUTH}/invite?redirect_to=pixa%3A%2F%2Finvitations%3Fx%3D1")
        );
        assert_eq!(
            call.json_body(),
            &json!({"email": "new@example.com",
                    "data": {"team_invitation_token": "t0ken", "team_id": "team-1"}})
        );
        assert_eq!(call.headers, credentials);
    }

    #[test]
    fn an_existing_account_gets_a_sign_in_link_that_creates_nobody_and_not_the_token() {
        let credentials = [("apikey", "sb_secret_x".to_owned())];
        let call = sign_in_link_call(AUTH, &credentials, &invitation(None));
        assert_eq!(call.url, format!("{AUTH}/otp"));
        assert_eq!(
            call.json_body(),
            &json!({"email": "new@example.com", "create_user": false})
        );
    }

    #[test]
    fn gotrues_error_code_is_read_only_with_the_status_it_goes_with() {
        let exists = r#"{"code":422,"error_code":"email_exists","msg":"A user with this email address has already been registered"}"#;
        assert_eq!(
            auth_error_code(&Reply::new(422, exists), 422).as_deref(),
            Some("email_exists")
        );
        assert_eq!(auth_error_code(&Reply::new(500, exists), 422), None);
        assert_eq!(auth_error_code(&Reply::new(422, "<html>"), 422), None);
        let too_soon = r#"{"code":429,"error_code":"over_email_send_rate_limit","msg":"For security purposes, you can only request this after 59 seconds."}"#;
        assert_eq!(
            auth_error_code(&Reply::new(429, too_soon), 429).as_deref(),
            Some("over_email_send_rate_limit")
        );
    }
}
