//! Evaluating one parsed expression against the results of the queries it
//! reads.

use std::collections::HashMap;

use super::ast::{BinaryOp, Expr, Filler};
use super::error::ExprError;
use super::value::{grid, value_at, zip_union, Point, Points, Value};
use super::{functions, Series, Window, MAX_GRID_POINTS};

/// Everything an expression may read, and what its evaluation noticed.
pub(super) struct Context<'a> {
    /// The query being evaluated, for error messages.
    pub id: &'a str,
    /// Results of the queries evaluated so far, metrics included.
    pub values: &'a HashMap<&'a str, Value>,
    /// The metric queries in request order, for `METRICS()` and `PERIOD`.
    pub metrics: &'a [(&'a str, Series)],
    pub window: Window,
    /// The period of series made from scalars (`TIME_SERIES`, an `IF`
    /// whose condition is a scalar and has no else).
    pub default_period: u32,
    /// Whether a non-numeric point was dropped.
    pub dropped: bool,
}

pub(super) fn truthy(v: f64) -> bool {
    v != 0.0 && !v.is_nan()
}

fn apply(op: BinaryOp, a: f64, b: f64) -> f64 {
    let bit = |c: bool| if c { 1.0 } else { 0.0 };
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Pow => a.powf(b),
        BinaryOp::Eq => bit(a == b),
        BinaryOp::Ne => bit(a != b),
        BinaryOp::Lt => bit(a < b),
        BinaryOp::Le => bit(a <= b),
        BinaryOp::Gt => bit(a > b),
        BinaryOp::Ge => bit(a >= b),
        BinaryOp::And => bit(truthy(a) && truthy(b)),
        BinaryOp::Or => bit(truthy(a) || truthy(b)),
    }
}

