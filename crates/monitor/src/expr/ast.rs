//! The parsed expression: what [`super::parse`] returns and the evaluator
//! walks.

/// A metric math expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A number literal (`5`, `0.25`, `1e3`); always finite.
    Number(f64),
    /// The `Id` of another query (`m1`, `errors`).
    Id(String),
    /// Unary minus.
    Neg(Box<Expr>),
    /// `left op right`.
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// `[a, b, ...]`: an array of time series.
    Array(Vec<Expr>),
    /// `METRICS()` or `METRICS("substring")`.
    Metrics(Option<String>),
    /// `PERIOD(id)`: its argument must name a metric query.
    Period(String),
    /// `FILL(series, filler)`.
    Fill { series: Box<Expr>, filler: Filler },
    /// `IF(condition, then[, otherwise])`.
    If {
        condition: Box<Expr>,
        then: Box<Expr>,
        otherwise: Option<Box<Expr>>,
    },
    /// Every other function: one argument.
    Call { function: Function, arg: Box<Expr> },
}

/// The binary operators, loosest first: `OR`, `AND`, comparisons, `+ -`,
/// `* /`, `^` (unary minus sits between `* /` and `^`, so `-2^2` is -4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    /// `OR` or `||`.
    Or,
    /// `AND` or `&&`.
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    /// `^`, right-associative.
    Pow,
}

impl BinaryOp {
    pub const fn symbol(self) -> &'static str {
        match self {
            Self::Or => "OR",
            Self::And => "AND",
            Self::Eq => "==",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Add => "+",
            Self::Sub => "-",
            Self::Mul => "*",
            Self::Div => "/",
            Self::Pow => "^",
        }
    }

    /// Whether the operator compares or combines truth values (its result
    /// is 0 or 1).
    pub const fn is_logical(self) -> bool {
        matches!(
            self,
            Self::Or | Self::And | Self::Eq | Self::Ne | Self::Lt | Self::Le | Self::Gt | Self::Ge
        )
    }
}

/// The second argument of `FILL`.
#[derive(Clone, Debug, PartialEq)]
pub enum Filler {
    /// A scalar, or a time series whose value at each missing timestamp is
    /// used.
    Value(Box<Expr>),
    /// `REPEAT`: the most recent real value before the gap.
    Repeat,
    /// `LINEAR`: linear interpolation between the real values around the
    /// gap.
    Linear,
}

/// The one-argument functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    Abs,
    Avg,
    Ceil,
    Diff,
    DiffTime,
    First,
    Floor,
    Last,
    Log,
    Log10,
    Max,
    MetricCount,
    Min,
    Rate,
    RemoveEmpty,
    RunningSum,
    Stddev,
    Sum,
    TimeSeries,
}

impl Function {
    /// Every function the evaluator knows, by its CloudWatch name.
    pub(super) const ALL: [(&'static str, Function); 19] = [
        ("ABS", Self::Abs),
        ("AVG", Self::Avg),
        ("CEIL", Self::Ceil),
        ("DIFF", Self::Diff),
        ("DIFF_TIME", Self::DiffTime),
        ("FIRST", Self::First),
        ("FLOOR", Self::Floor),
        ("LAST", Self::Last),
        ("LOG", Self::Log),
        ("LOG10", Self::Log10),
        ("MAX", Self::Max),
        ("METRIC_COUNT", Self::MetricCount),
        ("MIN", Self::Min),
        ("RATE", Self::Rate),
        ("REMOVE_EMPTY", Self::RemoveEmpty),
        ("RUNNING_SUM", Self::RunningSum),
        ("STDDEV", Self::Stddev),
        ("SUM", Self::Sum),
        ("TIME_SERIES", Self::TimeSeries),
    ];

    pub(super) fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, function)| *function)
    }

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("?", |(name, _)| name)
    }
}

/// Functions of the User Guide this evaluator refuses, by name: they need
/// machinery onair does not have (search, Contributor Insights, anomaly
/// models, service quotas, Metrics Insights) or are not implemented yet.
pub(super) const UNSUPPORTED: [&str; 16] = [
    "ANOMALY_DETECTION_BAND",
    "DATAPOINT_COUNT",
    "DATE",
    "DAY",
    "EPOCH",
    "HOUR",
    "INSIGHT_RULE_METRIC",
    "LAMBDA",
    "MINUTE",
    "MONTH",
    "SEARCH",
    "SELECT",
    "SERVICE_QUOTA",
    "SLICE",
    "SORT",
    "YEAR",
];

impl Expr {
    /// The query ids this expression reads, each once, in order of first
    /// appearance (`METRICS()` reads metric queries only, so it adds none).
    pub fn references(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            match e {
                Self::Number(_) | Self::Metrics(_) => {}
                Self::Id(id) | Self::Period(id) => {
                    if !out.contains(&id.as_str()) {
                        out.push(id);
                    }
                }
                Self::Neg(inner) | Self::Call { arg: inner, .. } => stack.push(inner),
                Self::Binary { left, right, .. } => {
                    stack.push(right);
                    stack.push(left);
                }
                Self::Array(items) => stack.extend(items.iter().rev()),
                Self::Fill { series, filler } => {
                    if let Filler::Value(v) = filler {
                        stack.push(v);
                    }
                    stack.push(series);
                }
                Self::If {
                    condition,
                    then,
                    otherwise,
                } => {
                    if let Some(o) = otherwise {
                        stack.push(o);
                    }
                    stack.push(then);
                    stack.push(condition);
                }
            }
        }
        out
    }

    /// How deeply the expression nests (a literal is 1), computed without
    /// recursion so that any parsed tree can be measured.
    pub fn depth(&self) -> usize {
        let mut deepest = 0;
        let mut stack = vec![(self, 1usize)];
        while let Some((e, d)) = stack.pop() {
            deepest = deepest.max(d);
            let next = d.saturating_add(1);
            match e {
                Self::Number(_) | Self::Id(_) | Self::Metrics(_) | Self::Period(_) => {}
                Self::Neg(inner) | Self::Call { arg: inner, .. } => stack.push((inner, next)),
                Self::Binary { left, right, .. } => {
                    stack.push((left, next));
                    stack.push((right, next));
                }
                Self::Array(items) => stack.extend(items.iter().map(|i| (i, next))),
                Self::Fill { series, filler } => {
                    stack.push((series, next));
                    if let Filler::Value(v) = filler {
                        stack.push((v, next));
                    }
                }
                Self::If {
                    condition,
                    then,
                    otherwise,
                } => {
                    stack.push((condition, next));
                    stack.push((then, next));
                    if let Some(o) = otherwise {
                        stack.push((o, next));
                    }
                }
            }
        }
        deepest
    }
}
