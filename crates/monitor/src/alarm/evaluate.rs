//! The decision: from the datapoints of the evaluation range to a state.
//!
//! Facts followed (CloudWatch user guide, "Configuring how CloudWatch alarms
//! treat missing data" and "Avoiding premature transitions to alarm state"):
//!
//! * CloudWatch retrieves more datapoints than `EvaluationPeriods`; that time
//!   frame is the *evaluation range*.
//! * "If no data points in the evaluation range are missing, CloudWatch
//!   evaluates the alarm based on the most recent data points collected";
//!   if some are missing but at least N real datapoints were retrieved, it
//!   evaluates "the most recent real data points", and the missing-data
//!   setting "is not needed and is ignored".
//! * With fewer than N real datapoints, CloudWatch "fills in the missing data
//!   points with the result you specified", "all real data points in the
//!   evaluation range are included", and missing ones are used "as few times
//!   as possible".
//! * Premature alarm: with `- - - - X` or `- - - X -` and M = 3 the alarm does
//!   not go to ALARM, but alarms "always go into ALARM state when the oldest
//!   available breaching datapoint during the Evaluation Periods number of
//!   data points is at least as old as the value of Datapoints to Alarm, and
//!   all other more recent data points are breaching or missing", even with
//!   fewer than M datapoints. The tables show IGNORE retaining the state there.
//!
//! Two readings of ours, where the text is silent: "all other data points"
//! is taken over every real datapoint evaluated (so `0 - X - -` with 2 of 3
//! stays OK, as the table says), and an alarm with only breaching datapoints,
//! fewer than M and too young for the rule above (`- - - - X`) keeps its
//! current state.

use super::definition::TreatMissingData;

/// One period of the evaluation range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Datapoint {
    /// The start of the period.
    pub timestamp: crate::Timestamp,
    pub sample_count: u64,
    pub value: f64,
}

/// What the evaluation says to do with the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Alarm,
    Ok,
    InsufficientData,
    /// Keep whatever state the alarm is in.
    Retain,
}

/// The decision and what it was based on (for the reason).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Decision {
    pub outcome: Outcome,
    /// The real datapoints evaluated, most recent first.
    pub evaluated: Vec<Datapoint>,
    /// How many of the N datapoints were filled in per TreatMissingData.
    pub filled: u32,
    /// Breaching datapoints among the N evaluated, fills included.
    pub breaching: u32,
}

