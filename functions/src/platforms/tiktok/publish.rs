//! TikTok (Content Posting API, direct post): the creator's info is read first
//! (`POST /v2/post/publish/creator_info/query/`): the post's `privacy_level` must be one of the
//! `privacy_level_options` it lists (a private account offers no `PUBLIC_TO_EVERYONE`), or TikTok
//! refuses the init (`privacy_level_option_mismatch`), so a level the account does not offer
//! fails the destination before anything is sent. `POST /v2/post/publish/video/init/` creates the
//! post job (`publish_id`, `upload_url`), so it is the irreversible call; the video's bytes are
//! `PUT` to `upload_url` with `Content-Range` (chunks of at most 64 MB), and TikTok publishes
//! once they are all there. The job is then polled (`POST /v2/post/publish/status/fetch/`)
//! until `PUBLISH_COMPLETE` (`FAILED`: refused). TikTok answers errors as
//! `{"error": {"code", "message"}}` (`"ok"` on success). Nothing can be looked up without the
//! `publish_id`, so an ambiguous init, or a job whose outcome never shows, is `unconfirmed`.
//! Docs: https://developers.tiktok.com/doc/content-posting-api-reference-direct-post,
//! https://developers.tiktok.com/doc/content-posting-api-reference-query-creator-info,
//! https://developers.tiktok.com/doc/content-posting-api-media-transfer-guide,
//! https://developers.tiktok.com/doc/content-posting-api-reference-get-video-status

use std::time::Duration;

use serde_json::{json, Value};

use crate::error::excerpt;
use crate::infra::clock::sleep;
use crate::infra::outbound::{Call, Method, Reply};
use crate::publishing::wire::Unanswered;
use crate::publishing::{Attempt, Content, Failure, MediaFile, Published, Publisher};
use crate::social::Platform;

use super::creator::creator_info_call;

const INIT: &str = "https://open.tiktokapis.com/v2/post/publish/video/init/";
const STATUS: &str = "https://open.tiktokapis.com/v2/post/publish/status/fetch/";
const MB: u64 = 1024 * 1024;
/// TikTok takes chunks of 5 to 64 MB (the last up to 128 MB); a smaller video is one chunk.
const MAX_CHUNK: u64 = 64 * MB;
/// Processing and moderation usually end within a minute (TikTok allows 30 reads a minute).
const POLLS: u32 = 45;
const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// `(chunk_size, total_chunk_count)` for a video of `size` bytes: full chunks, the remainder
/// joining the last one.
pub fn chunks(size: u64) -> (u64, u64) {
    if size <= MAX_CHUNK {
        (size, 1)
    } else {
        (MAX_CHUNK, size / MAX_CHUNK)
    }
}

/// The privacy level the post asks for.
fn privacy_level<'a>(content: &'a Content<'_>) -> &'a str {
    content
        .options
        .get("privacyLevel")
        .and_then(Value::as_str)
        .unwrap_or("SELF_ONLY")
}

