//! Metered streams: the provider's Server-Sent Events, re-framed for the client as they
//! arrive. Credits settle once the stream has ended, from the usage the provider reported, or,
//! when the client went away first, from what had been produced by then.
//!
//! The provider is read by a pump that runs as work after the response (kept alive by the
//! platform beyond the response) and feeds the body through a channel. So settling never
//! depends on the body stream being polled or dropped: a client that disconnects only closes
//! the channel, which the pump sees at its next send.

use std::collections::VecDeque;
use std::future::Future;

use futures::channel::mpsc;
use futures::stream::{LocalBoxStream, StreamExt};
use serde_json::json;

use crate::config::Config;
use crate::error::ApiError;

use super::provider::{ProviderError, ProviderKind, StreamDelta, TextSize, Usage};
use super::sse::{self, SseDecoder};
use super::{Consumed, MeteredCall};

/// How the client receives the stream.
pub enum Framing {
    /// `/v1/ai/stream-text`: `data: {"text"}` events, then `event: usage` with the token
    /// counts, or `event: error` with the error envelope.
    TextEvents,
    /// OpenAI's `chat.completion.chunk` events and `data: [DONE]`, for `/v1/chat/completions`.
    ChatCompletionChunks {
        id: String,
        created: i64,
        model: String,
        include_usage: bool,
    },
}

impl Framing {
    fn text(&self, text: &str, first: bool) -> Vec<u8> {
        match self {
            Self::TextEvents => sse::event(None, &json!({ "text": text }).to_string()),
            Self::ChatCompletionChunks { .. } => {
                let delta = if first {
                    json!({ "role": "assistant", "content": text })
                } else {
                    json!({ "content": text })
                };
                self.chunk(
                    json!([{ "index": 0, "delta": delta, "finish_reason": null }]),
                    None,
                )
            }
        }
    }

    fn end(&self, usage: Usage) -> Vec<u8> {
        match self {
            Self::TextEvents => sse::event(
                Some("usage"),
                &json!({ "inputTokens": usage.input_tokens, "outputTokens": usage.output_tokens })
                    .to_string(),
            ),
            Self::ChatCompletionChunks { include_usage, .. } => {
                let mut bytes = self.chunk(
                    json!([{ "index": 0, "delta": {}, "finish_reason": "stop" }]),
                    None,
                );
                if *include_usage {
                    bytes.extend(self.chunk(json!([]), Some(usage)));
                }
                bytes.extend(sse::event(None, "[DONE]"));
                bytes
            }
        }
    }

    fn error(&self, error: &ProviderError) -> Vec<u8> {
        let error = ApiError::from(error.clone());
        let envelope = json!({ "error": { "code": error.code(), "message": error.message() } });
        match self {
            Self::TextEvents => sse::event(Some("error"), &envelope.to_string()),
            Self::ChatCompletionChunks { .. } => sse::event(None, &envelope.to_string()),
        }
    }

    fn chunk(&self, choices: serde_json::Value, usage: Option<Usage>) -> Vec<u8> {
        let Self::ChatCompletionChunks {
            id, created, model, ..
        } = self
        else {
            unreachable!("only chat completions are sent as chunks")
        };
        let mut chunk = json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model, "choices": choices,
        });
        if let Some(usage) = usage {
            chunk["usage"] = openai_usage(usage);
        }
        sse::event(None, &chunk.to_string())
    }
}

/// Usage in OpenAI's names.
pub fn openai_usage(usage: Usage) -> serde_json::Value {
    json!({
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
    })
}

/// What a stream has consumed so far.
#[derive(Debug, Default)]
struct Meter {
    produced: TextSize,
    reported: Option<Usage>,
    failure: Option<ProviderError>,
}

impl Meter {
    /// The provider's own count, else an estimate from what was produced (`TextSize`) on top
    /// of the input estimate.
    fn usage(&self, estimated_input_tokens: u32) -> Usage {
        self.reported.unwrap_or(Usage {
            input_tokens: estimated_input_tokens,
            output_tokens: self.produced.estimated_tokens(),
        })
    }
}