impl Context<'_> {
    pub(super) fn type_error(&self, message: impl Into<String>) -> ExprError {
        ExprError::Type {
            id: self.id.to_owned(),
            message: message.into(),
        }
    }

    /// A series with `points`, keeping what was dropped in mind.
    pub(super) fn series(&mut self, label: String, period: u32, points: Points) -> Series {
        self.dropped |= points.dropped;
        Series {
            label,
            period,
            points: points.points,
        }
    }

    /// `f` on every value of `series`.
    pub(super) fn map(&mut self, series: Series, f: impl Fn(f64) -> f64) -> Series {
        let mut out = Points::default();
        for (t, v) in series.points {
            out.push(t, f(v));
        }
        self.series(series.label, series.period, out)
    }

    /// `f` on a scalar, every point of a series, or of each series of an
    /// array.
    pub(super) fn pointwise(&mut self, value: Value, f: impl Fn(f64) -> f64) -> Value {
        match value {
            Value::Scalar(v) => Value::Scalar(f(v)),
            Value::Series(s) => Value::Series(self.map(s, &f)),
            Value::Array(xs) => Value::Array(xs.into_iter().map(|s| self.map(s, &f)).collect()),
        }
    }

    /// The request's period grid at `period`.
    pub(super) fn grid(&self, period: u32) -> Result<Vec<crate::Timestamp>, ExprError> {
        let period = if period == 0 {
            self.default_period
        } else {
            period
        };
        grid(self.window.start, self.window.end, period, MAX_GRID_POINTS).ok_or_else(|| {
            ExprError::TooManyPoints {
                id: self.id.to_owned(),
                limit: MAX_GRID_POINTS,
            }
        })
    }

    pub(super) fn eval(&mut self, expr: &Expr) -> Result<Value, ExprError> {
        match expr {
            Expr::Number(v) => Ok(Value::Scalar(*v)),
            Expr::Id(id) => {
                self.values
                    .get(id.as_str())
                    .cloned()
                    .ok_or_else(|| ExprError::UnknownId {
                        id: self.id.to_owned(),
                        reference: id.clone(),
                    })
            }
            Expr::Neg(inner) => {
                let v = self.eval(inner)?;
                Ok(self.pointwise(v, |x| -x))
            }
            Expr::Binary { op, left, right } => {
                let l = self.eval(left)?;
                let r = self.eval(right)?;
                self.binary(*op, l, r)
            }
            Expr::Array(items) => {
                let mut out = Vec::new();
                for item in items {
                    match self.eval(item)? {
                        Value::Series(s) => out.push(s),
                        Value::Array(xs) => out.extend(xs),
                        Value::Scalar(_) => {
                            return Err(self.type_error("an array holds time series, not scalars"))
                        }
                    }
                }
                Ok(Value::Array(out))
            }
            Expr::Metrics(filter) => Ok(Value::Array(
                self.metrics
                    .iter()
                    .filter(|(id, _)| filter.as_deref().is_none_or(|f| id.contains(f)))
                    .map(|(_, s)| s.clone())
                    .collect(),
            )),
            Expr::Period(id) => match self.metrics.iter().find(|(m, _)| m == id) {
                Some((_, s)) => Ok(Value::Scalar(f64::from(s.period))),
                None => Err(self.type_error(format!(
                    "PERIOD takes the Id of a metric; {id} is an expression"
                ))),
            },
            Expr::Fill { series, filler } => self.fill(series, filler),
            Expr::If {
                condition,
                then,
                otherwise,
            } => self.if_(condition, then, otherwise.as_deref()),
            Expr::Call { function, arg } => {
                let v = self.eval(arg)?;
                functions::call(self, *function, v)
            }
        }
    }

    fn binary(&mut self, op: BinaryOp, l: Value, r: Value) -> Result<Value, ExprError> {
        if op.is_logical() && (matches!(l, Value::Array(_)) || matches!(r, Value::Array(_))) {
            return Err(self.type_error(format!(
                "{} compares time series or scalars, not arrays of time series",
                op.symbol()
            )));
        }
        let f = move |a, b| apply(op, a, b);
        Ok(match (l, r) {
            (Value::Scalar(a), Value::Scalar(b)) => Value::Scalar(f(a, b)),
            (Value::Series(s), Value::Scalar(b)) => Value::Series(self.map(s, |a| f(a, b))),
            (Value::Scalar(a), Value::Series(s)) => Value::Series(self.map(s, |b| f(a, b))),
            (Value::Series(a), Value::Series(b)) => Value::Series(self.zip(a, &b, f)),
            (Value::Array(xs), Value::Scalar(b)) => {
                Value::Array(xs.into_iter().map(|s| self.map(s, |a| f(a, b))).collect())
            }
            (Value::Scalar(a), Value::Array(xs)) => {
                Value::Array(xs.into_iter().map(|s| self.map(s, |b| f(a, b))).collect())
            }
            (Value::Array(xs), Value::Series(b)) => {
                Value::Array(xs.into_iter().map(|a| self.zip(a, &b, f)).collect())
            }
            (Value::Series(a), Value::Array(xs)) => Value::Array(
                xs.into_iter()
                    .map(|b| {
                        let label = b.label.clone();
                        let mut s = self.zip(a.clone(), &b, f);
                        s.label = label;
                        s
                    })
                    .collect(),
            ),
            (Value::Array(_), Value::Array(_)) => {
                return Err(self.type_error(format!(
                    "{} between two arrays of time series is not supported",
                    op.symbol()
                )))
            }
        })
    }

    /// `f` over the union of both series' timestamps (see [`zip_union`]),
    /// labelled as `a`, at the finer of both periods.
    fn zip(&mut self, a: Series, b: &Series, f: impl Fn(f64, f64) -> f64) -> Series {
        let mut out = Points::default();
        zip_union(&a.points, &b.points, &mut out, f);
        let period = match (a.period, b.period) {
            (0, p) | (p, 0) => p,
            (p, q) => p.min(q),
        };
        self.series(a.label, period, out)
    }

    fn fill(&mut self, series: &Expr, filler: &Filler) -> Result<Value, ExprError> {
        let target = self.eval(series)?;
        let with =
            match filler {
                Filler::Repeat => Fill::Repeat,
                Filler::Linear => Fill::Linear,
                Filler::Value(v) => match self.eval(v)? {
                    Value::Scalar(x) => Fill::Scalar(x),
                    Value::Series(s) => Fill::Series(s.points),
                    Value::Array(_) => return Err(self.type_error(
                        "FILL fills with a scalar, a time series, REPEAT or LINEAR, not an array",
                    )),
                },
            };
        match target {
            Value::Series(s) => Ok(Value::Series(self.fill_one(s, &with)?)),
            Value::Array(xs) => {
                let mut out = Vec::with_capacity(xs.len());
                for s in xs {
                    out.push(self.fill_one(s, &with)?);
                }
                Ok(Value::Array(out))
            }
            Value::Scalar(_) => {
                Err(self.type_error("FILL takes a time series or an array of time series"))
            }
        }
    }

    /// Every period of the request missing from `series`, filled.
    fn fill_one(&mut self, series: Series, with: &Fill) -> Result<Series, ExprError> {
        let points = &series.points;
        let mut out = Points::default();
        for t in self.grid(series.period)? {
            let at = points.partition_point(|p| p.0 < t);
            if points.get(at).is_some_and(|p| p.0 == t) {
                continue;
            }
            let before = at.checked_sub(1).and_then(|i| points.get(i));
            let after = points.get(at);
            let v = match with {
                Fill::Scalar(x) => Some(*x),
                Fill::Series(f) => value_at(f, t),
                Fill::Repeat => before.map(|p| p.1),
                Fill::Linear => before.zip(after).map(|(b, a)| interpolate(*b, *a, t)),
            };
            if let Some(v) = v {
                out.push(t, v);
            }
        }
        out.points.extend_from_slice(points);
        out.points.sort_by_key(|p| p.0);
        Ok(self.series(series.label, series.period, out))
    }

    fn if_(
        &mut self,
        condition: &Expr,
        then: &Expr,
        otherwise: Option<&Expr>,
    ) -> Result<Value, ExprError> {
        let condition = match self.eval(condition)? {
            Value::Scalar(c) => {
                return match (truthy(c), otherwise) {
                    (true, _) => self.eval(then),
                    (false, Some(o)) => self.eval(o),
                    (false, None) => Ok(Value::Series(Series {
                        label: String::new(),
                        period: self.default_period,
                        points: Vec::new(),
                    })),
                };
            }
            Value::Series(s) => s,
            Value::Array(_) => {
                return Err(self
                    .type_error("IF takes a time series or a scalar as condition, not an array"))
            }
        };
        let branch = |ctx: &mut Self, e: &Expr| match ctx.eval(e)? {
            Value::Array(_) => Err(
                ctx.type_error("IF returns a scalar or a time series in each branch, not an array")
            ),
            v => Ok(v),
        };
        let then = branch(self, then)?;
        let otherwise = match otherwise {
            Some(o) => Some(branch(self, o)?),
            None => None,
        };
        let mut out = Points::default();
        for &(t, c) in &condition.points {
            // User Guide, "Using IF expressions": a true condition takes the
            // value of the first branch (0 where that series has no point);
            // a false one takes the second branch's value and is dropped
            // where it has none, or when there is no second branch.
            let v = if truthy(c) {
                match &then {
                    Value::Series(s) => Some(value_at(&s.points, t).unwrap_or(0.0)),
                    Value::Scalar(x) => Some(*x),
                    Value::Array(_) => None,
                }
            } else {
                match &otherwise {
                    Some(Value::Series(s)) => value_at(&s.points, t),
                    Some(Value::Scalar(x)) => Some(*x),
                    _ => None,
                }
            };
            if let Some(v) = v {
                out.push(t, v);
            }
        }
        Ok(Value::Series(self.series(
            condition.label,
            condition.period,
            out,
        )))
    }
}

/// What `FILL` puts into a missing period.
enum Fill {
    Scalar(f64),
    Series(Vec<Point>),
    Repeat,
    Linear,
}

/// The value at `t` on the line through `a` and `b` (`a.0 < t < b.0`).
fn interpolate(a: Point, b: Point, t: crate::Timestamp) -> f64 {
    let (ta, tb, tt) = (
        a.0.as_unix_millis() as f64,
        b.0.as_unix_millis() as f64,
        t.as_unix_millis() as f64,
    );
    a.1 + (b.1 - a.1) * (tt - ta) / (tb - ta)
}
