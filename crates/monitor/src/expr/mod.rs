//! CloudWatch metric math for GetMetricData, sans-IO: a parser and an
//! evaluator for the `Expression` of a `MetricDataQuery`.
//!
//! # Model
//!
//! A GetMetricData request is a list of [`Query`]s, each with an `Id` and
//! either a `MetricStat` or an `Expression`. The API layer resolves every
//! `MetricStat` with the store into a [`Series`] (label, period, points
//! sorted by time) and hands the whole list to [`evaluate`] with the
//! request's [`Window`]. The evaluator parses every expression, orders them
//! so each runs after the queries it reads, evaluates them, and returns a
//! [`QueryResult`] per series of every query with `ReturnData` true, in
//! request order: the `MetricDataResults` of the response. It owns no clock,
//! store or task.
//!
//! Values are those of the User Guide ("Using metric math", "Metric math
//! syntax and functions"): a scalar (S), a time series (TS) or an array of
//! time series (TS[], from `METRICS()` or `[m1, m2]`). Supported:
//!
//! * `+ - * / ^`, unary `-`, parentheses and number literals between any
//!   two of S, TS, TS[] (not two arrays); comparisons `== != < <= > >=` and
//!   `AND`/`&&`, `OR`/`||` between S and TS, giving 0 or 1;
//! * `SUM AVG MIN MAX STDDEV` (of a TS: a scalar over its points; of a TS[]:
//!   a TS across the series at each timestamp), `ABS CEIL FLOOR LOG LOG10`,
//!   `DIFF DIFF_TIME RATE RUNNING_SUM`, `METRICS()` and `METRICS("text")`
//!   (the metric queries whose `Id` contains the text), `FILL(x, S | TS |
//!   REPEAT | LINEAR)`, `IF(condition, a[, b])`, `PERIOD(m)`,
//!   `TIME_SERIES(S)`, `FIRST LAST METRIC_COUNT REMOVE_EMPTY`.
//!
//! `SEARCH`, `ANOMALY_DETECTION_BAND`, `INSIGHT_RULE_METRIC`, Metrics
//! Insights queries (`SELECT ...`) and the other functions of the guide are
//! refused by name ([`ParseErrorKind::Unsupported`]).
//!
//! # Invariants
//!
//! * Between two time series, a timestamp present in one only counts as 0
//!   in the other, as the User Guide documents for arithmetic ("Missing
//!   values in a time series are treated as 0") and comparisons; a point
//!   whose result is not a number (division by zero, `LOG` of a negative
//!   number, overflow) is dropped, and its query's result carries the
//!   `ArithmeticError` message CloudWatch returns ([`ARITHMETIC_ERROR`]).
//! * Ids follow `MetricDataQuery`: 1 to 255 characters, a lowercase letter
//!   then letters, digits and underscores, unique in the request
//!   ([`check_queries`]). An expression naming an unknown Id, or expressions
//!   depending on each other in a loop, are refused naming the Ids.
//! * Every expression's result is a TS or a TS[]; a scalar result is
//!   refused ("The final result of any math expression must be a single
//!   time series or an array of time series").
//! * Nothing panics on any input: expressions are at most 2048 characters
//!   (the `Expression` limit of the API reference) and nest at most
//!   [`MAX_DEPTH`] levels; `FILL` and `TIME_SERIES` make at most
//!   [`MAX_GRID_POINTS`] periods per series. Memory otherwise follows the
//!   input: the API layer bounds the window and the number of metrics as
//!   GetMetricData does (500 queries, 100 800 points).
//!
//! Where the guide is silent the choices are stated where they are made:
//! the operator precedence ([`BinaryOp`]), `STDDEV` as the population
//! standard deviation, missing values counting as 0 across an array for
//! `MIN`, `MAX` and `STDDEV` too, and `FILL(x, REPEAT)` / `LINEAR` leaving a
//! gap with no real value before it (or after it, for `LINEAR`) unfilled.
//!
//! ```
//! use monitor::expr::{evaluate, Query, Series, Window, ARITHMETIC_ERROR};
//! use monitor::Timestamp;
//!
//! let t = |m: u64| Timestamp::from_unix_secs(1_795_947_600 + 60 * m);
//! let errors = Series {
//!     label: "Errors".into(),
//!     period: 60,
//!     points: vec![(t(0), 3.0), (t(1), 0.0), (t(2), 6.0)],
//! };
//! let requests = Series {
//!     label: "Requests".into(),
//!     period: 60,
//!     points: vec![(t(0), 100.0), (t(1), 0.0), (t(2), 200.0)],
//! };
//! let queries = [
//!     Query::metric("errors", errors).hidden(),
//!     Query::metric("requests", requests).hidden(),
//!     Query::expression("rate", "100 * errors / requests").labelled("Error rate"),
//!     Query::expression("total", "SUM(METRICS())"),
//! ];
//! let results = evaluate(&queries, Window { start: t(0), end: t(3) }).unwrap();
//!
//! let rate = &results[0];
//! assert_eq!((rate.id.as_str(), rate.label.as_str()), ("rate", "Error rate"));
//! // 0 / 0 at the second minute is dropped, and said so.
//! assert_eq!(rate.points, vec![(t(0), 3.0), (t(2), 3.0)]);
//! assert_eq!(rate.messages[0].code, "ArithmeticError");
//! assert_eq!(rate.messages[0].value, ARITHMETIC_ERROR);
//!
//! let total = &results[1];
//! assert_eq!(total.points, vec![(t(0), 103.0), (t(1), 0.0), (t(2), 206.0)]);
//! assert_eq!(total.status_code.as_str(), "Complete");
//! ```

