//! Supabase Realtime's stand-in at `/realtime/v1/websocket`: Phoenix channels over WebSocket as
//! the official clients speak them, with postgres_changes (from logical decoding, filtered by
//! RLS as each subscriber), broadcast and presence (private channels authorized by the
//! `realtime.messages` policies), and broadcasts sent from SQL with `realtime.send`.

mod changes;
mod presence;
mod session;
mod wire;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use deadpool_postgres::Pool;
use serde_json::{json, Value};
use tokio::sync::mpsc::UnboundedSender;
use tokio_postgres::error::SqlState;

use crate::db::{act_as, role_of};
use crate::keys::{DevKeys, TokenError};
use changes::Binding;
use presence::{Presences, TopicKey};
use wire::{Message, Vsn};

pub struct Realtime {
    pool: Pool,
    keys: DevKeys,
    channels: Mutex<HashMap<u64, Arc<Channel>>>,
    presences: Mutex<Presences>,
    next_channel: AtomicU64,
}

/// One topic a socket has joined.
struct Channel {
    id: u64,
    /// As the client names it: `realtime:<sub_topic>`.
    topic: String,
    sub_topic: String,
    join_ref: Option<String>,
    private: bool,
    self_broadcast: bool,
    ack_broadcast: bool,
    presence_key: String,
    bindings: Vec<Binding>,
    outbox: UnboundedSender<Message>,
    access: Mutex<Access>,
}

/// What a channel's token lets it do; replaced when the client sends a new token.
struct Access {
    token: String,
    claims: Value,
    expires_at: i64,
    may_read_broadcast: bool,
    may_read_presence: bool,
    /// Write checks made so far, by extension (`broadcast`, `presence`).
    may_write: HashMap<&'static str, bool>,
}

/// Why a token or a join is refused: hosted Realtime's error code and message.
struct Refusal {
    code: &'static str,
    message: String,
    /// What a joined channel is closed with when a new token is refused for this reason, where
    /// hosted words it otherwise than at the join (its `inspect` of the error).
    shutdown: Option<String>,
}

impl Refusal {
    fn new(code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            code,
            message: message.into(),
            shutdown: None,
        }
    }

    fn shut_down_with(self, shutdown: &str) -> Refusal {
        Refusal {
            shutdown: Some(shutdown.to_owned()),
            ..self
        }
    }

    /// The join reply's `reason`.
    fn reason(&self) -> String {
        format!("{}: {}", self.code, self.message)
    }

    /// The `system` message a joined channel is closed with when its new token is refused.
    fn shutdown_message(&self) -> &str {
        self.shutdown.as_deref().unwrap_or(&self.message)
    }

    fn unreadable_topic(sub_topic: &str) -> Refusal {
        Refusal::new(
            "Unauthorized",
            format!("You do not have permissions to read from this Channel topic: {sub_topic}"),
        )
    }

    /// A new token that takes away reading broadcast or presence the old one allowed.
    fn revoked_read(sub_topic: &str) -> Refusal {
        Refusal::new(
            "Unauthorized",
            format!("You no longer have permission to read from this Channel topic: {sub_topic}"),
        )
    }
}

impl From<TokenError> for Refusal {
    fn from(error: TokenError) -> Refusal {
        match error {
            TokenError::Malformed => {
                Refusal::new("MalformedJWT", "The token provided is not a valid JWT")
            }
            TokenError::BadSignature => {
                Refusal::new("JwtSignatureError", "Failed to validate JWT signature")
                    .shut_down_with(":signature_error")
            }
            TokenError::NoKey { kid: Some(kid) } => Refusal::new(
                "JwtSignerError",
                format!(
                    "Failed to generate JWT signer for key ID (kid) {kid:?}, check your JWT secret or JWKS configuration"
                ),
            ),
            TokenError::NoKey { kid: None } => Refusal::new(
                "JwtSignerError",
                "Failed to generate JWT signer, check your JWT secret or JWKS configuration",
            )
            .shut_down_with(":error_generating_signer"),
            TokenError::NoExpiry => missing_claims(),
            TokenError::Expired { seconds_past } => Refusal::new(
                "InvalidJWTToken",
                format!("Token has expired {seconds_past} seconds ago"),
            ),
        }
    }
}

fn missing_claims() -> Refusal {
    Refusal::new(
        "InvalidJWTToken",
        "Fields `role` and `exp` are required in JWT",
    )
}

