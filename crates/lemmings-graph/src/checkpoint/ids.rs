//! Identifiers and time: time-ordered checkpoint ids, deterministic task ids, timestamps.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// A checkpoint id: a UUIDv7, so a thread's ids sort in creation order and the greatest id is the
/// newest checkpoint, also across processes and forks.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CheckpointId(Uuid);

impl CheckpointId {
    /// A new id greater than `after` (when given), even if the clock went backwards.
    pub fn new_after(after: Option<CheckpointId>) -> CheckpointId {
        let fresh = Uuid::now_v7();
        match after {
            Some(CheckpointId(previous)) if fresh <= previous => {
                CheckpointId(Uuid::from_u128(previous.as_u128().wrapping_add(1)))
            }
            _ => CheckpointId(fresh),
        }
    }

    /// The UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }

    /// An id from a UUID (e.g. read from a store).
    pub fn from_uuid(uuid: Uuid) -> CheckpointId {
        CheckpointId(uuid)
    }
}

impl fmt::Display for CheckpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl fmt::Debug for CheckpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CheckpointId({})", self.0.hyphenated())
    }
}

/// A string that is not a checkpoint or task id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a valid id: expected a UUID such as 01937a3c-5e2b-7c3d-9f00-0123456789ab")]
pub struct ParseIdError {
    input: String,
}

impl FromStr for CheckpointId {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s.trim())
            .map(CheckpointId)
            .map_err(|_| ParseIdError { input: s.to_owned() })
    }
}

impl Serialize for CheckpointId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CheckpointId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A task id: derived from the checkpoint a superstep starts from, the namespace, the step and
/// the task's path, so a resumed run gives every task the same id and finds its saved writes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(Uuid);

/// The namespace UUID under which task ids are derived (UUIDv5).
const TASK_NAMESPACE: Uuid = Uuid::from_u128(0x6c65_6d6d_696e_6773_2d74_6173_6b2d_6964);

impl TaskId {
    /// The id of writes that no task made: input commands, resume answers, `update_state`.
    pub const NULL: TaskId = TaskId(Uuid::nil());

    /// The deterministic id of a task.
    pub fn derive(checkpoint: Option<CheckpointId>, ns: &str, step: i64, path: &str) -> TaskId {
        let checkpoint = checkpoint.map(|c| c.0).unwrap_or_default();
        let mut name = Vec::with_capacity(16 + ns.len() + path.len() + 24);
        name.extend_from_slice(checkpoint.as_bytes());
        name.extend_from_slice(ns.as_bytes());
        name.push(0);
        name.extend_from_slice(step.to_string().as_bytes());
        name.push(0);
        name.extend_from_slice(path.as_bytes());
        TaskId(Uuid::new_v5(&TASK_NAMESPACE, &name))
    }

    /// A task id from a UUID (e.g. read from a store).
    pub fn from_uuid(uuid: Uuid) -> TaskId {
        TaskId(uuid)
    }

    /// The UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl fmt::Debug for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskId({})", self.0.hyphenated())
    }
}

impl FromStr for TaskId {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s.trim())
            .map(TaskId)
            .map_err(|_| ParseIdError { input: s.to_owned() })
    }
}

/// A UTC time in milliseconds since the Unix epoch, shown as RFC 3339.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(u64);

impl Timestamp {
    /// Now.
    pub fn now() -> Timestamp {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        Timestamp(u64::try_from(millis).unwrap_or(u64::MAX))
    }

    /// From milliseconds since the epoch.
    pub fn from_millis(millis: u64) -> Timestamp {
        Timestamp(millis)
    }

    /// Milliseconds since the epoch.
    pub fn as_millis(&self) -> u64 {
        self.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Civil-from-days (Howard Hinnant's algorithm), to avoid a date crate for one format.
        let millis = self.0 % 1000;
        let secs = self.0 / 1000;
        let (days, rem) = (secs / 86_400, secs % 86_400);
        let z = days as i64 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_ids_increase_even_against_a_future_parent() {
        let far_future = CheckpointId(Uuid::from_u128(u128::MAX - 5));
        let next = CheckpointId::new_after(Some(far_future));
        assert!(next > far_future);
        let a = CheckpointId::new_after(None);
        let b = CheckpointId::new_after(Some(a));
        assert!(b > a);
        assert_eq!(a.to_string().parse::<CheckpointId>().unwrap(), a);
        assert!("nope".parse::<CheckpointId>().is_err());
    }

    #[test]
    fn task_ids_are_deterministic() {
        let c = CheckpointId::new_after(None);
        assert_eq!(TaskId::derive(Some(c), "", 3, "a"), TaskId::derive(Some(c), "", 3, "a"));
        assert_ne!(TaskId::derive(Some(c), "", 3, "a"), TaskId::derive(Some(c), "", 4, "a"));
        assert_ne!(
            TaskId::derive(Some(c), "", 3, "a"),
            TaskId::derive(Some(c), "x", 3, "a")
        );
    }

    #[test]
    fn timestamps_print_as_rfc3339() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000Z");
        assert_eq!(Timestamp(1_795_552_560_123).to_string(), "2026-11-24T20:36:00.123Z");
        assert_eq!(Timestamp(951_782_400_000).to_string(), "2000-02-29T00:00:00.000Z");
    }
}
