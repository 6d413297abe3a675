//! Sending a publishing call exactly once, through `outbound`. No retries here: whether a
//! failed call may be sent again depends on what its failure proves, so the answer says which
//! it was. A connection that could not be opened proves nothing was sent; a timeout or a
//! connection lost after sending proves nothing either way.

use std::time::Duration;

use crate::infra::outbound::{self, Call, Destination, Failure, Limits, Reply};

/// A call that got no answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Unanswered {
    /// The connection could not be opened: the platform never saw the request.
    NotSent(String),
    /// Timed out or lost after the request may have reached the platform.
    Unknown(String),
}

pub struct Wire<'a> {
    destination: Destination<'a>,
}

impl<'a> Wire<'a> {
    pub fn new(origin_override: Option<&'a str>, timeout: Duration) -> Self {
        let limits = Limits {
            timeout,
            ..Limits::DEFAULT
        };
        Self {
            destination: Destination::platform(origin_override, limits),
        }
    }

    /// Causes name the host only: a URL's query could carry a token.
    pub async fn send(&self, call: &Call) -> Result<Reply, Unanswered> {
        outbound::exchange(call, &self.destination)
            .await
            .map_err(|failure| match failure {
                Failure::NotSent(_) => Unanswered::NotSent(format!("{} unreachable", call.host())),
                Failure::TimedOut(_) => Unanswered::Unknown(failure.to_string()),
                _ => Unanswered::Unknown(format!("{}: {failure}", call.host())),
            })
    }
}
