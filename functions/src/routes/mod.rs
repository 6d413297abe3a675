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
        let query = request.query.as_deref().unwrap_or_default();
        Self(
            url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
        )
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
