//! Supabase Storage as the service role: uploads of files the worker made, short-lived signed
//! URLs for clients to download private objects, and removal of objects whose rows are gone.

use serde::Deserialize;
use serde_json::json;

use crate::config::Config;
use crate::error::ApiError;
use crate::infra::{outbound, supabase};

/// Whether `name` is a plain relative object name, by the rule the database holds every stored
/// path to (`app_private.is_safe_object_path`): at most 1024 bytes of `/`-separated segments,
/// none empty, `.` or `..`, without `\`, `%`, `?`, `#` or control characters. URL parsers
/// resolve dot segments even percent-encoded (`%2e%2e`), so encoding alone cannot keep such a
/// name inside its folder: it is refused before any URL is built.
pub fn is_safe_object_name(name: &str) -> bool {
    (1..=1024).contains(&name.len())
        && !name
            .chars()
            .any(|c| matches!(c, '\\' | '%' | '?' | '#') || c.is_control())
        && name
            .split('/')
            .all(|segment| !matches!(segment, "" | "." | ".."))
}

/// `{SUPABASE_URL}/storage/v1/object/{action}{bucket}/{name}`, each path segment
/// percent-encoded; an unsafe bucket or object name is refused.
pub fn object_url(
    config: &Config,
    action: &str,
    bucket: &str,
    name: &str,
) -> Result<String, ApiError> {
    if !is_safe_object_name(name) || !is_safe_object_name(bucket) || bucket.contains('/') {
        return Err(ApiError::Upstream(format!(
            "refused a storage object name that could leave its folder in bucket {}",
            encode_segment(bucket)
        )));
    }
    let name: Vec<String> = name.split('/').map(encode_segment).collect();
    Ok(format!(
        "{}/storage/v1/object/{action}{}/{}",
        config.supabase_url.base(),
        encode_segment(bucket),
        name.join("/")
    ))
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
    let request = supabase::as_service_role(config, request);
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
        .post(object_url(config, "", bucket, name)?)
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
        .post(object_url(config, "sign/", bucket, name)?)
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
            object_url(&config, "sign/", "generated-assets", "team/a b/1-0.png").unwrap(),
            "https://p.supabase.co/storage/v1/object/sign/generated-assets/team/a%20b/1-0.png"
        );
        assert_eq!(
            object_url(&config, "", "library", "t/é&+=:@;,$!'()*[]/x.png").unwrap(),
            "https://p.supabase.co/storage/v1/object/library/t/%C3%A9%26%2B%3D%3A%40%3B%2C%24%21%27%28%29%2A%5B%5D/x.png"
        );
    }

    #[test]
    fn names_that_could_leave_their_folder_never_become_urls() {
        let config = config_from(&[
            ("SUPABASE_URL", "https://p.supabase.co/"),
            ("SUPABASE_ANON_KEY", "anon"),
            ("SUPABASE_SERVICE_ROLE_KEY", "service"),
        ])
        .unwrap();
        let too_long = "a/".repeat(600) + "x";
        for name in [
            "A/../B/x.png",
            "A/./x",
            "A//x",
            "A/%2e%2e/x",
            "A\\..\\x",
            "A/x?y",
            "A/x#y",
            "A/x\ny",
            "A/x\u{7f}",
            "/A/x",
            "A/x/",
            "..",
            "",
            too_long.as_str(),
        ] {
            assert!(!is_safe_object_name(name), "{name:?}");
            assert!(
                object_url(&config, "", "library", name).is_err(),
                "{name:?}"
            );
        }
        assert!(object_url(&config, "", "../chat", "A/x.png").is_err());
        assert!(is_safe_object_name("A/brand assets/logo.v2.png"));
    }
}
