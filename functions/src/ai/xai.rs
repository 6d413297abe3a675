//! xAI Grok: OpenAI's wire format for chat and images (the `openai` module builds and parses
//! the calls), at xAI's own URL with its own models.

pub const BASE_URL: &str = "https://api.x.ai/v1";
pub const TEXT_MODEL: &str = "grok-3-mini";
pub const IMAGE_MODEL: &str = "grok-2-image";
