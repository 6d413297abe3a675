//! Where a browser may be sent back to an app: an allow-list of absolute URLs per deployment
//! (`OAUTH_REDIRECT_ALLOWLIST` after a connection, `INVITATION_REDIRECT_ALLOWLIST` from an
//! invitation email), comma-separated. An entry is an https URL (a web page or a universal /
//! app link), an http URL on loopback (development), or a native app's own scheme, listed
//! explicitly: `pixa://oauth` or RFC 8252's `com.example.app:/oauth`. A target is allowed when,
//! once parsed and normalized, it has an entry's scheme, host and port and its path is the
//! entry's path or below it (on a segment boundary). Relative and scheme-relative targets
//! (`//evil`), user-info tricks (`https://app.example@evil`), backslashes, control characters,
//! schemes not written in lowercase and any other scheme or host are refused, so no redirect
//! is an open one.

use url::Url;

use crate::config::ConfigError;

#[derive(Clone, Debug, Default)]
pub struct RedirectAllowlist(Vec<Url>);

const MAX_TARGET_CHARS: usize = 2000;

/// Schemes a browser handles itself (runs, reads locally or fetches) instead of handing the
/// address to an app: never a return address, whatever a deployment lists.
const BROWSER_SCHEMES: [&str; 11] = [
    "javascript",
    "data",
    "file",
    "blob",
    "vbscript",
    "about",
    "filesystem",
    "view-source",
    "ws",
    "wss",
    "ftp",
];
const LOOPBACK_HOSTS: [&str; 3] = ["127.0.0.1", "localhost", "[::1]"];

