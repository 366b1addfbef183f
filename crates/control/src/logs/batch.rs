//! The PutLogEvents batch rules (CloudWatch Logs API Reference, PutLogEvents),
//! as a pure function of the batch, the time and the group's retention.
//!
//! A batch is refused whole (InvalidParameterException) when it is empty or
//! larger than 10,000 events, when an event is empty or larger than 1 MiB,
//! when the batch is larger than 1,048,576 bytes (UTF-8 message bytes plus 26
//! per event), when it is not in chronological order, or when its accepted
//! events span more than 24 hours. Otherwise events more than 14 days old or
//! older than the group's retention, and events more than 2 hours in the
//! future, are set aside and reported by index (`rejectedLogEventsInfo`);
//! the rest is stored. The sequence token is ignored, as AWS now does.

use std::ops::Range;

use crate::error::{ControlError, Result};

/// One event as PutLogEvents sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputEvent {
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    pub message: String,
}

pub const MAX_BATCH_EVENTS: usize = 10_000;
pub const MAX_BATCH_BYTES: usize = 1_048_576;
/// What each event adds to the batch size besides its message.
pub const EVENT_OVERHEAD: usize = 26;
/// The largest event, message plus overhead.
pub const MAX_EVENT_BYTES: usize = 1_048_576;
pub const DAY_MS: i64 = 86_400_000;
const TOO_OLD_MS: i64 = 14 * DAY_MS;
const TOO_NEW_MS: i64 = 2 * 3_600_000;
const MAX_SPAN_MS: i64 = DAY_MS;

/// What PutLogEvents does with a valid batch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// The events to store.
    pub accepted: Range<usize>,
    /// Index of the first event more than 2 hours ahead.
    pub too_new_start: Option<usize>,
    /// Index of the last event more than 14 days old.
    pub too_old_end: Option<usize>,
    /// Index of the last event older than the group's retention.
    pub expired_end: Option<usize>,
}

fn bad(message: String) -> ControlError {
    ControlError::BadRequest(message)
}

