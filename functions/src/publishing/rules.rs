//! What each platform accepts, checked before anything is scheduled: text length, media count,
//! kinds and sizes, and the platform options a destination carries. Every problem names the
//! field (`destinations[i].options.boardId`, `body`, `media`) so clients can point at it.

use serde_json::Value;

use crate::social::Platform;

/// A media file of the post, as Storage describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaInfo {
    pub mime_type: String,
    pub size_bytes: u64,
}

impl MediaInfo {
    fn is_image(&self) -> bool {
        self.mime_type.starts_with("image/")
    }

    fn is_video(&self) -> bool {
        self.mime_type.starts_with("video/")
    }
}

/// One refused field and why.
#[derive(Debug, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub reason: String,
}

const MB: u64 = 1024 * 1024;
/// What one post's media may weigh in all: the dispatcher holds a post's files in memory while
/// it uploads them, and a Worker isolate has 128 MB. Larger videos need streamed uploads.
pub const MAX_POST_MEDIA_BYTES: u64 = 48 * MB;

/// The platform's limits, from its API documentation.
struct Limits {
    max_chars: usize,
    /// Whether a post needs at least one media file (Instagram, TikTok, Pinterest, YouTube).
    needs_media: bool,
    max_images: usize,
    max_videos: usize,
    image_types: &'static [&'static str],
    video_types: &'static [&'static str],
    max_image_bytes: u64,
    max_video_bytes: u64,
}

const JPEG_PNG: &[&str] = &["image/jpeg", "image/png"];
const WEB_IMAGES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp"];
const MP4_MOV: &[&str] = &["video/mp4", "video/quicktime"];

fn limits(platform: Platform) -> Limits {
    match platform {
        // X counts URLs as 23 characters and some scripts double; the plain count is the
        // common case and never lets an over-long post through for Latin text.
        Platform::X => Limits {
            max_chars: 280,
            needs_media: false,
            max_images: 4,
            max_videos: 1,
            image_types: WEB_IMAGES,
            video_types: MP4_MOV,
            max_image_bytes: 5 * MB,
            max_video_bytes: 512 * MB,
        },
        Platform::Linkedin => Limits {
            max_chars: 3000,
            needs_media: false,
            max_images: 1,
            max_videos: 0,
            image_types: &["image/jpeg", "image/png", "image/gif"],
            video_types: &[],
            max_image_bytes: 36 * MB,
            max_video_bytes: 0,
        },
        Platform::Facebook => Limits {
            max_chars: 63_206,
            needs_media: false,
            max_images: 1,
            max_videos: 0,
            image_types: WEB_IMAGES,
            video_types: &[],
            max_image_bytes: 10 * MB,
            max_video_bytes: 0,
        },
        Platform::Instagram => Limits {
            max_chars: 2200,
            needs_media: true,
            max_images: 1,
            max_videos: 0,
            image_types: &["image/jpeg"],
            video_types: &[],
            max_image_bytes: 8 * MB,
            max_video_bytes: 0,
        },
        Platform::Tiktok => Limits {
            max_chars: 2200,
            needs_media: true,
            max_images: 0,
            max_videos: 1,
            image_types: &[],
            video_types: &["video/mp4", "video/quicktime", "video/webm"],
            max_image_bytes: 0,
            max_video_bytes: 4096 * MB,
        },
        Platform::Pinterest => Limits {
            max_chars: 500,
            needs_media: true,
            max_images: 1,
            max_videos: 0,
            image_types: JPEG_PNG,
            video_types: &[],
            max_image_bytes: 20 * MB,
            max_video_bytes: 0,
        },
        Platform::Youtube => Limits {
            max_chars: 5000,
            needs_media: true,
            max_images: 0,
            max_videos: 1,
            image_types: &[],
            video_types: MP4_MOV,
            max_image_bytes: 0,
            max_video_bytes: 4096 * MB,
        },
    }
}

/// A platform's documented posting cap per account: (posts, window in seconds). Facebook Pages
/// and Pinterest publish no fixed cap (their limits follow app usage), and YouTube's upload
/// quota is per app, not per channel: those answer 429 when busy, which is retried.
pub fn posting_limit(platform: Platform) -> Option<(u32, u32)> {
    match platform {
        // POST /2/tweets: 100 requests per 15 minutes per user.
        Platform::X => Some((100, 15 * 60)),
        // Member posts: 150 a day.
        Platform::Linkedin => Some((150, 24 * 3600)),
        // content_publishing_limit: 50 API-published posts in a moving 24 hours.
        Platform::Instagram => Some((50, 24 * 3600)),
        // Direct posts: about 15 a day per creator.
        Platform::Tiktok => Some((15, 24 * 3600)),
        Platform::Facebook | Platform::Pinterest | Platform::Youtube => None,
    }
}

