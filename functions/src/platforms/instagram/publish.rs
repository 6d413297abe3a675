//! Instagram (Graph API, content publishing): `POST /{ig-user-id}/media` with `image_url` (a
//! short-lived signed Storage URL Instagram fetches) and `caption` creates a container, which
//! nobody sees; the container is polled (`GET /{container-id}?fields=status_code`) until
//! `FINISHED` (`ERROR` or `EXPIRED`: the image was refused); `POST /{ig-user-id}/media_publish`
//! with `creation_id` is the one irreversible call; the permalink is read afterwards. An
//! ambiguous publish is looked up among the account's latest media.
//! Docs: https://developers.facebook.com/docs/instagram-platform/content-publishing

use std::time::Duration;

use serde_json::Value;

use crate::error::excerpt;
use crate::infra::clock::sleep;
use crate::infra::outbound::{Call, Method, Reply};
use crate::platforms::facebook::oauth::GRAPH;
use crate::publishing::{
    created_since, same_text, Attempt, Content, Failure, Lookup, Published, Publisher,
};
use crate::social::Platform;

/// Image containers are ready within seconds; one not ready after this is retried later.
const POLLS: u32 = 15;
const POLL_INTERVAL: Duration = Duration::from_secs(1);

pub fn container_call(
    access_token: &str,
    ig_user_id: &str,
    image_url: &str,
    caption: &str,
) -> Call {
    Call::new(
        Method::Post,
        format!("{GRAPH}/{ig_user_id}/media"),
        access_token,
    )
    .form(vec![
        ("image_url", image_url.to_owned()),
        ("caption", caption.to_owned()),
    ])
}

pub fn publish_call(access_token: &str, ig_user_id: &str, container_id: &str) -> Call {
    Call::new(
        Method::Post,
        format!("{GRAPH}/{ig_user_id}/media_publish"),
        access_token,
    )
    .form(vec![("creation_id", container_id.to_owned())])
}

/// Where a container stands.
#[derive(Debug, PartialEq, Eq)]
pub enum Container {
    Ready,
    Processing,
    Refused(String),
}

pub fn container_status(answer: &Reply) -> Container {
    let body = answer.json();
    match body["status_code"].as_str() {
        Some("FINISHED") => Container::Ready,
        Some(code @ ("ERROR" | "EXPIRED")) => Container::Refused(
            body["status"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| code.to_owned()),
        ),
        _ => Container::Processing,
    }
}

async fn wait_until_ready(attempt: &Attempt<'_>, container: &str) -> Result<(), Failure> {
    let url = format!("{GRAPH}/{container}?fields=status_code,status");
    for _ in 0..POLLS {
        let call = Call::new(Method::Get, url.clone(), &attempt.access_token);
        match container_status(&attempt.prepare(Platform::Instagram, &call).await?) {
            Container::Ready => return Ok(()),
            Container::Refused(reason) => {
                return Err(Failure::Refused {
                    code: "media_rejected",
                    message: format!("instagram could not use the image: {}", excerpt(&reason)),
                    platform_status: None,
                })
            }
            Container::Processing => sleep(POLL_INTERVAL).await,
        }
    }
    Err(Failure::NotPosted {
        code: "platform_processing",
        message: "instagram was still processing the image".into(),
        platform_status: None,
        retry_after: None,
    })
}

