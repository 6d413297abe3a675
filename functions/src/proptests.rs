//! Property tests of the parsers that read outside bytes: on any input they return (never
//! panic), and their work and output stay bounded by the input. (The token verifier's are in
//! `auth::verifier`, whose key cache is private to `auth`.)

use proptest::prelude::*;
use serde_json::Value;

use crate::ai::sse::SseDecoder;
use crate::http::extract::{parse_date_or_instant, parse_instant, Query};
use crate::http::Request;
use crate::infra::retry::{parse_retry_after, MAX_RETRY_AFTER_SECONDS};
use crate::publishing::rules::{self, MediaInfo};
use crate::social::Platform;

/// Modest, so the unit suite stays fast.
fn config() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

/// Any JSON value, a few levels deep.
pub(crate) fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(".{0,12}", inner, 0..6)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// Text near a time's shape: digits and the separators RFC 3339 uses, so the parsers get
/// past their first character.
fn time_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9+\\-:.TZtz ]{0,40}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}",
        "[0-9+\\-]{4,7}-[0-9]{1,2}-[0-9]{1,2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,12})?(Z|[+\\-][0-9]{2}:[0-9]{2})",
        ".{0,40}",
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_request_head_is_read_from_any_text(head in ".{0,200}", length in ".{0,30}") {
        if let Some(mut request) = Request::from_head(&head) {
            prop_assert!(request.method.len() + request.path.len() <= head.len());
            prop_assert!(request.body.is_empty());
            request.headers = [("content-length".to_owned(), length)].into_iter().collect();
            let _ = request.declared_length_fits(1024);
        }
    }

    #[test]
    fn a_request_head_of_lines_keeps_every_header(
        headers in prop::collection::vec(("[^\n]{0,20}", "[^\n]{0,40}"), 0..12),
    ) {
        let lines = crate::http::header_lines(
            headers.iter().map(|(name, value)| (name.as_str(), value.as_str())),
        )
        .expect("no line breaks");
        let request = Request::from_head(&format!("POST\n/p\n\n{lines}")).expect("four lines");
        for (name, _) in &headers {
            prop_assert!(request.headers.get(name).is_some());
        }
    }

    #[test]
    fn the_sse_decoder_takes_any_chunks_within_its_bound(
        chunks in prop::collection::vec(
            prop::collection::vec(prop_oneof![Just(b'\n'), Just(b'\r'), any::<u8>()], 0..64),
            0..24,
        ),
        max_event_bytes in 1usize..256,
    ) {
        let mut decoder = SseDecoder::with_max_event_bytes(max_event_bytes);
        let mut given = 0;
        let mut returned = 0;
        for chunk in &chunks {
            given += chunk.len();
            for event in decoder.push(chunk) {
                match event {
                    Ok(data) => {
                        prop_assert!(data.len() <= max_event_bytes + chunk.len() * 3);
                        returned += data.len();
                    }
                    Err(too_large) => prop_assert_eq!(too_large.max_event_bytes, max_event_bytes),
                }
            }
        }
        // Lossy UTF-8 may turn one byte into three (U+FFFD); nothing else grows.
        prop_assert!(returned <= given * 3);
    }

    #[test]
    fn a_retry_after_is_a_bounded_number_of_seconds_or_nothing(value in prop_oneof![
        ".{0,30}",
        "[0-9eE+\\-.]{1,30}",
        any::<f64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
    ]) {
        if let Some(seconds) = parse_retry_after(&value) {
            prop_assert!(seconds <= MAX_RETRY_AFTER_SECONDS);
        }
    }

    #[test]
    fn instants_are_real_times_within_the_years_the_database_holds(text in time_like()) {
        for instant in [parse_instant(&text), parse_date_or_instant(&text)].into_iter().flatten() {
            let utc = instant.to_rfc3339();
            prop_assert_eq!(parse_instant(&utc), Some(instant), "{} → {}", text, utc);
        }
    }

    #[test]
    fn a_query_string_of_any_bytes_decodes(query in ".{0,200}") {
        let query = Query::parse(&query);
        prop_assert!(query.pairs().len() <= 201);
        let _ = query.get("since");
    }

    #[test]
    fn platform_rules_check_any_post(
        platform in prop::sample::select(Platform::ALL.to_vec()),
        body in ".{0,400}",
        media in prop::collection::vec(
            (prop_oneof![
                "(image|video)/[a-z0-9.+\\-]{0,12}",
                ".{0,20}",
            ], any::<u64>()),
            0..12,
        ),
        options in json_value(),
    ) {
        let media: Vec<MediaInfo> = media
            .into_iter()
            .map(|(mime_type, size_bytes)| MediaInfo { mime_type, size_bytes })
            .collect();
        let problems = rules::check_destination(platform, &body, &media, &options, "destinations[0]").len()
            + rules::check_post(&body, &media).len();
        // At most a few per file plus a few for the post and its options.
        prop_assert!(problems <= 4 * media.len() + 16 + options.as_object().map_or(0, |o| o.len()));
    }
}
