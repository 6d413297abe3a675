//! Pinterest API v5 OAuth: authorization code with HTTP Basic client authentication, scopes for
//! boards and pins. Access tokens live 30 days, refresh tokens 365 days. Pinterest documents no
//! token revocation endpoint for apps: disconnecting forgets the tokens, and users remove the
//! app under their Pinterest security settings.
//! Docs: https://developers.pinterest.com/docs/getting-started/authentication-and-scopes/

use super::{
    classify_error, parse_standard_token, profile_json, text, Account, Call, ClientAuth,
    Credentials, Method, Platform, PlatformApi, Reply, SocialError, Spec, TokenSet,
};

pub struct Pinterest;

pub const AUTHORIZE: &str = "https://www.pinterest.com/oauth/";
pub const TOKEN: &str = "https://api.pinterest.com/v5/oauth/token";
pub const USER_ACCOUNT: &str = "https://api.pinterest.com/v5/user_account";

pub const SPEC: Spec = Spec {
    platform: Platform::Pinterest,
    authorize_endpoint: AUTHORIZE,
    token_endpoint: TOKEN,
    scopes: &[
        "boards:read",
        "boards:write",
        "pins:read",
        "pins:write",
        "user_accounts:read",
    ],
    scope_separator: ",",
    uses_pkce: false,
    client_id_param: "client_id",
    client_auth: ClientAuth::Basic,
    extra_authorize_params: &[],
    supports_refresh: true,
    default_access_lifetime: Some(30 * 24 * 3600),
    credential_names: ("PINTEREST_APP_ID", "PINTEREST_APP_SECRET"),
};

impl PlatformApi for Pinterest {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    /// Pinterest's token errors are `{"code": <number>, "message"}`: a refused grant is a 400
    /// (or 401) from the token endpoint.
    fn parse_token(&self, reply: &Reply) -> Result<TokenSet, SocialError> {
        match parse_standard_token(Platform::Pinterest, reply) {
            Err(SocialError::Rejected(cause) | SocialError::Unauthorized(cause))
                if matches!(reply.status, 400 | 401) =>
            {
                Err(SocialError::InvalidGrant(cause))
            }
            other => other,
        }
    }

    fn profile_call(&self, access_token: &str, _external_id: &str) -> Call {
        Call::new(Method::Get, USER_ACCOUNT, access_token)
    }

    /// `{"id", "username", "profile_image", "account_type", …}`
    fn parse_profile(&self, reply: &Reply) -> Result<Account, SocialError> {
        let body = profile_json(Platform::Pinterest, reply)?;
        let username = text(&body["username"]);
        Ok(Account {
            external_id: text(&body["id"])
                .or_else(|| username.clone())
                .ok_or_else(|| classify_error(Platform::Pinterest, reply))?,
            display_name: text(&body["business_name"]).or_else(|| username.clone()),
            handle: username,
            avatar_url: text(&body["profile_image"]),
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
    use crate::social::tests::{credentials, query_value, reply};
    use serde_json::json;

    #[test]
    fn comma_separated_scopes_basic_auth_and_refused_grants() {
        let url = Pinterest.authorize_url(&credentials(), "https://w/cb", "st", "ch");
        assert!(url.starts_with("https://www.pinterest.com/oauth/?"));
        assert!(query_value(&url, "scope")
            .unwrap()
            .starts_with("boards:read,boards:write"));
        let call = Pinterest.token_call(
            &credentials(),
            &crate::social::Grant::Refresh { refresh_token: "r" },
        );
        assert!(call.headers[0].1.starts_with("Basic "));
        assert!(matches!(
            Pinterest.parse_token(&reply(
                400,
                json!({"code": 1, "message": "Invalid refresh token"})
            )),
            Err(SocialError::InvalidGrant(_))
        ));
        let account = Pinterest
            .parse_profile(&reply(
                200,
                json!({"id": "549755885175", "username": "pixa"}),
            ))
            .unwrap();
        assert_eq!(
            (account.external_id.as_str(), account.handle.as_deref()),
            ("549755885175", Some("pixa"))
        );
    }
}
