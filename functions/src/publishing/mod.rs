//! Publishing posts to the connected accounts, exactly once.
//!
//! The dispatcher (`dispatch`) claims due destinations under a lease, and for each: gets a
//! fresh access token, reads the media from Storage, and hands the destination to its
//! platform's publisher (one module per platform). A publisher uploads media (invisible to
//! anyone), then calls [`Attempt::intend`], which durably records that the irreversible call is
//! about to happen, then makes that one call. What the call's failure proves decides what
//! follows (`Failure`): only a failure that proves nothing was posted is retried; an ambiguous
//! one is looked up at the platform where its API allows (`find_existing`), otherwise the
//! destination becomes `unconfirmed` and the user decides.

pub mod dispatcher;
pub mod local_time;
pub mod media;
pub mod on_time;
pub mod routes;
pub mod rules;
pub mod store;
pub mod wire;

use futures::future::LocalBoxFuture;
use serde_json::Value;

use crate::error::excerpt;
use crate::infra::outbound::{Call, Method, Reply};
use crate::platforms;
use crate::social::Platform;
use wire::{Unanswered, Wire};

/// A media file read from Storage.
pub struct MediaFile {
    pub mime_type: String,
    /// Shared by the destinations and the upload calls of one post without copies.
    pub bytes: bytes::Bytes,
    /// A short-lived signed URL of the object, for platforms that fetch media themselves
    /// (`Publisher::fetches_media`); `None` when no destination does.
    pub public_url: Option<String>,
}

/// What a publisher sends.
pub struct Content<'a> {
    pub body: &'a str,
    pub media: &'a [MediaFile],
    pub options: &'a Value,
}

/// A post that is live at the platform.
#[derive(Debug, PartialEq, Eq)]
pub struct Published {
    pub external_id: String,
    pub permalink: Option<String>,
}

/// Why a publishing step failed, by what it proves about the post.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Nothing was posted (429, no connection, or a step before the irreversible call):
    /// another attempt may follow, after `retry_after` seconds if the platform said.
    NotPosted {
        code: &'static str,
        message: String,
        platform_status: Option<u16>,
        retry_after: Option<u64>,
    },
    /// The platform refused the access token (401) before posting: refresh once and retry.
    Unauthorized,
    /// The platform refused the post for good (validation, media, duplicate, permissions).
    Refused {
        code: &'static str,
        message: String,
        platform_status: Option<u16>,
    },
    /// The post may or may not be live (timeout, connection lost, 5xx after the request was
    /// accepted): never posted again automatically.
    Ambiguous {
        message: String,
        platform_status: Option<u16>,
    },
    /// The dispatcher lost its lease: another one owns the destination now.
    LeaseLost,
}

impl Failure {
    /// What a platform's answer to a call that posts nothing (uploads, containers) means.
    pub fn before_posting(platform: Platform, answer: &Reply) -> Self {
        if refuses_the_token(answer) {
            return Self::Unauthorized;
        }
        match answer.status {
            429 | 500..=599 => Self::NotPosted {
                code: "platform_unavailable",
                message: format!("{} answered {}", platform.as_str(), answer.status),
                platform_status: Some(answer.status),
                retry_after: answer.retry_after(),
            },
            status => Self::Refused {
                code: "platform_refused",
                message: refusal_message(platform, answer),
                platform_status: Some(status),
            },
        }
    }

    /// What a platform's answer to the irreversible call means: 429 refuses the request; any
    /// 5xx, 503 included (X sometimes answers it after creating the post), may come after the
    /// post was created and is looked up, never taken for "not posted".
    pub fn of_posting(platform: Platform, answer: &Reply) -> Self {
        match answer.status {
            500..=599 => Self::Ambiguous {
                message: format!("{} answered {}", platform.as_str(), answer.status),
                platform_status: Some(answer.status),
            },
            _ => Self::before_posting(platform, answer),
        }
    }

    /// A success before the irreversible call whose answer lacks `missing`: nothing was posted.
    pub fn incomplete_before_posting(platform: Platform, answer: &Reply, missing: &str) -> Self {
        Self::NotPosted {
            code: "platform_unavailable",
            message: format!("{} answered without {missing}", platform.as_str()),
            platform_status: Some(answer.status),
            retry_after: None,
        }
    }

    /// The irreversible call succeeded but its answer lacks `missing` (the post's id): the post
    /// is looked up like any ambiguous one.
    pub fn incomplete_posting(platform: Platform, answer: &Reply, missing: &str) -> Self {
        Self::Ambiguous {
            message: format!("{} answered without {missing}", platform.as_str()),
            platform_status: Some(answer.status),
        }
    }

    /// A call that got no answer, before the irreversible call.
    pub fn unanswered_before_posting(unanswered: Unanswered) -> Self {
        let message = match unanswered {
            Unanswered::NotSent(message) | Unanswered::Unknown(message) => message,
        };
        Self::NotPosted {
            code: "platform_unreachable",
            message,
            platform_status: None,
            retry_after: None,
        }
    }

