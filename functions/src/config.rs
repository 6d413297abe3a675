//! Worker configuration, parsed once per request from wrangler vars / secrets.

use std::fmt;
use std::time::Duration;

use crate::ai::settings::AiSettings;
use crate::auth::CronSecret;
use crate::http::cors::AllowedOrigins;
use crate::http::redirect::RedirectAllowlist;
use crate::infra::outbound::policy::OutboundPolicy;
use crate::infra::supabase::{PUBLISHABLE_KEY_PREFIX, SECRET_KEY_PREFIX};
use crate::social::settings::SocialSettings;

#[derive(Clone, Debug)]
pub struct Config {
    pub supabase_url: SupabaseUrl,
    pub anon_key: ApiKey,
    pub service_role_key: ApiKey,
    /// Legacy HS256 secret; without it HS256 tokens are refused.
    pub jwt_secret: Option<JwtSecret>,
    pub jwt_audience: String,
    /// `ALLOW_ANONYMOUS_USERS` (off by default; see `auth::anonymous_users_setting`).
    pub allow_anonymous_users: bool,
    pub environment: Environment,
    /// Where requests to URLs users chose may go (`ALLOW_LOCAL_OUTBOUND`).
    pub outbound: OutboundPolicy,
    pub ai: AiSettings,
    /// `CRON_SECRET`: the bearer pg_cron sends to `/v1/cron/*`.
    pub cron_secret: Option<CronSecret>,
    pub social: SocialSettings,
    /// `INVITATION_REDIRECT_ALLOWLIST`: where an invitation email's link may land in the app.
    pub invitation_redirects: RedirectAllowlist,
    /// `CORS_ALLOWED_ORIGINS`: the web apps that may call the worker from a browser.
    pub cors: AllowedOrigins,
}

const DEFAULT_AUDIENCE: &str = "authenticated";

impl Config {
    /// Reads every setting through `lookup` (name → value); empty values count as missing.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let read = |name: &'static str| lookup(name).filter(|value| !value.trim().is_empty());
        let require = |name: &'static str| read(name).ok_or(ConfigError::Missing(name));
        let environment = Environment::parse(read("ENVIRONMENT"))?;
        let outbound = outbound_policy(read("ALLOW_LOCAL_OUTBOUND"), environment)?;
        Ok(Self {
            supabase_url: SupabaseUrl::parse(&require("SUPABASE_URL")?)?,
            anon_key: supabase_key("SUPABASE_ANON_KEY", require, SECRET_KEY_PREFIX)?,
            service_role_key: supabase_key(
                "SUPABASE_SERVICE_ROLE_KEY",
                require,
                PUBLISHABLE_KEY_PREFIX,
            )?,
            jwt_secret: read("SUPABASE_JWT_SECRET").map(JwtSecret),
            jwt_audience: read("JWT_AUDIENCE").unwrap_or_else(|| DEFAULT_AUDIENCE.to_owned()),
            allow_anonymous_users: crate::auth::anonymous_users_setting(
                read("ALLOW_ANONYMOUS_USERS").as_deref(),
            )?,
            environment,
            outbound,
            ai: AiSettings::from_lookup(read)?,
            cron_secret: CronSecret::setting(read("CRON_SECRET"))?,
            social: SocialSettings::from_lookup(read, environment, outbound)?,
            invitation_redirects: RedirectAllowlist::setting(
                "INVITATION_REDIRECT_ALLOWLIST",
                read("INVITATION_REDIRECT_ALLOWLIST"),
            )?,
            cors: AllowedOrigins::setting(read("CORS_ALLOWED_ORIGINS").as_deref(), environment)?,
        })
    }
}

/// `ENVIRONMENT`: `production` unless it says `development`, so a deployment that forgets it
/// gets production's rules. Only development may relax them (`ALLOW_LOCAL_OUTBOUND`, the OAuth
/// callback taken from `Host`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Production,
    Development,
}

