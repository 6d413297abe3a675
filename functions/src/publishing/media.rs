//! A post's media as publishing sees it: the Storage objects its items named when it was
//! submitted (`app_private.post_media_objects`: bucket, path, type, and Storage's own size and
//! ETag, never a client's claim), and reading their bytes within a size cap.

use futures::StreamExt;
use serde::Deserialize;

use crate::config::Config;
use crate::infra::outbound::{self, Limits};
use crate::infra::{storage, supabase};

/// The Storage object a media item names.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct StoredMedia {
    pub bucket: String,
    pub path: String,
    pub mime_type: String,
    /// What Storage recorded as the object's size; `None` when it recorded none.
    pub size_bytes: Option<u64>,
    /// Storage's ETag of the object's bytes, when it recorded one.
    #[serde(rename = "eTag")]
    pub e_tag: Option<String>,
}

/// Why an object's bytes were not read.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadFailure {
    /// Larger than `cap` (what any destination of the post takes): `size` is what Storage
    /// announced or what was read before stopping.
    TooLarge { size: u64, cap: u64 },
    /// Not the bytes that were submitted (another size or ETag).
    Changed(String),
    /// Storage could not be asked, or refused (may work later).
    Unavailable(String),
    /// A name no URL may be built from (cannot happen for rows the database accepted).
    Unsafe,
}

/// Reads the object's bytes with the service role, never holding more than `cap` bytes (or the
/// submitted size, when smaller): the announced `Content-Length` is checked before reading and
/// the running total while reading.
pub async fn read(
    config: &Config,
    stored: &StoredMedia,
    cap: u64,
) -> Result<bytes::Bytes, ReadFailure> {
    let url = storage::object_url(config, "", &stored.bucket, &stored.path)
        .map_err(|_| ReadFailure::Unsafe)?;
    let request = supabase::as_service_role(config, reqwest::Client::new().get(url));
    // The size is held to `cap` below, with the errors publishing reports.
    let limits = Limits {
        max_body_bytes: usize::MAX,
        ..Limits::DEFAULT
    };
    let mut response = outbound::open(request, limits)
        .await
        .map_err(|failure| ReadFailure::Unavailable(format!("storage unreachable: {failure}")))?;
    if !(200..300).contains(&response.status) {
        return Err(ReadFailure::Unavailable(format!(
            "storage answered {} to reading",
            response.status
        )));
    }
    let announced = response
        .header("content-length")
        .and_then(|value| value.parse().ok());
    check_size(stored, announced.unwrap_or(0), cap)?;
    let served_etag = response.header("etag").filter(|tag| !tag.is_empty());
    if let (Some(submitted), Some(served)) = (&stored.e_tag, served_etag) {
        if bare_etag(submitted) != bare_etag(&served) {
            return Err(ReadFailure::Changed(
                "the file was replaced after the post was submitted".into(),
            ));
        }
    }
    let expected = stored.size_bytes.unwrap_or(cap).min(cap);
    let mut bytes = Vec::with_capacity(announced.unwrap_or(expected).min(expected) as usize);
    while let Some(chunk) = response.chunks.next().await {
        let chunk = chunk.map_err(|failure| {
            ReadFailure::Unavailable(format!("storage read failed: {failure}"))
        })?;
        check_size(stored, (bytes.len() + chunk.len()) as u64, cap)?;
        bytes.extend_from_slice(&chunk);
    }
    match stored.size_bytes {
        Some(submitted) if submitted != bytes.len() as u64 => Err(ReadFailure::Changed(format!(
            "the file has {} bytes; {submitted} were submitted",
            bytes.len()
        ))),
        _ => Ok(bytes.into()),
    }
}

/// Whether `size` bytes (announced or read so far) stay within the cap and the submitted size.
fn check_size(stored: &StoredMedia, size: u64, cap: u64) -> Result<(), ReadFailure> {
    if size > cap {
        return Err(ReadFailure::TooLarge { size, cap });
    }
    match stored.size_bytes {
        Some(submitted) if size > submitted => Err(ReadFailure::Changed(format!(
            "the file has more than the {submitted} bytes submitted"
        ))),
        _ => Ok(()),
    }
}

/// An ETag without its weak marker and quotes (Storage's metadata and its answers differ).
fn bare_etag(tag: &str) -> &str {
    tag.trim().trim_start_matches("W/").trim_matches('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(size_bytes: Option<u64>) -> StoredMedia {
        StoredMedia {
            bucket: "library".into(),
            path: "t/x.png".into(),
            mime_type: "image/png".into(),
            size_bytes,
            e_tag: Some("\"abc\"".into()),
        }
    }

    #[test]
    fn sizes_are_held_to_the_cap_and_to_what_was_submitted() {
        assert_eq!(check_size(&stored(Some(10)), 10, 100), Ok(()));
        assert_eq!(
            check_size(&stored(Some(1)), 31_457_280, 5_242_880),
            Err(ReadFailure::TooLarge {
                size: 31_457_280,
                cap: 5_242_880
            })
        );
        assert!(matches!(
            check_size(&stored(Some(10)), 11, 100),
            Err(ReadFailure::Changed(_))
        ));
        assert_eq!(check_size(&stored(None), 100, 100), Ok(()));
    }

    #[test]
    fn etags_compare_without_quotes_or_weak_markers() {
        assert_eq!(bare_etag("W/\"abc\""), bare_etag("\"abc\""));
        assert_ne!(bare_etag("\"abd\""), bare_etag("\"abc\""));
    }

    #[test]
    fn objects_read_as_the_database_describes_them() {
        let parsed: Vec<Option<StoredMedia>> = serde_json::from_value(serde_json::json!([
            {"bucket": "library", "path": "t/x.png", "mimeType": "image/png", "sizeBytes": 42,
             "objectId": "00000000-0000-0000-0000-000000000000", "version": null, "eTag": "\"abc\""},
            null
        ]))
        .unwrap();
        assert_eq!(parsed, [Some(stored(Some(42))), None]);
    }
}