struct Relay {
    provider_bytes: LocalBoxStream<'static, Result<Vec<u8>, ProviderError>>,
    provider: ProviderKind,
    decoder: SseDecoder,
    framing: Framing,
    meter: Meter,
    estimated_input_tokens: u32,
    ready: VecDeque<Vec<u8>>,
    ended: bool,
}

impl Relay {
    fn absorb(&mut self, bytes: &[u8]) {
        for data in self.decoder.push(bytes) {
            let event = data.map_err(ProviderError::from);
            match event.and_then(|data| self.provider.parse_stream_event(&data)) {
                Ok(StreamDelta { text, usage, done }) => {
                    if !text.is_empty() {
                        self.ready
                            .push_back(self.framing.text(&text, self.meter.produced.is_empty()));
                        self.meter.produced.add(&text);
                    }
                    self.meter.reported = usage.or(self.meter.reported);
                    if done {
                        return self.finish();
                    }
                }
                Err(error) => return self.fail(error),
            }
        }
    }

    fn finish(&mut self) {
        self.ready.push_back(
            self.framing
                .end(self.meter.usage(self.estimated_input_tokens)),
        );
        self.ended = true;
    }

    /// Headers and maybe text already went out: the error becomes the stream's last event.
    fn fail(&mut self, error: ProviderError) {
        self.ready.push_back(self.framing.error(&error));
        self.meter.failure = Some(error);
        self.ended = true;
    }
}

impl Relay {
    /// Reads the provider until the stream ends or the client is gone (`client` closed),
    /// sending each re-framed chunk as soon as it is ready. Returns what was consumed.
    async fn pump(mut self, client: mpsc::UnboundedSender<Vec<u8>>) -> Meter {
        loop {
            while let Some(chunk) = self.ready.pop_front() {
                if client.unbounded_send(chunk).is_err() {
                    return self.meter;
                }
            }
            if self.ended {
                return self.meter;
            }
            match self.provider_bytes.next().await {
                Some(Ok(bytes)) => self.absorb(&bytes),
                Some(Err(error)) => self.fail(error),
                None => self.finish(),
            }
        }
    }
}