mod ast;
mod error;
mod eval;
mod functions;
mod lex;
mod parse;
#[cfg(test)]
mod tests;
mod value;

use std::collections::{HashMap, HashSet};

pub use self::ast::{BinaryOp, Expr, Filler, Function};
pub use self::error::{ExprError, ParseError, ParseErrorKind};
pub use self::parse::parse;

use self::eval::Context;
use self::value::{normalized, Value};
use crate::Timestamp;

/// The longest `Expression`, in characters (`MetricDataQuery`, API
/// Reference: "Maximum length of 2048").
pub const MAX_EXPRESSION_CHARS: usize = 2048;
/// The longest `Id`, in characters.
pub const MAX_ID_CHARS: usize = 255;
/// How deeply an expression may nest (parentheses, function calls, operator
/// chains); deeper ones are refused rather than risk the stack.
pub const MAX_DEPTH: usize = 100;
/// The most periods `FILL` or `TIME_SERIES` make in one series: the
/// GetMetricData default `MaxDatapoints`.
pub const MAX_GRID_POINTS: usize = 100_800;
/// The `Value` of the message CloudWatch attaches to a result from which
/// non-numeric points were dropped; its `Code` is `ArithmeticError`.
pub const ARITHMETIC_ERROR: &str =
    "One or more data-points have been dropped due to non-numeric values (NaN, -Infinite, +Infinite)";

/// One time series: a label, its period in seconds and its points, sorted
/// by timestamp, one per timestamp. The evaluator sorts, deduplicates (the
/// last point given for a timestamp wins) and drops non-numeric values of
/// the series it is given.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub label: String,
    pub period: u32,
    pub points: Vec<(Timestamp, f64)>,
}

/// What a query is.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// A `MetricStat`, already read from the store.
    Metric(Series),
    /// An `Expression` over the other queries' ids.
    Expression(String),
}

/// One `MetricDataQuery`.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub id: String,
    /// `Label`; for a metric, `None` keeps the series' own label.
    pub label: Option<String>,
    /// `ReturnData` (default true).
    pub return_data: bool,
    pub source: Source,
}

impl Query {
    /// A `MetricStat` query returning its data.
    pub fn metric(id: impl Into<String>, series: Series) -> Self {
        Self {
            id: id.into(),
            label: None,
            return_data: true,
            source: Source::Metric(series),
        }
    }

    /// An `Expression` query returning its data.
    pub fn expression(id: impl Into<String>, expression: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            label: None,
            return_data: true,
            source: Source::Expression(expression.into()),
        }
    }

    /// With `ReturnData` false.
    #[must_use]
    pub fn hidden(mut self) -> Self {
        self.return_data = false;
        self
    }

    /// With `Label`.
    #[must_use]
    pub fn labelled(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }
}

/// The request's `[StartTime, EndTime)`, already rounded by the API layer
/// the way it rounds its `MetricStat` reads. `FILL` fills, and
/// `TIME_SERIES` makes, the periods `start`, `start + period`, ... before
/// `end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// `StatusCode` of a `MetricDataResult`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatusCode {
    /// Every point of the range is returned; always the case for
    /// expressions ("NextToken is not returned if you are performing a math
    /// expression").
    Complete,
    PartialData,
    InternalError,
    Forbidden,
}

