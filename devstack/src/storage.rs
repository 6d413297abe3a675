//! A narrow Supabase Storage stand-in. As the real service does, every metadata statement runs in
//! the caller's role with the caller's claims, so the `storage.objects` RLS policies decide who may
//! upload, read, list and delete. Bytes live on the local filesystem under target/.

use std::path::{Component, PathBuf};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use deadpool_postgres::Pool;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio_postgres::Transaction;
use uuid::Uuid;

use crate::db::act_as;
use crate::keys::{DevKeys, Signing};

pub struct Storage {
    pool: Pool,
    keys: DevKeys,
    root: PathBuf,
}

/// Storage's error body. Like the real service, most failures answer HTTP 400 and carry the
/// meaningful status in `statusCode`.
pub struct StorageError {
    http: StatusCode,
    status: &'static str,
    error: &'static str,
    message: String,
}

type StorageResult<T> = Result<T, StorageError>;

fn fail(status: &'static str, error: &'static str, message: impl Into<String>) -> StorageError {
    StorageError {
        http: StatusCode::BAD_REQUEST,
        status,
        error,
        message: message.into(),
    }
}

fn not_found() -> StorageError {
    fail("404", "not_found", "Object not found")
}

impl IntoResponse for StorageError {
    fn into_response(self) -> Response {
        (
            self.http,
            Json(
                json!({ "statusCode": self.status, "error": self.error, "message": self.message }),
            ),
        )
            .into_response()
    }
}

impl From<tokio_postgres::Error> for StorageError {
    fn from(error: tokio_postgres::Error) -> Self {
        match error.as_db_error().map(|e| e.code().code()) {
            // insufficient_privilege: what RLS raises on a refused insert or update.
            Some("42501") => fail(
                "403",
                "Unauthorized",
                "new row violates row-level security policy",
            ),
            _ => {
                eprintln!("storage stand-in database error: {error}");
                StorageError {
                    http: StatusCode::INTERNAL_SERVER_ERROR,
                    status: "500",
                    error: "internal",
                    message: "Internal Server Error".into(),
                }
            }
        }
    }
}

impl From<deadpool_postgres::PoolError> for StorageError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        eprintln!("storage stand-in pool error: {error}");
        StorageError {
            http: StatusCode::INTERNAL_SERVER_ERROR,
            status: "500",
            error: "internal",
            message: "Internal Server Error".into(),
        }
    }
}

