//! X: its OAuth constants (`SPEC`), how it connects (`oauth`),
//! how it posts (`publish`) and what a post to it may carry (`RULES`).

pub mod oauth;
pub mod publish;

use super::Parts;
use crate::publishing::rules::{PostingLimit, Rules, MB, MP4_MOV, WEB_IMAGES};
use crate::social::{ClientAuth, Platform, Spec};
use oauth::{AUTHORIZE, TOKEN};

pub const SPEC: Spec = Spec {
    platform: Platform::X,
    name: "x",
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

/// X counts URLs as 23 characters and some scripts double; the plain count is the common case
/// and never lets an over-long post through for Latin text.
pub const RULES: Rules = Rules {
    max_chars: 280,
    text: None,
    needs_media: false,
    max_images: 4,
    max_videos: 1,
    image_types: WEB_IMAGES,
    video_types: MP4_MOV,
    max_image_bytes: 5 * MB,
    max_video_bytes: 512 * MB,
    // POST /2/tweets: 100 requests per 15 minutes per user.
    posting_limit: Some(PostingLimit {
        posts: 100,
        window_seconds: 15 * 60,
    }),
    options: |options| {
        options.one_of(
            "replySettings",
            &["following", "mentionedUsers", "subscribers", "verified"],
            false,
        )
    },
};

pub const PARTS: Parts = Parts {
    spec: &SPEC,
    api: &oauth::X,
    publisher: &publish::PUBLISHER,
    rules: &RULES,
    creator_info: None,
};
