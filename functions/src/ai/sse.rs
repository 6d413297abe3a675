//! Server-Sent Events framing (the WHATWG `text/event-stream` format): decoding the providers'
//! streams into `data` payloads, and encoding the worker's own events.

use super::provider::ProviderError;

/// Splits a byte stream into events and returns each event's `data` (multi-line data joined
/// with `\n`). Chunks may cut anywhere, even inside a UTF-8 character or a line ending. Each
/// byte is scanned once, however the stream is cut, and one event may hold at most
/// `max_event_bytes`: past that the stream is refused, not buffered.
pub struct SseDecoder {
    pending: Vec<u8>,
    /// Where in `pending` the next separator search starts: no separator starts before it.
    scanned: usize,
    max_event_bytes: usize,
}

/// 1 MiB: far above any provider's event (a few hundred bytes of JSON per token).
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// An event grew past `max_event_bytes` without ending.
#[derive(Debug, PartialEq, Eq)]
pub struct EventTooLarge {
    pub max_event_bytes: usize,
}

impl From<EventTooLarge> for ProviderError {
    fn from(error: EventTooLarge) -> Self {
        ProviderError::Malformed(format!(
            "a stream event longer than {} bytes",
            error.max_event_bytes
        ))
    }
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::with_max_event_bytes(MAX_EVENT_BYTES)
    }
}

impl SseDecoder {
    pub fn with_max_event_bytes(max_event_bytes: usize) -> Self {
        Self {
            pending: Vec::new(),
            scanned: 0,
            max_event_bytes,
        }
    }

    /// The events `chunk` completed; an `Err` last when the event still open is too large
    /// (what it held is dropped, and the stream should end).
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Result<String, EventTooLarge>> {
        self.pending.extend_from_slice(chunk);
        let mut payloads = Vec::new();
        let mut event_start = 0;
        while let Some((end, separator_len)) = event_end(&self.pending, self.scanned) {
            let event = &self.pending[event_start..end];
            if let Some(data) = data_of(&String::from_utf8_lossy(event)) {
                payloads.push(Ok(data));
            }
            event_start = end + separator_len;
            self.scanned = event_start;
        }
        self.pending.drain(..event_start);
        // A separator may begin in the last three bytes and end in the next chunk.
        self.scanned = self.pending.len().saturating_sub(3);
        if self.pending.len() > self.max_event_bytes {
            self.pending = Vec::new();
            self.scanned = 0;
            payloads.push(Err(EventTooLarge {
                max_event_bytes: self.max_event_bytes,
            }));
        }
        payloads
    }
}

/// Where the first complete event at or after `from` ends (a blank line) and how long its
/// separator is.
fn event_end(bytes: &[u8], from: usize) -> Option<(usize, usize)> {
    (from..bytes.len()).find_map(|i| {
        let rest = &bytes[i..];
        if rest.starts_with(b"\r\n\r\n") {
            Some((i, 4))
        } else if rest.starts_with(b"\n\n") || rest.starts_with(b"\r\r") {
            Some((i, 2))
        } else {
            None
        }
    })
}

fn data_of(event: &str) -> Option<String> {
    let lines: Vec<&str> = event
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(|value| value.strip_prefix(' ').unwrap_or(value))
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// One event; `data` must be a single line (JSON is).
pub fn event(name: Option<&str>, data: &str) -> Vec<u8> {
    let name = name
        .map(|name| format!("event: {name}\n"))
        .unwrap_or_default();
    format!("{name}data: {data}\n\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(decoder: &mut SseDecoder, chunk: &[u8]) -> Vec<String> {
        decoder
            .push(chunk)
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn decodes_events_cut_anywhere() {
        let stream = "data: {\"a\":1}\n\n: comment\n\nevent: x\r\ndata: two\r\ndata: lines\r\n\r\ndata: [DONE]\n\n";
        for cut in 0..stream.len() {
            for second_cut in cut..stream.len() {
                let mut decoder = SseDecoder::default();
                let bytes = stream.as_bytes();
                let mut payloads = decoded(&mut decoder, &bytes[..cut]);
                payloads.extend(decoded(&mut decoder, &bytes[cut..second_cut]));
                payloads.extend(decoded(&mut decoder, &bytes[second_cut..]));
                assert_eq!(
                    payloads,
                    ["{\"a\":1}", "two\nlines", "[DONE]"],
                    "cut at {cut} and {second_cut}"
                );
            }
        }
    }

    #[test]
    fn keeps_an_incomplete_event_for_later() {
        let mut decoder = SseDecoder::default();
        assert!(decoder.push("data: é".as_bytes()).is_empty());
        assert_eq!(decoded(&mut decoder, b"\n\n"), ["é"]);
    }

    #[test]
    fn refuses_an_event_past_the_cap_and_keeps_what_came_before() {
        let mut decoder = SseDecoder::with_max_event_bytes(64);
        let mut chunk = b"data: small\n\ndata: ".to_vec();
        chunk.extend([b'x'; 100]);
        assert_eq!(
            decoder.push(&chunk),
            [
                Ok("small".to_owned()),
                Err(EventTooLarge {
                    max_event_bytes: 64
                })
            ]
        );
        assert!(
            decoder.pending.is_empty(),
            "the oversized event is not kept"
        );
        assert!(matches!(
            ProviderError::from(EventTooLarge {
                max_event_bytes: 64
            }),
            ProviderError::Malformed(_)
        ));
    }

    #[test]
    fn an_event_arriving_byte_by_byte_is_scanned_once() {
        // Rescanning the pending bytes from the start on every chunk made this quadratic
        // (~3·10¹⁰ comparisons, a minute); once, it takes milliseconds.
        const LENGTH: usize = 256 << 10;
        let mut decoder = SseDecoder::default();
        let started = std::time::Instant::now();
        decoder.push(b"data: ");
        for _ in 0..LENGTH {
            assert!(decoder.push(b"x").is_empty());
        }
        let events = decoded(&mut decoder, b"\n\n");
        assert_eq!(events[0].len(), LENGTH);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn encodes_events() {
        assert_eq!(event(None, "{}"), b"data: {}\n\n");
        assert_eq!(event(Some("usage"), "{}"), b"event: usage\ndata: {}\n\n");
    }
}
