//! Issue 19's rows: one chat message fanned out by the Realtime stand-in to 100 subscribed
//! channel members (each change checked by RLS as each member), beside the same rows delivered
//! by plain `LISTEN/NOTIFY` to 100 listeners, the floor. Latency runs from the insert's commit
//! (its statement returning) to each receipt.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio_postgres::{AsyncMessage, NoTls};
use tokio_tungstenite::tungstenite::Message as Frame;

use devstack::DevUser;

use super::{ms, percentile, Row};
use crate::repo_root;
use crate::stack::Stack;

const MEMBERS: usize = 100;
/// Messages sent one at a time, each awaited by every receiver: the latency samples.
const ONE_AT_A_TIME: usize = 50;
/// Messages sent back to back: the sustained rate.
const BACK_TO_BACK: usize = 200;
const CHANNEL: &str = "00000000-0000-4000-c000-000000000001";
const DEADLINE: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Via {
    Realtime,
    Notify,
}

struct Receipt {
    via: Via,
    message: i64,
    at: Instant,
}

pub async fn fan_out(stack: &Stack) -> Result<Vec<Row>> {
    stack
        .postgres
        .psql_script(&repo_root().join("xtask/bench/realtime_chat.sql"))?;
    let (receipts_to, mut receipts) = unbounded_channel();
    for member in 1..=MEMBERS {
        subscribe(stack, member, receipts_to.clone()).await?;
    }
    let mut listeners = Vec::new();
    for _ in 0..MEMBERS {
        listeners.push(listen(stack, receipts_to.clone()).await?);
    }
    let (db, connection) = tokio_postgres::connect(&stack.postgres.url(), NoTls).await?;
    tokio::spawn(connection);
    let send = || async {
        let row = db
            .query_one(
                "insert into public.chat_messages (channel_id, sender_id, body)
                 values ($1::text::uuid, $2::text::uuid, 'bench') returning id",
                &[&CHANNEL, &member_id(1)],
            )
            .await?;
        anyhow::Ok((row.get::<_, i64>(0), Instant::now()))
    };

    let mut latencies: HashMap<Via, Vec<Duration>> = HashMap::new();
    for _ in 0..ONE_AT_A_TIME {
        let (message, committed) = send().await?;
        for receipt in receive(&mut receipts, 2 * MEMBERS).await? {
            anyhow::ensure!(receipt.message == message, "a receipt of another message");
            latencies
                .entry(receipt.via)
                .or_default()
                .push(receipt.at - committed);
        }
    }
    let started = Instant::now();
    for _ in 0..BACK_TO_BACK {
        send().await?;
    }
    let mut last: HashMap<Via, Instant> = HashMap::new();
    for receipt in receive(&mut receipts, 2 * MEMBERS * BACK_TO_BACK).await? {
        let latest = last.entry(receipt.via).or_insert(receipt.at);
        *latest = (*latest).max(receipt.at);
    }
    drop(listeners);

    let mut sorted = |via| {
        let mut samples = latencies.remove(&via).unwrap_or_default();
        samples.sort();
        samples
    };
    let (realtime, notify) = (sorted(Via::Realtime), sorted(Via::Notify));
    let rate = |via| BACK_TO_BACK as f64 / (last[&via] - started).as_secs_f64();
    let (p50, p99) = (percentile(&realtime, 0.5), percentile(&realtime, 0.99));
    let (floor_p50, floor_p99) = (percentile(&notify, 0.5), percentile(&notify, 0.99));
    Ok(vec![
        Row {
            metric: format!("chat message to {MEMBERS} members by Realtime (RLS each): commit → receipt p50 / p99"),
            value: format!("{:.1} / {:.1} ms", ms(p50), ms(p99)),
            reference: format!("{:.1} / {:.1} ms LISTEN/NOTIFY", ms(floor_p50), ms(floor_p99)),
            ratio: format!("{:.1}×", ms(p99) / ms(floor_p99)),
            target: "p99 ≤ 100 ms",
        },
        Row::for_scale(
            format!("  sustained messages/s, each to {MEMBERS} members"),
            format!("{:.0}/s", rate(Via::Realtime)),
            format!("{:.0}/s LISTEN/NOTIFY", rate(Via::Notify)),
        ),
    ])
}

fn member_id(member: usize) -> String {
    format!("00000000-0000-4000-a000-{member:012}")
}

/// `count` receipts, or an error once the deadline passes.
async fn receive(receipts: &mut UnboundedReceiver<Receipt>, count: usize) -> Result<Vec<Receipt>> {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut received = Vec::with_capacity(count);
    while received.len() < count {
        let receipt = tokio::time::timeout_at(deadline, receipts.recv())
            .await
            .with_context(|| format!("{} of {count} receipts before the deadline", received.len()))?
            .context("receivers stopped")?;
        received.push(receipt);
    }
    Ok(received)
}

/// A member's socket, joined to the channel's new messages as supabase-js joins (vsn 2.0.0).
async fn subscribe(stack: &Stack, member: usize, receipts: UnboundedSender<Receipt>) -> Result<()> {
    let url = format!(
        "ws://127.0.0.1:{}/realtime/v1/websocket?apikey={}&vsn=2.0.0",
        stack.ports.gateway,
        stack.keys.anon_key()
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
    let (id, email) = (member_id(member), format!("realtime-{member}@bench.local"));
    let token = stack.user_token(&DevUser {
        id: &id,
        email: &email,
    });
    let config = json!({
        "broadcast": { "self": false, "ack": false },
        "presence": { "key": "", "enabled": false },
        "postgres_changes": [{
            "event": "INSERT", "schema": "public", "table": "chat_messages",
            "filter": format!("channel_id=eq.{CHANNEL}"),
        }],
        "private": false,
    });
    let join = json!(["1", "1", format!("realtime:bench-{member}"), "phx_join",
                      { "config": config, "access_token": token }]);
    socket.send(Frame::text(join.to_string())).await?;
    let reply: Value = match socket.next().await {
        Some(Ok(Frame::Text(text))) => serde_json::from_str(&text)?,
        other => anyhow::bail!("no join reply: {other:?}"),
    };
    anyhow::ensure!(reply[4]["status"] == "ok", "join refused: {reply}");
    tokio::spawn(async move {
        while let Some(Ok(Frame::Text(text))) = socket.next().await {
            let Ok(message) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            if let Some(id) = message[4]["data"]["record"]["id"].as_i64() {
                let _ = receipts.send(Receipt {
                    via: Via::Realtime,
                    message: id,
                    at: Instant::now(),
                });
            }
        }
    });
    Ok(())
}

/// A plain Postgres connection listening to the floor's NOTIFY; dropping the client ends it.
async fn listen(
    stack: &Stack,
    receipts: UnboundedSender<Receipt>,
) -> Result<tokio_postgres::Client> {
    let (client, mut connection) = tokio_postgres::connect(&stack.postgres.url(), NoTls).await?;
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notification(note) = message {
                if let Ok(id) = note.payload().parse() {
                    let _ = receipts.send(Receipt {
                        via: Via::Notify,
                        message: id,
                        at: Instant::now(),
                    });
                }
            }
        }
    });
    client.batch_execute("listen bench_chat").await?;
    Ok(client)
}
