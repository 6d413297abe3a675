//! Platform-neutral request and response: the domain code never sees `worker` types, so it
//! runs and is tested on the host.

pub mod cors;
pub mod cx;
pub mod extract;
pub mod redirect;
pub mod router;
pub mod spelling;

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
}

impl Method {
    /// Parses a request method; `None` for anything this worker never routes (e.g. TRACE).
    pub fn parse(method: &str) -> Option<Self> {
        Some(match method.to_ascii_uppercase().as_str() {
            "GET" => Self::Get,
            "HEAD" => Self::Head,
            "POST" => Self::Post,
            "PUT" => Self::Put,
            "PATCH" => Self::Patch,
            "DELETE" => Self::Delete,
            "OPTIONS" => Self::Options,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Options => "OPTIONS",
        }
    }
}

/// Header list with case-insensitive lookup (names as received).
#[derive(Clone, Debug, Default)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The headers of `header_lines`' form.
    pub fn from_lines(lines: &str) -> Self {
        let mut parts = lines.split('\n');
        let mut pairs = Vec::new();
        while let (Some(name), Some(value)) = (parts.next(), parts.next()) {
            pairs.push((name.to_owned(), value.to_owned()));
        }
        Self(pairs)
    }
}

/// Headers as one string of `name\nvalue` lines: how they cross the wasm boundary in one piece
/// (see `glue.js`). `None` when a name or value holds a line break, which no valid header does.
pub fn header_lines<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<String> {
    let mut lines = String::new();
    for (name, value) in pairs {
        if name.contains('\n') || value.contains('\n') {
            return None;
        }
        if !lines.is_empty() {
            lines.push('\n');
        }
        lines.push_str(name);
        lines.push('\n');
        lines.push_str(value);
    }
    Some(lines)
}

impl FromIterator<(String, String)> for Headers {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Self {
        Self(pairs.into_iter().collect())
    }
}

#[derive(Clone, Debug)]
pub struct Request {
    /// The raw method text, kept so logs show what was actually sent; route with [`Method::parse`].
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: Headers,
    pub body: Vec<u8>,
}

impl Request {
    /// A request from its head as the platform glue gives it: the method, path and query
    /// (empty when there is none) on a line each, then the headers in `header_lines`' form.
    /// `None` when a line is missing. The body is read later, once routing knows its limit.
    pub fn from_head(head: &str) -> Option<Self> {
        let mut lines = head.splitn(4, '\n');
        let (method, path, query) = (lines.next()?, lines.next()?, lines.next()?);
        Some(Self {
            method: method.to_owned(),
            path: path.to_owned(),
            query: (!query.is_empty()).then(|| query.to_owned()),
            headers: Headers::from_lines(lines.next()?),
            body: Vec::new(),
        })
    }

    /// `Err` when the declared `Content-Length` is over `limit`: the body need not be read to
    /// refuse it. A missing or unreadable length leaves it to the bounded read.
    pub fn declared_length_fits(&self, limit: usize) -> Result<(), BodyError> {
        let Some(declared) = self.headers.get("content-length").map(str::trim) else {
            return Ok(());
        };
        let is_length = !declared.is_empty() && declared.bytes().all(|b| b.is_ascii_digit());
        // Digits past u64 are over any limit too.
        let over = |length: &str| length.parse::<u64>().map_or(true, |n| n > limit as u64);
        if is_length && over(declared) {
            return Err(BodyError::TooLarge { limit });
        }
        Ok(())
    }
}

/// Why a request's body was not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyError {
    /// Over the route's limit: by its `Content-Length`, or as soon as the read passed it.
    TooLarge { limit: usize },
    /// The client's stream broke off (the cause, for the log).
    Unreadable(String),
}

/// A request body not read yet: the pipeline reads it only for a routed endpoint, with that
/// endpoint's limit, so an unknown route's body or an oversized one is never buffered.
#[allow(async_fn_in_trait)] // Used in this crate only, on one thread.
pub trait UnreadBody {
    /// The whole body, or `TooLarge` once more than `limit` bytes arrive.
    async fn read(self, limit: usize) -> Result<Vec<u8>, BodyError>;
}

/// A body already in memory (the host's tests) is held to the same limit.
impl UnreadBody for Vec<u8> {
    async fn read(self, limit: usize) -> Result<Vec<u8>, BodyError> {
        if self.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        Ok(self)
    }
}

/// Response body: whole, or streamed chunk by chunk (Server-Sent Events from the AI proxy,
/// produced by work the request defers; see `Scope`).
pub enum Body {
    Bytes(Vec<u8>),
    Stream(futures::stream::LocalBoxStream<'static, Vec<u8>>),
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bytes(bytes) => write!(f, "Bytes({} bytes)", bytes.len()),
            Self::Stream(_) => f.write_str("Stream"),
        }
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

/// A database row's keys in camelCase, as the worker's API writes JSON (issue #26: one casing);
/// the values are left as they are.
pub fn camel_case_keys(row: serde_json::Value) -> serde_json::Value {
    let serde_json::Value::Object(fields) = row else {
        return row;
    };
    let camel = |key: &str| {
        let mut out = String::with_capacity(key.len());
        let mut upper = false;
        for c in key.chars() {
            if c == '_' {
                upper = true;
            } else if upper {
                out.push(c.to_ascii_uppercase());
                upper = false;
            } else {
                out.push(c);
            }
        }
        out
    };
    fields
        .into_iter()
        .map(|(key, value)| (camel(&key), value))
        .collect()
}

impl Response {
    pub fn json(status: u16, value: &impl Serialize) -> Self {
        let bytes = serde_json::to_vec(value).expect("response values serialize to JSON");
        Self::with_json_bytes(status, bytes)
    }

