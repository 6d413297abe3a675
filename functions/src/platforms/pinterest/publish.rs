//! Pinterest (API v5): one call creates the pin with its image inline
//! (`POST /v5/pins`, `media_source.source_type = image_base64`), the one irreversible call. An
//! ambiguous pin is looked up on its board (`GET /v5/boards/{board_id}/pins`).
//! Docs: https://developers.pinterest.com/docs/api/v5/pins-create/,
//! https://developers.pinterest.com/docs/api/v5/boards-list_pins/

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use crate::infra::outbound::{url_encoded, Call, Method};
use crate::publishing::{
    created_since, same_text, Attempt, Content, Failure, Lookup, Published, Publisher,
};
use crate::social::Platform;

const API: &str = "https://api.pinterest.com/v5";

fn permalink(id: &str) -> String {
    format!("https://www.pinterest.com/pin/{id}/")
}

fn board_id<'a>(content: &'a Content<'_>) -> &'a str {
    content
        .options
        .get("boardId")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

pub fn pin_call(access_token: &str, content: &Content<'_>) -> Result<Call, Failure> {
    let image = content.media.first().ok_or_else(|| Failure::Refused {
        code: "media_missing",
        message: "pinterest pins need an image".into(),
        platform_status: None,
    })?;
    let mut body = json!({
        "board_id": board_id(content),
        "description": content.body,
        "media_source": {
            "source_type": "image_base64",
            "content_type": image.mime_type,
            "data": STANDARD.encode(&image.bytes),
        },
    });
    for (option, field) in [("title", "title"), ("link", "link")] {
        if let Some(value) = content.options.get(option).and_then(Value::as_str) {
            body[field] = json!(value);
        }
    }
    Ok(Call::new(Method::Post, format!("{API}/pins"), access_token).json(body))
}

pub async fn publish(attempt: &Attempt<'_>, content: &Content<'_>) -> Result<Published, Failure> {
    let call = pin_call(&attempt.access_token, content)?;
    let answer = attempt.post(Platform::Pinterest, &call).await?;
    let id = answer.json()["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Failure::incomplete_posting(Platform::Pinterest, &answer, "an id"))?;
    Ok(Published {
        permalink: Some(permalink(&id)),
        external_id: id,
    })
}

/// The pin among a board's pins with this description, created since `since`.
pub fn find_in(body: &Value, content: &Content<'_>, since: &str) -> Option<Published> {
    let pin = body["items"].as_array()?.iter().find(|pin| {
        same_text(&pin["description"], content.body) && created_since(&pin["created_at"], since)
    })?;
    let id = pin["id"].as_str()?.to_owned();
    Some(Published {
        permalink: Some(permalink(&id)),
        external_id: id,
    })
}

const LOOKUP: Lookup = Lookup {
    call: lookup_call,
    find: find_in,
};

/// The latest pins of the post's board.
fn lookup_call(attempt: &Attempt<'_>, content: &Content<'_>, _since: &str) -> Call {
    let board = url_encoded(board_id(content));
    let url = format!("{API}/boards/{board}/pins?page_size=25");
    Call::new(Method::Get, url, &attempt.access_token)
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
    use crate::publishing::MediaFile;

    #[test]
    fn builds_the_pin_with_its_image_inline_and_finds_it_on_the_board() {
        let options =
            json!({"boardId": "549755885175", "title": "Launch", "link": "https://pixa.example"});
        let media = [MediaFile {
            mime_type: "image/png".into(),
            bytes: b"png".to_vec().into(),
            public_url: None,
        }];
        let content = Content {
            body: "Our launch",
            media: &media,
            options: &options,
        };
        let call = pin_call("token", &content).unwrap();
        assert_eq!(call.url, "https://api.pinterest.com/v5/pins");
        assert_eq!(
            call.body,
            Body::Json(json!({
                "board_id": "549755885175",
                "title": "Launch",
                "link": "https://pixa.example",
                "description": "Our launch",
                "media_source": {"source_type": "image_base64", "content_type": "image/png", "data": "cG5n"},
            }))
        );
        let page = json!({"items": [
            {"id": "813744226420795884", "description": "Our launch", "created_at": "2026-11-23T09:50:03-00:00"},
            {"id": "813744226420795885", "description": "Our launch", "created_at": "2026-11-23T10:00:04-00:00"},
        ], "bookmark": null});
        assert_eq!(
            find_in(&page, &content, "2026-11-23T10:00:00Z"),
            Some(Published {
                external_id: "813744226420795885".into(),
                permalink: Some("https://www.pinterest.com/pin/813744226420795885/".into())
            })
        );
    }
}
