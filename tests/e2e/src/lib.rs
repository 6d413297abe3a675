//! Shared setup of the end-to-end tests: the stack `cargo xtask test` started, found through
//! `E2E_*` environment variables, and tokens minted with its keys.

pub mod app;
pub mod contract;
pub mod social;

use devstack::{DevKeys, DevUser};

pub const ALICE: DevUser<'static> = DevUser {
    id: "11111111-1111-4111-8111-111111111111",
    email: "alice@example.com",
};
pub const BOB: DevUser<'static> = DevUser {
    id: "22222222-2222-4222-8222-222222222222",
    email: "bob@example.com",
};

pub struct Stack {
    pub worker_url: String,
    pub supabase_url: String,
    pub keys: DevKeys,
    pub worker_log: String,
    pub http: reqwest::Client,
}

impl Stack {
    /// The running stack. Panics with a pointer to the right command when run outside it.
    pub fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!("{name} is not set: run these tests with `cargo xtask test`")
            })
        };
        let keys_file = var("E2E_KEYS_FILE");
        let keys = serde_json::from_str(&std::fs::read_to_string(&keys_file).expect("keys file"))
            .expect("keys json");
        Self {
            worker_url: var("E2E_WORKER_URL"),
            supabase_url: var("E2E_SUPABASE_URL"),
            keys,
            worker_log: var("E2E_WORKER_LOG"),
            // Idle connections are dropped well before wrangler dev's Node server closes them
            // (its keep-alive timeout is 5 s): reusing one it is closing resets the request.
            http: reqwest::Client::builder()
                .pool_idle_timeout(std::time::Duration::from_secs(2))
                .build()
                .expect("an HTTP client"),
        }
    }

    pub fn issuer(&self) -> String {
        format!("{}/auth/v1", self.supabase_url)
    }

    /// An ES256 access token, as Supabase Auth issues with asymmetric signing keys.
    pub fn token(&self, user: &DevUser<'_>) -> String {
        self.keys.user_access_token(user, &self.issuer(), 3600)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.worker_url, path)
    }

    pub async fn get(
        &self,
        path: &str,
        token: Option<&str>,
    ) -> (u16, serde_json::Value, reqwest::header::HeaderMap) {
        let mut request = self.http.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = send(request).await;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.json().await.unwrap_or(serde_json::Value::Null);
        (status, body, headers)
    }

    /// What the worker has logged so far.
    pub fn worker_log(&self) -> String {
        std::fs::read_to_string(&self.worker_log).expect("worker log")
    }

    /// The worker's log once it holds the line of the request `request_id` (an `x-request-id`
    /// the worker answered), waiting up to 10 s for it. The worker writes a request's line as its
    /// response goes out, in order: every request answered before this one has its line in too.
    pub async fn log_through(&self, request_id: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let log = self.worker_log();
            if log.contains(request_id) {
                return log;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no log line for request {request_id} within 10 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// What wrangler dev's proxy answers when it lost a request on its way to the worker.
pub const DEV_PROXY_DROP: &str = "Your worker restarted mid-request";

/// How many requests this test binary has resent (see [`send`]).
static RESENDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many requests this test binary has resent so far because wrangler dev's proxy dropped them.
pub fn resends() -> usize {
    RESENDS.load(std::sync::atomic::Ordering::SeqCst)
}

/// Set in the extensions of a response that answers a resent request: see [`was_resent`].
#[derive(Clone, Copy, Debug)]
pub struct Resent;

/// Whether `response` answers the second sending of its request ([`send`] resent it after the
/// dev proxy dropped the first).
pub fn was_resent(response: &reqwest::Response) -> bool {
    response.extensions().get::<Resent>().is_some()
}

thread_local! {
    /// The requests with side effects (any method but GET and HEAD) this test resent. libtest
    /// runs each test on a thread of its own, and `#[tokio::test]` keeps its tasks on it.
    static RESENT_WITH_EFFECTS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Fails the test if it resent a request with side effects: the dev proxy's drop signatures
/// say the worker never saw the first sending, but a worker crash could look the same, and then
/// rows, ledger entries or provider calls may have been made twice (or by a request whose answer
/// was lost). Called by every helper that reads side effects (the fakes' records, the ledger,
/// pg_net's deliveries, a post's outcomes, a job's steps) before it reads them.
pub fn assert_side_effects_countable() {
    RESENT_WITH_EFFECTS.with_borrow(|resent| {
        assert!(
            resent.is_empty(),
            "this test resent {resent:?} after the dev proxy dropped it: its side effects \
             cannot be counted (rerun the test)"
        )
    });
}

/// Sends `request`, and once more if wrangler dev's proxy dropped it. Under load the proxy's
/// reused keep-alive connection to the worker can close just as a request goes out, and the
/// worker never sees the request (workers-sdk#14641, #15252; fixed in wrangler releases that need
/// Node 22). The proxy then either answers 503 with [`DEV_PROXY_DROP`] or resets the client's
/// connection before any response byte; browsers resend a request on a reset reused connection
/// for the same reason. Only these two signatures are resent, never silently: each resend is
/// written to stderr (past the test harness's capture) with the binary's running count, and the
/// answer is marked ([`was_resent`]).
pub async fn send(request: reqwest::RequestBuilder) -> reqwest::Response {
    try_send(request).await.expect("worker reachable")
}

/// [`send`], answering the error of a request that got no response instead of panicking.
/// Every answer of the worker is checked against `openapi.json` ([`contract`]).
pub async fn try_send(request: reqwest::RequestBuilder) -> reqwest::Result<reqwest::Response> {
    let (client, request) = request.build_split();
    let request = request?;
    let again = request.try_clone();
    let (method, url) = (request.method().clone(), request.url().clone());
    let why = match client.execute(request).await {
        Ok(response) if response.status() != reqwest::StatusCode::SERVICE_UNAVAILABLE => {
            return Ok(held_to_contract(&method, &url, response).await)
        }
        Ok(response) => {
            let (status, headers, body) = read(response).await;
            if again.is_none() || !body.starts_with(DEV_PROXY_DROP.as_bytes()) {
                check_contract(&method, &url, status, &headers, Some(&body));
                return Ok(rebuilt(status, headers, body));
            }
            format!("503 \"{DEV_PROXY_DROP}\"")
        }
        Err(error) => match reset_before_answer(&error) {
            Some(cause) if again.is_some() => {
                format!("connection reset before any answer: {cause}")
            }
            _ => return Err(error),
        },
    };
    let again = again.expect("checked above");
    let count = RESENDS.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
    {
        use std::io::Write;
        // Straight to the process's stderr: the harness captures only `eprintln!`.
        let _ = writeln!(
            std::io::stderr(),
            "e2e: RESENT {method} {url} once: the dev proxy dropped it ({why}); \
             {count} resend(s) in this test binary so far"
        );
    }
    if !matches!(method, reqwest::Method::GET | reqwest::Method::HEAD) {
        RESENT_WITH_EFFECTS.with_borrow_mut(|resent| resent.push(format!("{method} {url}")));
    }
    let mut response = held_to_contract(&method, &url, client.execute(again).await?).await;
    response.extensions_mut().insert(Resent);
    Ok(response)
}

/// `response`, after checking it against the document when the worker sent it. A stream is
/// checked by its status and media type only, and handed over unread.
async fn held_to_contract(
    method: &reqwest::Method,
    url: &reqwest::Url,
    response: reqwest::Response,
) -> reqwest::Response {
    let is_json = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if !is_json {
        check_contract(method, url, response.status(), response.headers(), None);
        return response;
    }
    let (status, headers, body) = read(response).await;
    check_contract(method, url, status, &headers, Some(&body));
    rebuilt(status, headers, body)
}

/// Panics, naming the broken promise, when the worker answered other than `openapi.json` says.
fn check_contract(
    method: &reqwest::Method,
    url: &reqwest::Url,
    status: reqwest::StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: Option<&[u8]>,
) {
    let from_worker = std::env::var("E2E_WORKER_URL")
        .is_ok_and(|worker| url.as_str().starts_with(worker.trim_end_matches('/')));
    if !from_worker {
        return;
    }
    let answer = contract::Answer {
        method: method.as_str(),
        path: url.path(),
        status: status.as_u16(),
        content_type: headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok()),
        body,
    };
    if let Err(broken) = contract::check(&answer) {
        panic!("the worker's answer breaks openapi.json: {broken}");
    }
}

async fn read(
    response: reqwest::Response,
) -> (
    reqwest::StatusCode,
    reqwest::header::HeaderMap,
    bytes::Bytes,
) {
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap_or_default())
}

fn rebuilt(
    status: reqwest::StatusCode,
    headers: reqwest::header::HeaderMap,
    body: bytes::Bytes,
) -> reqwest::Response {
    let mut rebuilt = http::Response::new(body);
    *rebuilt.status_mut() = status;
    *rebuilt.headers_mut() = headers;
    reqwest::Response::from(rebuilt)
}

/// The cause, if the connection was reset or closed before the request got any answer: the dev
/// proxy's other drop signature.
pub fn reset_before_answer(error: &reqwest::Error) -> Option<String> {
    use std::error::Error;
    let mut cause = error.source();
    while let Some(current) = cause {
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            )
            .then(|| io.to_string());
        }
        let text = current.to_string();
        if text.contains("connection closed before message completed") {
            return Some(text);
        }
        cause = current.source();
    }
    None
}

