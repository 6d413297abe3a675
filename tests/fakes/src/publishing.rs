//! The platforms' publishing endpoints, as their docs describe them: X (media upload, post,
//! the user's posts), Facebook Pages (feed, photos). Every created post is recorded, so tests
//! count duplicates (`GET /social/_posts?account=`).
//!
//! Markers in the post text choose a fault for the first attempt of that text (later attempts
//! succeed, as a platform that recovered would):
//! `[publish:429]` 429 with `Retry-After: 1`; `[publish:503]` 503; `[publish:reject]` 403;
//! `[publish:500-after-accept]` the post is created, then 500 is answered;
//! `[publish:drop-after-accept]` the post is created, then the connection is cut mid-answer;
//! `[publish:reject-media]` every media upload is refused (400).

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, MutexGuard};

use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::social::{json_response, random, unauthorized, use_token};

#[derive(Clone)]
struct Created {
    app: &'static str,
    account: String,
    id: String,
    text: String,
}

#[derive(Default)]
struct Posts {
    created: Vec<Created>,
    /// Attempts per post text, so a fault hits the first one only.
    attempts: HashMap<String, u32>,
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
    AfterAccept(u16),
    DropAfterAccept,
}

/// The fault the first attempt of `text` meets.
fn fault(text: &str) -> Fault {
    let first = {
        let mut posts = posts();
        let attempts = posts.attempts.entry(text.to_owned()).or_default();
        *attempts += 1;
        *attempts == 1
    };
    let marked = |marker: &str| text.contains(&format!("[publish:{marker}]"));
    match () {
        _ if marked("reject") => Fault::Refuse(403),
        _ if !first => Fault::None,
        _ if marked("429") => Fault::Refuse(429),
        _ if marked("503") => Fault::Refuse(503),
        _ if marked("500-after-accept") => Fault::AfterAccept(500),
        _ if marked("drop-after-accept") => Fault::DropAfterAccept,
        _ => Fault::None,
    }
}

/// Creates the post unless the fault refuses it; answers `created` unless the fault says
/// otherwise.
fn create(
    app: &'static str,
    account: &str,
    text: &str,
    created: impl FnOnce(&str) -> Value,
) -> Response {
    let refusal = |status: u16| {
        let mut response = json_response(
            status,
            json!({"title": "fault", "detail": format!("fake {app} fault {status}"), "status": status}),
        );
        if status == 429 {
            response
                .headers_mut()
                .insert("retry-after", "1".parse().expect("a header value"));
        }
        response
    };
    let fault = fault(text);
    if let Fault::Refuse(status) = fault {
        return refusal(status);
    }
    let id = random(&format!("{app}-post")).replace('-', "");
    posts().created.push(Created {
        app,
        account: account.to_owned(),
        id: id.clone(),
        text: text.to_owned(),
    });
    match fault {
        Fault::AfterAccept(status) => refusal(status),
        Fault::DropAfterAccept => {
            let cut = futures::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::other("connection cut by the fake"))
            });
            (axum::http::StatusCode::OK, Body::from_stream(cut)).into_response()
        }
        _ => json_response(if app == "x" { 201 } else { 200 }, created(&id)),
    }
}

fn found(app: &str, account: &str) -> Vec<Created> {
    posts()
        .created
        .iter()
        .filter(|post| post.app == app && post.account == account)
        .cloned()
        .collect()
}

/// The publishing endpoints; `None` for any other path.
pub fn handle(
    app: &'static str,
    method: &str,
    host: &str,
    path: &str,
    query: &HashMap<String, String>,
    bearer: &str,
    body: &Bytes,
) -> Option<Response> {
    let json_body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let response = match (method, host, path) {
        ("POST", "api.x.com", "/2/media/upload") => with_account(app, bearer, |_| {
            let text = json_body["media"].as_str().unwrap_or_default();
            if text.is_empty() {
                return json_response(
                    400,
                    json!({"title": "Invalid Request", "detail": "media is required"}),
                );
            }
            json_response(
                200,
                json!({"data": {"id": random("media").replace('-', ""), "media_key": "3_fake"}}),
            )
        }),
        ("POST", "api.x.com", "/2/tweets") => with_account(app, bearer, |account| {
            let text = json_body["text"].as_str().unwrap_or_default();
            if text.contains("[publish:reject-media]") && json_body["media"].is_object() {
                return json_response(
                    400,
                    json!({"title": "Invalid Request", "detail": "media rejected"}),
                );
            }
            create(
                "x",
                account,
                text,
                |id| json!({"data": {"id": id, "text": text}}),
            )
        }),
        ("GET", "api.x.com", timeline)
            if timeline.starts_with("/2/users/") && timeline.ends_with("/tweets") =>
        {
            with_account(app, bearer, |account| {
                let tweets: Vec<Value> = found("x", account)
                    .into_iter()
                    .map(|post| json!({"id": post.id, "text": post.text}))
                    .collect();
                json_response(
                    200,
                    json!({"data": tweets, "meta": {"result_count": tweets.len()}}),
                )
            })
        }
        ("POST", "graph.facebook.com", feed) if feed.ends_with("/feed") => {
            with_account(app, bearer, |account| {
                let text = json_body["message"].as_str().unwrap_or_default();
                create(
                    "facebook",
                    account,
                    text,
                    |id| json!({"id": format!("page-{account}_{id}")}),
                )
            })
        }
        ("POST", "graph.facebook.com", photos) if photos.ends_with("/photos") => {
            with_account(app, bearer, |account| {
                let caption = query.get("caption").cloned().unwrap_or_default();
                if caption.contains("[publish:reject-media]") || body.is_empty() {
                    return json_response(
                        400,
                        json!({"error": {"message": "Invalid image", "type": "OAuthException", "code": 324}}),
                    );
                }
                create(
                    "facebook",
                    account,
                    &caption,
                    |id| json!({"id": format!("photo{id}"), "post_id": format!("page-{account}_{id}")}),
                )
            })
        }
        ("GET", "graph.facebook.com", feed) if feed.ends_with("/feed") => {
            with_account(app, bearer, |account| {
                let data: Vec<Value> = found("facebook", account)
                .into_iter()
                .map(|post| {
                    let id = format!("page-{account}_{}", post.id);
                    json!({"id": id, "message": post.text, "permalink_url": format!("https://www.facebook.com/{id}")})
                })
                .collect();
                json_response(200, json!({ "data": data }))
            })
        }
        _ => return None,
    };
    Some(response)
}

fn with_account(app: &str, bearer: &str, answer: impl FnOnce(&str) -> Response) -> Response {
    match use_token(app, bearer) {
        Ok(account) => answer(&account),
        Err(()) => unauthorized(app),
    }
}
