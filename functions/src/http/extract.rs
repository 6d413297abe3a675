//! Reading a request: its query, its JSON body and the values in them, with errors that name
//! the field.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};
use serde_json::{Map, Value};

use super::Request;
use crate::error::ApiError;

pub fn invalid(field: &str, reason: &str) -> ApiError {
    ApiError::InvalidRequest {
        field: field.to_owned(),
        reason: reason.to_owned(),
    }
}

/// A JSON object request body with field accessors whose errors name the field.
pub struct JsonBody(pub Map<String, Value>);

impl JsonBody {
    pub fn parse(bytes: &[u8]) -> Result<Self, ApiError> {
        // The size is capped before the body is read (`router::Route::max_body`).
        match serde_json::from_slice(bytes) {
            Ok(Value::Object(fields)) => Ok(Self(fields)),
            _ => Err(invalid("body", "must be a JSON object")),
        }
    }

    pub fn optional_text(&self, field: &str, max_chars: usize) -> Result<Option<&str>, ApiError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text))
                if !text.trim().is_empty() && text.chars().count() <= max_chars =>
            {
                Ok(Some(text))
            }
            Some(_) => Err(invalid(
                field,
                &format!("must be a non-empty string of at most {max_chars} characters"),
            )),
        }
    }

    pub fn required_text(&self, field: &str, max_chars: usize) -> Result<&str, ApiError> {
        self.optional_text(field, max_chars)?
            .ok_or_else(|| invalid(field, "is required"))
    }

    pub fn optional_bool(&self, field: &str) -> Result<Option<bool>, ApiError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(*flag)),
            Some(_) => Err(invalid(field, "must be a boolean")),
        }
    }

    pub fn optional_count(&self, field: &str, min: u64, max: u64) -> Result<Option<u64>, ApiError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value
                .as_u64()
                .filter(|count| (min..=max).contains(count))
                .map(Some)
                .ok_or_else(|| invalid(field, &format!("must be an integer from {min} to {max}"))),
        }
    }

    pub fn optional_uuid(&self, field: &str) -> Result<Option<&str>, ApiError> {
        match self.optional_text(field, 36)? {
            Some(id) if !is_uuid(id) => Err(invalid(field, "must be a UUID")),
            id => Ok(id),
        }
    }

    pub fn optional_object(&self, field: &str) -> Result<Option<&Map<String, Value>>, ApiError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(fields)) => Ok(Some(fields)),
            Some(_) => Err(invalid(field, "must be an object")),
        }
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

    /// The first non-empty value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
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

    fn field_of(error: ApiError) -> String {
        match error {
            ApiError::InvalidRequest { field, .. } => field,
            other => panic!("expected invalid_request, got {other:?}"),
        }
    }

    #[test]
    fn validation_errors_name_the_field() {
        let body = JsonBody::parse(
            br#"{"prompt": "", "numberOfImages": 9, "useGoogleSearch": "yes", "teamId": "x"}"#,
        )
        .unwrap();
        assert_eq!(
            field_of(body.required_text("prompt", 10).unwrap_err()),
            "prompt"
        );
        assert_eq!(
            field_of(body.required_text("missing", 10).unwrap_err()),
            "missing"
        );
        assert_eq!(
            field_of(body.optional_count("numberOfImages", 1, 4).unwrap_err()),
            "numberOfImages"
        );
        assert_eq!(
            field_of(body.optional_bool("useGoogleSearch").unwrap_err()),
            "useGoogleSearch"
        );
        assert_eq!(
            field_of(body.optional_uuid("teamId").unwrap_err()),
            "teamId"
        );
        assert_eq!(field_of(JsonBody::parse(b"[1]").err().unwrap()), "body");
        let long = JsonBody::parse(br#"{"prompt": "abcdefghijk"}"#).unwrap();
        assert_eq!(
            field_of(long.required_text("prompt", 10).unwrap_err()),
            "prompt"
        );
    }

    #[test]
    fn recognises_uuids() {
        assert!(is_uuid("11111111-1111-4111-8111-111111111111"));
        assert!(!is_uuid("11111111-1111-4111-8111-11111111111g"));
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