impl Channel {
    fn access(&self) -> MutexGuard<'_, Access> {
        self.access.lock().expect("access lock")
    }

    fn topic_key(&self) -> TopicKey {
        (self.private, self.sub_topic.clone())
    }

    /// Whether its token is still valid: an expired token receives nothing.
    fn is_live(&self) -> bool {
        self.access().expires_at >= chrono::Utc::now().timestamp()
    }

    fn push(&self, event: &str, payload: Value) {
        // A send fails only once the socket has closed; its channels are removed then.
        let _ = self.outbox.send(Message::push(&self.topic, event, payload));
    }

    /// Hosted's notice that the channel's postgres_changes are subscribed: after the join, and
    /// again after a new token.
    fn push_subscribed_to_postgres(&self) {
        self.push_system("postgres_changes", "ok", "Subscribed to PostgreSQL");
    }

    /// `system` message about this channel, as hosted Realtime sends them.
    fn push_system(&self, extension: &str, status: &str, message: &str) {
        self.push(
            "system",
            json!({ "extension": extension, "status": status, "message": message, "channel": self.sub_topic }),
        );
    }
}

impl Realtime {
    pub fn new(pool: Pool, keys: DevKeys) -> Arc<Realtime> {
        Arc::new(Realtime {
            pool,
            keys,
            channels: Mutex::default(),
            presences: Mutex::default(),
            next_channel: AtomicU64::new(1),
        })
    }

