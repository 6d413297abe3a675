//! Test fixtures: signing keys, token minting, a tiny JWKS server on 127.0.0.1, a guard for
//! code that must give up without waiting, and the crate's own sources for rules about them.

use std::sync::{Arc, Mutex, OnceLock};

use jwt_compact::alg::{Es256, Hs256, Hs256Key, Rsa, RsaPrivateKey, RsaPublicKey};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{Algorithm, AlgorithmExt, Claims, Header};
use rand_core::OsRng;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub type EcSigningKey = <Es256 as Algorithm>::SigningKey;
pub type EcVerifyingKey = <Es256 as Algorithm>::VerifyingKey;

pub const SUPABASE_URL: &str = "http://127.0.0.1:54321";
pub const ISSUER: &str = "http://127.0.0.1:54321/auth/v1";
pub const HS_SECRET: &str = "super-secret-jwt-token-with-at-least-32-characters";
pub const NOW: i64 = 1_800_000_000;

/// One ES256 key pair per test binary.
pub fn es256_keypair() -> (EcSigningKey, EcVerifyingKey) {
    static KEY: OnceLock<EcSigningKey> = OnceLock::new();
    let signing = KEY.get_or_init(|| EcSigningKey::random(&mut OsRng)).clone();
    let verifying = *signing.verifying_key();
    (signing, verifying)
}

/// One RSA key pair per test binary. 1024 bits: key generation in unoptimized test builds
/// takes seconds at 2048, and verification does not depend on the size.
pub fn rs256_keypair() -> (RsaPrivateKey, RsaPublicKey) {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    let private = KEY
        .get_or_init(|| RsaPrivateKey::new(&mut OsRng, 1024).unwrap())
        .clone();
    let public = private.to_public_key();
    (private, public)
}

/// A public JWK as Supabase Auth publishes it, with `kid`, `alg` and `use`.
pub fn jwk_json<'a, K>(kid: &str, key: &'a K, alg: &str) -> Value
where
    JsonWebKey<'a>: From<&'a K>,
{
    let mut jwk = serde_json::to_value(JsonWebKey::from(key)).unwrap();
    jwk["kid"] = json!(kid);
    jwk["alg"] = json!(alg);
    jwk["use"] = json!("sig");
    jwk
}

/// Claims of a valid user access token issued at `NOW`.
pub fn user_claims() -> Value {
    json!({
        "sub": "8d0fd2b3-9ca7-4e4a-9a3e-6f2d1f3e2b11",
        "email": "ada@example.com",
        "aud": "authenticated",
        "role": "authenticated",
        "iss": ISSUER,
        "iat": NOW - 10,
        "exp": NOW + 3600,
    })
}

fn header(kid: Option<&str>) -> Header {
    match kid {
        Some(kid) => Header::empty().with_key_id(kid),
        None => Header::empty(),
    }
}

pub fn es256_token(kid: Option<&str>, claims: &Value) -> String {
    let (signing, _) = es256_keypair();
    Es256
        .token(&header(kid), &Claims::new(claims), &signing)
        .unwrap()
}

pub fn rs256_token(kid: Option<&str>, claims: &Value) -> String {
    let (private, _) = rs256_keypair();
    Rsa::rs256()
        .token(&header(kid), &Claims::new(claims), &private)
        .unwrap()
}

pub fn hs256_token(secret: &str, kid: Option<&str>, claims: &Value) -> String {
    Hs256
        .token(&header(kid), &Claims::new(claims), &Hs256Key::new(secret))
        .unwrap()
}

/// An unsigned token with an arbitrary header, for shapes no signer would produce.
pub fn unsigned_token(header: &Value, claims: &Value) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let encode = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    format!("{}.{}.", encode(header), encode(claims))
}

#[derive(Default)]
struct ServedJwks {
    document: String,
    cache_control: Option<String>,
    failure_status: Option<u16>,
    fetches: usize,
}

/// Serves a JWKS document over HTTP/1.1 on an ephemeral loopback port and counts fetches.
pub struct JwksServer {
    pub base_url: String,
    pub url: String,
    served: Arc<Mutex<ServedJwks>>,
}

impl JwksServer {
    pub async fn start(document: String, cache_control: Option<&str>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let served = Arc::new(Mutex::new(ServedJwks {
            document,
            cache_control: cache_control.map(str::to_owned),
            ..ServedJwks::default()
        }));
        let shared = Arc::clone(&served);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut request = Vec::new();
                let mut chunk = [0_u8; 1024];
                while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(read) => request.extend_from_slice(&chunk[..read]),
                    }
                }
                let response = {
                    let mut served = shared.lock().unwrap();
                    served.fetches += 1;
                    let (status, body) = match served.failure_status {
                        Some(status) => (status, "{}".to_owned()),
                        None => (200, served.document.clone()),
                    };
                    let cache_control = served
                        .cache_control
                        .as_ref()
                        .map(|value| format!("cache-control: {value}\r\n"))
                        .unwrap_or_default();
                    format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{cache_control}\
                         content-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                };
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            }
        });
        let url = format!("{base_url}/auth/v1/.well-known/jwks.json");
        Self {
            base_url,
            url,
            served,
        }
    }

    pub fn fetch_count(&self) -> usize {
        self.served.lock().unwrap().fetches
    }

    pub fn set_document(&self, document: String) {
        self.served.lock().unwrap().document = document;
    }

    pub fn fail_with(&self, status: u16) {
        self.served.lock().unwrap().failure_status = Some(status);
    }

    pub fn recover(&self) {
        self.served.lock().unwrap().failure_status = None;
    }
}

/// The outcome of `giving_up`, which must end without waiting: if it does not end within 10 s,
/// the test fails instead of hanging for as long as a bug made it wait.
pub async fn without_waiting<T>(giving_up: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(std::time::Duration::from_secs(10), giving_up)
        .await
        .expect("gives up at once instead of waiting")
}

/// The crate's Rust sources outside the folders `skip` names, as (path below `src/`, text):
/// what the tests of the crate's structural rules read.
pub fn crate_sources(skip: &[&str]) -> Vec<(String, String)> {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources = Vec::new();
    let mut folders = vec![src.clone()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let name = path
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if path.is_dir() {
                if !skip.contains(&name.as_str()) {
                    folders.push(path);
                }
            } else if name.ends_with(".rs") {
                sources.push((name, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    sources
}
