//! LinkedIn: its OAuth constants (`SPEC`), how it connects (`oauth`) and how it posts (`publish`).

pub mod oauth;
pub mod publish;

use super::Parts;
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

pub const PARTS: Parts = Parts {
    spec: &SPEC,
    api: &oauth::Linkedin,
    publisher: &publish::PUBLISHER,
};
