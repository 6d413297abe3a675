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
//! X videos go up in segments (`initialize`, `append`, `finalize`) and are processed: the
//! first status read says `in_progress`, the next `succeeded`, or `failed` when the bytes are
//! not an MP4/MOV (no `ftyp` box); a post may only use media that are ready.
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
    /// `FINISHED` or `ERROR: why`, shown from the second status read on.
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

/// An X upload: an image (ready at once) or a video, in segments until finalized.
struct XMedia {
    account: String,
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
fn new_x_media(account: &str, total_bytes: usize, state: XMediaState) -> String {
    let id = format!("18800{}", NEXT_NUMBER.fetch_add(1, Ordering::Relaxed));
    posts().x_media.insert(
        id.clone(),
        XMedia {
            account: account.to_owned(),
            total_bytes,
            segments: Default::default(),
            state,
        },
    );
    id
}

fn x_media(request: &Request, account: &str) -> Response {
    if request.json()["media"]
        .as_str()
        .unwrap_or_default()
        .is_empty()
    {
        return x_invalid("media is required");
    }
    let id = new_x_media(account, 0, XMediaState::Ready);
    json_response(
        200,
        json!({"data": {"id": id, "media_key": format!("3_{id}")}}),
    )
}

/// The media id of `/2/media/upload/{id}/{step}`.
fn x_upload_step<'a>(path: &'a str, step: &str) -> Option<&'a str> {
    path.strip_prefix("/2/media/upload/")?
        .strip_suffix(step)?
        .strip_suffix('/')
}

