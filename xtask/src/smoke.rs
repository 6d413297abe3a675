//! `cargo xtask smoke --platform <p>`: one connection, and with `--post` one post, against the
//! real platform with real credentials from the environment, for an operator checking an app's
//! registration and the platform's API as it is today. Never run by `test` or CI.
//!
//! It runs the worker crate's own platform code natively (its sans-IO OAuth and publishing
//! modules, sent by its own outbound transport, as the unit tests build it): the refresh or the
//! long-lived token exchange, the account lookup the callback makes, and the platform's
//! publisher. Only the inputs differ from the worker: tokens from the environment instead of
//! a stored connection, the media from a file instead of Storage.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use pixa_edge::config::ApiKey;
use pixa_edge::infra::clock::SystemClock;
use pixa_edge::publishing::rules::{check_destination, check_post, MediaInfo};
use pixa_edge::publishing::wire::Wire;
use pixa_edge::publishing::{self, Attempt, Content, MediaFile};
use pixa_edge::social::transport::Transport;
use pixa_edge::social::{Account, Credentials, Grant, Platform, TokenSet};

pub const USAGE: &str =
    "usage: cargo xtask smoke --platform <x|linkedin|facebook|instagram|tiktok|pinterest|youtube>
                       [--post TEXT [--media FILE] [--media-url URL] [--options JSON]]";

/// As the worker's `PUBLISH_CALL_TIMEOUT_SECONDS` default.
const PUBLISH_CALL_TIMEOUT: Duration = Duration::from_secs(30);

struct Args {
    platform: Platform,
    post: Option<Post>,
}

struct Post {
    text: String,
    media: Option<PathBuf>,
    media_url: Option<String>,
    options: Value,
}

