//! The standing abuse suite (`cargo xtask test abuse`): every operation the running worker
//! documents in its own `/openapi.json` gets hostile input — broken and truncated JSON, invalid
//! UTF-8, wrong types for each documented body field, deep nesting, huge numbers and strings, NUL
//! bytes, an oversized body, impossible path, query and header parameters, missing, malformed and
//! other users' ids, and missing, garbage or forged credentials.
//!
//! The worker passes when it never answers 5xx nor drops the connection, answers every error with
//! the `{"error":{"code","message"}}` envelope (a snake_case code), redirects only where the
//! operation documents a redirect, refuses bad credentials and other users' objects, and still
//! answers `/healthz` and `/v1/me` afterwards. Every violation is collected and listed at once.

use std::borrow::Cow;
use std::time::Duration;

use devstack::Signing;
use e2e::app::{TestApp, User};
use e2e::social::unique;
use futures::stream::{self, StreamExt};
use reqwest::Method;
use serde_json::{json, Value};

/// Requests in flight at once: enough to finish in well under two minutes on two cores.
const CONCURRENCY: usize = 4;
/// Long enough for a 20 MB upload on a loaded machine; a worker that hangs fails the probe.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const HUGE_STRING: usize = 1 << 20;
/// Above any body limit the worker or the platform may set.
const OVERSIZED_BODY: usize = 20 << 20;
const NESTING_DEPTH: usize = 10_000;
/// A well-formed id that names nothing.
const MISSING_ID: &str = "7d444840-9dc0-4e6c-9a2f-6b0c1c2c3d4e";
/// Base64url of `{"alg":"none","typ":"JWT"}` and of `{"alg":"HS256","typ":"JWT"}`.
const ALG_NONE_HEADER: &str = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
const HS256_HEADER: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";
const HTTP_METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];
/// Query parameters that only narrow a list the caller may read: another user's id there is an
/// empty page, not a refusal (what matters is that nothing of theirs comes back).
const LIST_FILTERS: &[&str] = &["teamId", "batchId"];

