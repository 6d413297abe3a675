//! A job's brief and model chain, and what each step asks: pure functions of the brief and the
//! outputs of the steps before it, so a resumed job asks exactly what the first run would have.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::ai::moderation::judged_verdict;
use crate::ai::provider::{Capability, ModelName, ProviderKind};
use crate::error::ApiError;
use crate::valid::{List, Text};

pub const MAX_STEPS: usize = 10;
pub const MAX_INSTRUCTIONS_CHARS: usize = 2_000;
pub const PLATFORMS: [&str; 9] = [
    "facebook",
    "instagram",
    "x",
    "linkedin",
    "tiktok",
    "youtube",
    "threads",
    "pinterest",
    "bluesky",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Draft,
    Refine,
    /// Compares the two latest drafts and writes the better post from them.
    Reconcile,
    ImagePrompt,
    Image,
    Moderation,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Refine => "refine",
            Self::Reconcile => "reconcile",
            Self::ImagePrompt => "image_prompt",
            Self::Image => "image",
            Self::Moderation => "moderation",
        }
    }

    pub fn capability(self) -> Capability {
        match self {
            Self::Image => Capability::Image,
            _ => Capability::Text,
        }
    }

    /// Whether the step's output is the post's text from then on.
    fn writes_post(self) -> bool {
        matches!(self, Self::Draft | Self::Refine | Self::Reconcile)
    }
}

/// One step of a chain as the client named it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StepSpec {
    pub kind: StepKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<ProviderKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelName>,
    /// Added to the step's prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<Text<MAX_INSTRUCTIONS_CHARS>>,
}

impl StepSpec {
    fn of(kind: StepKind) -> Self {
        Self {
            kind,
            provider: None,
            model: None,
            instructions: None,
        }
    }
}

/// draft → refine → image prompt → image → moderation, each with the caller's provider.
pub fn default_chain() -> Vec<StepSpec> {
    [
        StepKind::Draft,
        StepKind::Refine,
        StepKind::ImagePrompt,
        StepKind::Image,
        StepKind::Moderation,
    ]
    .map(StepSpec::of)
    .to_vec()
}

/// A chain as a request gives it, each step with only the known fields.
pub type Steps = List<StepSpec, 1, MAX_STEPS>;

/// Why a chain is refused: the JSON path of the field and the reason.
#[derive(Debug, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub reason: &'static str,
}

/// The chain of `steps` (the field named `field`) if its steps can run in order: the first a
/// draft, a reconcile only after two drafts.
pub fn checked(steps: Steps, field: &str) -> Result<Vec<StepSpec>, Invalid> {
    let steps = steps.into_vec();
    let mut drafts = 0;
    for (index, step) in steps.iter().enumerate() {
        let reason = match step.kind {
            kind if index == 0 && kind != StepKind::Draft => {
                "must be draft: the chain starts with a draft"
            }
            StepKind::Reconcile if drafts < 2 => "reconcile needs two draft steps before it",
            StepKind::Draft => {
                drafts += 1;
                continue;
            }
            _ => continue,
        };
        return Err(Invalid {
            field: format!("{field}[{index}].kind"),
            reason,
        });
    }
    Ok(steps)
}

/// The platforms a brief is written for: known names, each once, at least one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Value")]
pub struct Platforms(Vec<&'static str>);

impl Default for Platforms {
    fn default() -> Self {
        Self(vec!["instagram"])
    }
}

impl TryFrom<Value> for Platforms {
    type Error = String;

    fn try_from(value: Value) -> Result<Self, String> {
        let Value::Array(items) = value else {
            return Err("must be an array of platforms".into());
        };
        let mut platforms = Vec::new();
        for item in &items {
            let known = PLATFORMS
                .into_iter()
                .find(|known| item.as_str() == Some(known))
                .ok_or_else(|| format!("must list platforms among {}", PLATFORMS.join(", ")))?;
            if !platforms.contains(&known) {
                platforms.push(known);
            }
        }
        if platforms.is_empty() {
            return Err("must name at least one platform".into());
        }
        Ok(Self(platforms))
    }
}

/// The brief as stored: what the client sent, and the campaign and persona as they were when
/// the job was created (`context`, added by the database).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Brief {
    pub prompt: String,
    #[serde(default)]
    pub brand_voice: Option<String>,
    #[serde(default)]
    pub platforms: Vec<String>,
    #[serde(default)]
    pub context: Value,
}

