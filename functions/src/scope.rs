//! What one request runs with besides its input: the clock, and the work it leaves to finish
//! after the response has gone out (the platform keeps the request alive for it: `waitUntil`).

use std::cell::RefCell;
use std::future::Future;

use futures::future::LocalBoxFuture;

use crate::clock::Clock;

/// Work that runs after the response, to its end even if the client went away. Resolves to a
/// log line when it failed.
pub type Background = LocalBoxFuture<'static, Option<String>>;

pub struct Scope<'a> {
    clock: &'a dyn Clock,
    deferred: RefCell<Vec<Background>>,
}

impl<'a> Scope<'a> {
    pub fn new(clock: &'a dyn Clock) -> Self {
        Self {
            clock,
            deferred: RefCell::default(),
        }
    }

    /// Leaves `work` to run after the response.
    pub fn defer(&self, work: impl Future<Output = Option<String>> + 'static) {
        self.deferred.borrow_mut().push(Box::pin(work));
    }

    pub fn into_deferred(self) -> Vec<Background> {
        self.deferred.into_inner()
    }
}

impl Clock for Scope<'_> {
    fn unix_millis(&self) -> f64 {
        self.clock.unix_millis()
    }
}
