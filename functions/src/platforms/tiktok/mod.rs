//! TikTok: its OAuth constants (`SPEC`), how it connects (`oauth`) and how it posts (`publish`).

pub mod oauth;
pub mod publish;

use super::Parts;
use crate::social::{ClientAuth, Platform, Spec};
use oauth::{AUTHORIZE, TOKEN};

pub const SPEC: Spec = Spec {
    platform: Platform::Tiktok,
    name: "tiktok",
    authorize_endpoint: AUTHORIZE,
    token_endpoint: TOKEN,
    scopes: &["user.info.basic", "video.publish", "video.upload"],
    scope_separator: ",",
    uses_pkce: true,
    client_id_param: "client_key",
    client_auth: ClientAuth::Body,
    extra_authorize_params: &[],
    supports_refresh: true,
    default_access_lifetime: Some(86_400),
    credential_names: ("TIKTOK_CLIENT_KEY", "TIKTOK_CLIENT_SECRET"),
};

pub const PARTS: Parts = Parts {
    spec: &SPEC,
    api: &oauth::Tiktok,
    publisher: &publish::PUBLISHER,
};