/// Everything wrong with sending `body` and `media` to `platform` with `options`; `prefix` is
/// the destination's field path (`destinations[0]`).
pub fn check(
    platform: Platform,
    body: &str,
    media: &[MediaInfo],
    options: &Value,
    prefix: &str,
) -> Vec<Problem> {
    let limits = limits(platform);
    let name = platform.as_str();
    let mut problems = Vec::new();
    let mut refuse = |field: String, reason: String| problems.push(Problem { field, reason });

    let chars = body.chars().count();
    if chars > limits.max_chars {
        refuse(
            "body".into(),
            format!(
                "{name} allows at most {} characters ({chars} given)",
                limits.max_chars
            ),
        );
    }
    if body.trim().is_empty() && media.is_empty() {
        refuse("body".into(), "a post needs text or media".into());
    }
    if limits.needs_media && media.is_empty() {
        refuse("media".into(), format!("{name} posts need a media file"));
    }
    let images = media.iter().filter(|m| m.is_image()).count();
    let videos = media.iter().filter(|m| m.is_video()).count();
    if images > limits.max_images {
        refuse(
            "media".into(),
            format!("{name} allows at most {} image(s)", limits.max_images),
        );
    }
    if videos > limits.max_videos {
        refuse(
            "media".into(),
            format!("{name} allows at most {} video(s)", limits.max_videos),
        );
    }
    if images > 0 && videos > 0 {
        refuse(
            "media".into(),
            format!("{name} posts carry images or a video, not both"),
        );
    }
    for (index, file) in media.iter().enumerate() {
        let field = format!("media[{index}]");
        let (types, max_bytes) = if file.is_image() {
            (limits.image_types, limits.max_image_bytes)
        } else {
            (limits.video_types, limits.max_video_bytes)
        };
        if !types.contains(&file.mime_type.as_str()) {
            refuse(
                field,
                format!("{name} does not accept {} files", file.mime_type),
            );
        } else if file.size_bytes > max_bytes {
            refuse(
                field,
                format!(
                    "{name} accepts {} files up to {} MB",
                    file.mime_type,
                    max_bytes / MB
                ),
            );
        }
    }
    // Saturating: the sizes are the library rows' numbers, and a sum past u64 is over anyway.
    let total = media
        .iter()
        .fold(0_u64, |total, file| total.saturating_add(file.size_bytes));
    if total > MAX_POST_MEDIA_BYTES {
        refuse(
            "media".into(),
            format!(
                "a post's media may weigh at most {} MB in all ({} MB given): they are uploaded from the worker's memory",
                MAX_POST_MEDIA_BYTES / MB,
                total.div_ceil(MB)
            ),
        );
    }
    for (field, reason) in option_problems(platform, options) {
        refuse(format!("{prefix}.options.{field}"), reason);
    }
    problems
}

/// The largest file of this type `platform` takes from the worker (at most a post's whole media
/// budget); 0 for a kind it does not take.
pub fn max_file_bytes(platform: Platform, mime_type: &str) -> u64 {
    let limits = limits(platform);
    let max = if mime_type.starts_with("image/") {
        limits.max_image_bytes
    } else {
        limits.max_video_bytes
    };
    max.min(MAX_POST_MEDIA_BYTES)
}

