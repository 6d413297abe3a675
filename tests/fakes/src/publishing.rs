//! The platforms' publishing endpoints, as their docs describe them: X (media upload, post,
//! the user's posts), Facebook Pages (feed, photos), LinkedIn (image upload, versioned posts,
//! posts by author), Instagram (containers fetched from `image_url`, their status, publish,
//! permalink, the account's media), TikTok (the creator's `creator_info`, direct post init,
//! ranged upload to `upload_url`, status), Pinterest (pins with base64 images, a board's pins)
//! and YouTube (resumable session, upload, search of the channel's videos). Upload URLs handed out are the platforms' real hosts
//! (`www.linkedin.com/dms-uploads/…`, `open-upload.tiktokapis.com`, `www.googleapis.com/upload/…`),
//! so the worker's rewrite sends them back here. Every created post is recorded, so tests count
//! duplicates (`GET /social/_posts?account=`).
//!
//! X videos and GIFs go up in segments (`initialize`, `append`, `finalize`) and are processed:
//! the first status read says `in_progress`, the next `succeeded`, or `failed` when the bytes are
//! not an MP4/MOV (no `ftyp` box) or a GIF (no `GIF8`); a post may only use media that are ready.
//!
//! Each endpoint refuses what its platform's reference says the platform refuses, with the
//! platform's error body (the list, with the references, is docs/platforms.md's "Publishing
//! calls"): a body of the wrong content type, a missing or misspelt field, a value outside the
//! documented enum (X's `media_category` and `reply_settings`, LinkedIn's `visibility`, TikTok's
//! privacy level against the creator's `privacy_level_options`, YouTube's `privacyStatus`), a
//! missing or sunset `LinkedIn-Version`, TikTok's chunk rules, an Instagram container published
//! before it is `FINISHED` or holding no JPEG, YouTube's `<`/`>` and 5000-byte description.
//!
//! Markers in the post text choose a fault for the first attempt of that text on a platform
//! (later attempts succeed, as a platform that recovered would):
//! `[publish:429]` 429 with `Retry-After: 1`; `[publish:503]` 503; `[publish:reject-once]` 403
//! (`[publish:reject]`: on every attempt);
//! `[publish:401]` the platform's answer to a refused access token (`[publish:401-always]`: on
//! every attempt, as a token revoked at the platform);
//! `[publish:500-after-accept]` the post is created (TikTok: the job), then 500 is answered
//! (`[publish:503-after-accept]`: 503, as X sometimes answers);
//! `[publish:drop-after-accept]` the same, then the connection is cut mid-answer;
//! `[publish:timeout-after-accept]` the same, then the answer's body takes 20 s (longer than the
//! local stack's `PUBLISH_CALL_TIMEOUT_SECONDS`);
//! `[publish:reject-media]` the media is refused: X, Facebook, LinkedIn, Pinterest and YouTube
//! answer 400; an Instagram container ends in `ERROR`; a TikTok job ends `FAILED`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, MutexGuard};
use std::time::SystemTime;

use axum::body::{Body, Bytes};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::Datelike;
use serde_json::{json, Value};

use super::social::{json_response, random, unauthorized, use_token};

#[derive(Clone)]
struct Created {
    app: &'static str,
    account: String,
    id: String,
    text: String,
    /// Where the post lives besides the account: a Pinterest board, a YouTube title.
    place: String,
    at: SystemTime,
}

struct Container {
    account: String,
    caption: String,
    /// `FINISHED` or `ERROR: why`, shown from the second status read on: until then the
    /// container is `IN_PROGRESS` and cannot be published.
    outcome: Result<(), String>,
    reads: u32,
    published: bool,
}

struct TiktokJob {
    account: String,
    title: String,
    size: u64,
    received: u64,
    /// `None` while processing; the post id, or the fail reason.
    outcome: Option<Result<u64, String>>,
    reads: u32,
}

struct Session {
    account: String,
    title: String,
    description: String,
    privacy: String,
    length: usize,
    done: bool,
}

/// An X upload: an image (ready at once) or a video or GIF, in segments until finalized.
struct XMedia {
    account: String,
    media_type: String,
    total_bytes: usize,
    segments: std::collections::BTreeMap<u64, Vec<u8>>,
    state: XMediaState,
}

#[derive(Clone, PartialEq)]
enum XMediaState {
    Uploading,
    /// Finalized; status reads so far.
    Processing(u32),
    Ready,
    Failed,
}

#[derive(Default)]
struct Posts {
    created: Vec<Created>,
    /// Attempts per platform and post text, so a fault hits the first one only.
    attempts: HashMap<(String, String), u32>,
    /// LinkedIn images: URN → (owner, uploaded).
    images: HashMap<String, (String, bool)>,
    containers: HashMap<String, Container>,
    /// TikTok jobs by publish id; upload ids name them too.
    jobs: HashMap<String, TiktokJob>,
    uploads: HashMap<String, String>,
    sessions: HashMap<String, Session>,
    x_media: HashMap<String, XMedia>,
}

fn posts() -> MutexGuard<'static, Posts> {
    static POSTS: LazyLock<Mutex<Posts>> = LazyLock::new(Mutex::default);
    POSTS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `GET /social/_posts?account=`: the posts created for an account.
pub fn list(account: &str) -> Response {
    let created: Vec<Value> = posts()
        .created
        .iter()
        .filter(|post| post.account == account)
        .map(|post| json!({"app": post.app, "id": post.id, "text": post.text}))
        .collect();
    json_response(200, json!({ "posts": created }))
}

enum Fault {
    None,
    Refuse(u16),
    RefuseToken,
    AfterAccept(u16),
    DropAfterAccept,
    TimeoutAfterAccept,
}

fn marked(text: &str, marker: &str) -> bool {
    text.contains(&format!("[publish:{marker}]"))
}

/// The fault the first attempt of `text` on `app` meets.
fn fault(app: &str, text: &str) -> Fault {
    let first = {
        let mut posts = posts();
        let attempts = posts
            .attempts
            .entry((app.to_owned(), text.to_owned()))
            .or_default();
        *attempts += 1;
        *attempts == 1
    };
    match () {
        _ if marked(text, "reject") => Fault::Refuse(403),
        _ if marked(text, "401-always") => Fault::RefuseToken,
        _ if !first => Fault::None,
        _ if marked(text, "401") => Fault::RefuseToken,
        _ if marked(text, "reject-once") => Fault::Refuse(403),
        _ if marked(text, "429") => Fault::Refuse(429),
        _ if marked(text, "503") => Fault::Refuse(503),
        _ if marked(text, "500-after-accept") => Fault::AfterAccept(500),
        _ if marked(text, "503-after-accept") => Fault::AfterAccept(503),
        _ if marked(text, "drop-after-accept") => Fault::DropAfterAccept,
        _ if marked(text, "timeout-after-accept") => Fault::TimeoutAfterAccept,
        _ => Fault::None,
    }
}

/// A refusal in the platform's error format (`app` names the platform, not the OAuth app).
fn refusal(app: &str, status: u16) -> Response {
    let message = format!("fake {app} fault {status}");
    let mut response = match app {
        "x" => json_response(
            status,
            json!({"title": "fault", "detail": message, "status": status}),
        ),
        "facebook" | "instagram" => json_response(
            status,
            json!({"error": {"message": message, "type": "OAuthException", "code": 2, "is_transient": true}}),
        ),
        "linkedin" => json_response(
            status,
            json!({"message": message, "status": status, "serviceErrorCode": 0}),
        ),
        "tiktok" => {
            let code = match status {
                429 => "rate_limit_exceeded",
                403 => "spam_risk_too_many_posts",
                _ => "internal_error",
            };
            json_response(
                status,
                json!({"data": {}, "error": {"code": code, "message": message, "log_id": "fake"}}),
            )
        }
        "pinterest" => json_response(status, json!({"code": status, "message": message})),
        _ => json_response(
            status,
            json!({"error": {"code": status, "message": message, "errors": [{"reason": "backendError", "domain": "youtube"}]}}),
        ),
    };
    if status == 429 {
        response
            .headers_mut()
            .insert("retry-after", "1".parse().expect("a header value"));
    }
    response
}

