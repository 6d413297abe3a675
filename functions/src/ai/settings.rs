//! The AI proxy's deployment settings: platform keys and base URLs per provider (used when the
//! caller has no key of their own) and the key ring for stored keys.

use std::time::Duration;

use crate::config::{seconds_setting, ApiKey, ConfigError};

use super::keys::KeyRing;
use super::provider::ProviderKind;

#[derive(Clone, Debug)]
pub struct AiSettings {
    /// The provider used when the caller has no active configuration (`AI_DEFAULT_PROVIDER`).
    pub default_provider: ProviderKind,
    /// Stands in, with its platform key, when a call's provider keeps failing transiently
    /// (`AI_FALLBACK_PROVIDER`).
    pub fallback_provider: Option<ProviderKind>,
    platform: Vec<PlatformProvider>,
    /// `AI_KEY_ENCRYPTION_KEYS`; without it, stored keys can be neither written nor used.
    pub key_ring: Option<KeyRing>,
    /// `AI_CALL_TIMEOUT_SECONDS` (1–90, default 60): an attempt at a provider call unanswered
    /// for this long is abandoned (its request aborted) and counts as a transient failure.
    pub call_timeout: Duration,
}

const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// `{PROVIDER}_API_KEY` and `{PROVIDER}_BASE_URL`, e.g. `XAI_API_KEY`, `OPENAI_COMPATIBLE_BASE_URL`.
#[derive(Clone, Debug)]
struct PlatformProvider {
    kind: ProviderKind,
    api_key: Option<ApiKey>,
    base_url: Option<String>,
}

impl AiSettings {
    pub fn from_lookup(read: impl Fn(&'static str) -> Option<String>) -> Result<Self, ConfigError> {
        let provider_setting = |name: &'static str| {
            read(name)
                .map(|value| {
                    ProviderKind::parse(value.trim()).ok_or(ConfigError::Invalid {
                        name,
                        reason: "must be openai, xai, gemini or openai_compatible",
                    })
                })
                .transpose()
        };
        let default_provider =
            provider_setting("AI_DEFAULT_PROVIDER")?.unwrap_or(ProviderKind::Openai);
        let fallback_provider = provider_setting("AI_FALLBACK_PROVIDER")?;
        let platform = ProviderKind::ALL
            .into_iter()
            .map(|kind| {
                let (key_name, url_name) = setting_names(kind);
                let base_url =
                    read(url_name).map(|url| url.trim().trim_end_matches('/').to_owned());
                if base_url
                    .as_deref()
                    .is_some_and(|url| !url.starts_with("http://") && !url.starts_with("https://"))
                {
                    return Err(ConfigError::Invalid {
                        name: url_name,
                        reason: "must start with http:// or https://",
                    });
                }
                let api_key = read(key_name)
                    .map(|key| ApiKey::parse(key_name, key))
                    .transpose()?;
                Ok(PlatformProvider {
                    kind,
                    api_key,
                    base_url,
                })
            })
            .collect::<Result<_, _>>()?;
        let key_ring = read("AI_KEY_ENCRYPTION_KEYS")
            .map(|raw| KeyRing::parse(&raw))
            .transpose()
            .map_err(|_| ConfigError::Invalid {
                name: "AI_KEY_ENCRYPTION_KEYS",
                reason: "expected v1:<base64 of 32 bytes>[,v2:…]",
            })?;
        let call_timeout = seconds_setting(
            read("AI_CALL_TIMEOUT_SECONDS"),
            "AI_CALL_TIMEOUT_SECONDS",
            90,
            "expected whole seconds from 1 to 90",
            DEFAULT_CALL_TIMEOUT,
        )?;
        Ok(Self {
            default_provider,
            fallback_provider,
            platform,
            key_ring,
            call_timeout,
        })
    }

    fn platform(&self, kind: ProviderKind) -> &PlatformProvider {
        self.platform
            .iter()
            .find(|p| p.kind == kind)
            .expect("every provider kind has settings")
    }

    pub fn platform_key(&self, kind: ProviderKind) -> Option<&ApiKey> {
        self.platform(kind).api_key.as_ref()
    }

    /// The configured base URL, else the provider's public one.
    pub fn platform_base_url(&self, kind: ProviderKind) -> Option<&str> {
        self.platform(kind)
            .base_url
            .as_deref()
            .or(kind.default_base_url())
    }
}

fn setting_names(kind: ProviderKind) -> (&'static str, &'static str) {
    match kind {
        ProviderKind::Openai => ("OPENAI_API_KEY", "OPENAI_BASE_URL"),
        ProviderKind::Xai => ("XAI_API_KEY", "XAI_BASE_URL"),
        ProviderKind::Gemini => ("GEMINI_API_KEY", "GEMINI_BASE_URL"),
        ProviderKind::OpenaiCompatible => {
            ("OPENAI_COMPATIBLE_API_KEY", "OPENAI_COMPATIBLE_BASE_URL")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_platform_providers_with_public_defaults() {
        let settings = AiSettings::from_lookup(|name| match name {
            "AI_DEFAULT_PROVIDER" => Some("gemini".into()),
            "AI_FALLBACK_PROVIDER" => Some(" xai ".into()),
            "GEMINI_API_KEY" => Some("g-key".into()),
            "XAI_BASE_URL" => Some("http://127.0.0.1:9/xai/v1/".into()),
            "AI_CALL_TIMEOUT_SECONDS" => Some(" 5 ".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(settings.default_provider, ProviderKind::Gemini);
        assert_eq!(settings.fallback_provider, Some(ProviderKind::Xai));
        assert_eq!(
            settings
                .platform_key(ProviderKind::Gemini)
                .unwrap()
                .expose(),
            "g-key"
        );
        assert!(settings.platform_key(ProviderKind::Openai).is_none());
        assert_eq!(
            settings.platform_base_url(ProviderKind::Xai),
            Some("http://127.0.0.1:9/xai/v1")
        );
        assert_eq!(
            settings.platform_base_url(ProviderKind::Openai),
            Some("https://api.openai.com/v1")
        );
        assert_eq!(
            settings.platform_base_url(ProviderKind::OpenaiCompatible),
            None
        );
        assert!(settings.key_ring.is_none());
        assert_eq!(settings.call_timeout, Duration::from_secs(5));
        let unset = AiSettings::from_lookup(|_| None).unwrap();
        assert_eq!(unset.call_timeout, Duration::from_secs(60));
    }

    #[test]
    fn rejects_bad_values() {
        let bad = |name: &'static str, value: &'static str| {
            AiSettings::from_lookup(move |asked| (asked == name).then(|| value.to_owned()))
                .unwrap_err()
        };
        assert!(matches!(
            bad("AI_DEFAULT_PROVIDER", "bard"),
            ConfigError::Invalid {
                name: "AI_DEFAULT_PROVIDER",
                ..
            }
        ));
        assert!(matches!(
            bad("AI_FALLBACK_PROVIDER", "bard"),
            ConfigError::Invalid {
                name: "AI_FALLBACK_PROVIDER",
                ..
            }
        ));
        assert!(matches!(
            bad("AI_KEY_ENCRYPTION_KEYS", "v1:nope"),
            ConfigError::Invalid { .. }
        ));
        assert!(matches!(
            bad("OPENAI_BASE_URL", "api.openai.com"),
            ConfigError::Invalid { .. }
        ));
        for timeout in ["0", "91", "soon"] {
            assert!(matches!(
                bad("AI_CALL_TIMEOUT_SECONDS", timeout),
                ConfigError::Invalid {
                    name: "AI_CALL_TIMEOUT_SECONDS",
                    ..
                }
            ));
        }
    }
}
