//! One client's socket: the Phoenix protocol as hosted Realtime answers it (heartbeat, join,
//! leave, broadcast, presence, token refresh) and the channels it has joined.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{self, WebSocket};
use serde_json::{json, Value};
use tokio::sync::mpsc::{self, UnboundedSender};

use super::changes::{binding_id, Binding};
use super::wire::{Message, Vsn};
use super::{Channel, Realtime, Refusal};

/// How often the socket looks for channels whose token has expired.
const EXPIRY_CHECK: Duration = Duration::from_millis(250);

struct Session {
    realtime: Arc<Realtime>,
    /// The socket's own token (its API key), used by joins that bring none.
    api_key: String,
    outbox: UnboundedSender<Message>,
    joined: HashMap<String, Arc<Channel>>,
}

pub async fn serve(realtime: Arc<Realtime>, mut socket: WebSocket, vsn: Vsn, api_key: String) {
    let (outbox, mut inbox) = mpsc::unbounded_channel();
    let mut session = Session {
        realtime,
        api_key,
        outbox,
        joined: HashMap::new(),
    };
    let mut expiry_check = tokio::time::interval(EXPIRY_CHECK);
    loop {
        tokio::select! {
            frame = socket.recv() => {
                let message = match frame {
                    Some(Ok(ws::Message::Text(text))) => Message::decode_text(vsn, &text),
                    Some(Ok(ws::Message::Binary(bytes))) => Message::decode_binary(&bytes),
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => break,
                };
                match message {
                    Ok(message) => session.handle(message).await,
                    Err(error) => eprintln!("realtime: unreadable frame: {error}"),
                }
            }
            Some(message) = inbox.recv() => {
                let frame = ws::Message::Text(message.encode(vsn).into());
                if socket.send(frame).await.is_err() {
                    break;
                }
            }
            _ = expiry_check.tick() => session.close_expired(),
        }
    }
    for channel in session.joined.values() {
        session.realtime.unregister(channel);
    }
}

impl Session {
    fn send(&self, message: Message) {
        // The receiver lives as long as the session.
        let _ = self.outbox.send(message);
    }

    fn reply(&self, request: &Message, status: &str, response: Value) {
        self.send(Message::reply(request, status, response));
    }

    async fn handle(&mut self, message: Message) {
        match (message.topic.as_str(), message.event.as_str()) {
            ("phoenix", "heartbeat") => self.reply(&message, "ok", json!({})),
            (_, "phx_join") => self.join(message).await,
            _ => {
                let Some(channel) = self.joined.get(&message.topic).cloned() else {
                    return self.reply(&message, "error", json!({ "reason": "unmatched topic" }));
                };
                match message.event.as_str() {
                    "phx_leave" => {
                        self.leave(&message.topic);
                        self.reply(&message, "ok", json!({}));
                    }
                    "broadcast" => self.broadcast(&channel, &message).await,
                    "presence" => self.presence(&channel, &message).await,
                    "access_token" => self.refresh_token(&channel, &message).await,
                    // Hosted Realtime ignores other events from clients too.
                    _ => {}
                }
            }
        }
    }

