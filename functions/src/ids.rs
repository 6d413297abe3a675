//! Record ids, one type per kind of record (`PostId`, `TeamId`, …): a UUID in its canonical
//! text form, checked once where it enters (a path, a query, a body) so that an id of one kind
//! cannot be passed where another is meant.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

/// The id of a record of kind `Of` (one of the marker types below).
pub struct Id<Of> {
    uuid: String,
    of: PhantomData<fn() -> Of>,
}

/// Marker types: what an `Id` names.
pub enum Post {}
pub enum Job {}
pub enum Batch {}
pub enum Campaign {}
pub enum Connection {}
pub enum Team {}
pub enum Persona {}

pub type PostId = Id<Post>;
pub type JobId = Id<Job>;
pub type BatchId = Id<Batch>;
pub type CampaignId = Id<Campaign>;
pub type ConnectionId = Id<Connection>;
pub type TeamId = Id<Team>;
pub type PersonaId = Id<Persona>;

impl<Of> Id<Of> {
    pub fn as_str(&self) -> &str {
        &self.uuid
    }
}

/// Not a UUID in the 8-4-4-4-12 hex digit form.
#[derive(Debug, PartialEq, Eq)]
pub struct NotAnId;

impl<Of> FromStr for Id<Of> {
    type Err = NotAnId;

    fn from_str(text: &str) -> Result<Self, NotAnId> {
        is_uuid(text)
            .then(|| Self {
                uuid: text.to_owned(),
                of: PhantomData,
            })
            .ok_or(NotAnId)
    }
}

impl<'de, Of> Deserialize<'de> for Id<Of> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(text) => text.parse().ok(),
            _ => None,
        }
        .ok_or_else(|| serde::de::Error::custom("must be a UUID"))
    }
}

impl<Of> Serialize for Id<Of> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.uuid)
    }
}

impl<Of> Clone for Id<Of> {
    fn clone(&self) -> Self {
        Self {
            uuid: self.uuid.clone(),
            of: PhantomData,
        }
    }
}

impl<Of> PartialEq for Id<Of> {
    fn eq(&self, other: &Self) -> bool {
        self.uuid == other.uuid
    }
}

impl<Of> fmt::Debug for Id<Of> {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str(&self.uuid)
    }
}

impl<Of> fmt::Display for Id<Of> {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str(&self.uuid)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_uuids() {
        assert!(is_uuid("11111111-1111-4111-8111-111111111111"));
        assert!(!is_uuid("11111111-1111-4111-8111-11111111111g"));
        assert!(!is_uuid("11111111111141118111111111111111----"));
    }

    #[test]
    fn an_id_is_a_uuid_from_text_or_json() {
        let id: PostId = "11111111-1111-4111-8111-111111111111".parse().unwrap();
        assert_eq!(id.as_str(), "11111111-1111-4111-8111-111111111111");
        assert_eq!(serde_json::to_value(&id).unwrap(), id.as_str());
        assert_eq!("nope".parse::<PostId>(), Err(NotAnId));
        let decoded: TeamId = serde_json::from_value(Value::from(id.as_str())).unwrap();
        assert_eq!(decoded.as_str(), id.as_str());
        for bad in [Value::from("nope"), Value::from(5), Value::Null] {
            let error = serde_json::from_value::<TeamId>(bad).unwrap_err();
            assert_eq!(error.to_string(), "must be a UUID");
        }
    }
}
