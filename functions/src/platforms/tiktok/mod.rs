//! TikTok: its OAuth constants (`SPEC`), how it connects (`oauth`), what the creator may post
//! now (`creator`), how it posts (`publish`) and what a post to it may carry (`RULES`).

pub mod creator;
pub mod oauth;
pub mod publish;

use super::Parts;
use crate::publishing::rules::{PostingLimit, Rules, MB};
use crate::social::{ClientAuth, Platform, Spec};
use oauth::{AUTHORIZE, TOKEN};

pub const SPEC: Spec = Spec {
    platform: Platform::Tiktok,
    name: "tiktok",
    authorize_endpoint: AUTHORIZE,
    token_endpoint: TOKEN,
    // `user.info.profile`: the username, which the posts' permalinks need.
    scopes: &[
        "user.info.basic",
        "user.info.profile",
        "video.publish",
        "video.upload",
    ],
    scope_separator: ",",
    // Login Kit for Web has no PKCE: TikTok's PKCE is its desktop and mobile flows', with a hex
    // challenge that an RFC 7636 one never matches.
    uses_pkce: false,
    client_id_param: "client_key",
    client_auth: ClientAuth::Body,
    extra_authorize_params: &[],
    supports_refresh: true,
    default_access_lifetime: Some(86_400),
    credential_names: ("TIKTOK_CLIENT_KEY", "TIKTOK_CLIENT_SECRET"),
};

pub const RULES: Rules = Rules {
    max_chars: 2200,
    text: None,
    needs_media: true,
    max_images: 0,
    max_videos: 1,
    image_types: &[],
    video_types: &["video/mp4", "video/quicktime", "video/webm"],
    max_image_bytes: 0,
    max_video_bytes: 4096 * MB,
    // Direct posts: about 15 a day per creator.
    posting_limit: Some(PostingLimit {
        posts: 15,
        window_seconds: 24 * 3600,
    }),
    options: |options| {
        options.one_of(
            "privacyLevel",
            &[
                "PUBLIC_TO_EVERYONE",
                "MUTUAL_FOLLOW_FRIENDS",
                "FOLLOWER_OF_CREATOR",
                "SELF_ONLY",
            ],
            true,
        );
        for flag in ["disableComment", "disableDuet", "disableStitch"] {
            options.flag(flag);
        }
    },
};

pub const PARTS: Parts = Parts {
    spec: &SPEC,
    api: &oauth::Tiktok,
    publisher: &publish::PUBLISHER,
    rules: &RULES,
    creator_info: Some(&creator::CREATOR_INFO),
};
