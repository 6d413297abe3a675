//! What platforms accept, checked before anything is scheduled: text length, media count,
//! kinds and sizes, and the platform options a destination carries. Every problem has a stable
//! code and names its path (`destinations[1].body`, `destinations[0].options.boardId`, `media`)
//! so clients can point at it; all are reported at once.
//!
//! The checks are here; each platform's numbers and options are its folder's `RULES`
//! (`platforms/<p>/mod.rs`), reached through the parts table, so a new platform brings its
//! rules with it.

use serde_json::Value;

use crate::error::Problem;
use crate::platforms;
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

pub const MB: u64 = 1024 * 1024;
/// What one post's media may weigh in all: the dispatcher holds a post's files in memory while
/// it uploads them, and a Worker isolate has 128 MB. Larger videos need streamed uploads.
pub const MAX_POST_MEDIA_BYTES: u64 = 48 * MB;

pub const JPEG_PNG: &[&str] = &["image/jpeg", "image/png"];
pub const WEB_IMAGES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp"];
pub const MP4_MOV: &[&str] = &["video/mp4", "video/quicktime"];

/// A platform's own check of a post's text: a stable code and why, when it refuses it.
pub type TextCheck = fn(&str) -> Option<(&'static str, String)>;

/// What one platform accepts and how often, from its API documentation.
pub struct Rules {
    pub max_chars: usize,
    /// What else the platform refuses in the text, beyond its length: a stable code and why.
    pub text: Option<TextCheck>,
    /// Whether a post needs at least one media file.
    pub needs_media: bool,
    pub max_images: usize,
    pub max_videos: usize,
    pub image_types: &'static [&'static str],
    pub video_types: &'static [&'static str],
    pub max_image_bytes: u64,
    pub max_video_bytes: u64,
    /// The documented posting cap per account; `None` where the platform publishes none (its
    /// 429s are retried).
    pub posting_limit: Option<PostingLimit>,
    /// Checks a destination's `options`.
    pub options: fn(&mut Options),
}

/// At most `posts` posts per account in any `window_seconds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PostingLimit {
    pub posts: u32,
    pub window_seconds: u32,
}

/// A destination's `options` as a platform's `Rules::options` checks them: each refusal names
/// the option.
pub struct Options<'a> {
    values: &'a Value,
    problems: Vec<(&'static str, String)>,
}

impl<'a> Options<'a> {
    pub fn get(&self, field: &str) -> Option<&'a Value> {
        self.values.get(field)
    }

    pub fn text(&self, field: &str) -> Option<&'a str> {
        self.get(field).and_then(Value::as_str)
    }

    pub fn refuse(&mut self, field: &'static str, reason: &str) {
        self.problems.push((field, reason.to_owned()));
    }

    /// A string among `allowed`; absent (or null) only when not `required`.
    pub fn one_of(&mut self, field: &'static str, allowed: &[&str], required: bool) {
        match self.get(field) {
            None | Some(Value::Null) if !required => {}
            Some(Value::String(value)) if allowed.contains(&value.as_str()) => {}
            _ => self.refuse(field, &format!("must be one of {}", allowed.join(", "))),
        }
    }

    /// A boolean, when present.
    pub fn flag(&mut self, field: &'static str) {
        if self.get(field).is_some_and(|value| !value.is_boolean()) {
            self.refuse(field, "must be a boolean");
        }
    }
}

fn rules(platform: Platform) -> &'static Rules {
    platforms::parts(platform).rules
}

/// What is wrong with the post wherever it goes: no content, or more media than the worker
/// uploads.
pub fn check_post(body: &str, media: &[MediaInfo]) -> Vec<Problem> {
    let mut problems = Vec::new();
    if body.trim().is_empty() && media.is_empty() {
        problems.push(Problem::new(
            "body",
            "empty_post",
            "a post needs text or media",
        ));
    }
    // Saturating: the sizes are the library rows' numbers, and a sum past u64 is over anyway.
    let total = media
        .iter()
        .fold(0_u64, |total, file| total.saturating_add(file.size_bytes));
    if total > MAX_POST_MEDIA_BYTES {
        problems.push(Problem::new(
            "media",
            "media_too_large",
            format!(
                "a post's media may weigh at most {} MB in all ({} MB given): they are uploaded from the worker's memory",
                MAX_POST_MEDIA_BYTES / MB,
                total.div_ceil(MB)
            ),
        ));
    }
    problems
}