fn parse(args: &[&str]) -> Result<Args> {
    let mut platform = None;
    let (mut text, mut media, mut media_url, mut options) = (None, None, None, None);
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let mut value = || {
            rest.next()
                .map(|value| value.to_string())
                .with_context(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match *flag {
            "--platform" => {
                let name = value()?;
                platform = Some(
                    Platform::parse(&name)
                        .with_context(|| format!("unknown platform {name:?}\n{USAGE}"))?,
                );
            }
            "--post" => text = Some(value()?),
            "--media" => media = Some(PathBuf::from(value()?)),
            "--media-url" => media_url = Some(value()?),
            "--options" => {
                let raw = value()?;
                options = Some(serde_json::from_str(&raw).context("--options is not JSON")?);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    let platform = platform.with_context(|| format!("--platform is required\n{USAGE}"))?;
    let post = match text {
        Some(text) => Some(Post {
            text,
            media,
            media_url,
            options: options.unwrap_or_else(|| Value::Object(Default::default())),
        }),
        None if media.is_some() || media_url.is_some() || options.is_some() => {
            bail!("--media, --media-url and --options go with --post\n{USAGE}")
        }
        None => None,
    };
    Ok(Args { platform, post })
}

/// The environment variable `SMOKE_<PLATFORM>_<what>`.
fn token_variable(platform: Platform, what: &str) -> String {
    format!("SMOKE_{}_{what}", platform.as_str().to_uppercase())
}

/// A variable of the process environment, if set and not blank.
fn from_env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// What the environment gives: the app's credentials, and a user's refresh or access token.
struct Inputs {
    credentials: Option<Credentials>,
    refresh_token: Option<String>,
    access_token: Option<String>,
}

/// The inputs, or the exact variables missing: a refresh token with the app's credentials
/// where the platform refreshes, else an access token (Facebook and Instagram: a user token,
/// exchanged for a long-lived one when the app's credentials are set too).
fn inputs(platform: Platform, read: impl Fn(&str) -> Option<String>) -> Result<Inputs> {
    let spec = platform.api().spec();
    let (id_name, secret_name) = spec.credential_names;
    let credentials = match (read(id_name), read(secret_name)) {
        (Some(client_id), Some(secret)) => Some(Credentials {
            client_id,
            client_secret: ApiKey::parse(secret_name, secret)
                .map_err(|error| anyhow::anyhow!("{error}"))?,
        }),
        _ => None,
    };
    let refresh_name = token_variable(platform, "REFRESH_TOKEN");
    let access_name = token_variable(platform, "ACCESS_TOKEN");
    let inputs = Inputs {
        refresh_token: read(&refresh_name).filter(|_| spec.supports_refresh),
        access_token: read(&access_name),
        credentials,
    };
    let mut missing: Vec<String> = Vec::new();
    match (&inputs.refresh_token, &inputs.access_token) {
        (Some(_), _) if inputs.credentials.is_none() => {
            missing.extend(
                [id_name, secret_name]
                    .into_iter()
                    .filter(|name| read(name).is_none())
                    .map(str::to_owned),
            );
        }
        (Some(_), _) | (None, Some(_)) => {}
        (None, None) if spec.supports_refresh => missing.push(format!(
            "{refresh_name} (with {id_name} and {secret_name}) or {access_name}"
        )),
        (None, None) => missing.push(access_name),
    }
    if !missing.is_empty() {
        bail!(
            "smoke {}: missing environment variables: {} (docs/platforms.md#smoke-test)",
            platform.as_str(),
            missing.join(", ")
        );
    }
    Ok(inputs)
}

pub fn run(args: &[&str]) -> Result<()> {
    let args = parse(args)?;
    let inputs = inputs(args.platform, from_env)?;
    tokio::runtime::Runtime::new()?.block_on(smoke(&args, inputs))
}

async fn smoke(args: &Args, inputs: Inputs) -> Result<()> {
    let platform = args.platform;
    let name = platform.as_str();
    let api = platform.api();
    let transport = Transport::new(None, &SystemClock);
    let access_token = match (&inputs.refresh_token, &inputs.credentials) {
        (Some(refresh_token), Some(credentials)) => {
            let call = api.token_call(credentials, &Grant::Refresh { refresh_token });
            step(name, "refresh", &call.url);
            let reply = transport.send(&call).await.map_err(failed)?;
            let tokens = api.parse_token(&reply).map_err(failed)?;
            report_tokens(platform, &tokens, Some(refresh_token.as_str()))?;
            tokens.access_token
        }
        _ => {
            let given = TokenSet {
                access_token: inputs.access_token.clone().expect("checked by inputs"),
                refresh_token: None,
                expires_in: None,
                refresh_expires_in: None,
                scopes: None,
            };
            let followup = (inputs.credentials.as_ref())
                .and_then(|credentials| api.token_followup(credentials, &given));
            match followup {
                Some(call) => {
                    step(name, "long-lived token exchange", &call.url);
                    let reply = transport.send(&call).await.map_err(failed)?;
                    let tokens = api.parse_token(&reply).map_err(failed)?;
                    report_tokens(platform, &tokens, None)?;
                    tokens.access_token
                }
                None => given.access_token,
            }
        }
    };
    let call = api.discovery_call(&access_token);
    step(name, "account", &call.url);
    let reply = transport.send(&call).await.map_err(failed)?;
    let account = api.parse_discovery(&reply).map_err(failed)?;
    println!(
        "ok: {} {}{}",
        account.external_id,
        account
            .handle
            .as_deref()
            .map(|h| format!("@{h} "))
            .unwrap_or_default(),
        account
            .display_name
            .as_deref()
            .map(|n| format!("{n:?}"))
            .unwrap_or_default()
    );
    if let Some(post) = &args.post {
        publish(platform, &account, access_token, post).await?;
    }
    println!("smoke {name}: passed");
    Ok(())
}

fn step(platform: &str, what: &str, url: &str) {
    // The URL without its query: Graph's token exchange carries the app secret there.
    let url = url.split('?').next().unwrap_or(url);
    println!("smoke {platform}: {what} ({url}) …");
}

fn failed(error: pixa_edge::social::SocialError) -> anyhow::Error {
    anyhow::anyhow!("failed: {error:?}")
}

/// Says what came back; a new refresh token replaces the one in the environment (X's and
/// Pinterest's rotate: the old one no longer works), so it is saved, never printed.
fn report_tokens(platform: Platform, tokens: &TokenSet, presented: Option<&str>) -> Result<()> {
    let lifetime = tokens
        .expires_in
        .map_or("no stated expiry".to_owned(), |seconds| {
            format!("valid {seconds} s")
        });
    print!("ok: access token {lifetime}");
    match tokens.refresh_token.as_deref() {
        Some(new) if Some(new) != presented => {
            let path = save_refresh_token(platform, new)?;
            println!(
                "; a new refresh token, saved to {} (set {} to it: the old one may be spent)",
                path.display(),
                token_variable(platform, "REFRESH_TOKEN")
            );
        }
        _ => println!(),
    }
    Ok(())
}

fn save_refresh_token(platform: Platform, token: &str) -> Result<PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = crate::repo_root().join("target/smoke");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{}.refresh-token", platform.as_str()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)?;
    file.write_all(token.as_bytes())?;
    Ok(path)
}

/// The media type of a file, by its extension, as Storage would have recorded it.
fn mime_type(path: &Path) -> Result<&'static str> {
    let extension = path
        .extension()
        .and_then(|extension| extension.to_str())
        .map(str::to_ascii_lowercase);
    Ok(match extension.as_deref() {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("mp4") => "video/mp4",
        Some("mov") => "video/quicktime",
        Some("webm") => "video/webm",
        _ => bail!(
            "{}: expected a .jpg, .png, .gif, .webp, .mp4, .mov or .webm file",
            path.display()
        ),
    })
}

/// One post through the platform's publisher, checked first by the same rules as a scheduled
/// one.
async fn publish(
    platform: Platform,
    account: &Account,
    access_token: String,
    post: &Post,
) -> Result<()> {
    let name = platform.as_str();
    let media = match &post.media {
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            vec![MediaFile {
                mime_type: mime_type(path)?.to_owned(),
                bytes: bytes.into(),
                public_url: post.media_url.clone(),
            }]
        }
        None => Vec::new(),
    };
    let infos: Vec<MediaInfo> = media
        .iter()
        .map(|file| MediaInfo {
            mime_type: file.mime_type.clone(),
            size_bytes: file.bytes.len() as u64,
        })
        .collect();
    let mut problems = check_post(&post.text, &infos);
    problems.extend(check_destination(
        platform,
        &post.text,
        &infos,
        &post.options,
        "post",
    ));
    let fetches_media = pixa_edge::platforms::parts(platform)
        .publisher
        .fetches_media;
    if fetches_media && media.iter().any(|file| file.public_url.is_none()) {
        bail!("{name} fetches the media itself: give its public https URL with --media-url");
    }
    if !problems.is_empty() {
        let lines: Vec<String> = problems
            .iter()
            .map(|problem| format!("  {} ({}): {}", problem.path, problem.code, problem.message))
            .collect();
        bail!("{name} would refuse this post:\n{}", lines.join("\n"));
    }
    // A Page posts with its own token (Facebook); everyone else with the user's.
    let token = account.account_token.clone().unwrap_or(access_token);
    let wire = Wire::new(None, PUBLISH_CALL_TIMEOUT);
    let attempt = Attempt::unleased(
        &wire,
        token,
        &account.external_id,
        account.handle.as_deref(),
    );
    let content = Content {
        body: &post.text,
        media: &media,
        options: &post.options,
    };
    println!("smoke {name}: post (the platform's publisher) …");
    match publishing::publish(platform, &attempt, &content).await {
        Ok(published) => {
            println!(
                "ok: posted {}{}",
                published.external_id,
                published
                    .permalink
                    .map(|link| format!(" at {link}"))
                    .unwrap_or_default()
            );
            Ok(())
        }
        Err(failure) => bail!("failed: {failure:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn environment(set: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let set: Vec<(String, String)> = set
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        move |name| {
            set.iter()
                .find(|(set, _)| set == name)
                .map(|(_, value)| value.clone())
        }
    }

    fn missing(platform: Platform, set: &[(&str, &str)]) -> String {
        match inputs(platform, environment(set)) {
            Ok(_) => "nothing".into(),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn names_the_missing_variables_exactly() {
        assert_eq!(
            missing(Platform::Pinterest, &[]),
            "smoke pinterest: missing environment variables: SMOKE_PINTEREST_REFRESH_TOKEN (with \
             PINTEREST_APP_ID and PINTEREST_APP_SECRET) or SMOKE_PINTEREST_ACCESS_TOKEN \
             (docs/platforms.md#smoke-test)"
        );
        assert_eq!(
            missing(Platform::X, &[("SMOKE_X_REFRESH_TOKEN", "r"), ("X_CLIENT_ID", "c")]),
            "smoke x: missing environment variables: X_CLIENT_SECRET (docs/platforms.md#smoke-test)"
        );
        assert_eq!(
            missing(Platform::X, &[("SMOKE_X_ACCESS_TOKEN", "a")]),
            "nothing"
        );
        // Instagram has no refresh grant: a refresh token does not stand in for a user token.
        assert_eq!(
            missing(
                Platform::Instagram,
                &[("SMOKE_INSTAGRAM_REFRESH_TOKEN", "r")]
            ),
            "smoke instagram: missing environment variables: SMOKE_INSTAGRAM_ACCESS_TOKEN \
             (docs/platforms.md#smoke-test)"
        );
    }

    #[test]
    fn parses_the_flags_and_refuses_strays() {
        let args = parse(&[
            "--platform",
            "youtube",
            "--post",
            "hi",
            "--media",
            "a.mp4",
            "--options",
            r#"{"title": "t", "privacyStatus": "private"}"#,
        ])
        .unwrap();
        assert_eq!(args.platform, Platform::Youtube);
        let post = args.post.unwrap();
        assert_eq!(
            (post.text.as_str(), post.options["title"].as_str()),
            ("hi", Some("t"))
        );
        assert!(parse(&["--platform", "myspace"]).is_err());
        assert!(
            parse(&["--platform", "x", "--media", "a.png"]).is_err(),
            "media without a post"
        );
        assert!(parse(&["--post", "hi"]).is_err(), "no platform");
        assert_eq!(mime_type(Path::new("clip.MOV")).unwrap(), "video/quicktime");
        assert!(mime_type(Path::new("notes.txt")).is_err());
    }
}
