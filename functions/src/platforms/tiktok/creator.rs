//! TikTok's `creator_info` (Content Posting API): what the creator may post now. TikTok asks apps
//! to read it before each post and to offer only its `privacy_level_options` (a public account
//! has no `FOLLOWER_OF_CREATOR`, a private one no `PUBLIC_TO_EVERYONE`), with none chosen for
//! the user, and to respect the interactions the creator turned off.
//! Docs: https://developers.tiktok.com/doc/content-posting-api-reference-query-creator-info

use serde_json::{json, Value};

use crate::infra::outbound::{Call, Method, Reply};
use crate::platforms::CreatorInfo;
use crate::social::{profile_json, text, Platform, SocialError};

const CREATOR_INFO_URL: &str = "https://open.tiktokapis.com/v2/post/publish/creator_info/query/";

/// TikTok's part of `platforms::Parts`.
pub const CREATOR_INFO: CreatorInfo = CreatorInfo {
    call: creator_info_call,
    read: parse_creator_info,
};

pub fn creator_info_call(access_token: &str) -> Call {
    Call::new(Method::Post, CREATOR_INFO_URL, access_token).json(json!({}))
}

/// `{"data": {"creator_nickname", "privacy_level_options", "comment_disabled", "duet_disabled",
/// "stitch_disabled", "max_video_post_duration_sec"}, "error": {"code": "ok"}}`, answered with
/// camelCase names.
pub fn parse_creator_info(reply: &Reply) -> Result<Value, SocialError> {
    let body = profile_json(Platform::Tiktok, reply)?;
    let data = &body["data"];
    let privacy_levels: Vec<&str> = data["privacy_level_options"]
        .as_array()
        .map(|options| options.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if privacy_levels.is_empty() {
        return Err(SocialError::Rejected(
            "tiktok creator_info without privacy_level_options".into(),
        ));
    }
    let turned_off = |field: &str| data[field].as_bool().unwrap_or(false);
    Ok(json!({
        "nickname": text(&data["creator_nickname"]),
        "privacyLevelOptions": privacy_levels,
        "commentDisabled": turned_off("comment_disabled"),
        "duetDisabled": turned_off("duet_disabled"),
        "stitchDisabled": turned_off("stitch_disabled"),
        "maxVideoPostDurationSec": data["max_video_post_duration_sec"].as_u64(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::social::tests::reply;

    #[test]
    fn reads_the_creators_options_and_refuses_an_answer_without_them() {
        let answer = reply(
            200,
            json!({"data": {"creator_nickname": "Tea", "privacy_level_options": ["PUBLIC_TO_EVERYONE", "SELF_ONLY"],
                            "comment_disabled": false, "duet_disabled": true, "stitch_disabled": true,
                            "max_video_post_duration_sec": 300},
                   "error": {"code": "ok", "message": "", "log_id": "x"}}),
        );
        assert_eq!(
            parse_creator_info(&answer).unwrap(),
            json!({"nickname": "Tea", "privacyLevelOptions": ["PUBLIC_TO_EVERYONE", "SELF_ONLY"],
                   "commentDisabled": false, "duetDisabled": true, "stitchDisabled": true,
                   "maxVideoPostDurationSec": 300})
        );
        let empty = reply(200, json!({"data": {}, "error": {"code": "ok"}}));
        assert!(matches!(
            parse_creator_info(&empty),
            Err(SocialError::Rejected(_))
        ));
        let refused = reply(
            401,
            json!({"error": {"code": "access_token_invalid", "message": "expired"}}),
        );
        assert!(matches!(
            parse_creator_info(&refused),
            Err(SocialError::Unauthorized(_))
        ));
    }

    #[test]
    fn asks_with_the_access_token() {
        let call = creator_info_call("tok");
        assert_eq!(call.url, CREATOR_INFO_URL);
        assert_eq!(call.json_body(), &json!({}));
    }
}