impl StatusCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Complete => "Complete",
            Self::PartialData => "PartialData",
            Self::InternalError => "InternalError",
            Self::Forbidden => "Forbidden",
        }
    }
}

/// A `MessageData` of a `MetricDataResult`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub code: String,
    pub value: String,
}

/// One `MetricDataResult`. An expression yielding an array of series
/// yields one result per series, all with the query's `Id`.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryResult {
    pub id: String,
    /// The query's `Label` (for one series of an array, the label, a space
    /// and the series' own label, as the console shows it); without one,
    /// the series' own label, or the `Id` for a series an expression made.
    pub label: String,
    /// Oldest first.
    pub points: Vec<(Timestamp, f64)>,
    pub status_code: StatusCode,
    pub messages: Vec<Message>,
}

/// Whether `id` is a valid `MetricDataQuery` `Id`: 1 to 255 characters, a
/// lowercase letter, then letters, digits and underscores.
pub fn check_id(id: &str) -> Result<(), ExprError> {
    let invalid = |problem| {
        Err(ExprError::InvalidId {
            id: id.to_owned(),
            problem,
        })
    };
    let len = id.chars().count();
    if len == 0 || len > MAX_ID_CHARS {
        return invalid("must be 1 to 255 characters");
    }
    if !id.starts_with(|c: char| c.is_ascii_lowercase()) {
        return invalid("must start with a lowercase letter");
    }
    if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return invalid("may hold only letters, digits and underscores");
    }
    Ok(())
}

/// Every `Id` valid ([`check_id`]) and used once. [`evaluate`] checks this
/// first; an API layer may call it to refuse a request before reading the
/// store.
pub fn check_queries(queries: &[Query]) -> Result<(), ExprError> {
    let mut seen = HashSet::new();
    for q in queries {
        check_id(&q.id)?;
        if !seen.insert(q.id.as_str()) {
            return Err(ExprError::DuplicateId(q.id.clone()));
        }
    }
    Ok(())
}

/// At least one query has `ReturnData` true (what PutMetricAlarm requires
/// of its metrics; the API layer decides where it applies).
pub fn check_return_data(queries: &[Query]) -> Result<(), ExprError> {
    if queries.iter().any(|q| q.return_data) {
        Ok(())
    } else {
        Err(ExprError::NoReturnData)
    }
}

/// Evaluate every expression of `queries` over `window` and return the
/// results of the queries with `ReturnData` true, in request order (see the
/// module docs). Refuses invalid or duplicate ids, an expression that does
/// not parse, names an unknown id, takes part in a dependency loop, applies
/// a function to the wrong kind of value or returns a scalar.
pub fn evaluate(queries: &[Query], window: Window) -> Result<Vec<QueryResult>, ExprError> {
    check_queries(queries)?;
    let mut expressions: Vec<(&str, Expr)> = Vec::new();
    let mut metrics: Vec<(&str, Series)> = Vec::new();
    for q in queries {
        match &q.source {
            Source::Expression(src) => {
                let expr = parse(src).map_err(|error| ExprError::Syntax {
                    id: q.id.clone(),
                    error,
                })?;
                expressions.push((&q.id, expr));
            }
            Source::Metric(series) => metrics.push((
                &q.id,
                Series {
                    label: q.label.clone().unwrap_or_else(|| series.label.clone()),
                    period: series.period,
                    points: normalized(series.points.clone()),
                },
            )),
        }
    }
    let default_period = metrics
        .iter()
        .map(|(_, s)| s.period)
        .filter(|p| *p > 0)
        .min()
        .unwrap_or(60);
    let order = dependency_order(&expressions, &metrics)?;

    let mut values: HashMap<&str, Value> = metrics
        .iter()
        .map(|(id, s)| (*id, Value::Series(s.clone())))
        .collect();
    let mut dropped: HashSet<&str> = HashSet::new();
    for (id, expr) in order {
        let mut ctx = Context {
            id,
            values: &values,
            metrics: &metrics,
            window,
            default_period,
            dropped: false,
        };
        let value = ctx.eval(expr)?;
        if ctx.dropped {
            dropped.insert(id);
        }
        if let Value::Scalar(_) = value {
            return Err(ExprError::Type {
                id: id.to_owned(),
                message: "the expression returns a scalar; it must return a time series or \
                          an array of time series"
                    .into(),
            });
        }
        values.insert(id, value);
    }

    let mut results = Vec::new();
    for q in queries.iter().filter(|q| q.return_data) {
        let messages = if dropped.contains(q.id.as_str()) {
            vec![Message {
                code: "ArithmeticError".into(),
                value: ARITHMETIC_ERROR.into(),
            }]
        } else {
            Vec::new()
        };
        let result = |label: String, points: Vec<(Timestamp, f64)>| QueryResult {
            id: q.id.clone(),
            label,
            points,
            status_code: StatusCode::Complete,
            messages: messages.clone(),
        };
        let own = |s: &Series| match (&q.source, &q.label) {
            (_, Some(label)) => label.clone(),
            (Source::Metric(_), None) => s.label.clone(),
            (Source::Expression(_), None) => q.id.clone(),
        };
        match values.remove(q.id.as_str()) {
            Some(Value::Series(s)) => results.push(result(own(&s), s.points)),
            Some(Value::Array(xs)) if xs.is_empty() => {
                results.push(result(
                    q.label.clone().unwrap_or_else(|| q.id.clone()),
                    Vec::new(),
                ));
            }
            Some(Value::Array(xs)) => {
                for s in xs {
                    let label = match (q.label.as_deref(), s.label.is_empty()) {
                        (Some(l), false) => format!("{l} {}", s.label),
                        (Some(l), true) => l.to_owned(),
                        (None, false) => s.label,
                        (None, true) => q.id.clone(),
                    };
                    results.push(result(label, s.points));
                }
            }
            Some(Value::Scalar(_)) | None => {}
        }
    }
    Ok(results)
}

