pub mod ai;
pub mod assist;
pub mod chat;
pub mod health;
pub mod invitations;
pub mod jobs;
pub mod me;
pub mod openapi;
pub mod posts;
pub mod social;
pub mod storage;

/// A UUID in its canonical text form (8-4-4-4-12 hex digits).
pub fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}
