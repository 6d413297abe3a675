//! A narrow Supabase Auth (GoTrue) stand-in: the email flows the Supabase SDKs use (password,
//! magic link and OTP, email change, implicit and PKCE), on the real `auth.users`,
//! `auth.identities`, `auth.sessions` and `auth.refresh_tokens`, with GoTrue's claims, status
//! codes and error bodies. Emails go to the local mailbox.

mod pkce;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::keys::{DevKeys, Signing};
use crate::mailbox::Mailbox;
use pkce::{Challenge, FlowStates, PKCE_PREFIX};

pub struct AuthConfig {
    /// The API URL clients use (the gateway), e.g. `http://127.0.0.1:54321`.
    pub api_url: String,
    /// Where links send the user when no `redirect_to` is given (`[auth] site_url`).
    pub site_url: String,
    pub access_token_ttl_seconds: i64,
    pub min_password_length: usize,
    /// `[auth.email] enable_confirmations`: sign-up waits for the emailed link.
    pub confirm_email: bool,
    pub signing: Signing,
    /// `refresh_token_reuse_interval`: a just-rotated token still works for this long.
    pub refresh_token_reuse_interval: Duration,
    /// `[auth.email] max_frequency`: emails to one address at most this often.
    pub email_min_interval: Duration,
}

pub struct Auth {
    pool: Pool,
    keys: DevKeys,
    config: AuthConfig,
    mailbox: Arc<Mailbox>,
    last_email: Mutex<HashMap<String, Instant>>,
    /// Failed password sign-ins per address within the current window.
    failed_sign_ins: Mutex<HashMap<String, Vec<Instant>>>,
    flows: FlowStates,
}

/// A GoTrue error in its unversioned shape, `{"code": status, "error_code": "...", "msg": "..."}`,
/// which the SDKs read whatever API version they ask for.
#[derive(Debug)]
pub struct AuthError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

type AuthResult<T> = Result<T, AuthError>;

fn fail(status: StatusCode, code: &'static str, message: impl Into<String>) -> AuthError {
    AuthError {
        status,
        code,
        message: message.into(),
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let mut body =
            json!({ "code": self.status.as_u16(), "error_code": self.code, "msg": self.message });
        if self.code == "weak_password" {
            body["weak_password"] = json!({ "reasons": ["length"] });
        }
        (self.status, Json(body)).into_response()
    }
}

impl From<tokio_postgres::Error> for AuthError {
    fn from(error: tokio_postgres::Error) -> Self {
        eprintln!("auth stand-in database error: {error}");
        fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unexpected_failure",
            "Database error",
        )
    }
}

impl From<deadpool_postgres::PoolError> for AuthError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        eprintln!("auth stand-in pool error: {error}");
        fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unexpected_failure",
            "Database error",
        )
    }
}

const MAX_SIGN_IN_FAILURES: usize = 10;
const SIGN_IN_FAILURE_WINDOW: Duration = Duration::from_secs(300);

const USER_COLUMNS: &str =
    "id, aud, role, email, email_confirmed_at, phone, confirmation_sent_at, \
    confirmed_at, recovery_sent_at, invited_at, last_sign_in_at, raw_app_meta_data, \
    raw_user_meta_data, created_at, updated_at, is_anonymous, banned_until, email_change, \
    email_change_sent_at";

