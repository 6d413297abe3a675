//! The one interface over every AI provider: what to ask for (`TextPrompt`, `ImagePrompt`),
//! the HTTP call that asks it (`outbound::Call`) and what came back (`Reply` → outputs). Each
//! provider module turns the former into bytes and bytes back into outputs, as pure functions;
//! sending is `transport`'s job.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{gemini, openai};
use crate::infra::outbound::{Call, Reply};
use crate::infra::retry::Retryable;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    Openai,
    Xai,
    Gemini,
    /// Any server speaking OpenAI's wire format (self-hosted models, routers); needs a base URL.
    OpenaiCompatible,
}

/// What a model is used for; each config names a model per capability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capability {
    Text,
    Image,
    Chat,
}

impl Capability {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Image => "image",
            Self::Chat => "chat",
        }
    }
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 4] = [
        Self::Openai,
        Self::Xai,
        Self::Gemini,
        Self::OpenaiCompatible,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Openai => "openai",
            Self::Xai => "xai",
            Self::Gemini => "gemini",
            Self::OpenaiCompatible => "openai_compatible",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// The public API base URL; an OpenAI-compatible endpoint has none of its own.
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            Self::Openai => Some("https://api.openai.com/v1"),
            Self::Xai => Some(super::xai::BASE_URL),
            Self::Gemini => Some("https://generativelanguage.googleapis.com/v1beta"),
            Self::OpenaiCompatible => None,
        }
    }

    pub fn default_model(self, capability: Capability) -> &'static str {
        match (self, capability) {
            (Self::Openai, Capability::Image) => "gpt-image-1",
            (Self::Openai | Self::OpenaiCompatible, _) => "gpt-4o-mini",
            (Self::Xai, Capability::Image) => super::xai::IMAGE_MODEL,
            (Self::Xai, _) => super::xai::TEXT_MODEL,
            (Self::Gemini, Capability::Image) => "imagen-4.0-generate-001",
            (Self::Gemini, _) => "gemini-2.5-flash",
        }
    }

    pub fn text_call(self, endpoint: &ProviderEndpoint, prompt: &TextPrompt<'_>) -> Call {
        match self {
            Self::Gemini => gemini::text_call(endpoint, prompt),
            Self::Openai | Self::Xai | Self::OpenaiCompatible => {
                openai::text_call(endpoint, prompt)
            }
        }
    }

    pub fn parse_text(self, reply: &Reply) -> Result<TextOutput, ProviderError> {
        match self {
            Self::Gemini => gemini::parse_text(reply),
            Self::Openai | Self::Xai | Self::OpenaiCompatible => openai::parse_text(reply),
        }
    }

    pub fn stream_text_call(self, endpoint: &ProviderEndpoint, prompt: &TextPrompt<'_>) -> Call {
        match self {
            Self::Gemini => gemini::stream_text_call(endpoint, prompt),
            Self::Openai | Self::Xai | Self::OpenaiCompatible => {
                openai::stream_text_call(endpoint, prompt)
            }
        }
    }

    /// One `data:` payload of the provider's text stream.
    pub fn parse_stream_event(self, data: &str) -> Result<StreamDelta, ProviderError> {
        match self {
            Self::Gemini => gemini::parse_stream_event(data),
            Self::Openai | Self::Xai | Self::OpenaiCompatible => openai::parse_stream_event(data),
        }
    }

    pub fn image_call(self, endpoint: &ProviderEndpoint, prompt: &ImagePrompt<'_>) -> Call {
        match self {
            Self::Gemini => gemini::image_call(endpoint, prompt),
            Self::Openai | Self::Xai | Self::OpenaiCompatible => {
                openai::image_call(endpoint, prompt)
            }
        }
    }

    /// The model of the provider's moderation endpoint: OpenAI has one; the others are asked
    /// for a judgement instead.
    pub fn moderation_model(self) -> Option<&'static str> {
        (self == Self::Openai).then_some(openai::MODERATION_MODEL)
    }

    pub fn moderation_call(self, endpoint: &ProviderEndpoint, text: &str) -> Option<Call> {
        self.moderation_model()
            .map(|_| openai::moderation_call(endpoint, text))
    }

    pub fn parse_images(self, reply: &Reply) -> Result<ImageOutput, ProviderError> {
        match self {
            Self::Gemini => gemini::parse_images(reply),
            Self::Openai | Self::Xai | Self::OpenaiCompatible => openai::parse_images(reply),
        }
    }
}

/// The longest model name accepted.
pub const MAX_MODEL_CHARS: usize = 128;

/// Whether `model` is a name requests may carry: a letter or digit, then letters, digits and
/// `.` `_` `-` `:` `/` (fine-tuned names such as `ft:gpt-4o-mini:org::id`, self-hosted
/// `llama3:8b`, routers' `vendor/model`), at most `MAX_MODEL_CHARS`, and never `..`. So no
/// `%`, `?`, `#`, spaces or controls: nothing that changes a URL it is put into.
/// `app_private.is_valid_ai_model` holds the same rule in the database.
pub fn is_valid_model(model: &str) -> bool {
    let mut bytes = model.bytes();
    bytes
        .next()
        .is_some_and(|first| first.is_ascii_alphanumeric())
        && model.len() <= MAX_MODEL_CHARS
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"._:/-".contains(&b))
        && !model.contains("..")
}

