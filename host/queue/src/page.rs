//! Listing: filters and keyset pagination (newest first).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use crate::error::QueueError;
use crate::model::{Job, JobState};

/// Largest page [`crate::Store::list`] returns; bigger limits are clamped.
pub const MAX_PAGE: u32 = 1000;

/// Optional filters for [`crate::Store::list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Only jobs in this state.
    pub state: Option<JobState>,
    /// Only jobs of this pipeline.
    pub pipeline: Option<String>,
}

/// Position after the last item of a page: the `(created_at, id)` of that item.
///
/// Keyset pagination stays correct while jobs are inserted or deleted, unlike offsets.
/// It is serialized as an opaque URL-safe string (`<micros>_<uuid>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// Creation time of the last item returned.
    pub created_at: DateTime<Utc>,
    /// Id of the last item returned (breaks ties between equal timestamps).
    pub id: Uuid,
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}_{}",
            self.created_at.timestamp_micros(),
            self.id.simple()
        )
    }
}

impl FromStr for Cursor {
    type Err = QueueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || QueueError::InvalidCursor(s.to_owned());
        let (micros, id) = s.split_once('_').ok_or_else(invalid)?;
        let micros: i64 = micros.parse().map_err(|_| invalid())?;
        Ok(Cursor {
            created_at: DateTime::from_timestamp_micros(micros).ok_or_else(invalid)?,
            id: Uuid::parse_str(id).map_err(|_| invalid())?,
        })
    }
}

impl Serialize for Cursor {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    /// Items, newest first.
    pub items: Vec<T>,
    /// Pass to the next call to continue; `None` on the last page.
    pub next_cursor: Option<Cursor>,
}

/// Clamps a requested page size to `1..=MAX_PAGE`.
pub(crate) fn clamp_limit(limit: u32) -> u32 {
    limit.clamp(1, MAX_PAGE)
}

/// Turns `limit + 1` fetched rows into a page: the extra row only proves there is more.
pub(crate) fn paginate(items: &mut Vec<Job>, limit: u32) -> Page<Job> {
    let limit = limit as usize;
    let more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = more.then(|| items.last()).flatten().map(|last| Cursor {
        created_at: last.created_at,
        id: last.id,
    });
    Page {
        items: std::mem::take(items),
        next_cursor,
    }
}

/// Builds the per-state counts from `(state, count)` rows, with zeros for missing states.
pub(crate) fn count_states(rows: Vec<(String, i64)>) -> Result<HashMap<JobState, u64>, QueueError> {
    let mut counts: HashMap<JobState, u64> = JobState::ALL.into_iter().map(|s| (s, 0)).collect();
    for (state, count) in rows {
        let state = state.parse::<JobState>().map_err(|e| QueueError::Corrupt {
            id: format!("state {state:?}"),
            reason: e.to_string(),
        })?;
        counts.insert(state, count.max(0) as u64);
    }
    Ok(counts)
}

/// Builds [`LaneCount`]s from `(lane, state, jobs, oldest waiting seconds)` rows.
pub(crate) fn lane_counts(
    rows: Vec<(String, String, i64, Option<f64>)>,
) -> Result<Vec<crate::model::LaneCount>, QueueError> {
    rows.into_iter()
        .map(|(lane, state, jobs, oldest)| {
            let state = state.parse::<JobState>().map_err(|e| QueueError::Corrupt {
                id: format!("state {state:?}"),
                reason: e.to_string(),
            })?;
            Ok(crate::model::LaneCount {
                lane,
                state,
                jobs: jobs.max(0) as u64,
                oldest_waiting_seconds: oldest.map(|s| s.max(0.0)),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let cursor = Cursor {
            created_at: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            id: Uuid::now_v7(),
        };
        let text = cursor.to_string();
        assert_eq!(text.parse::<Cursor>().unwrap(), cursor);
        assert!(matches!(
            "nope".parse::<Cursor>(),
            Err(QueueError::InvalidCursor(_))
        ));
        assert!("12_notauuid".parse::<Cursor>().is_err());
    }
}