impl Storage {
    pub fn new(pool: Pool, keys: DevKeys, root: PathBuf) -> Self {
        Self { pool, keys, root }
    }

    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/storage/v1/object/list/{bucket}", post(list))
            .route(
                "/storage/v1/object/sign/{bucket}/{*name}",
                post(create_signed_url).get(download_signed),
            )
            .route(
                "/storage/v1/object/public/{bucket}/{*name}",
                get(download_public),
            )
            .route(
                "/storage/v1/object/authenticated/{bucket}/{*name}",
                get(download),
            )
            .route(
                "/storage/v1/object/{bucket}/{*name}",
                get(download).post(upload).put(update),
            )
            .route("/storage/v1/object/{bucket}", axum::routing::delete(remove))
            // Supabase's global upload limit (config.toml `file_size_limit`); buckets set
            // their own below it.
            .layer(axum::extract::DefaultBodyLimit::max(50 * 1024 * 1024))
            .with_state(self)
    }

    /// The caller's claims: those of a valid bearer token, else anonymous.
    fn claims(&self, headers: &HeaderMap) -> StorageResult<Value> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match token {
            None => Ok(json!({ "role": "anon" })),
            Some(token) => self
                .keys
                .verify(token)
                .ok_or_else(|| fail("400", "InvalidJWT", "invalid signature")),
        }
    }

    fn object_path(&self, bucket: &str, name: &str) -> StorageResult<PathBuf> {
        let relative = PathBuf::from(bucket).join(name);
        let safe = !name.is_empty()
            && relative
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
        if !safe {
            return Err(fail("400", "InvalidKey", format!("Invalid key: {name}")));
        }
        Ok(self.root.join(relative))
    }

    async fn bucket(&self, bucket: &str) -> StorageResult<Bucket> {
        let db = self.pool.get().await?;
        let row = db
            .query_opt("select public, file_size_limit, allowed_mime_types from storage.buckets where id = $1", &[&bucket])
            .await?
            .ok_or_else(|| fail("404", "Bucket not found", "Bucket not found"))?;
        Ok(Bucket {
            public: row.get::<_, Option<bool>>(0).unwrap_or(false),
            size_limit: row.get(1),
            mime_types: row.get(2),
        })
    }

    async fn store(
        &self,
        headers: &HeaderMap,
        bucket: &str,
        name: &str,
        file: UploadedFile,
        upsert: bool,
    ) -> StorageResult<Json<Value>> {
        let limits = self.bucket(bucket).await?;
        limits.admit(&file)?;
        let claims = self.claims(headers)?;
        let owner = claims["sub"].as_str().and_then(|s| s.parse::<Uuid>().ok());
        let metadata = json!({
            "size": file.bytes.len(),
            "mimetype": file.content_type,
            "cacheControl": file.cache_control,
            "eTag": format!("\"{}\"", crate::sha256_hex(&file.bytes)),
            "lastModified": chrono::Utc::now().to_rfc3339(),
            "contentLength": file.bytes.len(),
            "httpStatusCode": 200,
        });
        let path = self.object_path(bucket, name)?;
        let mut db = self.pool.get().await?;
        let tx = db.transaction().await?;
        act_as(&tx, &claims).await?;
        let conflict = if upsert {
            "on conflict (bucket_id, name) do update set metadata = excluded.metadata, updated_at = now(), owner = excluded.owner, owner_id = excluded.owner_id"
        } else {
            "on conflict (bucket_id, name) do nothing"
        };
        let row = tx
            .query_opt(
                &format!(
                    "insert into storage.objects (bucket_id, name, owner, owner_id, metadata) values ($1, $2, $3, $4, $5) {conflict} returning id"
                ),
                &[&bucket, &name, &owner, &owner.map(|o| o.to_string()), &metadata],
            )
            .await?
            .ok_or_else(|| fail("409", "Duplicate", "The resource already exists"))?;
        let id: Uuid = row.get(0);
        write_file(&path, &file.bytes).await?;
        tx.commit().await?;
        Ok(Json(json!({ "Key": format!("{bucket}/{name}"), "Id": id })))
    }

    /// Reads an object the claims may see (RLS), or any object for `None` (public bucket, signed URL).
    async fn read(
        &self,
        claims: Option<&Value>,
        bucket: &str,
        name: &str,
    ) -> StorageResult<Response> {
        let path = self.object_path(bucket, name)?;
        let mut db = self.pool.get().await?;
        let tx = db.transaction().await?;
        if let Some(claims) = claims {
            act_as(&tx, claims).await?;
        }
        let row = tx
            .query_opt(
                "select metadata from storage.objects where bucket_id = $1 and name = $2",
                &[&bucket, &name],
            )
            .await?
            .ok_or_else(not_found)?;
        tx.commit().await?;
        let metadata: Option<Value> = row.get(0);
        let metadata = metadata.unwrap_or_default();
        let bytes = tokio::fs::read(&path).await.map_err(|_| not_found())?;
        let content_type = metadata["mimetype"]
            .as_str()
            .unwrap_or("application/octet-stream")
            .to_owned();
        let cache_control = metadata["cacheControl"]
            .as_str()
            .unwrap_or("max-age=3600")
            .to_owned();
        // As the real service answers: the ETag it recorded for the object.
        let etag = metadata["eTag"].as_str().unwrap_or_default().to_owned();
        Ok((
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, cache_control),
                (header::ETAG, etag),
            ],
            bytes,
        )
            .into_response())
    }
}

struct Bucket {
    public: bool,
    size_limit: Option<i64>,
    mime_types: Option<Vec<String>>,
}

impl Bucket {
    fn admit(&self, file: &UploadedFile) -> StorageResult<()> {
        if self
            .size_limit
            .is_some_and(|limit| file.bytes.len() as i64 > limit)
        {
            return Err(StorageError {
                http: StatusCode::PAYLOAD_TOO_LARGE,
                status: "413",
                error: "Payload too large",
                message: "The object exceeded the maximum allowed size".into(),
            });
        }
        if let Some(allowed) = &self.mime_types {
            if !allowed
                .iter()
                .any(|pattern| mime_matches(pattern, &file.content_type))
            {
                return Err(StorageError {
                    http: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    status: "415",
                    error: "invalid_mime_type",
                    message: format!("mime type {} is not supported", file.content_type),
                });
            }
        }
        Ok(())
    }
}

/// `image/*` matches any image type, as Storage's `allowed_mime_types` allows.
fn mime_matches(pattern: &str, content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    match pattern.strip_suffix("/*") {
        Some(kind) => essence.split('/').next() == Some(kind),
        None => pattern.eq_ignore_ascii_case(essence),
    }
}

async fn write_file(path: &std::path::Path, bytes: &[u8]) -> StorageResult<()> {
    let io_error = |_| StorageError {
        http: StatusCode::INTERNAL_SERVER_ERROR,
        status: "500",
        error: "internal",
        message: "Internal Server Error".into(),
    };
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(io_error)?;
    }
    tokio::fs::write(path, bytes).await.map_err(io_error)
}