impl Auth {
    pub fn new(pool: Pool, keys: DevKeys, config: AuthConfig, mailbox: Arc<Mailbox>) -> Self {
        Self {
            pool,
            keys,
            config,
            mailbox,
            last_email: Mutex::default(),
            failed_sign_ins: Mutex::default(),
            flows: FlowStates::default(),
        }
    }

    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/auth/v1/.well-known/jwks.json", get(jwks))
            .route("/auth/v1/health", get(health))
            .route("/auth/v1/settings", get(settings))
            .route("/auth/v1/signup", post(signup))
            .route("/auth/v1/token", post(token))
            .route("/auth/v1/user", get(get_user).put(update_user))
            .route("/auth/v1/logout", post(logout))
            .route("/auth/v1/recover", post(recover))
            .route("/auth/v1/otp", post(otp))
            .route("/auth/v1/verify", get(verify_link).post(verify_otp))
            .route("/auth/v1/invite", post(invite))
            .route(
                "/auth/v1/admin/users",
                get(admin_list_users).post(admin_create_user),
            )
            .route(
                "/auth/v1/admin/users/{id}",
                delete(admin_delete_user).get(admin_get_user),
            )
            .with_state(self)
    }

    fn issuer(&self) -> String {
        format!("{}/auth/v1", self.config.api_url)
    }

    /// The claims of the bearer token, which must be a user's access token of a live session.
    async fn authenticated_user(&self, headers: &HeaderMap) -> AuthResult<(Uuid, Value)> {
        let claims = self.bearer_claims(headers)?;
        let user_id = claims["sub"]
            .as_str()
            .and_then(|s| s.parse::<Uuid>().ok())
            .ok_or_else(|| {
                fail(
                    StatusCode::FORBIDDEN,
                    "bad_jwt",
                    "invalid claim: missing sub claim",
                )
            })?;
        let session_id = claims["session_id"]
            .as_str()
            .and_then(|s| s.parse::<Uuid>().ok());
        if let Some(session_id) = session_id {
            let db = self.pool.get().await?;
            let live = db
                .query_opt("select 1 from auth.sessions where id = $1", &[&session_id])
                .await?;
            if live.is_none() {
                return Err(fail(
                    StatusCode::FORBIDDEN,
                    "session_not_found",
                    "Session from session_id claim in JWT does not exist",
                ));
            }
        }
        Ok((user_id, claims))
    }

    fn bearer_claims(&self, headers: &HeaderMap) -> AuthResult<Value> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                fail(
                    StatusCode::UNAUTHORIZED,
                    "no_authorization",
                    "This endpoint requires a Bearer token",
                )
            })?;
        self.keys.verify(token).ok_or_else(|| {
            fail(
                StatusCode::FORBIDDEN,
                "bad_jwt",
                "invalid JWT: unable to parse or verify signature, token is expired",
            )
        })
    }

    fn require_service_role(&self, headers: &HeaderMap) -> AuthResult<()> {
        match self.bearer_claims(headers)?["role"].as_str() {
            Some("service_role") => Ok(()),
            _ => Err(fail(StatusCode::FORBIDDEN, "not_admin", "User not allowed")),
        }
    }

    fn check_password(&self, password: &str) -> AuthResult<()> {
        if password.chars().count() < self.config.min_password_length {
            let message = format!(
                "Password should be at least {} characters.",
                self.config.min_password_length
            );
            return Err(AuthError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "weak_password",
                message,
            });
        }
        Ok(())
    }

    /// Refuses password sign-ins for an address that failed too often lately, as GoTrue's
    /// sign-in rate limit does (there per IP; here per address, since every local client
    /// shares 127.0.0.1).
    fn sign_in_allowed(&self, address: &str) -> AuthResult<()> {
        let mut failures = self.failed_sign_ins.lock().expect("rate lock");
        let recent = failures.entry(address.to_lowercase()).or_default();
        recent.retain(|at| at.elapsed() < SIGN_IN_FAILURE_WINDOW);
        if recent.len() >= MAX_SIGN_IN_FAILURES {
            return Err(fail(
                StatusCode::TOO_MANY_REQUESTS,
                "over_request_rate_limit",
                "Request rate limit reached",
            ));
        }
        Ok(())
    }

    fn record_failed_sign_in(&self, address: &str) {
        let mut failures = self.failed_sign_ins.lock().expect("rate lock");
        failures
            .entry(address.to_lowercase())
            .or_default()
            .push(Instant::now());
    }

    /// GoTrue's per-address email rate limit.
    fn email_allowed(&self, address: &str) -> AuthResult<()> {
        let mut last = self.last_email.lock().expect("rate lock");
        let now = Instant::now();
        if let Some(previous) = last.get(address) {
            let waited = now.duration_since(*previous);
            if waited < self.config.email_min_interval {
                let left = (self.config.email_min_interval - waited).as_secs() + 1;
                return Err(fail(
                    StatusCode::TOO_MANY_REQUESTS,
                    "over_email_send_rate_limit",
                    format!(
                        "For security purposes, you can only request this after {left} seconds."
                    ),
                ));
            }
        }
        last.insert(address.to_owned(), now);
        Ok(())
    }

    /// Emails a one-time code and its link (of a PKCE flow when `pkce` is given); the hash of
    /// the link's token is stored, as GoTrue stores it.
    async fn send_link(
        &self,
        user_id: Uuid,
        email: &str,
        kind: LinkKind,
        redirect_to: Option<&str>,
        pkce: Option<Challenge>,
    ) -> AuthResult<()> {
        self.email_allowed(email)?;
        let code = OneTimeCode::new(email);
        let (column, sent_column) = kind.columns();
        let db = self.pool.get().await?;
        db.execute(
            &format!("update auth.users set {column} = $2, {sent_column} = now() where id = $1"),
            &[&user_id, &code.stored()],
        )
        .await?;
        self.mail_code(email, kind, &code, redirect_to, pkce.is_some());
        if let Some(challenge) = pkce {
            self.flows
                .start(user_id, kind.authentication_method(), challenge);
        }
        Ok(())
    }

    fn mail_code(
        &self,
        email: &str,
        kind: LinkKind,
        code: &OneTimeCode,
        redirect_to: Option<&str>,
        pkce: bool,
    ) {
        let prefix = if pkce { PKCE_PREFIX } else { "" };
        let redirect = redirect_to.unwrap_or(&self.config.site_url);
        let link = format!(
            "{}/verify?token={prefix}{}&type={}&redirect_to={}",
            self.issuer(),
            code.link_token,
            kind.name(),
            percent_encode(redirect)
        );
        self.mailbox.send(email, kind.subject(), &link, &code.otp);
    }

    /// GoTrue's secure email change: a code to the new address and one to the current address;
    /// the change applies once both are confirmed.
    async fn start_email_change(
        &self,
        user_id: Uuid,
        current: &str,
        new: &str,
        redirect_to: Option<&str>,
        pkce: Option<Challenge>,
    ) -> AuthResult<()> {
        if !valid_email(new) {
            return Err(fail(
                StatusCode::BAD_REQUEST,
                "validation_failed",
                "Unable to validate email address: invalid format",
            ));
        }
        if self.find_user_by_email(new).await?.is_some() {
            return Err(fail(
                StatusCode::UNPROCESSABLE_ENTITY,
                "email_exists",
                "A user with this email address has already been registered",
            ));
        }
        self.email_allowed(new)?;
        let (to_new, to_current) = (OneTimeCode::new(new), OneTimeCode::new(current));
        let db = self.pool.get().await?;
        db.execute(
            "update auth.users set email_change = $2, email_change_token_new = $3, \
               email_change_token_current = $4, email_change_confirm_status = 0, \
               email_change_sent_at = now(), updated_at = now() where id = $1",
            &[&user_id, &new, &to_new.stored(), &to_current.stored()],
        )
        .await?;
        let kind = LinkKind::EmailChange;
        self.mail_code(new, kind, &to_new, redirect_to, pkce.is_some());
        self.mail_code(current, kind, &to_current, redirect_to, pkce.is_some());
        if let Some(challenge) = pkce {
            self.flows
                .start(user_id, kind.authentication_method(), challenge);
        }
        Ok(())
    }

    /// Starts a session: a row in auth.sessions, a refresh token, and an access token.
    async fn issue_session(&self, user_id: Uuid, method: &str) -> AuthResult<Value> {
        let mut db = self.pool.get().await?;
        let tx = db.transaction().await?;
        let session_id = Uuid::new_v4();
        tx.execute(
            "insert into auth.sessions (id, user_id, created_at, updated_at, aal) values ($1, $2, now(), now(), 'aal1')",
            &[&session_id, &user_id],
        )
        .await?;
        let refresh_token = insert_refresh_token(&tx, user_id, session_id, None).await?;
        tx.execute(
            "update auth.users set last_sign_in_at = now() where id = $1",
            &[&user_id],
        )
        .await?;
        tx.commit().await?;
        self.session_response(user_id, session_id, &refresh_token, method)
            .await
    }

    async fn session_response(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        refresh_token: &str,
        method: &str,
    ) -> AuthResult<Value> {
        let user = self.user_json(user_id).await?;
        let now = Utc::now().timestamp();
        let claims = json!({
            "iss": self.issuer(),
            "sub": user_id,
            "aud": "authenticated",
            "role": "authenticated",
            "email": user["email"],
            "phone": user["phone"],
            "app_metadata": user["app_metadata"],
            "user_metadata": user["user_metadata"],
            "session_id": session_id,
            "aal": "aal1",
            "amr": [{ "method": method, "timestamp": now }],
            "is_anonymous": false,
        });
        let ttl = self.config.access_token_ttl_seconds;
        Ok(json!({
            "access_token": self.keys.sign(self.config.signing, claims, ttl),
            "token_type": "bearer",
            "expires_in": ttl,
            "expires_at": now + ttl,
            "refresh_token": refresh_token,
            "user": user,
        }))
    }

    async fn user_json(&self, user_id: Uuid) -> AuthResult<Value> {
        let db = self.pool.get().await?;
        let row = db
            .query_opt(
                &format!("select {USER_COLUMNS} from auth.users where id = $1"),
                &[&user_id],
            )
            .await?
            .ok_or_else(|| fail(StatusCode::NOT_FOUND, "user_not_found", "User not found"))?;
        let identities = db
            .query(
                "select id, provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at, email \
                 from auth.identities where user_id = $1 order by created_at",
                &[&user_id],
            )
            .await?;
        let mut user = user_from_row(&row);
        user["identities"] = identities.iter().map(identity_from_row).collect();
        Ok(user)
    }

    async fn find_user_by_email(&self, email: &str) -> AuthResult<Option<Row>> {
        let db = self.pool.get().await?;
        Ok(db
            .query_opt(
                &format!("select {USER_COLUMNS}, encrypted_password from auth.users where lower(email) = lower($1) and deleted_at is null"),
                &[&email],
            )
            .await?)
    }

    /// Creates an email user and its identity, as GoTrue's sign-up and admin endpoints do.
    async fn create_user(&self, new: NewUser<'_>) -> AuthResult<Uuid> {
        if !valid_email(new.email) {
            return Err(fail(
                StatusCode::BAD_REQUEST,
                "validation_failed",
                "Unable to validate email address: invalid format",
            ));
        }
        let hash = match new.password {
            Some(password) => {
                self.check_password(password)?;
                Some(bcrypt::hash(password, 10).map_err(|_| {
                    fail(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "unexpected_failure",
                        "hashing failed",
                    )
                })?)
            }
            None => None,
        };
        let email = new.email.to_lowercase();
        let id = Uuid::new_v4();
        let app_metadata = json!({ "provider": "email", "providers": ["email"] });
        let mut db = self.pool.get().await?;
        let tx = db.transaction().await?;
        let inserted = tx
            .execute(
                "insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at, \
                   invited_at, raw_app_meta_data, raw_user_meta_data, created_at, updated_at, confirmation_token, \
                   recovery_token, email_change_token_new, email_change) \
                 select '00000000-0000-0000-0000-000000000000', $1, 'authenticated', 'authenticated', $2::text, $3::text, \
                   case when $4 then now() end, case when $5 then now() end, $6, $7, now(), now(), '', '', '', '' \
                 where not exists (select 1 from auth.users where lower(email) = $2::text)",
                &[&id, &email, &hash, &new.confirmed, &new.invited, &app_metadata, &new.user_metadata],
            )
            .await?;
        if inserted == 0 {
            return Err(fail(
                StatusCode::UNPROCESSABLE_ENTITY,
                "email_exists",
                "A user with this email address has already been registered",
            ));
        }
        let identity = json!({ "sub": id, "email": email, "email_verified": new.confirmed, "phone_verified": false });
        tx.execute(
            "insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at) \
             values ($1, $2, $3, 'email', now(), now(), now())",
            &[&id.to_string(), &id, &identity],
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Consumes a one-time token of any of `kinds` (`email` stands for two).
    async fn verify_token(&self, token: &str, kinds: &[LinkKind]) -> AuthResult<Verified> {
        let mut outcome = Err(expired_link());
        for kind in kinds {
            outcome = match kind {
                LinkKind::EmailChange => self.consume_email_change(token).await,
                kind => self
                    .consume_link_token(token, *kind)
                    .await
                    .map(Verified::User),
            };
            if outcome.is_ok() {
                break;
            }
        }
        outcome
    }

    /// One of an email change's two codes; the second one applies the change.
    async fn consume_email_change(&self, token: &str) -> AuthResult<Verified> {
        let mut db = self.pool.get().await?;
        let tx = db.transaction().await?;
        let row = tx
            .query_opt(
                "update auth.users set \
                   email_change_token_new = case when email_change_token_new = $1 then '' else email_change_token_new end, \
                   email_change_token_current = case when email_change_token_current = $1 then '' else email_change_token_current end, \
                   email_change_confirm_status = 1 \
                 where $1 in (email_change_token_new, email_change_token_current) \
                   and email_change_sent_at > now() - interval '1 day' \
                 returning id, coalesce(email_change_token_new, '') = '' and coalesce(email_change_token_current, '') = ''",
                &[&token_hash(token)],
            )
            .await?
            .ok_or_else(expired_link)?;
        let (user_id, both_confirmed): (Uuid, bool) = (row.get(0), row.get(1));
        if !both_confirmed {
            tx.commit().await?;
            return Ok(Verified::AwaitingOtherAddress);
        }
        tx.execute(
            "update auth.users set email = email_change, email_change = '', email_change_confirm_status = 0, \
               email_confirmed_at = now(), updated_at = now() where id = $1",
            &[&user_id],
        )
        .await?;
        tx.execute(
            "update auth.identities set identity_data = identity_data || jsonb_build_object('email', u.email), \
               updated_at = now() from auth.users u where u.id = $1 and identities.user_id = $1 and provider = 'email'",
            &[&user_id],
        )
        .await?;
        tx.commit().await?;
        Ok(Verified::User(user_id))
    }

    /// Consumes a one-time token of `kind`; returns the user it belonged to.
    async fn consume_link_token(&self, token: &str, kind: LinkKind) -> AuthResult<Uuid> {
        let (column, sent_column) = kind.columns();
        let db = self.pool.get().await?;
        let row = db
            .query_opt(
                &format!(
                    // Following any emailed link proves the address.
                    "update auth.users set {column} = '', email_confirmed_at = coalesce(email_confirmed_at, now()) \
                     where {column} = $1 and {column} <> '' and {sent_column} > now() - interval '1 day' returning id"
                ),
                &[&token_hash(token)],
            )
            .await?
            .ok_or_else(expired_link)?;
        Ok(row.get(0))
    }
}

fn expired_link() -> AuthError {
    fail(
        StatusCode::FORBIDDEN,
        "otp_expired",
        "Email link is invalid or has expired",
    )
}

/// What a verified link or code leads to.
enum Verified {
    User(Uuid),
    /// The first of an email change's two confirmations.
    AwaitingOtherAddress,
}

/// GoTrue's answer to the first of an email change's two confirmations.
const SINGLE_CONFIRMATION_ACCEPTED: &str =
    "Confirmation link accepted. Please proceed to confirm link sent to the other email";

/// An emailed code: six digits to type, and the link token GoTrue derives from the address and
/// them (so `POST /verify` takes the email and digits, or the token itself as `token_hash`).
struct OneTimeCode {
    otp: String,
    link_token: String,
}

impl OneTimeCode {
    fn new(email: &str) -> Self {
        let mut bytes = [0u8; 4];
        getrandom::getrandom(&mut bytes).expect("system randomness");
        let otp = format!("{:06}", u32::from_le_bytes(bytes) % 1_000_000);
        Self {
            link_token: otp_link_token(email, &otp),
            otp,
        }
    }

    fn stored(&self) -> String {
        token_hash(&self.link_token)
    }
}

fn otp_link_token(email: &str, otp: &str) -> String {
    crate::sha256_hex(format!("{}{otp}", email.to_lowercase()).as_bytes())
}

struct NewUser<'a> {
    email: &'a str,
    password: Option<&'a str>,
    user_metadata: Value,
    confirmed: bool,
    invited: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum LinkKind {
    Signup,
    Recovery,
    Invite,
    MagicLink,
    EmailChange,
}

impl LinkKind {
    /// The kinds a verification `type` names: `email` is a sign-up's or a magic link's code.
    fn parse(name: &str) -> AuthResult<&'static [Self]> {
        match name {
            "signup" => Ok(&[Self::Signup]),
            "email" => Ok(&[Self::Signup, Self::MagicLink]),
            "recovery" => Ok(&[Self::Recovery]),
            "invite" => Ok(&[Self::Invite]),
            "magiclink" => Ok(&[Self::MagicLink]),
            "email_change" => Ok(&[Self::EmailChange]),
            _ => Err(fail(
                StatusCode::BAD_REQUEST,
                "validation_failed",
                format!("Unsupported verification type {name}"),
            )),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Signup => "signup",
            Self::Recovery => "recovery",
            Self::Invite => "invite",
            Self::MagicLink => "magiclink",
            Self::EmailChange => "email_change",
        }
    }

    /// GoTrue's name of the way a user got the session (its flow states' and sessions' AMR).
    fn authentication_method(self) -> &'static str {
        match self {
            Self::Signup => "email/signup",
            Self::Recovery => "recovery",
            Self::Invite => "invite",
            Self::MagicLink => "magiclink",
            Self::EmailChange => "email_change",
        }
    }

    /// The token column and its sent-at column, as GoTrue uses them (a magic link's is the
    /// recovery token; an email change has two, see `Auth::send_email_change`).
    fn columns(self) -> (&'static str, &'static str) {
        match self {
            Self::Signup | Self::Invite => ("confirmation_token", "confirmation_sent_at"),
            Self::Recovery | Self::MagicLink => ("recovery_token", "recovery_sent_at"),
            Self::EmailChange => ("email_change_token_new", "email_change_sent_at"),
        }
    }

    fn subject(self) -> &'static str {
        match self {
            Self::Signup => "Confirm Your Signup",
            Self::Recovery => "Reset Your Password",
            Self::Invite => "You have been invited",
            Self::MagicLink => "Your Magic Link",
            Self::EmailChange => "Confirm Email Change",
        }
    }
}

