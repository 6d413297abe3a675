//! The route table: the single list of endpoints, used for dispatch and checked against
//! `openapi.json` by a test, so an endpoint cannot exist without being documented.

use crate::http::Method;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Healthz,
    Readyz,
    Me,
    OpenApi,
    CreateTeamInvitation,
    AiGenerateText,
    AiGenerateJson,
    AiGenerateImage,
    AiPutConfig,
    AiStreamText,
    AiSimulateFeedback,
    AiAuditPlan,
    AiCaptions,
    AiHashtags,
    AiImprove,
    AiModerate,
    ChatCompletions,
    Models,
    CronResetCredits,
    OauthStart,
    OauthCallback,
    OauthComplete,
    VerifyConnection,
    DeleteConnection,
    CronRefreshTokens,
    CronReencryptTokens,
    SchedulePost,
    PublishPost,
    ApprovePost,
    RejectPost,
    CancelPost,
    RetryPost,
    PostStatus,
    CronPublish,
    PostFromJob,
    CreateJob,
    ListJobs,
    GetJob,
    CancelJob,
    RetryJob,
    JobDraft,
    CreateBatch,
    ListBatches,
    GetBatch,
    CronSweepJobs,
    CronStorageCleanup,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Route {
    pub method: Method,
    /// The path template, as in the OpenAPI document and the request log.
    pub template: &'static str,
    pub endpoint: Endpoint,
    /// The most body bytes this endpoint accepts: the worker refuses a larger body with 413
    /// before reading it (by `Content-Length`) or as soon as the read passes it (chunked).
    pub max_body: usize,
}

/// The body limits, one per kind of endpoint: the only place a body's size is capped.
/// No GET endpoint reads a body.
pub const NO_BODY: usize = 0;
/// Endpoints that read no body still take the small one some clients always send (pg_net
/// posts `{}`).
pub const IGNORED_BODY: usize = 1024;
/// A JSON request: prompts, chat histories and drafts fit with room to spare.
pub const JSON_BODY: usize = 256 * 1024;
/// An invitation is an email address and a role.
pub const INVITATION_BODY: usize = 4 * 1024;

