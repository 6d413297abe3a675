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

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};

use crate::http::router::{
    delete, get, post, put, Auth, Route, IGNORED_BODY, INVITATION_BODY, JSON_BODY,
};
use crate::http::Request;
use crate::{cron, public, user};

/// Every endpoint, with its body limit and who may call it: the one place an endpoint is
/// registered. A test checks it against `openapi.json`.
pub const ROUTES: &[Route] = &[
    get("/healthz", Auth::Always(health::healthz)),
    get("/readyz", public!(health::readyz)),
    get("/v1/me", user!(me::me)),
    get("/openapi.json", Auth::Always(openapi::document)),
    post(
        "/v1/teams/{team_id}/invitations",
        INVITATION_BODY,
        user!(invitations::create),
    ),
    post("/v1/ai/generate-text", JSON_BODY, user!(ai::generate_text)),
    post("/v1/ai/generate-json", JSON_BODY, user!(ai::generate_json)),
    post(
        "/v1/ai/generate-image",
        JSON_BODY,
        user!(ai::generate_image),
    ),
    put("/v1/ai/configs", JSON_BODY, user!(ai::put_config)),
    post("/v1/ai/stream-text", JSON_BODY, user!(ai::stream_text)),
    post(
        "/v1/ai/simulate-feedback",
        JSON_BODY,
        user!(assist::simulate_feedback),
    ),
    post(
        "/v1/ai/generate-audit-plan",
        JSON_BODY,
        user!(assist::audit_plan),
    ),
    post("/v1/ai/captions", JSON_BODY, user!(assist::captions)),
    post("/v1/ai/hashtags", JSON_BODY, user!(assist::hashtags)),
    post("/v1/ai/improve", JSON_BODY, user!(assist::improve)),
    post("/v1/ai/moderate", JSON_BODY, user!(assist::moderate)),
    post("/v1/chat/completions", JSON_BODY, user!(chat::completions)),
    get("/v1/models", user!(chat::models)),
    post(
        "/v1/cron/credits/reset",
        IGNORED_BODY,
        cron!(ai::reset_credits),
    ),
    get("/v1/oauth/{platform}/start", user!(social::start)),
    // The browser comes back from the platform without our token; the state proves who.
    get("/v1/oauth/{platform}/callback", public!(social::callback)),
    post(
        "/v1/oauth/{platform}/complete",
        JSON_BODY,
        user!(social::complete),
    ),
    post(
        "/v1/connections/{connection_id}/verify",
        IGNORED_BODY,
        user!(social::verify),
    ),
    delete(
        "/v1/connections/{connection_id}",
        IGNORED_BODY,
        user!(social::delete),
    ),
    post(
        "/v1/cron/tokens/refresh",
        IGNORED_BODY,
        cron!(social::cron_refresh),
    ),
    post(
        "/v1/cron/tokens/reencrypt",
        IGNORED_BODY,
        cron!(social::cron_reencrypt),
    ),
    post(
        "/v1/posts/{post_id}/schedule",
        JSON_BODY,
        user!(posts::schedule),
    ),
    post(
        "/v1/posts/{post_id}/publish",
        JSON_BODY,
        user!(posts::publish_now),
    ),
    post(
        "/v1/posts/{post_id}/approve",
        JSON_BODY,
        user!(posts::approve),
    ),
    post(
        "/v1/posts/{post_id}/reject",
        JSON_BODY,
        user!(posts::reject),
    ),
    post(
        "/v1/posts/{post_id}/cancel",
        IGNORED_BODY,
        user!(posts::cancel),
    ),
    post("/v1/posts/{post_id}/retry", JSON_BODY, user!(posts::retry)),
    get("/v1/posts/{post_id}/status", user!(posts::status)),
    post("/v1/cron/publish", IGNORED_BODY, cron!(posts::cron_publish)),
    post("/v1/jobs/{job_id}/post", JSON_BODY, user!(posts::from_job)),
    post("/v1/jobs", JSON_BODY, user!(jobs::create)),
    get("/v1/jobs", user!(jobs::list)),
    get("/v1/jobs/{job_id}", user!(jobs::get)),
    post(
        "/v1/jobs/{job_id}/cancel",
        IGNORED_BODY,
        user!(jobs::cancel),
    ),
    post("/v1/jobs/{job_id}/retry", IGNORED_BODY, user!(jobs::retry)),
    post("/v1/jobs/{job_id}/draft", JSON_BODY, user!(jobs::draft)),
    post(
        "/v1/campaigns/{campaign_id}/batches",
        JSON_BODY,
        user!(jobs::create_batch),
    ),
    get(
        "/v1/campaigns/{campaign_id}/batches",
        user!(jobs::list_batches),
    ),
    get("/v1/batches/{batch_id}", user!(jobs::get_batch)),
    post("/v1/cron/jobs/sweep", IGNORED_BODY, cron!(jobs::sweep)),
    post(
        "/v1/cron/storage/cleanup",
        IGNORED_BODY,
        cron!(storage::cleanup),
    ),
];

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

    #[test]
    fn route_table_has_no_duplicates() {
        for (index, route) in ROUTES.iter().enumerate() {
            assert!(
                !ROUTES[index + 1..].contains(route),
                "{route:?} listed twice"
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
