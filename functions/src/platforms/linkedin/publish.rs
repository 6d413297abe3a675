//! LinkedIn (versioned Posts API): an image is registered first
//! (`POST /rest/images?action=initializeUpload` → `uploadUrl` and the image URN) and its bytes
//! are `PUT` to the upload URL, invisible until a post uses them; then `POST /rest/posts` is the
//! one irreversible call, answered 201 with the post's URN in `x-restli-id`. An ambiguous post
//! cannot be looked up: listing a member's posts (`GET /rest/posts?q=author`) takes
//! `r_member_social`, a private permission LinkedIn grants no ordinary app, so the destination
//! becomes `unconfirmed` and the user decides.
//! Docs: https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api,
//! https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/images-api,
//! https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/little-text-format

use serde_json::{json, Value};

use crate::infra::outbound::{Call, Method, Reply};
use crate::publishing::{Attempt, Content, Failure, Published, Publisher};
use crate::social::Platform;

const REST: &str = "https://api.linkedin.com/rest";
/// The API version (yyyymm) the calls are written against. LinkedIn serves a version for at
/// least a year after its month and then sunsets it (426 `NONEXISTENT_VERSION`), so this is
/// moved forward at least yearly; the fake refuses a version past that year, as LinkedIn does.
pub const VERSION: &str = "202605";

fn versioned(call: Call) -> Call {
    call.header("LinkedIn-Version", VERSION)
        .header("X-Restli-Protocol-Version", "2.0.0")
}

fn author(member_id: &str) -> String {
    format!("urn:li:person:{member_id}")
}

fn permalink(urn: &str) -> String {
    format!("https://www.linkedin.com/feed/update/{urn}/")
}

/// `commentary` is in LinkedIn's "little text" format, where these characters are markup
/// unless escaped (an unescaped one can cut the post short).
pub fn little_text(body: &str) -> String {
    let mut escaped = String::with_capacity(body.len());
    for c in body.chars() {
        if "\\|{}@[]()<>#*_~".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

pub fn initialize_upload_call(access_token: &str, member_id: &str) -> Call {
    versioned(Call::new(
        Method::Post,
        format!("{REST}/images?action=initializeUpload"),
        access_token,
    ))
    .json(json!({"initializeUploadRequest": {"owner": author(member_id)}}))
}

/// The upload URL and the image URN of an `initializeUpload` answer.
pub fn parse_upload(answer: &Reply) -> Option<(String, String)> {
    let body = answer.json();
    let value = &body["value"];
    Some((
        value["uploadUrl"].as_str()?.to_owned(),
        value["image"].as_str()?.to_owned(),
    ))
}

pub fn post_call(
    access_token: &str,
    member_id: &str,
    content: &Content<'_>,
    image: Option<&str>,
) -> Call {
    let visibility = content
        .options
        .get("visibility")
        .and_then(Value::as_str)
        .unwrap_or("PUBLIC");
    let mut body = json!({
        "author": author(member_id),
        "commentary": little_text(content.body),
        "visibility": visibility,
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": false,
    });
    if let Some(image) = image {
        body["content"] = json!({"media": {"id": image}});
    }
    versioned(Call::new(
        Method::Post,
        format!("{REST}/posts"),
        access_token,
    ))
    .json(body)
}

pub async fn publish(attempt: &Attempt<'_>, content: &Content<'_>) -> Result<Published, Failure> {
    let platform = Platform::Linkedin;
    let token = &attempt.access_token;
    let image = match content.media.first() {
        None => None,
        Some(file) => {
            let answer = attempt
                .prepare(platform, &initialize_upload_call(token, attempt.account_id))
                .await?;
            let (upload_url, image) = parse_upload(&answer).ok_or_else(|| {
                Failure::incomplete_before_posting(platform, &answer, "uploadUrl and image")
            })?;
            let upload = Call::new(Method::Put, upload_url, token)
                .bytes(&file.mime_type, file.bytes.clone());
            attempt.prepare(platform, &upload).await?;
            Some(image)
        }
    };
    let call = post_call(token, attempt.account_id, content, image.as_deref());
    let answer = attempt.post(platform, &call).await?;
    let urn = answer
        .header("x-restli-id")
        .ok_or_else(|| Failure::incomplete_posting(platform, &answer, "x-restli-id"))?;
    Ok(Published {
        permalink: Some(permalink(&urn)),
        external_id: urn,
    })
}

pub const PUBLISHER: Publisher = Publisher {
    publish: |attempt, content| Box::pin(publish(attempt, content)),
    // Listing the member's posts takes the private `r_member_social` permission.
    lookup: None,
    fetches_media: false,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infra::outbound::Body;

    #[test]
    fn builds_the_versioned_image_post_with_escaped_commentary() {
        let options = json!({"visibility": "CONNECTIONS"});
        let content = Content {
            body: "Launch (day) #1",
            media: &[],
            options: &options,
        };
        let call = post_call("token", "abc", &content, Some("urn:li:image:C4E"));
        assert_eq!(call.url, "https://api.linkedin.com/rest/posts");
        assert!(call
            .headers
            .contains(&("LinkedIn-Version", VERSION.to_owned())));
        assert!(call
            .headers
            .contains(&("X-Restli-Protocol-Version", "2.0.0".to_owned())));
        let Body::Json(body) = &call.body else {
            panic!("a JSON post")
        };
        assert_eq!(body["author"], "urn:li:person:abc");
        assert_eq!(body["commentary"], "Launch \\(day\\) \\#1");
        assert_eq!(body["visibility"], "CONNECTIONS");
        assert_eq!(body["lifecycleState"], "PUBLISHED");
        assert_eq!(body["distribution"]["feedDistribution"], "MAIN_FEED");
        assert_eq!(body["content"]["media"]["id"], "urn:li:image:C4E");
        let text_only = post_call(
            "token",
            "abc",
            &Content {
                options: &json!({}),
                ..content
            },
            None,
        );
        let Body::Json(body) = &text_only.body else {
            panic!("a JSON post")
        };
        assert_eq!(body["visibility"], "PUBLIC");
        assert!(body.get("content").is_none());
        assert_eq!(
            initialize_upload_call("token", "abc").body,
            Body::Json(json!({"initializeUploadRequest": {"owner": "urn:li:person:abc"}}))
        );
    }

    #[test]
    fn parses_the_upload_url_and_image_of_an_initialize_upload_answer() {
        let answer = Reply::new(200, br#"{"value": {"uploadUrlExpiresAt": 1, "uploadUrl": "https://www.linkedin.com/dms-uploads/x", "image": "urn:li:image:C4E"}}"#.to_vec());
        assert_eq!(
            parse_upload(&answer),
            Some((
                "https://www.linkedin.com/dms-uploads/x".into(),
                "urn:li:image:C4E".into()
            ))
        );
        assert_eq!(parse_upload(&Reply::new(200, b"{}".to_vec())), None);
    }
}