async fn insert_refresh_token(
    tx: &tokio_postgres::Transaction<'_>,
    user_id: Uuid,
    session_id: Uuid,
    parent: Option<&str>,
) -> Result<String, tokio_postgres::Error> {
    let token = random_token(12);
    tx.execute(
        "insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id) \
         values ('00000000-0000-0000-0000-000000000000', $1, $2, false, now(), now(), $3, $4)",
        &[&token, &user_id.to_string(), &parent, &session_id],
    )
    .await?;
    Ok(token)
}

fn user_from_row(row: &Row) -> Value {
    let time = |name: &str| {
        row.get::<_, Option<DateTime<Utc>>>(name)
            .map(|t| t.to_rfc3339())
    };
    let mut user = json!({
        "id": row.get::<_, Uuid>("id"),
        "aud": row.get::<_, Option<String>>("aud"),
        "role": row.get::<_, Option<String>>("role"),
        "email": row.get::<_, Option<String>>("email"),
        "email_confirmed_at": time("email_confirmed_at"),
        "phone": row.get::<_, Option<String>>("phone").unwrap_or_default(),
        "confirmation_sent_at": time("confirmation_sent_at"),
        "confirmed_at": time("confirmed_at"),
        "recovery_sent_at": time("recovery_sent_at"),
        "invited_at": time("invited_at"),
        "last_sign_in_at": time("last_sign_in_at"),
        "app_metadata": row.get::<_, Option<Value>>("raw_app_meta_data").unwrap_or(json!({})),
        "user_metadata": row.get::<_, Option<Value>>("raw_user_meta_data").unwrap_or(json!({})),
        "identities": [],
        "created_at": time("created_at"),
        "updated_at": time("updated_at"),
        "is_anonymous": row.get::<_, bool>("is_anonymous"),
    });
    if let Some(new_email) = row
        .get::<_, Option<String>>("email_change")
        .filter(|e| !e.is_empty())
    {
        user["new_email"] = json!(new_email);
        user["email_change_sent_at"] = json!(time("email_change_sent_at"));
    }
    user
}

