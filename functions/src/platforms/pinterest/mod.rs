//! Pinterest: its OAuth constants (`SPEC`), how it connects (`oauth`),
//! how it posts (`publish`) and what a post to it may carry (`RULES`).

pub mod oauth;
pub mod publish;

use super::Parts;
use crate::publishing::rules::{Options, Rules, JPEG_PNG, MB};
use crate::social::{ClientAuth, Platform, Spec};
use oauth::{AUTHORIZE, TOKEN};

pub const SPEC: Spec = Spec {
    platform: Platform::Pinterest,
    name: "pinterest",
    authorize_endpoint: AUTHORIZE,
    token_endpoint: TOKEN,
    scopes: &[
        "boards:read",
        "boards:write",
        "pins:read",
        "pins:write",
        "user_accounts:read",
    ],
    scope_separator: ",",
    uses_pkce: false,
    client_id_param: "client_id",
    client_auth: ClientAuth::Basic,
    extra_authorize_params: &[],
    supports_refresh: true,
    default_access_lifetime: Some(30 * 24 * 3600),
    credential_names: ("PINTEREST_APP_ID", "PINTEREST_APP_SECRET"),
};

/// Pinterest publishes no fixed posting cap (its limits follow app usage): a 429 is retried.
pub const RULES: Rules = Rules {
    max_chars: 500,
    text: None,
    needs_media: true,
    max_images: 1,
    max_videos: 0,
    image_types: JPEG_PNG,
    video_types: &[],
    max_image_bytes: 20 * MB,
    max_video_bytes: 0,
    posting_limit: None,
    options: pin_options,
};

fn pin_options(options: &mut Options) {
    if !options
        .text("boardId")
        .is_some_and(|id| !id.is_empty() && id.len() <= 64)
    {
        options.refuse("boardId", "is required: the board to pin to");
    }
    if options
        .text("title")
        .is_some_and(|title| title.chars().count() > 100)
    {
        options.refuse("title", "must be at most 100 characters");
    }
    if options
        .text("link")
        .is_some_and(|link| !link.starts_with("https://"))
    {
        options.refuse("link", "must be an https URL");
    }
}

pub const PARTS: Parts = Parts {
    spec: &SPEC,
    api: &oauth::Pinterest,
    publisher: &publish::PUBLISHER,
    rules: &RULES,
    creator_info: None,
};
