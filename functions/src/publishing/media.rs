//! A post's media items: `{"libraryAssetId"}` (a file of the team's library) or `{"assetId"}`
//! (an image a content job generated), resolved to the Storage object they name. Resolved with
//! the caller's token when scheduling (RLS decides what is visible) and with the service role,
//! limited to the post's team, when publishing.

use postgrest::Postgrest;
use serde_json::Value;

use crate::error::ApiError;
use crate::supabase;

/// The Storage object a media item names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMedia {
    pub bucket: String,
    pub path: String,
    pub mime_type: String,
    pub size_bytes: u64,
}

/// Each item of `media` (a JSON array), in order: its object, or `None` when the item is
/// malformed or names nothing visible in `team_id`.
pub async fn resolve(
    client: &Postgrest,
    team_id: &str,
    media: &Value,
) -> Result<Vec<Option<StoredMedia>>, ApiError> {
    let items: Vec<&Value> = media.as_array().into_iter().flatten().collect();
    let ids =
        |field: &str| -> Vec<&str> { items.iter().filter_map(|i| i[field].as_str()).collect() };
    let mut found: Vec<(String, StoredMedia)> = Vec::new();
    // (table, the item's field, the path column, the bucket: its column, or a fixed name)
    for (table, field, path_column, bucket) in [
        (
            "content_library_assets",
            "libraryAssetId",
            "object_path",
            Err("library"),
        ),
        ("assets", "assetId", "storage_path", Ok("bucket_id")),
    ] {
        let wanted = ids(field);
        if wanted.is_empty() {
            continue;
        }
        let columns = match bucket {
            Ok(column) => format!("id,{path_column},mime_type,size_bytes,{column}"),
            Err(_) => format!("id,{path_column},mime_type,size_bytes"),
        };
        let query = client
            .from(table)
            .select(columns)
            .eq("team_id", team_id)
            .in_("id", wanted);
        let rows: Vec<Value> = serde_json::from_str(&supabase::send(query).await?)
            .map_err(|error| ApiError::Upstream(format!("{table} unparsable: {error}")))?;
        let text = |row: &Value, column: &str| row[column].as_str().unwrap_or_default().to_owned();
        found.extend(rows.iter().map(|row| {
            let stored = StoredMedia {
                bucket: match bucket {
                    Ok(column) => text(row, column),
                    Err(name) => name.to_owned(),
                },
                path: text(row, path_column),
                mime_type: text(row, "mime_type"),
                size_bytes: row["size_bytes"].as_u64().unwrap_or(0),
            };
            (text(row, "id"), stored)
        }));
    }
    Ok(items
        .iter()
        .map(|item| {
            let id = item["libraryAssetId"]
                .as_str()
                .or_else(|| item["assetId"].as_str())?;
            found
                .iter()
                .find(|(found_id, _)| found_id == id)
                .map(|(_, stored)| stored.clone())
        })
        .collect())
}
