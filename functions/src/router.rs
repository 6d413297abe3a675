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
}

pub const ROUTES: &[Route] = &[
    Route {
        method: Method::Get,
        template: "/healthz",
        endpoint: Endpoint::Healthz,
    },
    Route {
        method: Method::Get,
        template: "/readyz",
        endpoint: Endpoint::Readyz,
    },
    Route {
        method: Method::Get,
        template: "/v1/me",
        endpoint: Endpoint::Me,
    },
    Route {
        method: Method::Get,
        template: "/openapi.json",
        endpoint: Endpoint::OpenApi,
    },
    Route {
        method: Method::Post,
        template: "/v1/teams/{team_id}/invitations",
        endpoint: Endpoint::CreateTeamInvitation,
    },
    Route {
        method: Method::Post,
        template: "/v1/ai/generate-text",
        endpoint: Endpoint::AiGenerateText,
    },
    Route {
        method: Method::Post,
        template: "/v1/ai/generate-json",
        endpoint: Endpoint::AiGenerateJson,
    },
    Route {
        method: Method::Post,
        template: "/v1/ai/generate-image",
        endpoint: Endpoint::AiGenerateImage,
    },
    Route {
        method: Method::Put,
        template: "/v1/ai/configs",
        endpoint: Endpoint::AiPutConfig,
    },
    Route {
        method: Method::Post,
        template: "/v1/ai/stream-text",
        endpoint: Endpoint::AiStreamText,
    },
    Route {
        method: Method::Post,
        template: "/v1/ai/simulate-feedback",
        endpoint: Endpoint::AiSimulateFeedback,
    },
    Route {
        method: Method::Post,
        template: "/v1/ai/generate-audit-plan",
        endpoint: Endpoint::AiAuditPlan,
    },
    Route {
        method: Method::Post,
        template: "/v1/ai/captions",
        endpoint: Endpoint::AiCaptions,
    },
    Route {
        method: Method::Post,
        template: "/v1/ai/hashtags",
        endpoint: Endpoint::AiHashtags,
    },
    Route {
        method: Method::Post,
        template: "/v1/ai/improve",
        endpoint: Endpoint::AiImprove,
    },
    Route {
        method: Method::Post,
        template: "/v1/ai/moderate",
        endpoint: Endpoint::AiModerate,
    },
    Route {
        method: Method::Post,
        template: "/v1/chat/completions",
        endpoint: Endpoint::ChatCompletions,
    },
    Route {
        method: Method::Get,
        template: "/v1/models",
        endpoint: Endpoint::Models,
    },
    Route {
        method: Method::Post,
        template: "/v1/cron/credits/reset",
        endpoint: Endpoint::CronResetCredits,
    },
    Route {
        method: Method::Get,
        template: "/v1/oauth/{platform}/start",
        endpoint: Endpoint::OauthStart,
    },
    Route {
        method: Method::Get,
        template: "/v1/oauth/{platform}/callback",
        endpoint: Endpoint::OauthCallback,
    },
    Route {
        method: Method::Post,
        template: "/v1/connections/{connection_id}/verify",
        endpoint: Endpoint::VerifyConnection,
    },
    Route {
        method: Method::Delete,
        template: "/v1/connections/{connection_id}",
        endpoint: Endpoint::DeleteConnection,
    },
    Route {
        method: Method::Post,
        template: "/v1/cron/tokens/refresh",
        endpoint: Endpoint::CronRefreshTokens,
    },
    Route {
        method: Method::Post,
        template: "/v1/cron/tokens/reencrypt",
        endpoint: Endpoint::CronReencryptTokens,
    },
    Route {
        method: Method::Post,
        template: "/v1/posts/{post_id}/schedule",
        endpoint: Endpoint::SchedulePost,
    },
    Route {
        method: Method::Post,
        template: "/v1/posts/{post_id}/publish",
        endpoint: Endpoint::PublishPost,
    },
    Route {
        method: Method::Post,
        template: "/v1/posts/{post_id}/approve",
        endpoint: Endpoint::ApprovePost,
    },
    Route {
        method: Method::Post,
        template: "/v1/posts/{post_id}/reject",
        endpoint: Endpoint::RejectPost,
    },
    Route {
        method: Method::Post,
        template: "/v1/posts/{post_id}/cancel",
        endpoint: Endpoint::CancelPost,
    },
    Route {
        method: Method::Post,
        template: "/v1/posts/{post_id}/retry",
        endpoint: Endpoint::RetryPost,
    },
    Route {
        method: Method::Get,
        template: "/v1/posts/{post_id}/status",
        endpoint: Endpoint::PostStatus,
    },
    Route {
        method: Method::Post,
        template: "/v1/cron/publish",
        endpoint: Endpoint::CronPublish,
    },
    Route {
        method: Method::Post,
        template: "/v1/jobs/{job_id}/post",
        endpoint: Endpoint::PostFromJob,
    },
    Route {
        method: Method::Post,
        template: "/v1/jobs",
        endpoint: Endpoint::CreateJob,
    },
    Route {
        method: Method::Get,
        template: "/v1/jobs",
        endpoint: Endpoint::ListJobs,
    },
    Route {
        method: Method::Get,
        template: "/v1/jobs/{job_id}",
        endpoint: Endpoint::GetJob,
    },
    Route {
        method: Method::Post,
        template: "/v1/jobs/{job_id}/cancel",
        endpoint: Endpoint::CancelJob,
    },
    Route {
        method: Method::Post,
        template: "/v1/jobs/{job_id}/retry",
        endpoint: Endpoint::RetryJob,
    },
    Route {
        method: Method::Post,
        template: "/v1/jobs/{job_id}/draft",
        endpoint: Endpoint::JobDraft,
    },
    Route {
        method: Method::Post,
        template: "/v1/campaigns/{campaign_id}/batches",
        endpoint: Endpoint::CreateBatch,
    },
    Route {
        method: Method::Get,
        template: "/v1/campaigns/{campaign_id}/batches",
        endpoint: Endpoint::ListBatches,
    },
    Route {
        method: Method::Get,
        template: "/v1/batches/{batch_id}",
        endpoint: Endpoint::GetBatch,
    },
    Route {
        method: Method::Post,
        template: "/v1/cron/jobs/sweep",
        endpoint: Endpoint::CronSweepJobs,
    },
    Route {
        method: Method::Post,
        template: "/v1/cron/storage/cleanup",
        endpoint: Endpoint::CronStorageCleanup,
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