/// What a step asks its provider.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct StepInput {
    pub system: Option<String>,
    pub prompt: String,
    /// JSON mode (the moderation step).
    pub json: bool,
}

/// The post's text after the steps in `outputs`: the last draft, refinement or reconciliation.
fn post_text<'a>(chain: &[StepSpec], outputs: &'a [Value]) -> &'a str {
    chain
        .iter()
        .zip(outputs)
        .rev()
        .find(|(step, _)| step.kind.writes_post())
        .and_then(|(_, output)| output["text"].as_str())
        .unwrap_or_default()
}

fn last_of<'a>(chain: &[StepSpec], outputs: &'a [Value], kind: StepKind) -> Option<&'a str> {
    chain
        .iter()
        .zip(outputs)
        .rev()
        .find(|(step, _)| step.kind == kind)
        .and_then(|(_, output)| output["text"].as_str())
}

const COPYWRITER: &str =
    "You are a social media copywriter. Answer with the post's text only, ready to publish.";

/// The input of step `index`, given the outputs of the steps before it.
pub fn step_input(brief: &Brief, chain: &[StepSpec], outputs: &[Value], index: usize) -> StepInput {
    let step = &chain[index];
    let done = &outputs[..index.min(outputs.len())];
    let post = post_text(chain, done);
    let mut prompt = match step.kind {
        StepKind::Draft => draft_prompt(brief),
        StepKind::Refine => format!(
            "Improve this post: sharper hook, clearer call to action, the brand's voice{}. Keep it \
             suitable for {}.\n\nPost:\n{post}",
            voice(brief),
            platforms(brief)
        ),
        StepKind::Reconcile => {
            let drafts: Vec<&str> = chain[..index]
                .iter()
                .zip(done)
                .filter(|(step, _)| step.kind == StepKind::Draft)
                .filter_map(|(_, output)| output["text"].as_str())
                .collect();
            let (a, b) = match drafts.as_slice() {
                [.., a, b] => (*a, *b),
                _ => ("", ""),
            };
            format!(
                "Two drafts of the same post follow. Compare them and write the one best post, \
                 taking the strongest parts of each.\n\nDraft A:\n{a}\n\nDraft B:\n{b}"
            )
        }
        StepKind::ImagePrompt => format!(
            "Write one prompt for an image generator for a picture to go with this post: subject, \
             style, composition, no text in the image. Answer with the prompt only.\n\nPost:\n{post}"
        ),
        StepKind::Image => last_of(chain, done, StepKind::ImagePrompt)
            .unwrap_or(post)
            .to_owned(),
        StepKind::Moderation => format!(
            "Review this social media post for hate, harassment, violence, sexual content, \
             self-harm, misinformation and unlawful claims. Answer with JSON: {{\"flagged\": \
             boolean, \"categories\": [strings]}}.\n\nPost:\n{post}"
        ),
    };
    if let Some(instructions) = &step.instructions {
        prompt.push_str("\n\n");
        prompt.push_str(instructions);
    }
    StepInput {
        system: matches!(
            step.kind,
            StepKind::Draft | StepKind::Refine | StepKind::Reconcile
        )
        .then(|| COPYWRITER.to_owned()),
        prompt,
        json: step.kind == StepKind::Moderation,
    }
}

fn voice(brief: &Brief) -> String {
    brief
        .brand_voice
        .as_ref()
        .map(|voice| format!(" ({voice})"))
        .unwrap_or_default()
}

fn platforms(brief: &Brief) -> String {
    if brief.platforms.is_empty() {
        "social media".to_owned()
    } else {
        brief.platforms.join(", ")
    }
}