#[tokio::test]
async fn every_operation_survives_hostile_input() {
    let env = TestApp::spawn().await;
    let document = openapi_document(&env).await;
    let attacker = Owned::create(&env, "abuse-attacker").await;
    let victim = Owned::create(&env, "abuse-victim").await;
    let credentials = Credentials::new(&env, &attacker.user);
    let operations = Operation::all(&document);
    let probes: Vec<Vec<Probe>> = operations
        .iter()
        .map(|operation| {
            let base = operation.base_call(&document, &attacker, &credentials);
            let probes = Probes {
                operation,
                document: &document,
                base,
                victim: &victim,
                credentials: &credentials,
            };
            probes.all()
        })
        .collect();
    let count: usize = probes.iter().map(Vec::len).sum();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .pool_idle_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let victim_ids = victim.ids();
    // One operation's probes in turn (they share its request, so running them at once would
    // race them against each other, e.g. two invitations of one address), operations side by side.
    let violations: Vec<Vec<String>> = stream::iter(probes)
        .map(|operation_probes| {
            let (client, env, victim_ids) = (&client, &env, &victim_ids);
            async move {
                let mut violations = Vec::new();
                for probe in operation_probes {
                    let worker = &env.stack.worker_url;
                    violations.extend(probe.run(client, worker, victim_ids).await);
                }
                violations
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut violations: Vec<String> = violations.into_iter().flatten().collect();
    violations.extend(still_healthy(&client, &env, &attacker.user).await);
    violations.sort();
    assert!(
        violations.is_empty(),
        "{} of {count} hostile requests to {} operations broke the contract:\n{}",
        violations.len(),
        operations.len(),
        violations.join("\n")
    );
}

async fn openapi_document(env: &TestApp) -> Value {
    let (status, document, _) = env.stack.get("/openapi.json", None).await;
    assert_eq!(status, 200, "the worker serves its OpenAPI document");
    document
}

/// After the barrage the worker still answers, unauthenticated and authenticated.
async fn still_healthy(client: &reqwest::Client, env: &TestApp, user: &User) -> Vec<String> {
    let mut broken = Vec::new();
    for (path, token) in [("/healthz", ""), ("/v1/me", user.token.as_str())] {
        let request = client.get(env.stack.url(path));
        let request = match token {
            "" => request,
            token => request.bearer_auth(token),
        };
        let answer = match e2e::try_send(request).await {
            Ok(response) if response.status() == 200 => continue,
            Ok(response) => format!(
                "{} {}",
                response.status(),
                excerpt(&response.bytes().await.unwrap_or_default())
            ),
            Err(error) => format!("no answer: {error}"),
        };
        broken.push(format!("afterwards: GET {path} | {answer}"));
    }
    broken
}

/// A user with one of everything the API takes an id of: a team (on a plan whose rate limit
/// does not cut the run short), a campaign, an X connection, a post to it, a job and a batch.
struct Owned {
    user: User,
    team: String,
    campaign: String,
    connection: String,
    post: String,
    job: String,
    batch: String,
}

impl Owned {
    async fn create(env: &TestApp, label: &str) -> Self {
        let user = env.new_user().await;
        let team = env.new_team(&user).await;
        env.db
            .batch_execute(&format!(
                "insert into public.ai_plans (plan, monthly_credits, requests_per_minute) \
                 values ('abuse', 1000000, 100000) on conflict (plan) do nothing; \
                 insert into public.ai_subjects (subject_id, plan) values ('{}', 'abuse'), ('{team}', 'abuse')",
                user.id
            ))
            .await
            .unwrap();
        let campaign: String = env
            .db
            .query_one(
                "insert into public.campaigns (team_id, name, tone) values ($1::text::uuid, $2, 'warm') \
                 returning id::text",
                &[&team, &label],
            )
            .await
            .unwrap()
            .get(0);
        let connection = env
            .connect(
                &user,
                &team,
                "x",
                &format!("fake_account={}", unique(label)),
            )
            .await;
        let post = Self::post(env, &user, &team, &connection, label).await;
        let chain = json!([{"kind": "draft"}]);
        let job = Self::accepted(
            env,
            &user,
            "/v1/jobs",
            json!({"prompt": label, "teamId": team, "campaignId": campaign, "chain": chain}),
        )
        .await;
        let batch = Self::accepted(
            env,
            &user,
            &format!("/v1/campaigns/{campaign}/batches"),
            json!({"posts": [{"prompt": label}], "chain": chain}),
        )
        .await;
        Self {
            user,
            team,
            campaign,
            connection,
            post,
            job,
            batch,
        }
    }

    /// A draft post with one destination, written through PostgREST as the app does.
    async fn post(env: &TestApp, user: &User, team: &str, connection: &str, label: &str) -> String {
        let (status, post) = env
            .rest_insert(
                user,
                "scheduled_posts",
                json!({"team_id": team, "body": label, "client_post_id": unique(label)}),
            )
            .await;
        assert_eq!(status, 201, "{post}");
        let post = post["id"].as_str().unwrap().to_owned();
        let (status, destination) = env
            .rest_insert(
                user,
                "post_destinations",
                json!({"post_id": post, "team_id": team, "connection_id": connection}),
            )
            .await;
        assert_eq!(status, 201, "{destination}");
        post
    }

    /// The id of what a 202 answer accepted.
    async fn accepted(env: &TestApp, user: &User, path: &str, body: Value) -> String {
        let (status, accepted, _) = env
            .send(
                env.http
                    .post(env.stack.url(path))
                    .bearer_auth(&user.token)
                    .json(&body),
            )
            .await;
        assert_eq!(status, 202, "{path}: {accepted}");
        accepted["id"].as_str().unwrap().to_owned()
    }

    /// The id an API parameter or field names (`teamId`, `x-team-id`, ...).
    fn id_for(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase().replace(['_', '-'], "");
        let id = match () {
            () if name.ends_with("teamid") => &self.team,
            () if name.ends_with("campaignid") => &self.campaign,
            () if name.ends_with("connectionid") => &self.connection,
            () if name.ends_with("postid") => &self.post,
            () if name.ends_with("jobid") => &self.job,
            () if name.ends_with("batchid") => &self.batch,
            () => return None,
        };
        Some(id)
    }

    fn ids(&self) -> Vec<String> {
        [
            &self.user.id,
            &self.team,
            &self.campaign,
            &self.connection,
            &self.post,
            &self.job,
            &self.batch,
        ]
        .map(String::clone)
        .to_vec()
    }
}

/// `Authorization` values: the good ones and those that must be refused.
struct Credentials {
    user: String,
    cron: String,
    /// Unsigned, forged, expired or simply not a user's access token.
    refused_user: Vec<(&'static str, Vec<u8>)>,
    /// Anything but the cron secret.
    refused_cron: Vec<(&'static str, Vec<u8>)>,
    /// Validly signed, with claims a careless parser trips on; any 4xx (or 2xx) will do.
    odd_user: Vec<(&'static str, Vec<u8>)>,
}

impl Credentials {
    fn new(env: &TestApp, user: &User) -> Self {
        let stack = &env.stack;
        let secret = std::env::var("E2E_CRON_SECRET").expect("E2E_CRON_SECRET");
        let bearer = |token: &str| format!("Bearer {token}").into_bytes();
        let parts: Vec<&str> = user.token.split('.').collect();
        let claims = parts[1];
        // The first character: all its bits are the signature's (the last one's are partly padding).
        let mut tampered = parts[2].to_owned();
        let first = if tampered.starts_with('A') { "B" } else { "A" };
        tampered.replace_range(..1, first);
        let signed =
            |claims: Value, ttl: i64| bearer(&stack.keys.sign(Signing::Es256, claims, ttl));
        let user_claims = |sub: Value| json!({"iss": stack.issuer(), "sub": sub, "aud": "authenticated", "role": "authenticated"});
        let expired = stack
            .keys
            .sign(Signing::Es256, user_claims(json!(user.id)), -3600);
        let other_issuer = json!({"iss": "https://evil.example/auth/v1", "sub": user.id,
                                  "aud": "authenticated", "role": "authenticated"});
        let garbage: Vec<(&'static str, Vec<u8>)> = vec![
            ("no Authorization", Vec::new()),
            ("a bare Bearer", b"Bearer".to_vec()),
            ("a garbage token", bearer("garbage")),
            ("Basic credentials", b"Basic YWxpY2U6cGFzc3dvcmQ=".to_vec()),
            ("an empty three-part token", bearer("..")),
            ("an 8 KB token", bearer(&"a".repeat(8000))),
            ("a non-ASCII token", b"Bearer \xff\xfe\xfd".to_vec()),
        ];
        let refused_user = garbage
            .iter()
            .cloned()
            .chain([
                (
                    "an unsigned alg=none token",
                    bearer(&format!("{ALG_NONE_HEADER}.{claims}.")),
                ),
                (
                    "a tampered signature",
                    bearer(&format!("{}.{claims}.{tampered}", parts[0])),
                ),
                (
                    "an ES256 signature relabelled HS256",
                    bearer(&format!("{HS256_HEADER}.{claims}.{}", parts[2])),
                ),
                ("an expired token", bearer(&expired)),
                ("a token of another issuer", signed(other_issuer, 3600)),
                ("the anon key", bearer(&stack.keys.anon_key())),
                (
                    "the service role key",
                    bearer(&stack.keys.service_role_key()),
                ),
                ("the cron secret", bearer(&secret)),
            ])
            .collect();
        let refused_cron = garbage
            .into_iter()
            .chain([
                ("a user's token", bearer(&user.token)),
                (
                    "the service role key",
                    bearer(&stack.keys.service_role_key()),
                ),
                (
                    "the cron secret with a suffix",
                    bearer(&format!("{secret}x")),
                ),
                (
                    "the cron secret without Bearer",
                    secret.clone().into_bytes(),
                ),
            ])
            .collect();
        let odd_user = vec![
            (
                "a signed token whose sub is no UUID",
                signed(user_claims(json!("../not-a-uuid")), 3600),
            ),
            (
                "a signed token without sub",
                signed(
                    json!({"iss": stack.issuer(), "aud": "authenticated", "role": "authenticated"}),
                    3600,
                ),
            ),
            (
                "a signed token whose sub is a number",
                signed(user_claims(json!(1e300)), 3600),
            ),
            (
                "a signed token whose sub has a NUL",
                signed(user_claims(json!("a\u{0}b")), 3600),
            ),
            (
                "a signed token of a user who does not exist",
                signed(user_claims(json!(MISSING_ID)), 3600),
            ),
        ];
        Self {
            user: format!("Bearer {}", user.token),
            cron: format!("Bearer {secret}"),
            refused_user,
            refused_cron,
            odd_user,
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Security {
    Public,
    User,
    Cron,
}

/// One method of one path in the document.
struct Operation {
    method: Method,
    template: String,
    spec: Value,
    security: Security,
}

impl Operation {
    fn all(document: &Value) -> Vec<Self> {
        let paths = document["paths"].as_object().expect("paths");
        let operations: Vec<Self> = paths
            .iter()
            .flat_map(|(template, item)| {
                item.as_object()
                    .expect("a path item")
                    .iter()
                    .filter(|(method, _)| HTTP_METHODS.contains(&method.as_str()))
                    .map(|(method, spec)| {
                        let method = method.to_ascii_uppercase();
                        Self {
                            method: Method::from_bytes(method.as_bytes()).unwrap(),
                            template: template.clone(),
                            security: Self::security(spec),
                            spec: spec.clone(),
                        }
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        assert!(operations.len() > 10, "the document lists the operations");
        operations
    }

    fn security(spec: &Value) -> Security {
        let schemes: Vec<&str> = spec["security"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|requirement| requirement.as_object())
            .flat_map(|requirement| requirement.keys().map(String::as_str))
            .collect();
        match () {
            () if schemes.contains(&"cronSecret") => Security::Cron,
            () if schemes.contains(&"bearerAuth") => Security::User,
            () => Security::Public,
        }
    }

    fn label(&self) -> String {
        format!("{} {}", self.method, self.template)
    }

    fn parameters<'a>(&'a self, document: &'a Value) -> Vec<Parameter<'a>> {
        self.spec["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|parameter| {
                let parameter = resolve(document, parameter);
                Parameter {
                    name: parameter["name"].as_str().expect("a parameter name"),
                    location: parameter["in"].as_str().expect("a parameter location"),
                    required: parameter["required"] == json!(true),
                    schema: resolve(document, &parameter["schema"]),
                }
            })
            .collect()
    }

    fn body_schema<'a>(&'a self, document: &'a Value) -> Option<&'a Value> {
        let schema = &self.spec["requestBody"]["content"]["application/json"]["schema"];
        (!schema.is_null()).then(|| resolve(document, schema))
    }

    fn documents_redirects(&self) -> bool {
        self.spec["responses"]
            .as_object()
            .is_some_and(|responses| responses.keys().any(|status| status.starts_with('3')))
    }

    /// A request the operation would accept from `owner` on their own objects.
    fn base_call(&self, document: &Value, owner: &Owned, credentials: &Credentials) -> Call {
        let mut call = Call::default();
        for parameter in self.parameters(document) {
            let value = parameter.valid_value(document, owner);
            match parameter.location {
                "path" => call.path.push((parameter.name.to_owned(), value)),
                "query" if parameter.required => call.set_query(parameter.name, &value),
                _ => {}
            }
        }
        let authorization = match self.security {
            Security::Public => None,
            Security::User => Some(&credentials.user),
            Security::Cron => Some(&credentials.cron),
        };
        if let Some(authorization) = authorization {
            call.set_header("authorization", authorization.as_bytes().to_vec());
        }
        if let Some(schema) = self.body_schema(document) {
            call.set_json_body(&example(document, schema, "", owner));
        }
        call
    }
}

struct Parameter<'a> {
    name: &'a str,
    location: &'a str,
    required: bool,
    schema: &'a Value,
}

impl Parameter<'_> {
    /// Percent-encoded, ready for a path or a query.
    fn valid_value(&self, document: &Value, owner: &Owned) -> String {
        let value = match (owner.id_for(self.name), self.name) {
            (Some(id), _) => id.to_owned(),
            (None, "platform") => "x".to_owned(),
            (None, "redirectTo") => e2e::social::RETURN_TO.to_owned(),
            _ => match example(document, self.schema, self.name, owner) {
                Value::String(text) => text,
                other => other.to_string(),
            },
        };
        encode(&value)
    }
}

fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let target = document.pointer(reference.trim_start_matches('#'));
            resolve(document, target.expect("a $ref into the document"))
        }
        None => schema,
    }
}

/// The JSON type a schema describes (the first non-null one of a type list).
fn schema_type(schema: &Value) -> &str {
    let declared = match &schema["type"] {
        Value::String(kind) => Some(kind.as_str()),
        Value::Array(kinds) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|k| *k != "null"),
        _ => None,
    };
    let example = schema.get("const").or(schema["enum"].get(0));
    match (declared, example) {
        (Some(kind), _) => kind,
        (None, Some(Value::String(_))) => "string",
        (None, Some(Value::Number(_))) => "number",
        (None, Some(Value::Bool(_))) => "boolean",
        _ if schema.get("properties").is_some() => "object",
        _ if schema.get("oneOf").is_some() || schema.get("anyOf").is_some() => "oneOf",
        _ => "any",
    }
}

/// A value valid for `schema`, with `owner`'s ids where a field names one.
fn example(document: &Value, schema: &Value, name: &str, owner: &Owned) -> Value {
    let schema = resolve(document, schema);
    if let Some(value) = schema.get("const").or(schema["enum"].get(0)) {
        return value.clone();
    }
    match schema_type(schema) {
        "object" => {
            let required = schema["required"].as_array().cloned().unwrap_or_default();
            let fields = required.iter().filter_map(Value::as_str).map(|field| {
                let field_schema = &schema["properties"][field];
                (
                    field.to_owned(),
                    example(document, field_schema, field, owner),
                )
            });
            Value::Object(fields.collect())
        }
        "array" => json!([example(document, &schema["items"], name, owner)]),
        "integer" | "number" => schema.get("minimum").cloned().unwrap_or(json!(1)),
        "boolean" => json!(false),
        "oneOf" => {
            let first = schema
                .get("oneOf")
                .or(schema.get("anyOf"))
                .and_then(|o| o.get(0));
            example(document, first.unwrap_or(&Value::Null), name, owner)
        }
        _ => json!(match schema["format"].as_str() {
            Some("uuid") => owner.id_for(name).unwrap_or(MISSING_ID).to_owned(),
            Some("date-time") => "2030-01-01T09:00:00Z".to_owned(),
            Some("email") => format!("{}@example.com", unique("abuse")),
            Some("uri") => "https://example.com/abuse".to_owned(),
            _ => "abuse probe".to_owned(),
        }),
    }
}

/// A request before it is sent: values are percent-encoded already, so hostile ones (`%00`,
/// `%FF`) reach the worker exactly as written.
#[derive(Clone, Default)]
struct Call {
    path: Vec<(String, String)>,
    query: Vec<(String, String)>,
    headers: Vec<(String, Vec<u8>)>,
    body: Option<Cow<'static, [u8]>>,
}

impl Call {
    fn set_path(&mut self, name: &str, value: &str) {
        for (key, old) in &mut self.path {
            if key == name {
                *old = value.to_owned();
            }
        }
    }

    fn set_query(&mut self, name: &str, value: &str) {
        self.query.retain(|(key, _)| key != name);
        self.query.push((name.to_owned(), value.to_owned()));
    }

    fn set_header(&mut self, name: &str, value: Vec<u8>) {
        self.headers.retain(|(key, _)| key != name);
        if !value.is_empty() {
            self.headers.push((name.to_owned(), value));
        }
    }

    fn set_json_body(&mut self, body: &Value) {
        self.set_body(body.to_string().into_bytes(), "application/json");
    }

    fn set_body(&mut self, body: impl Into<Cow<'static, [u8]>>, content_type: &str) {
        self.set_header("content-type", content_type.as_bytes().to_vec());
        self.body = Some(body.into());
    }

    fn json_body(&self) -> Value {
        self.body
            .as_deref()
            .and_then(|body| serde_json::from_slice(body).ok())
            .unwrap_or(json!({}))
    }

    fn target(&self, template: &str) -> String {
        let mut path = template.to_owned();
        for (name, value) in &self.path {
            path = path.replace(&format!("{{{name}}}"), value);
        }
        let query: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        match query.is_empty() {
            true => path,
            false => format!("{path}?{}", query.join("&")),
        }
    }
}

/// What a 2xx answer to a probe would mean.
#[derive(Clone, Copy, PartialEq)]
enum OnSuccess {
    Fine,
    /// The probe must be refused (a bad credential, or acting on another user's object).
    Violation,
    /// Allowed, as long as nothing of the other user comes back.
    NoLeak,
}

struct Probe {
    operation: String,
    kind: String,
    method: Method,
    /// Path and query.
    target: String,
    call: Call,
    on_success: OnSuccess,
    redirects_documented: bool,
}

impl Probe {
    /// The contract violation of this probe, if any.
    async fn run(
        mut self,
        client: &reqwest::Client,
        worker: &str,
        victim: &[String],
    ) -> Option<String> {
        let url = format!("{worker}{}", self.target);
        let mut request = client.request(self.method.clone(), url);
        for (name, value) in &self.call.headers {
            request = request.header(name.as_str(), value.as_slice());
        }
        if let Some(body) = self.call.body.take() {
            request = request.body(match body {
                Cow::Borrowed(bytes) => reqwest::Body::from(bytes),
                Cow::Owned(bytes) => reqwest::Body::from(bytes),
            });
        }
        let response = match e2e::try_send(request).await {
            Ok(response) => response,
            Err(error) => return Some(self.violation("no answer", &error.to_string())),
        };
        let status = response.status();
        let location = response.headers().contains_key("location");
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(error) => {
                return Some(self.violation(&format!("{status}, body cut off"), &error.to_string()))
            }
        };
        let problem = match status.as_u16() {
            502 if is_unscripted_model_answer(&body) => None,
            500.. => Some("server error"),
            400.. if !is_error_envelope(&body) => Some("not the error envelope"),
            300..=399 if !(self.redirects_documented && location) => {
                Some("an undocumented redirect")
            }
            200..=299 if self.on_success == OnSuccess::Violation => Some("accepted"),
            200..=299 if self.on_success == OnSuccess::NoLeak && self.leaks(&body, victim) => {
                Some("another user's data in the answer")
            }
            _ => None,
        };
        problem.map(|problem| {
            self.violation(
                &format!("{} {problem}", status.as_u16()),
                &String::from_utf8_lossy(&body),
            )
        })
    }

    fn leaks(&self, body: &[u8], victim: &[String]) -> bool {
        let body = String::from_utf8_lossy(body);
        let sent = |id: &str| self.target.contains(id);
        victim
            .iter()
            .any(|id| body.contains(id.as_str()) && !sent(id))
    }

    fn violation(&self, outcome: &str, body: &str) -> String {
        format!(
            "{} | {} | {outcome} | {}",
            self.operation,
            self.kind,
            excerpt(body.as_bytes())
        )
    }
}

/// The provider fakes answer a prompt nobody scripted with `{"echo": …}`, which the structured
/// assistants rightly refuse as the model's failure: 502 `invalid_model_output`, as documented.
fn is_unscripted_model_answer(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .is_ok_and(|body| body["error"]["code"] == "invalid_model_output")
}

fn is_error_envelope(body: &[u8]) -> bool {
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    let snake_case = |code: &str| {
        code.starts_with(|c: char| c.is_ascii_lowercase())
            && code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    body["error"]["code"].as_str().is_some_and(snake_case) && body["error"]["message"].is_string()
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text: String = text.chars().take(160).collect();
    text.replace('\n', " ")
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// Malformed values for any id, date, number or name in a path, query or header (encoded).
fn malformed_values() -> Vec<(&'static str, String)> {
    vec![
        ("an empty value", String::new()),
        ("a non-UUID", "not-a-uuid".to_owned()),
        (
            "a UUID with a bad digit",
            "00000000-0000-4000-8000-00000000000g".to_owned(),
        ),
        ("an impossible date", "2026-13-45".to_owned()),
        ("an impossible time", "2026-02-30T25%3A61%3A00Z".to_owned()),
        ("a negative number", "-1".to_owned()),
        ("1e400", "1e400".to_owned()),
        ("2^64", "18446744073709551616".to_owned()),
        ("a path traversal", "..%2F..%2Fetc%2Fpasswd".to_owned()),
        ("a NUL byte", "a%00b".to_owned()),
        ("invalid UTF-8", "%FF%FE".to_owned()),
        ("SQL", "%27%20or%201%3D1--".to_owned()),
        ("an 8 KB value", "a".repeat(8000)),
    ]
}

/// A 20 MB JSON object, built once and shared by every probe that sends it.
fn oversized_body() -> &'static [u8] {
    static BODY: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BODY.get_or_init(|| {
        let mut body = b"{\"prompt\":\"".to_vec();
        body.resize(OVERSIZED_BODY, b'a');
        body.extend_from_slice(b"\"}");
        body
    })
}

/// Builds the probes of one operation.
struct Probes<'a> {
    operation: &'a Operation,
    document: &'a Value,
    base: Call,
    victim: &'a Owned,
    credentials: &'a Credentials,
}

impl Probes<'_> {
    fn all(&self) -> Vec<Probe> {
        let mut probes = self.credential_probes();
        probes.extend(self.parameter_probes());
        if self.operation.method != Method::GET {
            probes.extend(self.raw_body_probes());
            probes.extend(self.field_probes());
        }
        probes
    }

    fn probe(&self, kind: String, call: Call, on_success: OnSuccess) -> Probe {
        Probe {
            operation: self.operation.label(),
            kind,
            method: self.operation.method.clone(),
            target: call.target(&self.operation.template),
            call,
            on_success,
            redirects_documented: self.operation.documents_redirects(),
        }
    }

    fn credential_probes(&self) -> Vec<Probe> {
        let (refused, odd): (&[_], &[_]) = match self.operation.security {
            Security::Public => return Vec::new(),
            Security::User => (&self.credentials.refused_user, &self.credentials.odd_user),
            Security::Cron => (&self.credentials.refused_cron, &[]),
        };
        let with = |(label, authorization): &(&str, Vec<u8>), on_success| {
            let mut call = self.base.clone();
            call.set_header("authorization", authorization.clone());
            self.probe(format!("authorization: {label}"), call, on_success)
        };
        let refused = refused.iter().map(|c| with(c, OnSuccess::Violation));
        refused
            .chain(odd.iter().map(|c| with(c, OnSuccess::NoLeak)))
            .collect()
    }

    /// Each path, query and header parameter: malformed, missing (the id of nothing) and another
    /// user's; each required query parameter left out.
    fn parameter_probes(&self) -> Vec<Probe> {
        let mut probes = Vec::new();
        for parameter in self.operation.parameters(self.document) {
            let (name, location) = (parameter.name, parameter.location);
            let mut values = malformed_values();
            values.push(("the id of nothing", MISSING_ID.to_owned()));
            if name == "platform" {
                values.push(("an unknown platform", "myspace".to_owned()));
            }
            for (label, value) in values {
                let call = self.with_parameter(location, name, value);
                let kind = format!("{location} {name}: {label}");
                probes.push(self.probe(kind, call, OnSuccess::Fine));
            }
            if let Some(foreign) = self.foreign_parameter(location, name) {
                probes.push(foreign);
            }
            if location == "query" && parameter.required {
                let mut call = self.base.clone();
                call.query.retain(|(key, _)| key != name);
                probes.push(self.probe(format!("query {name}: left out"), call, OnSuccess::Fine));
            }
        }
        probes
    }

    fn with_parameter(&self, location: &str, name: &str, value: String) -> Call {
        let mut call = self.base.clone();
        match location {
            "path" => call.set_path(name, &value),
            "query" => call.set_query(name, &value),
            _ => call.set_header(&name.to_ascii_lowercase(), value.into_bytes()),
        }
        call
    }

    /// Another user's object named where the caller's own would be. Cron callers are trusted
    /// with every id.
    fn foreign_parameter(&self, location: &str, name: &str) -> Option<Probe> {
        let foreign = self.victim.id_for(name)?;
        let filter = self.operation.method == Method::GET
            && (location == "path" || LIST_FILTERS.contains(&name));
        let on_success = match (self.operation.security, filter) {
            (Security::Cron, _) => return None,
            (_, true) => OnSuccess::NoLeak,
            (_, false) => OnSuccess::Violation,
        };
        let call = self.with_parameter(location, name, foreign.to_owned());
        let kind = format!("{location} {name}: another user's");
        Some(self.probe(kind, call, on_success))
    }

    /// Bodies that are not the JSON the operation reads, whether or not it reads one.
    fn raw_body_probes(&self) -> Vec<Probe> {
        let valid = self.base.json_body().to_string().into_bytes();
        let invalid_utf8 = invalid_utf8(&self.base.json_body());
        let with_nul = [&valid[..1], b"\0", &valid[1..]].concat();
        let nested_in_field = {
            let mut body = self.base.json_body();
            let field = first_field(&body).unwrap_or_else(|| "prompt".to_owned());
            body[&field] = json!("\u{1}");
            let deep = format!("{}{}", "[".repeat(NESTING_DEPTH), "]".repeat(NESTING_DEPTH));
            body.to_string().replace("\"\\u0001\"", &deep).into_bytes()
        };
        let bodies: Vec<(&str, Cow<'static, [u8]>, &str)> = vec![
            (
                "invalid JSON",
                b"{\"prompt\": nope}".to_vec().into(),
                "application/json",
            ),
            (
                "truncated JSON",
                valid[..valid.len() / 2].to_vec().into(),
                "application/json",
            ),
            ("invalid UTF-8", invalid_utf8.into(), "application/json"),
            ("a raw NUL byte", with_nul.into(), "application/json"),
            ("an empty body", Vec::new().into(), "application/json"),
            ("JSON null", b"null".to_vec().into(), "application/json"),
            ("a JSON array", b"[]".to_vec().into(), "application/json"),
            (
                "a JSON string",
                b"\"abuse\"".to_vec().into(),
                "application/json",
            ),
            (
                "10,000 unclosed [",
                "[".repeat(NESTING_DEPTH).into_bytes().into(),
                "application/json",
            ),
            (
                "10,000 nested arrays",
                format!("{}{}", "[".repeat(NESTING_DEPTH), "]".repeat(NESTING_DEPTH))
                    .into_bytes()
                    .into(),
                "application/json",
            ),
            (
                "10,000 nested objects",
                format!(
                    "{}1{}",
                    "{\"a\":".repeat(NESTING_DEPTH),
                    "}".repeat(NESTING_DEPTH)
                )
                .into_bytes()
                .into(),
                "application/json",
            ),
            (
                "10,000 nested arrays in a field",
                nested_in_field.into(),
                "application/json",
            ),
            (
                "valid JSON labelled text/plain",
                valid.clone().into(),
                "text/plain",
            ),
            (
                "valid JSON labelled form data",
                valid.into(),
                "application/x-www-form-urlencoded",
            ),
            (
                "a 20 MB body",
                Cow::Borrowed(oversized_body()),
                "application/json",
            ),
        ];
        bodies
            .into_iter()
            .map(|(label, body, content_type)| {
                let mut call = self.base.clone();
                call.set_body(body, content_type);
                self.probe(format!("body: {label}"), call, OnSuccess::Fine)
            })
            .collect()
    }

    /// Each documented top-level field: the wrong type, left out, and values at and beyond
    /// every bound; ids of another user's objects.
    fn field_probes(&self) -> Vec<Probe> {
        let Some(schema) = self.operation.body_schema(self.document) else {
            return Vec::new();
        };
        let properties = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut probes = Vec::new();
        for (field, field_schema) in &properties {
            let field_schema = resolve(self.document, field_schema);
            for (label, value) in hostile_field_values(field_schema) {
                probes.push(self.field_probe(field, label, Some(value), OnSuccess::Fine));
            }
            let required = schema["required"]
                .as_array()
                .is_some_and(|r| r.contains(&json!(field)));
            if required {
                probes.push(self.field_probe(field, "left out", None, OnSuccess::Fine));
            }
            let foreign = self
                .victim
                .id_for(field)
                .filter(|_| field_schema["format"] == "uuid");
            if let (Some(foreign), true) = (foreign, self.operation.security == Security::User) {
                let value = Some(json!(foreign));
                probes.push(self.field_probe(field, "another user's", value, OnSuccess::Violation));
            }
        }
        probes
    }

    fn field_probe(
        &self,
        field: &str,
        label: &str,
        value: Option<Value>,
        on_success: OnSuccess,
    ) -> Probe {
        let mut body = self.base.json_body();
        match value {
            Some(value) => body[field] = value,
            None => {
                body.as_object_mut().map(|fields| fields.remove(field));
            }
        }
        let mut call = self.base.clone();
        call.set_json_body(&body);
        self.probe(format!("body {field}: {label}"), call, on_success)
    }
}

/// Values of the wrong type for a field, and values its type allows but no sane bound does.
fn hostile_field_values(schema: &Value) -> Vec<(&'static str, Value)> {
    let huge = "a".repeat(HUGE_STRING);
    let huge_numbers = || {
        let beyond_u64: Value = serde_json::from_str("18446744073709551616").unwrap();
        let beyond_f64 = serde_json::from_str("1e400").unwrap_or(json!(f64::MAX));
        vec![
            ("-1", json!(-1)),
            ("2^64", beyond_u64),
            ("1e400", beyond_f64),
            ("a fraction", json!(1.5)),
        ]
    };
    let mut values = match schema_type(schema) {
        "string" => vec![("a number", json!(12345)), ("an object", json!({"a": 1}))],
        "integer" | "number" => vec![("a string", json!("1")), ("an array", json!([1]))],
        "boolean" => vec![("a string", json!("true")), ("a number", json!(1))],
        "array" => vec![
            ("an object", json!({})),
            ("an array of numbers", json!([1, 2])),
        ],
        "object" => vec![("an array", json!([])), ("a string", json!("x"))],
        _ => vec![("an object", json!({"a": 1})), ("a number", json!(12345))],
    };
    match schema_type(schema) {
        "string" => {
            values.push(("a 1 MB string", json!(huge)));
            values.push(("a NUL byte", json!("a\u{0}b")));
            values.push(("an empty string", json!("")));
            match schema["format"].as_str() {
                Some("date-time") => {
                    values.push(("an impossible date", json!("2026-13-45T25:61:00Z")))
                }
                Some("uuid") => values.push(("a non-UUID", json!("../not-a-uuid"))),
                _ => {}
            }
            if schema.get("enum").is_some() {
                values.push(("not one of the values", json!("garbage")));
            }
        }
        "integer" | "number" => values.extend(huge_numbers()),
        "array" => values.push(("100,000 items", json!(vec![Value::Null; 100_000]))),
        _ => {}
    }
    values
}

/// `body` with its strings (or, without any, a key) made of bytes that are not UTF-8.
fn invalid_utf8(body: &Value) -> Vec<u8> {
    const MARK: &str = "\"\\u0001\"";
    let marked = replace_strings(body, &json!("\u{1}")).to_string();
    let text = match marked.contains(MARK) {
        true => marked,
        false => format!("{{{MARK}:1}}"),
    };
    text.replace(MARK, "\"\u{1}\"")
        .bytes()
        .flat_map(|byte| match byte {
            1 => vec![0xC3, 0x28, 0xFF],
            other => vec![other],
        })
        .collect()
}

fn first_field(body: &Value) -> Option<String> {
    body.as_object()?.keys().next().cloned()
}

/// `value` with every string in it replaced by `with`.
fn replace_strings(value: &Value, with: &Value) -> Value {
    match value {
        Value::String(_) => with.clone(),
        Value::Array(items) => {
            Value::Array(items.iter().map(|i| replace_strings(i, with)).collect())
        }
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), replace_strings(v, with)))
                .collect(),
        ),
        other => other.clone(),
    }
}
