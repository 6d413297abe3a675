//! X: media go up first, invisible until a post uses them, then the post (`POST /2/tweets`)
//! is the one irreversible call. Still images go up in one call (`POST /2/media/upload`, whose
//! `media_category` takes only `tweet_image` among post categories and whose `media_type` no
//! GIF); a video or a GIF goes up in segments (`initialize` with `tweet_video` or `tweet_gif`,
//! one `append` per segment, `finalize`), then X processes it and the post waits until the
//! upload's status says `succeeded`. An ambiguous post is
//! looked up among the account's posts since the attempt began (`GET /2/users/{id}/tweets`).
//! Docs: https://docs.x.com/x-api/posts/creation-of-a-post, https://docs.x.com/x-api/media/media-upload,
//! https://docs.x.com/x-api/media/quickstart/media-upload-chunked

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use crate::error::excerpt;
use crate::infra::clock::sleep;
use crate::infra::outbound::{Call, Method};
use crate::publishing::{
    same_text, Attempt, Content, Failure, Lookup, MediaFile, Published, Publisher,
};
use crate::social::Platform;

const MEDIA_UPLOAD: &str = "https://api.x.com/2/media/upload";
const TWEETS: &str = "https://api.x.com/2/tweets";
/// X takes segments of at most 5 MB; 3 MB stays under that once base64 grows it by a third.
const SEGMENT_BYTES: usize = 3 * 1024 * 1024;
/// How long a video may stay in X's processing before the attempt gives up (nothing is posted
/// then, so a later attempt may upload it again).
const PROCESSING_WAIT: Duration = Duration::from_secs(90);

fn permalink(id: &str) -> String {
    format!("https://x.com/i/web/status/{id}")
}

fn category(mime_type: &str) -> &'static str {
    if mime_type.starts_with("video/") {
        "tweet_video"
    } else if mime_type == "image/gif" {
        "tweet_gif"
    } else {
        "tweet_image"
    }
}

/// Whether X takes the file in one upload call: only still images (`tweet_image`).
fn uploads_in_one_call(mime_type: &str) -> bool {
    category(mime_type) == "tweet_image"
}

pub fn upload_call(access_token: &str, mime_type: &str, bytes: &[u8]) -> Call {
    Call::new(Method::Post, MEDIA_UPLOAD, access_token).json(json!({
        "media": STANDARD.encode(bytes),
        "media_category": category(mime_type),
        "media_type": mime_type,
    }))
}

/// The calls of a segmented upload: `initialize`, then, once X named the upload, one `append`
/// a segment and `finalize`.
pub fn initialize_call(access_token: &str, video: &MediaFile) -> Call {
    Call::new(
        Method::Post,
        format!("{MEDIA_UPLOAD}/initialize"),
        access_token,
    )
    .json(json!({
        "media_type": video.mime_type,
        "total_bytes": video.bytes.len(),
        "media_category": category(&video.mime_type),
    }))
}

pub fn append_calls<'a>(
    access_token: &'a str,
    media_id: &'a str,
    video: &'a MediaFile,
) -> impl Iterator<Item = Call> + 'a {
    video
        .bytes
        .chunks(SEGMENT_BYTES)
        .enumerate()
        .map(move |(index, segment)| {
            Call::new(
                Method::Post,
                format!("{MEDIA_UPLOAD}/{media_id}/append"),
                access_token,
            )
            .json(json!({"media": STANDARD.encode(segment), "segment_index": index}))
        })
}

pub fn finalize_call(access_token: &str, media_id: &str) -> Call {
    Call::new(
        Method::Post,
        format!("{MEDIA_UPLOAD}/{media_id}/finalize"),
        access_token,
    )
}

/// Where X's processing of an upload stands, from a `finalize` or status answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Processing {
    Done,
    /// Still working: ask again after this long.
    Pending(Duration),
    Failed(String),
}

pub fn processing(body: &Value) -> Processing {
    let info = &body["data"]["processing_info"];
    match info["state"].as_str() {
        // No processing_info: the media is ready as it is.
        None | Some("succeeded") => Processing::Done,
        Some("failed") => Processing::Failed(excerpt(
            info["error"]["message"]
                .as_str()
                .unwrap_or("no reason given"),
        )),
        Some(_) => Processing::Pending(Duration::from_secs(
            info["check_after_secs"].as_u64().unwrap_or(1).clamp(1, 10),
        )),
    }
}

