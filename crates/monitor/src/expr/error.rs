//! What parsing and evaluating metric math refuses.
//!
//! Every refusal names the query (`Id`) at fault, so an API layer can hand
//! it back as a `ValidationError` message unchanged.

use thiserror::Error;

/// Why an expression does not parse, and where: `position` counts
/// characters from 0.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("at position {position}: {kind}")]
pub struct ParseError {
    pub position: usize,
    pub kind: ParseErrorKind,
}

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ParseErrorKind {
    /// The token at `position` is not one the grammar allows there.
    #[error("expected {expected}, found {found}")]
    Expected {
        expected: &'static str,
        /// The offending text, or `end of expression`.
        found: String,
    },
    /// A function CloudWatch documents that this evaluator refuses.
    #[error("{0} is not supported")]
    Unsupported(String),
    /// An upper-case name that is no metric math function.
    #[error("unknown function {0}")]
    UnknownFunction(String),
    /// Longer than [`super::MAX_EXPRESSION_CHARS`].
    #[error("the expression is {0} characters long, more than {max}", max = super::MAX_EXPRESSION_CHARS)]
    TooLong(usize),
    /// Nested deeper than [`super::MAX_DEPTH`].
    #[error("the expression nests more than {0} levels deep")]
    TooDeep(usize),
}

/// Why a set of `MetricDataQueries` cannot be evaluated.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ExprError {
    /// An `Id` that is empty, too long, or not a lowercase letter followed
    /// by letters, digits and underscores.
    #[error("Id {id:?}: {problem}")]
    InvalidId { id: String, problem: &'static str },
    /// Two queries share an `Id`.
    #[error("Id {0}: used by more than one query")]
    DuplicateId(String),
    /// Every query has `ReturnData` false: there is nothing to return.
    #[error("no query has ReturnData true")]
    NoReturnData,
    /// An `Expression` that does not parse.
    #[error("{id}: {error}")]
    Syntax { id: String, error: ParseError },
    /// An expression names an `Id` no query has.
    #[error("{id}: unknown Id {reference}")]
    UnknownId { id: String, reference: String },
    /// Expressions that depend on each other in a loop, listed in order
    /// (`e1 -> e2 -> e1`).
    #[error("circular dependency: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
    /// An argument of the wrong kind (a scalar where a time series is
    /// needed, an array where one series is, ...).
    #[error("{id}: {message}")]
    Type { id: String, message: String },
    /// `FILL` or `TIME_SERIES` over a window holding too many periods.
    #[error("{id}: the time range holds more than {limit} periods")]
    TooManyPoints { id: String, limit: usize },
}