fn draft_prompt(brief: &Brief) -> String {
    let mut prompt = format!(
        "Write a post for {}.\n\nBrief: {}",
        platforms(brief),
        brief.prompt
    );
    if let Some(voice) = &brief.brand_voice {
        prompt.push_str(&format!("\nBrand voice: {voice}"));
    }
    let campaign = &brief.context["campaign"];
    for (label, key) in [
        ("Campaign", "name"),
        ("Campaign description", "description"),
        ("Brand", "brandName"),
        ("Target audience", "targetAudience"),
        ("Tone", "tone"),
    ] {
        if let Some(value) = campaign[key].as_str() {
            prompt.push_str(&format!("\n{label}: {value}"));
        }
    }
    let persona = &brief.context["persona"];
    if let Some(name) = persona["name"].as_str() {
        prompt.push_str(&format!("\nWrite for this persona: {name}"));
        for key in ["demographics", "psychographics"] {
            if persona[key].as_object().is_some_and(|o| !o.is_empty()) {
                prompt.push_str(&format!("\n{key}: {}", persona[key]));
            }
        }
        if let Some(beliefs) = persona["initialBeliefs"].as_str() {
            prompt.push_str(&format!("\nbeliefs: {beliefs}"));
        }
    }
    prompt
}

/// A text step's output as stored.
pub fn text_output(text: &str) -> Value {
    json!({ "text": text })
}

/// The moderation step's output: the model's verdict, checked as `/v1/ai/moderate` checks it
/// (an answer without one fails the step, uncharged: it is never read as "not flagged").
pub fn moderation_output(answer: &str) -> Result<Value, ApiError> {
    let verdict = judged_verdict(answer)?;
    Ok(json!({ "flagged": verdict.flagged, "categories": verdict.categories }))
}