    /// A response without a body (`204 No Content`).
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Body::Bytes(Vec::new()),
        }
    }

    /// A response whose body is already serialized JSON (e.g. a committed document).
    pub fn with_json_bytes(status: u16, bytes: Vec<u8>) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Body::Bytes(bytes),
        }
    }

    /// A `text/event-stream` response (Server-Sent Events).
    pub fn event_stream(chunks: futures::stream::LocalBoxStream<'static, Vec<u8>>) -> Self {
        Self {
            status: 200,
            headers: vec![
                (
                    "content-type".into(),
                    "text/event-stream; charset=utf-8".into(),
                ),
                ("cache-control".into(), "no-cache".into()),
            ],
            body: Body::Stream(chunks),
        }
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// A whole body as text, for assertions.
    #[cfg(test)]
    pub fn body_text(&self) -> String {
        match &self.body {
            Body::Bytes(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            Body::Stream(_) => panic!("a streamed body has no text until it is read"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_come_out_in_camel_case() {
        assert_eq!(
            camel_case_keys(serde_json::json!({"steps_total": 5, "id": "x", "error_code": null})),
            serde_json::json!({"stepsTotal": 5, "id": "x", "errorCode": null})
        );
    }

    #[test]
    fn headers_survive_the_line_form_with_empty_values_and_repeated_names() {
        let pairs = [
            ("Authorization", "Bearer a.b.c"),
            ("x-empty", ""),
            ("accept", "text/plain"),
            ("Accept", "application/json"),
        ];
        let lines = header_lines(pairs).expect("no line breaks");
        assert_eq!(
            lines,
            "Authorization\nBearer a.b.c\nx-empty\n\naccept\ntext/plain\nAccept\napplication/json"
        );
        let headers = Headers::from_lines(&lines);
        assert_eq!(headers.get("authorization"), Some("Bearer a.b.c"));
        assert_eq!(headers.get("X-Empty"), Some(""));
        assert_eq!(headers.get("accept"), Some("text/plain"));
        assert_eq!(headers.0.len(), 4);
    }

    #[test]
    fn a_request_head_gives_method_path_query_and_headers() {
        let request = Request::from_head(
            "POST\n/v1/ai/generate-text\nteam=a&b=%0A\nauthorization\nBearer t\nx-empty\n",
        )
        .expect("a whole head");
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/v1/ai/generate-text");
        assert_eq!(request.query.as_deref(), Some("team=a&b=%0A"));
        assert_eq!(request.headers.get("Authorization"), Some("Bearer t"));
        assert_eq!(request.headers.get("x-empty"), Some(""));
        assert!(request.body.is_empty(), "read after routing");

        let bare = Request::from_head("GET\n/healthz\n\n").expect("a whole head");
        assert_eq!((bare.query, bare.headers.get("accept")), (None, None));
        assert!(Request::from_head("GET\n/healthz").is_none());
    }

    #[test]
    fn a_declared_length_over_the_limit_is_refused_and_anything_else_left_to_the_read() {
        let with_length = |length: &str| Request {
            headers: [("Content-Length".to_owned(), length.to_owned())]
                .into_iter()
                .collect(),
            ..Request::from_head("POST\n/\n\n").unwrap()
        };
        let too_large = Err(BodyError::TooLarge { limit: 10 });
        for (length, verdict) in [
            ("10", Ok(())),
            ("0", Ok(())),
            ("11", too_large.clone()),
            (" 11 ", too_large.clone()),
            ("99999999999999999999999", too_large.clone()),
            ("", Ok(())),
            ("-1", Ok(())),
            ("1e3", Ok(())),
            ("ten", Ok(())),
        ] {
            assert_eq!(
                with_length(length).declared_length_fits(10),
                verdict,
                "{length:?}"
            );
        }
        let unread = Request::from_head("POST\n/\n\n").unwrap();
        assert_eq!(unread.declared_length_fits(0), Ok(()));
    }

    #[tokio::test]
    async fn a_body_in_memory_is_held_to_the_same_limit() {
        assert_eq!(b"12345".to_vec().read(5).await, Ok(b"12345".to_vec()));
        assert_eq!(
            b"123456".to_vec().read(5).await,
            Err(BodyError::TooLarge { limit: 5 })
        );
    }

    #[test]
    fn no_headers_is_the_empty_string_and_a_line_break_cannot_be_sent() {
        assert_eq!(header_lines([]).as_deref(), Some(""));
        assert_eq!(Headers::from_lines("").0.len(), 0);
        assert_eq!(header_lines([("x-a", "one\ntwo")]), None);
        assert_eq!(header_lines([("x-a\nx-b", "one")]), None);
    }
}
