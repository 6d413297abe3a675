//! Every answer of the worker that an e2e test receives is checked against `functions/openapi.json`:
//! its status must be one the document lists for the operation, and a JSON body must be valid
//! against that response's schema. So the document cannot drift from what the worker answers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Value};

const DOCUMENT: &str = include_str!("../../../functions/openapi.json");

fn document() -> &'static Value {
    static DOCUMENT_VALUE: OnceLock<Value> = OnceLock::new();
    DOCUMENT_VALUE.get_or_init(|| serde_json::from_str(DOCUMENT).expect("openapi.json is JSON"))
}

/// One answer, as far as the document speaks about it.
pub struct Answer<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub content_type: Option<&'a str>,
    /// `None` when the body was not read (a stream).
    pub body: Option<&'a [u8]>,
}

/// Whether `answer` is what the document promises, or what breaks the promise.
pub fn check(answer: &Answer<'_>) -> Result<(), String> {
    let what = format!(
        "{} {} answered {}",
        answer.method, answer.path, answer.status
    );
    let Some((template, item)) = path_item(answer.path) else {
        // Unknown paths answer 404 `not_found` (the `Error` schema's description).
        return expect_error(answer, 404, &what);
    };
    let Some(operation) = item.get(answer.method.to_lowercase()) else {
        return match (answer.method, answer.status) {
            // A browser's CORS preflight (openapi.json's description): answered without a body,
            // or refused for an origin the deployment does not allow.
            ("OPTIONS", 204) if answer.body.is_none_or(<[u8]>::is_empty) => Ok(()),
            ("OPTIONS", 403) => expect_error(answer, 403, &what),
            _ => expect_error(answer, 405, &what),
        };
    };
    let key = format!("{} {template} {}", answer.method, answer.status);
    let Some(response) = operation["responses"].get(answer.status.to_string()) else {
        return Err(format!(
            "{what}, a status openapi.json does not list for {} {template} (body: {})",
            answer.method,
            excerpt(answer.body)
        ));
    };
    check_content(answer, &follow(response)["content"], &key, &what)
}

fn expect_error(answer: &Answer<'_>, status: u16, what: &str) -> Result<(), String> {
    if answer.status != status {
        return Err(format!("{what}; openapi.json documents {status} here"));
    }
    let content = json!({"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}});
    check_content(answer, &content, &format!("error {status}"), what)
}

/// The answer's media type must be one the response lists, and a JSON body valid against its schema.
fn check_content(
    answer: &Answer<'_>,
    content: &Value,
    key: &str,
    what: &str,
) -> Result<(), String> {
    let Some(media_types) = content.as_object() else {
        return Ok(());
    };
    let media_type = answer
        .content_type
        .and_then(|value| value.split(';').next())
        .map(str::trim)
        .unwrap_or_default();
    let Some(media) = media_types.get(media_type) else {
        return Err(format!(
            "{what} with content-type {media_type:?}; openapi.json lists {:?}",
            media_types.keys().collect::<Vec<_>>()
        ));
    };
    let (Some(body), "application/json") = (answer.body, media_type) else {
        return Ok(());
    };
    let Some(schema) = media.get("schema") else {
        return Ok(());
    };
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| format!("{what} with a body that is not JSON: {error}"))?;
    let validator = validator(key, schema)?;
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|error| format!("at {}: {error}", error.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{what} with a body that openapi.json's schema refuses: {}\nbody: {value}",
            errors.join("; ")
        ))
    }
}

/// The start of a body, for a message.
fn excerpt(body: Option<&[u8]>) -> String {
    let text = String::from_utf8_lossy(body.unwrap_or_default());
    text.chars().take(300).collect()
}

/// The document's path item whose template matches `path` (a `{name}` segment matches any one
/// segment), preferring literal segments: `/v1/jobs/{job_id}` never shadows a literal sibling.
fn path_item(path: &str) -> Option<(&'static str, &'static Value)> {
    let segments: Vec<&str> = path.split('/').collect();
    let paths = document()["paths"].as_object()?;
    paths
        .iter()
        .filter_map(|(template, item)| {
            let parts: Vec<&str> = template.split('/').collect();
            let matches = parts.len() == segments.len()
                && parts.iter().zip(&segments).all(|(part, segment)| {
                    part == segment || (part.starts_with('{') && !segment.is_empty())
                });
            let literal = parts.iter().filter(|part| !part.starts_with('{')).count();
            matches.then_some((literal, template.as_str(), item))
        })
        .max_by_key(|(literal, ..)| *literal)
        .map(|(_, template, item)| (template, item))
}

/// A shared response (`$ref` to `#/components/responses/…`), followed.
fn follow(response: &'static Value) -> &'static Value {
    response["$ref"]
        .as_str()
        .and_then(|pointer| document().pointer(pointer.trim_start_matches('#')))
        .unwrap_or(response)
}

/// A compiled validator for `schema`, kept per operation and status: the schema is compiled
/// inside the whole document, so its `#/components/…` references resolve.
fn validator(key: &str, schema: &Value) -> Result<Arc<jsonschema::Validator>, String> {
    static VALIDATORS: OnceLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> =
        OnceLock::new();
    let mut validators = VALIDATORS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(validator) = validators.get(key) {
        return Ok(validator.clone());
    }
    let mut root = document().clone();
    root["$defs"] = json!({ "answer": schema });
    root["$ref"] = json!("#/$defs/answer");
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&root)
        .map_err(|error| format!("openapi.json's schema for {key} does not compile: {error}"))?;
    let validator = Arc::new(validator);
    validators.insert(key.to_owned(), validator.clone());
    Ok(validator)
}

#[cfg(test)]
mod tests {
    use super::{check, Answer};

    fn answer<'a>(method: &'a str, path: &'a str, status: u16, body: &'a str) -> Answer<'a> {
        Answer {
            method,
            path,
            status,
            content_type: Some("application/json; charset=utf-8"),
            body: Some(body.as_bytes()),
        }
    }

    #[test]
    fn answers_are_held_to_their_operation_in_the_document() {
        let error = r#"{"error":{"code":"job_not_found","message":"No such job."}}"#;
        check(&answer("GET", "/v1/jobs/7b0c", 404, error)).unwrap();
        check(&answer("GET", "/healthz", 200, r#"{"status":"ok"}"#)).unwrap();

        // A status the operation does not list.
        let refused = check(&answer("GET", "/v1/jobs/7b0c", 418, error)).unwrap_err();
        assert!(refused.contains("does not list"), "{refused}");
        // A body its schema refuses: an error without its code.
        let refused = check(&answer(
            "GET",
            "/v1/jobs/7b0c",
            404,
            r#"{"error":{"message":"x"}}"#,
        ))
        .unwrap_err();
        assert!(refused.contains("schema refuses"), "{refused}");
        // A media type the response does not list.
        let mut html = answer("GET", "/v1/jobs/7b0c", 404, "<p>");
        html.content_type = Some("text/html");
        assert!(check(&html).unwrap_err().contains("content-type"));

        // Unknown paths and methods answer the documented 404 and 405.
        let unknown = r#"{"error":{"code":"not_found","message":"No such route."}}"#;
        check(&answer("GET", "/v1/nowhere", 404, unknown)).unwrap();
        assert!(check(&answer("GET", "/v1/nowhere", 200, "{}")).is_err());
        assert!(check(&answer("DELETE", "/healthz", 200, "{}")).is_err());
    }
}
