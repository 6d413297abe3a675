//! Content assistants over the metered JSON mode: `POST /v1/ai/simulate-feedback`,
//! `/v1/ai/generate-audit-plan`, `/v1/ai/captions`, `/v1/ai/hashtags`, `/v1/ai/improve` and
//! `/v1/ai/moderate`. Each builds instructions for the model, asks for one JSON object and
//! checks its shape: a model answering otherwise is 502 `invalid_model_output`, not charged.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::auth::Caller;
use crate::config::Config;
use crate::error::ApiError;
use crate::http::cx::Cx;
use crate::http::Response;
use crate::infra::supabase;

use crate::ai::call::{
    complete_single_turn, optional_string_list, string_list, text_field, SingleTurn, MAX_LIST_ITEMS,
};
use crate::ai::credits::Pacing;
use crate::ai::moderation;
use crate::http::extract::invalid;
use crate::ids::{PersonaId, TeamId};
use crate::valid::{Count, Text};

use super::{team_id, Prompt};

/// A `platform` or `tone` hint.
type Hint = Text<200>;
const MAX_PERSONA_CHARS: usize = 16_000;
const AUDIT_PHASES: [&str; 9] = ["D0", "D1", "D2", "D3", "D4", "D5", "D6", "D7", "D8"];

/// Asks the model for one JSON object; `read` checks it and makes the caller's answer of it
/// (a model answering otherwise is `invalid_model_output`, and the call is not charged).
async fn ask_for_object(
    cx: &Cx<'_, Caller>,
    endpoint: &str,
    instructions: &str,
    prompt: &str,
    read: impl FnOnce(&Map<String, Value>) -> Result<Value, ApiError>,
) -> Result<Response, ApiError> {
    let (config, caller, request, scope) = cx.parts();
    let turn = SingleTurn {
        endpoint,
        system: Some(instructions),
        prompt,
        json: true,
        google_search: false,
    };
    let team = team_id(request)?;
    let team = team.as_ref().map(TeamId::as_str);
    let answer =
        complete_single_turn(
            config,
            caller,
            team,
            scope,
            &turn,
            |output| match serde_json::from_str(&output.text) {
                Ok(Value::Object(object)) => read(&object),
                _ => Err(ApiError::InvalidModelOutput),
            },
        )
        .await?;
    Ok(Response::json(200, &answer))
}