/// Checks a batch at `now_ms` for a group keeping `retention_days` (None:
/// forever).
pub fn check(events: &[InputEvent], now_ms: i64, retention_days: Option<i32>) -> Result<Verdict> {
    if events.is_empty() || events.len() > MAX_BATCH_EVENTS {
        return Err(bad(format!(
            "logEvents: a batch holds 1 to {MAX_BATCH_EVENTS} events, not {}",
            events.len()
        )));
    }
    let mut total = 0usize;
    let mut previous: Option<i64> = None;
    for (i, e) in events.iter().enumerate() {
        let size = e.message.len().saturating_add(EVENT_OVERHEAD);
        if e.message.is_empty() {
            return Err(bad(format!("logEvents[{i}].message: may not be empty")));
        }
        if size > MAX_EVENT_BYTES {
            return Err(bad(format!(
                "logEvents[{i}]: the event is {size} bytes; an event may be at most {MAX_EVENT_BYTES} bytes"
            )));
        }
        if e.timestamp < 0 {
            return Err(bad(format!(
                "logEvents[{i}].timestamp: must be at least 0 (milliseconds since 1970)"
            )));
        }
        if previous.is_some_and(|p| e.timestamp < p) {
            return Err(bad(format!(
                "logEvents: log events in a single PutLogEvents request must be in chronological order (event {i} is older than event {})",
                i.saturating_sub(1)
            )));
        }
        previous = Some(e.timestamp);
        total = total.saturating_add(size);
    }
    if total > MAX_BATCH_BYTES {
        return Err(bad(format!(
            "logEvents: upload too large: {total} bytes exceeds the limit of {MAX_BATCH_BYTES}"
        )));
    }
    let old_limit = now_ms.saturating_sub(TOO_OLD_MS);
    let expiry = retention_days.map(|d| now_ms.saturating_sub(i64::from(d).saturating_mul(DAY_MS)));
    let new_limit = now_ms.saturating_add(TOO_NEW_MS);
    // Sorted: the too old and expired events lead, the too new ones trail.
    let too_old = events
        .iter()
        .take_while(|e| e.timestamp < old_limit)
        .count();
    let expired = expiry.map_or(0, |x| events.iter().take_while(|e| e.timestamp < x).count());
    let too_new = events
        .iter()
        .rev()
        .take_while(|e| e.timestamp > new_limit)
        .count();
    let start = too_old.max(expired);
    let end = events.len().saturating_sub(too_new).max(start);
    let accepted = events.get(start..end).unwrap_or_default();
    if let (Some(first), Some(last)) = (accepted.first(), accepted.last()) {
        if last.timestamp.saturating_sub(first.timestamp) > MAX_SPAN_MS {
            return Err(bad(
                "logEvents: the accepted events of a PutLogEvents batch may not span more than 24 hours"
                    .into(),
            ));
        }
    }
    Ok(Verdict {
        accepted: start..end,
        too_new_start: (too_new > 0).then(|| events.len().saturating_sub(too_new)),
        too_old_end: too_old.checked_sub(1),
        expired_end: expired.checked_sub(1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_750_000_000_000;

    fn ev(ts: i64, msg: &str) -> InputEvent {
        InputEvent {
            timestamp: ts,
            message: msg.into(),
        }
    }

    #[test]
    fn a_good_batch_is_accepted_whole() {
        let v = check(
            &[ev(NOW - 5, "a"), ev(NOW - 5, "b"), ev(NOW, "c")],
            NOW,
            None,
        )
        .unwrap();
        assert_eq!(v.accepted, 0..3);
        assert_eq!(
            v,
            Verdict {
                accepted: 0..3,
                ..Verdict::default()
            }
        );
    }

    #[test]
    fn old_expired_and_future_events_are_set_aside_by_index() {
        let events = [
            ev(NOW - 15 * DAY_MS, "too old"),
            ev(NOW - 20 * 3_600_000, "kept"),
            ev(NOW - 1000, "kept"),
            ev(NOW + 3 * 3_600_000, "too new"),
        ];
        let v = check(&events, NOW, None).unwrap();
        assert_eq!(v.accepted, 1..3);
        assert_eq!(v.too_old_end, Some(0));
        assert_eq!(v.expired_end, None);
        assert_eq!(v.too_new_start, Some(3));
        // With a 1-day retention, what is older than a day has expired.
        let events = [
            ev(NOW - 15 * DAY_MS, "too old"),
            ev(NOW - 2 * DAY_MS, "expired"),
            ev(NOW - 1000, "kept"),
        ];
        let v = check(&events, NOW, Some(1)).unwrap();
        assert_eq!(v.accepted, 2..3);
        assert_eq!((v.too_old_end, v.expired_end), (Some(0), Some(1)));
        // Everything rejected is still a success with nothing stored.
        let v = check(&events[..1], NOW, None).unwrap();
        assert_eq!(v.accepted, 1..1);
        let v = check(&[ev(NOW + 3 * 3_600_000, "too new")], NOW, None).unwrap();
        assert_eq!(v.accepted, 0..0);
        assert_eq!(v.too_new_start, Some(0));
    }

    #[test]
    fn accepted_events_span_at_most_a_day() {
        let err = check(&[ev(NOW - 2 * DAY_MS, "a"), ev(NOW, "b")], NOW, None).unwrap_err();
        assert!(err.to_string().contains("24 hours"), "{err}");
        check(&[ev(NOW - DAY_MS, "a"), ev(NOW, "b")], NOW, None).unwrap();
    }

    #[test]
    fn broken_batches_are_refused_naming_the_member() {
        let err = |events: &[InputEvent]| check(events, NOW, None).unwrap_err().to_string();
        assert!(err(&[]).starts_with("logEvents:"));
        assert!(err(&[ev(NOW, "b"), ev(NOW - 1, "a")]).contains("chronological order"));
        assert!(err(&[ev(NOW, "")]).starts_with("logEvents[0].message"));
        assert!(err(&[ev(-1, "x")]).starts_with("logEvents[0].timestamp"));
        let big = "x".repeat(MAX_EVENT_BYTES - EVENT_OVERHEAD + 1);
        assert!(err(&[ev(NOW, &big)]).starts_with("logEvents[0]:"));
        let half = "x".repeat(MAX_BATCH_BYTES / 2);
        assert!(err(&[ev(NOW, &half), ev(NOW, &half)]).contains("upload too large"));
        let many = vec![ev(NOW, "x"); MAX_BATCH_EVENTS + 1];
        assert!(err(&many).starts_with("logEvents:"));
    }
}
