//! Where the auth stand-in's emails go, like the mail catcher of Supabase's local stack:
//! `GET /mailbox/v1/messages?to=<address>` lists them, newest last; `DELETE` empties the box.

use std::sync::Mutex;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Clone, Serialize)]
pub struct Mail {
    pub id: u64,
    pub to: String,
    pub subject: String,
    pub body: String,
    /// The action link in the body (confirm, reset, invite), for clients and tests.
    pub link: String,
    /// The six-digit code in the body (GoTrue's `{{ .Token }}`), for `POST /verify` with the address.
    pub token: String,
    pub sent_at: String,
}

#[derive(Default)]
pub struct Mailbox {
    messages: Mutex<Vec<Mail>>,
}

impl Mailbox {
    pub fn send(&self, to: &str, subject: &str, link: &str, token: &str) {
        let mut messages = self.messages.lock().expect("mailbox lock");
        let mail = Mail {
            id: messages.len() as u64 + 1,
            to: to.to_owned(),
            subject: subject.to_owned(),
            body: format!("{subject}\n\nFollow this link: {link}\nOr enter this code: {token}\n"),
            link: link.to_owned(),
            token: token.to_owned(),
            sent_at: chrono::Utc::now().to_rfc3339(),
        };
        eprintln!("mailbox: \"{subject}\" to {to}");
        messages.push(mail);
    }

    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/mailbox/v1/messages", get(list).delete(clear))
            .with_state(self)
    }
}

#[derive(Deserialize)]
struct Filter {
    to: Option<String>,
}

async fn list(
    State(mailbox): State<Arc<Mailbox>>,
    Query(filter): Query<Filter>,
) -> Json<Vec<Mail>> {
    let messages = mailbox.messages.lock().expect("mailbox lock");
    let wanted = |m: &&Mail| {
        filter
            .to
            .as_ref()
            .is_none_or(|to| m.to.eq_ignore_ascii_case(to))
    };
    Json(messages.iter().filter(wanted).cloned().collect())
}

async fn clear(State(mailbox): State<Arc<Mailbox>>) -> StatusCode {
    mailbox.messages.lock().expect("mailbox lock").clear();
    StatusCode::NO_CONTENT
}