/// Applies `text`'s fault around `act`, which creates the post (or job) and answers success.
fn faulted(app: &str, text: &str, act: impl FnOnce() -> Response) -> Response {
    let fault = fault(app, text);
    match fault {
        Fault::Refuse(status) => return refusal(app, status),
        // The OAuth app answering for the platform's API.
        Fault::RefuseToken => {
            return unauthorized(match app {
                "instagram" => "facebook",
                "youtube" => "google",
                other => other,
            })
        }
        _ => {}
    }
    let response = act();
    match fault {
        Fault::AfterAccept(status) => refusal(app, status),
        Fault::DropAfterAccept => {
            let cut = futures::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::other("connection cut by the fake"))
            });
            (axum::http::StatusCode::OK, Body::from_stream(cut)).into_response()
        }
        Fault::TimeoutAfterAccept => {
            let (parts, body) = response.into_parts();
            let late = futures::stream::once(async move {
                tokio::time::sleep(std::time::Duration::from_secs(20)).await;
                axum::body::to_bytes(body, usize::MAX).await
            });
            Response::from_parts(parts, Body::from_stream(late))
        }
        _ => response,
    }
}

/// Records a live post; its id.
fn record(app: &'static str, account: &str, text: &str, place: &str) -> String {
    let id = random(&format!("{app}-post")).replace('-', "");
    posts().created.push(Created {
        app,
        account: account.to_owned(),
        id: id.clone(),
        text: text.to_owned(),
        place: place.to_owned(),
        at: SystemTime::now(),
    });
    id
}

/// Creates the post unless the fault refuses it; answers `created` with `status`.
fn create(
    app: &'static str,
    account: &str,
    text: &str,
    status: u16,
    created: impl FnOnce(&str) -> Value,
) -> Response {
    faulted(app, text, || {
        let id = record(app, account, text, "");
        json_response(status, created(&id))
    })
}

/// The posts `app` holds for `account`, newest first.
fn found(app: &str, account: &str) -> Vec<Created> {
    let mut posts: Vec<Created> = posts()
        .created
        .iter()
        .filter(|post| post.app == app && post.account == account)
        .cloned()
        .collect();
    posts.reverse();
    posts
}

fn rfc3339(at: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(at).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn millis(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// One request to the platforms' publishing endpoints.
pub struct Request<'a> {
    pub app: &'static str,
    pub method: &'a str,
    pub host: &'a str,
    pub path: &'a str,
    pub query: &'a HashMap<String, String>,
    pub headers: &'a HeaderMap,
    pub bearer: &'a str,
    pub body: &'a Bytes,
}

impl Request<'_> {
    fn json(&self) -> Value {
        serde_json::from_slice(self.body).unwrap_or(Value::Null)
    }

    fn form(&self) -> HashMap<String, String> {
        url::form_urlencoded::parse(self.body)
            .into_owned()
            .collect()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Whether the body is declared JSON (`application/json`, any parameters).
    fn sends_json(&self) -> bool {
        self.header("content-type")
            .is_some_and(|value| value.starts_with("application/json"))
    }

    /// Whether the body is declared a form (`application/x-www-form-urlencoded`).
    fn sends_form(&self) -> bool {
        self.header("content-type")
            .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"))
    }

    fn param(&self, name: &str) -> &str {
        self.query.get(name).map(String::as_str).unwrap_or_default()
    }

    /// The account the request's token belongs to, or the platform's 401.
    fn account(&self) -> Result<String, Response> {
        use_token(self.app, self.bearer).map_err(|()| unauthorized(self.app))
    }
}

/// The publishing endpoints; `None` for any other path.
pub async fn handle(request: Request<'_>) -> Option<Response> {
    let (method, host, path) = (request.method, request.host, request.path);
    let answer = |handler: fn(&Request, &str) -> Response| {
        Some(match request.account() {
            Ok(account) => handler(&request, &account),
            Err(response) => response,
        })
    };
    match (method, host, path) {
        ("POST", "api.x.com", "/2/media/upload") => answer(x_media),
        ("POST", "api.x.com", "/2/media/upload/initialize") => answer(x_initialize),
        ("POST", "api.x.com", append) if x_upload_step(append, "append").is_some() => {
            answer(x_append)
        }
        ("POST", "api.x.com", finalize) if x_upload_step(finalize, "finalize").is_some() => {
            answer(x_finalize)
        }
        ("GET", "api.x.com", "/2/media/upload") => answer(x_upload_status),
        ("POST", "api.x.com", "/2/tweets") => answer(x_post),
        ("GET", "api.x.com", timeline)
            if timeline.starts_with("/2/users/") && timeline.ends_with("/tweets") =>
        {
            answer(x_timeline)
        }
        ("POST", "graph.facebook.com", feed) if feed.ends_with("/feed") => answer(facebook_post),
        ("POST", "graph.facebook.com", photos) if photos.ends_with("/photos") => {
            Some(facebook_photo(&request).await)
        }
        ("GET", "graph.facebook.com", feed) if feed.ends_with("/feed") => answer(facebook_feed),
        ("POST", "graph.facebook.com", media) if media.ends_with("/media") => {
            Some(instagram_container(&request).await)
        }
        ("POST", "graph.facebook.com", publish) if publish.ends_with("/media_publish") => {
            answer(instagram_publish)
        }
        ("GET", "graph.facebook.com", media) if media.ends_with("/media") => {
            answer(instagram_media)
        }
        ("GET", "graph.facebook.com", node) if is_instagram_node(node) => answer(instagram_node),
        ("POST", "api.linkedin.com", "/rest/images") => answer(linkedin_image),
        ("PUT", "www.linkedin.com", upload) if upload.starts_with("/dms-uploads/") => {
            answer(linkedin_upload)
        }
        ("POST", "api.linkedin.com", "/rest/posts") => answer(linkedin_post),
        ("GET", "api.linkedin.com", "/rest/posts") => answer(linkedin_posts),
        ("POST", "open.tiktokapis.com", "/v2/post/publish/creator_info/query/") => {
            answer(tiktok_creator_info)
        }
        ("POST", "open.tiktokapis.com", "/v2/post/publish/video/init/") => answer(tiktok_init),
        ("PUT", "open-upload.tiktokapis.com", "/video/") => Some(tiktok_upload(&request)),
        ("POST", "open.tiktokapis.com", "/v2/post/publish/status/fetch/") => answer(tiktok_status),
        ("POST", "api.pinterest.com", "/v5/pins") => answer(pinterest_pin),
        ("GET", "api.pinterest.com", pins)
            if pins.starts_with("/v5/boards/") && pins.ends_with("/pins") =>
        {
            answer(pinterest_board)
        }
        ("POST", "www.googleapis.com", "/upload/youtube/v3/videos") => answer(youtube_session),
        ("PUT", "www.googleapis.com", "/upload/youtube/v3/videos") => answer(youtube_upload),
        ("GET", "www.googleapis.com", "/youtube/v3/search") => answer(youtube_search),
        _ => None,
    }
}

fn x_invalid(detail: &str) -> Response {
    json_response(
        400,
        json!({"title": "Invalid Request", "detail": detail, "type": "https://api.twitter.com/2/problems/invalid-request"}),
    )
}

/// Registers an upload of `account`; its id (X's media ids are numbers).
fn new_x_media(account: &str, media_type: &str, total_bytes: usize, state: XMediaState) -> String {
    let id = format!("18800{}", NEXT_NUMBER.fetch_add(1, Ordering::Relaxed));
    posts().x_media.insert(
        id.clone(),
        XMedia {
            account: account.to_owned(),
            media_type: media_type.to_owned(),
            total_bytes,
            segments: Default::default(),
            state,
        },
    );
    id
}

/// The one-call upload (`POST /2/media/upload`, JSON): base64 `media`, and a `media_category`
/// among the three it takes; no GIF or video among its media types (those go in segments).
fn x_media(request: &Request, account: &str) -> Response {
    const CATEGORIES: [&str; 3] = ["tweet_image", "dm_image", "subtitles"];
    const TYPES: [&str; 8] = [
        "text/srt",
        "text/vtt",
        "image/jpeg",
        "image/bmp",
        "image/png",
        "image/webp",
        "image/pjpeg",
        "image/tiff",
    ];
    let body = request.json();
    let media = STANDARD.decode(body["media"].as_str().unwrap_or_default());
    let media_type = body["media_type"].as_str();
    match () {
        _ if !request.sends_json() => x_invalid("the body must be application/json"),
        _ if !matches!(&media, Ok(bytes) if !bytes.is_empty()) => {
            x_invalid("media is required, base64-encoded")
        }
        _ if !body["media_category"]
            .as_str()
            .is_some_and(|category| CATEGORIES.contains(&category)) =>
        {
            x_invalid("media_category must be one of tweet_image, dm_image, subtitles")
        }
        _ if media_type.is_some_and(|media_type| !TYPES.contains(&media_type)) => {
            x_invalid("media_type is not one this upload takes")
        }
        _ => {
            let id = new_x_media(
                account,
                media_type.unwrap_or("image/jpeg"),
                0,
                XMediaState::Ready,
            );
            json_response(
                200,
                json!({"data": {"id": id, "media_key": format!("3_{id}")}}),
            )
        }
    }
}

/// The media id of `/2/media/upload/{id}/{step}`.
fn x_upload_step<'a>(path: &'a str, step: &str) -> Option<&'a str> {
    path.strip_prefix("/2/media/upload/")?
        .strip_suffix(step)?
        .strip_suffix('/')
}

