//! Content jobs: a brief run through a chain of AI steps in a request pg_net makes once the job
//! is queued, surviving the loss of the instance that runs it (see the `content_jobs` and
//! `content_job_dispatch` migrations for the lease, the sweep and the dispatch). `chain` says
//! what each step asks, `exec` runs them, `store` is the database side.

pub mod chain;
pub mod exec;
pub mod image;
pub mod routes;
pub mod store;
