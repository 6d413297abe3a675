//! One folder per social platform: everything the worker knows about it, from its OAuth
//! constants (`SPEC`) to how a post reaches it.

pub mod facebook;
pub mod instagram;
pub mod linkedin;
pub mod pinterest;
pub mod tiktok;
pub mod x;
pub mod youtube;
