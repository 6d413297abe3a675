//! Phoenix Presence for one server: who tracks what on each topic, as the `presence_state` and
//! `presence_diff` payloads the clients merge (`{key: {metas: [{phx_ref, ...}]}}`).

use std::collections::HashMap;

use serde_json::{json, Map, Value};

/// Topics are told apart by privacy as on hosted Realtime: a public `room` is not the private one.
pub type TopicKey = (bool, String);

#[derive(Default)]
pub struct Presences {
    topics: HashMap<TopicKey, Vec<Tracked>>,
    next_ref: u64,
}

struct Tracked {
    channel: u64,
    key: String,
    meta: Value,
}

impl Presences {
    /// Tracks `payload` for a joined channel under `key`, replacing what it tracked before;
    /// returns the diff to send.
    pub fn track(&mut self, topic: TopicKey, channel: u64, key: &str, payload: &Value) -> Value {
        let leaves = self.remove(&topic, channel);
        self.next_ref += 1;
        let mut meta = match payload {
            Value::Object(fields) => fields.clone(),
            _ => Map::new(),
        };
        meta.insert("phx_ref".into(), json!(format!("F{}", self.next_ref)));
        let tracked = Tracked {
            channel,
            key: key.to_owned(),
            meta: Value::Object(meta),
        };
        let joins = grouped(std::iter::once(&tracked));
        self.topics.entry(topic).or_default().push(tracked);
        json!({ "joins": joins, "leaves": grouped(leaves.iter()) })
    }

    /// Untracks what a channel tracked; the diff to send, if it tracked anything.
    pub fn untrack(&mut self, topic: &TopicKey, channel: u64) -> Option<Value> {
        let leaves = self.remove(topic, channel);
        (!leaves.is_empty()).then(|| json!({ "joins": {}, "leaves": grouped(leaves.iter()) }))
    }

    /// Everyone tracked on a topic, for `presence_state`.
    pub fn state(&self, topic: &TopicKey) -> Value {
        grouped(self.topics.get(topic).into_iter().flatten())
    }

    fn remove(&mut self, topic: &TopicKey, channel: u64) -> Vec<Tracked> {
        let Some(tracked) = self.topics.get_mut(topic) else {
            return Vec::new();
        };
        let (removed, kept) = std::mem::take(tracked)
            .into_iter()
            .partition(|t| t.channel == channel);
        *tracked = kept;
        if tracked.is_empty() {
            self.topics.remove(topic);
        }
        removed
    }
}

fn grouped<'a>(tracked: impl Iterator<Item = &'a Tracked>) -> Value {
    let mut by_key = Map::new();
    for t in tracked {
        let entry = by_key
            .entry(t.key.clone())
            .or_insert_with(|| json!({ "metas": [] }));
        entry["metas"]
            .as_array_mut()
            .expect("metas is an array")
            .push(t.meta.clone());
    }
    Value::Object(by_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic() -> TopicKey {
        (true, "chat:1".into())
    }

    #[test]
    fn tracking_joins_retracking_replaces_and_untracking_leaves() {
        let mut presences = Presences::default();
        let first = presences.track(topic(), 1, "ann", &json!({ "typing": false }));
        assert_eq!(first["joins"]["ann"]["metas"][0]["typing"], false);
        assert_eq!(first["leaves"], json!({}));
        presences.track(topic(), 2, "bob", &json!({}));

        let again = presences.track(topic(), 1, "ann", &json!({ "typing": true }));
        assert_eq!(again["leaves"]["ann"]["metas"][0]["typing"], false);
        assert_eq!(again["joins"]["ann"]["metas"][0]["typing"], true);
        let state = presences.state(&topic());
        assert_eq!(state["ann"]["metas"].as_array().unwrap().len(), 1);
        assert!(state["bob"].is_object());

        let left = presences.untrack(&topic(), 2).unwrap();
        assert!(left["leaves"]["bob"].is_object());
        assert!(presences.state(&topic()).get("bob").is_none());
        assert!(presences.untrack(&topic(), 2).is_none());
        assert_eq!(presences.state(&(false, "chat:1".into())), json!({}));
    }
}