/// The client's stream of `provider_bytes`, and the pump that feeds it and then settles: work
/// for after the response (see `Scope`), so it finishes even when the client goes away
/// mid-stream. `latency_ms` is the time to the provider's first byte.
pub fn metered(
    config: Config,
    call: MeteredCall,
    provider_bytes: LocalBoxStream<'static, Result<Vec<u8>, ProviderError>>,
    framing: Framing,
    estimated_input_tokens: u32,
    latency_ms: u32,
    prompt: String,
) -> (
    LocalBoxStream<'static, Vec<u8>>,
    impl Future<Output = Option<String>>,
) {
    let (client, chunks) = mpsc::unbounded();
    let relay = Relay {
        provider_bytes,
        provider: call.provider,
        decoder: SseDecoder::default(),
        framing,
        meter: Meter::default(),
        estimated_input_tokens,
        ready: VecDeque::new(),
        ended: false,
    };
    let pump = async move {
        let meter = relay.pump(client).await;
        let nothing_produced = meter.produced.is_empty() && meter.reported.is_none();
        let outcome = match &meter.failure {
            Some(error) if nothing_produced => Err(error.code()),
            _ => Ok(Consumed {
                usage: meter.usage(estimated_input_tokens),
                images: 0,
            }),
        };
        super::finish_logged(&config, &call, outcome, latency_ms, &prompt).await
    };
    (chunks.boxed_local(), pump)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay(provider: ProviderKind, framing: Framing) -> Relay {
        Relay {
            provider_bytes: futures::stream::empty().boxed_local(),
            provider,
            decoder: SseDecoder::default(),
            framing,
            meter: Meter::default(),
            estimated_input_tokens: 10,
            ready: VecDeque::new(),
            ended: false,
        }
    }

    fn sent(relay: &mut Relay) -> String {
        relay
            .ready
            .drain(..)
            .map(|chunk| String::from_utf8(chunk).unwrap())
            .collect()
    }

    #[test]
    fn reframes_openai_chunks_as_text_events_with_the_reported_usage() {
        let mut relay = relay(ProviderKind::Openai, Framing::TextEvents);
        relay.absorb(b"data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"con");
        relay.absorb(b"tent\":\"lo\"}}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\n");
        assert!(!relay.ended);
        relay.absorb(b"data: [DONE]\n\n");
        assert!(relay.ended);
        assert_eq!(
            sent(&mut relay),
            "data: {\"text\":\"Hel\"}\n\ndata: {\"text\":\"lo\"}\n\nevent: usage\ndata: {\"inputTokens\":3,\"outputTokens\":2}\n\n"
        );
    }

    #[test]
    fn reframes_gemini_events_as_chat_completion_chunks() {
        let framing = Framing::ChatCompletionChunks {
            id: "chatcmpl-1".into(),
            created: 7,
            model: "m".into(),
            include_usage: true,
        };
        let mut relay = relay(ProviderKind::Gemini, framing);
        relay.absorb(b"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}]}}],\"usageMetadata\":{\"promptTokenCount\":4,\"candidatesTokenCount\":1}}\r\n\r\n");
        relay.finish();
        let events: Vec<serde_json::Value> = sent(&mut relay)
            .split("\n\n")
            .filter_map(|event| event.strip_prefix("data: "))
            .filter(|data| *data != "[DONE]")
            .map(|data| serde_json::from_str(data).unwrap())
            .collect();
        assert_eq!(
            events[0]["choices"][0]["delta"],
            json!({"role": "assistant", "content": "Hi"})
        );
        assert_eq!(events[1]["choices"][0]["finish_reason"], "stop");
        assert_eq!(
            events[2]["usage"],
            json!({"prompt_tokens": 4, "completion_tokens": 1, "total_tokens": 5})
        );
        assert!(
            events
                .iter()
                .all(|event| event["object"] == "chat.completion.chunk"
                    && event["id"] == "chatcmpl-1")
        );
    }

    #[test]
    fn a_provider_error_mid_stream_is_the_last_event_without_the_providers_words() {
        let mut relay = relay(ProviderKind::Openai, Framing::TextEvents);
        relay.absorb(b"data: {\"choices\":[{\"delta\":{\"content\":\"partial\"}}]}\n\ndata: {\"error\":{\"message\":\"raw provider text\"}}\n\n");
        let sent = sent(&mut relay);
        assert!(relay.ended && sent.ends_with("event: error\ndata: {\"error\":{\"code\":\"provider_unavailable\",\"message\":\"The AI provider is unavailable. Try again later.\"}}\n\n"));
        assert!(!sent.contains("raw provider text"));
        assert_eq!(
            relay.meter.usage(10),
            Usage {
                input_tokens: 10,
                output_tokens: 2
            },
            "what was produced is charged"
        );
    }

    fn provider(events: &[&str]) -> LocalBoxStream<'static, Result<Vec<u8>, ProviderError>> {
        let frames: Vec<_> = events
            .iter()
            .map(|data| Ok(format!("data: {data}\n\n").into_bytes()))
            .collect();
        futures::stream::iter(frames).boxed_local()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_pump_relays_everything_then_reports_usage() {
        let mut relay = relay(ProviderKind::Openai, Framing::TextEvents);
        relay.provider_bytes = provider(&[
            r#"{"choices":[{"delta":{"content":"a"}}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1}}"#,
            "[DONE]",
        ]);
        let (client, chunks) = mpsc::unbounded();
        let meter = relay.pump(client).await;
        assert_eq!(
            meter.usage(10),
            Usage {
                input_tokens: 1,
                output_tokens: 1
            }
        );
        assert_eq!(
            chunks.collect::<Vec<_>>().await.len(),
            2,
            "the text, then the usage event"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_client_gone_mid_stream_stops_the_pump_with_what_was_produced() {
        let mut relay = relay(ProviderKind::Openai, Framing::TextEvents);
        relay.provider_bytes = provider(&[
            r#"{"choices":[{"delta":{"content":"12345678"}}]}"#,
            r#"{"choices":[{"delta":{"content":"never read"}}]}"#,
        ]);
        let (client, chunks) = mpsc::unbounded();
        drop(chunks);
        let meter = relay.pump(client).await;
        assert_eq!(
            meter.usage(5),
            Usage {
                input_tokens: 5,
                output_tokens: 2
            },
            "charged for the first piece only"
        );
        assert!(meter.failure.is_none());
    }
}