/// Uploads a video or a GIF in segments and waits for X to process it; the media id.
async fn upload_in_segments(attempt: &Attempt<'_>, file: &MediaFile) -> Result<String, Failure> {
    let platform = Platform::X;
    let noun = if category(&file.mime_type) == "tweet_gif" {
        "GIF"
    } else {
        "video"
    };
    let token = attempt.access_token.as_str();
    let answer = attempt
        .prepare(platform, &initialize_call(token, file))
        .await?;
    let media_id = answer.json()["data"]["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Failure::incomplete_before_posting(platform, &answer, "data.id"))?;
    for call in append_calls(token, &media_id, file) {
        attempt.prepare(platform, &call).await?;
    }
    let mut state = processing(
        &attempt
            .prepare(platform, &finalize_call(token, &media_id))
            .await?
            .json(),
    );
    let mut waited = Duration::ZERO;
    loop {
        match state {
            Processing::Done => return Ok(media_id),
            Processing::Failed(reason) => {
                return Err(Failure::Refused {
                    code: "media_rejected",
                    message: format!("x could not process the {noun}: {reason}"),
                    platform_status: None,
                })
            }
            Processing::Pending(_) if waited >= PROCESSING_WAIT => {
                return Err(Failure::NotPosted {
                    code: "platform_unavailable",
                    message: format!(
                        "x was still processing the {noun} after {} s",
                        waited.as_secs()
                    ),
                    platform_status: None,
                    retry_after: None,
                })
            }
            Processing::Pending(after) => {
                sleep(after).await;
                waited += after;
                let status = format!("{MEDIA_UPLOAD}?command=STATUS&media_id={media_id}");
                state = processing(&attempt.read(platform, status).await?);
            }
        }
    }
}

async fn upload_image(attempt: &Attempt<'_>, image: &MediaFile) -> Result<String, Failure> {
    let call = upload_call(&attempt.access_token, &image.mime_type, &image.bytes);
    let answer = attempt.prepare(Platform::X, &call).await?;
    answer.json()["data"]["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Failure::incomplete_before_posting(Platform::X, &answer, "data.id"))
}

pub fn post_call(access_token: &str, content: &Content<'_>, media_ids: &[String]) -> Call {
    let mut body = json!({ "text": content.body });
    if !media_ids.is_empty() {
        body["media"] = json!({ "media_ids": media_ids });
    }
    if let Some(reply_settings) = content.options.get("replySettings").and_then(Value::as_str) {
        body["reply_settings"] = json!(reply_settings);
    }
    Call::new(Method::Post, TWEETS, access_token).json(body)
}

pub async fn publish(attempt: &Attempt<'_>, content: &Content<'_>) -> Result<Published, Failure> {
    let mut media_ids = Vec::new();
    for file in content.media {
        media_ids.push(if uploads_in_one_call(&file.mime_type) {
            upload_image(attempt, file).await?
        } else {
            upload_in_segments(attempt, file).await?
        });
    }
    let answer = attempt
        .post(
            Platform::X,
            &post_call(&attempt.access_token, content, &media_ids),
        )
        .await?;
    let id = answer.json()["data"]["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Failure::incomplete_posting(Platform::X, &answer, "data.id"))?;
    Ok(Published {
        permalink: Some(permalink(&id)),
        external_id: id,
    })
}

const LOOKUP: Lookup = Lookup {
    call: lookup_call,
    find: find_in,
};

fn lookup_call(attempt: &Attempt<'_>, _: &Content<'_>, since: &str) -> Call {
    timeline_call(&attempt.access_token, attempt.account_id, since)
}

/// The user's tweets since `since` (RFC 3339), which X takes as `YYYY-MM-DDTHH:mm:ssZ`: UTC,
/// whole seconds.
pub fn timeline_call(access_token: &str, user_id: &str, since: &str) -> Call {
    let start_time = chrono::DateTime::parse_from_rfc3339(since)
        .map(|since| {
            since
                .with_timezone(&chrono::Utc)
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
        })
        .unwrap_or_else(|_| since.to_owned());
    let url = format!(
        "https://api.x.com/2/users/{user_id}/tweets?max_results=20&tweet.fields=created_at,text"
    );
    Call::new(Method::Get, url, access_token).query(&[("start_time", &start_time)])
}

/// The tweet with this text (the listing starts at `since`).
fn find_in(body: &Value, content: &Content<'_>, _since: &str) -> Option<Published> {
    let tweet = body["data"]
        .as_array()?
        .iter()
        .find(|tweet| same_text(&tweet["text"], content.body))?;
    let id = tweet["id"].as_str()?.to_owned();
    Some(Published {
        permalink: Some(permalink(&id)),
        external_id: id,
    })
}

pub const PUBLISHER: Publisher = Publisher {
    publish: |attempt, content| Box::pin(publish(attempt, content)),
    lookup: Some(LOOKUP),
    fetches_media: false,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infra::outbound::Body;

    #[test]
    fn builds_the_documented_post_with_media_and_reply_settings() {
        let options = json!({"replySettings": "following"});
        let content = Content {
            body: "Launch day",
            media: &[],
            options: &options,
        };
        let call = post_call("token", &content, &["1880028106020515840".into()]);
        assert_eq!((call.method, call.url.as_str()), (Method::Post, TWEETS));
        assert_eq!(
            call.body,
            Body::Json(json!({
                "text": "Launch day",
                "media": {"media_ids": ["1880028106020515840"]},
                "reply_settings": "following",
            }))
        );
        assert!(call
            .headers
            .contains(&("authorization", "Bearer token".to_owned())));
        let upload = upload_call("token", "image/png", b"png");
        assert_eq!(
            upload.body,
            Body::Json(
                json!({"media": "cG5n", "media_category": "tweet_image", "media_type": "image/png"})
            )
        );
    }

    #[test]
    fn uploads_a_video_in_numbered_segments_under_five_megabytes() {
        let video = MediaFile {
            mime_type: "video/mp4".into(),
            bytes: vec![7; 2 * SEGMENT_BYTES + 10].into(),
            public_url: None,
        };
        assert_eq!(
            initialize_call("token", &video).body,
            Body::Json(
                json!({"media_type": "video/mp4", "total_bytes": 2 * SEGMENT_BYTES + 10,
                              "media_category": "tweet_video"})
            )
        );
        let appends: Vec<Call> = append_calls("token", "1880028106020515840", &video).collect();
        assert_eq!(appends.len(), 3);
        let mut uploaded = Vec::new();
        for (index, call) in appends.iter().enumerate() {
            assert_eq!(
                call.url,
                "https://api.x.com/2/media/upload/1880028106020515840/append"
            );
            let Body::Json(body) = &call.body else {
                panic!("a JSON body")
            };
            assert_eq!(body["segment_index"], index);
            let segment = STANDARD.decode(body["media"].as_str().unwrap()).unwrap();
            assert!(body["media"].as_str().unwrap().len() < 5 * 1024 * 1024);
            uploaded.extend(segment);
        }
        assert_eq!(
            uploaded, video.bytes,
            "the segments are the video, in order"
        );
    }

    #[test]
    fn looks_the_timeline_up_from_a_utc_start_time_in_whole_seconds() {
        assert_eq!(
            timeline_call("token", "42", "2026-12-07T15:00:01.734+01:00").url,
            "https://api.x.com/2/users/42/tweets?max_results=20&tweet.fields=created_at,text\
             &start_time=2026-12-07T14%3A00%3A01Z"
        );
    }

    /// X's one-call upload takes `tweet_image` only, and no GIF among its media types: a GIF
    /// is a segmented `tweet_gif` upload, like a video.
    #[test]
    fn only_still_images_go_up_in_one_call_and_a_gif_in_segments() {
        for still in ["image/jpeg", "image/png", "image/webp"] {
            assert!(uploads_in_one_call(still), "{still}");
            assert_eq!(
                upload_call("token", still, b"x").json_body()["media_category"],
                "tweet_image"
            );
        }
        for segmented in ["image/gif", "video/mp4", "video/quicktime"] {
            assert!(!uploads_in_one_call(segmented), "{segmented}");
        }
        let gif = MediaFile {
            mime_type: "image/gif".into(),
            bytes: b"GIF89a".to_vec().into(),
            public_url: None,
        };
        assert_eq!(
            initialize_call("token", &gif).body,
            Body::Json(
                json!({"media_type": "image/gif", "total_bytes": 6, "media_category": "tweet_gif"})
            )
        );
    }

    #[test]
    fn reads_the_processing_state_of_an_upload() {
        assert_eq!(processing(&json!({"data": {"id": "1"}})), Processing::Done);
        assert_eq!(
            processing(
                &json!({"data": {"processing_info": {"state": "pending", "check_after_secs": 5}}})
            ),
            Processing::Pending(Duration::from_secs(5))
        );
        assert_eq!(
            processing(
                &json!({"data": {"processing_info": {"state": "in_progress", "check_after_secs": 3600}}})
            ),
            Processing::Pending(Duration::from_secs(10)),
            "a long wait is checked on sooner"
        );
        assert_eq!(
            processing(&json!({"data": {"processing_info": {"state": "succeeded"}}})),
            Processing::Done
        );
        assert_eq!(
            processing(&json!({"data": {"processing_info": {"state": "failed",
                "error": {"code": 1, "name": "InvalidMedia", "message": "Unsupported video format"}}}})),
            Processing::Failed("Unsupported video format".into())
        );
    }
}
