//! One folder per social platform: everything the worker knows about it, from its OAuth
//! constants (`SPEC`) to what a post to it may carry (`RULES`) and how it gets there.

pub mod facebook;
pub mod instagram;
pub mod linkedin;
pub mod pinterest;
pub mod tiktok;
pub mod x;
pub mod youtube;

use serde_json::Value;

use crate::infra::outbound::{Call, Reply};
use crate::publishing::rules::Rules;
use crate::publishing::Publisher;
use crate::social::{Platform, PlatformApi, SocialError, Spec};

/// What the worker holds about one platform.
pub struct Parts {
    pub spec: &'static Spec,
    /// How it connects.
    pub api: &'static dyn PlatformApi,
    /// How posts reach it.
    pub publisher: &'static Publisher,
    /// What a post to it may carry, and how often.
    pub rules: &'static Rules,
    /// Where the platform tells apps what the account may post now (TikTok's `creator_info`),
    /// read for the composer by `GET /v1/connections/{id}/creator-info`.
    pub creator_info: Option<&'static CreatorInfo>,
}

/// How to ask a platform what the connected account may post now, and read its answer.
pub struct CreatorInfo {
    pub call: fn(access_token: &str) -> Call,
    pub read: fn(&Reply) -> Result<Value, SocialError>,
}

/// In the order of `Platform`'s variants, so that a platform finds its parts by index (a test
/// checks the order).
static PARTS: [Parts; 7] = [
    x::PARTS,
    linkedin::PARTS,
    facebook::PARTS,
    instagram::PARTS,
    tiktok::PARTS,
    pinterest::PARTS,
    youtube::PARTS,
];

pub fn parts(platform: Platform) -> &'static Parts {
    &PARTS[platform as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_platform_finds_its_own_parts() {
        for platform in Platform::ALL {
            assert_eq!(parts(platform).spec.platform, platform);
            assert_eq!(parts(platform).api.spec().platform, platform);
            assert_eq!(serde_json::json!(platform), parts(platform).spec.name);
        }
    }

    /// Adding a platform takes its folder (and its variant and line in `PARTS`): outside
    /// `platforms/`, code reaches a platform's knowledge through its parts, never by naming it.
    #[test]
    fn no_code_outside_its_folder_names_a_platform() {
        let names: Vec<String> = Platform::ALL
            .iter()
            .map(|platform| format!("Platform::{platform:?}"))
            .collect();
        let mut offenders = Vec::new();
        for (path, source) in crate::test_support::crate_sources(&["platforms"]) {
            // Tests may name the platforms they exercise.
            let code = source.split("#[cfg(test)]").next().unwrap();
            let mut words = code.split(|c: char| !(c.is_alphanumeric() || c == ':' || c == '_'));
            if words.any(|word| names.iter().any(|name| name == word)) {
                offenders.push(path);
            }
        }
        assert!(offenders.is_empty(), "{offenders:?} name a platform");
    }
}
