//! Reading a request: its query, its JSON body and the values in them, with errors that name
//! the field.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::Request;
use crate::error::ApiError;
use crate::ids::Id;

pub fn invalid(field: &str, reason: &str) -> ApiError {
    ApiError::InvalidRequest {
        field: field.to_owned(),
        reason: reason.to_owned(),
    }
}

/// The request body `bytes` as a `T`: a JSON object whose fields are `T`'s. A refusal names the
/// field by its JSON path (`destinations[0].connectionId`) and says the rule it broke, never
/// the value sent. Fields `T` does not name are ignored unless `T` denies unknown fields.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // The size is capped before the body is read (`router::Route::max_body`); read as a value
    // first so that only an object is taken (serde would read an array as a struct's fields
    // in order) and refusals carry no position in the text.
    let object = match serde_json::from_slice(bytes) {
        Ok(object @ Value::Object(_)) => object,
        _ => return Err(invalid("body", "must be a JSON object")),
    };
    serde_path_to_error::deserialize(object).map_err(refusal)
}

/// A decoding error as the API words it.
fn refusal(error: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = match error.path().to_string() {
        root if root == "." => String::new(),
        path => path,
    };
    let message = error.into_inner().to_string();
    let at = |name: &str| match path.as_str() {
        "" => name.to_owned(),
        parent => format!("{parent}.{name}"),
    };
    // serde's own wording: "missing field `x`", "unknown field `x`, expected …", and
    // "<what was sent>, expected <rule>" (a wrong type, an unknown variant, a wrong length).
    if let Some(name) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        return invalid(&at(name), "is required");
    }
    let field = if path.is_empty() { "body" } else { &path };
    if message.starts_with("unknown field `") {
        return invalid(field, "is not a known field");
    }
    match message.rsplit_once(", expected ") {
        Some((_, expected)) => invalid(field, &format!("must be {}", api_words(expected))),
        None => invalid(field, &message),
    }
}

/// serde's names for JSON types in the API's words.
fn api_words(expected: &str) -> &str {
    match expected {
        "a map" => "an object",
        // A unit enum (its variant names are the strings it takes).
        "string or map" => "a string",
        struct_name if struct_name.starts_with("struct ") => "an object",
        other => other,
    }
}

/// A request's query parameters, decoded.
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn of(request: &Request) -> Self {
        Self::parse(request.query.as_deref().unwrap_or_default())
    }

    pub fn parse(query: &str) -> Self {
        Self(
            url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// Every `name=value` pair, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// The first non-empty value of `name`, as an id.
    pub fn id<Of>(&self, name: &str) -> Result<Option<Id<Of>>, ApiError> {
        self.get(name).map(|text| query_id(name, text)).transpose()
    }

    /// The first non-empty value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    }
}

/// `text`, the value of query parameter `name`, as an id.
pub fn query_id<Of>(name: &str, text: &str) -> Result<Id<Of>, ApiError> {
    text.parse().map_err(|_| invalid(name, "must be a UUID"))
}

/// An RFC 3339 time with an offset (`2026-11-23T10:00:00+01:00`), as UTC; `None` when it is
/// not one, or falls outside the years 1-9999 that the database and every client can hold.
pub fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    within_years(DateTime::parse_from_rfc3339(text).ok()?.to_utc())
}

/// A date (`2026-11-23`, its midnight UTC) or an RFC 3339 time, as [`parse_instant`].
pub fn parse_date_or_instant(text: &str) -> Option<DateTime<Utc>> {
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(date) => within_years(date.and_time(NaiveTime::MIN).and_utc()),
        Err(_) => parse_instant(text),
    }
}

