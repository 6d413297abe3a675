//! Content jobs: a brief run through a chain of AI steps after the response, surviving the
//! loss of the instance that runs it (see the `content_jobs` migration for the lease and the
//! sweep). `chain` says what each step asks, `exec` runs them, `store` is the database side.

pub mod chain;
pub mod exec;
pub mod image;
pub mod store;