/// What a fake's test endpoint (`/_fakes/abandoned`, `/social/_posts`) answers.
pub async fn fakes_json(
    http: &reqwest::Client,
    path: &str,
    query: &[(&str, &str)],
) -> serde_json::Value {
    assert_side_effects_countable();
    let fakes = std::env::var("E2E_FAKES_URL").expect("E2E_FAKES_URL");
    http.get(format!("{fakes}{path}"))
        .query(query)
        .send()
        .await
        .expect("fakes reachable")
        .json()
        .await
        .expect("a JSON answer from the fakes")
}

/// The `error.code` of an error body.
pub fn error_code(body: &serde_json::Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no error code>")
}

/// A superuser connection to the stack's database, for setting up and checking what the API did.
pub async fn database() -> tokio_postgres::Client {
    let url =
        std::env::var("E2E_DATABASE_URL").expect("E2E_DATABASE_URL: run with `cargo xtask test`");
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("database reachable");
    tokio::spawn(connection);
    client
}

/// A trigger making the database refuse some writes, as a dependency that fails would: the
/// worker's statement (or Supabase Auth's) raises, and nothing else is touched.
pub struct Refusal {
    trigger: String,
    table: String,
}

impl Refusal {
    /// Refuses `event` (`insert`, `update`) on `table` for the rows `when` selects (a trigger
    /// condition over `new`, and `old` for updates), until [`Refusal::lift`].
    pub async fn install(
        db: &tokio_postgres::Client,
        event: &str,
        table: &str,
        when: &str,
    ) -> Self {
        let trigger = format!("e2e_refuse_{}", social::unique("w").replace('-', "_"));
        db.batch_execute(&format!(
            "create schema if not exists e2e; \
             create or replace function e2e.refuse() returns trigger language plpgsql as \
             $$ begin raise exception 'refused by the test trigger %', tg_name; end $$; \
             create trigger {trigger} before {event} on {table} for each row when ({when}) \
             execute function e2e.refuse()"
        ))
        .await
        .expect("the refusing trigger");
        Self {
            trigger,
            table: table.to_owned(),
        }
    }

