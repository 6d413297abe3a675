//! X (Twitter) OAuth 2.0 Authorization Code with PKCE, as a confidential client: the token
//! endpoint takes HTTP Basic client authentication. `offline.access` yields a refresh token
//! that is single use: every refresh returns a new one and the old one stops working (which is
//! why refreshes are single-flight, see `tokens`). Access tokens live 2 hours.
//! Docs: https://docs.x.com/resources/fundamentals/authentication/oauth-2-0/authorization-code

use super::{
    form_call, parse_standard_token, profile_json, text, Account, Call, ClientAuth, Credentials,
    Method, Platform, PlatformApi, Reply, SocialError, Spec, TokenSet,
};

pub struct X;

pub const AUTHORIZE: &str = "https://x.com/i/oauth2/authorize";
pub const TOKEN: &str = "https://api.x.com/2/oauth2/token";
pub const REVOKE: &str = "https://api.x.com/2/oauth2/revoke";
pub const ME: &str = "https://api.x.com/2/users/me?user.fields=profile_image_url";

pub const SPEC: Spec = Spec {
    platform: Platform::X,
    authorize_endpoint: AUTHORIZE,
    token_endpoint: TOKEN,
    scopes: &[
        "tweet.read",
        "tweet.write",
        "users.read",
        "media.write",
        "offline.access",
    ],
    scope_separator: " ",
    uses_pkce: true,
    client_id_param: "client_id",
    client_auth: ClientAuth::Basic,
    extra_authorize_params: &[],
    supports_refresh: true,
    default_access_lifetime: Some(7200),
    credential_names: ("X_CLIENT_ID", "X_CLIENT_SECRET"),
};

impl PlatformApi for X {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    /// X answers a spent, revoked or unknown refresh token (or code) with 400
    /// `{"error": "invalid_request", "error_description": "Value passed for the token was
    /// invalid."}` rather than `invalid_grant`: for the token endpoint that is a refused grant.
    fn parse_token(&self, reply: &Reply) -> Result<TokenSet, SocialError> {
        match parse_standard_token(Platform::X, reply) {
            Err(SocialError::Rejected(cause))
                if reply.status == 400 && reply.json()["error"] == "invalid_request" =>
            {
                Err(SocialError::InvalidGrant(cause))
            }
            other => other,
        }
    }

    fn profile_call(&self, access_token: &str, _external_id: &str) -> Call {
        Call::new(Method::Get, ME, access_token)
    }

    /// `{"data": {"id", "name", "username", "profile_image_url"}}`
    fn parse_profile(&self, reply: &Reply) -> Result<Account, SocialError> {
        let body = profile_json(Platform::X, reply)?;
        let user = &body["data"];
        Ok(Account {
            external_id: text(&user["id"])
                .ok_or_else(|| SocialError::Rejected("x profile without data.id".into()))?,
            display_name: text(&user["name"]),
            handle: text(&user["username"]),
            avatar_url: text(&user["profile_image_url"]),
            account_token: None,
        })
    }

    /// Revoking the refresh token ends the whole grant.
    fn revoke_call(
        &self,
        credentials: &Credentials,
        access_token: &str,
        refresh_token: Option<&str>,
    ) -> Option<Call> {
        let (token, hint) = match refresh_token {
            Some(refresh_token) => (refresh_token, "refresh_token"),
            None => (access_token, "access_token"),
        };
        let form = vec![
            ("token", token.to_owned()),
            ("token_type_hint", hint.to_owned()),
        ];
        // The same client authentication as the token endpoint.
        let basic = self
            .token_call(credentials, &super::Grant::Refresh { refresh_token: "" })
            .headers
            .into_iter()
            .find(|(name, _)| *name == "authorization")
            .map(|(_, value)| value)
            .expect("Basic authentication");
        Some(form_call(REVOKE, form).header("authorization", basic))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::social::tests::{credentials, form_value, query_value, reply};
    use crate::social::Grant;
    use serde_json::json;

    #[test]
    fn authorize_url_has_pkce_and_offline_access() {
        let url = X.authorize_url(&credentials(), "https://w.example/cb", "st", "ch");
        assert!(url.starts_with("https://x.com/i/oauth2/authorize?"));
        assert_eq!(query_value(&url, "client_id").unwrap(), "app-id");
        assert_eq!(query_value(&url, "code_challenge_method").unwrap(), "S256");
        assert_eq!(query_value(&url, "code_challenge").unwrap(), "ch");
        assert!(query_value(&url, "scope")
            .unwrap()
            .contains("offline.access"));
        assert_eq!(
            query_value(&url, "redirect_uri").unwrap(),
            "https://w.example/cb"
        );
    }

    #[test]
    fn token_calls_use_basic_auth_and_the_verifier() {
        let call = X.token_call(
            &credentials(),
            &Grant::Code {
                code: "c",
                redirect_uri: "https://w.example/cb",
                verifier: Some("v"),
            },
        );
        assert_eq!(call.url, TOKEN);
        assert_eq!(form_value(&call, "code_verifier"), Some("v"));
        assert_eq!(form_value(&call, "client_secret"), None);
        assert_eq!(
            call.headers,
            vec![("authorization", "Basic YXBwLWlkOmFwcC1zZWNyZXQ=".to_owned())]
        );
        assert!(matches!(
            X.parse_token(&reply(
                400,
                json!({"error": "invalid_request",
                "error_description": "Value passed for the token was invalid."})
            )),
            Err(SocialError::InvalidGrant(_))
        ));
        let refresh = X.token_call(&credentials(), &Grant::Refresh { refresh_token: "r" });
        assert_eq!(form_value(&refresh, "grant_type"), Some("refresh_token"));
        assert_eq!(form_value(&refresh, "refresh_token"), Some("r"));
    }

    #[test]
    fn reads_the_profile_and_revokes_the_refresh_token() {
        let account = X
            .parse_profile(&reply(
                200,
                json!({"data": {"id": "2244994945", "name": "X Dev", "username": "XDevelopers"}}),
            ))
            .unwrap();
        assert_eq!(account.external_id, "2244994945");
        assert_eq!(account.handle.as_deref(), Some("XDevelopers"));
        assert!(matches!(
            X.parse_profile(&reply(401, json!({"title": "Unauthorized"}))),
            Err(SocialError::Unauthorized(_))
        ));
        let revoke = X.revoke_call(&credentials(), "at", Some("rt")).unwrap();
        assert_eq!(revoke.url, REVOKE);
        assert_eq!(form_value(&revoke, "token"), Some("rt"));
        assert_eq!(
            form_value(&revoke, "token_type_hint"),
            Some("refresh_token")
        );
    }
}
