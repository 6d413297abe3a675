//! Delivers what `net.http_get` / `net.http_post` enqueue, as pg_net's background worker does:
//! asynchronously, after the enqueuing transaction commits, recording each outcome in
//! `net._http_response` with the request's id. So pg_cron jobs that call the worker reach it.

use std::time::Duration;

use deadpool_postgres::Pool;
use serde_json::{Map, Value};

/// How often the queue is polled; pg_net's worker also wakes on a short interval.
const POLL_INTERVAL: Duration = Duration::from_millis(200);
const BATCH_SIZE: i64 = 50;

pub async fn run_dispatcher(pool: Pool) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client");
    loop {
        match dispatch_batch(&pool, &client).await {
            Ok(0) | Err(_) => tokio::time::sleep(POLL_INTERVAL).await,
            Ok(_) => {}
        }
    }
}

/// Takes up to a batch of requests off the queue and delivers them concurrently.
async fn dispatch_batch(pool: &Pool, client: &reqwest::Client) -> anyhow::Result<usize> {
    let db = pool.get().await?;
    let rows = db
        .query(
            "delete from net.http_request_queue where id in \
               (select id from net.http_request_queue order by id limit $1 for update skip locked) \
             returning id, method, url, headers, body, timeout_milliseconds",
            &[&BATCH_SIZE],
        )
        .await?;
    let mut deliveries = tokio::task::JoinSet::new();
    for row in &rows {
        let request = QueuedRequest {
            id: row.get(0),
            method: row.get(1),
            url: row.get(2),
            headers: row.get(3),
            body: row.get(4),
            timeout: Duration::from_millis(row.get::<_, i32>(5).max(1) as u64),
        };
        deliveries.spawn(deliver(client.clone(), request));
    }
    let outcomes = deliveries.join_all().await;
    for outcome in &outcomes {
        db.execute(
            "insert into net._http_response (id, status_code, content_type, headers, content, timed_out, error_msg) \
             values ($1, $2, $3, $4, $5, $6, $7)",
            &[&outcome.id, &outcome.status, &outcome.content_type, &outcome.headers, &outcome.content, &outcome.timed_out, &outcome.error],
        )
        .await?;
    }
    Ok(outcomes.len())
}

struct QueuedRequest {
    id: i64,
    method: String,
    url: String,
    headers: Option<Value>,
    body: Option<Vec<u8>>,
    timeout: Duration,
}

struct Outcome {
    id: i64,
    status: Option<i32>,
    content_type: Option<String>,
    headers: Option<Value>,
    content: Option<String>,
    timed_out: Option<bool>,
    error: Option<String>,
}

async fn deliver(client: reqwest::Client, request: QueuedRequest) -> Outcome {
    let method = reqwest::Method::from_bytes(request.method.to_uppercase().as_bytes())
        .unwrap_or(reqwest::Method::GET);
    let mut builder = client
        .request(method, &request.url)
        .timeout(request.timeout);
    if let Some(Value::Object(headers)) = &request.headers {
        for (name, value) in headers {
            if let Some(value) = value.as_str() {
                builder = builder.header(name, value);
            }
        }
    }
    if let Some(body) = request.body {
        builder = builder.body(body);
    }
    let failed = |timed_out: bool, error: String| Outcome {
        id: request.id,
        status: None,
        content_type: None,
        headers: None,
        content: None,
        timed_out: Some(timed_out),
        error: Some(error),
    };
    match builder.send().await {
        Ok(response) => {
            let status = i32::from(response.status().as_u16());
            let headers: Map<String, Value> = response
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        Value::String(v.to_str().unwrap_or_default().to_owned()),
                    )
                })
                .collect();
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            match response.text().await {
                Ok(content) => Outcome {
                    id: request.id,
                    status: Some(status),
                    content_type,
                    headers: Some(Value::Object(headers)),
                    content: Some(content),
                    timed_out: Some(false),
                    error: None,
                },
                Err(error) => failed(error.is_timeout(), error.to_string()),
            }
        }
        Err(error) if error.is_timeout() => failed(true, "Timeout was reached".into()),
        Err(error) => failed(false, format!("Couldn't connect to server: {error}")),
    }
}
