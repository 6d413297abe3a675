//! Facebook: its OAuth constants (`SPEC`), how it connects (`oauth`) and how it posts (`publish`).

pub mod oauth;
pub mod publish;

use super::Parts;
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

pub const PARTS: Parts = Parts {
    spec: &SPEC,
    api: &oauth::Facebook,
    publisher: &publish::PUBLISHER,
};
