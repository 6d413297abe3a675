pub mod invitations;
pub mod me;
