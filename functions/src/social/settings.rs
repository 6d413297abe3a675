//! The social platforms' deployment settings: app credentials per platform (worker secrets),
//! the token key ring, the redirect allow-list, the public base URL, how long a publishing call
//! may go unanswered, and the development-only origin override.

use std::time::Duration;

use crate::config::{seconds_setting, ApiKey, ConfigError, Environment};
use crate::http::redirect::RedirectAllowlist;
use crate::infra::crypto::KeyRing;
use crate::infra::outbound::policy::OutboundPolicy;

use super::{Credentials, Platform};

#[derive(Clone, Debug)]
pub struct SocialSettings {
    apps: Vec<(Platform, Option<String>, Option<ApiKey>)>,
    /// `SOCIAL_TOKEN_ENCRYPTION_KEYS`: seals stored tokens.
    pub key_ring: Option<KeyRing>,
    /// `OAUTH_REDIRECT_ALLOWLIST`.
    pub redirect_allowlist: RedirectAllowlist,
    /// `PUBLIC_BASE_URL`: the worker's public origin, for the OAuth callback URL.
    pub public_base_url: Option<String>,
    environment: Environment,
    /// `SOCIAL_API_ORIGIN_OVERRIDE`: local stacks only (it needs `ALLOW_LOCAL_OUTBOUND`, as it
    /// sends every platform call, tokens and app secrets included, elsewhere): `https://host/path`
    /// is sent to `{override}/host/path`.
    pub api_origin_override: Option<String>,
    /// `PUBLISH_CALL_TIMEOUT_SECONDS` (1–300, default 30): a publishing call unanswered for this
    /// long counts as lost, and an irreversible one as ambiguous.
    pub publish_call_timeout: Duration,
}

const DEFAULT_PUBLISH_CALL_TIMEOUT: Duration = Duration::from_secs(30);

fn http_url(name: &'static str, raw: String) -> Result<String, ConfigError> {
    let url = raw.trim().trim_end_matches('/').to_owned();
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(url)
    } else {
        Err(ConfigError::Invalid {
            name,
            reason: "must start with http:// or https://",
        })
    }
}

