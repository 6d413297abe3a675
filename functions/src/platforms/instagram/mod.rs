//! Instagram: its OAuth constants (`SPEC`), how it connects (`oauth`),
//! how it posts (`publish`) and what a post to it may carry (`RULES`).

pub mod oauth;
pub mod publish;

use super::facebook::oauth::{AUTHORIZE, TOKEN};
use super::Parts;
use crate::publishing::rules::{PostingLimit, Rules, MB};
use crate::social::{ClientAuth, Platform, Spec};

pub const SPEC: Spec = Spec {
    platform: Platform::Instagram,
    name: "instagram",
    authorize_endpoint: AUTHORIZE,
    token_endpoint: TOKEN,
    scopes: &[
        "instagram_basic",
        "instagram_content_publish",
        "pages_show_list",
        "pages_read_engagement",
        "business_management",
    ],
    scope_separator: ",",
    uses_pkce: false,
    client_id_param: "client_id",
    client_auth: ClientAuth::Body,
    extra_authorize_params: &[],
    supports_refresh: false,
    default_access_lifetime: Some(60 * 24 * 3600),
    credential_names: ("FACEBOOK_APP_ID", "FACEBOOK_APP_SECRET"),
};

pub const RULES: Rules = Rules {
    max_chars: 2200,
    text: None,
    needs_media: true,
    max_images: 1,
    max_videos: 0,
    image_types: &["image/jpeg"],
    video_types: &[],
    max_image_bytes: 8 * MB,
    max_video_bytes: 0,
    // content_publishing_limit: 50 API-published posts in a moving 24 hours.
    posting_limit: Some(PostingLimit {
        posts: 50,
        window_seconds: 24 * 3600,
    }),
    options: |_| {},
};

pub const PARTS: Parts = Parts {
    spec: &SPEC,
    api: &oauth::Instagram,
    publisher: &publish::PUBLISHER,
    rules: &RULES,
    creator_info: None,
};