struct UploadedFile {
    bytes: Bytes,
    content_type: String,
    cache_control: String,
}

/// The SDKs upload either a raw body or `multipart/form-data` with the file and `cacheControl`.
async fn read_upload(request: Request) -> StorageResult<UploadedFile> {
    let headers = request.headers().clone();
    let header_value = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type =
        header_value("content-type").unwrap_or_else(|| "application/octet-stream".into());
    let cache_control = header_value("cache-control")
        .map(|c| c.trim_start_matches("max-age=").to_owned())
        .unwrap_or_else(|| "3600".into());
    if !content_type.starts_with("multipart/form-data") {
        let bytes = Bytes::from_request(request, &())
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    fail(
                        "413",
                        "Payload too large",
                        "The object exceeded the maximum allowed size",
                    )
                } else {
                    fail("400", "InvalidRequest", "Unreadable body")
                }
            })?;
        return Ok(UploadedFile {
            bytes,
            content_type,
            cache_control: format!("max-age={cache_control}"),
        });
    }
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(|_| fail("400", "InvalidRequest", "Unreadable form"))?;
    let mut file = None;
    let mut cache_control = cache_control;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|_| fail("400", "InvalidRequest", "Unreadable form"))?
    {
        if field.name() == Some("cacheControl") {
            cache_control = field.text().await.unwrap_or_default();
        } else if file.is_none() && field.file_name().is_some() {
            let part_type = field
                .content_type()
                .unwrap_or("application/octet-stream")
                .to_owned();
            let bytes = field
                .bytes()
                .await
                .map_err(|_| fail("400", "InvalidRequest", "Unreadable form"))?;
            file = Some((bytes, part_type));
        }
    }
    let (bytes, content_type) =
        file.ok_or_else(|| fail("400", "InvalidRequest", "No file in the form"))?;
    Ok(UploadedFile {
        bytes,
        content_type,
        cache_control: format!("max-age={cache_control}"),
    })
}

