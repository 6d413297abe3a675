//! LinkedIn: 3-legged OAuth 2.0 (client id and secret in the form body) for member posting
//! (`w_member_social`) with OpenID Connect sign-in scopes, so the member is read from the
//! OpenID `userinfo` endpoint (`sub` is the member id used as the author URN). Access tokens
//! live 60 days; refresh tokens (365 days) are issued only to approved partner apps, so a
//! connection refreshes only when LinkedIn gave it a refresh token. LinkedIn documents no
//! endpoint to revoke a member's token: disconnecting forgets the tokens, and members revoke
//! the app in their LinkedIn settings.
//! Docs: https://learn.microsoft.com/linkedin/shared/authentication/authorization-code-flow

use super::{
    profile_json, text, Account, Call, ClientAuth, Credentials, Method, Platform, PlatformApi,
    Reply, SocialError, Spec,
};

pub struct Linkedin;

pub const AUTHORIZE: &str = "https://www.linkedin.com/oauth/v2/authorization";
pub const TOKEN: &str = "https://www.linkedin.com/oauth/v2/accessToken";
pub const USERINFO: &str = "https://api.linkedin.com/v2/userinfo";

pub const SPEC: Spec = Spec {
    platform: Platform::Linkedin,
    authorize_endpoint: AUTHORIZE,
    token_endpoint: TOKEN,
    scopes: &["openid", "profile", "email", "w_member_social"],
    scope_separator: " ",
    uses_pkce: false,
    client_id_param: "client_id",
    client_auth: ClientAuth::Body,
    extra_authorize_params: &[],
    supports_refresh: true,
    default_access_lifetime: Some(60 * 24 * 3600),
    credential_names: ("LINKEDIN_CLIENT_ID", "LINKEDIN_CLIENT_SECRET"),
};

impl PlatformApi for Linkedin {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    fn profile_call(&self, access_token: &str, _external_id: &str) -> Call {
        Call::new(Method::Get, USERINFO, access_token)
    }

    /// OpenID userinfo: `{"sub", "name", "picture", "email", …}`.
    fn parse_profile(&self, reply: &Reply) -> Result<Account, SocialError> {
        let body = profile_json(Platform::Linkedin, reply)?;
        Ok(Account {
            external_id: text(&body["sub"])
                .ok_or_else(|| SocialError::Rejected("linkedin userinfo without sub".into()))?,
            display_name: text(&body["name"]),
            handle: text(&body["email"]),
            avatar_url: text(&body["picture"]),
            account_token: None,
        })
    }

    fn revoke_call(&self, _: &Credentials, _: &str, _: Option<&str>) -> Option<Call> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::social::tests::{credentials, form_value, query_value, reply};
    use crate::social::Grant;
    use serde_json::json;

    #[test]
    fn asks_for_member_posting_and_sends_the_secret_in_the_body() {
        let url = Linkedin.authorize_url(&credentials(), "https://w/cb", "st", "ch");
        assert_eq!(
            query_value(&url, "scope").unwrap(),
            "openid profile email w_member_social"
        );
        assert_eq!(query_value(&url, "code_challenge"), None);
        let call = Linkedin.token_call(
            &credentials(),
            &Grant::Code {
                code: "c",
                redirect_uri: "https://w/cb",
                verifier: Some("v"),
            },
        );
        assert_eq!(form_value(&call, "client_id"), Some("app-id"));
        assert_eq!(form_value(&call, "client_secret"), Some("app-secret"));
        assert_eq!(form_value(&call, "code_verifier"), None);
        assert!(Linkedin.revoke_call(&credentials(), "at", None).is_none());
    }

    #[test]
    fn reads_the_member_from_userinfo() {
        let account = Linkedin
            .parse_profile(&reply(
                200,
                json!({"sub": "782bbtaQ", "name": "Ada L", "picture": "https://media/p.jpg", "email": "ada@x.io"}),
            ))
            .unwrap();
        assert_eq!(account.external_id, "782bbtaQ");
        assert_eq!(account.display_name.as_deref(), Some("Ada L"));
    }
}
