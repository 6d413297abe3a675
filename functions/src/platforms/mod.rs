//! One folder per social platform: everything the worker knows about it, from its OAuth
//! constants (`SPEC`) to how a post reaches it.

pub mod facebook;
pub mod instagram;
pub mod linkedin;
pub mod pinterest;
pub mod tiktok;
pub mod x;
pub mod youtube;

use crate::publishing::Publisher;
use crate::social::{Platform, PlatformApi, Spec};

/// What the worker holds about one platform.
pub struct Parts {
    pub spec: &'static Spec,
    /// How it connects.
    pub api: &'static dyn PlatformApi,
    /// How posts reach it.
    pub publisher: &'static Publisher,
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
}
