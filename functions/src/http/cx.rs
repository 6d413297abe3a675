//! `Cx`: what a handler is given — the configuration, the request, the request's scope, its
//! route's path parameters, and who its route admitted.

use super::router::{path_param, Route};
use super::Request;
use crate::config::Config;
use crate::scope::Scope;

pub struct Cx<'a, Who> {
    pub config: &'a Config,
    pub request: &'a Request,
    pub scope: &'a Scope<'a>,
    route: &'static Route,
    /// Who the route admitted: a signed-in `Caller`, pg_cron (`Cron`), or anyone (`()`).
    pub caller: Who,
}

impl<'a, Who> Cx<'a, Who> {
    pub fn new(
        config: &'a Config,
        request: &'a Request,
        scope: &'a Scope<'a>,
        route: &'static Route,
        caller: Who,
    ) -> Self {
        Self {
            config,
            request,
            scope,
            route,
            caller,
        }
    }

    /// The configuration, the caller, the request and the scope, for handlers that use them by
    /// name.
    pub fn parts(&self) -> (&'a Config, &Who, &'a Request, &'a Scope<'a>) {
        (self.config, &self.caller, self.request, self.scope)
    }

    /// The value of `{name}` in the request's path (empty if the route has no such parameter).
    pub fn param(&self, name: &str) -> &'a str {
        path_param(self.route.template, &self.request.path, name).unwrap_or_default()
    }
}
