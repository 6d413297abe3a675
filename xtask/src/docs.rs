//! `cargo xtask docs`: the operation reference in `docs/api.md`, written from
//! `functions/openapi.json` so the two cannot drift (a unit test compares them).

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::repo_root;

const BEGIN: &str = "<!-- BEGIN generated from functions/openapi.json by `cargo xtask docs`: edit the document, not this part -->";
const END: &str = "<!-- END generated -->";
const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Rewrites the generated part of docs/api.md from the OpenAPI document.
pub fn write() -> Result<()> {
    let current = std::fs::read_to_string(api_md())?;
    std::fs::write(api_md(), with_reference(&current, &openapi()?)?)?;
    println!("wrote {}", api_md().display());
    Ok(())
}

fn api_md() -> PathBuf {
    repo_root().join("docs/api.md")
}

fn openapi() -> Result<Value> {
    let path = repo_root().join("functions/openapi.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path:?}"))?;
    Ok(serde_json::from_str(&text)?)
}

/// `doc` with the text between its markers replaced by the reference of `openapi`.
fn with_reference(doc: &str, openapi: &Value) -> Result<String> {
    let start = doc
        .find(BEGIN)
        .context("docs/api.md lacks the BEGIN marker")?
        + BEGIN.len();
    let end = doc.find(END).context("docs/api.md lacks the END marker")?;
    Ok(format!(
        "{}\n{}{}",
        &doc[..start],
        reference(openapi),
        &doc[end..]
    ))
}

/// An index table of every operation, then a section per operation with its answers.
fn reference(openapi: &Value) -> String {
    let operations = operations(openapi);
    let mut out = String::from("\n| operation | auth | what it does |\n| --- | --- | --- |\n");
    for (method, path, op) in &operations {
        out += &format!(
            "| [`{method} {path}`](#{}) | {} | {} |\n",
            anchor(method, path),
            auth(op),
            text(&op["summary"])
        );
    }
    for (method, path, op) in &operations {
        out += &format!("\n### {method} {path}\n\n{}", text(&op["summary"]));
        if let Some(description) = op["description"].as_str() {
            out += &format!(" {description}");
        }
        out += &format!("\n\nAuth: {}.", auth(op));
        if let Some(body) = schema_name(&op["requestBody"]["content"]) {
            out += &format!(" Body: `{body}`.");
        }
        out += "\n\n";
        for (status, response) in op["responses"].as_object().into_iter().flatten() {
            let response = resolve(openapi, response);
            out += &format!("- `{status}` {}\n", text(&response["description"]));
        }
    }
    out + "\n"
}

/// (METHOD, path, operation) in the document's order.
fn operations(openapi: &Value) -> Vec<(String, &str, &Value)> {
    let paths = openapi["paths"].as_object().into_iter().flatten();
    paths
        .flat_map(|(path, item)| {
            METHODS.iter().filter_map(move |method| {
                let op = item.get(*method)?;
                Some((method.to_uppercase(), path.as_str(), op))
            })
        })
        .collect()
}

/// GitHub's heading anchor for `### METHOD path`.
fn anchor(method: &str, path: &str) -> String {
    format!("{method} {path}")
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn auth(op: &Value) -> &'static str {
    let schemes: Vec<&str> = op["security"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|requirement| requirement.as_object()?.keys().next().map(String::as_str))
        .collect();
    match schemes.as_slice() {
        [] => "none",
        ["cronSecret"] => "`CRON_SECRET` bearer (pg_cron)",
        _ => "user access token",
    }
}

/// The component name of a JSON body's schema, when it is a reference.
fn schema_name(content: &Value) -> Option<&str> {
    content["application/json"]["schema"]["$ref"]
        .as_str()?
        .rsplit('/')
        .next()
}

/// A `$ref` to a shared response, followed.
fn resolve<'a>(openapi: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(pointer) => openapi
            .pointer(pointer.trim_start_matches('#'))
            .unwrap_or(value),
        None => value,
    }
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_api_md_is_the_reference_of_openapi_json() {
        let current = std::fs::read_to_string(api_md()).unwrap();
        let expected = with_reference(&current, &openapi().unwrap()).unwrap();
        assert!(
            current == expected,
            "docs/api.md differs from functions/openapi.json: run `cargo xtask docs`"
        );
    }

    #[test]
    fn the_reference_lists_each_operation_with_its_auth_and_answers() {
        let openapi = serde_json::json!({"paths": {"/v1/x/{id}": {"post": {
            "summary": "Do x.",
            "security": [{"cronSecret": []}],
            "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/X"}}}},
            "responses": {"202": {"description": "Queued."}, "401": {"$ref": "#/components/responses/Unauthorized"}}
        }}}, "components": {"responses": {"Unauthorized": {"description": "Refused."}}}});
        let reference = reference(&openapi);
        assert!(reference.contains(
            "| [`POST /v1/x/{id}`](#post-v1xid) | `CRON_SECRET` bearer (pg_cron) | Do x. |"
        ));
        assert!(reference.contains("Body: `X`."));
        assert!(reference.contains("- `202` Queued.\n- `401` Refused.\n"));
    }
}