/// Refuses a privacy level the creator's info does not offer (`data.privacy_level_options`).
pub fn check_privacy_level(creator_info: &Value, content: &Content<'_>) -> Result<(), Failure> {
    let offered: Vec<&str> = creator_info["data"]["privacy_level_options"]
        .as_array()
        .map(|options| options.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let wanted = privacy_level(content);
    if offered.contains(&wanted) {
        return Ok(());
    }
    Err(Failure::Refused {
        code: "invalid_option",
        message: format!(
            "this tiktok account does not offer privacyLevel {wanted} (it offers: {})",
            offered.join(", ")
        ),
        platform_status: None,
    })
}

pub fn init_call(access_token: &str, content: &Content<'_>, video: &MediaFile) -> Call {
    let flag = |name: &str| {
        content
            .options
            .get(name)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    let size = video.bytes.len() as u64;
    let (chunk_size, total_chunk_count) = chunks(size);
    Call::new(Method::Post, INIT, access_token).json(json!({
        "post_info": {
            "title": content.body,
            "privacy_level": privacy_level(content),
            "disable_comment": flag("disableComment"),
            "disable_duet": flag("disableDuet"),
            "disable_stitch": flag("disableStitch"),
        },
        "source_info": {
            "source": "FILE_UPLOAD",
            "video_size": size,
            "chunk_size": chunk_size,
            "total_chunk_count": total_chunk_count,
        },
    }))
}

/// The upload calls: one `PUT` a chunk, each with its byte range.
pub fn upload_calls(upload_url: &str, video: &MediaFile) -> Vec<Call> {
    let size = video.bytes.len() as u64;
    let (chunk_size, count) = chunks(size);
    (0..count)
        .map(|index| {
            let start = index * chunk_size;
            let end = if index + 1 == count {
                size
            } else {
                start + chunk_size
            };
            Call::unauthenticated(Method::Put, upload_url)
                .bytes(
                    &video.mime_type,
                    video.bytes.slice(start as usize..end as usize),
                )
                .header(
                    "Content-Range",
                    format!("bytes {start}-{}/{size}", end.saturating_sub(1)),
                )
        })
        .collect()
}

/// A 2xx answer whose `error.code` is not `ok` is a refusal too.
fn refused_in_body(answer: &Reply) -> Option<Failure> {
    let body = answer.json();
    let code = body["error"]["code"].as_str()?;
    if code == "ok" {
        return None;
    }
    let message = format!(
        "tiktok refused the post ({code}): {}",
        excerpt(body["error"]["message"].as_str().unwrap_or_default())
    );
    Some(match code {
        "access_token_invalid" => Failure::Unauthorized,
        "rate_limit_exceeded" => Failure::NotPosted {
            code: "platform_unavailable",
            message,
            platform_status: Some(answer.status),
            retry_after: answer.retry_after(),
        },
        _ => Failure::Refused {
            code: "platform_refused",
            message,
            platform_status: Some(answer.status),
        },
    })
}

/// What a status answer says of the job.
#[derive(Debug, PartialEq, Eq)]
pub enum Job {
    Published(Published),
    Processing,
    Failed(String),
}

pub fn job_status(answer: &Reply, publish_id: &str, handle: Option<&str>) -> Job {
    let body = answer.json();
    let data = &body["data"];
    match data["status"].as_str() {
        Some("PUBLISH_COMPLETE") => {
            // TikTok's field name; ids are numbers, one per public post.
            let post_id = data["publicaly_available_post_id"]
                .as_array()
                .and_then(|ids| ids.first())
                .and_then(|id| match id {
                    Value::Number(n) => Some(n.to_string()),
                    Value::String(s) => Some(s.clone()),
                    _ => None,
                });
            Job::Published(match post_id {
                Some(id) => Published {
                    permalink: handle
                        .map(|handle| format!("https://www.tiktok.com/@{handle}/video/{id}")),
                    external_id: id,
                },
                // Private posts have no public id: the job names the post.
                None => Published {
                    external_id: publish_id.to_owned(),
                    permalink: None,
                },
            })
        }
        Some("FAILED") => Job::Failed(
            data["fail_reason"]
                .as_str()
                .unwrap_or("no reason given")
                .to_owned(),
        ),
        _ => Job::Processing,
    }
}

fn unconfirmed(publish_id: &str, why: &str) -> Failure {
    Failure::Ambiguous {
        message: format!("tiktok {why} (publish id {publish_id})"),
        platform_status: None,
    }
}

pub async fn publish(attempt: &Attempt<'_>, content: &Content<'_>) -> Result<Published, Failure> {
    let platform = Platform::Tiktok;
    let video = content.media.first().ok_or_else(|| Failure::Refused {
        code: "media_missing",
        message: "tiktok posts need a video".into(),
        platform_status: None,
    })?;
    let creator = attempt
        .prepare(platform, &creator_info_call(&attempt.access_token))
        .await?;
    if let Some(failure) = refused_in_body(&creator) {
        return Err(failure);
    }
    check_privacy_level(&creator.json(), content)?;
    let answer = attempt
        .post(platform, &init_call(&attempt.access_token, content, video))
        .await?;
    if let Some(failure) = refused_in_body(&answer) {
        return Err(failure);
    }
    let body = answer.json();
    let (Some(publish_id), Some(upload_url)) = (
        body["data"]["publish_id"].as_str(),
        body["data"]["upload_url"].as_str(),
    ) else {
        return Err(Failure::incomplete_posting(
            platform,
            &answer,
            "publish_id and upload_url",
        ));
    };
    for call in upload_calls(upload_url, video) {
        match attempt.wire.send(&call).await {
            Ok(answer) if answer.succeeded() => {}
            // A refused chunk leaves the job without its video: it never goes live.
            Ok(answer) => return Err(Failure::before_posting(platform, &answer)),
            Err(Unanswered::NotSent(message)) => {
                return Err(Failure::unanswered_before_posting(Unanswered::NotSent(
                    message,
                )))
            }
            // The chunk may have arrived: only the job's status can tell.
            Err(Unanswered::Unknown(_)) => break,
        }
    }
    wait_for_job(attempt, publish_id).await
}

/// After the upload every failure is ambiguous: the video may be live.
async fn wait_for_job(attempt: &Attempt<'_>, publish_id: &str) -> Result<Published, Failure> {
    let call = Call::new(Method::Post, STATUS, &attempt.access_token)
        .json(json!({ "publish_id": publish_id }));
    for _ in 0..POLLS {
        sleep(POLL_INTERVAL).await;
        let answer = match attempt.wire.send(&call).await {
            Ok(answer) if answer.succeeded() && refused_in_body(&answer).is_none() => answer,
            _ => continue,
        };
        match job_status(&answer, publish_id, attempt.account_handle) {
            Job::Published(published) => return Ok(published),
            Job::Failed(reason) => {
                return Err(Failure::Refused {
                    code: if reason.contains("check_failed") {
                        "media_rejected"
                    } else {
                        "platform_refused"
                    },
                    message: format!("tiktok did not publish the video: {}", excerpt(&reason)),
                    platform_status: None,
                })
            }
            Job::Processing => {}
        }
    }
    Err(unconfirmed(publish_id, "has not confirmed the post yet"))
}

pub const PUBLISHER: Publisher = Publisher {
    publish: |attempt, content| Box::pin(publish(attempt, content)),
    // Without the publish id of the lost answer, TikTok's API cannot tell.
    lookup: None,
    fetches_media: false,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infra::outbound::Body;

    fn video(size: usize) -> MediaFile {
        MediaFile {
            mime_type: "video/mp4".into(),
            bytes: vec![0; size].into(),
            public_url: None,
        }
    }

    #[test]
    fn builds_the_direct_post_init_and_ranged_uploads() {
        let options = json!({"privacyLevel": "PUBLIC_TO_EVERYONE", "disableDuet": true});
        let file = video(3000);
        let content = Content {
            body: "Dance",
            media: &[],
            options: &options,
        };
        let call = init_call("token", &content, &file);
        assert_eq!(call.url, INIT);
        assert_eq!(
            call.body,
            Body::Json(json!({
                "post_info": {"title": "Dance", "privacy_level": "PUBLIC_TO_EVERYONE",
                              "disable_comment": false, "disable_duet": true, "disable_stitch": false},
                "source_info": {"source": "FILE_UPLOAD", "video_size": 3000, "chunk_size": 3000,
                                "total_chunk_count": 1},
            }))
        );
        let uploads = upload_calls(
            "https://open-upload.tiktokapis.com/video/?upload_id=1",
            &file,
        );
        assert_eq!(uploads.len(), 1);
        assert!(uploads[0]
            .headers
            .contains(&("Content-Range", "bytes 0-2999/3000".to_owned())));
        assert!(
            !uploads[0]
                .headers
                .iter()
                .any(|(name, _)| *name == "authorization"),
            "the upload URL carries its own authorization"
        );
        assert_eq!(
            chunks(200 * MB + 5),
            (64 * MB, 3),
            "the remainder joins the last chunk"
        );
    }

    #[test]
    fn a_privacy_level_the_creator_does_not_offer_is_refused_before_posting() {
        let private_account = json!({"data": {"privacy_level_options":
            ["FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]}, "error": {"code": "ok"}});
        let check = |creator: &Value, level: &str| {
            let options = json!({ "privacyLevel": level });
            let content = Content {
                body: "Dance",
                media: &[],
                options: &options,
            };
            check_privacy_level(creator, &content)
        };
        assert_eq!(check(&private_account, "SELF_ONLY"), Ok(()));
        let refused = check(&private_account, "PUBLIC_TO_EVERYONE");
        let Err(Failure::Refused { code, message, .. }) = refused else {
            panic!("{refused:?}")
        };
        assert_eq!(code, "invalid_option");
        assert!(message.contains("FOLLOWER_OF_CREATOR"), "{message}");
        assert!(
            check(&json!({}), "SELF_ONLY").is_err(),
            "no options read: nothing is offered"
        );
    }

    #[test]
    fn reads_job_states_and_errors_in_the_body() {
        let done = Reply::ok_json(json!({"data": {"status": "PUBLISH_COMPLETE",
            "publicaly_available_post_id": [7_310_000_000_000_000_001_u64]}, "error": {"code": "ok"}}));
        assert_eq!(
            job_status(&done, "v_pub_1", Some("maker")),
            Job::Published(Published {
                external_id: "7310000000000000001".into(),
                permalink: Some("https://www.tiktok.com/@maker/video/7310000000000000001".into())
            })
        );
        let failed = Reply::ok_json(
            json!({"data": {"status": "FAILED", "fail_reason": "file_format_check_failed"}}),
        );
        assert_eq!(
            job_status(&failed, "v_pub_1", None),
            Job::Failed("file_format_check_failed".into())
        );
        assert_eq!(
            job_status(
                &Reply::ok_json(json!({"data": {"status": "PROCESSING_UPLOAD"}})),
                "p",
                None
            ),
            Job::Processing
        );
        assert!(refused_in_body(&done).is_none());
        assert!(matches!(
            refused_in_body(&Reply::ok_json(
                json!({"error": {"code": "spam_risk_too_many_posts", "message": "slow down"}})
            )),
            Some(Failure::Refused {
                code: "platform_refused",
                ..
            })
        ));
    }
}
