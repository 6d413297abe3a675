//! Where the PostgREST-compatible server behind the gateway (postrust) reads a request or answers
//! differently from hosted PostgREST, the gateway makes it read and answer as hosted does, so code
//! tried locally behaves the same in production. Each difference is checked by
//! `tests/sdk/test_contract.py` with the official client.

use std::borrow::Cow;

use axum::http::{Method, StatusCode};
use base64::Engine as _;
use serde_json::Value;

/// `columns="a","b"`: how postgrest-js and postgrest-py name a bulk insert's columns (quoted
/// identifiers, as PostgREST reads them); the server behind wants them bare.
pub fn unquoted_columns(query: &str) -> Cow<'_, str> {
    let quoted = |pair: &str| {
        pair.strip_prefix("columns=")
            .is_some_and(|value| value.contains('"') || value.contains("%22"))
    };
    if !query.split('&').any(quoted) {
        return query.into();
    }
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match quoted(pair) {
            true => pair.replace("%22", "").replace('"', ""),
            false => pair.to_owned(),
        })
        .collect();
    pairs.join("&").into()
}

/// Hosted PostgREST's answer where the server's differs, or `None` when it is the same.
/// `path` is the request's below `/rest/v1` (`/personas`); `bearer` its token, already accepted
/// by the server behind; `missing_column` the selected column the table lacks, when
/// [`names_a_missing_column`] sent the gateway to look for it.
pub fn hosted_error(
    method: &Method,
    path: &str,
    status: StatusCode,
    body: &[u8],
    bearer: Option<&str>,
    missing_column: Option<&str>,
) -> Option<(StatusCode, Vec<u8>)> {
    if !status.is_client_error() {
        return None;
    }
    let mut error: Value = serde_json::from_slice(body).ok()?;
    match error["code"].as_str()? {
        // A refused grant or row-level security check: 401 only when the caller did not say
        // who they are (the anon role), 403 for a signed-in role.
        "42501" if status == StatusCode::UNAUTHORIZED && role(bearer?)? != "anon" => {
            Some((StatusCode::FORBIDDEN, body.to_vec()))
        }
        // Selecting a column the table lacks reaches Postgres on hosted, which answers 42703.
        "PGRST204" if matches!(*method, Method::GET | Method::HEAD) => {
            let column = missing_column?;
            let relation = path.trim_start_matches('/');
            let message = format!("column {relation}.{column} does not exist");
            error["code"] = "42703".into();
            error["message"] = message.into();
            Some((StatusCode::BAD_REQUEST, serde_json::to_vec(&error).ok()?))
        }
        _ => None,
    }
}

/// The role claim of a JWT (its signature was checked by the server that answered).
fn role(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    Some(claims["role"].as_str()?.to_owned())
}

/// Whether an answer to a read is the server's unnamed "Column not found" (PGRST204), which
/// hosted answers as Postgres' 42703 naming the column: the gateway then finds which.
pub fn names_a_missing_column(method: &Method, status: StatusCode, body: &[u8]) -> bool {
    let read = matches!(*method, Method::GET | Method::HEAD);
    read && status == StatusCode::BAD_REQUEST
        && serde_json::from_slice::<Value>(body).is_ok_and(|error| error["code"] == "PGRST204")
}

/// The column names at the top level of a `select` parameter: `a,b:c,d::text,e(f),g->>h` names
/// a, c, d and g (an alias before `:`, a cast after `::`, JSON paths and embeds left out).
pub fn selected_columns(query: &str) -> Vec<String> {
    let Some(select) = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("select="))
    else {
        return Vec::new();
    };
    let mut names = Vec::new();
    let (mut depth, mut item) = (0, String::new());
    for c in percent_decoded(select).chars().chain([',']) {
        match c {
            '(' => {
                if depth == 0 {
                    item.push('('); // an embed, not a column
                }
                depth += 1
            }
            ')' => depth -= 1,
            ',' if depth == 0 => names.push(std::mem::take(&mut item)),
            _ if depth == 0 => item.push(c),
            _ => {}
        }
    }
    names
        .iter()
        .filter_map(|item| {
            let column = item.split("::").next()?.split("->").next()?;
            let column = column.rsplit_once(':').map_or(column, |(_, name)| name);
            let column = column.trim().trim_matches('"');
            let is_column = !column.is_empty() && column != "*" && !item.contains('(');
            is_column.then(|| column.to_owned())
        })
        .collect()
}

/// `%XX` escapes decoded (a query's values arrive encoded; `+` is already a space here).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(role: &str) -> String {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let claims = engine.encode(format!(r#"{{"role":"{role}"}}"#));
        format!("e30.{claims}.signature")
    }

    #[test]
    fn quoted_bulk_insert_columns_are_unquoted_and_nothing_else_changes() {
        assert_eq!(
            unquoted_columns("columns=%22team_id%22,%22name%22&select=*"),
            "columns=team_id,name&select=*"
        );
        assert_eq!(unquoted_columns(r#"columns="a","b""#), "columns=a,b");
        let filter = "name=eq.%22quoted%22&columns=a";
        assert_eq!(unquoted_columns(filter), filter);
    }

    #[test]
    fn a_refusal_is_403_for_a_signed_in_role_and_stays_401_for_anon() {
        let body = br#"{"code":"42501","message":"new row violates row-level security policy"}"#;
        let answer = |bearer: &str| {
            hosted_error(
                &Method::POST,
                "/personas",
                StatusCode::UNAUTHORIZED,
                body,
                Some(bearer),
                None,
            )
        };
        assert_eq!(
            answer(&token("authenticated")).unwrap().0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            answer(&token("service_role")).unwrap().0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(answer(&token("anon")), None);
        assert_eq!(answer("not-a-jwt"), None);
        assert_eq!(
            hosted_error(
                &Method::POST,
                "/personas",
                StatusCode::UNAUTHORIZED,
                body,
                None,
                None
            ),
            None
        );
    }

    #[test]
    fn selecting_an_unknown_column_answers_postgres_undefined_column() {
        let body =
            br#"{"code":"PGRST204","message":"Column not found","hint":null,"details":null}"#;
        assert!(names_a_missing_column(
            &Method::GET,
            StatusCode::BAD_REQUEST,
            body
        ));
        let read = hosted_error(
            &Method::GET,
            "/personas",
            StatusCode::BAD_REQUEST,
            body,
            None,
            Some("nope"),
        );
        let (status, rewritten) = read.unwrap();
        let error: Value = serde_json::from_slice(&rewritten).unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(error["code"], "42703");
        assert_eq!(error["message"], "column personas.nope does not exist");
        // On a write an unknown column in the body is PGRST204 on hosted too.
        assert!(!names_a_missing_column(
            &Method::POST,
            StatusCode::BAD_REQUEST,
            body
        ));
        let write = hosted_error(
            &Method::POST,
            "/personas",
            StatusCode::BAD_REQUEST,
            body,
            None,
            None,
        );
        assert_eq!(write, None);
    }

    #[test]
    fn the_selected_columns_are_the_top_level_names() {
        let query =
            "select=id,title:name,created_at::text,teams(name,id),data->>key,%22quoted%22&id=eq.1";
        assert_eq!(
            selected_columns(query),
            ["id", "name", "created_at", "data", "quoted"]
        );
        assert_eq!(selected_columns("select=*"), Vec::<String>::new());
        assert_eq!(selected_columns("id=eq.1"), Vec::<String>::new());
    }
}
