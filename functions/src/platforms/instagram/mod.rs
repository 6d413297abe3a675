//! Instagram: its OAuth constants (`SPEC`), how it connects (`oauth`) and how it posts (`publish`).

pub mod oauth;
pub mod publish;

use super::facebook::oauth::{AUTHORIZE, TOKEN};
use super::Parts;
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

pub const PARTS: Parts = Parts {
    spec: &SPEC,
    api: &oauth::Instagram,
    publisher: &publish::PUBLISHER,
};