fn identity_from_row(row: &Row) -> Value {
    let time = |name: &str| {
        row.get::<_, Option<DateTime<Utc>>>(name)
            .map(|t| t.to_rfc3339())
    };
    let id: Uuid = row.get("id");
    json!({
        "identity_id": id,
        "id": row.get::<_, String>("provider_id"),
        "user_id": row.get::<_, Uuid>("user_id"),
        "identity_data": row.get::<_, Value>("identity_data"),
        "provider": row.get::<_, String>("provider"),
        "last_sign_in_at": time("last_sign_in_at"),
        "created_at": time("created_at"),
        "updated_at": time("updated_at"),
        "email": row.get::<_, Option<String>>("email"),
    })
}

// ---- handlers ----

async fn jwks(State(auth): State<Arc<Auth>>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=600")],
        Json(auth.keys.public_jwks()),
    )
}

async fn health() -> Json<Value> {
    Json(
        json!({ "version": "local-stand-in", "name": "GoTrue", "description": "GoTrue is a user registration and authentication API" }),
    )
}

async fn settings(State(auth): State<Arc<Auth>>) -> Json<Value> {
    Json(json!({
        "external": { "email": true, "phone": false },
        "disable_signup": false,
        "mailer_autoconfirm": !auth.config.confirm_email,
        "phone_autoconfirm": false,
        "sms_provider": "",
        "saml_enabled": false,
    }))
}

