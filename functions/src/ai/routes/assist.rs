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
use crate::infra::supabase;
use crate::scope::Scope;

use crate::ai::call::{complete_single_turn, string_list, SingleTurn};
use crate::ai::moderation;
use crate::http::extract::{invalid, JsonBody};

use super::{team_id, MAX_PROMPT_CHARS};

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
    let output = complete_single_turn(config, caller, team_id(request)?, scope, &turn).await?;
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

/// `POST /v1/ai/captions` `{content, platform?, tone?, count? (1-5)}` → `{captions}`.
pub async fn captions(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, request, scope) = cx.parts();
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
    let (config, caller, request, scope) = cx.parts();
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
    let (config, caller, request, scope) = cx.parts();
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
    let (config, caller, request, scope) = cx.parts();
    let body = JsonBody::parse(&request.body)?;
    let text = body.required_text("text", MAX_PROMPT_CHARS)?;
    let verdict = moderation::verdict(config, caller, team_id(request)?, text, scope).await?;
    Ok(Response::json(
        200,
        &json!({ "flagged": verdict.flagged, "categories": verdict.categories }),
    ))
}

/// `POST /v1/ai/generate-audit-plan` `{campaignObjective}` → an object with keys `D0` … `D8`.
pub async fn audit_plan(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, request, scope) = cx.parts();
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
    let (config, caller, request, scope) = cx.parts();
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