/// Decide over `range` (the evaluation range, **most recent period first**,
/// `None` for a missing datapoint) for an M out of N alarm.
pub(crate) fn decide(
    range: &[Option<Datapoint>],
    n: u32,
    m: u32,
    treat: TreatMissingData,
    breaches: impl Fn(f64) -> bool,
) -> Decision {
    let n_usize = n as usize;
    // (age in periods, 1 = most recent; datapoint)
    let real: Vec<(u32, Datapoint)> = range
        .iter()
        .zip(1u32..)
        .filter_map(|(slot, age)| slot.map(|d| (age, d)))
        .collect();
    let count = |points: &[(u32, Datapoint)]| {
        points.iter().filter(|(_, d)| breaches(d.value)).count() as u32
    };

    if real.len() >= n_usize {
        let evaluated: Vec<(u32, Datapoint)> = real.into_iter().take(n_usize).collect();
        let breaching = count(&evaluated);
        return Decision {
            outcome: if breaching >= m {
                Outcome::Alarm
            } else {
                Outcome::Ok
            },
            evaluated: evaluated.into_iter().map(|(_, d)| d).collect(),
            filled: 0,
            breaching,
        };
    }

    let filled = n.saturating_sub(real.len() as u32);
    let real_breaching = count(&real);
    let all_breaching = real_breaching as usize == real.len();
    let oldest_age = real.last().map_or(0, |(age, _)| *age);
    let (outcome, breaching) = match treat {
        TreatMissingData::Breaching => {
            let b = real_breaching + filled;
            (if b >= m { Outcome::Alarm } else { Outcome::Ok }, b)
        }
        TreatMissingData::NotBreaching => {
            let b = real_breaching;
            (if b >= m { Outcome::Alarm } else { Outcome::Ok }, b)
        }
        TreatMissingData::Missing | TreatMissingData::Ignore => {
            let missing = treat == TreatMissingData::Missing;
            let outcome = if real.is_empty() {
                if missing {
                    Outcome::InsufficientData
                } else {
                    Outcome::Retain
                }
            } else if real_breaching >= m {
                Outcome::Alarm
            } else if all_breaching {
                if missing && oldest_age >= m {
                    Outcome::Alarm
                } else {
                    Outcome::Retain
                }
            } else {
                Outcome::Ok
            };
            (outcome, real_breaching)
        }
    };
    Decision {
        outcome,
        evaluated: real.into_iter().map(|(_, d)| d).collect(),
        filled,
        breaching,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;

    /// `"0 - X - X"`, oldest first as in the AWS tables.
    fn range(picture: &str) -> Vec<Option<Datapoint>> {
        let mut out: Vec<Option<Datapoint>> = picture
            .split_whitespace()
            .zip(0u64..)
            .map(|(c, i)| {
                let value = match c {
                    "X" => 1.0,
                    "0" => 0.0,
                    _ => return None,
                };
                Some(Datapoint {
                    timestamp: Timestamp::from_unix_secs(i * 60),
                    sample_count: 1,
                    value,
                })
            })
            .collect();
        out.reverse();
        out
    }

    fn outcome(picture: &str, m: u32, treat: TreatMissingData) -> (Outcome, u32) {
        let d = decide(&range(picture), 3, m, treat, |v| v > 0.5);
        (d.outcome, d.filled)
    }

    #[test]
    fn ages_come_from_the_range_not_from_the_count() {
        // One breaching datapoint, three periods old: premature rule applies.
        assert_eq!(
            outcome("- - X - -", 3, TreatMissingData::Missing),
            (Outcome::Alarm, 2)
        );
        assert_eq!(
            outcome("- - - X -", 3, TreatMissingData::Missing),
            (Outcome::Retain, 2)
        );
        assert_eq!(
            outcome("- - - - X", 3, TreatMissingData::Missing),
            (Outcome::Retain, 2)
        );
        assert_eq!(
            outcome("X - - - -", 3, TreatMissingData::Missing),
            (Outcome::Alarm, 2)
        );
    }

    /// The "number of data points that must be filled" column of both
    /// documented tables (3 of 3, then 2 of 3).
    #[test]
    fn filled_counts_match_the_tables() {
        let rows = [
            (3, "0 - X - X", 0),
            (3, "- - - - 0", 2),
            (3, "- - - - -", 3),
            (3, "0 X X - X", 0),
            (3, "- - X - -", 2),
            (2, "0 - X - X", 0),
            (2, "0 0 X 0 X", 0),
            (2, "0 - X - -", 1),
            (2, "- - - - 0", 2),
            (2, "- - - X -", 2),
        ];
        for (m, picture, filled) in rows {
            for treat in [
                TreatMissingData::Missing,
                TreatMissingData::Ignore,
                TreatMissingData::Breaching,
                TreatMissingData::NotBreaching,
            ] {
                assert_eq!(outcome(picture, m, treat).1, filled, "{m} {picture}");
            }
        }
    }

    /// Every picture of a 5-period range (3^5) for M = 1..=3 of N = 3:
    /// the documented invariants hold.
    #[test]
    fn exhaustive_invariants() {
        use TreatMissingData::*;
        let symbols = ["0", "X", "-"];
        for code in 0..243u32 {
            let picture: Vec<&str> = (0..5)
                .map(|i| {
                    symbols
                        .get((code / 3u32.pow(i) % 3) as usize)
                        .copied()
                        .unwrap_or("-")
                })
                .collect();
            let picture = picture.join(" ");
            let real = picture.split_whitespace().filter(|s| *s != "-").count();
            for m in 1..=3 {
                let [missing, ignore, breaching, not_breaching] =
                    [Missing, Ignore, Breaching, NotBreaching].map(|t| outcome(&picture, m, t).0);
                // Enough real datapoints: TreatMissingData "is not needed".
                if real >= 3 {
                    assert!(
                        missing == ignore && ignore == breaching && breaching == not_breaching,
                        "{m} {picture}"
                    );
                }
                // Only `missing` with nothing at all gives INSUFFICIENT_DATA.
                for (o, t) in [
                    (ignore, Ignore),
                    (breaching, Breaching),
                    (not_breaching, NotBreaching),
                ] {
                    assert_ne!(o, Outcome::InsufficientData, "{m} {picture} {t:?}");
                }
                assert_eq!(
                    missing == Outcome::InsufficientData,
                    real == 0,
                    "{m} {picture}"
                );
                // Breaching fills can only push towards ALARM, good fills towards OK.
                if not_breaching == Outcome::Alarm {
                    assert_eq!(breaching, Outcome::Alarm, "{m} {picture}");
                }
                if breaching == Outcome::Ok {
                    assert_eq!(not_breaching, Outcome::Ok, "{m} {picture}");
                }
                // `ignore` never decides on missing data alone.
                if missing == Outcome::Alarm && ignore != Outcome::Alarm {
                    assert_eq!(ignore, Outcome::Retain, "{m} {picture}");
                }
            }
        }
    }

    #[test]
    fn empty_range() {
        assert_eq!(
            outcome("", 3, TreatMissingData::Missing),
            (Outcome::InsufficientData, 3)
        );
        assert_eq!(
            outcome("", 3, TreatMissingData::Breaching),
            (Outcome::Alarm, 3)
        );
    }
}
