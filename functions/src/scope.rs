//! What one request runs with besides its input: the clock, the time its steps took (answered
//! as `Server-Timing`), headers its steps add to the answer, log lines of its own beside the
//! request's, and the work it leaves to finish after the response has gone out (the platform
//! keeps the request alive for it: `waitUntil`).

use std::cell::RefCell;
use std::future::Future;

use futures::future::LocalBoxFuture;

use crate::infra::clock::Clock;

/// Work that runs after the response, to its end even if the client went away. Resolves to a
/// log line when it failed.
pub type Background = LocalBoxFuture<'static, Option<String>>;

pub struct Scope<'a> {
    clock: &'a dyn Clock,
    deferred: RefCell<Vec<Background>>,
    timings: RefCell<Vec<(&'static str, f64)>>,
    headers: RefCell<Vec<(&'static str, String)>>,
    log_lines: RefCell<Vec<String>>,
}

impl<'a> Scope<'a> {
    pub fn new(clock: &'a dyn Clock) -> Self {
        Self {
            clock,
            deferred: RefCell::default(),
            timings: RefCell::default(),
            headers: RefCell::default(),
            log_lines: RefCell::default(),
        }
    }

    /// Runs `step`, recording its duration under `name`.
    pub async fn timed<T>(&self, name: &'static str, step: impl Future<Output = T>) -> T {
        let started_ms = self.clock.unix_millis();
        let output = step.await;
        self.record(name, self.clock.unix_millis() - started_ms);
        output
    }

    pub fn record(&self, name: &'static str, millis: f64) {
        self.timings.borrow_mut().push((name, millis));
    }

    /// The `Server-Timing` header: each recorded step, then the whole request. In workerd the
    /// clock stands still while code runs, so these are the waits on I/O (Auth's keys, the
    /// database, the provider), the part of a request's time that is not the worker's own.
    pub fn server_timing(&self, total_ms: f64) -> String {
        self.timings
            .borrow()
            .iter()
            .chain([&("total", total_ms)])
            .map(|(name, millis)| format!("{name};dur={millis:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Headers for the answer, whether it succeeds or fails (e.g. a rate window's state); each
    /// replaces an earlier one of the same name.
    pub fn set_headers(&self, headers: impl IntoIterator<Item = (&'static str, String)>) {
        let mut kept = self.headers.borrow_mut();
        for (name, value) in headers {
            kept.retain(|(known, _)| !known.eq_ignore_ascii_case(name));
            kept.push((name, value));
        }
    }

    /// The headers from `set_headers`.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        self.headers.borrow().clone()
    }

    /// Leaves `work` to run after the response.
    pub fn defer(&self, work: impl Future<Output = Option<String>> + 'static) {
        self.deferred.borrow_mut().push(Box::pin(work));
    }

    /// Adds a log line (a failure of the request's own work) to be written beside the
    /// request's.
    pub fn log(&self, line: String) {
        self.log_lines.borrow_mut().push(line);
    }

    /// The lines from `log`, and the work from `defer`.
    pub fn into_after(self) -> (Vec<String>, Vec<Background>) {
        (self.log_lines.into_inner(), self.deferred.into_inner())
    }
}

impl Clock for Scope<'_> {
    fn unix_millis(&self) -> f64 {
        self.clock.unix_millis()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Ticking(std::cell::Cell<f64>);

    impl Clock for Ticking {
        fn unix_millis(&self) -> f64 {
            self.0.set(self.0.get() + 1.5);
            self.0.get()
        }
    }

    #[tokio::test]
    async fn steps_are_timed_in_order_then_the_total() {
        let clock = Ticking(std::cell::Cell::new(0.0));
        let scope = Scope::new(&clock);
        scope.timed("auth", async {}).await;
        scope.record("provider", 12.0);
        assert_eq!(
            scope.server_timing(20.25),
            "auth;dur=1.5, provider;dur=12.0, total;dur=20.2"
        );
    }

    #[test]
    fn a_later_header_replaces_one_of_the_same_name() {
        let clock = Ticking(std::cell::Cell::new(0.0));
        let scope = Scope::new(&clock);
        scope.set_headers([("RateLimit", "r=2".into()), ("X-Other", "a".into())]);
        scope.set_headers([("ratelimit", "r=1".into())]);
        assert_eq!(
            scope.headers(),
            [("X-Other", "a".to_owned()), ("ratelimit", "r=1".to_owned())]
        );
    }
}