impl RedirectAllowlist {
    /// The deployment setting `name`; unset is an empty list (every target refused).
    pub fn setting(name: &'static str, raw: Option<String>) -> Result<Self, ConfigError> {
        raw.map(|raw| Self::parse(&raw))
            .transpose()
            .map_err(|_| ConfigError::Invalid {
                name,
                reason: "expected comma-separated https://host[:port][/path] URLs, http on \
                         loopback, or an app's own scheme (app://host/path, com.example.app:/path)",
            })
            .map(Option::unwrap_or_default)
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        raw.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                let url =
                    Url::parse(entry).map_err(|_| format!("{entry} is not an absolute URL"))?;
                let plain = url.username().is_empty()
                    && url.password().is_none()
                    && url.query().is_none()
                    && url.fragment().is_none();
                (plain && returnable(&url))
                    .then_some(url)
                    .ok_or_else(|| format!("{entry} is not an allowed kind of return address"))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// The normalized target if it is allowed.
    pub fn check(&self, target: &str) -> Option<String> {
        let scheme_as_written = target.split(':').next().unwrap_or_default();
        if target.len() > MAX_TARGET_CHARS
            || scheme_as_written.chars().any(|c| c.is_ascii_uppercase())
            || target
                .chars()
                .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        {
            return None;
        }
        let url = Url::parse(target).ok()?;
        if !url.username().is_empty() || url.password().is_some() {
            return None;
        }
        let allowed = self.0.iter().any(|entry| {
            entry.scheme() == url.scheme()
                && entry.host_str() == url.host_str()
                && entry.port_or_known_default() == url.port_or_known_default()
                && path_within(entry.path(), url.path())
        });
        allowed.then(|| url.into())
    }
}

/// https anywhere, http on loopback only, or an app's scheme with a host or an absolute path.
fn returnable(entry: &Url) -> bool {
    match entry.scheme() {
        "https" => entry.has_host(),
        "http" => entry
            .host_str()
            .is_some_and(|host| LOOPBACK_HOSTS.contains(&host)),
        scheme => {
            !BROWSER_SCHEMES.contains(&scheme)
                && (entry.has_host() || entry.path().starts_with('/'))
        }
    }
}

fn path_within(prefix: &str, path: &str) -> bool {
    path == prefix
        || (prefix.ends_with('/') && path.starts_with(prefix))
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowlist() -> RedirectAllowlist {
        RedirectAllowlist::parse(
            "https://app.pixa.example/settings/connections, http://127.0.0.1:3000/, pixa://oauth, \
             com.pixa.app:/oauth/done",
        )
        .unwrap()
    }

    #[test]
    fn allows_listed_origins_and_paths_below_them() {
        let list = allowlist();
        for ok in [
            "https://app.pixa.example/settings/connections",
            "https://app.pixa.example/settings/connections/x?tab=1#top",
            "https://APP.pixa.example:443/settings/connections",
            "http://127.0.0.1:3000/anything",
            "pixa://oauth/done",
            "com.pixa.app:/oauth/done",
            "com.pixa.app:/oauth/done/x?confirmation=1",
        ] {
            assert!(list.check(ok).is_some(), "{ok}");
        }
        assert_eq!(
            list.check("https://APP.pixa.example/settings/connections/./a")
                .unwrap(),
            "https://app.pixa.example/settings/connections/a"
        );
    }

    #[test]
    fn refuses_open_redirect_tricks() {
        let list = allowlist();
        for bad in [
            "//evil.example/settings/connections",
            "/settings/connections",
            "https://evil.example/settings/connections",
            "https://app.pixa.example@evil.example/settings/connections",
            "https://user:pw@app.pixa.example/settings/connections",
            "https://app.pixa.example.evil.example/settings/connections",
            "https://app.pixa.example/settings/connectionsX",
            "https://app.pixa.example/settings/connections/../../admin",
            "https://app.pixa.example/settings",
            "http://app.pixa.example/settings/connections",
            "https://app.pixa.example:8443/settings/connections",
            "javascript:alert(1)",
            "https:\\\\evil.example",
            "https://app.pixa.example/settings/connections\n.evil",
            "http://127.0.0.1:3001/",
            "data:text/html,hi",
            "",
            "https://app.pixa.example/settings/connections/ x",
            "https://app.pixa.example/settings/connections/\u{a0}x",
            "https://app.pixa.example/settings/connections/\\x",
            "https://user@app.pixa.example/settings/connections",
            "https://:pw@app.pixa.example/settings/connections",
            // Schemes are compared as written: a mixed-case spelling is a trick, not a client.
            "HTTPS://app.pixa.example/settings/connections",
            "Pixa://oauth/done",
            "JavaScript:alert(1)",
            "javascript://app.pixa.example/settings/connections%0aalert(1)",
            // An app scheme with a host is not the hostless entry, nor the reverse.
            "com.pixa.app://evil.example/oauth/done",
            "com.pixa.app:oauth/done",
            "pixa:/oauth/done",
            "com.pixa.app:/oauth/donex",
            "com.pixa.app:/oauth/done/../../elsewhere",
            "other.app:/oauth/done",
        ] {
            assert!(list.check(bad).is_none(), "{bad}");
        }
        assert!(RedirectAllowlist::default()
            .check("http://127.0.0.1:3000/")
            .is_none());
    }

    #[test]
    fn refuses_targets_longer_than_2000_characters() {
        let list = allowlist();
        let target = |length: usize| {
            let base = "https://app.pixa.example/settings/connections/";
            format!("{base}{}", "a".repeat(length - base.len()))
        };
        assert!(list.check(&target(MAX_TARGET_CHARS)).is_some());
        assert!(list.check(&target(MAX_TARGET_CHARS + 1)).is_none());
    }

    #[test]
    fn rejects_entries_that_are_not_plain_urls() {
        for bad in [
            "app.pixa.example",
            "https://u@app.example/",
            "https://app.example/?a=1",
            "https://:pw@app.example/",
            "https://app.example/#top",
            "mailto:team@app.example",
            // Plain http only on loopback: elsewhere an app's page must be https.
            "http://app.example/",
            "javascript://app.example/",
            "data://app.example/x",
            "file:///etc/",
            "com.example.app:oauth",
        ] {
            assert!(RedirectAllowlist::parse(bad).is_err(), "{bad}");
        }
        for good in [
            "https://app.example/",
            "http://localhost:3000/",
            "http://[::1]/",
            "pixa://oauth",
            "com.example.app:/oauth",
        ] {
            assert!(RedirectAllowlist::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn an_unset_setting_allows_nothing_and_a_bad_one_names_itself() {
        let unset = RedirectAllowlist::setting("X_ALLOWLIST", None).unwrap();
        assert!(unset.check("https://app.example/").is_none());
        let Err(ConfigError::Invalid { name, .. }) =
            RedirectAllowlist::setting("X_ALLOWLIST", Some("http://app.example/".into()))
        else {
            panic!("an http entry off loopback is refused")
        };
        assert_eq!(name, "X_ALLOWLIST");
    }
}
