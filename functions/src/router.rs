//! The route table: the single list of endpoints, used for dispatch and checked against
//! `openapi.json` by a test, so an endpoint cannot exist without being documented.

use crate::http::Method;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Healthz,
    Readyz,
    Me,
    OpenApi,
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

/// Templates have no parameters yet, so matching is exact; a trailing slash is not the
/// same resource.
fn matches_template(template: &str, path: &str) -> bool {
    template == path
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
