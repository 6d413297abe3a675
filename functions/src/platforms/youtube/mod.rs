//! YouTube: its OAuth constants (`SPEC`), how it connects (`oauth`),
//! how it posts (`publish`) and what a post to it may carry (`RULES`).

pub mod oauth;
pub mod publish;

use serde_json::Value;

use super::Parts;
use crate::publishing::rules::{Options, Rules, MB, MP4_MOV};
use crate::social::{ClientAuth, Platform, Spec};
use oauth::{AUTHORIZE, TOKEN};

pub const SPEC: Spec = Spec {
    platform: Platform::Youtube,
    name: "youtube",
    authorize_endpoint: AUTHORIZE,
    token_endpoint: TOKEN,
    scopes: &[
        "https://www.googleapis.com/auth/youtube.upload",
        "https://www.googleapis.com/auth/youtube.readonly",
    ],
    scope_separator: " ",
    uses_pkce: true,
    client_id_param: "client_id",
    client_auth: ClientAuth::Body,
    extra_authorize_params: &[
        ("access_type", "offline"),
        ("prompt", "consent"),
        ("include_granted_scopes", "true"),
    ],
    supports_refresh: true,
    default_access_lifetime: Some(3600),
    credential_names: ("GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET"),
};

/// The upload quota is per app, not per channel: no per-account cap, a 429 is retried.
pub const RULES: Rules = Rules {
    max_chars: 5000,
    text: Some(description_problem),
    needs_media: true,
    max_images: 0,
    max_videos: 1,
    image_types: &[],
    video_types: MP4_MOV,
    max_image_bytes: 0,
    max_video_bytes: 4096 * MB,
    posting_limit: None,
    options: video_options,
};

/// The post's text is the video's description: YouTube refuses one with `<` or `>`
/// (`invalidDescription`) and counts its limit in UTF-8 bytes.
fn description_problem(body: &str) -> Option<(&'static str, String)> {
    if body.contains(['<', '>']) {
        Some((
            "invalid_text",
            "refuses < and > in a video's description".into(),
        ))
    } else if body.len() > 5000 {
        Some((
            "too_long",
            format!("allows at most 5000 bytes of UTF-8 ({} given)", body.len()),
        ))
    } else {
        None
    }
}

fn video_options(options: &mut Options) {
    options.one_of("privacyStatus", &["public", "unlisted", "private"], true);
    match options.text("title") {
        Some(title)
            if !title.trim().is_empty()
                && title.chars().count() <= 100
                && !title.contains(['<', '>']) => {}
        _ => options.refuse("title", "is required: up to 100 characters, without < or >"),
    }
    if options
        .text("categoryId")
        .is_some_and(|id| !id.bytes().all(|b| b.is_ascii_digit()))
    {
        options.refuse("categoryId", "must be a YouTube category id (digits)");
    }
    match options.get("tags") {
        None | Some(Value::Null) => {}
        Some(Value::Array(tags))
            if tags.iter().all(Value::is_string)
                && tags
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|tag| tag.chars().count())
                    .sum::<usize>()
                    <= 500 => {}
        _ => options.refuse("tags", "must be strings of 500 characters in all"),
    }
}

pub const PARTS: Parts = Parts {
    spec: &SPEC,
    api: &oauth::Youtube,
    publisher: &publish::PUBLISHER,
    rules: &RULES,
    creator_info: None,
};
