//! Teams: invitations, and the signed-in user's profile. Membership rules live in SQL (RLS and
//! the invitation functions); the worker only carries requests to them.

pub mod email;
pub mod routes;