#[derive(Deserialize)]
struct RedirectQuery {
    redirect_to: Option<String>,
}

#[derive(Deserialize)]
struct SignupBody {
    email: Option<String>,
    password: Option<String>,
    #[serde(default)]
    data: Option<Value>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

async fn signup(
    State(auth): State<Arc<Auth>>,
    Query(query): Query<RedirectQuery>,
    Json(body): Json<SignupBody>,
) -> AuthResult<Json<Value>> {
    let (Some(email), Some(password)) = (body.email.as_deref(), body.password.as_deref()) else {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            "validation_failed",
            "Signup requires a valid password",
        ));
    };
    auth.check_password(password)?;
    let pkce = Challenge::from_request(
        body.code_challenge.as_deref(),
        body.code_challenge_method.as_deref(),
    )?;
    if let Some(existing) = auth.find_user_by_email(email).await? {
        if existing
            .get::<_, Option<DateTime<Utc>>>("email_confirmed_at")
            .is_some()
            || !auth.config.confirm_email
        {
            if auth.config.confirm_email {
                // GoTrue answers like a fresh sign-up (no identities) so addresses cannot be probed.
                let mut user = user_from_row(&existing);
                user["id"] = json!(Uuid::new_v4());
                return Ok(Json(user));
            }
            return Err(fail(
                StatusCode::UNPROCESSABLE_ENTITY,
                "user_already_exists",
                "User already registered",
            ));
        }
        // Unconfirmed: send the confirmation again.
        let id: Uuid = existing.get("id");
        let redirect = query.redirect_to.as_deref();
        auth.send_link(id, email, LinkKind::Signup, redirect, pkce)
            .await?;
        return Ok(Json(auth.user_json(id).await?));
    }
    let user_metadata = body.data.filter(Value::is_object).unwrap_or(json!({}));
    let confirmed = !auth.config.confirm_email;
    let id = auth
        .create_user(NewUser {
            email,
            password: Some(password),
            user_metadata,
            confirmed,
            invited: false,
        })
        .await
        .map_err(|e| {
            if e.code == "email_exists" {
                fail(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "user_already_exists",
                    "User already registered",
                )
            } else {
                e
            }
        })?;
    if confirmed {
        return Ok(Json(auth.issue_session(id, "password").await?));
    }
    let redirect = query.redirect_to.as_deref();
    auth.send_link(id, email, LinkKind::Signup, redirect, pkce)
        .await?;
    Ok(Json(auth.user_json(id).await?))
}

#[derive(Deserialize)]
struct GrantQuery {
    grant_type: String,
}

#[derive(Deserialize)]
struct TokenBody {
    email: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
    #[serde(default)]
    auth_code: String,
    #[serde(default)]
    code_verifier: String,
}

async fn token(
    State(auth): State<Arc<Auth>>,
    Query(query): Query<GrantQuery>,
    Json(body): Json<TokenBody>,
) -> AuthResult<Json<Value>> {
    match query.grant_type.as_str() {
        "password" => password_grant(&auth, body).await.map(Json),
        "refresh_token" => refresh_grant(&auth, body).await.map(Json),
        "pkce" => {
            let (user_id, method) = auth.flows.exchange(&body.auth_code, &body.code_verifier)?;
            auth.issue_session(user_id, method).await.map(Json)
        }
        other => Err(fail(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("unsupported_grant_type: {other}"),
        )),
    }
}