/// Everything `platform` refuses in a post of `body` and `media` with these `options`; the
/// paths are under `destination` (`destinations[0]`).
pub fn check_destination(
    platform: Platform,
    body: &str,
    media: &[MediaInfo],
    options: &Value,
    destination: &str,
) -> Vec<Problem> {
    let rules = rules(platform);
    let name = platform.as_str();
    let chars = body.chars().count();
    let mut problems = Vec::new();
    if chars > rules.max_chars {
        let message = format!(
            "{name} allows at most {} characters ({chars} given)",
            rules.max_chars
        );
        problems.push(Problem::new("body", "too_long", message));
    } else if let Some((code, message)) = rules.text.and_then(|check| check(body)) {
        problems.push(Problem::new("body", code, format!("{name} {message}")));
    }
    problems.extend(media_count_problems(rules, name, media));
    problems.extend(media_file_problems(rules, name, media));
    let mut options = Options {
        values: options,
        problems: Vec::new(),
    };
    (rules.options)(&mut options);
    for (field, reason) in options.problems {
        problems.push(Problem::new(
            format!("options.{field}"),
            "invalid_option",
            reason,
        ));
    }
    for problem in &mut problems {
        problem.path = format!("{destination}.{}", problem.path);
    }
    problems
}

/// Whether the platform takes this many images and videos, and this mix.
fn media_count_problems(rules: &Rules, name: &str, media: &[MediaInfo]) -> Vec<Problem> {
    let images = media.iter().filter(|m| m.is_image()).count();
    let videos = media.iter().filter(|m| m.is_video()).count();
    let mut problems = Vec::new();
    let mut refuse = |code, message| problems.push(Problem::new("media", code, message));
    if rules.needs_media && media.is_empty() {
        refuse("media_required", format!("{name} posts need a media file"));
    }
    if images > rules.max_images {
        let message = format!("{name} allows at most {} image(s)", rules.max_images);
        refuse("too_many_media", message);
    }
    if videos > rules.max_videos {
        let message = format!("{name} allows at most {} video(s)", rules.max_videos);
        refuse("too_many_media", message);
    }
    if images > 0 && videos > 0 {
        let message = format!("{name} posts carry images or a video, not both");
        refuse("mixed_media", message);
    }
    problems
}

/// Whether the platform takes each file's type and size.
fn media_file_problems(rules: &Rules, name: &str, media: &[MediaInfo]) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (index, file) in media.iter().enumerate() {
        let path = format!("media[{index}]");
        let (types, max_bytes) = if file.is_image() {
            (rules.image_types, rules.max_image_bytes)
        } else {
            (rules.video_types, rules.max_video_bytes)
        };
        let mime_type = &file.mime_type;
        if !types.contains(&mime_type.as_str()) {
            let message = format!("{name} does not accept {mime_type} files");
            problems.push(Problem::new(path, "unsupported_media_type", message));
        } else if file.size_bytes > max_bytes {
            let message = format!(
                "{name} accepts {mime_type} files up to {} MB",
                max_bytes / MB
            );
            problems.push(Problem::new(path, "file_too_large", message));
        }
    }
    problems
}

