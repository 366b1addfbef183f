//! The one-argument functions of the User Guide's "Functions supported for
//! metric math" table.

use super::ast::Function;
use super::error::ExprError;
use super::eval::Context;
use super::value::{value_at, Points, Value};
use super::Series;
use crate::Timestamp;

pub(super) fn call(
    ctx: &mut Context<'_>,
    function: Function,
    arg: Value,
) -> Result<Value, ExprError> {
    let name = function.name();
    match function {
        Function::Abs => Ok(ctx.pointwise(arg, f64::abs)),
        Function::Ceil => Ok(ctx.pointwise(arg, f64::ceil)),
        Function::Floor => Ok(ctx.pointwise(arg, f64::floor)),
        Function::Log => Ok(ctx.pointwise(arg, f64::ln)),
        Function::Log10 => Ok(ctx.pointwise(arg, f64::log10)),
        Function::Sum | Function::Avg | Function::Min | Function::Max | Function::Stddev => {
            match arg {
                // "The SUM of a single time series returns a scalar ..."
                Value::Series(s) => {
                    let values: Vec<f64> = s.points.iter().map(|p| p.1).collect();
                    Ok(Value::Scalar(reduce(function, &values)))
                }
                // "... The SUM of an array of time series returns a single
                // time series."
                Value::Array(xs) => Ok(Value::Series(across(ctx, function, &xs))),
                Value::Scalar(_) => Err(ctx.type_error(format!(
                    "{name} takes a time series or an array of time series, not a scalar"
                ))),
            }
        }
        Function::Diff | Function::DiffTime | Function::Rate | Function::RunningSum => match arg {
            Value::Series(s) => Ok(Value::Series(consecutive(ctx, function, s))),
            Value::Array(xs) => Ok(Value::Array(
                xs.into_iter()
                    .map(|s| consecutive(ctx, function, s))
                    .collect(),
            )),
            Value::Scalar(_) => Err(ctx.type_error(format!(
                "{name} takes a time series or an array of time series, not a scalar"
            ))),
        },
        Function::TimeSeries => match arg {
            Value::Scalar(v) => {
                let mut out = Points::default();
                for t in ctx.grid(ctx.default_period)? {
                    out.push(t, v);
                }
                let period = ctx.default_period;
                Ok(Value::Series(ctx.series(String::new(), period, out)))
            }
            other => {
                Err(ctx.type_error(format!("TIME_SERIES takes a scalar, not {}", other.kind())))
            }
        },
        Function::First | Function::Last | Function::MetricCount | Function::RemoveEmpty => {
            let Value::Array(xs) = arg else {
                return Err(ctx.type_error(format!(
                    "{name} takes an array of time series, not {}",
                    arg.kind()
                )));
            };
            Ok(match function {
                Function::MetricCount => Value::Scalar(xs.len() as f64),
                Function::RemoveEmpty => {
                    Value::Array(xs.into_iter().filter(|s| !s.points.is_empty()).collect())
                }
                Function::First => first_or_empty(ctx, xs.into_iter().next()),
                _ => first_or_empty(ctx, xs.into_iter().next_back()),
            })
        }
    }
}

fn first_or_empty(ctx: &Context<'_>, series: Option<Series>) -> Value {
    Value::Series(series.unwrap_or_else(|| Series {
        label: String::new(),
        period: ctx.default_period,
        points: Vec::new(),
    }))
}

/// `SUM`, `AVG`, `MIN`, `MAX` or `STDDEV` of `values`. The sum of nothing is
/// 0; the others of nothing are NaN, which drops whatever is computed from
/// them. `STDDEV` is the population standard deviation.
pub(super) fn reduce(function: Function, values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let sum: f64 = values.iter().sum();
    let mean = sum / n;
    match function {
        Function::Sum => sum,
        Function::Avg => mean,
        Function::Min => values.iter().copied().reduce(f64::min).unwrap_or(f64::NAN),
        Function::Max => values.iter().copied().reduce(f64::max).unwrap_or(f64::NAN),
        _ => (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt(),
    }
}

/// `function` across the series of an array at each timestamp any of them
/// has, a series without a point there counting as 0 (the User Guide says
/// so for `AVG` and for arithmetic; `MIN`, `MAX` and `STDDEV` follow the same
/// rule here).
fn across(ctx: &mut Context<'_>, function: Function, xs: &[Series]) -> Series {
    let mut stamps: Vec<Timestamp> = xs
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .collect();
    stamps.sort_unstable();
    stamps.dedup();
    let mut out = Points::default();
    let mut values = Vec::with_capacity(xs.len());
    for t in stamps {
        values.clear();
        values.extend(xs.iter().map(|s| value_at(&s.points, t).unwrap_or(0.0)));
        out.push(t, reduce(function, &values));
    }
    let period = xs
        .iter()
        .map(|s| s.period)
        .filter(|p| *p > 0)
        .min()
        .unwrap_or(ctx.default_period);
    ctx.series(String::new(), period, out)
}

/// `DIFF`, `DIFF_TIME`, `RATE` (each from one point to the next, at the
/// later one's timestamp, so the first point has none) or `RUNNING_SUM`.
fn consecutive(ctx: &mut Context<'_>, function: Function, series: Series) -> Series {
    let mut out = Points::default();
    if function == Function::RunningSum {
        let mut total = 0.0;
        for &(t, v) in &series.points {
            total += v;
            out.push(t, total);
        }
    } else {
        for pair in series.points.windows(2) {
            let [(t0, v0), (t1, v1)] = pair else {
                continue;
            };
            let secs = t1.as_unix_millis().saturating_sub(t0.as_unix_millis()) as f64 / 1000.0;
            out.push(
                *t1,
                match function {
                    Function::Diff => v1 - v0,
                    Function::DiffTime => secs,
                    _ => (v1 - v0) / secs,
                },
            );
        }
    }
    ctx.series(series.label, series.period, out)
}