    pub async fn lift(self, db: &tokio_postgres::Client) {
        db.batch_execute(&format!("drop trigger {} on {}", self.trigger, self.table))
            .await
            .expect("the refusing trigger dropped");
    }
}

/// Waits until no AI request of `subject` (a user or a team) is still reserved: the worker
/// settles after its response.
pub async fn settled(db: &tokio_postgres::Client, subject: &str) {
    assert_side_effects_countable();
    for _ in 0..200 {
        let open: i64 = db
            .query_one(
                "select count(*) from public.ai_requests \
                 where (user_id = $1::text::uuid or subject_id = $1::text::uuid) and status = 'reserved'",
                &[&subject],
            )
            .await
            .unwrap()
            .get(0);
        if open == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the AI requests of {subject} were never settled");
}

/// The status and body pg_net recorded for its request `id`, once delivered (within 10 s).
pub async fn net_response(db: &tokio_postgres::Client, id: i64) -> (Option<i32>, Option<String>) {
    assert_side_effects_countable();
    for _ in 0..100 {
        if let Some(row) = db
            .query_opt(
                "select status_code, content from net._http_response where id = $1",
                &[&id],
            )
            .await
            .unwrap()
        {
            return (row.get(0), row.get(1));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("request {id} was never delivered");
}

/// Runs pg_cron job `job`'s command as pg_cron would (test stacks pause the schedules) and
/// answers the worker's JSON answer to the call it made through pg_net.
pub async fn run_scheduled(db: &tokio_postgres::Client, job: &str) -> serde_json::Value {
    let command: String = db
        .query_one("select command from cron.job where jobname = $1", &[&job])
        .await
        .unwrap()
        .get(0);
    let id: Option<i64> = db.query_one(&command, &[]).await.unwrap().get(0);
    let id = id.unwrap_or_else(|| panic!("{job} did not call the worker"));
    let (status, content) = net_response(db, id).await;
    assert_eq!(status, Some(200), "{content:?}");
    serde_json::from_str(&content.unwrap()).unwrap()
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    /// A server answering one connection after another with `answers` (`None`: close the
    /// connection without a byte of answer, as a reset).
    fn serve(answers: Vec<Option<(u16, &'static str)>>) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for answer in answers {
                let (mut stream, _) = listener.accept().unwrap();
                let mut request = [0; 4096];
                let _ = stream.read(&mut request);
                if let Some((status, body)) = answer {
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                }
            }
        });
        format!("http://{address}/")
    }

    #[tokio::test]
    async fn only_the_dev_proxy_signatures_are_resent_marked_and_counted_and_side_effects_fail_after(
    ) {
        let url = serve(vec![
            Some((503, "Your worker restarted mid-request. Please try again.")),
            Some((200, "second")),
            None,
            Some((200, "after the reset")),
            Some((503, "Service Unavailable")),
            Some((500, "boom")),
        ]);
        let client = reqwest::Client::new();
        let before = super::resends();

        let response = super::send(client.get(&url)).await;
        assert!(super::was_resent(&response));
        assert_eq!(response.text().await.unwrap(), "second");
        // A read sent twice changed nothing.
        super::assert_side_effects_countable();

        let response = super::send(client.post(&url).body("x")).await;
        assert!(super::was_resent(&response));
        assert_eq!(response.text().await.unwrap(), "after the reset");
        // A write sent twice: the side effects after it cannot be trusted.
        assert!(std::panic::catch_unwind(super::assert_side_effects_countable).is_err());

        // Any other 503, or any other error status, is the worker's answer: not resent.
        let response = super::send(client.get(&url)).await;
        assert_eq!(response.status(), 503);
        assert!(!super::was_resent(&response));
        assert_eq!(response.text().await.unwrap(), "Service Unavailable");
        let response = super::send(client.get(&url)).await;
        assert_eq!(response.status(), 500);
        assert!(!super::was_resent(&response));

        assert_eq!(super::resends(), before + 2);
    }
}
