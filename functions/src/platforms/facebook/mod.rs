//! Facebook: its OAuth constants (`SPEC`), how it connects (`oauth`),
//! how it posts (`publish`) and what a post to it may carry (`RULES`).

pub mod oauth;
pub mod publish;

use super::Parts;
use crate::publishing::rules::{Rules, MB, WEB_IMAGES};
use crate::social::{ClientAuth, Platform, Spec};
use oauth::{AUTHORIZE, TOKEN};

pub const SPEC: Spec = Spec {
    platform: Platform::Facebook,
    name: "facebook",
    authorize_endpoint: AUTHORIZE,
    token_endpoint: TOKEN,
    scopes: &[
        "pages_show_list",
        "pages_manage_posts",
        "pages_read_engagement",
    ],
    scope_separator: ",",
    uses_pkce: false,
    client_id_param: "client_id",
    client_auth: ClientAuth::Body,
    extra_authorize_params: &[],
    supports_refresh: false,
    default_access_lifetime: None,
    credential_names: ("FACEBOOK_APP_ID", "FACEBOOK_APP_SECRET"),
};

/// Pages publish no fixed posting cap (their limits follow app usage): a busy Page's 429 is
/// retried.
pub const RULES: Rules = Rules {
    max_chars: 63_206,
    text: None,
    needs_media: false,
    max_images: 1,
    max_videos: 0,
    image_types: WEB_IMAGES,
    video_types: &[],
    max_image_bytes: 10 * MB,
    max_video_bytes: 0,
    posting_limit: None,
    options: |_| {},
};

pub const PARTS: Parts = Parts {
    spec: &SPEC,
    api: &oauth::Facebook,
    publisher: &publish::PUBLISHER,
    rules: &RULES,
    creator_info: None,
};
