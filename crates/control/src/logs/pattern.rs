//! FilterLogEvents `filterPattern`: the term syntax for unstructured events.
//!
//! CloudWatch Logs User Guide, "Filter pattern syntax … Matching terms in
//! unstructured log events":
//!
//! | pattern | matches an event that |
//! |---|---|
//! | `ERROR` | contains `ERROR` |
//! | `ERROR Exception` | contains both |
//! | `"Internal Server Error"` | contains the phrase |
//! | `?ERROR ?WARN` | contains either |
//! | `ERROR -ARGUMENTS` | contains `ERROR` and not `ARGUMENTS` |
//! | (empty), `""` | anything |
//!
//! Terms are case-sensitive and match anywhere in the message (a substring).
//! When plain, `?` and `-` terms are mixed, an event matches when it has every
//! plain term, at least one `?` term (if any) and no `-` term. JSON patterns
//! (`{ $.level = "error" }`), space-delimited patterns (`[ip, user, …]`) and
//! regular expressions (`%…%`) are refused, not misread as terms.

/// A parsed filter pattern.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilterPattern {
    /// Terms an event must all contain.
    all: Vec<String>,
    /// Terms of which an event must contain one (`?term`).
    any: Vec<String>,
    /// Terms an event must not contain (`-term`).
    none: Vec<String>,
}

/// Why a pattern is refused; the text completes "filterPattern: …".
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("JSON filter patterns ({{ $.field … }}) are not supported by onair; use terms, \"quoted phrases\", ?term and -term")]
    Json,
    #[error("space-delimited filter patterns ([field, …]) are not supported by onair; use terms, \"quoted phrases\", ?term and -term")]
    SpaceDelimited,
    #[error("regular expression filter patterns (%…%) are not supported by onair; use terms, \"quoted phrases\", ?term and -term")]
    Regex,
    #[error("a quoted phrase is not closed")]
    Unclosed,
    #[error("'{0}' must be followed by a term")]
    Dangling(char),
    #[error("a term may not contain '\"' (quote the whole phrase)")]
    StrayQuote,
}

impl FilterPattern {
    /// The pattern that matches every event.
    pub fn everything() -> FilterPattern {
        FilterPattern::default()
    }

    pub fn parse(text: &str) -> Result<FilterPattern, PatternError> {
        let trimmed = text.trim();
        match trimmed.chars().next() {
            Some('{') => return Err(PatternError::Json),
            Some('[') => return Err(PatternError::SpaceDelimited),
            Some('%') => return Err(PatternError::Regex),
            _ => {}
        }
        let mut pattern = FilterPattern::default();
        let mut chars = trimmed.chars().peekable();
        loop {
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            let Some(&first) = chars.peek() else { break };
            let kind = match first {
                '?' | '-' => {
                    chars.next();
                    Some(first)
                }
                _ => None,
            };
            let term = match chars.peek() {
                None => return Err(PatternError::Dangling(first)),
                Some(c) if c.is_whitespace() => {
                    return Err(PatternError::Dangling(kind.unwrap_or(first)))
                }
                Some('"') => {
                    chars.next();
                    let mut term = String::new();
                    loop {
                        match chars.next() {
                            None => return Err(PatternError::Unclosed),
                            Some('"') => break,
                            Some('\\') => match chars.next() {
                                Some(c) => term.push(c),
                                None => return Err(PatternError::Unclosed),
                            },
                            Some(c) => term.push(c),
                        }
                    }
                    term
                }
                Some(_) => {
                    let mut term = String::new();
                    while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                        if c == '"' {
                            return Err(PatternError::StrayQuote);
                        }
                        term.push(c);
                    }
                    term
                }
            };
            match kind {
                Some('?') => pattern.any.push(term),
                Some(_) => pattern.none.push(term),
                None => pattern.all.push(term),
            }
        }
        Ok(pattern)
    }

    /// Whether an event's message matches.
    pub fn matches(&self, message: &str) -> bool {
        self.all.iter().all(|t| message.contains(t.as_str()))
            && (self.any.is_empty() || self.any.iter().any(|t| message.contains(t.as_str())))
            && !self.none.iter().any(|t| message.contains(t.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, message: &str) -> bool {
        FilterPattern::parse(pattern).unwrap().matches(message)
    }

    #[test]
    fn terms_must_all_appear_case_sensitive() {
        assert!(m("ERROR", "[ERROR] 400 bad request"));
        assert!(!m("ERROR", "[error] 400 bad request"));
        assert!(m("ERROR 400", "[ERROR] 400 bad request"));
        assert!(!m("ERROR 500", "[ERROR] 400 bad request"));
        assert!(m("flow-started", "mediaconnect flow-started ok"));
    }

    #[test]
    fn quoted_phrases_keep_their_spaces() {
        assert!(m("\"source switched\"", "flow x: source switched to b"));
        assert!(!m("\"source switched\"", "switched source"));
        assert!(m("\"a \\\"quoted\\\" word\"", "say a \"quoted\" word"));
        assert!(m("-\"not this\" this", "this one"));
        assert!(!m("-\"not this\" this", "not this one"));
    }

    #[test]
    fn optional_terms_need_one_and_exclusions_none() {
        assert!(m("?ERROR ?WARN", "WARN disk"));
        assert!(m("?ERROR ?WARN", "ERROR disk"));
        assert!(!m("?ERROR ?WARN", "INFO disk"));
        assert!(m("ERROR -ARGUMENTS", "ERROR in main"));
        assert!(!m("ERROR -ARGUMENTS", "ERROR ARGUMENTS missing"));
        // Mixed: every plain term, one optional term, no excluded term.
        assert!(m("flow ?started ?stopped -test", "flow started"));
        assert!(!m("flow ?started ?stopped -test", "flow restarting"));
        assert!(!m("flow ?started ?stopped -test", "flow started test"));
    }

    #[test]
    fn empty_patterns_match_everything() {
        for p in ["", "   ", "\"\""] {
            assert!(m(p, "anything"), "{p:?}");
            assert!(m(p, ""), "{p:?}");
        }
        assert!(!m("-\"\"", "anything"));
    }

    #[test]
    fn structured_and_broken_patterns_are_refused() {
        assert_eq!(
            FilterPattern::parse("{ $.level = \"error\" }"),
            Err(PatternError::Json)
        );
        assert_eq!(
            FilterPattern::parse(" [ip, user, ...]"),
            Err(PatternError::SpaceDelimited)
        );
        assert_eq!(FilterPattern::parse("%ERR.*%"), Err(PatternError::Regex));
        assert_eq!(FilterPattern::parse("\"open"), Err(PatternError::Unclosed));
        assert_eq!(
            FilterPattern::parse("a ?"),
            Err(PatternError::Dangling('?'))
        );
        assert_eq!(
            FilterPattern::parse("- a"),
            Err(PatternError::Dangling('-'))
        );
        assert_eq!(
            FilterPattern::parse("ab\"c\""),
            Err(PatternError::StrayQuote)
        );
    }

    #[test]
    fn never_panics_on_any_text() {
        for text in ["\\", "\"\\", "?\"", "-\"a", "??a", "--a", "?-a", "é ?ü -ß"] {
            let _ = FilterPattern::parse(text).map(|p| p.matches("é ü"));
        }
        // "??a" is an optional term "?a".
        assert!(m("??a", "x?a"));
    }
}
