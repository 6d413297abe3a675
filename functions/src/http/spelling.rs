//! One spelling per name in the API (issue #26): JSON and query names are camelCase, and the team
//! a request acts for is `teamId` in the body or query, except on the metered AI routes, which
//! read the `x-team-id` header. There the team picks whose credits pay for every call a client
//! makes, as OpenAI's `OpenAI-Project` header does: an OpenAI SDK sets it once in its default
//! headers, streams included, and the OpenAI-compatible body stays exactly OpenAI's. A team id
//! spelled otherwise is refused with the right spelling, never silently ignored (a job meant for
//! a team must not quietly become a personal one).

use std::collections::HashMap;

use serde::de::IgnoredAny;

use super::extract::{invalid, Query};
use super::Request;
use crate::error::ApiError;

/// Where a route reads the team a request acts for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TeamIdIn {
    /// Nowhere: the route takes no team, or one its ids carry.
    Nowhere,
    /// The `x-team-id` header.
    Header,
    /// `teamId` in the JSON body or the query string.
    Field,
}

pub const TEAM_HEADER: &str = "x-team-id";
pub const TEAM_FIELD: &str = "teamId";

/// Refuses a team id spelled otherwise than as the route reads it.
pub fn check_team_id(route_reads: TeamIdIn, request: &Request) -> Result<(), ApiError> {
    let query = Query::of(request);
    let body_keys = top_level_keys(&request.body);
    let sent = |name: &str| {
        body_keys.contains_key(name) || query.pairs().iter().any(|(key, _)| key == name)
    };
    renamed(sent("team_id"), "team_id", TEAM_FIELD)?;
    let header = request.headers.get(TEAM_HEADER).is_some();
    match route_reads {
        TeamIdIn::Field if header => Err(invalid(
            TEAM_HEADER,
            "is not read by this endpoint: send the team as `teamId` in the body or query",
        )),
        TeamIdIn::Header if sent(TEAM_FIELD) => Err(invalid(
            TEAM_FIELD,
            "is not read by this endpoint: send the team in the `x-team-id` header",
        )),
        _ => Ok(()),
    }
}

/// Refuses `old`, the spelling an earlier version of the API took, naming `new`.
pub fn renamed(sent_old: bool, old: &str, new: &str) -> Result<(), ApiError> {
    if sent_old {
        Err(invalid(old, &format!("is spelled `{new}`")))
    } else {
        Ok(())
    }
}

/// The names of a JSON object body; none for any other body (its handler reports it).
fn top_level_keys(body: &[u8]) -> HashMap<String, IgnoredAny> {
    serde_json::from_slice(body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Headers;

    fn request(query: &str, headers: &[(&str, &str)], body: &str) -> Request {
        Request {
            method: "POST".into(),
            path: "/".into(),
            query: Some(query.into()),
            headers: headers
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect::<Headers>(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn refused_field(route_reads: TeamIdIn, request: &Request) -> Option<String> {
        match check_team_id(route_reads, request) {
            Ok(()) => None,
            Err(ApiError::InvalidRequest { field, .. }) => Some(field),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn the_team_is_read_only_where_the_route_reads_it() {
        let team = "11111111-1111-4111-8111-111111111111";
        let in_body = request("", &[], &format!(r#"{{"teamId":"{team}"}}"#));
        let in_query = request(&format!("teamId={team}"), &[], "");
        let in_header = request("", &[(TEAM_HEADER, team)], "{}");
        for read in [&in_body, &in_query] {
            assert_eq!(refused_field(TeamIdIn::Field, read), None);
            assert_eq!(
                refused_field(TeamIdIn::Header, read).as_deref(),
                Some(TEAM_FIELD)
            );
        }
        assert_eq!(refused_field(TeamIdIn::Header, &in_header), None);
        assert_eq!(
            refused_field(TeamIdIn::Field, &in_header).as_deref(),
            Some(TEAM_HEADER)
        );
        // A route that takes no team leaves an OpenAI SDK's default header alone.
        assert_eq!(refused_field(TeamIdIn::Nowhere, &in_header), None);
    }

    #[test]
    fn the_snake_case_spelling_is_refused_everywhere_naming_the_right_one() {
        let team = "11111111-1111-4111-8111-111111111111";
        for read in [TeamIdIn::Nowhere, TeamIdIn::Header, TeamIdIn::Field] {
            for sent in [
                request(&format!("team_id={team}"), &[], ""),
                request("", &[], &format!(r#"{{"team_id":"{team}"}}"#)),
            ] {
                let error = check_team_id(read, &sent).unwrap_err();
                assert_eq!(error.code(), "invalid_request");
                assert_eq!(error.message(), "`team_id` is spelled `teamId`.");
            }
        }
        // A body that is not a JSON object is left to its handler.
        assert!(check_team_id(TeamIdIn::Field, &request("", &[], "[\"team_id\"]")).is_ok());
    }
}
