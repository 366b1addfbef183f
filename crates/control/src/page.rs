//! Paging of the List operations by position in creation order.
//!
//! `nextToken` is the decimal index of the first item of the next page;
//! `maxResults` is 1 to [`MAX_RESULTS`]. Both come from the client, so a page
//! is cut with saturating arithmetic: a token at `u64::MAX` reads as past the
//! end (an empty last page), never as an overflow.

use serde_json::{Map, Value};

use crate::error::{ControlError, Result};

/// The largest page, and the size of a page when `maxResults` is not given.
pub const MAX_RESULTS: usize = 1000;

/// Where a page starts and how long it is at most.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub start: usize,
    pub max: usize,
}

impl Page {
    /// Reads the `maxResults` and `nextToken` query values.
    pub fn parse(max_results: Option<&str>, next_token: Option<&str>) -> Result<Page> {
        let max = match max_results {
            None => MAX_RESULTS,
            Some(m) => match m.parse::<usize>() {
                Ok(n) if (1..=MAX_RESULTS).contains(&n) => n,
                _ => {
                    return Err(ControlError::bad(format!(
                        "maxResults: '{m}' must be a whole number from 1 to {MAX_RESULTS}"
                    )))
                }
            },
        };
        let start = match next_token {
            None | Some("") => 0,
            Some(t) => t.parse::<usize>().map_err(|_| {
                ControlError::bad(format!("nextToken: '{t}' is not a token this server gave"))
            })?,
        };
        Ok(Page { start, max })
    }

    /// The items of `all` on this page, and the token of the next page
    /// (`None` on the last one). A start past the end is an empty last page.
    pub fn of<T>(self, all: &[T]) -> (&[T], Option<String>) {
        let start = self.start.min(all.len());
        let end = start.saturating_add(self.max).min(all.len());
        let next = (end < all.len()).then(|| end.to_string());
        (all.get(start..end).unwrap_or(&[]), next)
    }
}

/// A List answer: `items` under `key`, and `nextToken` unless this is the
/// last page.
pub fn listing(key: &str, items: Vec<Value>, next: Option<String>) -> Value {
    let mut out = Map::new();
    out.insert(key.to_string(), Value::Array(items));
    if let Some(next) = next {
        out.insert("nextToken".into(), Value::String(next));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pages_by_position() {
        let all = [1, 2, 3];
        let (p, n) = Page::parse(Some("2"), None).unwrap().of(&all);
        assert_eq!((p, n.as_deref()), (&[1, 2][..], Some("2")));
        let (p, n) = Page::parse(Some("2"), Some("2")).unwrap().of(&all);
        assert_eq!((p, n), (&[3][..], None));
        let (p, n) = Page::parse(None, None).unwrap().of(&all);
        assert_eq!((p, n), (&all[..], None));
    }

    #[test]
    fn tokens_at_the_extremes_are_an_empty_page_or_a_400() {
        let all = [1, 2, 3];
        for token in [
            usize::MAX.to_string(),
            u64::MAX.to_string(),
            (usize::MAX - 1).to_string(),
            "3".into(),
        ] {
            let (p, n) = Page::parse(Some("1000"), Some(&token)).unwrap().of(&all);
            assert_eq!((p, n), (&[][..], None), "{token}");
        }
        for token in ["18446744073709551616", "-1", "1e3", "x", " 1"] {
            let err = Page::parse(None, Some(token)).unwrap_err().to_string();
            assert!(err.starts_with("nextToken: "), "{token}: {err}");
        }
        for max in ["0", "1001", "18446744073709551616", "-1", ""] {
            let err = Page::parse(Some(max), None).unwrap_err().to_string();
            assert!(err.starts_with("maxResults: "), "{max}: {err}");
        }
    }

    proptest! {
        #[test]
        fn any_token_and_size_cut_a_page_inside_the_list(
            start in any::<usize>(), max in 1..=MAX_RESULTS, len in 0usize..3000
        ) {
            let all: Vec<usize> = (0..len).collect();
            let page = Page::parse(Some(&max.to_string()), Some(&start.to_string())).unwrap();
            let (items, next) = page.of(&all);
            prop_assert!(items.len() <= max);
            if let Some(n) = next {
                let n: usize = n.parse().unwrap();
                prop_assert!(n > start.min(len) && n < len);
            }
        }

        #[test]
        fn any_text_is_a_page_or_a_400_naming_the_member(max in ".{0,24}", token in ".{0,24}") {
            match Page::parse(Some(&max), Some(&token)) {
                Ok(p) => prop_assert!((1..=MAX_RESULTS).contains(&p.max)),
                Err(e) => {
                    let e = e.to_string();
                    prop_assert!(e.starts_with("maxResults: ") || e.starts_with("nextToken: "));
                }
            }
        }
    }
}