/// What the whole chain produced, once every step is done.
pub fn result(chain: &[StepSpec], outputs: &[Value]) -> Value {
    let moderation = chain
        .iter()
        .zip(outputs)
        .rev()
        .find(|(step, _)| step.kind == StepKind::Moderation)
        .map(|(_, output)| output.clone());
    let images: Vec<Value> = chain
        .iter()
        .zip(outputs)
        .filter(|(step, _)| step.kind == StepKind::Image)
        .flat_map(|(_, output)| output["assets"].as_array().cloned().unwrap_or_default())
        .collect();
    json!({
        "text": post_text(chain, outputs),
        "imagePrompt": last_of(chain, outputs, StepKind::ImagePrompt),
        "moderation": moderation,
        "assets": images,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;
    use crate::http::extract::decode;

    /// `chain` as a request's field, decoded and checked.
    fn parse_chain(chain: Value) -> Result<Vec<StepSpec>, String> {
        #[derive(Deserialize)]
        struct Body {
            chain: Steps,
        }
        match decode::<Body>(json!({ "chain": chain }).to_string().as_bytes()) {
            Ok(body) => checked(body.chain, "chain").map_err(|invalid| invalid.field),
            Err(ApiError::InvalidRequest { field, .. }) => Err(field),
            Err(other) => panic!("{other:?}"),
        }
    }

    fn brief() -> Brief {
        Brief {
            prompt: "Launch of the spring collection".into(),
            brand_voice: Some("playful".into()),
            platforms: vec!["instagram".into(), "x".into()],
            context: json!({"campaign": {"name": "Spring", "tone": "warm"}, "persona": {"name": "Ana"}}),
        }
    }

    #[test]
    fn the_default_chain_is_valid_and_round_trips() {
        let value = serde_json::to_value(default_chain()).unwrap();
        assert_eq!(value[0], json!({"kind": "draft"}));
        assert_eq!(parse_chain(value).unwrap(), default_chain());
    }

    #[test]
    fn chain_errors_name_the_field() {
        let field = |value: Value| parse_chain(value).unwrap_err();
        assert_eq!(field(json!([])), "chain");
        assert_eq!(field(json!({})), "chain");
        assert_eq!(field(json!([{"kind": "refine"}])), "chain[0].kind");
        assert_eq!(
            field(json!([{"kind": "draft"}, {"kind": "painting"}])),
            "chain[1].kind"
        );
        assert_eq!(
            field(json!([{"kind": "draft", "provider": "acme"}])),
            "chain[0].provider"
        );
        for model in [
            "",
            "veo-3.0-generate-001:predictLongRunning#",
            "x?alt=sse",
            "a/../b",
        ] {
            assert_eq!(
                field(json!([{"kind": "draft", "model": model}])),
                "chain[0].model"
            );
        }
        assert_eq!(
            field(json!([{"kind": "draft", "temp": 1}])),
            "chain[0].temp"
        );
        assert_eq!(
            field(json!([{"kind": "draft"}, {"kind": "reconcile"}])),
            "chain[1].kind"
        );
        assert_eq!(
            field(json!(vec![json!({"kind": "draft"}); MAX_STEPS + 1])),
            "chain"
        );
        let mixed = json!([{"kind": "draft", "provider": "openai"}, {"kind": "draft", "provider": "xai", "model": "grok-3"},
                           {"kind": "reconcile"}]);
        assert_eq!(
            parse_chain(mixed).unwrap()[1].provider,
            Some(ProviderKind::Xai)
        );
    }

    #[test]
    fn each_step_builds_on_the_outputs_before_it() {
        let chain = parse_chain(
            json!([{"kind": "draft"}, {"kind": "draft", "instructions": "shorter"}, {"kind": "reconcile"},
                    {"kind": "refine"}, {"kind": "image_prompt"}, {"kind": "image"}, {"kind": "moderation"}]),
        )
        .unwrap();
        let outputs = vec![
            text_output("first draft"),
            text_output("second draft"),
            text_output("reconciled"),
            text_output("refined"),
            text_output("a red tulip"),
            json!({"assets": [{"storagePath": "t/j/5-0.png"}]}),
            moderation_output(r#"{"flagged": false, "categories": []}"#).unwrap(),
        ];
        let draft = step_input(&brief(), &chain, &[], 0);
        for part in [
            "instagram, x",
            "Launch of the spring",
            "playful",
            "Spring",
            "warm",
            "Ana",
        ] {
            assert!(
                draft.prompt.contains(part),
                "{part} missing from {}",
                draft.prompt
            );
        }
        assert!(step_input(&brief(), &chain, &outputs, 1)
            .prompt
            .ends_with("shorter"));
        let reconcile = step_input(&brief(), &chain, &outputs, 2).prompt;
        assert!(reconcile.contains("first draft") && reconcile.contains("second draft"));
        assert!(step_input(&brief(), &chain, &outputs, 3)
            .prompt
            .contains("reconciled"));
        assert!(step_input(&brief(), &chain, &outputs, 4)
            .prompt
            .contains("refined"));
        assert_eq!(
            step_input(&brief(), &chain, &outputs, 5).prompt,
            "a red tulip"
        );
        let moderation = step_input(&brief(), &chain, &outputs, 6);
        assert!(moderation.json && moderation.prompt.contains("refined"));
        assert_eq!(
            step_input(&brief(), &chain, &outputs, 3),
            step_input(&brief(), &chain, &outputs[..3], 3),
            "an input depends only on the steps before it"
        );

        let result = result(&chain, &outputs);
        assert_eq!(result["text"], "refined");
        assert_eq!(result["imagePrompt"], "a red tulip");
        assert_eq!(result["moderation"]["flagged"], false);
        assert_eq!(result["assets"][0]["storagePath"], "t/j/5-0.png");
    }

    #[test]
    fn moderation_needs_a_verdict() {
        assert_eq!(
            moderation_output(r#"{"flagged": true, "categories": ["hate"]}"#).unwrap(),
            json!({"flagged": true, "categories": ["hate"]})
        );
        for unjudged in ["not json", r#"{"echo": "x"}"#, r#"{"flagged": "no"}"#] {
            assert_eq!(
                moderation_output(unjudged).unwrap_err().code(),
                "invalid_model_output",
                "{unjudged}"
            );
        }
    }
}
