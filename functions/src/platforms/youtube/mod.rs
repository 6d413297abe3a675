//! YouTube: its OAuth constants (`SPEC`), how it connects (`oauth`) and how it posts (`publish`).

pub mod oauth;
pub mod publish;

use super::Parts;
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

pub const PARTS: Parts = Parts {
    spec: &SPEC,
    api: &oauth::Youtube,
    publisher: &publish::PUBLISHER,
};