    /// The irreversible call got no answer: only a connection never opened proves nothing.
    pub fn unanswered_posting(unanswered: Unanswered) -> Self {
        match unanswered {
            Unanswered::NotSent(message) => Self::NotPosted {
                code: "platform_unreachable",
                message,
                platform_status: None,
                retry_after: None,
            },
            Unanswered::Unknown(message) => Self::Ambiguous {
                message,
                platform_status: None,
            },
        }
    }
}

/// Whether the answer refuses the access token: a 401, or the Graph API's `OAuthException`
/// code 190, which Facebook and Instagram answer with 400 (as `social::classify_error` reads it).
fn refuses_the_token(answer: &Reply) -> bool {
    answer.status == 401 || answer.json()["error"]["code"] == 190
}

/// The platform's error text, cut short: its own message helps users fix a refused post.
fn refusal_message(platform: Platform, answer: &Reply) -> String {
    let body = answer.json();
    let detail = [
        &body["detail"],
        &body["message"],
        &body["error"]["message"],
        &body["errors"][0]["message"],
        &body["error"]["error_user_msg"],
    ]
    .into_iter()
    .find_map(Value::as_str)
    .unwrap_or("no reason given");
    format!(
        "{} refused the post ({}): {}",
        platform.as_str(),
        answer.status,
        excerpt(detail)
    )
}

/// One publishing attempt as a publisher sees it: the account, its token, how to send, and the
/// intent to record before the irreversible call.
pub struct Attempt<'a> {
    pub wire: &'a Wire<'a>,
    pub access_token: String,
    /// The platform's id of the connected account (user, page, Instagram account, channel).
    pub account_id: &'a str,
    /// The account's handle, where permalinks need it (TikTok).
    pub account_handle: Option<&'a str>,
    pub(crate) intent: &'a dyn Fn() -> futures::future::LocalBoxFuture<'a, bool>,
    /// Keeps the destination's lease through long uploads; false when it was lost.
    pub(crate) keep_lease: &'a dyn Fn() -> futures::future::LocalBoxFuture<'a, bool>,
}

/// What an unleased attempt's intent and lease checks answer: go ahead.
fn granted<'a>() -> LocalBoxFuture<'a, bool> {
    Box::pin(async { true })
}

impl<'a> Attempt<'a> {
    /// An attempt outside the dispatcher, with no destination whose lease to keep or intent to
    /// record: the operator's one post by hand (`cargo xtask smoke --post`).
    pub fn unleased(
        wire: &'a Wire<'a>,
        access_token: String,
        account_id: &'a str,
        account_handle: Option<&'a str>,
    ) -> Self {
        Self {
            wire,
            access_token,
            account_id,
            account_handle,
            intent: &granted,
            keep_lease: &granted,
        }
    }
}

impl Attempt<'_> {
    /// Records that the irreversible call is next; `LeaseLost` when another dispatcher took
    /// the destination over (then nothing may be sent).
    pub async fn intend(&self) -> Result<(), Failure> {
        if (self.intent)().await {
            Ok(())
        } else {
            Err(Failure::LeaseLost)
        }
    }

    /// Sends a call that posts nothing (renewing the lease first when it is due).
    pub async fn prepare(&self, platform: Platform, call: &Call) -> Result<Reply, Failure> {
        if !(self.keep_lease)().await {
            return Err(Failure::LeaseLost);
        }
        let answer = self
            .wire
            .send(call)
            .await
            .map_err(Failure::unanswered_before_posting)?;
        if answer.succeeded() {
            Ok(answer)
        } else {
            Err(Failure::before_posting(platform, &answer))
        }
    }

    /// Reads JSON with a GET that posts nothing (lookups, statuses).
    pub async fn read(&self, platform: Platform, url: String) -> Result<Value, Failure> {
        let call = Call::new(Method::Get, url, &self.access_token);
        Ok(self.prepare(platform, &call).await?.json())
    }

    /// Records the intent, then sends the irreversible call.
    pub async fn post(&self, platform: Platform, call: &Call) -> Result<Reply, Failure> {
        self.intend().await?;
        let answer = self
            .wire
            .send(call)
            .await
            .map_err(Failure::unanswered_posting)?;
        if answer.succeeded() {
            Ok(answer)
        } else {
            Err(Failure::of_posting(platform, &answer))
        }
    }
}

/// Publishes `content` to `platform` through `attempt`.
pub async fn publish(
    platform: Platform,
    attempt: &Attempt<'_>,
    content: &Content<'_>,
) -> Result<Published, Failure> {
    (platforms::parts(platform).publisher.publish)(attempt, content).await
}

/// Looks for a post an ambiguous attempt may have created, made after `since` (RFC 3339) with
/// this content. `Ok(None)`: not found, or the platform's API cannot tell.
pub async fn find_existing(
    platform: Platform,
    attempt: &Attempt<'_>,
    content: &Content<'_>,
    since: &str,
) -> Result<Option<Published>, Failure> {
    let Some(lookup) = &platforms::parts(platform).publisher.lookup else {
        return Ok(None);
    };
    let listing = attempt
        .prepare(platform, &(lookup.call)(attempt, content, since))
        .await?;
    Ok((lookup.find)(&listing.json(), content, since))
}