    /// Follows the database's changes (spawn once).
    pub async fn follow_changes(self: Arc<Self>, database_url: String) {
        changes::follow(self, database_url).await
    }

    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/realtime/v1/websocket", get(upgrade))
            .with_state(self)
    }

    fn next_channel_id(&self) -> u64 {
        self.next_channel.fetch_add(1, Ordering::Relaxed)
    }

    fn has_channels(&self) -> bool {
        !self.channels.lock().expect("channels lock").is_empty()
    }

    fn live_channels(&self) -> Vec<Arc<Channel>> {
        let channels = self.channels.lock().expect("channels lock");
        channels.values().filter(|c| c.is_live()).cloned().collect()
    }

    fn register(&self, channel: Arc<Channel>) {
        let mut channels = self.channels.lock().expect("channels lock");
        channels.insert(channel.id, channel);
    }

    /// Forgets a channel that left or closed; what it tracked leaves its topic's presence.
    fn unregister(&self, channel: &Channel) {
        self.channels
            .lock()
            .expect("channels lock")
            .remove(&channel.id);
        self.untrack(channel);
    }

    /// The access a token gives on a topic, or why it gives none.
    async fn access(&self, token: &str, sub_topic: &str, private: bool) -> Result<Access, Refusal> {
        let claims = self.keys.check(token)?;
        let (Some(expires_at), Some(_)) = (claims["exp"].as_i64(), claims["role"].as_str()) else {
            return Err(missing_claims());
        };
        let (may_read_broadcast, may_read_presence) = if private {
            let unauthorized = || Refusal::unreadable_topic(sub_topic);
            let reads = self
                .read_policies(&claims, sub_topic)
                .await
                .map_err(|error| {
                    eprintln!(
                        "realtime: checking the read policies of {sub_topic} failed: {error:#}"
                    );
                    unauthorized()
                })?;
            if reads == (false, false) {
                return Err(unauthorized());
            }
            reads
        } else {
            (true, true)
        };
        Ok(Access {
            token: token.to_owned(),
            claims,
            expires_at,
            may_read_broadcast,
            may_read_presence,
            may_write: HashMap::new(),
        })
    }

    /// Whether the `realtime.messages` policies let these claims receive broadcast and presence
    /// on the topic: hosted Realtime's check, probe rows selected as the user, then rolled back.
    async fn read_policies(&self, claims: &Value, sub_topic: &str) -> anyhow::Result<(bool, bool)> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let (broadcast, presence) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        tx.execute(
            "insert into realtime.messages (id, topic, extension)
             values ($1, $3, 'broadcast'), ($2, $3, 'presence')",
            &[&broadcast, &presence, &sub_topic],
        )
        .await?;
        as_user_on_topic(&tx, claims, sub_topic).await?;
        let readable: Vec<uuid::Uuid> = tx
            .query(
                "select id from realtime.messages where id = any ($1)",
                &[&vec![broadcast, presence]],
            )
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        Ok((readable.contains(&broadcast), readable.contains(&presence)))
    }

    /// Whether the channel's user may send on it (`extension`: broadcast or presence): public
    /// channels always; private ones when an insert into `realtime.messages` passes the policies.
    async fn may_write(&self, channel: &Channel, extension: &'static str) -> bool {
        if !channel.private {
            return true;
        }
        let claims = {
            let access = channel.access();
            if let Some(known) = access.may_write.get(extension) {
                return *known;
            }
            access.claims.clone()
        };
        let allowed = match self
            .write_policy(&claims, &channel.sub_topic, extension)
            .await
        {
            Ok(allowed) => allowed,
            Err(error) => {
                eprintln!(
                    "realtime: checking the write policy of {} failed: {error:#}",
                    channel.sub_topic
                );
                return false;
            }
        };
        channel.access().may_write.insert(extension, allowed);
        allowed
    }

    async fn write_policy(
        &self,
        claims: &Value,
        sub_topic: &str,
        extension: &str,
    ) -> anyhow::Result<bool> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        as_user_on_topic(&tx, claims, sub_topic).await?;
        let inserted = tx
            .execute(
                "insert into realtime.messages (topic, extension) values ($1, $2)",
                &[&sub_topic, &extension],
            )
            .await;
        match inserted {
            Ok(_) => Ok(true),
            Err(error) if error.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// A broadcast to every live channel on the topic that may read it, except `skip`.
    fn fan_out_broadcast(&self, topic: &TopicKey, skip: Option<u64>, payload: &Value) {
        for channel in self.live_channels() {
            let reads = !channel.private || channel.access().may_read_broadcast;
            if channel.topic_key() == *topic && reads && Some(channel.id) != skip {
                channel.push("broadcast", payload.clone());
            }
        }
    }

    fn fan_out_presence_diff(&self, topic: &TopicKey, diff: Value) {
        for channel in self.live_channels() {
            let reads = !channel.private || channel.access().may_read_presence;
            if channel.topic_key() == *topic && reads {
                channel.push("presence_diff", diff.clone());
            }
        }
    }

    fn track(&self, channel: &Channel, payload: &Value) {
        let diff = self.presences.lock().expect("presence lock").track(
            channel.topic_key(),
            channel.id,
            &channel.presence_key,
            payload,
        );
        self.fan_out_presence_diff(&channel.topic_key(), diff);
    }

    fn untrack(&self, channel: &Channel) {
        let diff = self
            .presences
            .lock()
            .expect("presence lock")
            .untrack(&channel.topic_key(), channel.id);
        if let Some(diff) = diff {
            self.fan_out_presence_diff(&channel.topic_key(), diff);
        }
    }

    fn presence_state(&self, channel: &Channel) -> Value {
        let presences = self.presences.lock().expect("presence lock");
        presences.state(&channel.topic_key())
    }

    /// One change decoded by wal2json: a broadcast sent from SQL, or a row change for the
    /// channels listening to its table that may see it.
    async fn dispatch_change(&self, change: Value) {
        let action = match change["action"].as_str() {
            Some("I") => "INSERT",
            Some("U") => "UPDATE",
            Some("D") => "DELETE",
            _ => return,
        };
        let (schema, table) = (
            change["schema"].as_str().unwrap_or_default(),
            change["table"].as_str().unwrap_or_default(),
        );
        if (schema, table) == ("realtime", "messages") {
            if action == "INSERT" {
                self.broadcast_from_database(&change);
            }
            return;
        }
        let channels = self.live_channels();
        let subscribers: Vec<Value> = channels
            .iter()
            .flat_map(|channel| {
                let claims = channel.access().claims.clone();
                channel
                    .bindings
                    .iter()
                    .filter(|b| b.wants(schema, table, action))
                    .map(move |binding| {
                        json!({
                            "id": format!("{}:{}", channel.id, binding.id),
                            "role": role_of(&claims),
                            "claims": claims,
                            "filters": binding.filter.iter().map(changes::Filter::to_json).collect::<Vec<_>>(),
                        })
                    })
            })
            .collect();
        if subscribers.is_empty() {
            return;
        }
        match self.visible_to(&change, &subscribers).await {
            Ok(deliveries) => deliver_changes(&channels, deliveries),
            Err(error) => eprintln!(
                "realtime: checking who may see a change of {schema}.{table} failed: {error:#}"
            ),
        }
    }

    /// `(subscriber id, data)` for each subscriber that may see the change.
    async fn visible_to(
        &self,
        change: &Value,
        subscribers: &[Value],
    ) -> anyhow::Result<Vec<(String, Value)>> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "select subscriber, data from realtime.stand_in_visible_change($1, $2)",
                &[change, &Value::from(subscribers.to_vec())],
            )
            .await?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }

    /// A new `realtime.messages` row (`realtime.send`), broadcast on its topic.
    fn broadcast_from_database(&self, change: &Value) {
        let columns: HashMap<&str, &Value> = change["columns"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| Some((c["name"].as_str()?, &c["value"])))
            .collect();
        let text = |name: &str| {
            columns
                .get(name)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
        };
        if text("extension") != "broadcast" {
            return;
        }
        // wal2json writes a jsonb value as its text.
        let payload = serde_json::from_str::<Value>(text("payload")).unwrap_or(Value::Null);
        let private = columns
            .get("private")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        let message = json!({
            "type": "broadcast",
            "event": text("event"),
            "payload": payload,
            "meta": { "id": text("id") },
        });
        self.fan_out_broadcast(&(private, text("topic").to_owned()), None, &message);
    }
}

