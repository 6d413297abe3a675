//! The end-to-end tests: one binary, a module per feature, against the stack `cargo xtask test`
//! started (the worker in workerd, Postgres, the Supabase stand-ins and the fakes). Each test
//! starts from `e2e::app::TestApp`. Two suites are binaries of their own because they must run
//! alone: `abuse.rs` (hostile input to every operation) and `database_outage.rs` (run after the
//! database is stopped).

mod ai;
mod cors;
mod health;
mod invitations;
mod jobs;
mod limits;
mod me;
mod oauth;
mod outbound;
mod pg_net;
mod publishing;
mod storage;
