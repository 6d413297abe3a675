//! Facebook Pages through the Graph API. The code is exchanged for a short-lived user token,
//! which is exchanged for a long-lived one (`grant_type=fb_exchange_token`, about 60 days);
//! the Page's own token comes from `/me/accounts` and, derived from a long-lived user token,
//! does not expire. The connection acts with the Page token; the user token is kept beside it
//! (in the refresh-token slot) only to revoke the app with `DELETE /me/permissions`. There is
//! no refresh grant: when Facebook refuses the Page token, the team connects again. The first
//! Page the user granted is connected. Graph errors: `{"error": {"message", "type", "code"}}`
//! (code 190: the token is invalid).
//! Docs: https://developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived

use super::{
    form_call, profile_json, text, Account, Call, ClientAuth, Credentials, Method, Platform,
    PlatformApi, Reply, SocialError, Spec, TokenSet,
};

pub struct Facebook;

pub const GRAPH: &str = "https://graph.facebook.com/v23.0";
pub const AUTHORIZE: &str = "https://www.facebook.com/v23.0/dialog/oauth";
pub const TOKEN: &str = "https://graph.facebook.com/v23.0/oauth/access_token";

/// The long-lived user token exchange (shared with Instagram).
pub(super) fn long_lived_exchange(credentials: &Credentials, tokens: &TokenSet) -> Call {
    form_call(
        TOKEN,
        vec![
            ("grant_type", "fb_exchange_token".to_owned()),
            ("client_id", credentials.client_id.clone()),
            (
                "client_secret",
                credentials.client_secret.expose().to_owned(),
            ),
            ("fb_exchange_token", tokens.access_token.clone()),
        ],
    )
}

/// `DELETE /me/permissions` with the user's token: removes the app's every permission.
pub(super) fn delete_permissions(user_token: &str) -> Call {
    Call::new(
        Method::Delete,
        format!("{GRAPH}/me/permissions"),
        user_token,
    )
}

pub const SPEC: Spec = Spec {
    platform: Platform::Facebook,
    authorize_endpoint: AUTHORIZE,
    token_endpoint: TOKEN,
    scopes: &[
        "pages_show_list",
        "pages_manage_posts",
        "pages_read_engagement",
    ],
    scope_separator: ",",
    uses_pkce: false,
    client_id_param: "client_id",
    client_auth: ClientAuth::Body,
    extra_authorize_params: &[],
    supports_refresh: false,
    default_access_lifetime: None,
    credential_names: ("FACEBOOK_APP_ID", "FACEBOOK_APP_SECRET"),
};

impl PlatformApi for Facebook {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    fn token_followup(&self, credentials: &Credentials, tokens: &TokenSet) -> Option<Call> {
        Some(long_lived_exchange(credentials, tokens))
    }

    fn discovery_call(&self, access_token: &str) -> Call {
        Call::new(
            Method::Get,
            format!("{GRAPH}/me/accounts?fields=id,name,access_token,picture%7Burl%7D"),
            access_token,
        )
    }

    /// `{"data": [{"id", "name", "access_token", "picture": {"data": {"url"}}}, …]}`
    fn parse_discovery(&self, reply: &Reply) -> Result<Account, SocialError> {
        let body = profile_json(Platform::Facebook, reply)?;
        let page = &body["data"][0];
        let (Some(id), Some(token)) = (text(&page["id"]), text(&page["access_token"])) else {
            return Err(SocialError::NoAccount("no Facebook Page granted".into()));
        };
        Ok(Account {
            external_id: id,
            display_name: text(&page["name"]),
            handle: None,
            avatar_url: text(&page["picture"]["data"]["url"]),
            account_token: Some(token),
        })
    }

    fn profile_call(&self, access_token: &str, external_id: &str) -> Call {
        Call::new(
            Method::Get,
            format!("{GRAPH}/{external_id}?fields=id,name,picture%7Burl%7D"),
            access_token,
        )
    }

    fn parse_profile(&self, reply: &Reply) -> Result<Account, SocialError> {
        let body = profile_json(Platform::Facebook, reply)?;
        Ok(Account {
            external_id: text(&body["id"])
                .ok_or_else(|| SocialError::Rejected("facebook page without id".into()))?,
            display_name: text(&body["name"]),
            handle: None,
            avatar_url: text(&body["picture"]["data"]["url"]),
            account_token: None,
        })
    }

    fn revoke_call(
        &self,
        _credentials: &Credentials,
        access_token: &str,
        user_token: Option<&str>,
    ) -> Option<Call> {
        Some(delete_permissions(user_token.unwrap_or(access_token)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::social::tests::{credentials, form_value, reply};
    use serde_json::json;

    #[test]
    fn exchanges_for_a_long_lived_token_and_connects_the_first_page() {
        let tokens = TokenSet {
            access_token: "short".into(),
            refresh_token: None,
            expires_in: Some(3600),
            refresh_expires_in: None,
            scopes: None,
        };
        let call = Facebook.token_followup(&credentials(), &tokens).unwrap();
        assert_eq!(form_value(&call, "grant_type"), Some("fb_exchange_token"));
        assert_eq!(form_value(&call, "fb_exchange_token"), Some("short"));
        let page = Facebook
            .parse_discovery(&reply(
                200,
                json!({"data": [{"id": "101", "name": "Pixa Page",
                "access_token": "page-token"}]}),
            ))
            .unwrap();
        assert_eq!(page.external_id, "101");
        assert_eq!(page.account_token.as_deref(), Some("page-token"));
        assert!(matches!(
            Facebook.parse_discovery(&reply(200, json!({"data": []}))),
            Err(SocialError::NoAccount(_))
        ));
    }

    #[test]
    fn revokes_with_the_user_token() {
        let call = Facebook
            .revoke_call(&credentials(), "page-token", Some("user-token"))
            .unwrap();
        assert_eq!(call.method, Method::Delete);
        assert_eq!(call.url, format!("{GRAPH}/me/permissions"));
        assert_eq!(call.headers[0].1, "Bearer user-token");
        assert!(matches!(
            Facebook.parse_profile(&reply(
                400,
                json!({"error": {"message": "Error validating access token",
                "type": "OAuthException", "code": 190}})
            )),
            Err(SocialError::InvalidGrant(_))
        ));
    }
}