/// How posts reach one platform.
pub struct Publisher {
    pub publish: for<'a, 'b, 'c> fn(
        &'a Attempt<'b>,
        &'a Content<'c>,
    ) -> LocalBoxFuture<'a, Result<Published, Failure>>,
    /// `None` where the platform's API cannot find a post an ambiguous attempt may have made.
    pub lookup: Option<Lookup>,
    /// Whether the platform fetches the media itself, from `MediaFile::public_url`.
    pub fetches_media: bool,
}

/// How a platform lists an account's recent posts, and recognises a post among them.
pub struct Lookup {
    /// The listing of posts made since `since` (RFC 3339), or the latest ones.
    pub call: fn(&Attempt<'_>, &Content<'_>, &str) -> Call,
    /// The post in the listing with this content, made since `since`.
    pub find: fn(&Value, &Content<'_>, &str) -> Option<Published>,
}

/// Whether a platform's text is the post's (platforms trim what they store).
pub(crate) fn same_text(text: &Value, body: &str) -> bool {
    text.as_str().map(str::trim) == Some(body.trim())
}

/// Platforms round creation times to the second and their clocks differ from ours a little.
const CLOCK_SLACK_SECONDS: i64 = 120;

/// Whether a platform's creation time (RFC 3339, Graph's `+0000` form, or epoch milliseconds)
/// is at or after `since` (less the clock slack). An unreadable time is not: a post of the same
/// text from well before the attempt must never pass for this one.
pub(crate) fn created_since(created: &Value, since: &str) -> bool {
    use chrono::{DateTime, FixedOffset};
    let parse = |text: &str| {
        DateTime::parse_from_rfc3339(text)
            .or_else(|_| DateTime::<FixedOffset>::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%z"))
            .ok()
    };
    let created = match created {
        Value::Number(millis) => millis
            .as_i64()
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|time| time.fixed_offset()),
        Value::String(text) => parse(text),
        _ => None,
    };
    matches!((created, parse(since)), (Some(created), Some(since))
        if created >= since - chrono::Duration::seconds(CLOCK_SLACK_SECONDS))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lookups_match_text_and_creation_time_in_every_platform_format() {
        let since = "2026-11-23T10:00:00+00:00";
        assert!(created_since(&json!("2026-11-23T10:00:01Z"), since));
        assert!(created_since(&json!("2026-11-23T10:00:01+0000"), since));
        assert!(created_since(&json!(1_795_428_001_000_i64), since));
        assert!(created_since(&json!("2026-11-23T09:59:59+00:00"), since));
        assert!(!created_since(&json!("2026-11-23T09:57:59+00:00"), since));
        assert!(!created_since(&json!(null), since));
        assert!(same_text(&json!(" Launch "), "Launch"));
        assert!(!same_text(&json!(null), "Launch"));
    }

    fn answer(status: u16) -> Reply {
        Reply::new(status, br#"{"detail": "Too Many Requests"}"#.to_vec())
            .with_header("Retry-After", "7")
    }

    #[test]
    fn only_answers_that_prove_nothing_was_posted_allow_a_retry() {
        assert!(matches!(
            Failure::of_posting(Platform::X, &answer(429)),
            Failure::NotPosted {
                retry_after: Some(7),
                ..
            }
        ));
        for status in [500, 502, 503, 504] {
            assert!(matches!(
                Failure::of_posting(Platform::X, &answer(status)),
                Failure::Ambiguous { .. }
            ));
            assert!(matches!(
                Failure::before_posting(Platform::X, &answer(status)),
                Failure::NotPosted { .. }
            ));
        }
        assert_eq!(
            Failure::of_posting(Platform::X, &answer(401)),
            Failure::Unauthorized
        );
        assert!(matches!(
            Failure::of_posting(Platform::X, &answer(403)),
            Failure::Refused {
                code: "platform_refused",
                ..
            }
        ));
        let graph_token_refused = Reply::new(
            400,
            br#"{"error": {"message": "Error validating access token", "type": "OAuthException", "code": 190}}"#.to_vec(),
        );
        assert_eq!(
            Failure::of_posting(Platform::Facebook, &graph_token_refused),
            Failure::Unauthorized,
            "Graph refuses a token with 400 and code 190"
        );
        assert!(matches!(
            Failure::of_posting(
                Platform::Facebook,
                &Reply::new(
                    400,
                    br#"{"error": {"message": "(#100) bad", "code": 100}}"#.to_vec()
                )
            ),
            Failure::Refused { .. }
        ));
        assert!(matches!(
            Failure::unanswered_posting(Unanswered::Unknown("timeout".into())),
            Failure::Ambiguous { .. }
        ));
        assert!(matches!(
            Failure::unanswered_posting(Unanswered::NotSent("refused".into())),
            Failure::NotPosted { .. }
        ));
    }
}