fn x_initialize(request: &Request, account: &str) -> Response {
    let body = request.json();
    let (Some(media_type), Some(total_bytes)) =
        (body["media_type"].as_str(), body["total_bytes"].as_u64())
    else {
        return x_invalid("media_type and total_bytes are required");
    };
    if !media_type.starts_with("video/") || body["media_category"] != "tweet_video" {
        return x_invalid("this fake takes segmented uploads of tweet_video only");
    }
    let id = new_x_media(account, total_bytes as usize, XMediaState::Uploading);
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
        media.state = match reads {
            0 => XMediaState::Processing(1),
            // MP4 and MOV files open with an `ftyp` box.
            _ if media
                .segments
                .values()
                .flatten()
                .skip(4)
                .take(4)
                .eq(b"ftyp") =>
            {
                XMediaState::Ready
            }
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

fn x_timeline(_: &Request, account: &str) -> Response {
    let tweets: Vec<Value> = found("x", account)
        .into_iter()
        .map(|post| json!({"id": post.id, "text": post.text}))
        .collect();
    json_response(
        200,
        json!({"data": tweets, "meta": {"result_count": tweets.len()}}),
    )
}

fn facebook_post(request: &Request, account: &str) -> Response {
    let body = request.json();
    let text = body["message"].as_str().unwrap_or_default();
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
    let form = request.form();
    let caption = form.get("caption").cloned().unwrap_or_default();
    let image_url = form.get("image_url").cloned().unwrap_or_default();
    if image_url.is_empty() {
        return graph_error("The parameter image_url is required", 100);
    }
    let fetched = match reqwest::get(&image_url).await {
        Ok(response) if response.status().is_success() => response
            .bytes()
            .await
            .map(|b| !b.is_empty())
            .unwrap_or(false),
        _ => false,
    };
    let outcome = if !fetched {
        Err("ERROR: the image could not be downloaded from image_url".to_owned())
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
        .form()
        .get("creation_id")
        .cloned()
        .unwrap_or_default();
    let caption = {
        let posts = posts();
        match posts.containers.get(&creation_id) {
            Some(c) if c.account == account && c.outcome.is_ok() && !c.published => {
                c.caption.clone()
            }
            Some(c) if c.published => return graph_error("Media ID is not available", 9007),
            _ => return graph_error("The media is not ready for publishing", 9007),
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

/// LinkedIn's versioned API refuses calls without its version headers.
fn linkedin_unversioned(request: &Request) -> Option<Response> {
    let version = request.header("linkedin-version").unwrap_or_default();
    if version.len() != 6 || !version.bytes().all(|b| b.is_ascii_digit()) {
        return Some(json_response(
            426,
            json!({"message": "A version must be present. Please specify a version by adding the LinkedIn-Version header.", "status": 426, "code": "VERSION_MISSING"}),
        ));
    }
    (request.header("x-restli-protocol-version") != Some("2.0.0")).then(|| {
        json_response(
            400,
            json!({"message": "X-Restli-Protocol-Version 2.0.0 is required", "status": 400}),
        )
    })
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
    if body["author"] != format!("urn:li:person:{account}") || body["lifecycleState"] != "PUBLISHED"
    {
        return json_response(
            422,
            json!({"message": "author and lifecycleState PUBLISHED are required", "status": 422}),
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

fn linkedin_posts(request: &Request, account: &str) -> Response {
    if let Some(refused) = linkedin_unversioned(request) {
        return refused;
    }
    if request.param("q") != "author"
        || request.param("author") != format!("urn:li:person:{account}")
    {
        return json_response(
            403,
            json!({"message": "Not enough permissions to access: posts.FINDER-author", "status": 403}),
        );
    }
    let elements: Vec<Value> = found("linkedin", account)
        .into_iter()
        .map(|post| {
            let commentary: String = post
                .text
                .chars()
                .flat_map(|c| {
                    let escape = "\\|{}@[]()<>#*_~".contains(c);
                    escape.then_some('\\').into_iter().chain([c])
                })
                .collect();
            json!({"id": format!("urn:li:share:{}", post.id), "author": format!("urn:li:person:{account}"),
                   "commentary": commentary, "createdAt": millis(post.at), "publishedAt": millis(post.at),
                   "lifecycleState": "PUBLISHED", "visibility": "PUBLIC"})
        })
        .collect();
    json_response(
        200,
        json!({"paging": {"start": 0, "count": 20, "links": []}, "elements": elements}),
    )
}

fn tiktok_error(status: u16, code: &str, message: &str) -> Response {
    json_response(
        status,
        json!({"data": {}, "error": {"code": code, "message": message, "log_id": "fake"}}),
    )
}

/// What a fake creator may post: a public account's privacy levels (TikTok offers
/// `FOLLOWER_OF_CREATOR` to private accounts only), duets off.
const TIKTOK_PRIVACY_LEVELS: [&str; 3] =
    ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"];

fn tiktok_creator_info(_request: &Request, account: &str) -> Response {
    json_response(
        200,
        json!({"data": {"creator_avatar_url": "https://p16.tiktokcdn.com/fake.jpeg",
                        "creator_username": account, "creator_nickname": format!("TikTok {account}"),
                        "privacy_level_options": TIKTOK_PRIVACY_LEVELS,
                        "comment_disabled": false, "duet_disabled": true, "stitch_disabled": false,
                        "max_video_post_duration_sec": 600},
               "error": {"code": "ok", "message": "", "log_id": "fake"}}),
    )
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
    let valid_chunks = size > 0 && chunk > 0 && count == (size / chunk).max(1);
    if source["source"] != "FILE_UPLOAD" || !valid_chunks || privacy.is_none() {
        return tiktok_error(400, "invalid_params", "post_info or source_info is invalid");
    }
    if !privacy.is_some_and(|level| TIKTOK_PRIVACY_LEVELS.contains(&level)) {
        return tiktok_error(
            400,
            "privacy_level_option_mismatch",
            "privacy_level is not among the creator's privacy_level_options",
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

/// A chunk PUT to the upload URL (its own authorization: no token).
fn tiktok_upload(request: &Request) -> Response {
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
    if board.is_empty() || media["source_type"] != "image_base64" {
        return json_response(
            400,
            json!({"code": 1, "message": "Invalid parameters: board_id and media_source are required"}),
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

fn youtube_session(request: &Request, account: &str) -> Response {
    let body = request.json();
    let length = request
        .header("x-upload-content-length")
        .and_then(|length| length.parse().ok())
        .unwrap_or(0);
    let title = body["snippet"]["title"].as_str().unwrap_or_default();
    if request.param("uploadType") != "resumable" || length == 0 {
        return youtube_error(400, "badContent", "X-Upload-Content-Length is required");
    }
    if title.trim().is_empty() || title.chars().count() > 100 {
        return youtube_error(
            400,
            "invalidTitle",
            "The request metadata specifies an invalid video title.",
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
                .unwrap_or("public")
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
