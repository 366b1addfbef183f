//! Wall-clock instants as the caller gives them: milliseconds since the Unix
//! epoch, UTC. The evaluator never reads a clock; every instant comes in as an
//! argument.

use std::fmt;

/// An instant in milliseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The instant `millis` milliseconds after the Unix epoch.
    pub const fn from_unix_millis(millis: u64) -> Self {
        Self(millis)
    }

    /// The instant `secs` seconds after the Unix epoch (saturating).
    pub const fn from_unix_secs(secs: u64) -> Self {
        Self(secs.saturating_mul(1000))
    }

    /// Milliseconds since the Unix epoch.
    pub const fn as_unix_millis(self) -> u64 {
        self.0
    }

    /// This instant moved forward by `secs` seconds (saturating).
    pub const fn plus_secs(self, secs: u64) -> Self {
        Self(self.0.saturating_add(secs.saturating_mul(1000)))
    }

    /// This instant moved back by `secs` seconds (saturating at the epoch).
    pub const fn minus_secs(self, secs: u64) -> Self {
        Self(self.0.saturating_sub(secs.saturating_mul(1000)))
    }

    /// The latest multiple of `secs` seconds at or before this instant.
    pub fn floor_to(self, secs: u64) -> Self {
        let step = secs.saturating_mul(1000).max(1);
        Self(self.0 - self.0 % step)
    }

    /// The earliest multiple of `secs` seconds at or after this instant.
    pub fn ceil_to(self, secs: u64) -> Self {
        let floor = self.floor_to(secs);
        if floor == self {
            floor
        } else {
            floor.plus_secs(secs)
        }
    }

    fn civil(self) -> Option<time::OffsetDateTime> {
        let nanos = i128::from(self.0).checked_mul(1_000_000)?;
        time::OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
    }

    /// `2026-11-29T10:20:00.000+0000`, the shape CloudWatch writes in
    /// `StateReasonData` and alarm history.
    pub fn to_aws_iso(self) -> String {
        match self.civil() {
            Some(t) => format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+0000",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                t.millisecond()
            ),
            None => format!("{}ms", self.0),
        }
    }

    /// `29/11/26 10:20:00` (day/month/two-digit year), the shape CloudWatch
    /// writes next to each datapoint in a `StateReason`.
    pub fn to_aws_reason_date(self) -> String {
        match self.civil() {
            Some(t) => format!(
                "{:02}/{:02}/{:02} {:02}:{:02}:{:02}",
                t.day(),
                u8::from(t.month()),
                t.year().rem_euclid(100),
                t.hour(),
                t.minute(),
                t.second()
            ),
            None => format!("{}ms", self.0),
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_aws_iso())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_cloudwatch() {
        // 2026-11-29T10:20:00Z
        let t = Timestamp::from_unix_secs(1_795_947_600);
        assert_eq!(t.to_aws_iso(), "2026-11-29T10:20:00.000+0000");
        assert_eq!(t.to_aws_reason_date(), "29/11/26 10:20:00");
    }

    #[test]
    fn rounding() {
        let t = Timestamp::from_unix_millis(125_500);
        assert_eq!(t.floor_to(60), Timestamp::from_unix_secs(120));
        assert_eq!(t.ceil_to(60), Timestamp::from_unix_secs(180));
        assert_eq!(
            Timestamp::from_unix_secs(120).ceil_to(60),
            Timestamp::from_unix_secs(120)
        );
        assert_eq!(t.floor_to(0), t);
    }
}
