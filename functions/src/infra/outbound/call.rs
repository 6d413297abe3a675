//! The one description of an outbound HTTP call and of its answer. The sans-IO adapters (AI
//! providers, social platforms, publishing) build a [`Call`] and read a [`Reply`] as pure
//! functions; [`super::exchange`] sends it.

use serde_json::Value;

use crate::infra::retry::parse_retry_after;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

#[derive(Debug, PartialEq)]
pub enum Body {
    Empty,
    Json(Value),
    /// `application/x-www-form-urlencoded`.
    Form(Vec<(&'static str, String)>),
    Bytes {
        content_type: String,
        bytes: bytes::Bytes,
    },
}

/// The file of a `multipart/form-data` body: its part's name, file name, type and bytes.
pub struct FilePart<'a> {
    pub field: &'a str,
    pub filename: &'a str,
    pub content_type: &'a str,
    pub bytes: &'a [u8],
}

/// `text` form-urlencoded, for a URL path segment or query value.
pub fn url_encoded(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// One request, with the real public URL (a sender may point it elsewhere for tests).
#[derive(Debug, PartialEq)]
pub struct Call {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Body,
}

impl Call {
    /// A call without credentials (token endpoints, upload URLs that carry their own).
    pub fn unauthenticated(method: Method, url: impl Into<String>) -> Self {
        Self {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Body::Empty,
        }
    }

    /// A call made with `access_token` as its bearer.
    pub fn new(method: Method, url: impl Into<String>, access_token: &str) -> Self {
        Self::unauthenticated(method, url).header("authorization", format!("Bearer {access_token}"))
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Appends these query parameters to the URL, form-urlencoded.
    pub fn query(mut self, pairs: &[(&str, &str)]) -> Self {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.url = format!("{}{separator}{query}", self.url);
        self
    }

    pub fn json(mut self, body: Value) -> Self {
        self.body = Body::Json(body);
        self
    }

    pub fn form(mut self, form: Vec<(&'static str, String)>) -> Self {
        self.body = Body::Form(form);
        self
    }

    pub fn bytes(mut self, content_type: &str, bytes: impl Into<bytes::Bytes>) -> Self {
        self.body = Body::Bytes {
            content_type: content_type.to_owned(),
            bytes: bytes.into(),
        };
        self
    }

    /// A `multipart/form-data` body (RFC 7578): the text `fields`, then `file` as the part
    /// `file.field` with its file name and type, between a random 128-bit boundary no content
    /// can be expected to hold.
    pub fn multipart(self, fields: &[(&str, &str)], file: FilePart<'_>) -> Self {
        let boundary = format!("pixa-{}", crate::infra::hex::random_128());
        let mut body = Vec::with_capacity(file.bytes.len() + 512);
        for (name, value) in fields {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
                file.field, file.filename, file.content_type
            )
            .as_bytes(),
        );
        body.extend_from_slice(file.bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        self.bytes(&format!("multipart/form-data; boundary={boundary}"), body)
    }

    /// The host, to name the call in a log line: the URL's query could carry a token.
    pub fn host(&self) -> &str {
        self.url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split(['/', '?']).next())
            .unwrap_or("platform")
    }

    /// The JSON body, for tests that read what an adapter built.
    #[cfg(test)]
    pub fn json_body(&self) -> &Value {
        match &self.body {
            Body::Json(value) => value,
            other => panic!("not a JSON body: {other:?}"),
        }
    }

    /// A field of the form body.
    #[cfg(test)]
    pub fn form_value(&self, name: &str) -> Option<&str> {
        match &self.body {
            Body::Form(form) => form
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.as_str()),
            _ => None,
        }
    }
}

/// An answer: its status, body and headers. The headers of a received answer stay with the
/// platform until asked for (rarely: a `retry-after`, a `location`).
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    headers: Headers,
}

enum Headers {
    Received(super::platform::ReplyHeaders),
    Listed(Vec<(String, String)>),
}

impl Reply {
    pub(super) fn received(
        status: u16,
        body: Vec<u8>,
        headers: super::platform::ReplyHeaders,
    ) -> Self {
        Self {
            status,
            body,
            headers: Headers::Received(headers),
        }
    }

    /// An answer made by hand (tests, and adapters that reclassify one).
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            body: body.into(),
            headers: Headers::Listed(Vec::new()),
        }
    }

    /// A 200 with this JSON body.
    pub fn ok_json(body: Value) -> Self {
        Self::new(200, body.to_string())
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        if let Headers::Listed(headers) = &mut self.headers {
            headers.push((name.to_owned(), value.into()));
        }
        self
    }

    pub fn header(&self, name: &str) -> Option<String> {
        match &self.headers {
            Headers::Received(headers) => headers.get(name),
            Headers::Listed(headers) => headers
                .iter()
                .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.clone()),
        }
    }

    /// `Retry-After` in seconds (see [`parse_retry_after`]).
    pub fn retry_after(&self) -> Option<u64> {
        parse_retry_after(&self.header("retry-after")?)
    }

    pub fn succeeded(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON; `Null` when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The start of the body, for a log line: enough to diagnose, bounded in size.
    pub fn body_excerpt(&self) -> String {
        crate::error::excerpt(&String::from_utf8_lossy(&self.body))
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Reply({}, {} bytes)", self.status, self.body.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multipart_body_holds_each_field_then_the_file_between_its_boundaries() {
        let file = FilePart {
            field: "source",
            filename: "photo",
            content_type: "image/png",
            bytes: b"PNG-BYTES",
        };
        let call = Call::new(Method::Post, "https://graph.example/1/photos", "t")
            .multipart(&[("caption", "Hello")], file);
        let Body::Bytes {
            content_type,
            bytes,
        } = &call.body
        else {
            panic!("{:?}", call.body);
        };
        let boundary = content_type
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap();
        assert_eq!(boundary.len(), "pixa-".len() + 32);
        let expected = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\nHello\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"source\"; filename=\"photo\"\r\n\
             Content-Type: image/png\r\n\r\nPNG-BYTES\r\n--{boundary}--\r\n"
        );
        assert_eq!(std::str::from_utf8(bytes).unwrap(), expected);
    }

    #[test]
    fn names_a_call_by_its_host_only() {
        let call = Call::new(
            Method::Get,
            "https://graph.example/v1/me?access_token=t",
            "t",
        );
        assert_eq!(call.host(), "graph.example");
        assert_eq!(
            Call::unauthenticated(Method::Get, "https://up.example?sig=s").host(),
            "up.example"
        );
    }

    #[test]
    fn query_parameters_are_form_urlencoded_after_any_in_the_url() {
        let call = Call::new(Method::Get, "https://api.example/feed?limit=25", "t")
            .query(&[("since", "2026-12-07T11:00:00+00:00"), ("q", "a b&c")]);
        assert_eq!(
            call.url,
            "https://api.example/feed?limit=25&since=2026-12-07T11%3A00%3A00%2B00%3A00&q=a+b%26c"
        );
        let bare = Call::new(Method::Get, "https://api.example/posts", "t").query(&[("q", "x")]);
        assert_eq!(bare.url, "https://api.example/posts?q=x");
    }

    #[test]
    fn reads_headers_of_a_hand_made_reply_case_insensitively() {
        let reply = Reply::new(429, "{}").with_header("Retry-After", "7");
        assert_eq!(reply.header("retry-after").as_deref(), Some("7"));
        assert_eq!(reply.retry_after(), Some(7));
        assert_eq!(Reply::new(429, "").retry_after(), None);
    }
}
