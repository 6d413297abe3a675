//! Cloudflare Cron Triggers: a second scheduler, beside pg_cron, of the sweeps that publish due
//! posts and run queued jobs, so a stopped pg_cron (or a missing Vault secret) does not stop
//! them. A scheduled run makes the same requests pg_cron's calls make, through the same pipeline
//! (routing, the cron secret, the endpoint); the sweeps claim their work, so a run from both
//! schedulers in the same minute does each piece of work once.

use futures::future::join_all;

use crate::config::{Config, ConfigError};
use crate::http::{header_lines, Headers, Request};
use crate::infra::clock::Clock;
use crate::Handled;

/// wrangler.toml's `[triggers] crons`, each with the cron endpoints its runs call.
pub const SCHEDULES: &[(&str, &[&str])] =
    &[("* * * * *", &["/v1/cron/publish", "/v1/cron/jobs/sweep"])];

/// Runs the sweeps of the schedule `cron` side by side; nothing for a schedule not listed.
pub async fn run(
    cron: &str,
    config: &Result<Config, ConfigError>,
    clock: &dyn Clock,
) -> Vec<Handled> {
    let requests = sweep_requests(cron, config);
    join_all(
        requests
            .into_iter()
            .map(|request| crate::handle(request, config, clock)),
    )
    .await
}

/// The requests pg_cron would send for the schedule: a POST to each endpoint with the cron
/// secret as the bearer (without one configured, the endpoint answers that it is missing).
fn sweep_requests(cron: &str, config: &Result<Config, ConfigError>) -> Vec<Request> {
    let bearer = config
        .as_ref()
        .ok()
        .and_then(|config| config.cron_secret.as_ref())
        .map(|secret| format!("Bearer {}", secret.expose()));
    let headers = bearer
        .and_then(|bearer| header_lines([("authorization", bearer.as_str())]))
        .unwrap_or_default();
    let paths = SCHEDULES
        .iter()
        .find(|(schedule, _)| *schedule == cron)
        .map_or(&[][..], |(_, paths)| paths);
    paths
        .iter()
        .map(|path| Request {
            method: "POST".to_owned(),
            path: (*path).to_owned(),
            query: None,
            headers: Headers::from_lines(&headers),
            body: Vec::new(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::config_from;
    use crate::infra::clock::SystemClock;

    const CRON_SECRET: &str = "cron-secret-of-at-least-thirty-two-bytes";

    fn config(cron_secret: Option<&str>) -> Result<Config, ConfigError> {
        let mut pairs = vec![
            ("SUPABASE_URL", "http://127.0.0.1:1"),
            ("SUPABASE_ANON_KEY", "anon-key"),
            ("SUPABASE_SERVICE_ROLE_KEY", "service-role-key"),
        ];
        pairs.extend(cron_secret.map(|secret| ("CRON_SECRET", secret)));
        config_from(&pairs)
    }

    /// The `crons = [...]` of wrangler.toml's `[triggers]` table.
    fn wrangler_crons() -> Vec<String> {
        let wrangler = include_str!("../../wrangler.toml");
        let triggers = wrangler
            .split("\n[triggers]\n")
            .nth(1)
            .expect("wrangler.toml has a [triggers] table");
        let crons = triggers
            .lines()
            .find_map(|line| line.strip_prefix("crons = "))
            .expect("[triggers] sets crons");
        crons
            .trim_matches(['[', ']'])
            .split(',')
            .map(|cron| cron.trim().trim_matches('"').to_owned())
            .collect()
    }

    #[test]
    fn every_cron_trigger_of_wrangler_toml_has_its_sweeps() {
        let scheduled: Vec<&str> = SCHEDULES.iter().map(|(cron, _)| *cron).collect();
        assert_eq!(wrangler_crons(), scheduled);
    }

    #[tokio::test]
    async fn a_run_calls_the_publish_and_job_sweeps_past_the_cron_secret() {
        let config = config(Some(CRON_SECRET));
        let handled = run("* * * * *", &config, &SystemClock).await;
        let paths: Vec<_> = sweep_requests("* * * * *", &config)
            .into_iter()
            .map(|request| request.path)
            .collect();
        assert_eq!(paths, ["/v1/cron/publish", "/v1/cron/jobs/sweep"]);
        for handled in handled {
            // Admitted: the sweep itself ran, and failed only on the unreachable database.
            assert!(
                handled.log_line.contains("/v1/cron/"),
                "{}",
                handled.log_line
            );
            assert!(
                ![401, 403, 404].contains(&handled.response.status),
                "{}",
                handled.log_line
            );
        }
    }

    #[tokio::test]
    async fn an_unknown_schedule_runs_nothing_and_a_missing_secret_is_reported() {
        assert!(run("0 0 * * *", &config(Some(CRON_SECRET)), &SystemClock)
            .await
            .is_empty());
        let unconfigured = run("* * * * *", &config(None), &SystemClock).await;
        assert_eq!(unconfigured.len(), 2);
        assert!(unconfigured
            .iter()
            .all(|handled| handled.response.status == 500));
    }
}