/// Why a name failed `is_valid_model`, as a validation error says it.
const MODEL_NAME_RULE: &str = "must be a model name: 1 to 128 letters, digits and . _ - : / \
     (starting with a letter or digit, no ..)";

/// A model name a request carried, checked by `is_valid_model`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "String")]
pub struct ModelName(String);

impl TryFrom<Value> for ModelName {
    type Error = &'static str;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        match value {
            Value::String(model) if is_valid_model(&model) => Ok(Self(model)),
            _ => Err(MODEL_NAME_RULE),
        }
    }
}

impl std::ops::Deref for ModelName {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<ModelName> for String {
    fn from(model: ModelName) -> Self {
        model.0
    }
}

/// `segment` percent-encoded for one URL path segment: everything but RFC 3986's unreserved
/// characters, so a model name can neither end the segment (`/`), start a method (`:`), a
/// query (`?`) or a fragment (`#`).
pub fn path_segment(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A provider-independent estimate of a text's tokens, on the high side: about four ASCII
/// characters a token (English text averages that), and a token per two bytes of anything else
/// (a CJK character or an emoji is one token or more). Counting bytes alone at four a token
/// would under-count both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TextSize {
    ascii_bytes: usize,
    other_bytes: usize,
}

impl TextSize {
    pub fn add(&mut self, text: &str) {
        let ascii = text.bytes().filter(u8::is_ascii).count();
        self.ascii_bytes += ascii;
        self.other_bytes += text.len() - ascii;
    }

    pub fn is_empty(self) -> bool {
        self.ascii_bytes + self.other_bytes == 0
    }

    pub fn estimated_tokens(self) -> u32 {
        let tokens = self.ascii_bytes.div_ceil(4) + self.other_bytes.div_ceil(2);
        u32::try_from(tokens).unwrap_or(u32::MAX)
    }
}

/// `TextSize`'s estimate of one text, plus one token (a message's own overhead).
pub fn estimate_tokens(text: &str) -> u32 {
    let mut size = TextSize::default();
    size.add(text);
    size.estimated_tokens().saturating_add(1)
}

/// Where to send a provider call and with which key.
#[derive(Clone)]
pub struct ProviderEndpoint {
    pub base_url: String,
    pub api_key: String,
}

impl std::fmt::Debug for ProviderEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProviderEndpoint({}, <key redacted>)", self.base_url)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

pub struct TextPrompt<'a> {
    pub model: &'a str,
    pub system: Option<&'a str>,
    pub messages: &'a [Message],
    /// Ask the provider's JSON mode for a single JSON value.
    pub json: bool,
    /// Gemini's Google Search grounding; other providers ignore it.
    pub google_search: bool,
    pub max_output_tokens: u32,
}

pub struct ImagePrompt<'a> {
    pub model: &'a str,
    pub prompt: &'a str,
    pub count: u32,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u32,
    pub output_tokens: u32,
}

#[derive(Debug, PartialEq)]
pub struct TextOutput {
    pub text: String,
    pub usage: Usage,
    /// Gemini's `groundingMetadata.groundingChunks`, when grounding was used.
    pub grounding_chunks: Option<Value>,
}

/// A content check's outcome: whether to block, and which categories apply.
#[derive(Debug, PartialEq, Eq)]
pub struct Verdict {
    pub flagged: bool,
    pub categories: Vec<String>,
}

/// What one event of a provider's text stream carried.
#[derive(Debug, Default, PartialEq)]
pub struct StreamDelta {
    pub text: String,
    /// OpenAI reports it once, in its last chunk; Gemini's running total comes with every event.
    pub usage: Option<Usage>,
    /// OpenAI's closing `[DONE]`; Gemini's stream just ends.
    pub done: bool,
}

#[derive(Debug, PartialEq)]
pub struct ImageOutput {
    /// Base64-encoded images.
    pub images: Vec<String>,
    pub usage: Usage,
}

/// A provider call that failed, reduced to what callers may know. Causes are for the log;
/// the provider's raw body never reaches a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderError {
    AuthFailed(String),
    RateLimited {
        retry_after_seconds: Option<u64>,
    },
    Unavailable(String),
    ContentFiltered,
    /// A 2xx whose body is not what the provider documents.
    Malformed(String),
}

impl ProviderError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::AuthFailed(_) => "provider_auth_failed",
            Self::RateLimited { .. } => "provider_rate_limited",
            Self::Unavailable(_) | Self::Malformed(_) => "provider_unavailable",
            Self::ContentFiltered => "content_filtered",
        }
    }

    /// Classifies a non-2xx answer. `filtered` says whether the provider's error body flags
    /// the content as refused (each provider has its own marker).
    pub fn from_status(reply: &Reply, filtered: bool) -> Self {
        let cause = format!("provider answered {}", reply.status);
        match reply.status {
            401 | 403 => Self::AuthFailed(cause),
            429 => Self::RateLimited {
                retry_after_seconds: reply.retry_after(),
            },
            400 | 422 if filtered => Self::ContentFiltered,
            _ => Self::Unavailable(cause),
        }
    }
}