impl Environment {
    fn parse(raw: Option<String>) -> Result<Self, ConfigError> {
        match raw.as_deref().map(str::trim) {
            None | Some("production") => Ok(Self::Production),
            Some("development") => Ok(Self::Development),
            Some(_) => Err(ConfigError::Invalid {
                name: "ENVIRONMENT",
                reason: "must be production or development",
            }),
        }
    }
}

/// `ALLOW_LOCAL_OUTBOUND=true` lets user-chosen URLs (and `SOCIAL_API_ORIGIN_OVERRIDE`) reach
/// loopback, where a local stack's fakes listen; refused outside development.
fn outbound_policy(
    raw: Option<String>,
    environment: Environment,
) -> Result<OutboundPolicy, ConfigError> {
    let invalid = |reason| ConfigError::Invalid {
        name: "ALLOW_LOCAL_OUTBOUND",
        reason,
    };
    match (raw.as_deref().map(str::trim), environment) {
        (None | Some("false"), _) => Ok(OutboundPolicy::PUBLIC_ONLY),
        (Some("true"), Environment::Development) => Ok(OutboundPolicy::LOCAL_ALLOWED),
        (Some("true"), Environment::Production) => {
            Err(invalid("only allowed with ENVIRONMENT=development"))
        }
        (Some(_), _) => Err(invalid("must be true or false")),
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    Missing(&'static str),
    Invalid {
        name: &'static str,
        reason: &'static str,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing(name) => write!(f, "{name} is not configured"),
            Self::Invalid { name, reason } => write!(f, "{name} is invalid: {reason}"),
        }
    }
}

/// The project's base URL, without trailing slash; every Supabase endpoint derives from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SupabaseUrl(String);

impl SupabaseUrl {
    fn parse(raw: &str) -> Result<Self, ConfigError> {
        let url = raw.trim().trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ConfigError::Invalid {
                name: "SUPABASE_URL",
                reason: "must start with http:// or https://",
            });
        }
        Ok(Self(url.to_owned()))
    }

    pub fn base(&self) -> &str {
        &self.0
    }

    pub fn rest_url(&self) -> String {
        format!("{}/rest/v1", self.0)
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/auth/v1/.well-known/jwks.json", self.0)
    }

    /// Supabase Auth's API.
    pub fn auth_url(&self) -> String {
        format!("{}/auth/v1", self.0)
    }

    /// The `iss` that Supabase Auth puts in the tokens it issues: its API URL.
    pub fn token_issuer(&self) -> String {
        self.auth_url()
    }
}