/// A segmented upload's `initialize`: `media_type`, `total_bytes` and a `media_category` that
/// fits the type (this fake takes the post categories: `tweet_video`, `tweet_gif`,
/// `tweet_image`).
fn x_initialize(request: &Request, account: &str) -> Response {
    let body = request.json();
    let (Some(media_type), Some(total_bytes)) =
        (body["media_type"].as_str(), body["total_bytes"].as_u64())
    else {
        return x_invalid("media_type and total_bytes are required");
    };
    let fits = match body["media_category"].as_str() {
        Some("tweet_video") => matches!(
            media_type,
            "video/mp4" | "video/webm" | "video/mp2t" | "video/quicktime"
        ),
        Some("tweet_gif") => media_type == "image/gif",
        Some("tweet_image") => media_type.starts_with("image/") && media_type != "image/gif",
        _ => false,
    };
    if !request.sends_json() || !fits {
        return x_invalid("a JSON body whose media_category fits its media_type");
    }
    let id = new_x_media(
        account,
        media_type,
        total_bytes as usize,
        XMediaState::Uploading,
    );
    json_response(
        200,
        json!({"data": {"id": id, "media_key": format!("7_{id}"), "expires_after_secs": 86399}}),
    )
}

/// Runs `step` on the account's upload named by the path, or answers X's 400.
fn with_upload(
    request: &Request,
    account: &str,
    step: &str,
    act: impl FnOnce(&str, &mut XMedia) -> Response,
) -> Response {
    let id = x_upload_step(request.path, step)
        .unwrap_or_default()
        .to_owned();
    let mut posts = posts();
    match posts.x_media.get_mut(&id) {
        Some(media) if media.account == account => act(&id, media),
        _ => x_invalid("media_id not found"),
    }
}

fn x_append(request: &Request, account: &str) -> Response {
    let body = request.json();
    let segment = STANDARD.decode(body["media"].as_str().unwrap_or_default());
    let index = body["segment_index"].as_u64().filter(|index| *index <= 999);
    with_upload(request, account, "append", |_, media| {
        match (segment, index) {
            _ if media.state != XMediaState::Uploading => x_invalid("the upload is finalized"),
            (Ok(segment), Some(index))
                if !segment.is_empty() && segment.len() <= 5 * 1024 * 1024 =>
            {
                media.segments.insert(index, segment);
                json_response(200, json!({"data": {"expires_at": 1_795_500_000}}))
            }
            _ => x_invalid("media must be base64 of at most 5 MB; segment_index 0 to 999"),
        }
    })
}

fn x_finalize(request: &Request, account: &str) -> Response {
    with_upload(request, account, "finalize", |id, media| {
        let received: usize = media.segments.values().map(Vec::len).sum();
        if media.state != XMediaState::Uploading {
            return x_invalid("the upload is finalized");
        }
        if received != media.total_bytes {
            return x_invalid(&format!(
                "received {received} of {} bytes",
                media.total_bytes
            ));
        }
        media.state = XMediaState::Processing(0);
        json_response(
            200,
            json!({"data": {"id": id, "media_key": format!("7_{id}"), "size": received,
                            "expires_after_secs": 86400,
                            "processing_info": {"state": "pending", "check_after_secs": 1}}}),
        )
    })
}

fn x_upload_status(request: &Request, account: &str) -> Response {
    if request.param("command") != "STATUS" {
        return x_invalid("command must be STATUS");
    }
    let id = request.param("media_id").to_owned();
    let mut posts = posts();
    let Some(media) = posts.x_media.get_mut(&id).filter(|m| m.account == account) else {
        return x_invalid("media_id not found");
    };
    if let XMediaState::Processing(reads) = media.state {
        let bytes = media.segments.values().flatten();
        // MP4 and MOV files open with an `ftyp` box, GIFs with `GIF8`.
        let readable = if media.media_type == "image/gif" {
            bytes.take(4).eq(b"GIF8")
        } else if media.media_type.starts_with("video/") {
            bytes.skip(4).take(4).eq(b"ftyp")
        } else {
            true
        };
        media.state = match reads {
            0 => XMediaState::Processing(1),
            _ if readable => XMediaState::Ready,
            _ => XMediaState::Failed,
        };
    }
    let info = match media.state {
        XMediaState::Uploading => return x_invalid("the upload is not finalized"),
        XMediaState::Processing(_) => {
            json!({"state": "in_progress", "check_after_secs": 1, "progress_percent": 40})
        }
        XMediaState::Ready => json!({"state": "succeeded", "progress_percent": 100}),
        XMediaState::Failed => json!({"state": "failed", "progress_percent": 12,
            "error": {"code": 1, "name": "InvalidMedia", "message": "Unsupported video format"}}),
    };
    json_response(
        200,
        json!({"data": {"id": id, "media_key": format!("7_{id}"), "processing_info": info}}),
    )
}

