//! TikTok Login Kit for Web (OAuth v2): the app is named by `client_key` (not `client_id`),
//! sent with `client_secret` in the form body. No PKCE: the web flow has none (TikTok's desktop
//! and mobile flows take a hex-encoded challenge, which a standard one never matches); the
//! single-use state and the confidential secret protect the code. Access tokens live 24 hours,
//! refresh tokens 365 days (a refresh may return a new one). Errors come as `{"error",
//! "error_description", "log_id"}`, sometimes with status 200. Scopes are comma-separated;
//! `username` is a `user.info.profile` field.
//! Docs: https://developers.tiktok.com/doc/login-kit-web,
//! https://developers.tiktok.com/doc/oauth-user-access-token-management,
//! https://developers.tiktok.com/doc/tiktok-api-v2-get-user-info

use crate::infra::outbound::{Call, Method, Reply};
use crate::social::{
    form_call, profile_json, text, Account, Credentials, Platform, PlatformApi, SocialError, Spec,
};

pub struct Tiktok;

pub const AUTHORIZE: &str = "https://www.tiktok.com/v2/auth/authorize/";
pub const TOKEN: &str = "https://open.tiktokapis.com/v2/oauth/token/";
pub const REVOKE: &str = "https://open.tiktokapis.com/v2/oauth/revoke/";
pub const USER_INFO: &str =
    "https://open.tiktokapis.com/v2/user/info/?fields=open_id,union_id,avatar_url,display_name,username";

impl PlatformApi for Tiktok {
    fn spec(&self) -> &'static Spec {
        &super::SPEC
    }

    fn profile_call(&self, access_token: &str, _external_id: &str) -> Call {
        Call::new(Method::Get, USER_INFO, access_token)
    }

    /// `{"data": {"user": {"open_id", "display_name", "username", "avatar_url"}}, "error": {"code": "ok"}}`
    fn parse_profile(&self, reply: &Reply) -> Result<Account, SocialError> {
        let body = profile_json(Platform::Tiktok, reply)?;
        let user = &body["data"]["user"];
        Ok(Account {
            external_id: text(&user["open_id"])
                .ok_or_else(|| SocialError::Rejected("tiktok user info without open_id".into()))?,
            display_name: text(&user["display_name"]),
            handle: text(&user["username"]),
            avatar_url: text(&user["avatar_url"]),
            account_token: None,
        })
    }

    fn revoke_call(
        &self,
        credentials: &Credentials,
        access_token: &str,
        _refresh_token: Option<&str>,
    ) -> Option<Call> {
        Some(form_call(
            REVOKE,
            vec![
                ("client_key", credentials.client_id.clone()),
                (
                    "client_secret",
                    credentials.client_secret.expose().to_owned(),
                ),
                ("token", access_token.to_owned()),
            ],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::social::tests::{credentials, form_value, query_value, reply};
    use crate::social::Grant;
    use serde_json::json;

    #[test]
    fn names_the_app_by_client_key_everywhere_without_pkce() {
        let url = Tiktok.authorize_url(&credentials(), "https://w/cb", "st", "ch");
        assert_eq!(query_value(&url, "client_key").unwrap(), "app-id");
        assert_eq!(query_value(&url, "client_id"), None);
        assert_eq!(
            query_value(&url, "scope").unwrap(),
            "user.info.basic,user.info.profile,video.publish,video.upload"
        );
        assert_eq!(query_value(&url, "code_challenge"), None);
        assert_eq!(query_value(&url, "code_challenge_method"), None);
        let call = Tiktok.token_call(
            &credentials(),
            &Grant::Code {
                code: "c",
                redirect_uri: "https://w/cb",
                verifier: Some("v"),
            },
        );
        assert_eq!(form_value(&call, "client_key"), Some("app-id"));
        assert_eq!(form_value(&call, "client_id"), None);
        assert_eq!(form_value(&call, "code_verifier"), None);
        let revoke = Tiktok.revoke_call(&credentials(), "at", None).unwrap();
        assert_eq!(
            (revoke.url.as_str(), form_value(&revoke, "token")),
            (REVOKE, Some("at"))
        );
    }

    #[test]
    fn reads_tokens_with_open_id_and_the_user() {
        let tokens = Tiktok
            .parse_token(&reply(200, json!({"access_token": "act.1", "expires_in": 86400, "open_id": "o1",
                "refresh_expires_in": 31536000, "refresh_token": "rft.1", "scope": "user.info.basic,video.publish",
                "token_type": "Bearer"})))
            .unwrap();
        assert_eq!(tokens.refresh_expires_in, Some(31_536_000));
        assert_eq!(tokens.scopes.unwrap().len(), 2);
        let account = Tiktok
            .parse_profile(&reply(
                200,
                json!({"data": {"user": {"open_id": "o1", "display_name": "Pix"}},
                "error": {"code": "ok", "message": ""}}),
            ))
            .unwrap();
        assert_eq!(account.external_id, "o1");
    }
}
