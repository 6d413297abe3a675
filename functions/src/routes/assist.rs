//! Content assistants over the metered JSON mode: `POST /v1/ai/simulate-feedback`,
//! `/v1/ai/generate-audit-plan`, `/v1/ai/captions`, `/v1/ai/hashtags`, `/v1/ai/improve` and
//! `/v1/ai/moderate`. Each builds instructions for the model, asks for one JSON object and
//! checks its shape: a model answering otherwise is 502 `invalid_model_output`.

use serde_json::{json, Map, Value};

use crate::auth::Caller;
use crate::config::Config;
use crate::error::ApiError;
use crate::http::cx::Cx;
use crate::http::{Request, Response};
use crate::scope::Scope;
use crate::supabase;

use crate::ai::credits::ReserveRequest;
use crate::ai::openai;
use crate::ai::provider::{Capability, ProviderKind, TextOutput, Usage, Verdict};
use crate::ai::{transport, Consumed};

use super::ai::{
    ask_text_once, begin, complete_single_turn, invalid, metered, team_id, JsonBody, SingleTurn,
    MAX_PROMPT_CHARS,
};

const MAX_OPTION_CHARS: usize = 200;
const MAX_PERSONA_CHARS: usize = 16_000;
const AUDIT_PHASES: [&str; 9] = ["D0", "D1", "D2", "D3", "D4", "D5", "D6", "D7", "D8"];

/// Asks the model for one JSON object and returns it.
async fn ask_for_object(
    config: &Config,
    caller: &Caller,
    request: &Request,
    scope: &Scope<'_>,
    endpoint: &str,
    instructions: &str,
    prompt: String,
) -> Result<Map<String, Value>, ApiError> {
    let turn = SingleTurn {
        endpoint,
        system: Some(instructions),
        prompt: &prompt,
        json: true,
        google_search: false,
    };
    let output = complete_single_turn(config, caller, request, scope, &turn).await?;
    match serde_json::from_str(&output.text) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(ApiError::InvalidModelOutput),
    }
}