    async fn join(&mut self, request: Message) {
        // Joining a joined topic again replaces the earlier join, as in Phoenix.
        self.leave(&request.topic);
        let sub_topic = match request.topic.strip_prefix("realtime:") {
            Some(sub_topic) if !sub_topic.is_empty() => sub_topic.to_owned(),
            _ => {
                let reason = "TopicNameRequired: You must provide a topic name";
                return self.reply(&request, "error", json!({ "reason": reason }));
            }
        };
        let config = &request.payload["config"];
        let private = config["private"].as_bool().unwrap_or(false);
        // A publishable key (`sb_…`) is no user token: the socket's own key stands.
        let token = request.payload["access_token"]
            .as_str()
            .filter(|t| !t.starts_with("sb_"))
            .unwrap_or(&self.api_key);
        let access = match self.realtime.access(token, &sub_topic, private).await {
            Ok(access) => access,
            Err(refusal) => {
                return self.reply(&request, "error", json!({ "reason": refusal.reason() }))
            }
        };
        let requested: Vec<Value> = config["postgres_changes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let (mut bindings, mut refusals) = (Vec::new(), Vec::new());
        for params in &requested {
            match Binding::from_params(params) {
                Ok(binding) => bindings.push(binding),
                Err(refusal) => refusals.push(refusal),
            }
        }
        let presence_key = config["presence"]["key"]
            .as_str()
            .filter(|key| !key.is_empty())
            .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
        let channel = Arc::new(Channel {
            id: self.realtime.next_channel_id(),
            topic: request.topic.clone(),
            sub_topic,
            join_ref: request.join_ref.clone().or_else(|| request.msg_ref.clone()),
            private,
            self_broadcast: config["broadcast"]["self"].as_bool().unwrap_or(false),
            ack_broadcast: config["broadcast"]["ack"].as_bool().unwrap_or(false),
            presence_key,
            bindings,
            outbox: self.outbox.clone(),
            access: Mutex::new(access),
        });
        self.realtime.register(channel.clone());
        self.joined.insert(request.topic.clone(), channel.clone());

        let listening: Vec<Value> = requested
            .iter()
            .map(|params| {
                let mut listener = params.clone();
                listener["id"] = json!(binding_id(params));
                listener
            })
            .collect();
        self.reply(&request, "ok", json!({ "postgres_changes": listening }));
        for refusal in &refusals {
            channel.push_system("postgres_changes", "error", refusal);
        }
        if !channel.bindings.is_empty() && refusals.is_empty() {
            channel.push_subscribed_to_postgres();
        }
        if config["presence"]["enabled"].as_bool().unwrap_or(false) {
            channel.push("presence_state", self.realtime.presence_state(&channel));
        }
    }

    fn leave(&mut self, topic: &str) {
        if let Some(channel) = self.joined.remove(topic) {
            self.realtime.unregister(&channel);
        }
    }

    /// Ends a channel from the server's side, as hosted Realtime does: a `system` error saying
    /// why, then `phx_close`.
    fn shut_down(&mut self, channel: &Channel, message: &str) {
        channel.push_system("system", "error", message);
        self.send(Message {
            join_ref: channel.join_ref.clone(),
            msg_ref: channel.join_ref.clone(),
            topic: channel.topic.clone(),
            event: "phx_close".into(),
            payload: json!({}),
        });
        self.leave(&channel.topic);
    }

    fn close_expired(&mut self) {
        let now = chrono::Utc::now().timestamp();
        let expired: Vec<(Arc<Channel>, i64)> = self
            .joined
            .values()
            .filter_map(|c| {
                let expires_at = c.access().expires_at;
                (expires_at < now).then(|| (c.clone(), now - expires_at))
            })
            .collect();
        for (channel, seconds_past) in expired {
            self.shut_down(
                &channel,
                &format!("Token has expired {seconds_past} seconds ago"),
            );
        }
    }

    async fn broadcast(&self, channel: &Channel, request: &Message) {
        // Without write access the message is dropped and not acknowledged, as hosted.
        if !self.realtime.may_write(channel, "broadcast").await {
            return;
        }
        let skip = (!channel.self_broadcast).then_some(channel.id);
        self.realtime
            .fan_out_broadcast(&channel.topic_key(), skip, &request.payload);
        if channel.ack_broadcast {
            self.reply(request, "ok", json!({}));
        }
    }

    async fn presence(&self, channel: &Channel, request: &Message) {
        let event = request.payload["event"].as_str().unwrap_or_default();
        match event.to_ascii_lowercase().as_str() {
            "track" => {
                let payload = request.payload.get("payload").cloned().unwrap_or(json!({}));
                if !payload.is_object() {
                    let reason = "Presence track payload must be a map";
                    return self.reply(request, "error", json!({ "reason": reason }));
                }
                if !self.realtime.may_write(channel, "presence").await {
                    return self.reply(request, "error", json!({}));
                }
                self.realtime.track(channel, &payload);
                self.reply(request, "ok", json!({}));
            }
            "untrack" => {
                self.realtime.untrack(channel);
                self.reply(request, "ok", json!({}));
            }
            _ => self.reply(request, "error", json!({})),
        }
    }

    /// A new token for a joined channel, checked as at the join: accepted, it is what the
    /// channel's changes and policies are checked as from now on (another user's token makes it
    /// that user's channel), and postgres_changes are subscribed again with its claims, as hosted
    /// re-subscribes; refused, or taking away reads the old token allowed, it ends the channel
    /// with hosted's message.
    async fn refresh_token(&mut self, channel: &Arc<Channel>, request: &Message) {
        let Some(token) = request.payload["access_token"].as_str() else {
            return;
        };
        if token.starts_with("sb_") || token == channel.access().token {
            return;
        }
        let refreshed = self
            .realtime
            .access(token, &channel.sub_topic, channel.private)
            .await
            .and_then(|access| {
                let previous = channel.access();
                let revoked = (previous.may_read_broadcast && !access.may_read_broadcast)
                    || (previous.may_read_presence && !access.may_read_presence);
                if revoked {
                    Err(Refusal::revoked_read(&channel.sub_topic))
                } else {
                    Ok(access)
                }
            });
        match refreshed {
            Ok(access) => {
                *channel.access() = access;
                if !channel.bindings.is_empty() {
                    channel.push_subscribed_to_postgres();
                }
            }
            Err(refusal) => self.shut_down(channel, refusal.shutdown_message()),
        }
    }
}