/// The JSON body of a 2xx reply, or `Malformed`.
pub(super) fn json_body<T: serde::de::DeserializeOwned>(reply: &Reply) -> Result<T, ProviderError> {
    serde_json::from_slice(&reply.body)
        .map_err(|error| ProviderError::Malformed(format!("unparsable body: {error}")))
}

/// Rate limits, 5xx and timeouts may pass; refused keys, refused content and malformed
/// answers will not.
pub fn is_transient(error: &ProviderError) -> bool {
    matches!(
        error,
        ProviderError::RateLimited { .. } | ProviderError::Unavailable(_)
    )
}

impl Retryable for ProviderError {
    fn retry_hint(&self) -> Option<Option<u64>> {
        match self {
            ProviderError::RateLimited {
                retry_after_seconds,
            } => Some(*retry_after_seconds),
            ProviderError::Unavailable(_) => Some(None),
            _ => None,
        }
    }

    fn timed_out(limit: Duration) -> Self {
        ProviderError::Unavailable(format!("no answer within {} s", limit.as_secs_f64()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rate_limits_and_outages_are_transient() {
        for transient in [
            ProviderError::RateLimited {
                retry_after_seconds: Some(2),
            },
            ProviderError::Unavailable("503".into()),
        ] {
            assert!(is_transient(&transient), "{transient:?}");
        }
        for lasting in [
            ProviderError::AuthFailed("401".into()),
            ProviderError::ContentFiltered,
            ProviderError::Malformed("no choices".into()),
        ] {
            assert!(!is_transient(&lasting), "{lasting:?}");
        }
    }

    fn reply(status: u16, retry_after: Option<&str>) -> Reply {
        let reply = Reply::new(status, b"{\"secret\":\"raw\"}".to_vec());
        match retry_after {
            Some(seconds) => reply.with_header("retry-after", seconds),
            None => reply,
        }
    }

    #[test]
    fn maps_statuses_to_stable_codes_without_the_body() {
        let cases = [
            (reply(401, None), false, "provider_auth_failed"),
            (reply(429, Some("2.5")), false, "provider_rate_limited"),
            (reply(503, None), false, "provider_unavailable"),
            (reply(400, None), true, "content_filtered"),
            (reply(400, None), false, "provider_unavailable"),
        ];
        for (reply, filtered, code) in cases {
            let error = ProviderError::from_status(&reply, filtered);
            assert_eq!(error.code(), code);
            assert!(!format!("{error:?}").contains("raw"));
        }
        assert_eq!(
            ProviderError::from_status(&reply(429, Some("2.5")), false),
            ProviderError::RateLimited {
                retry_after_seconds: Some(3)
            }
        );
    }

    #[test]
    fn model_names_have_a_strict_character_set() {
        for valid in [
            "gpt-4o-mini",
            "gemini-2.5-flash",
            "ft:gpt-4o-mini:org::abc123",
            "llama3:8b",
            "meta-llama/Llama-3-70b",
            "a",
        ] {
            assert!(is_valid_model(valid), "{valid}");
        }
        let too_long = "m".repeat(MAX_MODEL_CHARS + 1);
        for invalid in [
            "",
            "veo-3.0-generate-001:predictLongRunning#",
            "x?alt=sse",
            "x%2F..",
            "../../v1/files",
            "a/../b",
            "-leading",
            ":predict",
            "with space",
            "tab\t",
            "ünïcode",
            too_long.as_str(),
        ] {
            assert!(!is_valid_model(invalid), "{invalid}");
        }
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(path_segment("gemini-2.5-flash"), "gemini-2.5-flash");
        assert_eq!(
            path_segment("x:predictLongRunning#/../?%"),
            "x%3ApredictLongRunning%23%2F..%2F%3F%25"
        );
    }

    #[test]
    fn token_estimates_count_multibyte_text_high() {
        assert_eq!(estimate_tokens(""), 1);
        assert_eq!(estimate_tokens("abcdefgh"), 3);
        // Three CJK characters (9 bytes) are at least three tokens; bytes/4 would say 2.
        assert!(estimate_tokens("日本語") >= 4);
        // One emoji (4 bytes) is a token or more.
        assert_eq!(estimate_tokens("🙂"), 3);
        let mut streamed = TextSize::default();
        assert!(streamed.is_empty());
        for piece in ["日本", "語 and ", "more"] {
            streamed.add(piece);
        }
        assert_eq!(
            streamed.estimated_tokens() + 1,
            estimate_tokens("日本語 and more")
        );
    }

    #[test]
    fn provider_names_round_trip() {
        for kind in ProviderKind::ALL {
            assert_eq!(ProviderKind::parse(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }
}
