//! GetRandomPassword: a password drawn with a cryptographically secure
//! generator from the character types the request leaves in.
//!
//! The types are AWS's: lower-case letters, upper-case letters, digits and
//! the 32 punctuation characters ``!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~``, plus
//! the space when `IncludeSpace` is true. `ExcludeCharacters` removes single
//! characters from every type; a type left empty by it counts as excluded.
//! With `RequireEachIncludedType` (the default) the password holds at least
//! one character of each type left in — the space is never required, as
//! AWS documents "at least one upper and lowercase letter, one number, and
//! one punctuation" — and the positions of those are shuffled, so none sits
//! at a fixed place. Every character is picked uniformly
//! ([`SliceRandom::choose`] draws without modulo bias).
//!
//! ```
//! use control::secrets::password::PasswordRules;
//! let rules = PasswordRules {
//!     length: 6,
//!     exclude_punctuation: true,
//!     exclude_uppercase: true,
//!     ..PasswordRules::default()
//! };
//! let p = rules.generate(&mut rand::thread_rng()).unwrap();
//! assert_eq!(p.len(), 6);
//! assert!(p.chars().any(|c| c.is_ascii_digit()) && p.chars().any(|c| c.is_ascii_lowercase()));
//! ```

use rand::seq::SliceRandom;
use rand::{CryptoRng, Rng};

use super::{SecretsError, SecretsResult};

pub const LOWERCASE: &str = "abcdefghijklmnopqrstuvwxyz";
pub const UPPERCASE: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
pub const DIGITS: &str = "0123456789";
pub const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// The longest password, and the longest `ExcludeCharacters`.
pub const MAX_LENGTH: i64 = 4096;

/// A password's length when `PasswordLength` is not given.
pub const DEFAULT_LENGTH: i64 = 32;

/// The members of a GetRandomPassword request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordRules {
    pub length: i64,
    pub exclude_characters: String,
    pub exclude_numbers: bool,
    pub exclude_punctuation: bool,
    pub exclude_uppercase: bool,
    pub exclude_lowercase: bool,
    pub include_space: bool,
    pub require_each_included_type: bool,
}

impl Default for PasswordRules {
    /// AWS's defaults: 32 characters of every type but the space, one of
    /// each required.
    fn default() -> Self {
        PasswordRules {
            length: DEFAULT_LENGTH,
            exclude_characters: String::new(),
            exclude_numbers: false,
            exclude_punctuation: false,
            exclude_uppercase: false,
            exclude_lowercase: false,
            include_space: false,
            require_each_included_type: true,
        }
    }
}

fn invalid(message: impl Into<String>) -> SecretsError {
    SecretsError::InvalidParameter(message.into())
}

impl PasswordRules {
    /// The character types the rules leave in (lower, upper, digits,
    /// punctuation, in that order), each without the excluded characters;
    /// empty types are left out.
    pub fn types(&self) -> Vec<Vec<char>> {
        [
            (LOWERCASE, self.exclude_lowercase),
            (UPPERCASE, self.exclude_uppercase),
            (DIGITS, self.exclude_numbers),
            (PUNCTUATION, self.exclude_punctuation),
        ]
        .into_iter()
        .filter(|(_, excluded)| !excluded)
        .map(|(chars, _)| self.keep(chars))
        .filter(|t| !t.is_empty())
        .collect()
    }

    fn keep(&self, chars: &str) -> Vec<char> {
        chars
            .chars()
            .filter(|c| !self.exclude_characters.contains(*c))
            .collect()
    }

    /// Every character a password may hold.
    pub fn alphabet(&self) -> Vec<char> {
        let mut all: Vec<char> = self.types().concat();
        if self.include_space {
            all.extend(self.keep(" "));
        }
        all
    }

    /// Checks the rules, then draws a password with the thread's generator
    /// (`rand::thread_rng`: ChaCha12 seeded from the operating system and
    /// reseeded as it goes, a CSPRNG).
    pub fn draw(&self) -> SecretsResult<String> {
        self.generate(&mut rand::thread_rng())
    }