/// The optional `platform` and `tone` hints, as a sentence for the model.
fn hints(body: &JsonBody) -> Result<String, ApiError> {
    let platform = body.optional_text("platform", MAX_OPTION_CHARS)?;
    let tone = body.optional_text("tone", MAX_OPTION_CHARS)?;
    Ok([
        platform.map(|p| format!("Platform: {p}.")),
        tone.map(|t| format!("Tone: {t}.")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" "))
}

/// `field` of the model's object as a list of 1 to `max` non-empty strings.
fn string_list(
    object: &Map<String, Value>,
    field: &str,
    max: usize,
) -> Result<Vec<String>, ApiError> {
    let items = object
        .get(field)
        .and_then(Value::as_array)
        .ok_or(ApiError::InvalidModelOutput)?;
    let strings: Option<Vec<String>> = items
        .iter()
        .map(|item| {
            item.as_str()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        })
        .collect();
    let mut list = strings
        .filter(|list| !list.is_empty())
        .ok_or(ApiError::InvalidModelOutput)?;
    list.truncate(max);
    Ok(list)
}

/// `POST /v1/ai/captions` `{content, platform?, tone?, count? (1-5)}` → `{captions}`.
pub async fn captions(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let Cx {
        config,
        ref caller,
        request,
        scope,
        ..
    } = *cx;
    let body = JsonBody::parse(&request.body)?;
    let content = body.required_text("content", MAX_PROMPT_CHARS)?;
    let count = body.optional_count("count", 1, 5)?.unwrap_or(3) as usize;
    let instructions = format!(
        "You write social media captions. Answer with a JSON object {{\"captions\": [...]}} holding exactly {count} \
         distinct captions as strings. {}",
        hints(&body)?
    );
    let object = ask_for_object(
        config,
        caller,
        request,
        scope,
        "captions",
        &instructions,
        content.to_owned(),
    )
    .await?;
    Ok(Response::json(
        200,
        &json!({ "captions": string_list(&object, "captions", count)? }),
    ))
}

/// `POST /v1/ai/hashtags` `{content, platform?, count? (1-30)}` → `{hashtags}`, each with `#`.
pub async fn hashtags(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let Cx {
        config,
        ref caller,
        request,
        scope,
        ..
    } = *cx;
    let body = JsonBody::parse(&request.body)?;
    let content = body.required_text("content", MAX_PROMPT_CHARS)?;
    let count = body.optional_count("count", 1, 30)?.unwrap_or(10) as usize;
    let instructions = format!(
        "You suggest hashtags for a social media post. Answer with a JSON object {{\"hashtags\": [...]}} holding at \
         most {count} relevant hashtags as strings. {}",
        hints(&body)?
    );
    let object = ask_for_object(
        config,
        caller,
        request,
        scope,
        "hashtags",
        &instructions,
        content.to_owned(),
    )
    .await?;
    let hashtags: Vec<String> = string_list(&object, "hashtags", count)?
        .into_iter()
        .map(|tag| {
            format!(
                "#{}",
                tag.trim_start_matches('#').replace(char::is_whitespace, "")
            )
        })
        .collect();
    Ok(Response::json(200, &json!({ "hashtags": hashtags })))
}

/// `POST /v1/ai/improve` `{caption, platform?, tone?, instructions?}` → `{caption}`.
pub async fn improve(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let Cx {
        config,
        ref caller,
        request,
        scope,
        ..
    } = *cx;
    let body = JsonBody::parse(&request.body)?;
    let caption = body.required_text("caption", MAX_PROMPT_CHARS)?;
    let wishes = body
        .optional_text("instructions", 2_000)?
        .map(|w| format!("The author asks: {w}"))
        .unwrap_or_default();
    let instructions = format!(
        "You improve social media captions: clearer, more engaging, same meaning and language. Answer with a JSON \
         object {{\"caption\": \"...\"}}. {} {wishes}",
        hints(&body)?
    );
    let object = ask_for_object(
        config,
        caller,
        request,
        scope,
        "improve",
        &instructions,
        caption.to_owned(),
    )
    .await?;
    match object
        .get("caption")
        .and_then(Value::as_str)
        .filter(|text| !text.trim().is_empty())
    {
        Some(improved) => Ok(Response::json(200, &json!({ "caption": improved }))),
        None => Err(ApiError::InvalidModelOutput),
    }
}

/// `POST /v1/ai/moderate` `{text}` → `{flagged, categories}`, always answered by the platform
/// (`platform_moderator`), metered to the caller. OpenAI answers with its moderation endpoint
/// (category names as OpenAI gives them, e.g. `harassment/threatening`); without a platform
/// OpenAI key (and when a fallback stands in) a model is asked for a judgement in JSON mode,
/// with categories among hate, harassment, self-harm, sexual, violence, illegal, spam.
pub async fn moderate(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let Cx {
        config,
        ref caller,
        request,
        scope,
        ..
    } = *cx;
    let body = JsonBody::parse(&request.body)?;
    let text = body.required_text("text", MAX_PROMPT_CHARS)?;
    let verdict = moderation_verdict(config, caller, team_id(request)?, text, scope).await?;
    Ok(Response::json(
        200,
        &json!({ "flagged": verdict.flagged, "categories": verdict.categories }),
    ))
}

/// The moderation check of `text`, metered to the caller or their team `team_id` (also what
/// publishing runs before a post is scheduled).
pub(crate) async fn moderation_verdict(
    config: &Config,
    caller: &Caller,
    team_id: Option<&str>,
    text: &str,
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
        ..turn.reservation(caller, team_id)
    };
    let call = begin(config, scope, &reserve).await?;
    let model = call.model.clone();
    let messages = turn.messages();
    let text_prompt = &turn.text_prompt(&model, &messages);
    let client = &transport::Client::new(config);
    let (judged, _) = metered(
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
        |judged| Consumed {
            usage: match judged {
                Judged::ByEndpoint(_) => Usage::default(),
                Judged::ByModel(output) => output.usage,
            },
            images: 0,
        },
    )
    .await?;
    match judged {
        Judged::ByEndpoint(verdict) => Ok(verdict),
        Judged::ByModel(output) => judged_verdict(&output.text),
    }
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

/// A model's JSON judgement as a verdict.
fn judged_verdict(text: &str) -> Result<Verdict, ApiError> {
    let object = match serde_json::from_str(text) {
        Ok(Value::Object(object)) => object,
        _ => return Err(ApiError::InvalidModelOutput),
    };
    let flagged = object
        .get("flagged")
        .and_then(Value::as_bool)
        .ok_or(ApiError::InvalidModelOutput)?;
    let categories = match object.get("categories") {
        None => Vec::new(),
        Some(Value::Array(items)) if items.is_empty() => Vec::new(),
        Some(_) => string_list(&object, "categories", 20)?,
    };
    Ok(Verdict {
        flagged,
        categories,
    })
}

/// `POST /v1/ai/generate-audit-plan` `{campaignObjective}` → an object with keys `D0` … `D8`.
pub async fn audit_plan(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let Cx {
        config,
        ref caller,
        request,
        scope,
        ..
    } = *cx;
    let body = JsonBody::parse(&request.body)?;
    let objective = body.required_text("campaignObjective", 4_000)?;
    let instructions = "You plan audits of social media campaigns in nine phases, D0 (scoping) to D8 (closure and \
        lessons learned). Answer with a JSON object whose keys are exactly D0, D1, D2, D3, D4, D5, D6, D7 and D8; each \
        value is an object {\"title\": \"...\", \"actions\": [\"...\"]}.";
    let object = ask_for_object(
        config,
        caller,
        request,
        scope,
        "generate-audit-plan",
        instructions,
        objective.to_owned(),
    )
    .await?;
    if !is_audit_plan(&object) {
        return Err(ApiError::InvalidModelOutput);
    }
    Ok(Response::json(200, &object))
}

fn is_audit_plan(object: &Map<String, Value>) -> bool {
    object.len() == AUDIT_PHASES.len()
        && AUDIT_PHASES.iter().all(|phase| object.contains_key(*phase))
}

/// `POST /v1/ai/simulate-feedback` `{personaId | persona, content, platform?}` → `{feedback}`:
/// how that persona would react. A `personaId` is read with the caller's token, so RLS decides.
pub async fn simulate_feedback(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let Cx {
        config,
        ref caller,
        request,
        scope,
        ..
    } = *cx;
    let body = JsonBody::parse(&request.body)?;
    let content = body.required_text("content", MAX_PROMPT_CHARS)?;
    let persona = match (
        body.optional_uuid("personaId")?,
        body.optional_object("persona")?,
    ) {
        (Some(id), None) => stored_persona(config, caller, id).await?,
        (None, Some(details)) => {
            let details = Value::Object(details.clone());
            if details.to_string().chars().count() > MAX_PERSONA_CHARS {
                return Err(invalid(
                    "persona",
                    &format!("must be at most {MAX_PERSONA_CHARS} characters as JSON"),
                ));
            }
            details
        }
        _ => return Err(invalid("personaId", "give either personaId or persona")),
    };
    let instructions = format!(
        "You simulate how this persona reacts to social media content: {persona}. {} Answer with a JSON object \
         {{\"sentiment\": \"positive\"|\"neutral\"|\"negative\", \"score\": 0-100, \"reaction\": \"...\", \
         \"concerns\": [...], \"suggestions\": [...]}}.",
        hints(&body)?
    );
    let feedback = ask_for_object(
        config,
        caller,
        request,
        scope,
        "simulate-feedback",
        &instructions,
        content.to_owned(),
    )
    .await?;
    Ok(Response::json(200, &json!({ "feedback": feedback })))
}

async fn stored_persona(config: &Config, caller: &Caller, id: &str) -> Result<Value, ApiError> {
    let query = supabase::user_client(config, &caller.token)
        .from("personas")
        .select("name,demographics,psychographics,initial_beliefs,vulnerabilities,rst_bas,rst_bis,rst_fffs")
        .eq("id", id);
    let rows: Vec<Value> = serde_json::from_str(&supabase::send(query).await?)
        .map_err(|error| ApiError::Upstream(format!("personas answer unparsable: {error}")))?;
    rows.into_iter().next().ok_or_else(|| ApiError::Rejected {
        status: 404,
        code: "resource_not_found",
        message: "No persona with this id is visible to you.".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(object) => object,
            _ => panic!("an object"),
        }
    }

    #[test]
    fn lists_of_strings_are_checked_and_capped() {
        let answer = object(json!({"captions": ["a", " b ", "c"], "empty": [], "mixed": ["a", 1]}));
        assert_eq!(string_list(&answer, "captions", 2).unwrap(), ["a", "b"]);
        assert!(string_list(&answer, "empty", 2).is_err());
        assert!(string_list(&answer, "mixed", 2).is_err());
        assert!(string_list(&answer, "missing", 2).is_err());
    }

    #[test]
    fn an_audit_plan_has_exactly_d0_to_d8() {
        let plan: Map<String, Value> = AUDIT_PHASES
            .iter()
            .map(|phase| (phase.to_string(), json!({})))
            .collect();
        assert!(is_audit_plan(&plan));
        let mut extra = plan.clone();
        extra.insert("D9".into(), json!({}));
        assert!(!is_audit_plan(&extra));
        let mut missing = plan;
        missing.remove("D4");
        assert!(!is_audit_plan(&missing));
    }
}
