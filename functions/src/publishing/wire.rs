//! Sending a publishing call exactly once. No retries here: whether a failed call may be sent
//! again depends on what its failure proves, so the answer says which it was. A connection
//! that could not be opened proves nothing was sent; a timeout or a connection lost after
//! sending proves nothing either way.

use std::time::Duration;

use futures::future::{select, Either};
use serde_json::Value;

use crate::clock::sleep;
use crate::social::transport::rewrite;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
}

#[derive(Debug, PartialEq)]
pub enum Body {
    Empty,
    Json(Value),
    Form(Vec<(&'static str, String)>),
    Bytes {
        content_type: String,
        bytes: bytes::Bytes,
    },
}

/// One request to a platform, with the real public URL (`SOCIAL_API_ORIGIN_OVERRIDE` may
/// point it at the local fakes).
#[derive(Debug, PartialEq)]
pub struct Call {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Body,
}

impl Call {
    pub fn new(method: Method, url: impl Into<String>, access_token: &str) -> Self {
        Self {
            method,
            url: url.into(),
            headers: vec![("authorization", format!("Bearer {access_token}"))],
            body: Body::Empty,
        }
    }

    /// A call without the account's token (upload URLs that carry their own authorization).
    pub fn unauthenticated(method: Method, url: impl Into<String>) -> Self {
        Self {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Body::Empty,
        }
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

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// Whether a failed send proves the request never left. In workerd, `fetch` does not tell a
/// refused connection from a lost one, so there every unanswered call counts as maybe sent.
#[cfg(not(target_arch = "wasm32"))]
fn never_sent(error: &reqwest::Error) -> bool {
    error.is_connect()
}

#[cfg(target_arch = "wasm32")]
fn never_sent(_: &reqwest::Error) -> bool {
    false
}

#[derive(Debug, Clone, Default)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// A 200 with this JSON body.
    #[cfg(test)]
    pub fn ok_json(body: Value) -> Self {
        Self {
            status: 200,
            headers: Vec::new(),
            body: body.to_string().into_bytes(),
        }
    }

    /// `Retry-After` in seconds, when given as seconds.
    pub fn retry_after(&self) -> Option<u64> {
        self.header("retry-after")?.trim().parse().ok()
    }
}

/// A call that got no answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Unanswered {
    /// The connection could not be opened: the platform never saw the request.
    NotSent(String),
    /// Timed out or lost after the request may have reached the platform.
    Unknown(String),
}

pub struct Wire<'a> {
    client: reqwest::Client,
    origin_override: Option<&'a str>,
    timeout: Duration,
}

impl<'a> Wire<'a> {
    pub fn new(origin_override: Option<&'a str>, timeout: Duration) -> Self {
        Self {
            client: reqwest::Client::new(),
            origin_override,
            timeout,
        }
    }

    pub async fn send(&self, call: &Call) -> Result<Answer, Unanswered> {
        let exchange = Box::pin(self.exchange(call));
        match select(exchange, Box::pin(sleep(self.timeout))).await {
            Either::Left((answer, _)) => answer,
            Either::Right(_) => Err(Unanswered::Unknown(format!(
                "no answer within {} s",
                self.timeout.as_secs()
            ))),
        }
    }

    async fn exchange(&self, call: &Call) -> Result<Answer, Unanswered> {
        let url = rewrite(&call.url, self.origin_override);
        let mut request = match call.method {
            Method::Get => self.client.get(&url),
            Method::Post => self.client.post(&url),
            Method::Put => self.client.put(&url),
        };
        for (name, value) in &call.headers {
            request = request.header(*name, value);
        }
        request = match &call.body {
            Body::Empty => request,
            Body::Json(value) => request
                .header("content-type", "application/json")
                .body(value.to_string()),
            Body::Form(form) => request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(
                    url::form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
                        .finish(),
                ),
            Body::Bytes {
                content_type,
                bytes,
            } => request
                .header("content-type", content_type)
                .body(bytes.clone()),
        };
        // Causes name the host only: a URL's query could carry a token.
        let host = call.url.split('/').nth(2).unwrap_or("platform").to_owned();
        let response = request.send().await.map_err(|error| {
            if never_sent(&error) {
                Unanswered::NotSent(format!("{host} unreachable"))
            } else {
                Unanswered::Unknown(format!("{host}: {}", error.without_url()))
            }
        })?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
            .collect();
        let body = response
            .bytes()
            .await
            .map_err(|error| Unanswered::Unknown(format!("{host}: {}", error.without_url())))?
            .to_vec();
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}