/// The optional `platform` and `tone` hints, as a sentence for the model.
fn hints(platform: &Option<Hint>, tone: &Option<Hint>) -> String {
    [
        platform.as_deref().map(|p| format!("Platform: {p}.")),
        tone.as_deref().map(|t| format!("Tone: {t}.")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ")
}

/// `POST /v1/ai/captions` `{content, platform?, tone?, count? (1-5)}` → `{captions}`;
/// `POST /v1/ai/hashtags` `{content, platform?, tone?, count? (1-30)}` → `{hashtags}`.
#[derive(Deserialize)]
struct ListRequest<const MAX: u64> {
    content: Prompt,
    platform: Option<Hint>,
    tone: Option<Hint>,
    count: Option<Count<1, MAX>>,
}

pub async fn captions(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let body: ListRequest<5> = cx.body()?;
    let count = body.count.map_or(3, Count::get) as usize;
    let instructions = format!(
        "You write social media captions. Answer with a JSON object {{\"captions\": [...]}} holding exactly {count} \
         distinct captions as strings. {}",
        hints(&body.platform, &body.tone)
    );
    ask_for_object(cx, "captions", &instructions, &body.content, |object| {
        Ok(json!({ "captions": string_list(object, "captions", count)? }))
    })
    .await
}

/// `POST /v1/ai/hashtags`: the hashtags, each with `#`.
pub async fn hashtags(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let body: ListRequest<30> = cx.body()?;
    let count = body.count.map_or(10, Count::get) as usize;
    let instructions = format!(
        "You suggest hashtags for a social media post. Answer with a JSON object {{\"hashtags\": [...]}} holding at \
         most {count} relevant hashtags as strings. {}",
        hints(&body.platform, &body.tone)
    );
    ask_for_object(cx, "hashtags", &instructions, &body.content, |object| {
        let hashtags: Vec<String> = string_list(object, "hashtags", count)?
            .into_iter()
            .map(|tag| {
                format!(
                    "#{}",
                    tag.trim_start_matches('#').replace(char::is_whitespace, "")
                )
            })
            .collect();
        Ok(json!({ "hashtags": hashtags }))
    })
    .await
}

/// `POST /v1/ai/improve` `{caption, platform?, tone?, instructions?}` → `{caption}`.
pub async fn improve(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    #[derive(Deserialize)]
    struct ImproveRequest {
        caption: Prompt,
        platform: Option<Hint>,
        tone: Option<Hint>,
        instructions: Option<Text<2_000>>,
    }
    let body: ImproveRequest = cx.body()?;
    let wishes = body
        .instructions
        .map(|w| format!("The author asks: {}", &*w))
        .unwrap_or_default();
    let instructions = format!(
        "You improve social media captions: clearer, more engaging, same meaning and language. Answer with a JSON \
         object {{\"caption\": \"...\"}}. {} {wishes}",
        hints(&body.platform, &body.tone)
    );
    ask_for_object(cx, "improve", &instructions, &body.caption, |object| {
        Ok(json!({ "caption": text_field(object, "caption")? }))
    })
    .await
}

/// `POST /v1/ai/moderate` `{text}` → `{flagged, categories}`, always answered by the platform
/// (`platform_moderator`), metered to the caller. OpenAI answers with its moderation endpoint
/// (category names as OpenAI gives them, e.g. `harassment/threatening`); without a platform
/// OpenAI key (and when a fallback stands in) a model is asked for a judgement in JSON mode,
/// with categories among hate, harassment, self-harm, sexual, violence, illegal, spam.
pub async fn moderate(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    #[derive(Deserialize)]
    struct ModerateRequest {
        text: Prompt,
    }
    let (config, caller, request, scope) = cx.parts();
    let body: ModerateRequest = cx.body()?;
    let team = team_id(request)?;
    let team = team.as_ref().map(TeamId::as_str);
    let verdict =
        moderation::verdict(config, caller, team, &body.text, Pacing::Interactive, scope).await?;
    Ok(Response::json(
        200,
        &json!({ "flagged": verdict.flagged, "categories": verdict.categories }),
    ))
}

/// `POST /v1/ai/generate-audit-plan` `{campaignObjective}` → `{plan}` with keys `D0` … `D8`.
pub async fn audit_plan(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct AuditPlanRequest {
        campaign_objective: Text<4_000>,
    }
    let body: AuditPlanRequest = cx.body()?;
    let instructions = "You plan audits of social media campaigns in nine phases, D0 (scoping) to D8 (closure and \
        lessons learned). Answer with a JSON object whose keys are exactly D0, D1, D2, D3, D4, D5, D6, D7 and D8; each \
        value is an object {\"title\": \"...\", \"actions\": [\"...\"]}.";
    ask_for_object(
        cx,
        "generate-audit-plan",
        instructions,
        &body.campaign_objective,
        |object| Ok(json!({ "plan": audit_plan_of(object)? })),
    )
    .await
}

/// The plan in the model's object: exactly the phases D0 to D8, each with a title and its
/// actions.
fn audit_plan_of(object: &Map<String, Value>) -> Result<Value, ApiError> {
    if object.len() != AUDIT_PHASES.len() {
        return Err(ApiError::InvalidModelOutput);
    }
    let phases = AUDIT_PHASES.iter().map(|phase| {
        let details = object
            .get(*phase)
            .and_then(Value::as_object)
            .ok_or(ApiError::InvalidModelOutput)?;
        let phase_plan = json!({
            "title": text_field(details, "title")?,
            "actions": optional_string_list(details, "actions", MAX_LIST_ITEMS)?,
        });
        Ok((phase.to_string(), phase_plan))
    });
    Ok(Value::Object(phases.collect::<Result<_, ApiError>>()?))
}

/// `POST /v1/ai/simulate-feedback` `{personaId | persona, content, platform?}` → `{feedback}`:
/// how that persona would react. A `personaId` is read with the caller's token, so RLS decides.
pub async fn simulate_feedback(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct FeedbackRequest {
        content: Prompt,
        persona_id: Option<PersonaId>,
        persona: Option<Map<String, Value>>,
        platform: Option<Hint>,
        tone: Option<Hint>,
    }
    let (config, caller, ..) = cx.parts();
    let body: FeedbackRequest = cx.body()?;
    let persona = match (&body.persona_id, &body.persona) {
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
        hints(&body.platform, &body.tone)
    );
    ask_for_object(
        cx,
        "simulate-feedback",
        &instructions,
        &body.content,
        |object| Ok(json!({ "feedback": feedback_of(object)? })),
    )
    .await
}

const SENTIMENTS: [&str; 3] = ["positive", "neutral", "negative"];

/// The persona's feedback in the model's object: a sentiment, a score from 0 to 100, a
/// reaction, and its concerns and suggestions (either list may be empty).
fn feedback_of(object: &Map<String, Value>) -> Result<Value, ApiError> {
    let sentiment = object
        .get("sentiment")
        .and_then(Value::as_str)
        .filter(|sentiment| SENTIMENTS.contains(sentiment))
        .ok_or(ApiError::InvalidModelOutput)?;
    let score = object
        .get("score")
        .filter(|score| score.as_f64().is_some_and(|n| (0.0..=100.0).contains(&n)))
        .ok_or(ApiError::InvalidModelOutput)?;
    Ok(json!({
        "sentiment": sentiment,
        "score": score,
        "reaction": text_field(object, "reaction")?,
        "concerns": optional_string_list(object, "concerns", MAX_LIST_ITEMS)?,
        "suggestions": optional_string_list(object, "suggestions", MAX_LIST_ITEMS)?,
    }))
}

async fn stored_persona(
    config: &Config,
    caller: &Caller,
    id: &PersonaId,
) -> Result<Value, ApiError> {
    let query = supabase::user_client(config, &caller.token)
        .from("personas")
        .select("name,demographics,psychographics,initial_beliefs,vulnerabilities,rst_bas,rst_bis,rst_fffs")
        .eq("id", id.as_str());
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
    fn an_audit_plan_has_exactly_d0_to_d8_each_with_a_title() {
        let plan: Map<String, Value> = AUDIT_PHASES
            .iter()
            .map(|phase| (phase.to_string(), json!({"title": phase, "actions": ["a"]})))
            .collect();
        assert_eq!(audit_plan_of(&plan).unwrap(), Value::Object(plan.clone()));
        let mut extra = plan.clone();
        extra.insert("D9".into(), json!({"title": "t"}));
        let mut missing = plan.clone();
        missing.remove("D4");
        let mut untitled = plan;
        untitled.insert("D4".into(), json!({"actions": []}));
        for wrong in [extra, missing, untitled] {
            assert!(audit_plan_of(&wrong).is_err(), "{wrong:?}");
        }
    }

    #[test]
    fn feedback_has_a_known_sentiment_a_score_and_a_reaction() {
        let answer = json!({"sentiment": "neutral", "score": 55, "reaction": "Fine. "});
        assert_eq!(
            feedback_of(&object(answer.clone())).unwrap(),
            json!({"sentiment": "neutral", "score": 55, "reaction": "Fine.", "concerns": [], "suggestions": []})
        );
        for (field, wrong) in [
            ("sentiment", json!("ecstatic")),
            ("score", json!(101)),
            ("score", json!("high")),
            ("reaction", json!(" ")),
            ("concerns", json!([1])),
        ] {
            let mut answer = object(answer.clone());
            answer.insert(field.into(), wrong);
            assert!(feedback_of(&answer).is_err(), "{answer:?}");
        }
        assert!(feedback_of(&object(json!({"echo": "x"}))).is_err());
    }
}