async fn password_grant(auth: &Auth, body: TokenBody) -> AuthResult<Value> {
    let invalid = || {
        fail(
            StatusCode::BAD_REQUEST,
            "invalid_credentials",
            "Invalid login credentials",
        )
    };
    let (Some(email), Some(password)) = (body.email, body.password) else {
        return Err(invalid());
    };
    auth.sign_in_allowed(&email)?;
    let user = auth.find_user_by_email(&email).await?;
    let hash: Option<String> = user.as_ref().and_then(|u| u.get("encrypted_password"));
    let Some(user) =
        user.filter(|_| hash.is_some_and(|h| bcrypt::verify(&password, &h).unwrap_or(false)))
    else {
        auth.record_failed_sign_in(&email);
        return Err(invalid());
    };
    if user
        .get::<_, Option<DateTime<Utc>>>("email_confirmed_at")
        .is_none()
    {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            "email_not_confirmed",
            "Email not confirmed",
        ));
    }
    if user
        .get::<_, Option<DateTime<Utc>>>("banned_until")
        .is_some_and(|until| until > Utc::now())
    {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            "user_banned",
            "User is banned",
        ));
    }
    auth.issue_session(user.get("id"), "password").await
}

/// Rotation as GoTrue does it: each refresh token works once; presenting a revoked one outside the
/// reuse interval is treated as theft and ends the whole session.
async fn refresh_grant(auth: &Auth, body: TokenBody) -> AuthResult<Value> {
    let presented = body.refresh_token.ok_or_else(|| {
        fail(
            StatusCode::BAD_REQUEST,
            "validation_failed",
            "refresh_token required",
        )
    })?;
    let not_found = || {
        fail(
            StatusCode::BAD_REQUEST,
            "refresh_token_not_found",
            "Invalid Refresh Token: Refresh Token Not Found",
        )
    };
    let mut db = auth.pool.get().await?;
    let tx = db.transaction().await?;
    let row = tx
        .query_opt(
            "select user_id, revoked, session_id, updated_at from auth.refresh_tokens where token = $1 for update",
            &[&presented],
        )
        .await?
        .ok_or_else(not_found)?;
    let user_id: Uuid = row.get::<_, String>(0).parse().map_err(|_| not_found())?;
    let revoked: bool = row.get(1);
    let session_id: Option<Uuid> = row.get(2);
    let session_id = session_id.ok_or_else(not_found)?;
    let revoked_at: DateTime<Utc> = row.get(3);

    let next = if revoked {
        let within_reuse = Utc::now() - revoked_at
            < chrono::Duration::from_std(auth.config.refresh_token_reuse_interval)
                .unwrap_or_default();
        let child = tx
            .query_opt(
                "select token from auth.refresh_tokens where parent = $1 and not revoked",
                &[&presented],
            )
            .await?;
        match child {
            Some(child) if within_reuse => child.get::<_, String>(0),
            _ => {
                tx.execute("delete from auth.sessions where id = $1", &[&session_id])
                    .await?;
                tx.commit().await?;
                return Err(fail(
                    StatusCode::BAD_REQUEST,
                    "refresh_token_already_used",
                    "Invalid Refresh Token: Already Used",
                ));
            }
        }
    } else {
        tx.execute(
            "update auth.refresh_tokens set revoked = true, updated_at = now() where token = $1",
            &[&presented],
        )
        .await?;
        tx.execute(
            "update auth.sessions set refreshed_at = now(), updated_at = now() where id = $1",
            &[&session_id],
        )
        .await?;
        insert_refresh_token(&tx, user_id, session_id, Some(&presented)).await?
    };
    tx.commit().await?;
    auth.session_response(user_id, session_id, &next, "password")
        .await
}

async fn get_user(State(auth): State<Arc<Auth>>, headers: HeaderMap) -> AuthResult<Json<Value>> {
    let (user_id, _) = auth.authenticated_user(&headers).await?;
    Ok(Json(auth.user_json(user_id).await?))
}

