//! The service's own endpoints: the probes, its OpenAPI document, and pg_cron's sweep of the
//! Storage objects whose rows are gone.

pub mod health;
pub mod openapi;
pub mod storage_cleanup;
