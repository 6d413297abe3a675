//! `cargo xtask bench`: size and speed, measured side by side in one run and printed as a table.
//! Numbers are reported, never asserted: a slow CI machine must not fail the build.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Result;
use flate2::write::GzEncoder;
use flate2::Compression;

use devstack::DevUser;

use crate::stack::{Mode, Ports, Stack};
use crate::workerd::{Code, Outbound};
use crate::{install, repo_root, worker};

mod realtime;

struct Row {
    metric: String,
    value: String,
    reference: String,
    ratio: String,
    target: &'static str,
}

impl Row {
    /// A figure shown for scale beside the targets: no ratio, no target.
    fn for_scale(metric: impl Into<String>, value: String, reference: impl Into<String>) -> Row {
        Row {
            metric: metric.into(),
            value,
            reference: reference.into(),
            ratio: "-".into(),
            target: "-",
        }
    }
}

/// Every section, in the order they run.
const SECTIONS: [&str; 9] = [
    "size",
    "healthz",
    "rls",
    "realtime",
    "ai",
    "content",
    "credits",
    "publishing",
    "warm-start",
];

/// Runs the named sections (all when none is named).
pub async fn run(sections: &[&str]) -> Result<()> {
    if let Some(unknown) = sections.iter().find(|name| !SECTIONS.contains(name)) {
        anyhow::bail!(
            "unknown bench section {unknown:?}; sections: {}",
            SECTIONS.join(" ")
        );
    }
    let wanted = |name: &str| sections.is_empty() || sections.contains(&name);
    install::ensure_all()?;
    let mut rows = Vec::new();

    worker::build(true)?;
    if wanted("size") {
        rows.push(wasm_size()?);
    }
    // The module's size needs no stack, and warm-start starts its own.
    let on_stack = |section: &str| !matches!(section, "size" | "warm-start");
    if SECTIONS
        .iter()
        .any(|section| on_stack(section) && wanted(section))
    {
        rows.extend(on_a_stack(&wanted).await?);
    }
    if wanted("warm-start") {
        rows.push(warm_start().await?);
    }
    print_table(&rows);
    Ok(())
}

/// The sections measured on a throwaway stack.
async fn on_a_stack(wanted: &dyn Fn(&str) -> bool) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    let stack = Stack::start(Mode::Throwaway { name: "benchstack" }, Ports::free()?).await?;
    let client = reqwest::Client::new();
    // The worker as Cloudflare runs it, for the latency rows (see `workerd`).
    let deployed = if wanted("healthz") || wanted("ai") {
        Some(
            stack
                .bare_workerd("bare-workerd", Code::Built, None)
                .await?,
        )
    } else {
        None
    };
    let deployed_url = deployed.as_ref().map_or("", |workerd| workerd.url.as_str());
    if wanted("healthz") {
        rows.extend(healthz(&stack, deployed_url, &client).await?);
    }
    if wanted("rls") {
        rows.extend(rls_team_list(&stack, &client).await?);
    }
    if wanted("realtime") {
        rows.extend(realtime::fan_out(&stack).await?);
    }
    if wanted("ai") {
        rows.extend(ai_proxy(&stack, deployed_url, &client).await?);
    }
    if wanted("content") {
        rows.push(content_batch(&stack, &client).await?);
    }
    if wanted("credits") {
        rows.extend(credit_rpc_throughput(&stack)?);
    }
    if wanted("publishing") {
        rows.extend(publishing(&stack, &client).await?);
    }
    drop(deployed);
    drop(stack);
    Ok(rows)
}

fn wasm_size() -> Result<Row> {
    let wasm = std::fs::read(worker::wasm_path())?;
    let mut gzip = GzEncoder::new(Vec::new(), Compression::best());
    gzip.write_all(&wasm)?;
    let gzipped = gzip.finish()?.len();
    Ok(Row {
        metric: "worker wasm size (wasm-opt -Oz, no name section)".into(),
        value: format!("{:.0} KiB raw", wasm.len() as f64 / 1024.0),
        reference: format!("{:.0} KiB gzip", gzipped as f64 / 1024.0),
        ratio: format!("{:.2}", gzipped as f64 / wasm.len() as f64),
        target: "gzip ≤ 1 MiB (free plan: 3 MiB)",
    })
}

