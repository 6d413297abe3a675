//! Moderation: the platform judges a text (OpenAI's moderation endpoint, else its default
//! model asked for a verdict), metered to the caller. `POST /v1/ai/moderate` answers with it,
//! and publishing runs it before a post is scheduled.

use serde_json::Value;

use crate::ai::call::{
    ask_text_once, begin, metered, optional_string_list, SingleTurn, MAX_LIST_ITEMS,
};
use crate::ai::credits::{Pacing, ReserveRequest};
use crate::ai::openai;
use crate::ai::provider::{Capability, ProviderKind, TextOutput, Verdict};
use crate::ai::{transport, Consumed};
use crate::auth::Caller;
use crate::config::Config;
use crate::error::ApiError;
use crate::scope::Scope;

/// The moderation check of `text`, metered to the caller or their team `team_id` and paced by
/// `pacing` (publishing runs it before a post is scheduled, in a window of its own).
pub(crate) async fn verdict(
    config: &Config,
    caller: &Caller,
    team_id: Option<&str>,
    text: &str,
    pacing: Pacing,
    scope: &Scope<'_>,
) -> Result<Verdict, ApiError> {
    let turn = SingleTurn {
        endpoint: "moderate",
        system: Some(
            "You moderate user content for a social media app. Answer with a JSON object \
             {\"flagged\": true|false, \"categories\": [...]} where categories lists which of hate, harassment, \
             self-harm, sexual, violence, illegal, spam apply (empty when none).",
        ),
        prompt: text,
        json: true,
        google_search: false,
    };
    let (provider, model) = platform_moderator(config);
    let reserve = ReserveRequest {
        provider: Some(provider),
        model,
        platform_only: true,
        pacing,
        ..turn.reservation(caller, team_id)
    };
    let call = begin(config, scope, &reserve).await?;
    let model = call.model.clone();
    let messages = turn.messages();
    let text_prompt = &turn.text_prompt(&model, &messages);
    let client = &transport::Client::new(config);
    let (verdict, _) = metered(
        config,
        call,
        Capability::Text,
        scope,
        text,
        |call| async move {
            if let Some(http_call) = call.provider.moderation_call(&call.endpoint, text) {
                let reply = transport::send(client, &http_call).await?;
                return openai::parse_moderation(&reply).map(Judged::ByEndpoint);
            }
            ask_text_once(client, &call, text_prompt)
                .await
                .map(Judged::ByModel)
        },
        |judged| match judged {
            Judged::ByEndpoint(verdict) => Ok((verdict, Consumed::default())),
            Judged::ByModel(output) => Ok((
                judged_verdict(&output.text)?,
                Consumed {
                    usage: output.usage,
                    images: 0,
                },
            )),
        },
    )
    .await?;
    Ok(verdict)
}

/// Who moderates: always the platform, never a caller's configuration (whose base URL could
/// answer anything). OpenAI's moderation endpoint when the platform holds an OpenAI key, else
/// the platform's default provider asked for a judgement with its default model.
fn platform_moderator(config: &Config) -> (ProviderKind, Option<&'static str>) {
    match config.ai.platform_key(ProviderKind::Openai) {
        Some(_) => (
            ProviderKind::Openai,
            ProviderKind::Openai.moderation_model(),
        ),
        None => (config.ai.default_provider, None),
    }
}

enum Judged {
    ByEndpoint(Verdict),
    ByModel(TextOutput),
}

/// A model's JSON judgement as a verdict: `invalid_model_output` unless it says `flagged` and
/// lists categories as strings.
pub(crate) fn judged_verdict(text: &str) -> Result<Verdict, ApiError> {
    let object = match serde_json::from_str(text) {
        Ok(Value::Object(object)) => object,
        _ => return Err(ApiError::InvalidModelOutput),
    };
    let flagged = object
        .get("flagged")
        .and_then(Value::as_bool)
        .ok_or(ApiError::InvalidModelOutput)?;
    Ok(Verdict {
        flagged,
        categories: optional_string_list(&object, "categories", MAX_LIST_ITEMS)?,
    })
}