#[derive(Deserialize)]
struct UpdateUserBody {
    password: Option<String>,
    data: Option<Value>,
    email: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

async fn update_user(
    State(auth): State<Arc<Auth>>,
    headers: HeaderMap,
    Query(query): Query<RedirectQuery>,
    Json(body): Json<UpdateUserBody>,
) -> AuthResult<Json<Value>> {
    let (user_id, claims) = auth.authenticated_user(&headers).await?;
    let current = claims["email"].as_str().unwrap_or_default();
    if let Some(new) = body
        .email
        .as_deref()
        .filter(|new| !new.eq_ignore_ascii_case(current))
    {
        let pkce = Challenge::from_request(
            body.code_challenge.as_deref(),
            body.code_challenge_method.as_deref(),
        )?;
        auth.start_email_change(user_id, current, new, query.redirect_to.as_deref(), pkce)
            .await?;
    }
    let db = auth.pool.get().await?;
    if let Some(password) = body.password.as_deref() {
        auth.check_password(password)?;
        let hash = bcrypt::hash(password, 10).map_err(|_| {
            fail(
                StatusCode::INTERNAL_SERVER_ERROR,
                "unexpected_failure",
                "hashing failed",
            )
        })?;
        db.execute(
            "update auth.users set encrypted_password = $2, updated_at = now() where id = $1",
            &[&user_id, &hash],
        )
        .await?;
    }
    if let Some(data) = body.data.filter(Value::is_object) {
        db.execute(
            "update auth.users set raw_user_meta_data = coalesce(raw_user_meta_data, '{}') || $2, updated_at = now() where id = $1",
            &[&user_id, &data],
        )
        .await?;
    }
    Ok(Json(auth.user_json(user_id).await?))
}

#[derive(Deserialize)]
struct LogoutQuery {
    scope: Option<String>,
}

async fn logout(
    State(auth): State<Arc<Auth>>,
    headers: HeaderMap,
    Query(query): Query<LogoutQuery>,
) -> AuthResult<StatusCode> {
    let (user_id, claims) = auth.authenticated_user(&headers).await?;
    let session_id = claims["session_id"]
        .as_str()
        .and_then(|s| s.parse::<Uuid>().ok());
    let db = auth.pool.get().await?;
    match query.scope.as_deref().unwrap_or("global") {
        "global" => {
            db.execute("delete from auth.sessions where user_id = $1", &[&user_id])
                .await?
        }
        "local" => {
            db.execute("delete from auth.sessions where id = $1", &[&session_id])
                .await?
        }
        "others" => {
            db.execute(
                "delete from auth.sessions where user_id = $1 and id is distinct from $2",
                &[&user_id, &session_id],
            )
            .await?
        }
        _ => {
            return Err(fail(
                StatusCode::BAD_REQUEST,
                "validation_failed",
                "Unsupported logout scope",
            ))
        }
    };
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct EmailBody {
    email: String,
    #[serde(default)]
    data: Option<Value>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

impl EmailBody {
    fn pkce(&self) -> AuthResult<Option<Challenge>> {
        Challenge::from_request(
            self.code_challenge.as_deref(),
            self.code_challenge_method.as_deref(),
        )
    }
}

async fn recover(
    State(auth): State<Arc<Auth>>,
    Query(query): Query<RedirectQuery>,
    Json(body): Json<EmailBody>,
) -> AuthResult<Json<Value>> {
    let pkce = body.pkce()?;
    // Same answer whether or not the address has an account, so addresses cannot be probed.
    if let Some(user) = auth.find_user_by_email(&body.email).await? {
        let redirect = query.redirect_to.as_deref();
        auth.send_link(
            user.get("id"),
            &body.email,
            LinkKind::Recovery,
            redirect,
            pkce,
        )
        .await?;
    }
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct OtpBody {
    #[serde(flatten)]
    email: EmailBody,
    #[serde(default = "yes")]
    create_user: bool,
}

fn yes() -> bool {
    true
}

/// `POST /otp` with an email, as GoTrue's magic link: a confirmed user gets a magic link and
/// code; an address without a confirmed user is signed up (unless `create_user` is false) and
/// gets the sign-up confirmation instead.
async fn otp(
    State(auth): State<Arc<Auth>>,
    Query(query): Query<RedirectQuery>,
    Json(body): Json<OtpBody>,
) -> AuthResult<Json<Value>> {
    let pkce = body.email.pkce()?;
    let email = &body.email.email;
    let redirect = query.redirect_to.as_deref();
    let existing = auth.find_user_by_email(email).await?;
    let confirmed = existing.as_ref().is_some_and(|user| {
        user.get::<_, Option<DateTime<Utc>>>("email_confirmed_at")
            .is_some()
    });
    let (id, kind) = match existing {
        Some(user) => {
            let kind = if confirmed {
                LinkKind::MagicLink
            } else {
                LinkKind::Signup
            };
            (user.get("id"), kind)
        }
        None if !body.create_user => {
            return Err(fail(
                StatusCode::UNPROCESSABLE_ENTITY,
                "otp_disabled",
                "Signups not allowed for otp",
            ))
        }
        None => {
            let user_metadata = body
                .email
                .data
                .clone()
                .filter(Value::is_object)
                .unwrap_or(json!({}));
            let new = NewUser {
                email,
                password: None,
                user_metadata,
                confirmed: false,
                invited: false,
            };
            (auth.create_user(new).await?, LinkKind::Signup)
        }
    };
    auth.send_link(id, email, kind, redirect, pkce).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct VerifyLinkQuery {
    token: String,
    #[serde(rename = "type")]
    kind: String,
    redirect_to: Option<String>,
}

/// Where a followed link lands, as GoTrue's `verifyGet` decides.
enum Landing {
    /// Implicit flow: the session in the URL fragment.
    Session(Value),
    /// PKCE flow: `?code=` for `grant_type=pkce`.
    Code(String),
    /// The first of an email change's two confirmations.
    Message(&'static str),
}

/// The link in an email: verifies, then redirects with a session (implicit flow) or an auth
/// code (a `pkce_` token), or with an error, as GoTrue does.
async fn verify_link(
    State(auth): State<Arc<Auth>>,
    Query(query): Query<VerifyLinkQuery>,
) -> Response {
    let redirect = query
        .redirect_to
        .clone()
        .unwrap_or_else(|| auth.config.site_url.clone());
    let (token, pkce) = match query.token.strip_prefix(PKCE_PREFIX) {
        Some(token) => (token, true),
        None => (query.token.as_str(), false),
    };
    let landing = async {
        let kinds = LinkKind::parse(&query.kind)?;
        match auth.verify_token(token, kinds).await? {
            Verified::AwaitingOtherAddress => Ok(Landing::Message(SINGLE_CONFIRMATION_ACCEPTED)),
            Verified::User(user_id) if pkce => {
                let method = kinds[0].authentication_method();
                auth.flows.code_for(user_id, method).map(Landing::Code)
            }
            Verified::User(user_id) => auth
                .issue_session(user_id, "otp")
                .await
                .map(Landing::Session),
        }
    }
    .await;
    let query_separator = if redirect.contains('?') { '&' } else { '?' };
    let location = match landing {
        Ok(Landing::Session(session)) => format!(
            "{redirect}#access_token={}&expires_at={}&expires_in={}&refresh_token={}&token_type=bearer&type={}",
            session["access_token"].as_str().unwrap_or_default(),
            session["expires_at"],
            session["expires_in"],
            session["refresh_token"].as_str().unwrap_or_default(),
            query.kind
        ),
        Ok(Landing::Code(code)) => format!("{redirect}{query_separator}code={code}"),
        Ok(Landing::Message(message)) => {
            let message = format!("message={}", percent_encode(message));
            match pkce {
                true => format!("{redirect}{query_separator}{message}#{message}&sb="),
                false => format!("{redirect}#{message}&sb="),
            }
        }
        Err(error) => {
            let error = format!(
                "error=access_denied&error_code={}&error_description={}",
                error.code,
                percent_encode(&error.message)
            );
            // A PKCE client reads the error from the query; the fragment is kept for the spec.
            match pkce {
                true => format!("{redirect}{query_separator}{error}#{error}&sb="),
                false => format!("{redirect}#{error}&sb="),
            }
        }
    };
    Redirect::to(&location).into_response()
}

#[derive(Deserialize)]
struct VerifyOtpBody {
    #[serde(rename = "type")]
    kind: String,
    token_hash: Option<String>,
    token: Option<String>,
    email: Option<String>,
}

/// `POST /verify`: an emailed code (with its address) or a link's token hash, answered with a
/// session, as GoTrue's `verifyPost` does whatever flow sent the mail.
async fn verify_otp(
    State(auth): State<Arc<Auth>>,
    Json(body): Json<VerifyOtpBody>,
) -> AuthResult<Json<Value>> {
    let kinds = LinkKind::parse(&body.kind)?;
    let token = match (body.token_hash, body.email, body.token) {
        (Some(hash), _, _) => hash.trim_start_matches(PKCE_PREFIX).to_owned(),
        (None, Some(email), Some(otp)) => otp_link_token(&email, &otp),
        _ => {
            return Err(fail(
                StatusCode::BAD_REQUEST,
                "validation_failed",
                "Verify requires either a token hash or an email and token",
            ))
        }
    };
    match auth.verify_token(&token, kinds).await? {
        Verified::User(user_id) => Ok(Json(auth.issue_session(user_id, "otp").await?)),
        Verified::AwaitingOtherAddress => Ok(Json(
            json!({ "msg": SINGLE_CONFIRMATION_ACCEPTED, "code": StatusCode::OK.as_u16() }),
        )),
    }
}

/// `POST /invite` (service role), as GoTrue answers it: a new address gets an account and the
/// invite; an account not yet confirmed gets the invite again (its metadata unchanged); a
/// confirmed one is 422 `email_exists`.
async fn invite(
    State(auth): State<Arc<Auth>>,
    headers: HeaderMap,
    Query(query): Query<RedirectQuery>,
    Json(body): Json<EmailBody>,
) -> AuthResult<Json<Value>> {
    auth.require_service_role(&headers)?;
    let id = match auth.find_user_by_email(&body.email).await? {
        Some(user)
            if user
                .get::<_, Option<DateTime<Utc>>>("email_confirmed_at")
                .is_some() =>
        {
            return Err(fail(
                StatusCode::UNPROCESSABLE_ENTITY,
                "email_exists",
                "A user with this email address has already been registered",
            ))
        }
        Some(user) => user.get("id"),
        None => {
            let user_metadata = body.data.filter(Value::is_object).unwrap_or(json!({}));
            auth.create_user(NewUser {
                email: &body.email,
                password: None,
                user_metadata,
                confirmed: false,
                invited: true,
            })
            .await?
        }
    };
    auth.send_link(
        id,
        &body.email,
        LinkKind::Invite,
        query.redirect_to.as_deref(),
        None,
    )
    .await?;
    Ok(Json(auth.user_json(id).await?))
}

#[derive(Deserialize)]
struct AdminCreateBody {
    email: String,
    password: Option<String>,
    #[serde(default)]
    email_confirm: bool,
    #[serde(default)]
    user_metadata: Option<Value>,
}

async fn admin_create_user(
    State(auth): State<Arc<Auth>>,
    headers: HeaderMap,
    Json(body): Json<AdminCreateBody>,
) -> AuthResult<Json<Value>> {
    auth.require_service_role(&headers)?;
    let user_metadata = body
        .user_metadata
        .filter(Value::is_object)
        .unwrap_or(json!({}));
    let id = auth
        .create_user(NewUser {
            email: &body.email,
            password: body.password.as_deref(),
            user_metadata,
            confirmed: body.email_confirm,
            invited: false,
        })
        .await?;
    Ok(Json(auth.user_json(id).await?))
}

async fn admin_list_users(
    State(auth): State<Arc<Auth>>,
    headers: HeaderMap,
) -> AuthResult<Json<Value>> {
    auth.require_service_role(&headers)?;
    let db = auth.pool.get().await?;
    let rows = db
        .query(
            &format!("select {USER_COLUMNS} from auth.users order by created_at limit 1000"),
            &[],
        )
        .await?;
    Ok(Json(
        json!({ "users": rows.iter().map(user_from_row).collect::<Vec<_>>(), "aud": "authenticated" }),
    ))
}

async fn admin_get_user(
    State(auth): State<Arc<Auth>>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> AuthResult<Json<Value>> {
    auth.require_service_role(&headers)?;
    Ok(Json(auth.user_json(id).await?))
}

async fn admin_delete_user(
    State(auth): State<Arc<Auth>>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> AuthResult<Json<Value>> {
    auth.require_service_role(&headers)?;
    let db = auth.pool.get().await?;
    if db
        .execute("delete from auth.users where id = $1", &[&id])
        .await?
        == 0
    {
        return Err(fail(
            StatusCode::NOT_FOUND,
            "user_not_found",
            "User not found",
        ));
    }
    Ok(Json(json!({})))
}

// ---- small helpers ----

fn random_token(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    getrandom::getrandom(&mut buffer).expect("system randomness");
    buffer.iter().map(|b| format!("{b:02x}")).collect()
}

fn token_hash(token: &str) -> String {
    crate::sha256_hex(token.as_bytes())
}

fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && email.len() <= 255
        && !email.contains(char::is_whitespace)
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_validated_like_gotrue_rejects_obvious_garbage() {
        assert!(valid_email("a@b.co"));
        for bad in ["", "a", "a@b", "@b.co", "a b@c.de", "a@.de"] {
            assert!(!valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn link_tokens_are_stored_hashed() {
        let token = random_token(24);
        assert_eq!(token.len(), 48);
        assert_ne!(token_hash(&token), token);
        assert_eq!(token_hash(&token), token_hash(&token));
    }

    #[test]
    fn redirect_targets_are_percent_encoded() {
        assert_eq!(
            percent_encode("http://x/y?a=b"),
            "http%3A%2F%2Fx%2Fy%3Fa%3Db"
        );
    }
}