/// Pushes each channel its change once, with the ids of its listeners that matched.
fn deliver_changes(channels: &[Arc<Channel>], deliveries: Vec<(String, Value)>) {
    let mut by_channel: HashMap<u64, (Vec<u32>, Value)> = HashMap::new();
    for (subscriber, data) in deliveries {
        let Some((channel, binding)) = subscriber.split_once(':') else {
            continue;
        };
        let (Ok(channel), Ok(binding)) = (channel.parse(), binding.parse()) else {
            continue;
        };
        by_channel
            .entry(channel)
            .or_insert_with(|| (Vec::new(), data))
            .0
            .push(binding);
    }
    for channel in channels {
        if let Some((ids, data)) = by_channel.remove(&channel.id) {
            channel.push("postgres_changes", json!({ "ids": ids, "data": data }));
        }
    }
}

/// Makes the rest of `tx` run as Realtime evaluates its policies: as the user, with
/// `realtime.topic()` naming the channel.
async fn as_user_on_topic(
    tx: &tokio_postgres::Transaction<'_>,
    claims: &Value,
    sub_topic: &str,
) -> Result<(), tokio_postgres::Error> {
    tx.execute(
        "select set_config('realtime.topic', $1, true)",
        &[&sub_topic],
    )
    .await?;
    act_as(tx, claims).await
}

async fn upgrade(
    State(realtime): State<Arc<Realtime>>,
    uri: Uri,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let vsn = Vsn::from_query(uri.query());
    // The gateway has checked it is one of the project's API keys.
    let api_key = uri
        .query()
        .and_then(|query| crate::gateway::query_param(query, "apikey"))
        .or_else(|| headers.get("apikey").and_then(|v| v.to_str().ok()))
        .unwrap_or_default()
        .to_owned();
    upgrade.on_upgrade(move |socket| session::serve(realtime, socket, vsn, api_key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_refusals_read_as_hosted_at_a_join_and_when_a_new_token_ends_a_channel() {
        let cases = [
            (
                TokenError::BadSignature,
                "JwtSignatureError: Failed to validate JWT signature",
                ":signature_error",
            ),
            (
                TokenError::NoKey { kid: None },
                "JwtSignerError: Failed to generate JWT signer, check your JWT secret or JWKS configuration",
                ":error_generating_signer",
            ),
            (
                TokenError::Expired { seconds_past: 5 },
                "InvalidJWTToken: Token has expired 5 seconds ago",
                "Token has expired 5 seconds ago",
            ),
            (
                TokenError::Malformed,
                "MalformedJWT: The token provided is not a valid JWT",
                "The token provided is not a valid JWT",
            ),
        ];
        for (error, at_join, at_refresh) in cases {
            let refusal = Refusal::from(error);
            assert_eq!(refusal.reason(), at_join);
            assert_eq!(refusal.shutdown_message(), at_refresh);
        }
        let unknown_key = Refusal::from(TokenError::NoKey {
            kid: Some("rotated-out".into()),
        });
        let message = "Failed to generate JWT signer for key ID (kid) \"rotated-out\", check your JWT secret or JWKS configuration";
        assert_eq!(unknown_key.reason(), format!("JwtSignerError: {message}"));
        assert_eq!(unknown_key.shutdown_message(), message);
    }
}
