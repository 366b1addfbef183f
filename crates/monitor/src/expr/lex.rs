//! Tokens of a metric math expression.
//!
//! Names starting with a lowercase letter are query ids; names starting
//! with an uppercase letter are functions and keywords ("All functions must
//! be written in uppercase letters", User Guide, "Metric math syntax and
//! functions"). `AND` / `&&` and `OR` / `||` are the logical operators.
//!
//! The parser pulls one token at a time, so an error is always the first
//! one in reading order: `SEARCH('...')` is refused as unsupported before
//! its quotes are looked at.

use super::error::{ParseError, ParseErrorKind};

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Token {
    Number(f64),
    /// A query id: lowercase letter, then letters, digits, underscores.
    Id(String),
    /// An upper-case name: a function or a keyword (`REPEAT`, `LINEAR`).
    Name(String),
    /// A double-quoted string (the argument of `METRICS`).
    Str(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Plus,
    Minus,
    Star,
    Slash,
    Caret,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    End,
}

/// A token, where it starts (in characters) and its text.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Spanned {
    pub token: Token,
    pub at: usize,
    pub text: String,
}

fn expected(at: usize, expected: &'static str, found: String) -> ParseError {
    ParseError {
        position: at,
        kind: ParseErrorKind::Expected { expected, found },
    }
}

/// Tokens of one expression, on demand.
pub(super) struct Lexer {
    chars: Vec<char>,
    i: usize,
}

impl Lexer {
    pub(super) fn new(src: &str) -> Self {
        Self {
            chars: src.chars().collect(),
            i: 0,
        }
    }

    fn text(&self, start: usize) -> String {
        self.chars
            .get(start..self.i)
            .unwrap_or_default()
            .iter()
            .collect()
    }

    /// The next token; [`Token::End`] for ever once the text is used up.
    pub(super) fn next_token(&mut self) -> Result<Spanned, ParseError> {
        let chars = &self.chars;
        while chars.get(self.i).is_some_and(|c| c.is_whitespace()) {
            self.i += 1;
        }
        let start = self.i;
        let Some(&c) = chars.get(start) else {
            return Ok(Spanned {
                token: Token::End,
                at: chars.len(),
                text: String::new(),
            });
        };
        let next = chars.get(start + 1).copied();
        let token = match c {
            '0'..='9' | '.' => {
                self.i = number_end(chars, start);
                let text = self.text(start);
                match text.parse::<f64>() {
                    Ok(v) if v.is_finite() => Token::Number(v),
                    _ => return Err(expected(start, "a finite number", format!("'{text}'"))),
                }
            }
            c if c.is_ascii_alphabetic() => {
                while chars
                    .get(self.i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
                {
                    self.i += 1;
                }
                let text = self.text(start);
                match text.as_str() {
                    "AND" => Token::And,
                    "OR" => Token::Or,
                    _ if c.is_ascii_lowercase() => Token::Id(text),
                    _ => Token::Name(text),
                }
            }
            '"' => {
                let close = chars
                    .get(start + 1..)
                    .and_then(|rest| rest.iter().position(|c| *c == '"'))
                    .ok_or_else(|| expected(start, "a closing '\"'", "end of expression".into()))?;
                let text: String = chars
                    .get(start + 1..start + 1 + close)
                    .unwrap_or_default()
                    .iter()
                    .collect();
                self.i = start + close + 2;
                Token::Str(text)
            }
            _ => {
                let (token, len) = match (c, next) {
                    ('=', Some('=')) => (Token::Eq, 2),
                    ('!', Some('=')) => (Token::Ne, 2),
                    ('<', Some('=')) => (Token::Le, 2),
                    ('>', Some('=')) => (Token::Ge, 2),
                    ('&', Some('&')) => (Token::And, 2),
                    ('|', Some('|')) => (Token::Or, 2),
                    ('<', _) => (Token::Lt, 1),
                    ('>', _) => (Token::Gt, 1),
                    ('(', _) => (Token::LParen, 1),
                    (')', _) => (Token::RParen, 1),
                    ('[', _) => (Token::LBracket, 1),
                    (']', _) => (Token::RBracket, 1),
                    (',', _) => (Token::Comma, 1),
                    ('+', _) => (Token::Plus, 1),
                    ('-', _) => (Token::Minus, 1),
                    ('*', _) => (Token::Star, 1),
                    ('/', _) => (Token::Slash, 1),
                    ('^', _) => (Token::Caret, 1),
                    _ => {
                        return Err(expected(
                            start,
                            "a number, an Id, a function or an operator",
                            format!("'{c}'"),
                        ))
                    }
                };
                self.i = start + len;
                token
            }
        };
        Ok(Spanned {
            token,
            at: start,
            text: self.text(start),
        })
    }
}

/// Where the number starting at `i` ends: digits, an optional fraction and
/// an optional exponent (`12`, `0.5`, `.5`, `1e-3`).
fn number_end(chars: &[char], mut i: usize) -> usize {
    let digits = |i: &mut usize| {
        while chars.get(*i).is_some_and(char::is_ascii_digit) {
            *i += 1;
        }
    };
    digits(&mut i);
    if chars.get(i) == Some(&'.') {
        i += 1;
        digits(&mut i);
    }
    if matches!(chars.get(i), Some('e' | 'E')) {
        let mut j = i + 1;
        if matches!(chars.get(j), Some('+' | '-')) {
            j += 1;
        }
        if chars.get(j).is_some_and(char::is_ascii_digit) {
            i = j;
            digits(&mut i);
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(src: &str) -> Result<Vec<Token>, ParseError> {
        let mut lexer = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let t = lexer.next_token()?.token;
            out.push(t.clone());
            if t == Token::End {
                return Ok(out);
            }
        }
    }

    fn tokens(src: &str) -> Vec<Token> {
        lex(src).unwrap_or_default()
    }

    #[test]
    fn splits_ids_names_numbers_and_operators() {
        assert_eq!(
            tokens("m1>=2.5e1 AND FILL(m_2,REPEAT)||x"),
            vec![
                Token::Id("m1".into()),
                Token::Ge,
                Token::Number(25.0),
                Token::And,
                Token::Name("FILL".into()),
                Token::LParen,
                Token::Id("m_2".into()),
                Token::Comma,
                Token::Name("REPEAT".into()),
                Token::RParen,
                Token::Or,
                Token::Id("x".into()),
                Token::End,
            ]
        );
        assert_eq!(
            tokens(r#"METRICS("5xx") .5"#),
            vec![
                Token::Name("METRICS".into()),
                Token::LParen,
                Token::Str("5xx".into()),
                Token::RParen,
                Token::Number(0.5),
                Token::End,
            ]
        );
    }

    #[test]
    fn refuses_stray_characters_with_their_position() {
        let err = lex("m1 + #").err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("at position 5: expected a number, an Id, a function or an operator, found '#'")
        );
        assert!(lex("\"open").is_err());
        assert!(lex("1e999").is_err());
        assert!(lex(".").is_err());
    }
}
