//! What an expression evaluates to, and the point-level helpers every
//! operation shares: dropping non-numeric results, aligning two series,
//! finding a timestamp, the period grid of the request.

use super::Series;
use crate::Timestamp;

pub(super) type Point = (Timestamp, f64);

/// A scalar, one time series (TS) or an array of them (TS[]), the three
/// data types of the User Guide ("Data type abbreviations").
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Value {
    Scalar(f64),
    Series(Series),
    Array(Vec<Series>),
}

impl Value {
    pub(super) const fn kind(&self) -> &'static str {
        match self {
            Self::Scalar(_) => "a scalar",
            Self::Series(_) => "a time series",
            Self::Array(_) => "an array of time series",
        }
    }
}

/// Builds a series' points, dropping the non-numeric ones (NaN, ±Infinity:
/// a division by zero, the log of a negative number) and remembering it did,
/// for the `ArithmeticError` message.
#[derive(Default)]
pub(super) struct Points {
    pub points: Vec<Point>,
    pub dropped: bool,
}

impl Points {
    pub(super) fn push(&mut self, t: Timestamp, v: f64) {
        if v.is_finite() {
            self.points.push((t, v));
        } else {
            self.dropped = true;
        }
    }
}

/// The value of `points` (sorted, one per timestamp) at `t`.
pub(super) fn value_at(points: &[Point], t: Timestamp) -> Option<f64> {
    let i = points.binary_search_by_key(&t, |p| p.0).ok()?;
    points.get(i).map(|p| p.1)
}

/// `f(a, b)` at every timestamp of either series, a value missing on one
/// side counting as 0 ("Missing values in a time series are treated as 0",
/// User Guide, "Basic arithmetic functions" and "Comparison and logical
/// operators").
pub(super) fn zip_union(
    a: &[Point],
    b: &[Point],
    out: &mut Points,
    mut f: impl FnMut(f64, f64) -> f64,
) {
    let (mut a, mut b) = (a.iter().peekable(), b.iter().peekable());
    loop {
        let (t, x, y) = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(&&(ta, x)), Some(&&(tb, y))) if ta == tb => {
                a.next();
                b.next();
                (ta, x, y)
            }
            (Some(&&(ta, x)), Some(&&(tb, _))) if ta < tb => {
                a.next();
                (ta, x, 0.0)
            }
            (Some(&&(ta, x)), None) => {
                a.next();
                (ta, x, 0.0)
            }
            (_, Some(&&(tb, y))) => {
                b.next();
                (tb, 0.0, y)
            }
        };
        out.push(t, f(x, y));
    }
}

/// `points` sorted by timestamp, one per timestamp (the last given wins),
/// non-numeric values left out: the shape every series is kept in.
pub(super) fn normalized(mut points: Vec<Point>) -> Vec<Point> {
    points.retain(|p| p.1.is_finite());
    // Stable: among equal timestamps the last given stays last.
    points.sort_by_key(|p| p.0);
    let mut out: Vec<Point> = Vec::with_capacity(points.len());
    for p in points {
        match out.last_mut() {
            Some(last) if last.0 == p.0 => *last = p,
            _ => out.push(p),
        }
    }
    out
}

/// The request's periods: `start`, `start + period`, ... before `end`.
/// `None` when there would be more than `limit`.
pub(super) fn grid(
    start: Timestamp,
    end: Timestamp,
    period: u32,
    limit: usize,
) -> Option<Vec<Timestamp>> {
    let step = u64::from(period.max(1)) * 1000;
    let span = end.as_unix_millis().saturating_sub(start.as_unix_millis());
    let count = usize::try_from(span.div_ceil(step)).ok()?;
    if count > limit {
        return None;
    }
    let first = start.as_unix_millis();
    Some(
        (0..count as u64)
            .map(|k| Timestamp::from_unix_millis(first.saturating_add(k.saturating_mul(step))))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: u64) -> Timestamp {
        Timestamp::from_unix_secs(s)
    }

    #[test]
    fn zip_counts_a_missing_side_as_zero_and_drops_non_numbers() {
        let a = [(ts(0), 30.0), (ts(60), 20.0), (ts(120), 0.0)];
        let b = [(ts(0), 20.0), (ts(120), 20.0), (ts(180), 5.0)];
        let mut out = Points::default();
        zip_union(&a, &b, &mut out, |x, y| x / y);
        assert_eq!(
            out.points,
            vec![(ts(0), 1.5), (ts(120), 0.0), (ts(180), 0.0)]
        );
        assert!(out.dropped, "20 / 0 at 60 s is dropped");
        assert_eq!(value_at(&a, ts(60)), Some(20.0));
        assert_eq!(value_at(&a, ts(61)), None);
    }

    #[test]
    fn normalizing_sorts_dedupes_and_drops() {
        let got = normalized(vec![
            (ts(60), 1.0),
            (ts(0), 2.0),
            (ts(60), 3.0),
            (ts(120), f64::NAN),
        ]);
        assert_eq!(got, vec![(ts(0), 2.0), (ts(60), 3.0)]);
    }

    #[test]
    fn grid_of_periods() {
        assert_eq!(
            grid(ts(0), ts(150), 60, 10),
            Some(vec![ts(0), ts(60), ts(120)])
        );
        assert_eq!(grid(ts(150), ts(0), 60, 10), Some(vec![]));
        assert_eq!(grid(ts(0), ts(601), 60, 10), None);
        assert_eq!(
            grid(ts(0), Timestamp::from_unix_millis(u64::MAX), 1, 100),
            None
        );
    }
}
