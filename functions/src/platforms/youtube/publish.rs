//! YouTube (Data API v3, resumable upload): `POST /upload/youtube/v3/videos?uploadType=resumable`
//! with the video's metadata opens an upload session (its URI in `Location`; nothing exists on
//! the channel yet); `PUT`ting the bytes to the session URI is the one irreversible call, which
//! answers the video resource. An ambiguous upload is looked up among the channel's latest
//! videos by title (`search?forMine=true`; the search index can lag a new video by minutes, in
//! which case the destination stays `unconfirmed`).
//! Docs: https://developers.google.com/youtube/v3/guides/using_resumable_upload_protocol,
//! https://developers.google.com/youtube/v3/docs/videos/insert

use serde_json::{json, Value};

use crate::infra::outbound::{Call, Method, Reply};
use crate::publishing::{
    created_since, same_text, Attempt, Content, Failure, Lookup, MediaFile, Published, Publisher,
};
use crate::social::Platform;

const SESSION: &str =
    "https://www.googleapis.com/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status";
const SEARCH: &str = "https://www.googleapis.com/youtube/v3/search?part=snippet&forMine=true&type=video&order=date&maxResults=10";
/// "People & Blogs", YouTube's default category.
const DEFAULT_CATEGORY: &str = "22";

fn permalink(id: &str) -> String {
    format!("https://www.youtube.com/watch?v={id}")
}

fn option<'a>(content: &'a Content<'_>, name: &str) -> Option<&'a str> {
    content.options.get(name).and_then(Value::as_str)
}

pub fn session_call(access_token: &str, content: &Content<'_>, video: &MediaFile) -> Call {
    let mut snippet = json!({
        "title": option(content, "title").unwrap_or_default(),
        "description": content.body,
        "categoryId": option(content, "categoryId").unwrap_or(DEFAULT_CATEGORY),
    });
    if let Some(tags) = content.options.get("tags").filter(|tags| tags.is_array()) {
        snippet["tags"] = tags.clone();
    }
    Call::new(Method::Post, SESSION, access_token)
        .header("X-Upload-Content-Type", video.mime_type.clone())
        .header("X-Upload-Content-Length", video.bytes.len().to_string())
        .json(json!({
            "snippet": snippet,
            "status": {"privacyStatus": option(content, "privacyStatus").unwrap_or("private")},
        }))
}

/// The video's id and permalink from the upload's answer (the video resource).
pub fn published(answer: &Reply) -> Option<Published> {
    let id = answer.json()["id"].as_str()?.to_owned();
    Some(Published {
        permalink: Some(permalink(&id)),
        external_id: id,
    })
}

pub async fn publish(attempt: &Attempt<'_>, content: &Content<'_>) -> Result<Published, Failure> {
    let platform = Platform::Youtube;
    let video = content.media.first().ok_or_else(|| Failure::Refused {
        code: "media_missing",
        message: "youtube posts need a video".into(),
        platform_status: None,
    })?;
    let answer = attempt
        .prepare(
            platform,
            &session_call(&attempt.access_token, content, video),
        )
        .await?;
    let session = answer
        .header("location")
        .ok_or_else(|| Failure::incomplete_before_posting(platform, &answer, "Location"))?;
    let upload = Call::new(Method::Put, session, &attempt.access_token)
        .bytes(&video.mime_type, video.bytes.clone());
    let answer = attempt.post(platform, &upload).await?;
    published(&answer).ok_or_else(|| Failure::incomplete_posting(platform, &answer, "an id"))
}

/// The video among a search answer with the post's title, published since `since`.
pub fn find_in(body: &Value, content: &Content<'_>, since: &str) -> Option<Published> {
    let title = option(content, "title")?;
    let item = body["items"].as_array()?.iter().find(|item| {
        same_text(&item["snippet"]["title"], title)
            && created_since(&item["snippet"]["publishedAt"], since)
    })?;
    let id = item["id"]["videoId"].as_str()?.to_owned();
    Some(Published {
        permalink: Some(permalink(&id)),
        external_id: id,
    })
}

const LOOKUP: Lookup = Lookup {
    call: lookup_call,
    find: find_in,
};

/// The channel's latest videos.
fn lookup_call(attempt: &Attempt<'_>, _: &Content<'_>, _since: &str) -> Call {
    Call::new(Method::Get, SEARCH, &attempt.access_token)
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
    fn opens_a_resumable_session_with_the_metadata() {
        let options = json!({"title": "Launch", "privacyStatus": "unlisted", "tags": ["a"]});
        let video = MediaFile {
            mime_type: "video/mp4".into(),
            bytes: vec![1; 2048].into(),
            public_url: None,
        };
        let content = Content {
            body: "All about it",
            media: &[],
            options: &options,
        };
        let call = session_call("token", &content, &video);
        assert_eq!((call.method, call.url.as_str()), (Method::Post, SESSION));
        assert!(call
            .headers
            .contains(&("X-Upload-Content-Length", "2048".to_owned())));
        assert!(call
            .headers
            .contains(&("X-Upload-Content-Type", "video/mp4".to_owned())));
        assert_eq!(
            call.body,
            Body::Json(json!({
                "snippet": {"title": "Launch", "description": "All about it", "categoryId": "22", "tags": ["a"]},
                "status": {"privacyStatus": "unlisted"},
            }))
        );
    }

    #[test]
    fn reads_the_video_and_finds_it_by_title_and_time() {
        let answer = Reply::new(200, br#"{"kind": "youtube#video", "id": "dQw4w9WgXcQ", "status": {"uploadStatus": "uploaded"}}"#.to_vec());
        let expected = Published {
            external_id: "dQw4w9WgXcQ".into(),
            permalink: Some("https://www.youtube.com/watch?v=dQw4w9WgXcQ".into()),
        };
        assert_eq!(published(&answer), Some(expected));
        let options = json!({"title": "Launch"});
        let content = Content {
            body: "x",
            media: &[],
            options: &options,
        };
        let search = json!({"items": [
            {"id": {"kind": "youtube#video", "videoId": "old"}, "snippet": {"title": "Launch", "publishedAt": "2026-01-01T00:00:00Z"}},
            {"id": {"kind": "youtube#video", "videoId": "new"}, "snippet": {"title": "Launch", "publishedAt": "2026-11-23T10:00:02Z"}},
        ]});
        assert_eq!(
            find_in(&search, &content, "2026-11-23T10:00:00Z").map(|p| p.external_id),
            Some("new".into())
        );
    }
}
