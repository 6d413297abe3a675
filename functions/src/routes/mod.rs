pub mod ai;
pub mod assist;
pub mod chat;
pub mod health;
pub mod invitations;
pub mod jobs;
pub mod me;
pub mod openapi;
pub mod posts;
pub mod social;
pub mod storage;

use crate::http::Request;

/// A request's query parameters, decoded.
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub(crate) fn of(request: &Request) -> Self {
        Self::parse(request.query.as_deref().unwrap_or_default())
    }

    pub(crate) fn parse(query: &str) -> Self {
        Self(
            url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// Every `name=value` pair, in order.
    pub(crate) fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// The first non-empty value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    }
}

/// A UUID in its canonical text form (8-4-4-4-12 hex digits).
pub fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode() {
        let query = Query::parse("state=done&since=2026-11-23T10%3A00%3A00%2B01%3A00&x&y=");
        assert_eq!(
            query.pairs(),
            [
                ("state".to_owned(), "done".to_owned()),
                ("since".to_owned(), "2026-11-23T10:00:00+01:00".to_owned()),
                ("x".to_owned(), String::new()),
                ("y".to_owned(), String::new()),
            ]
        );
        assert_eq!(query.get("since"), Some("2026-11-23T10:00:00+01:00"));
        assert_eq!(query.get("y"), None, "an empty value counts as absent");
        assert_eq!(Query::parse("a=%zz%4").get("a"), Some("%zz%4"));
        assert!(Query::parse("").pairs().is_empty());
    }
}