/// A trivial request to the worker as deployed (workerd alone) against a native Rust server on
/// the same machine; wrangler's dev runtime and its proxy for scale.
async fn healthz(stack: &Stack, deployed: &str, client: &reqwest::Client) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    // Reference: a native Rust HTTP server on the same machine (the gateway's JWKS endpoint).
    let native_url = format!("{}/auth/v1/.well-known/jwks.json", stack.supabase_url());
    let worker_url = format!("{deployed}/healthz");
    let dev_runtime_url = format!("{}/healthz", stack.workerd_url()?);
    let proxy_url = format!("{}/healthz", stack.worker_url());
    let native = || client.get(&native_url);
    let worker = || client.get(&worker_url);
    let dev_runtime = || client.get(&dev_runtime_url);
    let proxied = || client.get(&proxy_url);
    let [native, worker, dev_runtime, proxied] = measure(
        Pace::Quiet,
        [
            &native as &dyn Fn() -> reqwest::RequestBuilder,
            &worker,
            &dev_runtime,
            &proxied,
        ],
    )
    .await?;
    for (label, pick) in [("p50", 0.50), ("p99", 0.99)] {
        let (w, n) = (worker.elapsed(pick), native.elapsed(pick));
        rows.push(Row {
            metric: format!("GET /healthz in workerd, {label}"),
            value: format!("{:.2} ms", ms(w)),
            reference: format!("{:.2} ms native", ms(n)),
            ratio: format!("{:.1}×", ms(w) / ms(n).max(0.001)),
            target: "p50 ≤ 2 ms, p99 ≤ 5 ms",
        });
    }
    for (what, samples) in [
        (
            "in wrangler's dev runtime (the tests' worker)",
            &dev_runtime,
        ),
        ("through wrangler's dev proxy", &proxied),
    ] {
        rows.push(Row::for_scale(
            format!("  the same {what}, not in production, p50"),
            format!("{:.2} ms", ms(samples.elapsed(0.5))),
            "-",
        ));
    }
    Ok(rows)
}

/// Issue 3's target: a team-scoped list as a member under RLS versus service_role with the
/// explicit filter, on 1,000,000 drafts across 10,000 teams. Measured twice: per statement inside
/// Postgres, and per request through the REST API as clients make it.
async fn rls_team_list(stack: &Stack, client: &reqwest::Client) -> Result<Vec<Row>> {
    const MEMBER: &str = "00000000-0000-4000-8000-000000000001";
    const TEAM: &str = "00000000-0000-4000-9000-000000000001";
    const TARGET: &str = "RLS ≤ 1.5× explicit";
    let script = repo_root().join("xtask/bench/rls_team_list.sql");
    let output = stack.postgres.psql_script(&script)?;
    let timings: Vec<f64> = output
        .lines()
        .last()
        .unwrap_or_default()
        .split('|')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    anyhow::ensure!(
        timings.len() == 5,
        "unexpected output of {}: {output}",
        script.display()
    );
    let mut rows = vec![
        Row {
            metric: "team list, 1M rows: per statement in Postgres, RLS".into(),
            value: format!("{:.3} ms", timings[0]),
            reference: format!("{:.3} ms explicit", timings[2]),
            ratio: format!("{:.2}×", timings[3]),
            target: TARGET,
        },
        Row {
            metric: "  same, RLS + team_id filter".into(),
            value: format!("{:.3} ms", timings[1]),
            reference: format!("{:.3} ms explicit", timings[2]),
            ratio: format!("{:.2}×", timings[4]),
            target: TARGET,
        },
    ];

    let rest = format!(
        "{}/rest/v1/content_drafts?select=id,title,created_at&order=created_at.desc&limit=50",
        stack.supabase_url()
    );
    let member_token = stack.user_token(&DevUser {
        id: MEMBER,
        email: "bench-1@bench.local",
    });
    let anon_key = stack.keys.anon_key();
    let service_key = stack.keys.service_role_key();
    let member = |url: String| {
        client
            .get(url)
            .header("apikey", &anon_key)
            .bearer_auth(&member_token)
    };
    let explicit = request_latencies(|| {
        client
            .get(format!("{rest}&team_id=eq.{TEAM}"))
            .header("apikey", &service_key)
            .bearer_auth(&service_key)
    })
    .await?;
    for (label, url) in [
        ("RLS", rest.clone()),
        ("RLS + team_id filter", format!("{rest}&team_id=eq.{TEAM}")),
    ] {
        let rls = request_latencies(|| member(url.clone())).await?;
        let (r, e) = (percentile(&rls, 0.5), percentile(&explicit, 0.5));
        rows.push(Row {
            metric: format!("team list, 1M rows: per REST request p50, {label}"),
            value: format!("{:.2} ms", ms(r)),
            reference: format!("{:.2} ms explicit", ms(e)),
            ratio: format!("{:.2}×", ms(r) / ms(e)),
            target: TARGET,
        });
    }
    Ok(rows)
}

