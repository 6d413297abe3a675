//! Supabase Storage as the service role: uploads of files the worker made, short-lived signed
//! URLs for clients to download private objects, and removal of objects whose rows are gone.

use serde::Deserialize;
use serde_json::json;

use crate::config::Config;
use crate::error::ApiError;
use crate::outbound;

/// `{SUPABASE_URL}/storage/v1/object/{bucket}/{name}`, each path segment percent-encoded.
fn object_url(config: &Config, action: &str, bucket: &str, name: &str) -> String {
    let name: Vec<String> = name.split('/').map(encode_segment).collect();
    format!(
        "{}/storage/v1/object/{action}{bucket}/{}",
        config.supabase_url.base(),
        name.join("/")
    )
}

fn encode_segment(segment: &str) -> String {
    segment
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// Sends `request` as the service role; Storage's answer when it accepted the request.
async fn send(
    config: &Config,
    request: reqwest::RequestBuilder,
    action: &str,
) -> Result<outbound::Reply, ApiError> {
    let key = config.service_role_key.expose();
    let request = request
        .header("apikey", key)
        .header("authorization", format!("Bearer {key}"));
    let reply = outbound::send(request)
        .await
        .map_err(|cause| ApiError::DatabaseUnavailable(format!("storage unreachable: {cause}")))?;
    if reply.succeeded() {
        return Ok(reply);
    }
    Err(ApiError::Upstream(format!(
        "storage {action} answered {}: {}",
        reply.status,
        reply.body_excerpt()
    )))
}

/// Uploads (or replaces: an upload repeated after a crash lands on the same name) an object.
pub async fn upload(
    config: &Config,
    bucket: &str,
    name: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> Result<(), ApiError> {
    let request = reqwest::Client::new()
        .post(object_url(config, "", bucket, name))
        .header("content-type", content_type)
        .header("x-upsert", "true")
        .body(bytes);
    send(config, request, "upload").await.map(drop)
}

/// Removes objects of `bucket` by name (`DELETE /object/{bucket}`, at most 1,000 a call). A
/// name that is already gone is not an error: Storage just leaves it out of its answer.
pub async fn remove(config: &Config, bucket: &str, names: &[&str]) -> Result<(), ApiError> {
    let request = reqwest::Client::new()
        .delete(format!(
            "{}/storage/v1/object/{}",
            config.supabase_url.base(),
            encode_segment(bucket)
        ))
        .header("content-type", "application/json")
        .body(json!({ "prefixes": names }).to_string());
    send(config, request, "removal").await.map(drop)
}

/// A URL that downloads the object without a token for `expires_in` seconds.
pub async fn signed_url(
    config: &Config,
    bucket: &str,
    name: &str,
    expires_in: u32,
) -> Result<String, ApiError> {
    #[derive(Deserialize)]
    struct Signed {
        #[serde(rename = "signedURL")]
        signed_url: String,
    }
    let request = reqwest::Client::new()
        .post(object_url(config, "sign/", bucket, name))
        .header("content-type", "application/json")
        .body(json!({ "expiresIn": expires_in }).to_string());
    let reply = send(config, request, "sign").await?;
    let signed: Signed = serde_json::from_slice(&reply.body)
        .map_err(|error| ApiError::Upstream(format!("storage sign answer unparsable: {error}")))?;
    // Storage answers with a path under its own root (`/object/sign/…?token=…`).
    Ok(format!(
        "{}/storage/v1{}",
        config.supabase_url.base(),
        signed.signed_url
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::config_from;

    #[test]
    fn object_urls_encode_each_segment() {
        let config = config_from(&[
            ("SUPABASE_URL", "https://p.supabase.co/"),
            ("SUPABASE_ANON_KEY", "anon"),
            ("SUPABASE_SERVICE_ROLE_KEY", "service"),
        ])
        .unwrap();
        assert_eq!(
            object_url(&config, "sign/", "generated-assets", "team/a b/1-0.png"),
            "https://p.supabase.co/storage/v1/object/sign/generated-assets/team/a%20b/1-0.png"
        );
    }
}