    /// Checks the rules, then draws a password with `rng`.
    pub fn generate<R: Rng + CryptoRng>(&self, rng: &mut R) -> SecretsResult<String> {
        if !(1..=MAX_LENGTH).contains(&self.length) {
            return Err(invalid(format!(
                "PasswordLength: {} is not between 1 and {MAX_LENGTH}",
                self.length
            )));
        }
        let excluded = self.exclude_characters.chars().count();
        if i64::try_from(excluded).map_or(true, |n| n > MAX_LENGTH) {
            return Err(invalid(format!(
                "ExcludeCharacters: {excluded} characters; at most {MAX_LENGTH}"
            )));
        }
        let length = usize::try_from(self.length).map_err(|_| invalid("PasswordLength"))?;
        let types = self.types();
        let alphabet = self.alphabet();
        if alphabet.is_empty() {
            return Err(invalid(
                "ExcludeLowercase, ExcludeUppercase, ExcludeNumbers, ExcludePunctuation, \
                 ExcludeCharacters: every character is excluded; nothing is left to make a \
                 password of",
            ));
        }
        let mut password: Vec<char> = Vec::with_capacity(length);
        if self.require_each_included_type {
            if length < types.len() {
                return Err(invalid(format!(
                    "PasswordLength: {length} is too short to hold one character of each of \
                     the {} character types included (RequireEachIncludedType)",
                    types.len()
                )));
            }
            password.extend(types.iter().filter_map(|t| t.choose(rng)));
        }
        while password.len() < length {
            match alphabet.choose(rng) {
                Some(&c) => password.push(c),
                None => break,
            }
        }
        password.shuffle(rng);
        Ok(password.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;

    fn fails(rules: PasswordRules) -> String {
        match rules.generate(&mut rand::thread_rng()) {
            Err(SecretsError::InvalidParameter(m)) => m,
            other => panic!("expected InvalidParameterException, got {other:?}"),
        }
    }

    #[test]
    fn the_recipe_s_suffix() {
        // --exclude-punctuation --exclude-uppercase --password-length 6
        // --require-each-included-type
        let rules = PasswordRules {
            length: 6,
            exclude_punctuation: true,
            exclude_uppercase: true,
            ..PasswordRules::default()
        };
        for _ in 0..200 {
            let p = rules.generate(&mut rand::thread_rng()).unwrap();
            assert_eq!(p.len(), 6);
            assert!(p
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
            assert!(p.chars().any(|c| c.is_ascii_digit()), "{p}");
            assert!(p.chars().any(|c| c.is_ascii_lowercase()), "{p}");
        }
    }

    #[test]
    fn defaults_are_aws_s() {
        let p = PasswordRules::default()
            .generate(&mut rand::thread_rng())
            .unwrap();
        assert_eq!(p.chars().count(), 32);
        for set in [LOWERCASE, UPPERCASE, DIGITS, PUNCTUATION] {
            assert!(p.chars().any(|c| set.contains(c)), "{p} lacks one of {set}");
        }
        assert!(!p.contains(' '));
        assert_eq!(PUNCTUATION.len(), 32);
    }

    #[test]
    fn impossible_rules_are_refused_by_name() {
        let all_out = PasswordRules {
            exclude_lowercase: true,
            exclude_uppercase: true,
            exclude_numbers: true,
            exclude_punctuation: true,
            ..PasswordRules::default()
        };
        assert!(fails(all_out.clone()).contains("every character is excluded"));
        // The space alone is a password.
        let spaces = PasswordRules {
            include_space: true,
            length: 3,
            ..all_out.clone()
        };
        assert_eq!(spaces.generate(&mut rand::thread_rng()).unwrap(), "   ");
        let excluded_by_hand = PasswordRules {
            exclude_characters: format!("{LOWERCASE}{UPPERCASE}{DIGITS}{PUNCTUATION}"),
            ..PasswordRules::default()
        };
        assert!(fails(excluded_by_hand).contains("every character is excluded"));
        for length in [0, -1, 4097] {
            let m = fails(PasswordRules {
                length,
                ..PasswordRules::default()
            });
            assert!(m.starts_with("PasswordLength: "), "{m}");
        }
        let short = PasswordRules {
            length: 3,
            ..PasswordRules::default()
        };
        assert!(fails(short.clone()).contains("RequireEachIncludedType"));
        let relaxed = PasswordRules {
            require_each_included_type: false,
            ..short
        };
        assert_eq!(relaxed.generate(&mut rand::thread_rng()).unwrap().len(), 3);
        let m = fails(PasswordRules {
            exclude_characters: "x".repeat(4097),
            ..PasswordRules::default()
        });
        assert!(m.starts_with("ExcludeCharacters: "), "{m}");
    }

    #[test]
    fn a_type_emptied_by_exclude_characters_is_not_required() {
        let rules = PasswordRules {
            length: 4,
            exclude_characters: DIGITS.into(),
            exclude_punctuation: true,
            ..PasswordRules::default()
        };
        let p = rules.generate(&mut rand::thread_rng()).unwrap();
        assert!(p.chars().all(|c| c.is_ascii_alphabetic()), "{p}");
    }

    #[test]
    fn every_position_gets_every_type() {
        // The required characters are shuffled: with lower and digits
        // required in a 2-character password, a digit shows up first and last.
        let rules = PasswordRules {
            length: 2,
            exclude_punctuation: true,
            exclude_uppercase: true,
            ..PasswordRules::default()
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let firsts: std::collections::HashSet<bool> = (0..100)
            .map(|_| {
                let p = rules.generate(&mut rng).unwrap();
                p.starts_with(|c: char| c.is_ascii_digit())
            })
            .collect();
        assert_eq!(firsts.len(), 2);
    }

    fn rules() -> impl Strategy<Value = PasswordRules> {
        (
            1i64..80,
            "[a-zA-Z0-9!-/ ]{0,12}",
            proptest::array::uniform6(any::<bool>()),
            any::<bool>(),
        )
            .prop_map(|(length, exclude, flags, require)| PasswordRules {
                length,
                exclude_characters: exclude,
                exclude_numbers: flags[0],
                exclude_punctuation: flags[1],
                exclude_uppercase: flags[2],
                exclude_lowercase: flags[3],
                include_space: flags[4] || flags[5],
                require_each_included_type: require,
            })
    }

    proptest! {
        #[test]
        fn a_password_always_satisfies_its_rules(rules in rules(), seed in any::<u64>()) {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            match rules.generate(&mut rng) {
                Ok(p) => {
                    let chars: Vec<char> = p.chars().collect();
                    prop_assert_eq!(i64::try_from(chars.len()).unwrap(), rules.length);
                    for c in &chars {
                        prop_assert!(!rules.exclude_characters.contains(*c), "{:?} holds excluded {:?}", p, c);
                        prop_assert!(rules.alphabet().contains(c));
                        prop_assert!(!(rules.exclude_numbers && c.is_ascii_digit()));
                        prop_assert!(!(rules.exclude_lowercase && c.is_ascii_lowercase()));
                        prop_assert!(!(rules.exclude_uppercase && c.is_ascii_uppercase()));
                        prop_assert!(!(rules.exclude_punctuation && PUNCTUATION.contains(*c)));
                        prop_assert!(rules.include_space || *c != ' ');
                    }
                    if rules.require_each_included_type {
                        for t in rules.types() {
                            prop_assert!(chars.iter().any(|c| t.contains(c)), "{:?} lacks one of {:?}", p, t);
                        }
                    }
                }
                Err(SecretsError::InvalidParameter(_)) => {
                    let types = rules.types().len();
                    prop_assert!(
                        rules.alphabet().is_empty()
                            || (rules.require_each_included_type
                                && rules.length < i64::try_from(types).unwrap())
                    );
                }
                Err(other) => prop_assert!(false, "{:?}", other),
            }
        }
    }
}
