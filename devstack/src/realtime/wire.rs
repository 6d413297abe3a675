//! Phoenix channel frames as the official clients send them: serializer 1.0.0 (JSON objects;
//! supabase-py) and 2.0.0 (JSON arrays, plus a binary frame for a client's broadcast;
//! realtime-js). The server answers in JSON in both.

use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Vsn {
    V1,
    V2,
}

impl Vsn {
    /// The `vsn` a client asks for in the socket's query; Phoenix's default is 1.0.0.
    pub fn from_query(query: Option<&str>) -> Vsn {
        let asks_v2 = query
            .unwrap_or_default()
            .split('&')
            .any(|pair| pair == "vsn=2.0.0");
        if asks_v2 {
            Vsn::V2
        } else {
            Vsn::V1
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub join_ref: Option<String>,
    pub msg_ref: Option<String>,
    pub topic: String,
    pub event: String,
    pub payload: Value,
}

/// The kind byte of realtime-js's binary broadcast from a client.
const USER_BROADCAST_PUSH: u8 = 3;
const JSON_ENCODING: u8 = 1;

impl Message {
    /// A server push that answers no request.
    pub fn push(topic: &str, event: &str, payload: Value) -> Message {
        Message {
            join_ref: None,
            msg_ref: None,
            topic: topic.to_owned(),
            event: event.to_owned(),
            payload,
        }
    }

    /// `phx_reply` to `request`: `{status, response}`.
    pub fn reply(request: &Message, status: &str, response: Value) -> Message {
        Message {
            join_ref: request.join_ref.clone(),
            msg_ref: request.msg_ref.clone(),
            topic: request.topic.clone(),
            event: "phx_reply".into(),
            payload: json!({ "status": status, "response": response }),
        }
    }

    pub fn encode(&self, vsn: Vsn) -> String {
        let value = match vsn {
            Vsn::V1 => json!({
                "join_ref": self.join_ref,
                "ref": self.msg_ref,
                "topic": self.topic,
                "event": self.event,
                "payload": self.payload,
            }),
            Vsn::V2 => json!([
                self.join_ref,
                self.msg_ref,
                self.topic,
                self.event,
                self.payload
            ]),
        };
        value.to_string()
    }

    pub fn decode_text(vsn: Vsn, text: &str) -> Result<Message, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let optional = |v: &Value| v.as_str().map(str::to_owned);
        let (join_ref, msg_ref, topic, event, payload) = match (vsn, &value) {
            (Vsn::V1, Value::Object(o)) => (
                o.get("join_ref").and_then(optional),
                o.get("ref").and_then(optional),
                o.get("topic"),
                o.get("event"),
                o.get("payload"),
            ),
            (Vsn::V2, Value::Array(a)) if a.len() == 5 => (
                optional(&a[0]),
                optional(&a[1]),
                a.get(2),
                a.get(3),
                a.get(4),
            ),
            _ => return Err(format!("not a {vsn:?} Phoenix message")),
        };
        let text_of = |v: Option<&Value>, name: &str| {
            v.and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or(format!("the message has no {name}"))
        };
        Ok(Message {
            join_ref,
            msg_ref,
            topic: text_of(topic, "topic")?,
            event: text_of(event, "event")?,
            payload: payload.cloned().unwrap_or(Value::Null),
        })
    }

    /// realtime-js's binary broadcast: a kind byte, five lengths and an encoding byte, then the
    /// join ref, ref, topic, user event and metadata, then the user's payload.
    pub fn decode_binary(frame: &[u8]) -> Result<Message, String> {
        let [kind, join_ref_len, ref_len, topic_len, event_len, meta_len, encoding, rest @ ..] =
            frame
        else {
            return Err("binary frame too short".into());
        };
        if *kind != USER_BROADCAST_PUSH {
            return Err(format!("binary frame of unknown kind {kind}"));
        }
        let mut rest = rest;
        let mut field = |len: u8| -> Result<String, String> {
            let len = usize::from(len);
            if rest.len() < len {
                return Err("binary frame too short".into());
            }
            let (head, tail) = rest.split_at(len);
            rest = tail;
            String::from_utf8(head.to_vec()).map_err(|e| e.to_string())
        };
        let join_ref = field(*join_ref_len)?;
        let msg_ref = field(*ref_len)?;
        let topic = field(*topic_len)?;
        let user_event = field(*event_len)?;
        field(*meta_len)?;
        if *encoding != JSON_ENCODING {
            return Err("binary broadcast payloads are not supported locally".into());
        }
        let user_payload: Value = serde_json::from_slice(rest).map_err(|e| e.to_string())?;
        let present = |s: String| (!s.is_empty()).then_some(s);
        Ok(Message {
            join_ref: present(join_ref),
            msg_ref: present(msg_ref),
            topic,
            event: "broadcast".into(),
            payload: json!({ "type": "broadcast", "event": user_event, "payload": user_payload }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_objects_and_v2_arrays_carry_the_same_message() {
        let v1 = r#"{"topic":"realtime:a","event":"phx_join","payload":{"x":1},"ref":"1","join_ref":"1"}"#;
        let v2 = r#"["1","1","realtime:a","phx_join",{"x":1}]"#;
        let from_v1 = Message::decode_text(Vsn::V1, v1).unwrap();
        assert_eq!(from_v1, Message::decode_text(Vsn::V2, v2).unwrap());
        assert_eq!(from_v1.msg_ref.as_deref(), Some("1"));
        let reply = Message::reply(&from_v1, "ok", json!({}));
        assert_eq!(
            reply.encode(Vsn::V2),
            r#"["1","1","realtime:a","phx_reply",{"response":{},"status":"ok"}]"#
        );
        let object: Value = serde_json::from_str(&reply.encode(Vsn::V1)).unwrap();
        assert_eq!(object["payload"]["status"], "ok");
        assert_eq!(object["ref"], "1");
        assert!(Message::decode_text(Vsn::V2, v1).is_err());
    }

    #[test]
    fn the_vsn_is_read_from_the_query() {
        assert_eq!(Vsn::from_query(Some("apikey=k&vsn=2.0.0")), Vsn::V2);
        assert_eq!(Vsn::from_query(Some("apikey=k&vsn=1.0.0")), Vsn::V1);
        assert_eq!(Vsn::from_query(None), Vsn::V1);
    }

    #[test]
    fn a_binary_broadcast_becomes_a_broadcast_message() {
        let (join_ref, msg_ref, topic, event) = ("4", "", "realtime:chat:1", "typing");
        let mut frame = vec![
            USER_BROADCAST_PUSH,
            join_ref.len() as u8,
            msg_ref.len() as u8,
            topic.len() as u8,
            event.len() as u8,
            0,
            JSON_ENCODING,
        ];
        for part in [join_ref, msg_ref, topic, event] {
            frame.extend_from_slice(part.as_bytes());
        }
        frame.extend_from_slice(br#"{"who":"ann"}"#);
        let message = Message::decode_binary(&frame).unwrap();
        assert_eq!(message.join_ref.as_deref(), Some("4"));
        assert_eq!(message.msg_ref, None);
        assert_eq!(message.topic, topic);
        assert_eq!(
            message.payload,
            json!({ "type": "broadcast", "event": "typing", "payload": { "who": "ann" } })
        );
        assert!(Message::decode_binary(&frame[..9]).is_err());
    }
}