pub const ROUTES: &[Route] = &[
    Route {
        method: Method::Get,
        template: "/healthz",
        endpoint: Endpoint::Healthz,
        max_body: NO_BODY,
    },
    Route {
        method: Method::Get,
        template: "/readyz",
        endpoint: Endpoint::Readyz,
        max_body: NO_BODY,
    },
    Route {
        method: Method::Get,
        template: "/v1/me",
        endpoint: Endpoint::Me,
        max_body: NO_BODY,
    },
    Route {
        method: Method::Get,
        template: "/openapi.json",
        endpoint: Endpoint::OpenApi,
        max_body: NO_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/teams/{team_id}/invitations",
        endpoint: Endpoint::CreateTeamInvitation,
        max_body: INVITATION_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/ai/generate-text",
        endpoint: Endpoint::AiGenerateText,
        max_body: JSON_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/ai/generate-json",
        endpoint: Endpoint::AiGenerateJson,
        max_body: JSON_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/ai/generate-image",
        endpoint: Endpoint::AiGenerateImage,
        max_body: JSON_BODY,
    },
    Route {
        method: Method::Put,
        template: "/v1/ai/configs",
        endpoint: Endpoint::AiPutConfig,
        max_body: JSON_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/ai/stream-text",
        endpoint: Endpoint::AiStreamText,
        max_body: JSON_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/ai/simulate-feedback",
        endpoint: Endpoint::AiSimulateFeedback,
        max_body: JSON_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/ai/generate-audit-plan",
        endpoint: Endpoint::AiAuditPlan,
        max_body: JSON_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/ai/captions",
        endpoint: Endpoint::AiCaptions,
        max_body: JSON_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/ai/hashtags",
        endpoint: Endpoint::AiHashtags,
        max_body: JSON_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/ai/improve",
        endpoint: Endpoint::AiImprove,
        max_body: JSON_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/ai/moderate",
        endpoint: Endpoint::AiModerate,
        max_body: JSON_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/chat/completions",
        endpoint: Endpoint::ChatCompletions,
        max_body: JSON_BODY,
    },
    Route {
        method: Method::Get,
        template: "/v1/models",
        endpoint: Endpoint::Models,
        max_body: NO_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/cron/credits/reset",
        endpoint: Endpoint::CronResetCredits,
        max_body: IGNORED_BODY,
    },
    Route {
        method: Method::Get,
        template: "/v1/oauth/{platform}/start",
        endpoint: Endpoint::OauthStart,
        max_body: NO_BODY,
    },
    Route {
        method: Method::Get,
        template: "/v1/oauth/{platform}/callback",
        endpoint: Endpoint::OauthCallback,
        max_body: NO_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/oauth/{platform}/complete",
        endpoint: Endpoint::OauthComplete,
        max_body: JSON_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/connections/{connection_id}/verify",
        endpoint: Endpoint::VerifyConnection,
        max_body: IGNORED_BODY,
    },
    Route {
        method: Method::Delete,
        template: "/v1/connections/{connection_id}",
        endpoint: Endpoint::DeleteConnection,
        max_body: IGNORED_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/cron/tokens/refresh",
        endpoint: Endpoint::CronRefreshTokens,
        max_body: IGNORED_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/cron/tokens/reencrypt",
        endpoint: Endpoint::CronReencryptTokens,
        max_body: IGNORED_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/posts/{post_id}/schedule",
        endpoint: Endpoint::SchedulePost,
        max_body: JSON_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/posts/{post_id}/publish",
        endpoint: Endpoint::PublishPost,
        max_body: JSON_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/posts/{post_id}/approve",
        endpoint: Endpoint::ApprovePost,
        max_body: JSON_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/posts/{post_id}/reject",
        endpoint: Endpoint::RejectPost,
        max_body: JSON_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/posts/{post_id}/cancel",
        endpoint: Endpoint::CancelPost,
        max_body: IGNORED_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/posts/{post_id}/retry",
        endpoint: Endpoint::RetryPost,
        max_body: JSON_BODY,
    },
    Route {
        method: Method::Get,
        template: "/v1/posts/{post_id}/status",
        endpoint: Endpoint::PostStatus,
        max_body: NO_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/cron/publish",
        endpoint: Endpoint::CronPublish,
        max_body: IGNORED_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/jobs/{job_id}/post",
        endpoint: Endpoint::PostFromJob,
        max_body: JSON_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/jobs",
        endpoint: Endpoint::CreateJob,
        max_body: JSON_BODY,
    },
    Route {
        method: Method::Get,
        template: "/v1/jobs",
        endpoint: Endpoint::ListJobs,
        max_body: NO_BODY,
    },
    Route {
        method: Method::Get,
        template: "/v1/jobs/{job_id}",
        endpoint: Endpoint::GetJob,
        max_body: NO_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/jobs/{job_id}/cancel",
        endpoint: Endpoint::CancelJob,
        max_body: IGNORED_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/jobs/{job_id}/retry",
        endpoint: Endpoint::RetryJob,
        max_body: IGNORED_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/jobs/{job_id}/draft",
        endpoint: Endpoint::JobDraft,
        max_body: JSON_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/campaigns/{campaign_id}/batches",
        endpoint: Endpoint::CreateBatch,
        max_body: JSON_BODY,
    },
    Route {
        method: Method::Get,
        template: "/v1/campaigns/{campaign_id}/batches",
        endpoint: Endpoint::ListBatches,
        max_body: NO_BODY,
    },
    Route {
        method: Method::Get,
        template: "/v1/batches/{batch_id}",
        endpoint: Endpoint::GetBatch,
        max_body: NO_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/cron/jobs/sweep",
        endpoint: Endpoint::CronSweepJobs,
        max_body: IGNORED_BODY,
    },
    Route {
        method: Method::Post,
        template: "/v1/cron/storage/cleanup",
        endpoint: Endpoint::CronStorageCleanup,
        max_body: IGNORED_BODY,
    },
];

