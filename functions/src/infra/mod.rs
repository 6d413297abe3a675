//! Infrastructure every feature shares: the Supabase clients, outbound HTTP, retries, crypto,
//! time, storage and logging. Nothing here knows a feature.

pub mod clock;
pub mod crypto;
pub mod hex;
pub mod observability;
pub mod outbound;
pub mod retry;
pub mod storage;
pub mod supabase;
pub mod wakeups;