fn x_post(request: &Request, account: &str) -> Response {
    let body = request.json();
    let text = body["text"].as_str().unwrap_or_default();
    if !request.sends_json() || (text.is_empty() && !body["media"].is_object()) {
        return x_invalid("a JSON body with text or media is required");
    }
    if body.get("reply_settings").is_some_and(|setting| {
        !matches!(
            setting.as_str(),
            Some("following" | "mentionedUsers" | "subscribers" | "verified")
        )
    }) {
        return x_invalid(
            "reply_settings must be one of following, mentionedUsers, subscribers, verified",
        );
    }
    if marked(text, "reject-media") && body["media"].is_object() {
        return x_invalid("media rejected");
    }
    let media_ids = body["media"]["media_ids"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let ready = |id: &Value| {
        posts()
            .x_media
            .get(id.as_str().unwrap_or_default())
            .is_some_and(|media| media.account == account && media.state == XMediaState::Ready)
    };
    if !media_ids.iter().all(ready) {
        return x_invalid("Your media IDs are invalid.");
    }
    create(
        "x",
        account,
        text,
        201,
        |id| json!({"data": {"id": id, "text": text}}),
    )
}

/// A user's posts; `start_time` as X takes it, `YYYY-MM-DDTHH:mm:ssZ`.
fn x_timeline(request: &Request, account: &str) -> Response {
    let start_time = request.param("start_time");
    if !start_time.is_empty()
        && chrono::NaiveDateTime::parse_from_str(start_time, "%Y-%m-%dT%H:%M:%SZ").is_err()
    {
        return x_invalid("Invalid 'start_time': it must be YYYY-MM-DDTHH:mm:ssZ");
    }
    let tweets: Vec<Value> = found("x", account)
        .into_iter()
        .map(|post| json!({"id": post.id, "text": post.text}))
        .collect();
    json_response(
        200,
        json!({"data": tweets, "meta": {"result_count": tweets.len()}}),
    )
}

/// `POST /{page-id}/feed`: `message` (or a `link`), sent as JSON or as a form, as Graph reads
/// either.
fn facebook_post(request: &Request, account: &str) -> Response {
    let text = if request.sends_json() {
        request.json()["message"].as_str().map(str::to_owned)
    } else if request.sends_form() {
        request.form().get("message").cloned()
    } else {
        None
    }
    .unwrap_or_default();
    if text.trim().is_empty() {
        return graph_error(
            "(#100) Either message or link must be specified for a feed post",
            100,
        );
    }
    let text = text.as_str();
    create(
        "facebook",
        account,
        text,
        200,
        |id| json!({"id": format!("page-{account}_{id}")}),
    )
}

fn graph_error(message: &str, code: u32) -> Response {
    json_response(
        400,
        json!({"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "fake"}}),
    )
}

/// Graph's photo upload is `multipart/form-data` with the image as the file part `source` (and
/// `caption` beside it, or in the query): anything else is refused as Graph refuses it.
async fn facebook_photo(request: &Request<'_>) -> Response {
    let account = match request.account() {
        Ok(account) => account,
        Err(response) => return response,
    };
    let Some((caption, image)) = photo_upload(request).await else {
        return graph_error("(#324) Requires upload file", 324);
    };
    let caption = caption.unwrap_or_else(|| request.param("caption").to_owned());
    if marked(&caption, "reject-media") || image.is_empty() {
        return graph_error("Invalid image", 324);
    }
    create(
        "facebook",
        &account,
        &caption,
        200,
        |id| json!({"id": format!("photo{id}"), "post_id": format!("page-{account}_{id}")}),
    )
}

/// The `caption` field and the `source` file (an image) of a multipart body, read with axum's
/// `Multipart` as the Storage stand-in reads uploads; `None` when the body is not one.
async fn photo_upload(request: &Request<'_>) -> Option<(Option<String>, Bytes)> {
    use axum::extract::{FromRequest, Multipart};
    let content_type = request.header("content-type")?;
    let http = axum::http::Request::builder()
        .header("content-type", content_type)
        .body(Body::from(request.body.clone()))
        .ok()?;
    let mut form = Multipart::from_request(http, &()).await.ok()?;
    let (mut caption, mut image) = (None, None);
    while let Some(field) = form.next_field().await.ok()? {
        match field.name() {
            Some("caption") => caption = Some(field.text().await.ok()?),
            Some("source")
                if field.file_name().is_some()
                    && field
                        .content_type()
                        .is_some_and(|t| t.starts_with("image/")) =>
            {
                image = Some(field.bytes().await.ok()?);
            }
            _ => {}
        }
    }
    Some((caption, image?))
}

fn facebook_feed(_: &Request, account: &str) -> Response {
    let data: Vec<Value> = found("facebook", account)
        .into_iter()
        .map(|post| {
            let id = format!("page-{account}_{}", post.id);
            json!({"id": id, "message": post.text, "permalink_url": format!("https://www.facebook.com/{id}")})
        })
        .collect();
    json_response(200, json!({ "data": data }))
}

/// `/v23.0/ig-{account}/…`: the account's Instagram id is the path's second segment.
fn instagram_account_of(path: &str, account: &str) -> bool {
    path.split('/').nth(2) == Some(&format!("ig-{account}"))
}

/// Fetches the image as Instagram does, then makes the container.
async fn instagram_container(request: &Request<'_>) -> Response {
    let account = match request.account() {
        Ok(account) => account,
        Err(response) => return response,
    };
    if !instagram_account_of(request.path, &account) {
        return graph_error("Unsupported post request", 100);
    }
    let form = if request.sends_form() {
        request.form()
    } else {
        HashMap::new()
    };
    let caption = form.get("caption").cloned().unwrap_or_default();
    let image_url = form.get("image_url").cloned().unwrap_or_default();
    if image_url.is_empty() {
        return graph_error("The parameter image_url is required", 100);
    }
    if caption.chars().count() > 2200 {
        return graph_error("(#100) The caption is longer than 2200 characters", 100);
    }
    let image = match reqwest::get(&image_url).await {
        Ok(response) if response.status().is_success() => {
            response.bytes().await.unwrap_or_default()
        }
        _ => Bytes::new(),
    };
    // JPEG is the only image format content publishing takes.
    let outcome = if image.is_empty() {
        Err("ERROR: the image could not be downloaded from image_url".to_owned())
    } else if !image.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Err("ERROR: the image format is not supported: only JPEG (2207026)".to_owned())
    } else if marked(&caption, "reject-media") {
        Err("ERROR: the image format is not supported (2207026)".to_owned())
    } else {
        Ok(())
    };
    let id = format!("1790{}", NEXT_NUMBER.fetch_add(1, Ordering::Relaxed));
    posts().containers.insert(
        id.clone(),
        Container {
            account,
            caption,
            outcome,
            reads: 0,
            published: false,
        },
    );
    json_response(200, json!({ "id": id }))
}

static NEXT_NUMBER: AtomicU64 = AtomicU64::new(1);

fn is_instagram_node(path: &str) -> bool {
    let Some(id) = path.strip_prefix("/v23.0/") else {
        return false;
    };
    let posts = posts();
    posts.containers.contains_key(id)
        || posts
            .created
            .iter()
            .any(|post| post.app == "instagram" && post.id == id)
}

/// A container's status, or a published media's permalink.
fn instagram_node(request: &Request, account: &str) -> Response {
    let id = request.path.trim_start_matches("/v23.0/");
    let mut posts = posts();
    if let Some(container) = posts.containers.get_mut(id) {
        if container.account != account {
            return graph_error("Unsupported get request", 100);
        }
        container.reads += 1;
        let (code, status) = match (&container.outcome, container.reads, container.published) {
            (_, 1, _) => ("IN_PROGRESS", "In progress".to_owned()),
            (Ok(()), _, true) => ("PUBLISHED", "Published".to_owned()),
            (Ok(()), _, false) => ("FINISHED", "Finished".to_owned()),
            (Err(reason), _, _) => ("ERROR", reason.clone()),
        };
        return json_response(
            200,
            json!({"id": id, "status_code": code, "status": status}),
        );
    }
    json_response(
        200,
        json!({"id": id, "permalink": format!("https://www.instagram.com/p/{id}/")}),
    )
}

fn instagram_publish(request: &Request, account: &str) -> Response {
    if !instagram_account_of(request.path, account) {
        return graph_error("Unsupported post request", 100);
    }
    let creation_id = request
        .sends_form()
        .then(|| request.form().get("creation_id").cloned())
        .flatten()
        .unwrap_or_default();
    let caption = {
        let posts = posts();
        match posts.containers.get(&creation_id) {
            Some(c)
                if c.account == account && c.outcome.is_ok() && c.reads >= 2 && !c.published =>
            {
                c.caption.clone()
            }
            Some(c) if c.published => return graph_error("Media ID is not available", 9007),
            _ => return not_ready_for_publishing(),
        }
    };
    faulted("instagram", &caption, || {
        if let Some(container) = posts().containers.get_mut(&creation_id) {
            container.published = true;
        }
        let id = record("instagram", account, &caption, "");
        json_response(200, json!({ "id": id }))
    })
}

/// Graph's answer to publishing a container that is not `FINISHED` (code 9007, subcode
/// 2207027).
fn not_ready_for_publishing() -> Response {
    json_response(
        400,
        json!({"error": {"message": "Media ID is not available", "type": "OAuthException", "code": 9007,
                         "error_subcode": 2207027, "is_transient": false,
                         "error_user_title": "Media not ready for publishing",
                         "error_user_msg": "The media is not ready for publishing, please wait for a moment",
                         "fbtrace_id": "fake"}}),
    )
}

fn instagram_media(request: &Request, account: &str) -> Response {
    if !instagram_account_of(request.path, account) {
        return graph_error("Unsupported get request", 100);
    }
    let data: Vec<Value> = found("instagram", account)
        .into_iter()
        .map(|post| {
            json!({"id": post.id, "caption": post.text,
                   "permalink": format!("https://www.instagram.com/p/{}/", post.id),
                   "timestamp": chrono::DateTime::<chrono::Utc>::from(post.at).format("%Y-%m-%dT%H:%M:%S%z").to_string()})
        })
        .collect();
    json_response(200, json!({ "data": data }))
}

/// LinkedIn's versioned API refuses calls without its version headers, and a version that is
/// not live: one from a month still to come, or sunset (LinkedIn serves a version for a year
/// after its month).
fn linkedin_unversioned(request: &Request) -> Option<Response> {
    let version = request.header("linkedin-version").unwrap_or_default();
    let Some(month) = version_month(version) else {
        return Some(json_response(
            426,
            json!({"message": "A version must be present. Please specify a version by adding the LinkedIn-Version header.", "status": 426, "code": "VERSION_MISSING"}),
        ));
    };
    let now = chrono::DateTime::<chrono::Utc>::from(SystemTime::now()).date_naive();
    let current = now.year() * 12 + now.month0() as i32;
    if month > current || month < current - 12 {
        return Some(json_response(
            426,
            json!({"message": format!("Requested version {version} is not active"), "status": 426, "code": "NONEXISTENT_VERSION"}),
        ));
    }
    (request.header("x-restli-protocol-version") != Some("2.0.0")).then(|| {
        json_response(
            400,
            json!({"message": "X-Restli-Protocol-Version 2.0.0 is required", "status": 400}),
        )
    })
}

/// A `yyyymm` version as months since year 0.
fn version_month(version: &str) -> Option<i32> {
    if version.len() != 6 || !version.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (year, month) = (
        version[..4].parse::<i32>().ok()?,
        version[4..].parse::<i32>().ok()?,
    );
    (1..=12).contains(&month).then_some(year * 12 + month - 1)
}

fn linkedin_image(request: &Request, account: &str) -> Response {
    if let Some(refused) = linkedin_unversioned(request) {
        return refused;
    }
    let owner = request.json()["initializeUploadRequest"]["owner"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if request.param("action") != "initializeUpload" || owner != format!("urn:li:person:{account}")
    {
        return json_response(
            403,
            json!({"message": "Not enough permissions to access: images.ACTION-initializeUpload", "status": 403}),
        );
    }
    let key = random("D5610AQ").replace('-', "");
    let image = format!("urn:li:image:{key}");
    posts()
        .images
        .insert(image.clone(), (account.to_owned(), false));
    json_response(
        200,
        json!({"value": {
            "uploadUrlExpiresAt": millis(SystemTime::now()) + 86_400_000,
            "uploadUrl": format!("https://www.linkedin.com/dms-uploads/sp/{key}/uploadedImage/0?ca=vector_feedshare&cn=uploads&v=beta"),
            "image": image,
        }}),
    )
}

fn linkedin_upload(request: &Request, account: &str) -> Response {
    let key = request.path.split('/').nth(3).unwrap_or_default();
    let mut posts = posts();
    match posts.images.get_mut(&format!("urn:li:image:{key}")) {
        Some((owner, uploaded)) if owner == account && !request.body.is_empty() => {
            *uploaded = true;
            (axum::http::StatusCode::CREATED, "").into_response()
        }
        _ => json_response(400, json!({"message": "Invalid upload", "status": 400})),
    }
}

/// LinkedIn's little text format, back to plain text.
fn unescape(commentary: &str) -> String {
    let mut text = String::with_capacity(commentary.len());
    let mut chars = commentary.chars();
    while let Some(c) = chars.next() {
        text.push(if c == '\\' {
            chars.next().unwrap_or(c)
        } else {
            c
        });
    }
    text
}

fn linkedin_post(request: &Request, account: &str) -> Response {
    if let Some(refused) = linkedin_unversioned(request) {
        return refused;
    }
    let body = request.json();
    if !request.sends_json() {
        return json_response(
            415,
            json!({"message": "Unsupported Media Type: the body must be application/json", "status": 415}),
        );
    }
    let visibility = body["visibility"].as_str();
    if body["author"] != format!("urn:li:person:{account}")
        || body["lifecycleState"] != "PUBLISHED"
        || !body["commentary"].is_string()
        || !body["distribution"]["feedDistribution"].is_string()
        || !matches!(
            visibility,
            Some("PUBLIC" | "CONNECTIONS" | "LOGGED_IN" | "CONTAINER")
        )
    {
        return json_response(
            422,
            json!({"message": "author, commentary, visibility, distribution and lifecycleState PUBLISHED are required", "status": 422}),
        );
    }
    let text = unescape(body["commentary"].as_str().unwrap_or_default());
    if let Some(image) = body["content"]["media"]["id"].as_str() {
        let ready = posts()
            .images
            .get(image)
            .is_some_and(|(owner, uploaded)| owner == account && *uploaded);
        if !ready {
            return json_response(
                400,
                json!({"message": format!("{image} has not been uploaded"), "status": 400}),
            );
        }
        if marked(&text, "reject-media") {
            return json_response(
                400,
                json!({"message": "Image processing failed: the image is not supported", "status": 400, "serviceErrorCode": 100}),
            );
        }
    }
    faulted("linkedin", &text, || {
        let id = record("linkedin", account, &text, "");
        (
            axum::http::StatusCode::CREATED,
            [("x-restli-id", format!("urn:li:share:{id}"))],
        )
            .into_response()
    })
}

/// Listing a member's posts (`q=author`) takes `r_member_social`, a private permission no token
/// of the fake (as no ordinary app's) holds.
fn linkedin_posts(request: &Request, _: &str) -> Response {
    linkedin_unversioned(request).unwrap_or_else(|| {
        json_response(
            403,
            json!({"message": "Not enough permissions to access: partnerApiPostsExternal.FINDER-author (r_member_social)", "status": 403, "serviceErrorCode": 100}),
        )
    })
}

fn tiktok_error(status: u16, code: &str, message: &str) -> Response {
    json_response(
        status,
        json!({"data": {}, "error": {"code": code, "message": message, "log_id": "fake"}}),
    )
}

/// The privacy levels a creator offers: a private account (the fake's accounts named
/// `private…`) has no `PUBLIC_TO_EVERYONE`.
fn privacy_level_options(account: &str) -> [&'static str; 3] {
    if account.starts_with("private") {
        ["FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
    } else {
        ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
    }
}

fn tiktok_creator_info(_: &Request, account: &str) -> Response {
    json_response(
        200,
        json!({"data": {"creator_avatar_url": "https://p16.tiktokcdn.com/fake.jpeg",
                        "creator_username": account, "creator_nickname": format!("TikTok {account}"),
                        "privacy_level_options": privacy_level_options(account),
                        "comment_disabled": false, "duet_disabled": true, "stitch_disabled": false,
                        "max_video_post_duration_sec": 600},
               "error": {"code": "ok", "message": "", "log_id": "fake"}}),
    )
}

/// Whether `(video_size, chunk_size, total_chunk_count)` keep TikTok's chunk rules: a video
/// under 5 MB (or up to 64 MB) may go whole; otherwise chunks of 5 to 64 MB, the count being the
/// size divided by the chunk size rounded down (the last chunk takes the rest, up to 128 MB),
/// at most 1000 of them.
fn valid_chunks(size: u64, chunk: u64, count: u64) -> bool {
    const MB: u64 = 1024 * 1024;
    let whole = chunk == size && count == 1 && size <= 64 * MB;
    let chunked = (5 * MB..=64 * MB).contains(&chunk)
        && count == size / chunk
        && (1..=1000).contains(&count)
        && size - chunk * (count - 1) <= 128 * MB;
    size > 0 && (whole || (size >= 5 * MB && chunked))
}

fn tiktok_init(request: &Request, account: &str) -> Response {
    let body = request.json();
    let title = body["post_info"]["title"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let privacy = body["post_info"]["privacy_level"].as_str();
    let source = &body["source_info"];
    let size = source["video_size"].as_u64().unwrap_or(0);
    let chunk = source["chunk_size"].as_u64().unwrap_or(0);
    let count = source["total_chunk_count"].as_u64().unwrap_or(0);
    if !request.sends_json()
        || source["source"] != "FILE_UPLOAD"
        || !valid_chunks(size, chunk, count)
        || title.encode_utf16().count() > 2200
        || privacy.is_none()
    {
        return tiktok_error(400, "invalid_params", "post_info or source_info is invalid");
    }
    if !privacy.is_some_and(|level| privacy_level_options(account).contains(&level)) {
        return tiktok_error(
            400,
            "privacy_level_option_mismatch",
            "privacy_level is not one of the creator's privacy_level_options",
        );
    }
    faulted("tiktok", &title, || {
        let publish_id = format!(
            "v_pub_file~v2-1.{}",
            NEXT_NUMBER.fetch_add(1, Ordering::Relaxed)
        );
        let upload_id = random("upload").replace('-', "");
        let mut posts = posts();
        posts.uploads.insert(upload_id.clone(), publish_id.clone());
        posts.jobs.insert(
            publish_id.clone(),
            TiktokJob {
                account: account.to_owned(),
                title: title.clone(),
                size,
                received: 0,
                outcome: None,
                reads: 0,
            },
        );
        json_response(
            200,
            json!({"data": {"publish_id": publish_id,
                            "upload_url": format!("https://open-upload.tiktokapis.com/video/?upload_id={upload_id}&upload_token=fake")},
                   "error": {"code": "ok", "message": "", "log_id": "fake"}}),
        )
    })
}

/// A chunk PUT to the upload URL (its own authorization: no token), typed as the video.
fn tiktok_upload(request: &Request) -> Response {
    if !matches!(
        request.header("content-type"),
        Some("video/mp4" | "video/quicktime" | "video/webm")
    ) {
        return tiktok_error(
            400,
            "invalid_params",
            "Content-Type must be the video's type",
        );
    }
    let range = request
        .header("content-range")
        .unwrap_or_default()
        .to_owned();
    let mut posts = posts();
    let Some(publish_id) = posts.uploads.get(request.param("upload_id")).cloned() else {
        return tiktok_error(404, "invalid_params", "unknown upload");
    };
    let job = posts.jobs.get_mut(&publish_id).expect("a job per upload");
    let expected = format!(
        "bytes {}-{}/{}",
        job.received,
        job.received + request.body.len() as u64 - 1,
        job.size
    );
    if range != expected || job.outcome.is_some() {
        return tiktok_error(
            416,
            "invalid_params",
            "Content-Range does not match the upload",
        );
    }
    job.received += request.body.len() as u64;
    if job.received < job.size {
        return (axum::http::StatusCode::PARTIAL_CONTENT, "").into_response();
    }
    let (account, title) = (job.account.clone(), job.title.clone());
    if marked(&title, "reject-media") {
        job.outcome = Some(Err("file_format_check_failed".into()));
        return (axum::http::StatusCode::CREATED, "").into_response();
    }
    let number = 7_300_000_000_000_000_000 + NEXT_NUMBER.fetch_add(1, Ordering::Relaxed);
    job.outcome = Some(Ok(number));
    posts.created.push(Created {
        app: "tiktok",
        account,
        id: number.to_string(),
        text: title,
        place: String::new(),
        at: SystemTime::now(),
    });
    (axum::http::StatusCode::CREATED, "").into_response()
}

fn tiktok_status(request: &Request, account: &str) -> Response {
    let publish_id = request.json()["publish_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut posts = posts();
    let Some(job) = posts
        .jobs
        .get_mut(&publish_id)
        .filter(|job| job.account == account)
    else {
        return tiktok_error(400, "invalid_publish_id", "publish_id does not exist");
    };
    job.reads += 1;
    let data = match (&job.outcome, job.reads) {
        (None, _) | (_, 1) => {
            json!({"status": "PROCESSING_UPLOAD", "uploaded_bytes": job.received})
        }
        (Some(Ok(id)), _) => {
            json!({"status": "PUBLISH_COMPLETE", "publicaly_available_post_id": [id],
                                     "uploaded_bytes": job.received})
        }
        (Some(Err(reason)), _) => json!({"status": "FAILED", "fail_reason": reason}),
    };
    json_response(
        200,
        json!({"data": data, "error": {"code": "ok", "message": "", "log_id": "fake"}}),
    )
}

fn pinterest_pin(request: &Request, account: &str) -> Response {
    let body = request.json();
    let board = body["board_id"].as_str().unwrap_or_default().to_owned();
    let description = body["description"].as_str().unwrap_or_default().to_owned();
    let media = &body["media_source"];
    let image = STANDARD
        .decode(media["data"].as_str().unwrap_or_default())
        .unwrap_or_default();
    if !request.sends_json() || board.is_empty() || media["source_type"] != "image_base64" {
        return json_response(
            400,
            json!({"code": 1, "message": "Invalid parameters: board_id and media_source are required"}),
        );
    }
    let too_long = |field: &str, max: usize| {
        body[field]
            .as_str()
            .is_some_and(|text| text.chars().count() > max)
    };
    if too_long("description", 800) || too_long("title", 100) || too_long("link", 2048) {
        return json_response(
            400,
            json!({"code": 1, "message": "Invalid parameters: description is at most 800 characters, title 100, link 2048"}),
        );
    }
    if image.is_empty()
        || !matches!(
            media["content_type"].as_str(),
            Some("image/jpeg" | "image/png")
        )
        || marked(&description, "reject-media")
    {
        return json_response(
            400,
            json!({"code": 1, "message": "Invalid image: media_source could not be processed"}),
        );
    }
    faulted("pinterest", &description, || {
        let id = record("pinterest", account, &description, &board);
        json_response(
            201,
            json!({"id": id, "created_at": rfc3339(SystemTime::now()), "board_id": board,
                   "title": body["title"], "description": description, "link": body["link"],
                   "media": {"media_type": "image"}}),
        )
    })
}

fn pinterest_board(request: &Request, account: &str) -> Response {
    let board = request
        .path
        .trim_start_matches("/v5/boards/")
        .trim_end_matches("/pins");
    let items: Vec<Value> = found("pinterest", account)
        .into_iter()
        .filter(|pin| pin.place == board)
        .map(|pin| {
            json!({"id": pin.id, "board_id": board, "description": pin.text,
                   "created_at": rfc3339(pin.at)})
        })
        .collect();
    json_response(200, json!({"items": items, "bookmark": null}))
}

fn youtube_error(status: u16, reason: &str, message: &str) -> Response {
    json_response(
        status,
        json!({"error": {"code": status, "message": message,
                         "errors": [{"message": message, "domain": "youtube.video", "reason": reason}]}}),
    )
}

/// Opens a resumable session: `uploadType=resumable` with `part` naming what the JSON metadata
/// sets, `X-Upload-Content-Length` and a video `X-Upload-Content-Type`, and metadata YouTube
/// takes: a title of 1 to 100 characters and a description of at most 5000 bytes, neither with
/// `<` or `>`, and a known `privacyStatus`.
fn youtube_session(request: &Request, account: &str) -> Response {
    let body = request.json();
    let length = request
        .header("x-upload-content-length")
        .and_then(|length| length.parse().ok())
        .unwrap_or(0);
    let title = body["snippet"]["title"].as_str().unwrap_or_default();
    let description = body["snippet"]["description"].as_str().unwrap_or_default();
    let parts: Vec<&str> = request.param("part").split(',').collect();
    let video_type = request
        .header("x-upload-content-type")
        .is_some_and(|kind| kind.starts_with("video/") || kind == "application/octet-stream");
    if request.param("uploadType") != "resumable" || length == 0 || !video_type {
        return youtube_error(
            400,
            "badContent",
            "X-Upload-Content-Length and a video X-Upload-Content-Type are required",
        );
    }
    if !request.sends_json() || !parts.contains(&"snippet") || !parts.contains(&"status") {
        return youtube_error(
            400,
            "invalidVideoMetadata",
            "The request metadata is invalid: JSON with the parts named in `part`.",
        );
    }
    if title.trim().is_empty() || title.chars().count() > 100 || title.contains(['<', '>']) {
        return youtube_error(
            400,
            "invalidTitle",
            "The request metadata specifies an invalid video title.",
        );
    }
    if description.len() > 5000 || description.contains(['<', '>']) {
        return youtube_error(
            400,
            "invalidDescription",
            "The request metadata specifies an invalid video description.",
        );
    }
    if !matches!(
        body["status"]["privacyStatus"].as_str(),
        Some("public" | "unlisted" | "private")
    ) {
        return youtube_error(
            400,
            "invalidVideoMetadata",
            "The request metadata is invalid: status.privacyStatus must be public, unlisted or private.",
        );
    }
    let upload_id = random("AEnB2U").replace('-', "");
    posts().sessions.insert(
        upload_id.clone(),
        Session {
            account: account.to_owned(),
            title: title.to_owned(),
            description: body["snippet"]["description"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            privacy: body["status"]["privacyStatus"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            length,
            done: false,
        },
    );
    let location = format!(
        "https://www.googleapis.com/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status&upload_id={upload_id}"
    );
    (axum::http::StatusCode::OK, [("location", location)]).into_response()
}

fn youtube_upload(request: &Request, account: &str) -> Response {
    let upload_id = request.param("upload_id").to_owned();
    if !request
        .header("content-type")
        .is_some_and(|kind| kind.starts_with("video/") || kind == "application/octet-stream")
    {
        return youtube_error(
            400,
            "mediaBodyRequired",
            "The request does not include the video content as video/* or application/octet-stream.",
        );
    }
    let (title, description, privacy) = {
        let posts = posts();
        match posts.sessions.get(&upload_id) {
            Some(s) if s.account == account && !s.done && s.length == request.body.len() => {
                (s.title.clone(), s.description.clone(), s.privacy.clone())
            }
            _ => {
                return youtube_error(
                    400,
                    "badContent",
                    "The upload session or its length is invalid.",
                )
            }
        }
    };
    if marked(&description, "reject-media") {
        return youtube_error(
            400,
            "invalidVideo",
            "The video file could not be processed.",
        );
    }
    faulted("youtube", &description, || {
        if let Some(session) = posts().sessions.get_mut(&upload_id) {
            session.done = true;
        }
        let id = record("youtube", account, &description, &title);
        json_response(
            200,
            json!({"kind": "youtube#video", "id": id,
                   "snippet": {"title": title, "description": description, "publishedAt": rfc3339(SystemTime::now()),
                               "channelId": format!("UC-{account}")},
                   "status": {"uploadStatus": "uploaded", "privacyStatus": privacy}}),
        )
    })
}

fn youtube_search(request: &Request, account: &str) -> Response {
    if request.param("forMine") != "true" || request.param("type") != "video" {
        return youtube_error(400, "invalidSearchFilter", "forMine requires type=video");
    }
    let items: Vec<Value> = found("youtube", account)
        .into_iter()
        .map(|video| {
            json!({"kind": "youtube#searchResult", "id": {"kind": "youtube#video", "videoId": video.id},
                   "snippet": {"title": video.place, "description": video.text,
                               "publishedAt": rfc3339(video.at), "channelId": format!("UC-{account}")}})
        })
        .collect();
    json_response(
        200,
        json!({"kind": "youtube#searchListResponse", "items": items}),
    )
}

/// Each refusal the fakes make where the platform's reference says it refuses, checked with the
/// request the worker used to send before the audit (#20) where it had one.
#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    /// A request to `app` at `host` and `path` (query after `?`), with these headers and body.
    struct Sent {
        app: &'static str,
        host: &'static str,
        path: &'static str,
        query: HashMap<String, String>,
        headers: HeaderMap,
        body: Bytes,
    }

    impl Sent {
        fn to(app: &'static str, host: &'static str, target: &'static str) -> Self {
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            Self {
                app,
                host,
                path,
                query: url::form_urlencoded::parse(query.as_bytes())
                    .into_owned()
                    .collect(),
                headers: HeaderMap::new(),
                body: Bytes::new(),
            }
        }

        fn header(mut self, name: &'static str, value: &str) -> Self {
            self.headers
                .insert(name, HeaderValue::from_str(value).unwrap());
            self
        }

        fn json(self, body: Value) -> Self {
            Self {
                body: Bytes::from(body.to_string()),
                ..self.header("content-type", "application/json")
            }
        }

        fn form(self, pairs: &[(&str, &str)]) -> Self {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish();
            Self {
                body: Bytes::from(body),
                ..self.header("content-type", "application/x-www-form-urlencoded")
            }
        }

        fn bytes(self, content_type: &str, body: &'static [u8]) -> Self {
            Self {
                body: Bytes::from_static(body),
                ..self.header("content-type", content_type)
            }
        }

        fn request(&self, method: &'static str) -> Request<'_> {
            Request {
                app: self.app,
                method,
                host: self.host,
                path: self.path,
                query: &self.query,
                headers: &self.headers,
                bearer: "",
                body: &self.body,
            }
        }

        /// `handler`'s answer to this request from `account`: its status and JSON body.
        async fn answer(
            &self,
            handler: fn(&Request, &str) -> Response,
            account: &str,
        ) -> (u16, Value) {
            read(handler(&self.request("POST"), account)).await
        }
    }

    async fn read(response: Response) -> (u16, Value) {
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    fn unique(prefix: &str) -> String {
        random(prefix).replace('-', "")
    }

    #[tokio::test]
    async fn x_takes_only_still_images_in_one_call_and_a_gif_as_a_segmented_tweet_gif() {
        let account = unique("x");
        let upload = |category: &str, media_type: &str| {
            Sent::to("x", "api.x.com", "/2/media/upload").json(
                json!({"media": "R0lGODlh", "media_category": category, "media_type": media_type}),
            )
        };
        // What the worker sent for a GIF before: refused, as X's enum has no GIF here.
        let (status, body) = upload("tweet_gif", "image/gif")
            .answer(x_media, &account)
            .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["title"], "Invalid Request");
        let (status, _) = upload("tweet_image", "image/gif")
            .answer(x_media, &account)
            .await;
        assert_eq!(status, 400, "no GIF among the one-call media types");
        let (status, body) = upload("tweet_image", "image/png")
            .answer(x_media, &account)
            .await;
        assert_eq!(status, 200, "{body}");
        let raw = Sent::to("x", "api.x.com", "/2/media/upload").bytes("image/png", b"PNG");
        assert_eq!(raw.answer(x_media, &account).await.0, 400, "JSON only");

        let initialize = |category: &str, media_type: &str| {
            Sent::to("x", "api.x.com", "/2/media/upload/initialize").json(
                json!({"media_type": media_type, "total_bytes": 6, "media_category": category}),
            )
        };
        for (category, media_type, status) in [
            ("tweet_gif", "image/gif", 200),
            ("tweet_video", "video/mp4", 200),
            ("tweet_video", "image/gif", 400),
            ("tweet_gif", "video/mp4", 400),
            ("tweet_image", "image/gif", 400),
        ] {
            assert_eq!(
                initialize(category, media_type)
                    .answer(x_initialize, &account)
                    .await
                    .0,
                status,
                "{category} {media_type}"
            );
        }
    }

    #[tokio::test]
    async fn x_posts_are_json_with_text_or_media_and_a_known_reply_setting() {
        let account = unique("x");
        let post = |body: Value| Sent::to("x", "api.x.com", "/2/tweets").json(body);
        let (status, body) = post(json!({"text": "Hi", "reply_settings": "everyone"}))
            .answer(x_post, &account)
            .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(post(json!({})).answer(x_post, &account).await.0, 400);
        let form = Sent::to("x", "api.x.com", "/2/tweets").form(&[("text", "Hi")]);
        assert_eq!(form.answer(x_post, &account).await.0, 400);
        let (status, body) = post(json!({"text": unique("Hi"), "reply_settings": "following"}))
            .answer(x_post, &account)
            .await;
        assert_eq!(status, 201, "{body}");
        assert!(body["data"]["id"].is_string());
    }

    #[tokio::test]
    async fn x_timelines_start_at_a_utc_time_in_whole_seconds() {
        let timeline = |target: &'static str| Sent::to("x", "api.x.com", target);
        // What the worker sent before: RFC 3339 with an offset and fractions.
        let (status, _) = read(x_timeline(
            &timeline("/2/users/1/tweets?start_time=2026-12-07T14%3A00%3A01.5%2B00%3A00")
                .request("GET"),
            "1",
        ))
        .await;
        assert_eq!(status, 400);
        let (status, _) = read(x_timeline(
            &timeline("/2/users/1/tweets?start_time=2026-12-07T14%3A00%3A01Z").request("GET"),
            "1",
        ))
        .await;
        assert_eq!(status, 200);
    }

    /// A `yyyymm` version `months` from this month.
    fn version(months: i32) -> String {
        let now = chrono::DateTime::<chrono::Utc>::from(SystemTime::now()).date_naive();
        let month = now.year() * 12 + now.month0() as i32 + months;
        format!("{}{:02}", month / 12, month % 12 + 1)
    }

    #[tokio::test]
    async fn linkedin_refuses_a_missing_sunset_or_future_version_and_the_author_finder() {
        let account = unique("li");
        let post = |version: Option<&str>| {
            let sent = Sent::to("linkedin", "api.linkedin.com", "/rest/posts")
                .header("x-restli-protocol-version", "2.0.0")
                .json(json!({"author": format!("urn:li:person:{account}"), "commentary": unique("Hi"),
                    "visibility": "PUBLIC", "lifecycleState": "PUBLISHED",
                    "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []}}));
            match version {
                Some(version) => sent.header("linkedin-version", version),
                None => sent,
            }
        };
        let (status, body) = post(None).answer(linkedin_post, &account).await;
        assert_eq!((status, &body["code"]), (426, &json!("VERSION_MISSING")));
        // The version the worker sent until the audit, now past its year.
        for old_or_future in [version(-13), version(1), "202510".to_owned()] {
            let (status, body) = post(Some(&old_or_future))
                .answer(linkedin_post, &account)
                .await;
            assert_eq!(
                (status, &body["code"]),
                (426, &json!("NONEXISTENT_VERSION")),
                "{old_or_future}"
            );
        }
        let (status, _) = post(Some(&version(-11)))
            .answer(linkedin_post, &account)
            .await;
        assert_eq!(status, 201, "a version within its year is live");

        let missing_visibility = Sent::to("linkedin", "api.linkedin.com", "/rest/posts")
            .header("x-restli-protocol-version", "2.0.0")
            .header("linkedin-version", &version(0))
            .json(json!({"author": format!("urn:li:person:{account}"), "commentary": "Hi",
                         "lifecycleState": "PUBLISHED", "distribution": {"feedDistribution": "MAIN_FEED"}}));
        assert_eq!(
            missing_visibility.answer(linkedin_post, &account).await.0,
            422
        );

        let finder = Sent::to(
            "linkedin",
            "api.linkedin.com",
            "/rest/posts?q=author&author=urn%3Ali%3Aperson%3Ax",
        )
        .header("x-restli-protocol-version", "2.0.0")
        .header("linkedin-version", &version(0));
        let (status, body) = read(linkedin_posts(&finder.request("GET"), &account)).await;
        assert_eq!(status, 403, "{body}");
    }

    #[tokio::test]
    async fn facebook_feed_posts_need_a_message_as_json_or_form() {
        let account = unique("fb");
        let feed = || Sent::to("facebook", "graph.facebook.com", "/v23.0/page-1/feed");
        let (status, body) = feed()
            .json(json!({"text": "misspelt"}))
            .answer(facebook_post, &account)
            .await;
        assert_eq!((status, &body["error"]["code"]), (400, &json!(100)));
        assert_eq!(
            feed()
                .bytes("text/plain", b"Hi")
                .answer(facebook_post, &account)
                .await
                .0,
            400
        );
        assert_eq!(
            feed()
                .form(&[("message", &unique("Hi"))])
                .answer(facebook_post, &account)
                .await
                .0,
            200
        );
        assert_eq!(
            feed()
                .json(json!({"message": unique("Hi")}))
                .answer(facebook_post, &account)
                .await
                .0,
            200
        );
    }

    #[tokio::test]
    async fn instagram_publishes_a_container_only_once_it_is_finished() {
        let account = unique("ig");
        let container = unique("1790");
        posts().containers.insert(
            container.clone(),
            Container {
                account: account.clone(),
                caption: unique("Sunset"),
                outcome: Ok(()),
                reads: 0,
                published: false,
            },
        );
        let path: &'static str = Box::leak(format!("/v23.0/ig-{account}/media_publish").into());
        let publish = || {
            Sent::to("instagram", "graph.facebook.com", path)
                .form(&[("creation_id", container.as_str())])
        };
        let status_read: &'static str = Box::leak(format!("/v23.0/{container}").into());
        let read_status = || async {
            let sent = Sent::to("instagram", "graph.facebook.com", status_read);
            read(instagram_node(&sent.request("GET"), &account)).await.1["status_code"].clone()
        };
        let (status, body) = publish().answer(instagram_publish, &account).await;
        assert_eq!(
            (status, &body["error"]["error_subcode"]),
            (400, &json!(2207027)),
            "published before any status read: {body}"
        );
        assert_eq!(read_status().await, "IN_PROGRESS");
        assert_eq!(
            publish().answer(instagram_publish, &account).await.0,
            400,
            "still in progress"
        );
        assert_eq!(read_status().await, "FINISHED");
        let (status, body) = publish().answer(instagram_publish, &account).await;
        assert_eq!(status, 200, "{body}");
    }

    #[tokio::test]
    async fn tiktok_takes_only_the_creators_privacy_levels_and_its_chunk_rules() {
        const MB: u64 = 1024 * 1024;
        let init = |privacy: &str, size: u64, chunk: u64, count: u64| {
            Sent::to(
                "tiktok",
                "open.tiktokapis.com",
                "/v2/post/publish/video/init/",
            )
            .json(
                json!({"post_info": {"title": unique("Dance"), "privacy_level": privacy},
                       "source_info": {"source": "FILE_UPLOAD", "video_size": size,
                                       "chunk_size": chunk, "total_chunk_count": count}}),
            )
        };
        let private = unique("private");
        let (_, info) = Sent::to(
            "tiktok",
            "open.tiktokapis.com",
            "/v2/post/publish/creator_info/query/",
        )
        .json(json!({}))
        .answer(tiktok_creator_info, &private)
        .await;
        assert_eq!(
            info["data"]["privacy_level_options"],
            json!(["FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"])
        );
        let (status, body) = init("PUBLIC_TO_EVERYONE", 3000, 3000, 1)
            .answer(tiktok_init, &private)
            .await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (400, &json!("privacy_level_option_mismatch"))
        );
        let public = unique("pub");
        assert_eq!(
            init("FOLLOWER_OF_CREATOR", 3000, 3000, 1)
                .answer(tiktok_init, &public)
                .await
                .0,
            400
        );
        assert_eq!(
            init("PUBLIC_TO_EVERYONE", 3000, 3000, 1)
                .answer(tiktok_init, &public)
                .await
                .0,
            200
        );
        assert!(
            valid_chunks(200 * MB + 5, 64 * MB, 3),
            "the rest joins the last"
        );
        assert!(valid_chunks(20 * MB, 20 * MB, 1), "whole up to 64 MB");
        assert!(
            !valid_chunks(65 * MB, 65 * MB, 1),
            "over 64 MB goes in chunks"
        );
        assert!(!valid_chunks(20 * MB, 4 * MB, 5), "chunks of at least 5 MB");
        assert!(!valid_chunks(200 * MB, 64 * MB, 4), "rounded down");
        assert!(!valid_chunks(3000, 1000, 3), "a small video goes whole");
    }

    #[tokio::test]
    async fn tiktok_uploads_carry_the_videos_type() {
        let upload = Sent::to(
            "tiktok",
            "open-upload.tiktokapis.com",
            "/video/?upload_id=x",
        )
        .header("content-range", "bytes 0-2/3")
        .bytes("application/octet-stream", b"mp4");
        let (status, body) = read(tiktok_upload(&upload.request("PUT"))).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (400, &json!("invalid_params"))
        );
    }

    #[tokio::test]
    async fn pinterest_refuses_a_description_over_800_characters() {
        let pin = |description: String| {
            Sent::to("pinterest", "api.pinterest.com", "/v5/pins").json(json!({
                "board_id": "b1", "description": description,
                "media_source": {"source_type": "image_base64", "content_type": "image/png", "data": "cG5n"}}))
        };
        let account = unique("p");
        let (status, body) = pin("a".repeat(801)).answer(pinterest_pin, &account).await;
        assert_eq!((status, &body["code"]), (400, &json!(1)));
        assert_eq!(
            pin(unique("a")).answer(pinterest_pin, &account).await.0,
            201
        );
    }

    #[tokio::test]
    async fn youtube_refuses_what_videos_insert_refuses() {
        let account = unique("yt");
        let session = |snippet: Value, privacy: &str| {
            Sent::to(
                "youtube",
                "www.googleapis.com",
                "/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status",
            )
            .header("x-upload-content-length", "3")
            .header("x-upload-content-type", "video/mp4")
            .json(json!({"snippet": snippet, "status": {"privacyStatus": privacy}}))
        };
        let reason = |body: Value| body["error"]["errors"][0]["reason"].clone();
        let (status, body) = session(json!({"title": "T", "description": "a <b>"}), "public")
            .answer(youtube_session, &account)
            .await;
        assert_eq!((status, reason(body)), (400, json!("invalidDescription")));
        let (status, body) = session(
            json!({"title": "T", "description": "é".repeat(2501)}),
            "public",
        )
        .answer(youtube_session, &account)
        .await;
        assert_eq!(
            (status, reason(body)),
            (400, json!("invalidDescription")),
            "bytes"
        );
        let (status, body) = session(json!({"title": "T", "description": "d"}), "friends")
            .answer(youtube_session, &account)
            .await;
        assert_eq!((status, reason(body)), (400, json!("invalidVideoMetadata")));
        let (status, body) = session(json!({"title": "T", "description": "d"}), "unlisted")
            .answer(youtube_session, &account)
            .await;
        assert_eq!(status, 200, "{body}");

        let upload = Sent::to(
            "youtube",
            "www.googleapis.com",
            "/upload/youtube/v3/videos?upload_id=x",
        )
        .bytes("text/plain", b"mp4");
        let (status, body) = read(youtube_upload(&upload.request("PUT"), &account)).await;
        assert_eq!((status, reason(body)), (400, json!("mediaBodyRequired")));
    }
}