pub async fn publish(attempt: &Attempt<'_>, content: &Content<'_>) -> Result<Published, Failure> {
    let platform = Platform::Instagram;
    let token = &attempt.access_token;
    let image_url = content
        .media
        .first()
        .and_then(|file| file.public_url.as_deref())
        .ok_or_else(|| Failure::Refused {
            code: "media_missing",
            message: "instagram posts need an image".into(),
            platform_status: None,
        })?;
    let call = container_call(token, attempt.account_id, image_url, content.body);
    let answer = attempt.prepare(platform, &call).await?;
    let container = answer.json()["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Failure::incomplete_before_posting(platform, &answer, "a container id"))?;
    wait_until_ready(attempt, &container).await?;
    let answer = attempt
        .post(
            platform,
            &publish_call(token, attempt.account_id, &container),
        )
        .await?;
    let media_id = answer.json()["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Failure::incomplete_posting(platform, &answer, "a media id"))?;
    // The post is live: a failed permalink read leaves it without one, never unpublished.
    let permalink = attempt
        .read(platform, format!("{GRAPH}/{media_id}?fields=permalink"))
        .await
        .ok()
        .and_then(|body| body["permalink"].as_str().map(str::to_owned));
    Ok(Published {
        external_id: media_id,
        permalink,
    })
}

/// The media among a `/{ig-user-id}/media` page with this caption, made since `since`.
pub fn find_in(body: &Value, content: &Content<'_>, since: &str) -> Option<Published> {
    let media = body["data"].as_array()?.iter().find(|media| {
        same_text(&media["caption"], content.body) && created_since(&media["timestamp"], since)
    })?;
    Some(Published {
        external_id: media["id"].as_str()?.to_owned(),
        permalink: media["permalink"].as_str().map(str::to_owned),
    })
}

const LOOKUP: Lookup = Lookup {
    call: lookup_call,
    find: find_in,
};

/// The account's latest media.
fn lookup_call(attempt: &Attempt<'_>, _: &Content<'_>, _since: &str) -> Call {
    let url = format!(
        "{GRAPH}/{}/media?fields=id,caption,permalink,timestamp&limit=25",
        attempt.account_id
    );
    Call::new(Method::Get, url, &attempt.access_token)
}

pub const PUBLISHER: Publisher = Publisher {
    publish: |attempt, content| Box::pin(publish(attempt, content)),
    lookup: Some(LOOKUP),
    fetches_media: true,
};

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::infra::outbound::Body;

    #[test]
    fn builds_the_container_and_publish_calls() {
        let call = container_call(
            "token",
            "ig-1",
            "https://s.example/sign/a.jpg?token=t",
            "Hi",
        );
        assert_eq!(call.url, "https://graph.facebook.com/v23.0/ig-1/media");
        assert_eq!(
            call.body,
            Body::Form(vec![
                ("image_url", "https://s.example/sign/a.jpg?token=t".into()),
                ("caption", "Hi".into())
            ])
        );
        let call = publish_call("token", "ig-1", "c-9");
        assert_eq!(
            (call.method, call.url.as_str()),
            (
                Method::Post,
                "https://graph.facebook.com/v23.0/ig-1/media_publish"
            )
        );
        assert_eq!(call.body, Body::Form(vec![("creation_id", "c-9".into())]));
    }

    #[test]
    fn reads_container_states_and_finds_media_by_caption_and_time() {
        assert_eq!(
            container_status(&Reply::ok_json(
                json!({"status_code": "FINISHED", "id": "c"})
            )),
            Container::Ready
        );
        assert_eq!(
            container_status(&Reply::ok_json(json!({"status_code": "IN_PROGRESS"}))),
            Container::Processing
        );
        assert_eq!(
            container_status(&Reply::ok_json(
                json!({"status_code": "ERROR", "status": "Error: media type not supported"})
            )),
            Container::Refused("Error: media type not supported".into())
        );
        let options = json!({});
        let content = Content {
            body: "Sunset",
            media: &[],
            options: &options,
        };
        let page = json!({"data": [
            {"id": "1", "caption": "Sunset", "timestamp": "2026-11-22T10:00:00+0000"},
            {"id": "2", "caption": "Sunset", "permalink": "https://www.instagram.com/p/B2/", "timestamp": "2026-11-23T10:00:05+0000"},
        ]});
        assert_eq!(
            find_in(&page, &content, "2026-11-23T10:00:00Z"),
            Some(Published {
                external_id: "2".into(),
                permalink: Some("https://www.instagram.com/p/B2/".into())
            })
        );
    }
}
