//! Server-Sent Events framing (the WHATWG `text/event-stream` format): decoding the providers'
//! streams into `data` payloads, and encoding the worker's own events.

/// Splits a byte stream into events and returns each event's `data` (multi-line data joined
/// with `\n`). Chunks may cut anywhere, even inside a UTF-8 character or a line ending.
#[derive(Default)]
pub struct SseDecoder {
    pending: Vec<u8>,
}

impl SseDecoder {
    pub fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(chunk);
        let mut payloads = Vec::new();
        while let Some((end, separator_len)) = event_end(&self.pending) {
            let event: Vec<u8> = self
                .pending
                .drain(..end + separator_len)
                .take(end)
                .collect();
            if let Some(data) = data_of(&String::from_utf8_lossy(&event)) {
                payloads.push(data);
            }
        }
        payloads
    }
}

/// Where the first complete event ends (a blank line) and how long its separator is.
fn event_end(bytes: &[u8]) -> Option<(usize, usize)> {
    (0..bytes.len()).find_map(|i| {
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

    #[test]
    fn decodes_events_cut_anywhere() {
        let stream = "data: {\"a\":1}\n\n: comment\n\nevent: x\r\ndata: two\r\ndata: lines\r\n\r\ndata: [DONE]\n\n";
        for cut in 0..stream.len() {
            let mut decoder = SseDecoder::default();
            let mut payloads = decoder.push(&stream.as_bytes()[..cut]);
            payloads.extend(decoder.push(&stream.as_bytes()[cut..]));
            assert_eq!(
                payloads,
                ["{\"a\":1}", "two\nlines", "[DONE]"],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn keeps_an_incomplete_event_for_later() {
        let mut decoder = SseDecoder::default();
        assert!(decoder.push("data: é".as_bytes()).is_empty());
        assert_eq!(decoder.push(b"\n\n"), ["é"]);
    }

    #[test]
    fn encodes_events() {
        assert_eq!(event(None, "{}"), b"data: {}\n\n");
        assert_eq!(event(Some("usage"), "{}"), b"event: usage\ndata: {}\n\n");
    }
}