fn upsert_requested(headers: &HeaderMap) -> bool {
    headers
        .get("x-upsert")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

async fn upload(
    State(storage): State<Arc<Storage>>,
    Path((bucket, name)): Path<(String, String)>,
    request: Request,
) -> StorageResult<Json<Value>> {
    let headers = request.headers().clone();
    let file = read_upload(request).await?;
    storage
        .store(&headers, &bucket, &name, file, upsert_requested(&headers))
        .await
}

/// PUT replaces an existing object (the SDK's `update`).
async fn update(
    State(storage): State<Arc<Storage>>,
    Path((bucket, name)): Path<(String, String)>,
    request: Request,
) -> StorageResult<Json<Value>> {
    let headers = request.headers().clone();
    let file = read_upload(request).await?;
    storage.store(&headers, &bucket, &name, file, true).await
}

async fn download(
    State(storage): State<Arc<Storage>>,
    Path((bucket, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> StorageResult<Response> {
    let claims = storage.claims(&headers)?;
    storage.read(Some(&claims), &bucket, &name).await
}

async fn download_public(
    State(storage): State<Arc<Storage>>,
    Path((bucket, name)): Path<(String, String)>,
) -> StorageResult<Response> {
    if !storage.bucket(&bucket).await?.public {
        return Err(not_found());
    }
    storage.read(None, &bucket, &name).await
}

#[derive(Deserialize)]
struct SignBody {
    /// Seconds; supabase-js sends a number, supabase-py a string.
    #[serde(rename = "expiresIn")]
    expires_in: Value,
}

async fn create_signed_url(
    State(storage): State<Arc<Storage>>,
    Path((bucket, name)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<SignBody>,
) -> StorageResult<Json<Value>> {
    let expires_in = match &body.expires_in {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .filter(|seconds| *seconds > 0)
    .ok_or_else(|| {
        fail(
            "400",
            "InvalidRequest",
            "expiresIn must be a positive number of seconds",
        )
    })?;
    let claims = storage.claims(&headers)?;
    // Only an object the caller may read can be signed.
    let mut db = storage.pool.get().await?;
    let tx = db.transaction().await?;
    act_as(&tx, &claims).await?;
    visible(&tx, &bucket, &name).await?;
    tx.commit().await?;
    let url = format!("{bucket}/{name}");
    let token = storage
        .keys
        .sign(Signing::Hs256, json!({ "url": url }), expires_in);
    Ok(Json(
        json!({ "signedURL": format!("/object/sign/{url}?token={token}") }),
    ))
}

async fn visible(tx: &Transaction<'_>, bucket: &str, name: &str) -> StorageResult<()> {
    tx.query_opt(
        "select 1 from storage.objects where bucket_id = $1 and name = $2",
        &[&bucket, &name],
    )
    .await?
    .map(|_| ())
    .ok_or_else(not_found)
}

#[derive(Deserialize)]
struct SignedQuery {
    token: String,
}

async fn download_signed(
    State(storage): State<Arc<Storage>>,
    Path((bucket, name)): Path<(String, String)>,
    Query(query): Query<SignedQuery>,
) -> StorageResult<Response> {
    let claims = storage
        .keys
        .verify(&query.token)
        .ok_or_else(|| fail("400", "InvalidJWT", "jwt expired or invalid"))?;
    if claims["url"].as_str() != Some(format!("{bucket}/{name}").as_str()) {
        return Err(fail(
            "400",
            "InvalidSignature",
            "The url do not match the signature",
        ));
    }
    storage.read(None, &bucket, &name).await
}

#[derive(Deserialize)]
struct ListBody {
    #[serde(default)]
    prefix: String,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// One level of a folder: files directly in it, and sub-folders as entries with a null id.
async fn list(
    State(storage): State<Arc<Storage>>,
    Path(bucket): Path<String>,
    headers: HeaderMap,
    Json(body): Json<ListBody>,
) -> StorageResult<Json<Value>> {
    let claims = storage.claims(&headers)?;
    let prefix = match body.prefix.trim_matches('/') {
        "" => String::new(),
        folder => format!("{folder}/"),
    };
    let mut db = storage.pool.get().await?;
    let tx = db.transaction().await?;
    act_as(&tx, &claims).await?;
    let rows = tx
        .query(
            "with visible as (
               select split_part(substr(name, length($2) + 1), '/', 1) as entry,
                      position('/' in substr(name, length($2) + 1)) > 0 as is_folder,
                      id, created_at, updated_at, last_accessed_at, metadata
               from storage.objects where bucket_id = $1 and starts_with(name, $2))
             select distinct on (entry) entry, case when is_folder then null else id end,
                    created_at, updated_at, last_accessed_at, case when is_folder then null else metadata end
             from visible order by entry, is_folder
             limit $3 offset $4",
            &[&bucket, &prefix, &body.limit.unwrap_or(100), &body.offset.unwrap_or(0)],
        )
        .await?;
    tx.commit().await?;
    let time = |row: &tokio_postgres::Row, i: usize| {
        row.get::<_, Option<chrono::DateTime<chrono::Utc>>>(i)
            .map(|t| t.to_rfc3339())
    };
    let entries: Vec<Value> = rows
        .iter()
        .map(|row| {
            json!({
                "name": row.get::<_, String>(0),
                "id": row.get::<_, Option<Uuid>>(1),
                "created_at": time(row, 2),
                "updated_at": time(row, 3),
                "last_accessed_at": time(row, 4),
                "metadata": row.get::<_, Option<Value>>(5),
            })
        })
        .collect();
    Ok(Json(Value::Array(entries)))
}

#[derive(Deserialize)]
struct RemoveBody {
    prefixes: Vec<String>,
}

async fn remove(
    State(storage): State<Arc<Storage>>,
    Path(bucket): Path<String>,
    headers: HeaderMap,
    Json(body): Json<RemoveBody>,
) -> StorageResult<Json<Value>> {
    let claims = storage.claims(&headers)?;
    let mut db = storage.pool.get().await?;
    let tx = db.transaction().await?;
    act_as(&tx, &claims).await?;
    let rows = tx
        .query(
            "delete from storage.objects where bucket_id = $1 and name = any($2) returning id, name, metadata",
            &[&bucket, &body.prefixes],
        )
        .await?;
    tx.commit().await?;
    let mut removed = Vec::new();
    for row in &rows {
        let name: String = row.get(1);
        if let Ok(path) = storage.object_path(&bucket, &name) {
            let _ = tokio::fs::remove_file(path).await;
        }
        removed.push(json!({ "bucket_id": bucket, "name": name, "id": row.get::<_, Uuid>(0), "metadata": row.get::<_, Option<Value>>(2) }));
    }
    Ok(Json(Value::Array(removed)))
}

#[cfg(test)]
mod tests {
    use super::mime_matches;

    #[test]
    fn mime_patterns_match_like_storage() {
        assert!(mime_matches("image/*", "image/png"));
        assert!(mime_matches("image/png", "image/png; charset=binary"));
        assert!(!mime_matches("image/*", "video/mp4"));
        assert!(!mime_matches("image/png", "image/jpeg"));
    }
}