fn within_years(instant: DateTime<Utc>) -> Option<DateTime<Utc>> {
    (1..=9999).contains(&instant.year()).then_some(instant)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ConnectionId;
    use crate::valid::{Count, List, Text};
    use serde::Deserialize;
    use serde_json::Map;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)] // Read by the decoder only.
    struct Post {
        prompt: Text<10>,
        count: Option<Count<1, 4>>,
        draft: Option<bool>,
        #[serde(default)]
        destinations: Option<List<Destination, 1, 2>>,
        tone: Option<Tone>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    #[allow(dead_code)]
    struct Destination {
        connection_id: ConnectionId,
        options: Option<Map<String, Value>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Tone {
        Warm,
        Dry,
    }

    /// The field and the message of a refusal of `body`.
    fn refused(body: &[u8]) -> (String, String) {
        let error = decode::<Post>(body).unwrap_err();
        let message = error.message();
        match error {
            ApiError::InvalidRequest { field, .. } => (field, message),
            other => panic!("expected invalid_request, got {other:?}"),
        }
    }

    const ID: &str = "11111111-1111-4111-8111-111111111111";

    #[test]
    fn a_valid_body_decodes_and_unknown_fields_are_ignored() {
        let body = format!(
            r#"{{"prompt": "hi", "count": 4, "draft": null, "extra": [1],
                 "destinations": [{{"connectionId": "{ID}", "options": {{"a": 1}}}}], "tone": "dry"}}"#
        );
        let post: Post = decode(body.as_bytes()).unwrap();
        assert_eq!(&*post.prompt, "hi");
        assert_eq!(post.count.map(Count::get), Some(4));
        assert_eq!(post.draft, None);
        assert_eq!(post.destinations.unwrap()[0].connection_id.as_str(), ID);
        assert!(matches!(post.tone, Some(Tone::Dry)));
    }

    #[test]
    fn a_refusal_names_the_field_by_its_path_and_the_rule() {
        let with = |more: &str| format!(r#"{{"prompt": "hi", {more}}}"#);
        for (body, field, message) in [
            (
                with(r#""destinations": [{"connectionId": "x"}]"#),
                "destinations[0].connectionId",
                "`destinations[0].connectionId` must be a UUID.",
            ),
            (
                with(&format!(
                    r#""destinations": [{{"connectionId": "{ID}"}}, {{"connectionId": "{ID}", "options": []}}]"#
                )),
                "destinations[1].options",
                "`destinations[1].options` must be an object.",
            ),
            (
                with(r#""destinations": [{}]"#),
                "destinations[0].connectionId",
                "`destinations[0].connectionId` is required.",
            ),
            (
                with(&format!(
                    r#""destinations": [{{"connectionId": "{ID}", "tag": 1}}]"#
                )),
                "destinations[0].tag",
                "`destinations[0].tag` is not a known field.",
            ),
            (
                with(r#""destinations": ["x"]"#),
                "destinations[0]",
                "`destinations[0]` must be an object.",
            ),
            (
                with(r#""destinations": []"#),
                "destinations",
                "`destinations` must be an array of 1 to 2 items.",
            ),
            (
                with(r#""destinations": {"0": 1}"#),
                "destinations",
                "`destinations` must be an array of 1 to 2 items.",
            ),
            (
                with(r#""draft": "yes""#),
                "draft",
                "`draft` must be a boolean.",
            ),
            (
                with(r#""count": 5"#),
                "count",
                "`count` must be an integer from 1 to 4.",
            ),
            (
                with(r#""tone": "sly""#),
                "tone",
                "`tone` must be `warm` or `dry`.",
            ),
            (with(r#""tone": 3"#), "tone", "`tone` must be a string."),
            (r#"{}"#.to_owned(), "prompt", "`prompt` is required."),
            (
                r#"{"prompt": "   "}"#.to_owned(),
                "prompt",
                "`prompt` must be a non-empty string of at most 10 characters.",
            ),
        ] {
            assert_eq!(
                refused(body.as_bytes()),
                (field.to_owned(), message.to_owned()),
                "{body}"
            );
        }
    }

    #[test]
    fn the_value_sent_is_never_repeated_in_the_message() {
        for more in [
            r#""draft": "secret-token""#,
            r#""tone": "secret-token""#,
            r#""count": "secret-token""#,
            r#""destinations": "secret-token""#,
            r#""destinations": [{"connectionId": "secret-token"}]"#,
            r#""destinations": [{"connectionId": {"secret-token": 1}}]"#,
        ] {
            let (_, message) = refused(format!(r#"{{"prompt": "hi", {more}}}"#).as_bytes());
            assert!(!message.contains("secret"), "{more}: {message}");
        }
    }

    #[test]
    fn hostile_bodies_are_refused_as_a_whole_or_at_their_field() {
        let huge = |number: &str| format!(r#"{{"prompt": "hi", "count": {number}}}"#);
        for number in ["99999999999999999999999", "-1", "2.0", "1e3"] {
            assert_eq!(refused(huge(number).as_bytes()).0, "count", "{number}");
        }
        let deep = format!(
            r#"{{"prompt": "hi", "x": {}{}}}"#,
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        let many = format!(
            r#"{{"prompt": "hi", "destinations": [{}]}}"#,
            vec![format!(r#"{{"connectionId": "{ID}"}}"#); 3].join(",")
        );
        assert_eq!(refused(many.as_bytes()).0, "destinations");
        for body in [
            &b"[1]"[..],
            b"\"prompt\"",
            b"5",
            b"null",
            b"",
            b"{\"prompt\": \"hi\"} trailing",
            b"{\"prompt\": \"\xff\xfe\"}",
            b"{\"prompt\": \"hi\", \"count\": 1e400}",
            deep.as_bytes(),
        ] {
            assert_eq!(
                refused(body),
                (
                    "body".to_owned(),
                    "`body` must be a JSON object.".to_owned()
                ),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn instants_are_real_times_in_the_years_the_database_holds() {
        for (text, utc) in [
            ("2026-11-23T10:00:00Z", "2026-11-23T10:00:00+00:00"),
            (
                "2026-11-23T10:00:00.250+01:00",
                "2026-11-23T09:00:00.250+00:00",
            ),
            ("2026-11-23 10:00:00-05:30", "2026-11-23T15:30:00+00:00"),
            ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59+00:00"),
        ] {
            assert_eq!(
                parse_instant(text).map(|t| t.to_rfc3339()).as_deref(),
                Some(utc)
            );
        }
        for bad in [
            "2026-13-45T10:00:00Z",
            "2026-02-30T10:00:00Z",
            "2026-11-23T25:00:00Z",
            "2026-11-23T10:00:00",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59-01:00",
            "2026-11-23",
            "",
        ] {
            assert_eq!(parse_instant(bad), None, "{bad}");
        }
        assert_eq!(
            parse_date_or_instant("2026-11-23")
                .map(|t| t.to_rfc3339())
                .as_deref(),
            Some("2026-11-23T00:00:00+00:00")
        );
        for bad in [
            "2026-13-45",
            "2026-02-29",
            "0000-01-01",
            "+10000-01-01",
            "20261123",
        ] {
            assert_eq!(parse_date_or_instant(bad), None, "{bad}");
        }
    }

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
