//! A post's time as people say it: a wall time in an IANA zone (`2027-03-28T09:00` in
//! `Europe/Berlin`), resolved to an instant by the database's own time zone data
//! (`resolve_local_time`), so the worker carries no tz database. A wall time the clocks skip
//! or repeat around a DST change is not guessed: the caller hears which instants it could mean.

use chrono::NaiveDateTime;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::Config;
use crate::error::ApiError;
use crate::infra::supabase::rpc;

/// `YYYY-MM-DDTHH:MM[:SS]` without an offset (the zone gives it).
#[derive(Debug, PartialEq, Deserialize)]
#[serde(try_from = "Value")]
pub struct LocalTime(NaiveDateTime);

impl LocalTime {
    fn parse(raw: &str) -> Option<Self> {
        ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
            .iter()
            .find_map(|format| NaiveDateTime::parse_from_str(raw, format).ok())
            .map(Self)
    }
}

impl TryFrom<Value> for LocalTime {
    type Error = &'static str;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        value
            .as_str()
            .filter(|text| text.chars().count() <= 40)
            .and_then(Self::parse)
            .ok_or("must be a wall time YYYY-MM-DDTHH:MM[:SS] without an offset")
    }
}

/// `resolve_local_time`'s answer.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(tag = "status", rename_all = "snake_case")]
enum Resolution {
    Resolved {
        at: String,
    },
    /// The clocks went back over it: it happened twice.
    Ambiguous {
        candidates: Vec<String>,
    },
    /// The clocks jumped over it: the readings with the offsets before and after the jump.
    Nonexistent {
        candidates: Vec<String>,
    },
}

impl Resolution {
    fn instant(self) -> Result<String, ApiError> {
        match self {
            Self::Resolved { at } => Ok(at),
            Self::Ambiguous { candidates } => Err(ApiError::LocalTimeUnresolved {
                ambiguous: true,
                candidates,
            }),
            Self::Nonexistent { candidates } => Err(ApiError::LocalTimeUnresolved {
                ambiguous: false,
                candidates,
            }),
        }
    }
}

/// The instant (RFC 3339, written in the zone) `local` names in `time_zone`. An unknown zone is
/// the database's 400 `rule_violation`, as for a post scheduled at an instant.
pub async fn resolve(
    config: &Config,
    local: &LocalTime,
    time_zone: &str,
) -> Result<String, ApiError> {
    let local_time = local.0.format("%Y-%m-%dT%H:%M:%S").to_string();
    let resolution: Resolution = rpc(
        config,
        "resolve_local_time",
        json!({ "local_time": local_time, "time_zone": time_zone }),
    )
    .await?;
    resolution.instant()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wall_time_has_minutes_or_seconds_and_no_offset() {
        assert_eq!(
            LocalTime::parse("2027-03-28T02:30").unwrap(),
            LocalTime::parse("2027-03-28T02:30:00").unwrap()
        );
        for bad in [
            "2027-03-28T02:30+02:00",
            "2027-03-28T02:30Z",
            "2027-03-28 02:30",
            "2027-02-30T09:00",
            "2027-03-28",
            "09:00",
        ] {
            assert!(LocalTime::try_from(Value::from(bad)).is_err(), "{bad}");
        }
        assert!(LocalTime::try_from(Value::from(202703280230_u64)).is_err());
    }

    #[test]
    fn gaps_and_overlaps_are_refused_naming_the_instants_they_could_mean() {
        let answer = |json: &str| serde_json::from_str::<Resolution>(json).unwrap().instant();
        assert_eq!(
            answer(r#"{"status": "resolved", "at": "2027-01-15T09:30:00+01:00"}"#).unwrap(),
            "2027-01-15T09:30:00+01:00"
        );
        let overlap = answer(
            r#"{"status": "ambiguous", "candidates": ["2027-10-31T02:30:00+02:00", "2027-10-31T02:30:00+01:00"]}"#,
        )
        .unwrap_err();
        assert_eq!(
            (overlap.status(), overlap.code()),
            (400, "schedule_time_ambiguous")
        );
        let body = overlap.to_response().body_text();
        assert!(
            body.contains(
                r#""candidates":["2027-10-31T02:30:00+02:00","2027-10-31T02:30:00+01:00"]"#
            ),
            "{body}"
        );
        assert!(body.contains(r#""field":"localTime""#), "{body}");
        let gap = answer(r#"{"status": "nonexistent", "candidates": ["a", "b"]}"#).unwrap_err();
        assert_eq!(
            (gap.status(), gap.code()),
            (400, "schedule_time_nonexistent")
        );
    }
}