/// One of the project's API keys, legacy JWT or current (`sb_…`) alike, but never the other
/// role's current key: a secret key as the anon key would skip RLS for every caller, a
/// publishable key as the service key would fail every server-side call.
fn supabase_key(
    name: &'static str,
    require: impl Fn(&'static str) -> Result<String, ConfigError>,
    other_roles_prefix: &str,
) -> Result<ApiKey, ConfigError> {
    let key = ApiKey::parse(name, require(name)?)?;
    if key.expose().starts_with(other_roles_prefix) {
        return Err(ConfigError::Invalid {
            name,
            reason: "is the other role's key (anon: sb_publishable_…, service role: sb_secret_…)",
        });
    }
    Ok(key)
}

/// An API key sent in headers; checked to be header-safe so building a request cannot panic.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn parse(name: &'static str, raw: String) -> Result<Self, ConfigError> {
        let key = raw.trim();
        if !key.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err(ConfigError::Invalid {
                name,
                reason: "must be printable ASCII without spaces",
            });
        }
        Ok(Self(key.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// A timeout setting: whole seconds up to `max` (`reason` says so when the value is not), or
/// `default` when unset.
pub fn seconds_setting(
    raw: Option<String>,
    name: &'static str,
    max: u64,
    reason: &'static str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match raw.map(|raw| raw.trim().parse::<u64>()) {
        None => Ok(default),
        Some(Ok(seconds)) if (1..=max).contains(&seconds) => Ok(Duration::from_secs(seconds)),
        Some(_) => Err(ConfigError::Invalid { name, reason }),
    }
}

/// Supabase's legacy JWT secret; GoTrue uses the string's bytes as the HMAC key.
#[derive(Clone)]
pub struct JwtSecret(String);

impl JwtSecret {
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for JwtSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JwtSecret(<redacted>)")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;

    pub(crate) fn config_from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let values: HashMap<String, String> = pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        Config::from_lookup(|name| values.get(name).cloned())
    }

    const REQUIRED: [(&str, &str); 3] = [
        ("SUPABASE_URL", "http://127.0.0.1:54321/"),
        ("SUPABASE_ANON_KEY", "anon"),
        ("SUPABASE_SERVICE_ROLE_KEY", "service"),
    ];

    /// Every name `from_lookup` asks for. With only the required settings every read happens
    /// (the optional ones are absent, so none fails and cuts the reading short).
    fn names_the_worker_reads() -> std::collections::BTreeSet<String> {
        let asked = std::cell::RefCell::new(std::collections::BTreeSet::new());
        Config::from_lookup(|name| {
            asked.borrow_mut().insert(name.to_owned());
            REQUIRED
                .iter()
                .find(|(required, _)| *required == name)
                .map(|(_, value)| value.to_string())
        })
        .expect("the required settings alone are a valid configuration");
        asked.into_inner()
    }

    /// The names in the first column of docs/deploy.md's `## Configuration` table.
    fn names_in_deploy_doc() -> std::collections::BTreeSet<String> {
        let doc = include_str!("../../docs/deploy.md");
        let table = doc
            .split("\n## Configuration\n")
            .nth(1)
            .expect("docs/deploy.md has a ## Configuration section");
        table
            .lines()
            .take_while(|line| !line.starts_with("## "))
            .filter_map(|line| line.strip_prefix("| "))
            .filter_map(|row| row.split(" | ").next())
            .flat_map(|cell| cell.split('`').skip(1).step_by(2))
            .filter(|name| is_setting_name(name))
            .map(str::to_owned)
            .collect()
    }

    /// The `NAME=` lines of .dev.vars.example, commented out (optional) or not.
    fn names_in_dev_vars_example() -> std::collections::BTreeSet<String> {
        include_str!("../../.dev.vars.example")
            .lines()
            .map(|line| line.trim_start_matches(['#', ' ']))
            .filter_map(|line| line.split_once('=').map(|(name, _)| name))
            .filter(|name| is_setting_name(name))
            .map(str::to_owned)
            .collect()
    }

    fn is_setting_name(text: &str) -> bool {
        !text.is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    }

    #[test]
    fn every_setting_the_worker_reads_is_documented_and_no_other() {
        let read = names_the_worker_reads();
        assert!(read.contains("CRON_SECRET") && read.contains("GOOGLE_CLIENT_SECRET"));
        for (list, listed) in [
            ("docs/deploy.md", names_in_deploy_doc()),
            (".dev.vars.example", names_in_dev_vars_example()),
        ] {
            let unlisted: Vec<_> = read.difference(&listed).collect();
            let stale: Vec<_> = listed.difference(&read).collect();
            assert!(
                unlisted.is_empty() && stale.is_empty(),
                "{list} lacks {unlisted:?}, which the worker reads, and lists {stale:?}, which it \
                 does not read"
            );
        }
    }

    #[test]
    fn each_role_takes_its_own_current_key_and_never_the_other_roles() {
        let keys = |anon: &str, service: &str| {
            config_from(&[
                ("SUPABASE_URL", "https://project.supabase.co"),
                ("SUPABASE_ANON_KEY", anon),
                ("SUPABASE_SERVICE_ROLE_KEY", service),
            ])
        };
        assert!(keys("sb_publishable_abc", "sb_secret_def").is_ok());
        assert!(keys("eyJ.legacy.anon", "eyJ.legacy.service").is_ok());
        let refused = |result: Result<Config, ConfigError>| match result {
            Err(ConfigError::Invalid { name, .. }) => name,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            refused(keys("sb_secret_def", "sb_secret_def")),
            "SUPABASE_ANON_KEY"
        );
        assert_eq!(
            refused(keys("sb_publishable_abc", "sb_publishable_abc")),
            "SUPABASE_SERVICE_ROLE_KEY"
        );
    }

    #[test]
    fn derives_supabase_endpoints_and_defaults() {
        let config = config_from(&REQUIRED).unwrap();
        assert_eq!(
            config.supabase_url.rest_url(),
            "http://127.0.0.1:54321/rest/v1"
        );
        assert_eq!(
            config.supabase_url.jwks_url(),
            "http://127.0.0.1:54321/auth/v1/.well-known/jwks.json"
        );
        assert_eq!(
            config.supabase_url.token_issuer(),
            "http://127.0.0.1:54321/auth/v1"
        );
        assert_eq!(config.jwt_audience, "authenticated");
        assert!(config.jwt_secret.is_none());
    }

    #[test]
    fn reports_missing_and_invalid_settings() {
        assert_eq!(
            config_from(&REQUIRED[..2]).unwrap_err(),
            ConfigError::Missing("SUPABASE_SERVICE_ROLE_KEY")
        );
        let mut bad_url = REQUIRED;
        bad_url[0].1 = "127.0.0.1:54321";
        assert!(matches!(
            config_from(&bad_url).unwrap_err(),
            ConfigError::Invalid {
                name: "SUPABASE_URL",
                ..
            }
        ));
        let mut bad_key = REQUIRED;
        bad_key[1].1 = "two words";
        assert!(matches!(
            config_from(&bad_key).unwrap_err(),
            ConfigError::Invalid {
                name: "SUPABASE_ANON_KEY",
                ..
            }
        ));
    }

    #[test]
    fn local_outbound_only_in_development() {
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut pairs = REQUIRED.to_vec();
            pairs.extend_from_slice(extra);
            config_from(&pairs)
        };
        let production = with(&[]).unwrap();
        assert_eq!(production.environment, Environment::Production);
        assert!(!production.outbound.allows_local());
        for refused in [
            &[("ALLOW_LOCAL_OUTBOUND", "true")][..],
            &[
                ("ENVIRONMENT", "production"),
                ("ALLOW_LOCAL_OUTBOUND", "true"),
            ],
            &[
                ("ENVIRONMENT", "development"),
                ("ALLOW_LOCAL_OUTBOUND", "yes"),
            ],
        ] {
            assert!(matches!(
                with(refused).unwrap_err(),
                ConfigError::Invalid {
                    name: "ALLOW_LOCAL_OUTBOUND",
                    ..
                }
            ));
        }
        assert!(matches!(
            with(&[("ENVIRONMENT", "staging")]).unwrap_err(),
            ConfigError::Invalid {
                name: "ENVIRONMENT",
                ..
            }
        ));
        let development = with(&[("ENVIRONMENT", "development")]).unwrap();
        assert!(!development.outbound.allows_local(), "only when asked for");
        let local = with(&[
            ("ENVIRONMENT", "development"),
            ("ALLOW_LOCAL_OUTBOUND", "true"),
        ])
        .unwrap();
        assert!(local.outbound.allows_local());
    }

    #[test]
    fn debug_output_redacts_keys() {
        let mut pairs = REQUIRED.to_vec();
        pairs.push(("SUPABASE_JWT_SECRET", "hs-secret"));
        let rendered = format!("{:?}", config_from(&pairs).unwrap());
        assert!(!rendered.contains("anon\"") && !rendered.contains("service\""));
        assert!(!rendered.contains("hs-secret"));
    }
}
