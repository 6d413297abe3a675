//! `Cx`: what a handler is given — the configuration, the request, the request's scope, its
//! route's path parameters, and who its route admitted.

use std::str::FromStr;

use serde::de::DeserializeOwned;

use super::extract::decode;
use super::router::{path_param, Route};
use super::Request;
use crate::config::Config;
use crate::error::ApiError;
use crate::ids::Id;
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

    /// The id in path parameter `{name}`; `None` when it is not one, which each route answers
    /// in its own way (most as the record's 404).
    pub fn id<Of>(&self, name: &str) -> Option<Id<Of>> {
        Id::from_str(self.param(name)).ok()
    }

    /// The request body as a `T` (see `extract::decode`).
    pub fn body<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        decode(&self.request.body)
    }

    /// As `body`, for a route whose body may be left out: an empty body reads as `{}`.
    pub fn optional_body<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        match self.request.body.as_slice() {
            [] => decode(b"{}"),
            body => decode(body),
        }
    }
}
