//! How the social endpoints fail: one stable code per case, a message for users, and the cause
//! for the log only (never a token).

use super::SocialError;

#[derive(Debug)]
pub enum SocialFailure {
    UnknownPlatform,
    /// The platform's app credentials (or the token key ring) are not configured; the cause
    /// names the missing setting.
    NotConfigured(String),
    RedirectNotAllowed,
    /// The callback's `state` is missing, unknown, expired, already used or for another
    /// platform: nothing about it can be trusted, not even where to redirect.
    StateInvalid,
    ConnectionNotFound,
    /// The platform refused the stored grant for good: the team must connect again.
    ReauthRequired,
    /// Another request is refreshing this connection's token and did not finish in time.
    RefreshBusy,
    Platform(SocialError),
    /// A stored token does not open with the configured key ring.
    Undecryptable(String),
    /// The OAuth callback failed after its state was verified: the browser goes back to the
    /// app (`location`) with `connection_status=error&reason=<reason>`, the reason also being
    /// the log's error code.
    Redirected {
        location: String,
        reason: &'static str,
    },
    /// `/complete` failed after its confirmation was verified: the callback's reason as code.
    NotConnected(&'static str),
}

impl SocialFailure {
    pub fn status(&self) -> u16 {
        match self {
            Self::UnknownPlatform | Self::ConnectionNotFound => 404,
            Self::RedirectNotAllowed | Self::StateInvalid => 400,
            Self::ReauthRequired => 409,
            Self::NotConfigured(_) | Self::RefreshBusy => 503,
            Self::Platform(SocialError::Transient { .. }) => 503,
            Self::Platform(_) => 502,
            Self::Undecryptable(_) => 500,
            Self::Redirected { .. } => 302,
            Self::NotConnected("no_account") => 422,
            Self::NotConnected("platform_not_configured" | "server_error") => 503,
            Self::NotConnected(_) => 502,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownPlatform => "unknown_platform",
            Self::NotConfigured(_) => "platform_not_configured",
            Self::RedirectNotAllowed => "redirect_not_allowed",
            Self::StateInvalid => "oauth_state_invalid",
            Self::ConnectionNotFound => "connection_not_found",
            Self::ReauthRequired => "reauth_required",
            Self::RefreshBusy => "token_refresh_busy",
            Self::Platform(SocialError::Transient { .. }) => "platform_unavailable",
            Self::Platform(_) => "platform_error",
            Self::Undecryptable(_) => "server_misconfigured",
            Self::Redirected { reason, .. } | Self::NotConnected(reason) => reason,
        }
    }

    pub fn message(&self) -> &'static str {
        match self {
            Self::UnknownPlatform => {
                "Unknown platform: x, linkedin, facebook, instagram, tiktok, pinterest or youtube."
            }
            Self::NotConfigured(_) => "Connecting this platform is not configured on this server.",
            Self::RedirectNotAllowed => "`redirect_to` is not an allowed return address.",
            Self::StateInvalid => {
                "This sign-in link is invalid, expired or already used. Start connecting again."
            }
            Self::ConnectionNotFound => "No such connection in your teams.",
            Self::ReauthRequired => {
                "The platform no longer accepts this connection: connect the account again."
            }
            Self::RefreshBusy => "The connection's token is being renewed. Try again in a moment.",
            Self::Platform(SocialError::Transient { .. }) => {
                "The platform is unavailable. Try again later."
            }
            Self::Platform(_) => "The platform refused the request.",
            Self::Undecryptable(_) => "The server is misconfigured.",
            Self::Redirected { .. } | Self::NotConnected(_) => "The account was not connected.",
        }
    }

    pub fn cause(&self) -> Option<&str> {
        match self {
            Self::NotConfigured(cause) | Self::Undecryptable(cause) => Some(cause),
            Self::Platform(error) => Some(error.cause()),
            _ => None,
        }
    }

    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::RefreshBusy => Some(1),
            Self::Platform(SocialError::Transient { retry_after, .. }) => *retry_after,
            _ => None,
        }
    }
}

impl From<SocialError> for SocialFailure {
    fn from(error: SocialError) -> Self {
        Self::Platform(error)
    }
}