/// The expressions in an order where each comes after every expression it
/// reads. Refuses an unknown id and a dependency loop.
fn dependency_order<'a>(
    expressions: &'a [(&'a str, Expr)],
    metrics: &[(&str, Series)],
) -> Result<Vec<(&'a str, &'a Expr)>, ExprError> {
    let index: HashMap<&str, usize> = expressions
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (*id, i))
        .collect();
    // For each expression, the expressions it reads.
    let mut reads: Vec<Vec<usize>> = Vec::with_capacity(expressions.len());
    for (id, expr) in expressions {
        let mut deps = Vec::new();
        for reference in expr.references() {
            if let Some(&i) = index.get(reference) {
                deps.push(i);
            } else if !metrics.iter().any(|(m, _)| *m == reference) {
                return Err(ExprError::UnknownId {
                    id: (*id).to_owned(),
                    reference: reference.to_owned(),
                });
            }
        }
        reads.push(deps);
    }

    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut marks = vec![Mark::New; expressions.len()];
    let mut order = Vec::with_capacity(expressions.len());
    let name = |i: usize| expressions.get(i).map_or("?", |(id, _)| *id).to_owned();
    for root in 0..expressions.len() {
        if marks.get(root) != Some(&Mark::New) {
            continue;
        }
        // Depth-first, without recursion: (expression, next dependency).
        let mut stack = vec![(root, 0usize)];
        if let Some(m) = marks.get_mut(root) {
            *m = Mark::Open;
        }
        while let Some(&(node, next)) = stack.last() {
            let dep = reads.get(node).and_then(|d| d.get(next)).copied();
            if let Some(top) = stack.last_mut() {
                top.1 += 1;
            }
            match dep {
                Some(dep) => match marks.get(dep).copied() {
                    Some(Mark::New) => {
                        if let Some(m) = marks.get_mut(dep) {
                            *m = Mark::Open;
                        }
                        stack.push((dep, 0));
                    }
                    Some(Mark::Open) => {
                        let from = stack.iter().position(|(n, _)| *n == dep).unwrap_or(0);
                        let mut cycle: Vec<String> =
                            stack.iter().skip(from).map(|(n, _)| name(*n)).collect();
                        cycle.push(name(dep));
                        return Err(ExprError::Cycle(cycle));
                    }
                    _ => {}
                },
                None => {
                    if let Some(m) = marks.get_mut(node) {
                        *m = Mark::Done;
                    }
                    if let Some((id, expr)) = expressions.get(node) {
                        order.push((*id, expr));
                    }
                    stack.pop();
                }
            }
        }
    }
    Ok(order)
}
