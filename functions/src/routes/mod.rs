pub mod health;
pub mod me;
pub mod openapi;
