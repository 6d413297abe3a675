//! X: its OAuth constants (`SPEC`), how it connects (`oauth`) and how it posts (`publish`).

pub mod oauth;
pub mod publish;

use super::Parts;
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

pub const PARTS: Parts = Parts {
    spec: &SPEC,
    api: &oauth::X,
    publisher: &publish::PUBLISHER,
};