/// Issue 4's targets: the latency the worker adds to a provider call, against the same fake
/// provider called directly, in the same run: with the credit round trips (reserve before the
/// call; settle goes after the response), and without them: a second instance of the same build
/// whose subrequests pass `instant_credits.js`, which answers the credit RPCs at once inside the
/// same workerd process (what is left of them is workerd's cost of a subrequest). Both are
/// measured as deployed, in workerd alone (`deployed`). For scale: the same work in plain
/// JavaScript behind the same stand-in, and a JavaScript worker that only relays the call (the
/// runtime's own cost of a proxied call); the call in wrangler's dev runtime. Measured twice:
/// each request after a pause (an idle machine: every hop wakes a core) and back to back (a busy
/// isolate: the settlement a call leaves running delays the next). Only differences of
/// percentiles are meaningful.
async fn ai_proxy(stack: &Stack, deployed: &str, client: &reqwest::Client) -> Result<Vec<Row>> {
    const USER: &str = "00000000-0000-4000-a000-000000000001";
    // The bench's own reservations go to another user's ledger than the worker's calls.
    const RPC_USER: &str = "00000000-0000-4000-a000-000000000003";
    stack
        .postgres
        .psql_script(&repo_root().join("xtask/bench/ai_credits_setup.sql"))?;
    let token = stack.user_token(&DevUser {
        id: USER,
        email: "ai-bench-1@bench.local",
    });
    // A reserve RPC as the worker sends it (REST through the gateway to PostgREST and Postgres):
    // made once for the worker's user, as the stand-in's answer, and measured for scale.
    let rpc_url = format!("{}/rest/v1/rpc/reserve_ai_credits", stack.supabase_url());
    let service_key = stack.keys.service_role_key();
    let reserve_for = |user_id| {
        client
            .post(&rpc_url)
            .header("apikey", &service_key)
            .bearer_auth(&service_key)
            .json(&serde_json::json!({
                "user_id": user_id, "endpoint": "bench", "capability": "text", "default_provider": "openai",
                "estimated_input_tokens": 2, "estimated_output_tokens": 2048, "estimated_images": 0,
            }))
    };
    let reservation = reserve_for(USER)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let instant_credits = Outbound {
        module: &repo_root().join("xtask/bench/instant_credits.js"),
        bindings: &[("RESERVATION", reservation)],
    };
    let reference_script = repo_root().join("xtask/bench/reference_worker.js");
    let instant = stack
        .bare_workerd("instant-credits", Code::Built, Some(&instant_credits))
        .await?;
    let reference = stack
        .bare_workerd(
            "reference-instant-credits",
            Code::Script(&reference_script),
            Some(&instant_credits),
        )
        .await?;
    let relay = stack
        .bare_workerd("reference-relay", Code::Script(&reference_script), None)
        .await?;
    let direct_url = format!(
        "http://127.0.0.1:{}/openai/v1/chat/completions",
        stack.ports.ai_fakes
    );
    let direct_body = serde_json::json!({
        "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "bench"}], "max_completion_tokens": 2048,
    });
    let generate = |url: String| {
        let token = token.clone();
        move || {
            client
                .post(&url)
                .bearer_auth(&token)
                .json(&serde_json::json!({"prompt": "bench"}))
        }
    };
    let proxied = generate(format!("{deployed}/v1/ai/generate-text"));
    let instant = generate(format!("{}/v1/ai/generate-text", instant.url));
    let reference = generate(format!("{}/v1/ai/generate-text", reference.url));
    let relay = generate(format!("{}/forward", relay.url));
    let dev_runtime = generate(format!("{}/v1/ai/generate-text", stack.workerd_url()?));
    let direct = || {
        client
            .post(&direct_url)
            .bearer_auth("platform-openai-key")
            .json(&direct_body)
    };
    let reserve = || reserve_for(RPC_USER);
    // workerd's floor: a request that does nothing.
    let healthz_url = format!("{deployed}/healthz");
    let floor = || client.get(&healthz_url);
    let [proxied, quiet_instant, quiet_reference, quiet_relay, quiet_direct, reserve, floor] =
        measure(
            Pace::Quiet,
            [
                &proxied as &dyn Fn() -> reqwest::RequestBuilder,
                &instant,
                &reference,
                &relay,
                &direct,
                &reserve,
                &floor,
            ],
        )
        .await?;
    let [busy_instant, busy_reference, busy_relay, busy_direct] = measure(
        Pace::BackToBack,
        [
            &instant as &dyn Fn() -> reqwest::RequestBuilder,
            &reference,
            &relay,
            &direct,
        ],
    )
    .await?;
    // Apart: wrangler's dev runtime logs each request in its own processes after answering,
    // work that would compete with the next measured request for this machine's two cores.
    let [dev_runtime] = measure(
        Pace::Quiet,
        [&dev_runtime as &dyn Fn() -> reqwest::RequestBuilder],
    )
    .await?;
    anyhow::ensure!(
        proxied.reserve.len() == proxied.elapsed.len(),
        "the worker's answers lack a reserve step in Server-Timing"
    );
    let mut rows = Vec::new();
    let over = |worker: &Samples, direct: &Samples, pick| {
        let (w, d) = (worker.elapsed(pick), direct.elapsed(pick));
        (w, d, w.saturating_sub(d))
    };
    for (what, worker, direct, targets) in [
        (
            "with reserve + settle, after a pause",
            &proxied,
            &quiet_direct,
            ["+ ≤ 5 ms", "-"],
        ),
        (
            "without the credit round trip, after a pause",
            &quiet_instant,
            &quiet_direct,
            ["+ ≤ 1 ms", "+ ≤ 3 ms"],
        ),
        (
            "without the credit round trip, back to back",
            &busy_instant,
            &busy_direct,
            ["+ ≤ 1 ms", "+ ≤ 3 ms"],
        ),
    ] {
        for ((label, pick), target) in [("p50", 0.50), ("p99", 0.99)].into_iter().zip(targets) {
            let (w, d, added) = over(worker, direct, pick);
            rows.push(Row {
                metric: format!("AI call through the worker {what}, {label}"),
                value: format!("{:.2} ms (+{:.2} ms)", ms(w), ms(added)),
                reference: format!("{:.2} ms direct", ms(d)),
                ratio: format!("{:.1}×", ms(w) / ms(d).max(0.001)),
                target,
            });
        }
    }
    for (what, quiet, busy) in [
        (
            "the same work in plain JavaScript (same stand-in)",
            &quiet_reference,
            &busy_reference,
        ),
        (
            "a JavaScript worker that only relays the call",
            &quiet_relay,
            &busy_relay,
        ),
    ] {
        let added = |samples, direct| {
            let (_, _, p50) = over(samples, direct, 0.50);
            let (_, _, p99) = over(samples, direct, 0.99);
            format!("p50 +{:.2} ms, p99 +{:.2} ms", ms(p50), ms(p99))
        };
        rows.push(Row::for_scale(
            format!("  for scale: {what}"),
            format!("{} after a pause", added(quiet, &quiet_direct)),
            format!("{} back to back", added(busy, &busy_direct)),
        ));
    }
    rows.push(Row::for_scale(
        "  for scale: the same call in wrangler's dev runtime (not in production), p50",
        format!("{:.2} ms", ms(dev_runtime.elapsed(0.50))),
        "-",
    ));
    rows.push(Row::for_scale(
        "  for scale: workerd's floor (GET /healthz), p50",
        format!("{:.2} ms", ms(floor.elapsed(0.50))),
        "-",
    ));
    rows.push(Row::for_scale(
        "  for scale: the worker's provider step (Server-Timing), mean",
        format!("{:.2} ms", mean_ms(&quiet_instant.provider)),
        format!(
            "{:.2} ms the provider called directly",
            mean_ms(&quiet_direct.elapsed)
        ),
    ));
    // What is left once workerd's floor and the wait on the provider are taken out, on average.
    let own = mean_ms(&quiet_instant.elapsed)
        - mean_ms(&floor.elapsed)
        - mean_ms(&quiet_instant.provider);
    rows.push(Row::for_scale(
        "  for scale: the worker's own work, credits answered at once (mean − floor − provider step)",
        format!("{own:.2} ms"),
        "token check, parsing, building, the credit subrequests, the response",
    ));
    rows.push(Row::for_scale(
        "  for scale: the worker's reserve step (Server-Timing), p50",
        format!("{:.2} ms", proxied.reserve_ms(0.50)),
        format!(
            "{:.2} ms one reserve RPC from here (gateway → PostgREST → Postgres)",
            ms(reserve.elapsed(0.50))
        ),
    ));
    Ok(rows)
}

