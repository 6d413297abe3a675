//! LinkedIn: its OAuth constants (`SPEC`), how it connects (`oauth`),
//! how it posts (`publish`) and what a post to it may carry (`RULES`).

pub mod oauth;
pub mod publish;

use super::Parts;
use crate::publishing::rules::{PostingLimit, Rules, MB};
use crate::social::{ClientAuth, Platform, Spec};
use oauth::{AUTHORIZE, TOKEN};

pub const SPEC: Spec = Spec {
    platform: Platform::Linkedin,
    name: "linkedin",
    authorize_endpoint: AUTHORIZE,
    token_endpoint: TOKEN,
    scopes: &["openid", "profile", "email", "w_member_social"],
    scope_separator: " ",
    uses_pkce: false,
    client_id_param: "client_id",
    client_auth: ClientAuth::Body,
    extra_authorize_params: &[],
    supports_refresh: true,
    default_access_lifetime: Some(60 * 24 * 3600),
    credential_names: ("LINKEDIN_CLIENT_ID", "LINKEDIN_CLIENT_SECRET"),
};

pub const RULES: Rules = Rules {
    max_chars: 3000,
    text: None,
    needs_media: false,
    max_images: 1,
    max_videos: 0,
    image_types: &["image/jpeg", "image/png", "image/gif"],
    video_types: &[],
    max_image_bytes: 36 * MB,
    max_video_bytes: 0,
    // Member posts: 150 a day.
    posting_limit: Some(PostingLimit {
        posts: 150,
        window_seconds: 24 * 3600,
    }),
    options: |options| options.one_of("visibility", &["PUBLIC", "CONNECTIONS"], false),
};

pub const PARTS: Parts = Parts {
    spec: &SPEC,
    api: &oauth::Linkedin,
    publisher: &publish::PUBLISHER,
    rules: &RULES,
    creator_info: None,
};
