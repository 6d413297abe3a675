//! YouTube through Google's OAuth 2.0 for web server apps, with PKCE: `access_type=offline` and
//! `prompt=consent` so Google returns a refresh token every time the user connects. Access
//! tokens live an hour; refresh tokens do not rotate (a refresh answer has no new one). The
//! channel is read from `youtube/v3/channels?part=snippet&mine=true`. Revocation:
//! `POST https://oauth2.googleapis.com/revoke`.
//! Docs: https://developers.google.com/identity/protocols/oauth2/web-server

use super::{
    form_call, profile_json, text, Account, Call, ClientAuth, Credentials, Method, Platform,
    PlatformApi, Reply, SocialError, Spec,
};

pub struct Youtube;

pub const AUTHORIZE: &str = "https://accounts.google.com/o/oauth2/v2/auth";
pub const TOKEN: &str = "https://oauth2.googleapis.com/token";
pub const REVOKE: &str = "https://oauth2.googleapis.com/revoke";
pub const CHANNELS: &str = "https://www.googleapis.com/youtube/v3/channels?part=snippet&mine=true";

pub const SPEC: Spec = Spec {
    platform: Platform::Youtube,
    authorize_endpoint: AUTHORIZE,
    token_endpoint: TOKEN,
    scopes: &[
        "https://www.googleapis.com/auth/youtube.upload",
        "https://www.googleapis.com/auth/youtube.readonly",
    ],
    scope_separator: " ",
    uses_pkce: true,
    client_id_param: "client_id",
    client_auth: ClientAuth::Body,
    extra_authorize_params: &[
        ("access_type", "offline"),
        ("prompt", "consent"),
        ("include_granted_scopes", "true"),
    ],
    supports_refresh: true,
    default_access_lifetime: Some(3600),
    credential_names: ("GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET"),
};

impl PlatformApi for Youtube {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    fn profile_call(&self, access_token: &str, _external_id: &str) -> Call {
        Call::new(Method::Get, CHANNELS, access_token)
    }

    /// `{"items": [{"id", "snippet": {"title", "customUrl", "thumbnails": {"default": {"url"}}}}]}`
    fn parse_profile(&self, reply: &Reply) -> Result<Account, SocialError> {
        let body = profile_json(Platform::Youtube, reply)?;
        let channel = &body["items"][0];
        let Some(id) = text(&channel["id"]) else {
            return Err(SocialError::NoAccount("no YouTube channel".into()));
        };
        let snippet = &channel["snippet"];
        Ok(Account {
            external_id: id,
            display_name: text(&snippet["title"]),
            handle: text(&snippet["customUrl"]),
            avatar_url: text(&snippet["thumbnails"]["default"]["url"]),
            account_token: None,
        })
    }

    /// Revoking the refresh token revokes the grant (and its access tokens).
    fn revoke_call(
        &self,
        _credentials: &Credentials,
        access_token: &str,
        refresh_token: Option<&str>,
    ) -> Option<Call> {
        let token = refresh_token.unwrap_or(access_token);
        Some(form_call(REVOKE, vec![("token", token.to_owned())]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::social::tests::{credentials, form_value, query_value, reply};
    use serde_json::json;

    #[test]
    fn asks_for_offline_access_with_consent_and_pkce() {
        let url = Youtube.authorize_url(&credentials(), "https://w/cb", "st", "ch");
        for (name, value) in [
            ("access_type", "offline"),
            ("prompt", "consent"),
            ("code_challenge_method", "S256"),
        ] {
            assert_eq!(query_value(&url, name).unwrap(), value);
        }
        assert!(query_value(&url, "scope")
            .unwrap()
            .contains("youtube.upload"));
        let revoke = Youtube
            .revoke_call(&credentials(), "at", Some("rt"))
            .unwrap();
        assert_eq!(
            (revoke.url.as_str(), form_value(&revoke, "token")),
            (REVOKE, Some("rt"))
        );
    }

    #[test]
    fn reads_the_channel_or_reports_none() {
        let account = Youtube
            .parse_profile(&reply(
                200,
                json!({"items": [{"id": "UC1", "snippet": {"title": "Pixa",
                "customUrl": "@pixa", "thumbnails": {"default": {"url": "https://yt/t.jpg"}}}}]}),
            ))
            .unwrap();
        assert_eq!(
            (account.external_id.as_str(), account.handle.as_deref()),
            ("UC1", Some("@pixa"))
        );
        assert!(matches!(
            Youtube.parse_profile(&reply(200, json!({"items": []}))),
            Err(SocialError::NoAccount(_))
        ));
    }
}