/// A 100-post campaign batch (two text steps a post, each provider call held 100 ms by the
/// fake, as a model's latency) run by the worker at its default concurrency of 5: the wall time
/// from the request to the batch done, against the sum of its provider latencies. The ratio is
/// the parallelism achieved; 5× is the ceiling.
async fn content_batch(stack: &Stack, client: &reqwest::Client) -> Result<Row> {
    const USER: &str = "00000000-0000-4000-a000-000000000002";
    const TEAM: &str = "00000000-0000-4000-b000-000000000001";
    const CAMPAIGN: &str = "00000000-0000-4000-b000-000000000002";
    // The bench users and plan (idempotent), so this section also runs alone.
    stack
        .postgres
        .psql_script(&repo_root().join("xtask/bench/ai_credits_setup.sql"))?;
    stack.postgres.psql_command(&format!(
        "insert into public.teams (id, name, created_by) values ('{TEAM}', 'bench jobs', '{USER}');
         insert into public.team_members (team_id, user_id, role) values ('{TEAM}', '{USER}', 'owner');
         insert into public.ai_subjects (subject_id, plan) values ('{TEAM}', 'bench');
         insert into public.campaigns (id, team_id, name) values ('{CAMPAIGN}', '{TEAM}', 'bench');"
    ))?;
    let token = stack.user_token(&DevUser {
        id: USER,
        email: "ai-bench-2@bench.local",
    });
    let posts: Vec<_> = (0..100)
        .map(|i| serde_json::json!({"prompt": format!("bench post {i} [delay:100]")}))
        .collect();
    let started = Instant::now();
    let response = client
        .post(format!(
            "{}/v1/campaigns/{CAMPAIGN}/batches",
            stack.worker_url()
        ))
        .bearer_auth(&token)
        .json(
            &serde_json::json!({"posts": posts, "chain": [{"kind": "draft"}, {"kind": "refine"}]}),
        )
        .send()
        .await?;
    anyhow::ensure!(
        response.status() == 202,
        "batch answered {}",
        response.status()
    );
    let batch: serde_json::Value = response.json().await?;
    let id = batch["id"].as_str().unwrap_or_default().to_owned();
    let wall = loop {
        let progress: serde_json::Value = client
            .get(format!("{}/v1/batches/{id}", stack.worker_url()))
            .bearer_auth(&token)
            .send()
            .await?
            .json()
            .await?;
        if progress["state"] == "done" {
            anyhow::ensure!(progress["completed"] == 100, "posts failed: {progress}");
            break started.elapsed();
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(300),
            "the batch did not finish: {progress}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let provider_ms: f64 = stack
        .postgres
        .psql_command(&format!(
            "select sum(s.latency_ms) from public.content_job_steps as s \
             join public.content_jobs as j on j.id = s.job_id where j.batch_id = '{id}'"
        ))?
        .trim()
        .parse()?;
    Ok(Row {
        metric: "100-post batch (2 steps/post, 100 ms provider latency, concurrency 5)".into(),
        value: format!("{:.2} s wall", wall.as_secs_f64()),
        reference: format!("{:.2} s Σ provider latency", provider_ms / 1000.0),
        ratio: format!("{:.2}× parallel", provider_ms / 1000.0 / wall.as_secs_f64()),
        target: "→ 5× (the concurrency)",
    })
}

/// One request kind's latencies, sorted, and the worker's `reserve` and `provider` steps where
/// it reported them.
struct Samples {
    elapsed: Vec<Duration>,
    reserve: Vec<Duration>,
    provider: Vec<Duration>,
}

impl Samples {
    fn elapsed(&self, p: f64) -> Duration {
        percentile(&self.elapsed, p)
    }

    fn reserve_ms(&self, p: f64) -> f64 {
        ms(percentile(&self.reserve, p))
    }
}

/// The mean in ms. The worker's clock has millisecond steps, so its step durations are only
/// precise on average.
fn mean_ms(samples: &[Duration]) -> f64 {
    samples.iter().map(|d| ms(*d)).sum::<f64>() / samples.len().max(1) as f64
}

/// A step's duration in a `Server-Timing` header (`reserve;dur=2.0, …`).
fn timed_step(headers: &reqwest::header::HeaderMap, name: &str) -> Option<Duration> {
    let timing = headers.get("server-timing")?.to_str().ok()?;
    let millis: f64 = timing
        .split(", ")
        .find_map(|step| step.strip_prefix(name)?.strip_prefix(";dur="))?
        .parse()
        .ok()?;
    Some(Duration::from_secs_f64(millis / 1000.0))
}

/// How requests follow each other while measured.
#[derive(Clone, Copy)]
enum Pace {
    /// One request of each kind per round, each after a short pause: on two cores, the work a
    /// request leaves running after its answer (the worker's credit settlement, about one RPC)
    /// would otherwise slow whichever kind comes next.
    Quiet,
    /// Blocks of one kind's requests sent back to back, the kinds in turn, so that all see the
    /// same machine; a block's first requests are not counted (the previous kind's tail).
    BackToBack,
}

/// Latencies of each request kind, after 100 warm-up requests of each: 1,000 a kind.
async fn measure<const N: usize>(
    pace: Pace,
    requests: [&dyn Fn() -> reqwest::RequestBuilder; N],
) -> Result<[Samples; N]> {
    const QUIET: Duration = Duration::from_millis(5);
    const BLOCK: usize = 100;
    const BLOCK_WARM_UP: usize = 10;
    let mut samples: [Samples; N] = std::array::from_fn(|_| Samples {
        elapsed: Vec::with_capacity(1000),
        reserve: Vec::new(),
        provider: Vec::new(),
    });
    let (rounds, per_turn, pause) = match pace {
        Pace::Quiet => (1100, 1, Some(QUIET)),
        Pace::BackToBack => (11, BLOCK + BLOCK_WARM_UP, None),
    };
    for round in 0..rounds {
        for (request, samples) in requests.iter().zip(samples.iter_mut()) {
            for turn in 0..per_turn {
                if let Some(pause) = pause {
                    tokio::time::sleep(pause).await;
                }
                let started = Instant::now();
                let response = request().send().await?;
                anyhow::ensure!(
                    response.status().is_success(),
                    "answered {}",
                    response.status()
                );
                let reserve = timed_step(response.headers(), "reserve");
                let provider = timed_step(response.headers(), "provider");
                response.bytes().await?;
                let elapsed = started.elapsed();
                let warm = match pace {
                    Pace::Quiet => round >= 100,
                    Pace::BackToBack => round >= 1 && turn >= BLOCK_WARM_UP,
                };
                if warm {
                    samples.elapsed.push(elapsed);
                    samples.provider.extend(provider);
                    samples.reserve.extend(reserve);
                }
            }
        }
    }
    for kind in &mut samples {
        kind.elapsed.sort();
        kind.reserve.sort();
    }
    Ok(samples)
}

/// Reserve + settle pairs per second straight on local Postgres (pgbench, 5 s each): with two
/// clients per core, where the machine is saturated, and with 16, where 64 users' rows are
/// contended and the backends outnumber the cores eightfold.
fn credit_rpc_throughput(stack: &Stack) -> Result<Vec<Row>> {
    stack
        .postgres
        .psql_script(&repo_root().join("xtask/bench/ai_credits_setup.sql"))?;
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let mut rows = Vec::new();
    for (clients, target) in [(2 * cores, "≥ 2,000/s"), (16, "-")] {
        let report = pgbench(
            stack,
            "xtask/bench/ai_credits_pgbench.sql",
            &[
                &format!("--client={clients}"),
                &format!("--jobs={}", clients.min(4)),
                "--time=5",
            ],
        )?;
        let tps = pgbench_figure(&report, "tps = ")?;
        rows.push(Row {
            metric: format!("reserve + settle RPC pairs per second (Postgres, {clients} clients)"),
            value: format!("{tps:.0}/s"),
            reference: "-".into(),
            ratio: "-".into(),
            target,
        });
    }
    Ok(rows)
}

/// Runs a pgbench script (relative to the repository) against the stack's database.
fn pgbench(stack: &Stack, script: &str, options: &[&str]) -> Result<String> {
    let output = std::process::Command::new(format!("{}/pgbench", crate::postgres::BIN_DIR))
        .args(["--no-vacuum", "--host=127.0.0.1", "--username=postgres"])
        .args(options)
        .arg(format!("--port={}", stack.ports.postgres))
        .arg(format!("--file={}", repo_root().join(script).display()))
        .arg("postgres")
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "pgbench failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The first number after `prefix` in a pgbench report (`tps = `, `latency average = `).
fn pgbench_figure(report: &str, prefix: &str) -> Result<f64> {
    report
        .lines()
        .find_map(|line| line.strip_prefix(prefix))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|value| value.parse::<f64>().ok())
        .ok_or_else(|| anyhow::anyhow!("no {prefix:?} in pgbench's report: {report}"))
}

/// Issue 26's target: posts go out at their second, not at the next cron minute. `ON_TIME`
/// posts due at random instants over the coming minute, then the `publish-due-posts` job's
/// command run once as pg_cron runs it (the stack pauses the schedule, so nothing else would
/// publish them); lateness is each post's publication minus its scheduled time.
async fn publishing_on_time(
    db: &crate::postgres::Cluster,
    team: &str,
    connection: &str,
) -> Result<Row> {
    const ON_TIME: usize = 200;
    db.psql_command(&format!(
        "with posts as (insert into public.scheduled_posts (team_id, body, created_by, scheduled_at) \
           select '{team}', 'on time ' || n, '{team}', now() + interval '2 seconds' + random() * interval '58 seconds' \
           from generate_series(1, {ON_TIME}) as n returning id, scheduled_at) \
         insert into public.post_destinations (post_id, team_id, connection_id, status, next_attempt_at) \
         select id, '{team}', '{connection}', 'scheduled', scheduled_at from posts"
    ))?;
    let command =
        db.psql_command("select command from cron.job where jobname = 'publish-due-posts'")?;
    db.psql_command(command.trim())?;
    let lateness =
        "select d.published_at - p.scheduled_at as late from public.post_destinations as d \
         join public.scheduled_posts as p on p.id = d.post_id where p.body like 'on time %'";
    let started = Instant::now();
    let published = loop {
        let published: usize = db
            .psql_command(&format!("select count(late) from ({lateness}) as l"))?
            .trim()
            .parse()?;
        if published == ON_TIME || started.elapsed() > Duration::from_secs(120) {
            break published;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let figures = db.psql_command(&format!(
        "select round(extract(epoch from percentile_cont(0.5) within group (order by late))::numeric, 2) \
           || ' s / ' || round(extract(epoch from percentile_cont(0.99) within group (order by late))::numeric, 2) \
           || ' s' from ({lateness}) as l"
    ))?;
    Ok(Row {
        metric: format!("{ON_TIME} posts due at random seconds over a minute: lateness p50 / p99"),
        value: figures.trim().to_owned(),
        reference: format!("{published} of {ON_TIME} published by one cron run's wake-ups"),
        ratio: "-".into(),
        target: "p99 ≤ 5 s",
    })
}

/// Issue 7's targets: 10,000 due destinations drained by 4 concurrent dispatchers (cron calls
/// to the worker) against the Facebook Pages fake; posts per second and duplicates at the platform; then the
/// claim's time with 1,000,000 destinations in the table.
async fn publishing(stack: &Stack, client: &reqwest::Client) -> Result<Vec<Row>> {
    const OWNER: &str = "00000000-0000-4000-c000-000000000001";
    const DUE: usize = 10_000;
    let db = &stack.postgres;
    db.psql_command(&format!(
        "insert into auth.users (instance_id, id, aud, role, email, email_confirmed_at, raw_app_meta_data, \
           raw_user_meta_data, created_at, updated_at) \
         values ('00000000-0000-0000-0000-000000000000', '{OWNER}', 'authenticated', 'authenticated', \
           'publish-bench@bench.local', now(), '{{}}', '{{}}', now(), now()) on conflict do nothing; \
         insert into public.teams (id, name, member_cap, created_by) \
         values ('{OWNER}', 'Publishing bench', 10, '{OWNER}') on conflict do nothing; \
         insert into public.team_members (team_id, user_id, role) values ('{OWNER}', '{OWNER}', 'owner') \
         on conflict do nothing"
    ))?;
    let token = stack.user_token(&DevUser {
        id: OWNER,
        email: "publish-bench@bench.local",
    });
    // A Facebook Page: X's cap (100 posts per 15 minutes) would hold most of them back.
    let connection = connect_account(stack, &token, OWNER, "facebook", "publish-bench").await?;
    db.psql_command(&format!(
        "with posts as (insert into public.scheduled_posts (team_id, body, created_by) \
           select '{OWNER}', 'bench post ' || n, '{OWNER}' from generate_series(1, {DUE}) as n returning id) \
         insert into public.post_destinations (post_id, team_id, connection_id, status, next_attempt_at) \
         select id, '{OWNER}', '{connection}', 'scheduled', now() from posts"
    ))?;
    // Called at workerd's own socket, as pg_net calls the deployed worker (no dev proxy).
    let cron = format!("{}/v1/cron/publish", stack.workerd_url()?);
    // Drained for at most DRAIN_BUDGET: the rate is what counts, and the local dev server is slow.
    const DRAIN_BUDGET: Duration = Duration::from_secs(120);
    let started = Instant::now();
    let mut dropped_calls = 0;
    while started.elapsed() < DRAIN_BUDGET {
        let dispatchers = (0..4).map(|_| {
            client
                .post(&cron)
                .bearer_auth(crate::stack::LOCAL_CRON_SECRET)
                .send()
        });
        for answer in futures::future::join_all(dispatchers).await {
            // A dropped call's leases expire and its work is claimed again.
            if !answer.is_ok_and(|answer| answer.status().is_success()) {
                dropped_calls += 1;
            }
        }
        let left = db.psql_command(
            "select count(*) from public.post_destinations where status in ('scheduled', 'publishing')",
        )?;
        if left.trim() == "0" {
            break;
        }
    }
    let drained = started.elapsed();
    let published: usize = db
        .psql_command("select count(*) from public.post_destinations where status = 'published'")?
        .trim()
        .parse()?;
    let posts: serde_json::Value = client
        .get(format!(
            "http://127.0.0.1:{}/social/_posts?account=publish-bench",
            stack.ports.ai_fakes
        ))
        .send()
        .await?
        .json()
        .await?;
    let texts: Vec<&str> = posts["posts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|post| post["text"].as_str())
        .collect();
    let distinct: std::collections::HashSet<&str> = texts.iter().copied().collect();
    let per_second = published as f64 / drained.as_secs_f64();
    let on_time = publishing_on_time(db, OWNER, &connection).await?;

    // The claim with 1,000,000 destinations (all published but 1,000 due) in the table.
    db.psql_command(&format!(
        "with posts as (insert into public.scheduled_posts (team_id, body, created_by) \
           select '{OWNER}', 'history ' || n, '{OWNER}' from generate_series(1, 990000) as n returning id) \
         insert into public.post_destinations (post_id, team_id, connection_id, status, published_at) \
         select id, '{OWNER}', '{connection}', 'published', now() from posts; \
         with posts as (insert into public.scheduled_posts (team_id, body, created_by) \
           select '{OWNER}', 'due ' || n, '{OWNER}' from generate_series(1, 1000) as n returning id) \
         insert into public.post_destinations (post_id, team_id, connection_id, status, next_attempt_at) \
         select id, '{OWNER}', '{connection}', 'scheduled', now() from posts; \
         analyze public.post_destinations"
    ))?;
    let report = pgbench(
        stack,
        "xtask/bench/publishing_claim.sql",
        &["--client=1", "--transactions=200"],
    )?;
    let claim_ms = pgbench_figure(&report, "latency average = ")?;
    Ok(vec![
        on_time,
        Row {
            metric: "10,000 due posts drained by 4 dispatchers (Facebook Pages fake)".into(),
            value: format!("{per_second:.0} posts/s"),
            reference: format!(
                "{published} of {DUE} in {:.0} s ({dropped_calls} cron calls failed)",
                drained.as_secs_f64()
            ),
            ratio: "-".into(),
            target: "≥ 200 posts/s",
        },
        Row {
            metric: "  duplicates at the platform".into(),
            value: format!("{}", texts.len() - distinct.len()),
            reference: format!("{} posts created", texts.len()),
            ratio: "-".into(),
            target: "0",
        },
        Row::for_scale(
            "claim of 25 due destinations, 1,000,000 rows",
            format!("{claim_ms:.2} ms"),
            "-",
        ),
    ])
}

/// Connects the fake `platform` account `account` to `team` through the worker's OAuth flow.
async fn connect_account(
    stack: &Stack,
    token: &str,
    team: &str,
    platform: &str,
    account: &str,
) -> Result<String> {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let start: serde_json::Value = browser
        .get(format!("{}/v1/oauth/{platform}/start", stack.worker_url()))
        .query(&[
            ("teamId", team),
            ("redirectTo", "http://127.0.0.1:3000/settings/connections"),
        ])
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    let authorize = start["authorizeUrl"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no authorizeUrl: {start}"))?;
    let mut location = format!("{authorize}&fake_account={account}");
    for _ in 0..2 {
        let answer = browser.get(&location).send().await?;
        location = answer
            .headers()
            .get("location")
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| anyhow::anyhow!("the OAuth flow stopped at {}", answer.status()))?
            .to_owned();
    }
    // An app-bound flow: the callback parks the authorization, and the app that started it
    // completes it with its binding.
    let back = reqwest::Url::parse(&location)?;
    let confirmation = back
        .query_pairs()
        .find(|(name, _)| name == "confirmation")
        .map(|(_, value)| value.into_owned())
        .ok_or_else(|| anyhow::anyhow!("no confirmation: {location}"))?;
    let completed: serde_json::Value = browser
        .post(format!(
            "{}/v1/oauth/{platform}/complete",
            stack.worker_url()
        ))
        .bearer_auth(token)
        .json(&serde_json::json!({ "confirmation": confirmation, "binding": start["binding"] }))
        .send()
        .await?
        .json()
        .await?;
    completed["connectionId"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("not connected: {completed}"))
}

/// Start-to-ready of the whole local stack with everything installed and built: a fresh database
/// with all migrations and the seed, postrust, the gateway, and the worker answering in workerd.
async fn warm_start() -> Result<Row> {
    let mode = || Mode::Throwaway { name: "startstack" };
    drop(Stack::start(mode(), Ports::free()?).await?); // warms caches (wrangler, workerd, page cache)
    let started = Instant::now();
    let stack = Stack::start(mode(), Ports::free()?).await?;
    let ready = started.elapsed();
    drop(stack);
    Ok(Row {
        metric: "local stack start to ready (warm)".into(),
        value: format!("{:.1} s", ready.as_secs_f64()),
        reference: "-".into(),
        ratio: "-".into(),
        target: "≤ 5 s",
    })
}

async fn request_latencies(request: impl Fn() -> reqwest::RequestBuilder) -> Result<Vec<Duration>> {
    let mut samples = Vec::with_capacity(500);
    for round in 0..550 {
        let started = Instant::now();
        let response = request().send().await?;
        anyhow::ensure!(
            response.status().is_success(),
            "REST answered {}",
            response.status()
        );
        let rows: serde_json::Value = response.json().await?;
        anyhow::ensure!(
            rows.as_array().is_some_and(|r| r.len() == 50),
            "expected 50 rows"
        );
        if round >= 50 {
            samples.push(started.elapsed());
        }
    }
    samples.sort();
    Ok(samples)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn print_table(rows: &[Row]) {
    let header = ["metric", "value", "reference (same run)", "ratio", "target"];
    let cells: Vec<[&str; 5]> = rows
        .iter()
        .map(|r| {
            [
                r.metric.as_str(),
                &r.value,
                &r.reference,
                &r.ratio,
                r.target,
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..5)
        .map(|i| {
            cells
                .iter()
                .map(|c| c[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |c: [&str; 5]| {
        let padded: Vec<String> = c
            .iter()
            .zip(&widths)
            .map(|(s, w)| format!("{s:<w$}"))
            .collect();
        println!("| {} |", padded.join(" | "));
    };
    line(header);
    println!(
        "|{}|",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("|")
    );
    for c in cells {
        line(c);
    }
}
