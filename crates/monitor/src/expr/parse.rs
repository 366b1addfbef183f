//! Recursive descent over the tokens, loosest operator first:
//!
//! ```text
//! or      = and { ("OR" | "||") and }
//! and     = compare { ("AND" | "&&") compare }
//! compare = sum { ("==" | "!=" | "<" | "<=" | ">" | ">=") sum }
//! sum     = product { ("+" | "-") product }
//! product = unary { ("*" | "/") unary }
//! unary   = "-" unary | power
//! power   = primary [ "^" unary ]
//! primary = number | id | "(" or ")" | "[" or { "," or } "]" | call
//! call    = NAME "(" arguments ")"
//! ```
//!
//! The User Guide gives the operators but not their precedence; this is the
//! usual arithmetic one. Recursion is bounded by [`MAX_DEPTH`], and so is the
//! depth of the tree built from long operator chains.

use super::ast::{BinaryOp, Expr, Filler, Function, UNSUPPORTED};
use super::error::{ParseError, ParseErrorKind};
use super::lex::{Lexer, Spanned, Token};
use super::{MAX_DEPTH, MAX_EXPRESSION_CHARS};

/// Parse one `Expression`. Refuses the empty string, more than
/// [`MAX_EXPRESSION_CHARS`] characters, nesting beyond [`MAX_DEPTH`],
/// unknown functions and the functions this evaluator does not support.
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    let len = src.chars().count();
    if len > MAX_EXPRESSION_CHARS {
        return Err(ParseError {
            position: MAX_EXPRESSION_CHARS,
            kind: ParseErrorKind::TooLong(len),
        });
    }
    let mut lexer = Lexer::new(src);
    let current = lexer.next_token()?;
    let mut parser = Parser {
        lexer,
        current,
        depth: 0,
    };
    let expr = parser.or()?;
    if parser.peek() != &Token::End {
        return Err(parser.expected("an operator or the end of the expression"));
    }
    if expr.depth() > MAX_DEPTH {
        return Err(ParseError {
            position: 0,
            kind: ParseErrorKind::TooDeep(MAX_DEPTH),
        });
    }
    Ok(expr)
}

struct Parser {
    lexer: Lexer,
    /// The next token, not yet consumed.
    current: Spanned,
    depth: usize,
}