impl SocialSettings {
    pub fn from_lookup(
        read: impl Fn(&'static str) -> Option<String>,
        environment: Environment,
        outbound: OutboundPolicy,
    ) -> Result<Self, ConfigError> {
        let api_origin_override = read("SOCIAL_API_ORIGIN_OVERRIDE")
            .map(|url| http_url("SOCIAL_API_ORIGIN_OVERRIDE", url))
            .transpose()?;
        if api_origin_override.is_some() && !outbound.allows_local() {
            return Err(ConfigError::Invalid {
                name: "SOCIAL_API_ORIGIN_OVERRIDE",
                reason: "only allowed with ALLOW_LOCAL_OUTBOUND=true (development stacks)",
            });
        }
        let apps = Platform::ALL
            .into_iter()
            .map(|platform| {
                let (id_name, secret_name) = platform.api().spec().credential_names;
                let secret = read(secret_name)
                    .map(|secret| ApiKey::parse(secret_name, secret))
                    .transpose()?;
                Ok((
                    platform,
                    read(id_name).map(|id| id.trim().to_owned()),
                    secret,
                ))
            })
            .collect::<Result<_, ConfigError>>()?;
        let key_ring = read("SOCIAL_TOKEN_ENCRYPTION_KEYS")
            .map(|raw| KeyRing::parse(&raw))
            .transpose()
            .map_err(|_| ConfigError::Invalid {
                name: "SOCIAL_TOKEN_ENCRYPTION_KEYS",
                reason: "expected v1:<base64 of 32 bytes>[,v2:…]",
            })?;
        let redirect_allowlist = RedirectAllowlist::setting(
            "OAUTH_REDIRECT_ALLOWLIST",
            read("OAUTH_REDIRECT_ALLOWLIST"),
        )?;
        Ok(Self {
            apps,
            key_ring,
            redirect_allowlist,
            public_base_url: read("PUBLIC_BASE_URL")
                .map(|url| http_url("PUBLIC_BASE_URL", url))
                .transpose()?,
            environment,
            api_origin_override,
            publish_call_timeout: seconds_setting(
                read("PUBLISH_CALL_TIMEOUT_SECONDS"),
                "PUBLISH_CALL_TIMEOUT_SECONDS",
                300,
                "expected whole seconds from 1 to 300",
                DEFAULT_PUBLISH_CALL_TIMEOUT,
            )?,
        })
    }

    /// The worker's origin for the OAuth callback URL: `PUBLIC_BASE_URL`, or in development the
    /// request's `Host` (http for loopback). `None` in production without `PUBLIC_BASE_URL`: a
    /// `Host` header is the caller's to choose.
    pub fn callback_base(&self, host: Option<&str>) -> Option<String> {
        if let Some(base) = &self.public_base_url {
            return Some(base.clone());
        }
        if self.environment != Environment::Development {
            return None;
        }
        let host = host.unwrap_or("localhost");
        let loopback = ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .any(|local| host == *local || host.starts_with(&format!("{local}:")));
        Some(format!(
            "{}://{host}",
            if loopback { "http" } else { "https" }
        ))
    }

    /// The platform's app credentials, or the name of the missing secret.
    pub fn credentials(&self, platform: Platform) -> Result<Credentials, &'static str> {
        let (id_name, secret_name) = platform.api().spec().credential_names;
        let (_, id, secret) = self
            .apps
            .iter()
            .find(|(candidate, _, _)| *candidate == platform)
            .expect("every platform has settings");
        match (id, secret) {
            (Some(client_id), Some(client_secret)) => Ok(Credentials {
                client_id: client_id.clone(),
                client_secret: client_secret.clone(),
            }),
            (None, _) => Err(id_name),
            (_, None) => Err(secret_name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn production(
        read: impl Fn(&'static str) -> Option<String>,
    ) -> Result<SocialSettings, ConfigError> {
        SocialSettings::from_lookup(read, Environment::Production, OutboundPolicy::PUBLIC_ONLY)
    }

    #[test]
    fn reads_credentials_per_platform_and_instagram_uses_facebook() {
        let settings = SocialSettings::from_lookup(
            |name| match name {
                "FACEBOOK_APP_ID" => Some("fb-app".into()),
                "FACEBOOK_APP_SECRET" => Some("fb-secret".into()),
                "X_CLIENT_ID" => Some("x-id".into()),
                "OAUTH_REDIRECT_ALLOWLIST" => Some("http://127.0.0.1:3000/".into()),
                "SOCIAL_API_ORIGIN_OVERRIDE" => Some("http://127.0.0.1:9/social/".into()),
                _ => None,
            },
            Environment::Development,
            OutboundPolicy::LOCAL_ALLOWED,
        )
        .unwrap();
        assert_eq!(
            settings.credentials(Platform::Instagram).unwrap().client_id,
            "fb-app"
        );
        assert_eq!(
            settings.credentials(Platform::X).unwrap_err(),
            "X_CLIENT_SECRET"
        );
        assert_eq!(
            settings.credentials(Platform::Tiktok).unwrap_err(),
            "TIKTOK_CLIENT_KEY"
        );
        assert_eq!(
            settings.api_origin_override.as_deref(),
            Some("http://127.0.0.1:9/social")
        );
        assert!(settings
            .redirect_allowlist
            .check("http://127.0.0.1:3000/x")
            .is_some());
        assert!(!format!("{settings:?}").contains("fb-secret"));
        assert_eq!(settings.publish_call_timeout, Duration::from_secs(30));
        let quick =
            production(|name| (name == "PUBLISH_CALL_TIMEOUT_SECONDS").then(|| " 8 ".to_owned()))
                .unwrap();
        assert_eq!(quick.publish_call_timeout, Duration::from_secs(8));
    }

    #[test]
    fn rejects_bad_values() {
        for (name, value) in [
            ("SOCIAL_TOKEN_ENCRYPTION_KEYS", "v1:short"),
            ("OAUTH_REDIRECT_ALLOWLIST", "not a url"),
            ("PUBLIC_BASE_URL", "worker.example"),
            ("PUBLISH_CALL_TIMEOUT_SECONDS", "0"),
            ("PUBLISH_CALL_TIMEOUT_SECONDS", "soon"),
        ] {
            assert!(
                production(|asked| (asked == name).then(|| value.to_owned())).is_err(),
                "{name}"
            );
        }
    }

    #[test]
    fn the_origin_override_needs_the_local_outbound_setting() {
        let read = |name: &'static str| {
            (name == "SOCIAL_API_ORIGIN_OVERRIDE").then(|| "https://fakes.example/social".into())
        };
        for environment in [Environment::Production, Environment::Development] {
            assert!(matches!(
                SocialSettings::from_lookup(read, environment, OutboundPolicy::PUBLIC_ONLY)
                    .unwrap_err(),
                ConfigError::Invalid {
                    name: "SOCIAL_API_ORIGIN_OVERRIDE",
                    ..
                }
            ));
        }
        let local = SocialSettings::from_lookup(
            read,
            Environment::Development,
            OutboundPolicy::LOCAL_ALLOWED,
        )
        .unwrap();
        assert_eq!(
            local.api_origin_override.as_deref(),
            Some("https://fakes.example/social")
        );
    }

    #[test]
    fn the_callback_origin_comes_from_host_only_in_development() {
        let unset = |_: &'static str| None;
        let unconfigured = production(unset).unwrap();
        assert_eq!(unconfigured.callback_base(Some("evil.example")), None);
        let development = SocialSettings::from_lookup(
            unset,
            Environment::Development,
            OutboundPolicy::PUBLIC_ONLY,
        )
        .unwrap();
        assert_eq!(
            development.callback_base(Some("127.0.0.1:8787")).as_deref(),
            Some("http://127.0.0.1:8787")
        );
        assert_eq!(
            development.callback_base(Some("edge.example")).as_deref(),
            Some("https://edge.example")
        );
        let configured = production(|name| {
            (name == "PUBLIC_BASE_URL").then(|| "https://edge.pixa.example/".into())
        })
        .unwrap();
        assert_eq!(
            configured.callback_base(Some("evil.example")).as_deref(),
            Some("https://edge.pixa.example")
        );
    }
}
