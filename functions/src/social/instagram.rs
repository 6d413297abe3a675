//! Instagram professional (business or creator) accounts through the Facebook Graph API, with
//! the Facebook app's credentials: Facebook Login, the long-lived user token exchange (about 60
//! days, no refresh grant: the team connects again when it expires), and the Instagram account
//! discovered from the user's Pages (`/me/accounts?fields=instagram_business_account`). The
//! first Page with a linked Instagram account is connected. Revocation: `DELETE /me/permissions`.
//! Docs: https://developers.facebook.com/docs/instagram-platform/instagram-api-with-facebook-login

use super::facebook::{delete_permissions, long_lived_exchange, AUTHORIZE, GRAPH, TOKEN};
use super::{
    profile_json, text, Account, Call, ClientAuth, Credentials, Method, Platform, PlatformApi,
    Reply, SocialError, Spec, TokenSet,
};

pub struct Instagram;

pub const SPEC: Spec = Spec {
    platform: Platform::Instagram,
    authorize_endpoint: AUTHORIZE,
    token_endpoint: TOKEN,
    scopes: &[
        "instagram_basic",
        "instagram_content_publish",
        "pages_show_list",
        "pages_read_engagement",
        "business_management",
    ],
    scope_separator: ",",
    uses_pkce: false,
    client_id_param: "client_id",
    client_auth: ClientAuth::Body,
    extra_authorize_params: &[],
    supports_refresh: false,
    default_access_lifetime: Some(60 * 24 * 3600),
    credential_names: ("FACEBOOK_APP_ID", "FACEBOOK_APP_SECRET"),
};

impl PlatformApi for Instagram {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    fn token_followup(&self, credentials: &Credentials, tokens: &TokenSet) -> Option<Call> {
        Some(long_lived_exchange(credentials, tokens))
    }

    fn discovery_call(&self, access_token: &str) -> Call {
        Call::new(Method::Get,
            format!(
                "{GRAPH}/me/accounts?fields=id,name,instagram_business_account%7Bid,username,name,profile_picture_url%7D"
            ),
            access_token,
        )
    }

    /// The first Page whose `instagram_business_account` is set.
    fn parse_discovery(&self, reply: &Reply) -> Result<Account, SocialError> {
        let body = profile_json(Platform::Instagram, reply)?;
        let pages = body["data"].as_array().cloned().unwrap_or_default();
        pages
            .iter()
            .find_map(|page| account(&page["instagram_business_account"]))
            .ok_or_else(|| {
                SocialError::NoAccount("no Instagram professional account on the Pages".into())
            })
    }

    fn profile_call(&self, access_token: &str, external_id: &str) -> Call {
        Call::new(
            Method::Get,
            format!("{GRAPH}/{external_id}?fields=id,username,name,profile_picture_url"),
            access_token,
        )
    }

    fn parse_profile(&self, reply: &Reply) -> Result<Account, SocialError> {
        let body = profile_json(Platform::Instagram, reply)?;
        account(&body).ok_or_else(|| SocialError::Rejected("instagram account without id".into()))
    }

    fn revoke_call(
        &self,
        _credentials: &Credentials,
        access_token: &str,
        _refresh_token: Option<&str>,
    ) -> Option<Call> {
        Some(delete_permissions(access_token))
    }
}

fn account(ig: &serde_json::Value) -> Option<Account> {
    Some(Account {
        external_id: text(&ig["id"])?,
        display_name: text(&ig["name"]).or_else(|| text(&ig["username"])),
        handle: text(&ig["username"]),
        avatar_url: text(&ig["profile_picture_url"]),
        account_token: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::social::tests::{credentials, query_value, reply};
    use serde_json::json;

    #[test]
    fn uses_the_facebook_app_and_finds_the_business_account_on_a_page() {
        let url = Instagram.authorize_url(&credentials(), "https://w/cb", "st", "ch");
        assert!(url.starts_with(AUTHORIZE));
        assert!(query_value(&url, "scope")
            .unwrap()
            .contains("instagram_content_publish"));
        let call = Instagram.discovery_call("user-token");
        assert!(call
            .url
            .contains("fields=id,name,instagram_business_account"));
        let account = Instagram
            .parse_discovery(&reply(200, json!({"data": [
                {"id": "1", "name": "No IG"},
                {"id": "2", "name": "Shop", "instagram_business_account": {"id": "1784", "username": "pixa.shop"}}
            ]})))
            .unwrap();
        assert_eq!(
            (account.external_id.as_str(), account.handle.as_deref()),
            ("1784", Some("pixa.shop"))
        );
        assert!(matches!(
            Instagram.parse_discovery(&reply(200, json!({"data": [{"id": "1"}]}))),
            Err(SocialError::NoAccount(_))
        ));
        assert!(Instagram
            .profile_call("t", "1784")
            .url
            .starts_with(&format!("{GRAPH}/1784?fields=")));
    }
}
