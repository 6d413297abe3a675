//! X: images go up first (`POST /2/media/upload`, invisible until a post uses them), then
//! the post (`POST /2/tweets`) is the one irreversible call. An ambiguous post is looked up
//! among the account's posts since the attempt began (`GET /2/users/{id}/tweets`).
//! Docs: https://docs.x.com/x-api/posts/creation-of-a-post, https://docs.x.com/x-api/media/media-upload

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use super::wire::{Call, Method};
use super::{same_text, Attempt, Content, Failure, Published};
use crate::social::Platform;

const MEDIA_UPLOAD: &str = "https://api.x.com/2/media/upload";
const TWEETS: &str = "https://api.x.com/2/tweets";

fn permalink(id: &str) -> String {
    format!("https://x.com/i/web/status/{id}")
}

pub fn upload_call(access_token: &str, mime_type: &str, bytes: &[u8]) -> Call {
    let category = if mime_type.starts_with("video/") {
        "tweet_video"
    } else if mime_type == "image/gif" {
        "tweet_gif"
    } else {
        "tweet_image"
    };
    Call::new(Method::Post, MEDIA_UPLOAD, access_token).json(json!({
        "media": STANDARD.encode(bytes),
        "media_category": category,
        "media_type": mime_type,
    }))
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
        let call = upload_call(&attempt.access_token, &file.mime_type, &file.bytes);
        let answer = attempt.prepare(Platform::X, &call).await?;
        let id = answer.json()["data"]["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| Failure::incomplete_before_posting(Platform::X, &answer, "data.id"))?;
        media_ids.push(id);
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

pub async fn find_existing(
    attempt: &Attempt<'_>,
    content: &Content<'_>,
    since: &str,
) -> Result<Option<Published>, Failure> {
    let url = format!(
        "https://api.x.com/2/users/{}/tweets?max_results=20&tweet.fields=created_at,text&start_time={}",
        attempt.account_id,
        url::form_urlencoded::byte_serialize(since.as_bytes()).collect::<String>()
    );
    let body = attempt.read(Platform::X, url).await?;
    let found = body["data"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|tweet| same_text(&tweet["text"], content.body));
    Ok(found.and_then(|tweet| {
        let id = tweet["id"].as_str()?.to_owned();
        Some(Published {
            permalink: Some(permalink(&id)),
            external_id: id,
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::super::wire::Body;
    use super::*;

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
}