#[derive(Debug, PartialEq)]
pub enum Resolution {
    Matched(&'static Route),
    /// The path exists, with other methods.
    MethodNotAllowed {
        template: &'static str,
        allowed: Vec<&'static str>,
    },
    NotFound,
}

pub fn resolve(method: &str, path: &str) -> Resolution {
    let method = Method::parse(method);
    let candidates: Vec<&'static Route> = ROUTES
        .iter()
        .filter(|route| matches_template(route.template, path))
        .collect();
    let Some(first) = candidates.first() else {
        return Resolution::NotFound;
    };
    match candidates.iter().find(|route| Some(route.method) == method) {
        Some(route) => Resolution::Matched(route),
        None => Resolution::MethodNotAllowed {
            template: first.template,
            allowed: candidates
                .iter()
                .map(|route| route.method.as_str())
                .collect(),
        },
    }
}

/// Segment by segment; `{name}` matches one non-empty segment. A trailing slash is not the
/// same resource.
fn matches_template(template: &str, path: &str) -> bool {
    let mut segments = path.split('/');
    template.split('/').all(|expected| match segments.next() {
        Some(actual) if expected.starts_with('{') => !actual.is_empty(),
        Some(actual) => actual == expected,
        None => false,
    }) && segments.next().is_none()
}

/// The value of `{name}` in `path`, which matched `template`.
pub fn path_param<'a>(template: &str, path: &'a str, name: &str) -> Option<&'a str> {
    let placeholder = format!("{{{name}}}");
    template
        .split('/')
        .zip(path.split('/'))
        .find_map(|(expected, actual)| (expected == placeholder).then_some(actual))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_known_routes() {
        assert!(matches!(
            resolve("GET", "/v1/me"),
            Resolution::Matched(Route {
                endpoint: Endpoint::Me,
                ..
            })
        ));
        assert!(matches!(
            resolve("get", "/healthz"),
            Resolution::Matched(Route {
                endpoint: Endpoint::Healthz,
                ..
            })
        ));
    }

    #[test]
    fn distinguishes_unknown_paths_from_wrong_methods() {
        assert_eq!(resolve("GET", "/nope"), Resolution::NotFound);
        assert_eq!(resolve("GET", "/healthz/"), Resolution::NotFound);
        assert_eq!(
            resolve("POST", "/readyz"),
            Resolution::MethodNotAllowed {
                template: "/readyz",
                allowed: vec!["GET"]
            }
        );
        assert_eq!(
            resolve("BREW", "/readyz"),
            Resolution::MethodNotAllowed {
                template: "/readyz",
                allowed: vec!["GET"]
            }
        );
    }

    #[test]
    fn templates_match_one_segment_per_parameter() {
        let template = "/v1/teams/{team_id}/invitations";
        assert!(matches_template(template, "/v1/teams/abc/invitations"));
        assert!(!matches_template(template, "/v1/teams//invitations"));
        assert!(!matches_template(template, "/v1/teams/a/b/invitations"));
        assert!(!matches_template(template, "/v1/teams/abc/invitations/x"));
        assert_eq!(
            path_param(template, "/v1/teams/abc/invitations", "team_id"),
            Some("abc")
        );
        assert_eq!(
            path_param(template, "/v1/teams/abc/invitations", "other"),
            None
        );
    }

    #[test]
    fn route_table_has_no_duplicates() {
        for (index, route) in ROUTES.iter().enumerate() {
            assert!(
                ROUTES[index + 1..]
                    .iter()
                    .all(|other| (other.method, other.template) != (route.method, route.template)),
                "{} {} listed twice",
                route.method.as_str(),
                route.template
            );
        }
    }
}