fn binary(op: BinaryOp, left: Expr, right: Expr) -> Expr {
    Expr::Binary {
        op,
        left: Box::new(left),
        right: Box::new(right),
    }
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.current.token
    }

    fn position(&self) -> usize {
        self.current.at
    }

    /// Consume the current token.
    fn advance(&mut self) -> Result<(), ParseError> {
        self.current = self.lexer.next_token()?;
        Ok(())
    }

    fn expected(&self, expected: &'static str) -> ParseError {
        let found = match self.current.token {
            Token::End => "end of expression".to_owned(),
            _ => format!("'{}'", self.current.text),
        };
        ParseError {
            position: self.position(),
            kind: ParseErrorKind::Expected { expected, found },
        }
    }

    fn expect(&mut self, token: &Token, what: &'static str) -> Result<(), ParseError> {
        if self.peek() == token {
            self.advance()
        } else {
            Err(self.expected(what))
        }
    }

    /// One level of left-associative operators over `next`.
    fn chain(
        &mut self,
        ops: &[(Token, BinaryOp)],
        next: fn(&mut Self) -> Result<Expr, ParseError>,
    ) -> Result<Expr, ParseError> {
        let mut left = next(self)?;
        while let Some(op) = ops
            .iter()
            .find(|(t, _)| t == self.peek())
            .map(|(_, op)| *op)
        {
            self.advance()?;
            let right = next(self)?;
            left = binary(op, left, right);
        }
        Ok(left)
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        self.chain(&[(Token::Or, BinaryOp::Or)], Self::and)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        self.chain(&[(Token::And, BinaryOp::And)], Self::compare)
    }

    fn compare(&mut self) -> Result<Expr, ParseError> {
        self.chain(
            &[
                (Token::Eq, BinaryOp::Eq),
                (Token::Ne, BinaryOp::Ne),
                (Token::Lt, BinaryOp::Lt),
                (Token::Le, BinaryOp::Le),
                (Token::Gt, BinaryOp::Gt),
                (Token::Ge, BinaryOp::Ge),
            ],
            Self::sum,
        )
    }

    fn sum(&mut self) -> Result<Expr, ParseError> {
        self.chain(
            &[(Token::Plus, BinaryOp::Add), (Token::Minus, BinaryOp::Sub)],
            Self::product,
        )
    }

    fn product(&mut self) -> Result<Expr, ParseError> {
        self.chain(
            &[(Token::Star, BinaryOp::Mul), (Token::Slash, BinaryOp::Div)],
            Self::unary,
        )
    }

    /// Every recursion goes through here, so this is where depth is bounded.
    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.depth >= MAX_DEPTH {
            return Err(ParseError {
                position: self.position(),
                kind: ParseErrorKind::TooDeep(MAX_DEPTH),
            });
        }
        self.depth += 1;
        let result = if self.peek() == &Token::Minus {
            self.advance()
                .and_then(|()| self.unary())
                .map(|e| Expr::Neg(Box::new(e)))
        } else {
            self.power()
        };
        self.depth -= 1;
        result
    }

    fn power(&mut self) -> Result<Expr, ParseError> {
        let base = self.primary()?;
        if self.peek() == &Token::Caret {
            self.advance()?;
            let exponent = self.unary()?;
            return Ok(binary(BinaryOp::Pow, base, exponent));
        }
        Ok(base)
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        match self.peek().clone() {
            Token::Number(v) => {
                self.advance()?;
                Ok(Expr::Number(v))
            }
            Token::Id(id) => {
                self.advance()?;
                Ok(Expr::Id(id))
            }
            Token::LParen => {
                self.advance()?;
                let inner = self.or()?;
                self.expect(&Token::RParen, "')'")?;
                Ok(inner)
            }
            Token::LBracket => {
                self.advance()?;
                let mut items = vec![self.or()?];
                while self.peek() == &Token::Comma {
                    self.advance()?;
                    items.push(self.or()?);
                }
                self.expect(&Token::RBracket, "',' or ']'")?;
                Ok(Expr::Array(items))
            }
            Token::Name(name) => self.call(&name),
            _ => Err(self.expected("a number, an Id, a function, '(' or '['")),
        }
    }

    fn call(&mut self, name: &str) -> Result<Expr, ParseError> {
        let at = self.position();
        if UNSUPPORTED.contains(&name) {
            let what = if name == "SELECT" {
                "a Metrics Insights query (SELECT)".to_owned()
            } else {
                name.to_owned()
            };
            return Err(ParseError {
                position: at,
                kind: ParseErrorKind::Unsupported(what),
            });
        }
        let function = Function::from_name(name);
        if function.is_none() && !matches!(name, "METRICS" | "PERIOD" | "FILL" | "IF") {
            return Err(ParseError {
                position: at,
                kind: ParseErrorKind::UnknownFunction(name.to_owned()),
            });
        }
        self.advance()?;
        self.expect(&Token::LParen, "'(' after a function name")?;
        let expr = match (name, function) {
            ("METRICS", _) => match self.peek().clone() {
                Token::Str(s) => {
                    self.advance()?;
                    Expr::Metrics(Some(s))
                }
                _ => Expr::Metrics(None),
            },
            ("PERIOD", _) => match self.peek().clone() {
                Token::Id(id) => {
                    self.advance()?;
                    Expr::Period(id)
                }
                _ => return Err(self.expected("the Id of a metric")),
            },
            ("FILL", _) => {
                let series = Box::new(self.or()?);
                self.expect(&Token::Comma, "',' and the filler")?;
                let filler = match self.peek() {
                    Token::Name(k) if k == "REPEAT" => Filler::Repeat,
                    Token::Name(k) if k == "LINEAR" => Filler::Linear,
                    _ => Filler::Value(Box::new(self.or()?)),
                };
                if matches!(filler, Filler::Repeat | Filler::Linear) {
                    self.advance()?;
                }
                Expr::Fill { series, filler }
            }
            ("IF", _) => {
                let condition = Box::new(self.or()?);
                self.expect(&Token::Comma, "',' and the value when true")?;
                let then = Box::new(self.or()?);
                let otherwise = if self.peek() == &Token::Comma {
                    self.advance()?;
                    Some(Box::new(self.or()?))
                } else {
                    None
                };
                Expr::If {
                    condition,
                    then,
                    otherwise,
                }
            }
            (_, Some(function)) => Expr::Call {
                function,
                arg: Box::new(self.or()?),
            },
            (_, None) => {
                return Err(ParseError {
                    position: at,
                    kind: ParseErrorKind::UnknownFunction(name.to_owned()),
                })
            }
        };
        self.expect(&Token::RParen, "')'")?;
        Ok(expr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> Expr {
        Expr::Id(s.into())
    }

    fn num(v: f64) -> Expr {
        Expr::Number(v)
    }

    fn err(src: &str) -> String {
        parse(src).err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn precedence_and_associativity() {
        use BinaryOp::*;
        assert_eq!(
            parse("m1 + 2 * m2 ^ 2 ^ 3"),
            Ok(binary(
                Add,
                id("m1"),
                binary(
                    Mul,
                    num(2.0),
                    binary(Pow, id("m2"), binary(Pow, num(2.0), num(3.0)))
                )
            ))
        );
        assert_eq!(
            parse("a - b - c"),
            Ok(binary(Sub, binary(Sub, id("a"), id("b")), id("c")))
        );
        assert_eq!(
            parse("-2^2"),
            Ok(Expr::Neg(Box::new(binary(Pow, num(2.0), num(2.0)))))
        );
        assert_eq!(
            parse("2^-1"),
            Ok(binary(Pow, num(2.0), Expr::Neg(Box::new(num(1.0)))))
        );
        assert_eq!(
            parse("a > 1 AND b < 2 || c"),
            Ok(binary(
                Or,
                binary(
                    And,
                    binary(Gt, id("a"), num(1.0)),
                    binary(Lt, id("b"), num(2.0))
                ),
                id("c")
            ))
        );
    }

    #[test]
    fn functions_and_their_arguments() {
        assert_eq!(
            parse(r#"SUM([METRICS("4xx"), METRICS()])"#),
            Ok(Expr::Call {
                function: Function::Sum,
                arg: Box::new(Expr::Array(vec![
                    Expr::Metrics(Some("4xx".into())),
                    Expr::Metrics(None)
                ]))
            })
        );
        assert_eq!(
            parse("FILL(m1, REPEAT)"),
            Ok(Expr::Fill {
                series: Box::new(id("m1")),
                filler: Filler::Repeat
            })
        );
        assert_eq!(
            parse("FILL(m1, MIN(m1)) + m2 * m1").map(|e| e
                .references()
                .into_iter()
                .map(String::from)
                .collect::<Vec<_>>()),
            Ok(vec!["m1".to_owned(), "m2".to_owned()])
        );
        assert!(matches!(
            parse("IF(m1 < 400, m1)"),
            Ok(Expr::If {
                otherwise: None,
                ..
            })
        ));
        assert_eq!(parse("m1/PERIOD(m1)").map(|e| e.depth()), Ok(2));
    }

    #[test]
    fn errors_say_where_and_what_was_expected() {
        assert_eq!(
            err("m1 +"),
            "at position 4: expected a number, an Id, a function, '(' or '[', found end of expression"
        );
        assert_eq!(
            err("(m1 + m2"),
            "at position 8: expected ')', found end of expression"
        );
        assert_eq!(
            err("m1 m2"),
            "at position 3: expected an operator or the end of the expression, found 'm2'"
        );
        assert_eq!(
            err("SUM m1"),
            "at position 4: expected '(' after a function name, found 'm1'"
        );
        assert_eq!(
            err("PERIOD(2)"),
            "at position 7: expected the Id of a metric, found '2'"
        );
        assert_eq!(err("m1 * Sum(m1)"), "at position 5: unknown function Sum");
        assert_eq!(
            err("SEARCH('{AWS/EC2}', 'Average')"),
            "at position 0: SEARCH is not supported"
        );
        assert_eq!(
            err("ANOMALY_DETECTION_BAND(m1, 2)"),
            "at position 0: ANOMALY_DETECTION_BAND is not supported"
        );
        assert_eq!(
            err("SELECT AVG(CPUUtilization) FROM SCHEMA(\"AWS/EC2\")"),
            "at position 0: a Metrics Insights query (SELECT) is not supported"
        );
        assert_eq!(err(""), "at position 0: expected a number, an Id, a function, '(' or '[', found end of expression");
        assert_eq!(
            err("FILL(m1, REPEAT"),
            "at position 15: expected ')', found end of expression"
        );
    }

    #[test]
    fn length_and_depth_are_bounded() {
        let long = format!("m1{}", "+1".repeat(MAX_EXPRESSION_CHARS));
        assert_eq!(
            parse(&long).err().map(|e| e.kind),
            Some(ParseErrorKind::TooLong(MAX_EXPRESSION_CHARS * 2 + 2))
        );
        let nested = format!("{}m1{}", "(".repeat(200), ")".repeat(200));
        assert_eq!(
            parse(&nested).err().map(|e| e.kind),
            Some(ParseErrorKind::TooDeep(MAX_DEPTH))
        );
        let negs = format!("{}m1", "-".repeat(500));
        assert!(parse(&negs).is_err());
        // A long chain builds a deep tree without deep recursion: refused too.
        let chain = format!("m1{}", "+m1".repeat(MAX_DEPTH + 1));
        assert_eq!(
            parse(&chain).err().map(|e| e.kind),
            Some(ParseErrorKind::TooDeep(MAX_DEPTH))
        );
        let fine = format!("m1{}", "+m1".repeat(MAX_DEPTH - 2));
        assert!(parse(&fine).is_ok());
    }
}