/// The options each platform takes: which are required, and their allowed values.
fn option_problems(platform: Platform, options: &Value) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    let text = |field: &'static str| options.get(field).and_then(Value::as_str);
    let mut one_of =
        |field: &'static str, allowed: &[&str], required: bool| match options.get(field) {
            None | Some(Value::Null) if !required => {}
            Some(Value::String(value)) if allowed.contains(&value.as_str()) => {}
            _ => problems.push((field, format!("must be one of {}", allowed.join(", ")))),
        };
    match platform {
        Platform::X => one_of(
            "replySettings",
            &["following", "mentionedUsers", "subscribers", "verified"],
            false,
        ),
        Platform::Linkedin => one_of("visibility", &["PUBLIC", "CONNECTIONS"], false),
        Platform::Tiktok => one_of(
            "privacyLevel",
            &[
                "PUBLIC_TO_EVERYONE",
                "MUTUAL_FOLLOW_FRIENDS",
                "FOLLOWER_OF_CREATOR",
                "SELF_ONLY",
            ],
            true,
        ),
        Platform::Youtube => one_of("privacyStatus", &["public", "unlisted", "private"], true),
        Platform::Facebook | Platform::Instagram | Platform::Pinterest => {}
    }
    match platform {
        Platform::Tiktok => {
            for flag in ["disableComment", "disableDuet", "disableStitch"] {
                if options.get(flag).is_some_and(|v| !v.is_boolean()) {
                    problems.push((flag, "must be a boolean".into()));
                }
            }
        }
        Platform::Pinterest => {
            if !text("boardId").is_some_and(|id| !id.is_empty() && id.len() <= 64) {
                problems.push(("boardId", "is required: the board to pin to".into()));
            }
            if text("title").is_some_and(|title| title.chars().count() > 100) {
                problems.push(("title", "must be at most 100 characters".into()));
            }
            if text("link").is_some_and(|link| !link.starts_with("https://")) {
                problems.push(("link", "must be an https URL".into()));
            }
        }
        Platform::Youtube => {
            match text("title") {
                Some(title)
                    if !title.trim().is_empty()
                        && title.chars().count() <= 100
                        && !title.contains(['<', '>']) => {}
                _ => problems.push((
                    "title",
                    "is required: up to 100 characters, without < or >".into(),
                )),
            }
            if text("categoryId").is_some_and(|id| !id.bytes().all(|b| b.is_ascii_digit())) {
                problems.push((
                    "categoryId",
                    "must be a YouTube category id (digits)".into(),
                ));
            }
            match options.get("tags") {
                None | Some(Value::Null) => {}
                Some(Value::Array(tags))
                    if tags.iter().all(Value::is_string)
                        && tags
                            .iter()
                            .filter_map(Value::as_str)
                            .map(|tag| tag.chars().count())
                            .sum::<usize>()
                            <= 500 => {}
                _ => problems.push(("tags", "must be strings of 500 characters in all".into())),
            }
        }
        _ => {}
    }
    problems
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn image(mime: &str, size: u64) -> MediaInfo {
        MediaInfo {
            mime_type: mime.into(),
            size_bytes: size,
        }
    }

    fn fields(problems: Vec<Problem>) -> Vec<String> {
        problems.into_iter().map(|p| p.field).collect()
    }

    #[test]
    fn text_limits_are_per_platform() {
        let long = "a".repeat(281);
        assert_eq!(
            fields(check(Platform::X, &long, &[], &json!({}), "d")),
            ["body"]
        );
        assert!(check(Platform::Linkedin, &long, &[], &json!({}), "d").is_empty());
        assert_eq!(
            fields(check(Platform::X, "  ", &[], &json!({}), "d")),
            ["body"]
        );
    }

    #[test]
    fn media_kinds_counts_and_sizes_are_checked() {
        let jpeg = image("image/jpeg", MB);
        assert_eq!(
            fields(check(Platform::Instagram, "hi", &[], &json!({}), "d")),
            ["media"]
        );
        assert!(check(
            Platform::Instagram,
            "hi",
            std::slice::from_ref(&jpeg),
            &json!({}),
            "d"
        )
        .is_empty());
        assert_eq!(
            fields(check(
                Platform::Instagram,
                "hi",
                &[image("image/png", MB)],
                &json!({}),
                "d"
            )),
            ["media[0]"]
        );
        assert_eq!(
            fields(check(
                Platform::X,
                "hi",
                &[image("image/png", 6 * MB)],
                &json!({}),
                "d"
            )),
            ["media[0]"]
        );
        let five = vec![jpeg.clone(); 5];
        assert_eq!(
            fields(check(Platform::X, "hi", &five, &json!({}), "d")),
            ["media"]
        );
        let mixed = [jpeg, image("video/mp4", MB)];
        assert_eq!(
            fields(check(Platform::X, "hi", &mixed, &json!({}), "d")),
            ["media"]
        );
        let video = image("video/quicktime", 40 * MB);
        assert!(check(
            Platform::X,
            "hi",
            std::slice::from_ref(&video),
            &json!({}),
            "d"
        )
        .is_empty());
        assert_eq!(
            fields(check(
                Platform::X,
                "hi",
                &[video.clone(), video],
                &json!({}),
                "d"
            )),
            ["media", "media"],
            "one video a post, and the two weigh more than the worker uploads"
        );
    }

    #[test]
    fn what_the_worker_cannot_upload_is_refused_before_scheduling() {
        let large = [image("video/mp4", MAX_POST_MEDIA_BYTES + 1)];
        let options = json!({"title": "Launch", "privacyStatus": "public"});
        let problems = check(Platform::Youtube, "d", &large, &options, "d");
        assert_eq!(problems.len(), 1);
        assert!(problems[0].reason.contains("at most 48 MB in all"));
        let fits = [image("video/mp4", MAX_POST_MEDIA_BYTES)];
        assert!(check(Platform::Youtube, "d", &fits, &options, "d").is_empty());
    }

    #[test]
    fn platform_options_are_validated_with_their_paths() {
        let video = [image("video/mp4", 10 * MB)];
        assert_eq!(
            fields(check(
                Platform::Youtube,
                "d",
                &video,
                &json!({"privacyStatus": "secret"}),
                "destinations[1]"
            )),
            [
                "destinations[1].options.privacyStatus",
                "destinations[1].options.title"
            ]
        );
        assert!(check(
            Platform::Youtube,
            "d",
            &video,
            &json!({"privacyStatus": "unlisted", "title": "Launch", "categoryId": "22", "tags": ["a", "b"]}),
            "d"
        )
        .is_empty());
        assert_eq!(
            fields(check(
                Platform::Tiktok,
                "",
                &video,
                &json!({"disableDuet": "no"}),
                "d"
            )),
            ["d.options.privacyLevel", "d.options.disableDuet"]
        );
        let pin = [image("image/png", MB)];
        assert_eq!(
            fields(check(
                Platform::Pinterest,
                "",
                &pin,
                &json!({"link": "http://x"}),
                "d"
            )),
            ["d.options.boardId", "d.options.link"]
        );
        assert_eq!(
            fields(check(
                Platform::X,
                "hi",
                &[],
                &json!({"replySettings": "anyone"}),
                "d"
            )),
            ["d.options.replySettings"]
        );
    }
}
