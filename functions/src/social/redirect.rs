//! Where the browser may be sent after a connection: `OAUTH_REDIRECT_ALLOWLIST`, a comma-
//! separated list of absolute URLs. A target is allowed when, once parsed and normalized, it has
//! an entry's scheme, host and port and its path is the entry's path or below it (on a segment
//! boundary). Relative and scheme-relative targets (`//evil`), user-info tricks
//! (`https://app.example@evil`), backslashes, control characters and any other scheme or host
//! are refused, so the callback is no open redirect.

use url::Url;

#[derive(Clone, Debug, Default)]
pub struct RedirectAllowlist(Vec<Url>);

const MAX_TARGET_CHARS: usize = 2000;

impl RedirectAllowlist {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let entries = raw
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                let url =
                    Url::parse(entry).map_err(|_| format!("{entry} is not an absolute URL"))?;
                let plain = url.has_host()
                    && url.username().is_empty()
                    && url.password().is_none()
                    && url.query().is_none()
                    && url.fragment().is_none();
                plain
                    .then_some(url)
                    .ok_or_else(|| format!("{entry} must be scheme://host[:port][/path] only"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self(entries))
    }

    /// The normalized target if it is allowed.
    pub fn check(&self, target: &str) -> Option<String> {
        if target.len() > MAX_TARGET_CHARS
            || target
                .chars()
                .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        {
            return None;
        }
        let url = Url::parse(target).ok()?;
        if !url.username().is_empty() || url.password().is_some() || !url.has_host() {
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
            "https://app.pixa.example/settings/connections, http://127.0.0.1:3000/, pixa://oauth",
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
        ] {
            assert!(RedirectAllowlist::parse(bad).is_err(), "{bad}");
        }
    }
}
