//! Facebook Pages: a text post is `POST /{page-id}/feed` (`message`); a photo post is
//! `POST /{page-id}/photos` as `multipart/form-data` (`caption`, and the image as the file part
//! `source`), as Graph's upload takes it. Both use the Page's token and are the one
//! irreversible call. An ambiguous post is looked up in the Page's feed since the attempt began.
//! Docs: https://developers.facebook.com/docs/pages-api/posts

use serde_json::{json, Value};

use crate::infra::outbound::{Call, FilePart, Method};
use crate::publishing::{same_text, Attempt, Content, Failure, Lookup, Published, Publisher};
use crate::social::Platform;

use super::oauth::GRAPH;

pub fn post_call(access_token: &str, page_id: &str, content: &Content<'_>) -> Call {
    match content.media.first() {
        None => Call::new(
            Method::Post,
            format!("{GRAPH}/{page_id}/feed"),
            access_token,
        )
        .json(json!({ "message": content.body })),
        Some(image) => Call::new(
            Method::Post,
            format!("{GRAPH}/{page_id}/photos"),
            access_token,
        )
        .multipart(
            &[("caption", content.body)],
            FilePart {
                field: "source",
                filename: "photo",
                content_type: &image.mime_type,
                bytes: &image.bytes,
            },
        ),
    }
}

pub async fn publish(attempt: &Attempt<'_>, content: &Content<'_>) -> Result<Published, Failure> {
    let call = post_call(&attempt.access_token, attempt.account_id, content);
    let answer = attempt.post(Platform::Facebook, &call).await?;
    let body = answer.json();
    // A photo answers {id, post_id}; the post is post_id.
    let id = body["post_id"]
        .as_str()
        .or_else(|| body["id"].as_str())
        .map(str::to_owned)
        .ok_or_else(|| Failure::incomplete_posting(Platform::Facebook, &answer, "an id"))?;
    Ok(Published {
        permalink: Some(format!("https://www.facebook.com/{id}")),
        external_id: id,
    })
}

const LOOKUP: Lookup = Lookup {
    call: lookup_call,
    find: find_in,
};

/// The Page's posts since `since`.
fn lookup_call(attempt: &Attempt<'_>, _: &Content<'_>, since: &str) -> Call {
    let url = format!(
        "{GRAPH}/{}/feed?fields=id,message,permalink_url&limit=25",
        attempt.account_id,
    );
    Call::new(Method::Get, url, &attempt.access_token).query(&[("since", since)])
}

/// The post with this text (the listing starts at `since`).
fn find_in(body: &Value, content: &Content<'_>, _since: &str) -> Option<Published> {
    let post = body["data"]
        .as_array()?
        .iter()
        .find(|post| same_text(&post["message"], content.body))?;
    Some(Published {
        external_id: post["id"].as_str()?.to_owned(),
        permalink: post["permalink_url"].as_str().map(str::to_owned),
    })
}

pub const PUBLISHER: Publisher = Publisher {
    publish: |attempt, content| Box::pin(publish(attempt, content)),
    lookup: Some(LOOKUP),
    fetches_media: false,
};
