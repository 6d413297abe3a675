//! Sends platform calls (reqwest: fetch in workerd, hyper on the host), with a timeout per
//! attempt and retries of 429, 5xx and network failures (exponential backoff with full jitter,
//! honouring `Retry-After`). `SOCIAL_API_ORIGIN_OVERRIDE` rewrites `https://host/path` to
//! `{override}/host/path`, so tests serve every platform from one fake server while the real
//! URLs stay in the code.

use std::time::Duration;

use crate::ai::retry::{parse_retry_after, with_retries, RetryPolicy};
use crate::clock::Clock;

use super::{HttpCall, HttpMethod, Reply, SocialError};

pub const POLICY: RetryPolicy = RetryPolicy {
    max_attempts: 3,
    base_delay: Duration::from_millis(200),
    max_delay: Duration::from_secs(2),
    attempt_timeout: Duration::from_secs(15),
    deadline: Duration::from_secs(30),
};

pub struct Transport<'a> {
    client: reqwest::Client,
    origin_override: Option<&'a str>,
    clock: &'a dyn Clock,
}

/// `https://api.x.com/2/users/me` → `{override}/api.x.com/2/users/me`.
pub fn rewrite(url: &str, origin_override: Option<&str>) -> String {
    match (origin_override, url.strip_prefix("https://")) {
        (Some(origin), Some(rest)) => format!("{origin}/{rest}"),
        _ => url.to_owned(),
    }
}

impl<'a> Transport<'a> {
    pub fn new(origin_override: Option<&'a str>, clock: &'a dyn Clock) -> Self {
        Self {
            client: reqwest::Client::new(),
            origin_override,
            clock,
        }
    }

    /// The reply to `call`, after retrying transient failures; 4xx replies are for the
    /// platform module to read.
    pub async fn send(&self, call: &HttpCall) -> Result<Reply, SocialError> {
        let started = self.clock.unix_millis();
        let elapsed =
            || Duration::from_millis((self.clock.unix_millis() - started).max(0.0) as u64);
        with_retries(&POLICY, elapsed, || async {
            let reply = self.send_once(call).await?;
            if reply.status == 429 || reply.status >= 500 {
                return Err(super::classify_error_host(&call.url, &reply));
            }
            Ok(reply)
        })
        .await
    }

    async fn send_once(&self, call: &HttpCall) -> Result<Reply, SocialError> {
        let url = rewrite(&call.url, self.origin_override);
        let mut request = match call.method {
            HttpMethod::Get => self.client.get(&url),
            HttpMethod::Post => self.client.post(&url),
            HttpMethod::Delete => self.client.delete(&url),
        }
        .header("accept", "application/json");
        for (name, value) in &call.headers {
            request = request.header(*name, value);
        }
        if let Some(form) = &call.form {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
                .finish();
            request = request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
        }
        let unreachable = |error: reqwest::Error| SocialError::Transient {
            retry_after: None,
            // Without the URL: a query could carry a token.
            cause: format!("platform unreachable: {}", error.without_url()),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(parse_retry_after);
        let body = response.bytes().await.map_err(unreachable)?.to_vec();
        Ok(Reply {
            status,
            retry_after,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_only_https_urls_and_only_with_an_override() {
        assert_eq!(
            rewrite(
                "https://api.x.com/2/users/me",
                Some("http://127.0.0.1:9/social")
            ),
            "http://127.0.0.1:9/social/api.x.com/2/users/me"
        );
        assert_eq!(
            rewrite("https://api.x.com/2/users/me", None),
            "https://api.x.com/2/users/me"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_platforms_huge_retry_after_gives_up_without_overflowing() {
        let outcome = with_retries(
            &POLICY,
            || Duration::from_secs(2),
            || async {
                Err::<(), _>(SocialError::Transient {
                    retry_after: Some(u64::MAX),
                    cause: "platform answered 429".into(),
                })
            },
        )
        .await;
        assert!(matches!(
            outcome,
            Err(SocialError::Transient {
                retry_after: Some(u64::MAX),
                ..
            })
        ));
    }
}
