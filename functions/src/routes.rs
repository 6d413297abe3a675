//! The route table: every endpoint, registered once. Nothing but the dispatcher (`lib.rs`)
//! reads it, and no module imports another's `routes`.

use crate::ai::routes::{self as ai, assist, chat};
use crate::jobs::routes as jobs;
use crate::ops::{health, openapi, storage_cleanup};
use crate::publishing::routes as posts;
use crate::social::routes as social;
use crate::teams::routes::{invitations, me};

use crate::http::router::{
    delete, get, post, put, Auth, Route, IGNORED_BODY, INVITATION_BODY, JSON_BODY,
};
use crate::{cron, public, user};

/// The OpenAI-compatible endpoints: their errors take OpenAI's shape, so OpenAI's SDKs raise
/// them as they raise OpenAI's own (`ApiError::to_openai_response`).
pub const OPENAI_COMPATIBLE: &[&str] = &["/v1/chat/completions", "/v1/models"];

/// Every endpoint, with its body limit and who may call it: the one place an endpoint is
/// registered. A test checks it against `openapi.json`.
pub const ROUTES: &[Route] = &[
    get("/healthz", Auth::Always(health::healthz)),
    get("/readyz", public!(health::readyz)),
    get("/readyz/deep", cron!(health::readyz_deep)),
    get("/v1/me", user!(me::me)),
    get("/openapi.json", Auth::Always(openapi::document)),
    post(
        "/v1/teams/{team_id}/invitations",
        INVITATION_BODY,
        user!(invitations::create),
    ),
    post("/v1/ai/generate-text", JSON_BODY, user!(ai::generate_text)).team_in_header(),
    post("/v1/ai/generate-json", JSON_BODY, user!(ai::generate_json)).team_in_header(),
    post(
        "/v1/ai/generate-image",
        JSON_BODY,
        user!(ai::generate_image),
    )
    .team_in_header(),
    put("/v1/ai/configs", JSON_BODY, user!(ai::put_config)).team_in_fields(),
    post("/v1/ai/stream-text", JSON_BODY, user!(ai::stream_text)).team_in_header(),
    post(
        "/v1/ai/simulate-feedback",
        JSON_BODY,
        user!(assist::simulate_feedback),
    )
    .team_in_header(),
    post(
        "/v1/ai/generate-audit-plan",
        JSON_BODY,
        user!(assist::audit_plan),
    )
    .team_in_header(),
    post("/v1/ai/captions", JSON_BODY, user!(assist::captions)).team_in_header(),
    post("/v1/ai/hashtags", JSON_BODY, user!(assist::hashtags)).team_in_header(),
    post("/v1/ai/improve", JSON_BODY, user!(assist::improve)).team_in_header(),
    post("/v1/ai/moderate", JSON_BODY, user!(assist::moderate)).team_in_header(),
    post("/v1/chat/completions", JSON_BODY, user!(chat::completions)).team_in_header(),
    get("/v1/models", user!(chat::models)),
    post(
        "/v1/cron/credits/reset",
        IGNORED_BODY,
        cron!(ai::reset_credits),
    ),
    get("/v1/oauth/{platform}/start", user!(social::start)).team_in_fields(),
    // The browser comes back from the platform without our token; the state proves who.
    get("/v1/oauth/{platform}/callback", public!(social::callback)),
    post(
        "/v1/oauth/{platform}/complete",
        JSON_BODY,
        user!(social::complete),
    ),
    post(
        "/v1/connections/{connection_id}/verify",
        IGNORED_BODY,
        user!(social::verify),
    ),
    get(
        "/v1/connections/{connection_id}/creator-info",
        user!(social::creator_info),
    ),
    delete(
        "/v1/connections/{connection_id}",
        IGNORED_BODY,
        user!(social::delete),
    ),
    post(
        "/v1/cron/tokens/refresh",
        IGNORED_BODY,
        cron!(social::cron_refresh),
    ),
    post(
        "/v1/cron/tokens/reencrypt",
        IGNORED_BODY,
        cron!(social::cron_reencrypt),
    ),
    post(
        "/v1/posts/{post_id}/schedule",
        JSON_BODY,
        user!(posts::schedule),
    ),
    post(
        "/v1/posts/{post_id}/publish",
        JSON_BODY,
        user!(posts::publish_now),
    ),
    post(
        "/v1/posts/{post_id}/approve",
        JSON_BODY,
        user!(posts::approve),
    ),
    post(
        "/v1/posts/{post_id}/reject",
        JSON_BODY,
        user!(posts::reject),
    ),
    post(
        "/v1/posts/{post_id}/cancel",
        IGNORED_BODY,
        user!(posts::cancel),
    ),
    post("/v1/posts/{post_id}/retry", JSON_BODY, user!(posts::retry)),
    get("/v1/posts/{post_id}/status", user!(posts::status)),
    post("/v1/cron/publish", IGNORED_BODY, cron!(posts::cron_publish)),
    post("/v1/jobs/{job_id}/post", JSON_BODY, user!(posts::from_job)),
    post("/v1/jobs", JSON_BODY, user!(jobs::create)).team_in_fields(),
    get("/v1/jobs", user!(jobs::list)).team_in_fields(),
    get("/v1/jobs/{job_id}", user!(jobs::get)),
    post(
        "/v1/jobs/{job_id}/cancel",
        IGNORED_BODY,
        user!(jobs::cancel),
    ),
    post("/v1/jobs/{job_id}/retry", IGNORED_BODY, user!(jobs::retry)),
    post("/v1/jobs/{job_id}/draft", JSON_BODY, user!(jobs::draft)),
    post(
        "/v1/campaigns/{campaign_id}/batches",
        JSON_BODY,
        user!(jobs::create_batch),
    ),
    get(
        "/v1/campaigns/{campaign_id}/batches",
        user!(jobs::list_batches),
    ),
    get("/v1/batches/{batch_id}", user!(jobs::get_batch)),
    post(
        "/v1/batches/{batch_id}/retry",
        IGNORED_BODY,
        user!(jobs::retry_batch),
    ),
    post("/v1/cron/jobs/sweep", IGNORED_BODY, cron!(jobs::sweep)),
    post(
        "/v1/cron/storage/cleanup",
        IGNORED_BODY,
        cron!(storage_cleanup::cleanup),
    ),
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::http::spelling::TeamIdIn;

    const HTTP_METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];

    #[test]
    fn documents_exactly_the_routes_the_router_serves() {
        let document: serde_json::Value =
            serde_json::from_str(openapi::DOCUMENT).expect("openapi.json is valid JSON");
        let documented: BTreeSet<(String, String)> = document["paths"]
            .as_object()
            .expect("paths object")
            .iter()
            .flat_map(|(path, item)| {
                let methods = item.as_object().expect("path item object").keys();
                methods
                    .filter(|method| HTTP_METHODS.contains(&method.as_str()))
                    .map(move |method| (method.to_ascii_uppercase(), path.clone()))
            })
            .collect();
        let routed: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|route| (route.method.as_str().to_owned(), route.template.to_owned()))
            .collect();
        assert_eq!(
            documented, routed,
            "openapi.json paths differ from routes::ROUTES"
        );
    }

    /// Where each route reads the team (`x-team-id` header, or `teamId` in its body or query) is
    /// where `openapi.json` documents it, so the refusal of other spellings matches the document.
    #[test]
    fn routes_read_the_team_where_the_document_says() {
        let document: serde_json::Value =
            serde_json::from_str(openapi::DOCUMENT).expect("openapi.json is valid JSON");
        let documented = |route: &Route| {
            let operation =
                &document["paths"][route.template][route.method.as_str().to_lowercase()];
            let parameters = operation["parameters"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let mut body = &operation["requestBody"]["content"]["application/json"]["schema"];
            if let Some(name) = body["$ref"].as_str() {
                body = document
                    .pointer(name.trim_start_matches('#'))
                    .expect("schema");
            }
            if parameters
                .iter()
                .any(|p| p["$ref"] == "#/components/parameters/TeamId")
            {
                TeamIdIn::Header
            } else if parameters.iter().any(|p| p["name"] == "teamId")
                || body["properties"].get("teamId").is_some()
            {
                TeamIdIn::Field
            } else {
                TeamIdIn::Nowhere
            }
        };
        for route in ROUTES {
            assert_eq!(route.team_id, documented(route), "{route:?}");
        }
    }

    #[test]
    fn route_table_has_no_duplicates() {
        for (index, route) in ROUTES.iter().enumerate() {
            assert!(
                !ROUTES[index + 1..].contains(route),
                "{route:?} listed twice"
            );
        }
    }

    /// The dependency rule: a feature's handlers are reached only through this table, so no
    /// domain code depends on an HTTP layer, its own feature's or another's.
    #[test]
    fn nothing_but_the_dispatcher_imports_a_routes_module() {
        let mut offenders = Vec::new();
        for (path, source) in crate::test_support::crate_sources(&[]) {
            if ["lib.rs", "routes.rs"].contains(&path.as_str()) {
                continue;
            }
            let imports_routes = source
                .lines()
                .filter(|line| !line.trim_start().starts_with("//"))
                .any(|line| line.contains("routes::") || line.contains("routes as"));
            if imports_routes {
                offenders.push(path);
            }
        }
        assert!(offenders.is_empty(), "{offenders:?} import a routes module");
    }
}