/// The largest file of this type `platform` takes from the worker (at most a post's whole media
/// budget); 0 for a kind it does not take.
pub fn max_file_bytes(platform: Platform, mime_type: &str) -> u64 {
    let rules = rules(platform);
    let max = if mime_type.starts_with("image/") {
        rules.max_image_bytes
    } else {
        rules.max_video_bytes
    };
    max.min(MAX_POST_MEDIA_BYTES)
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

    /// Each problem's path and code.
    fn fields(problems: Vec<Problem>) -> Vec<String> {
        problems.into_iter().map(|p| p.path).collect()
    }

    fn found(problems: Vec<Problem>) -> Vec<(String, &'static str)> {
        problems.into_iter().map(|p| (p.path, p.code)).collect()
    }

    /// What `platform` refuses in a post of `body` and `media` without options, as `d`.
    fn refused(platform: Platform, body: &str, media: &[MediaInfo]) -> Vec<(String, &'static str)> {
        found(check_destination(platform, body, media, &json!({}), "d"))
    }

    fn one(path: &str, code: &'static str) -> Vec<(String, &'static str)> {
        vec![(path.to_owned(), code)]
    }

    #[test]
    fn text_limits_are_per_platform() {
        let long = "a".repeat(281);
        assert_eq!(refused(Platform::X, &long, &[]), one("d.body", "too_long"));
        assert_eq!(refused(Platform::X, &"a".repeat(280), &[]), []);
        assert_eq!(refused(Platform::Linkedin, &long, &[]), []);
        assert_eq!(found(check_post("  ", &[])), one("body", "empty_post"));
        assert_eq!(found(check_post("  ", &[image("image/png", MB)])), []);
    }

    /// YouTube refuses `<` and `>` in a description (`invalidDescription`) and counts its
    /// 5000-long limit in UTF-8 bytes.
    #[test]
    fn a_platform_refuses_characters_and_bytes_its_api_refuses() {
        let video = [image("video/mp4", MB)];
        let options = json!({"title": "Launch", "privacyStatus": "public"});
        let youtube = |body: &str| {
            found(check_destination(
                Platform::Youtube,
                body,
                &video,
                &options,
                "d",
            ))
        };
        assert_eq!(youtube("Watch <this>"), one("d.body", "invalid_text"));
        assert_eq!(
            youtube(&"é".repeat(2501)),
            one("d.body", "too_long"),
            "2501 characters, 5002 bytes"
        );
        assert_eq!(youtube(&"é".repeat(2500)), []);
        assert_eq!(refused(Platform::X, "a <b>", &[]), []);
    }

    #[test]
    fn a_text_exactly_at_the_limit_is_taken() {
        let at_limit = "a".repeat(280);
        assert!(check_destination(Platform::X, &at_limit, &[], &json!({}), "d").is_empty());
    }

    #[test]
    fn documented_file_sizes_capped_at_what_the_worker_uploads() {
        const MIB: u64 = 1024 * 1024; // spelled out: `MB` is under test too
        for (platform, mime_type, max) in [
            (Platform::X, "image/png", 5 * MIB),
            (Platform::X, "video/mp4", 48 * MIB),
            (Platform::Linkedin, "image/jpeg", 36 * MIB),
            (Platform::Linkedin, "video/mp4", 0),
            (Platform::Facebook, "image/webp", 10 * MIB),
            (Platform::Instagram, "image/jpeg", 8 * MIB),
            (Platform::Tiktok, "video/webm", 48 * MIB),
            (Platform::Tiktok, "image/png", 0),
            (Platform::Pinterest, "image/png", 20 * MIB),
            (Platform::Youtube, "video/quicktime", 48 * MIB),
        ] {
            assert_eq!(
                max_file_bytes(platform, mime_type),
                max,
                "{platform:?} {mime_type}"
            );
        }
    }

    #[test]
    fn a_file_exactly_at_the_platform_limit_is_taken() {
        assert!(check_destination(
            Platform::X,
            "hi",
            &[image("image/png", 5 * MB)],
            &json!({}),
            "d"
        )
        .is_empty());
        assert_eq!(
            fields(check_destination(
                Platform::X,
                "hi",
                &[image("image/png", 5 * MB + 1)],
                &json!({}),
                "d"
            )),
            ["d.media[0]"]
        );
    }

    #[test]
    fn documented_posting_caps_per_account() {
        let day = 24 * 3600;
        for (platform, cap) in [
            (Platform::X, Some((100, 15 * 60))),
            (Platform::Linkedin, Some((150, day))),
            (Platform::Instagram, Some((50, day))),
            (Platform::Tiktok, Some((15, day))),
            (Platform::Facebook, None),
            (Platform::Pinterest, None),
            (Platform::Youtube, None),
        ] {
            let limit = crate::platforms::parts(platform).rules.posting_limit;
            let limit = limit.map(|limit| (limit.posts, limit.window_seconds));
            assert_eq!(limit, cap, "{platform:?}");
        }
    }

    #[test]
    fn media_kinds_counts_and_sizes_are_checked() {
        let jpeg = image("image/jpeg", MB);
        assert_eq!(
            refused(Platform::Instagram, "hi", &[]),
            one("d.media", "media_required")
        );
        assert_eq!(
            refused(Platform::Instagram, "hi", std::slice::from_ref(&jpeg)),
            []
        );
        assert_eq!(
            refused(Platform::Instagram, "hi", &[image("image/png", MB)]),
            one("d.media[0]", "unsupported_media_type")
        );
        assert_eq!(
            refused(Platform::X, "hi", &[image("image/png", 6 * MB)]),
            one("d.media[0]", "file_too_large")
        );
        assert_eq!(
            refused(Platform::X, "hi", &vec![jpeg.clone(); 5]),
            one("d.media", "too_many_media")
        );
        assert_eq!(
            refused(Platform::X, "hi", &[jpeg, image("video/mp4", MB)]),
            one("d.media", "mixed_media")
        );
        let video = image("video/quicktime", 40 * MB);
        assert_eq!(refused(Platform::X, "hi", std::slice::from_ref(&video)), []);
        let two = [video.clone(), video];
        assert_eq!(
            refused(Platform::X, "hi", &two),
            one("d.media", "too_many_media")
        );
        assert_eq!(
            found(check_post("hi", &two)),
            one("media", "media_too_large"),
            "the two weigh more than the worker uploads"
        );
    }

    #[test]
    fn what_the_worker_cannot_upload_is_refused_before_scheduling() {
        let large = [image("video/mp4", MAX_POST_MEDIA_BYTES + 1)];
        let problems = check_post("d", &large);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains("at most 48 MB in all"));
        let fits = [image("video/mp4", MAX_POST_MEDIA_BYTES)];
        assert!(check_post("d", &fits).is_empty());
        assert_eq!(
            max_file_bytes(Platform::Youtube, "video/mp4"),
            MAX_POST_MEDIA_BYTES
        );
        assert_eq!(max_file_bytes(Platform::X, "image/png"), 5 * MB);
        assert_eq!(max_file_bytes(Platform::Youtube, "image/png"), 0);
    }

    #[test]
    fn platform_options_are_validated_with_their_paths() {
        let options = |platform, media: &[MediaInfo], options: Value| {
            check_destination(platform, "d", media, &options, "destinations[1]")
                .into_iter()
                .map(|p| {
                    assert_eq!(p.code, "invalid_option");
                    p.path
                })
                .collect::<Vec<_>>()
        };
        let video = [image("video/mp4", 10 * MB)];
        assert_eq!(
            options(
                Platform::Youtube,
                &video,
                json!({"privacyStatus": "secret"})
            ),
            [
                "destinations[1].options.privacyStatus",
                "destinations[1].options.title"
            ]
        );
        assert_eq!(
            options(
                Platform::Youtube,
                &video,
                json!({"privacyStatus": "unlisted", "title": "Launch", "categoryId": "22", "tags": ["a", "b"]})
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            options(Platform::Tiktok, &video, json!({"disableDuet": "no"})),
            [
                "destinations[1].options.privacyLevel",
                "destinations[1].options.disableDuet"
            ]
        );
        assert_eq!(
            options(
                Platform::Pinterest,
                &[image("image/png", MB)],
                json!({"link": "http://x"})
            ),
            [
                "destinations[1].options.boardId",
                "destinations[1].options.link"
            ]
        );
        assert_eq!(
            options(Platform::X, &[], json!({"replySettings": "anyone"})),
            ["destinations[1].options.replySettings"]
        );
    }

    #[test]
    fn every_problem_of_a_destination_is_reported_at_once() {
        let problems = check_destination(
            Platform::Youtube,
            &"a".repeat(5001),
            &[image("image/png", MB)],
            &json!({"privacyStatus": "public"}),
            "destinations[2]",
        );
        assert_eq!(
            found(problems),
            [
                ("destinations[2].body".to_owned(), "too_long"),
                ("destinations[2].media".to_owned(), "too_many_media"),
                (
                    "destinations[2].media[0]".to_owned(),
                    "unsupported_media_type"
                ),
                ("destinations[2].options.title".to_owned(), "invalid_option"),
            ]
        );
    }

    #[test]
    fn a_pin_needs_a_board_id_of_1_to_64_characters_and_a_title_of_at_most_100() {
        let pin = [image("image/png", MB)];
        let problems = |options: Value| {
            fields(check_destination(
                Platform::Pinterest,
                "",
                &pin,
                &options,
                "d",
            ))
        };
        let title = |length: usize| "t".repeat(length);
        assert!(problems(json!({"boardId": "b".repeat(64), "title": title(100)})).is_empty());
        assert!(problems(json!({"boardId": "1", "link": "https://x"})).is_empty());
        for board_id in [json!(""), json!("b".repeat(65)), json!(7)] {
            assert_eq!(
                problems(json!({"boardId": board_id})),
                ["d.options.boardId"]
            );
        }
        assert_eq!(
            problems(json!({"boardId": "1", "title": title(101)})),
            ["d.options.title"]
        );
    }

    #[test]
    fn a_video_needs_a_plain_title_and_tags_of_500_characters_in_all() {
        let video = [image("video/mp4", MB)];
        let problems = |options: Value| {
            let mut options = options;
            options["privacyStatus"] = json!("private");
            fields(check_destination(
                Platform::Youtube,
                "",
                &video,
                &options,
                "d",
            ))
        };
        for title in ["   ".to_owned(), "a <b> title".to_owned(), "t".repeat(101)] {
            assert_eq!(
                problems(json!({"title": title})),
                ["d.options.title"],
                "{title}"
            );
        }
        assert!(problems(json!({"title": "t".repeat(100), "tags": ["t".repeat(500)]})).is_empty());
        for tags in [json!(["t".repeat(499), "tt"]), json!([1, 2]), json!("a,b")] {
            assert_eq!(
                problems(json!({"title": "T", "tags": tags})),
                ["d.options.tags"],
                "{tags}"
            );
        }
    }
}
