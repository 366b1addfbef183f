//! Descriptors of PSI descriptor loops (ISO/IEC 13818-1 §2.6).
//!
//! A loop is a run of `tag (8) | length (8) | length bytes`. [`descriptors`] walks one
//! without copying and stops (after one [`PsiError::Malformed`]) at a descriptor whose
//! length runs past the loop, so hostile bytes cannot make it panic or loop forever.
//! [`languages`] reads the ISO 639 language descriptors (tag 0x0A, §2.6.18) that tell the
//! language of an audio stream in the PMT's ES_info loop.

use super::PsiError;

/// Tag of the ISO_639_language_descriptor (§2.6.18).
pub const TAG_ISO_639_LANGUAGE: u8 = 0x0A;

/// One descriptor: its tag and its payload (without tag and length bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Descriptor<'a> {
    /// descriptor_tag.
    pub tag: u8,
    /// The `descriptor_length` bytes after the header.
    pub data: &'a [u8],
}

/// Iterator over a descriptor loop; see [`descriptors`].
#[derive(Clone, Debug)]
pub struct Descriptors<'a> {
    rest: &'a [u8],
}

/// The descriptors of one loop (program_info or ES_info bytes).
pub fn descriptors(data: &[u8]) -> Descriptors<'_> {
    Descriptors { rest: data }
}

impl<'a> Iterator for Descriptors<'a> {
    type Item = Result<Descriptor<'a>, PsiError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let Some(([tag, len], after)) = self.rest.split_first_chunk::<2>() else {
            self.rest = &[];
            return Some(Err(PsiError::Malformed("descriptor header truncated")));
        };
        let Some((data, after)) = after.split_at_checked(usize::from(*len)) else {
            self.rest = &[];
            return Some(Err(PsiError::Malformed("descriptor runs past its loop")));
        };
        self.rest = after;
        Some(Ok(Descriptor { tag: *tag, data }))
    }
}

/// One entry of an ISO_639_language_descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Language {
    /// ISO_639_language_code: three ISO 8859-1 characters ("eng", "spa").
    pub code: [u8; 3],
    /// audio_type (Table 2-60): 0 undefined, 1 clean effects, 2 hearing impaired,
    /// 3 visual impaired commentary.
    pub audio_type: u8,
}

impl Language {
    /// True when the code is `code`, ignoring ASCII case.
    pub fn is(&self, code: &[u8; 3]) -> bool {
        self.code.eq_ignore_ascii_case(code)
    }
}

/// Every language of the ISO 639 language descriptors in a loop, in order. Well-formed
/// descriptors before a malformed one still count; a trailing partial entry is ignored.
pub fn languages(data: &[u8]) -> Vec<Language> {
    descriptors(data)
        .map_while(Result::ok)
        .filter(|d| d.tag == TAG_ISO_639_LANGUAGE)
        .flat_map(|d| d.data.chunks_exact(4))
        .filter_map(|entry| {
            let ([a, b, c], [audio_type]) = entry.split_first_chunk::<3>()? else {
                return None;
            };
            Some(Language {
                code: [*a, *b, *c],
                audio_type: *audio_type,
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_languages_among_other_descriptors() {
        let es_info = [
            0x52, 0x01, 0x10, // stream_identifier_descriptor
            0x0A, 0x08, b'e', b'n', b'g', 0, b'S', b'P', b'A', 3, // two languages
            0x0A, 0x04, b'd', b'e', b'u', 2,
        ];
        let tags: Vec<u8> = descriptors(&es_info).map(|d| d.unwrap().tag).collect();
        assert_eq!(tags, [0x52, 0x0A, 0x0A]);
        let langs = languages(&es_info);
        assert_eq!(langs.len(), 3);
        assert_eq!(langs[0].code, *b"eng");
        assert!(langs[1].is(b"spa") && langs[1].audio_type == 3);
        assert_eq!(langs[2].code, *b"deu");
    }

    #[test]
    fn stops_at_a_descriptor_that_runs_past_the_loop() {
        let es_info = [0x0A, 0x04, b'e', b'n', b'g', 0, 0x0A, 0x09, b'f', b'r'];
        let all: Vec<_> = descriptors(&es_info).collect();
        assert_eq!(all.len(), 2);
        assert!(matches!(all[1], Err(PsiError::Malformed(_))));
        assert_eq!(languages(&es_info).len(), 1);
        assert!(descriptors(&[0x0A]).next().unwrap().is_err());
        assert!(languages(&[0x0A, 0x03, b'e', b'n', b'g']).is_empty());
    }

    proptest! {
        #[test]
        fn never_panics_and_always_ends(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let n = descriptors(&bytes).count();
            prop_assert!(n <= bytes.len());
            let _ = languages(&bytes);
        }
    }
}
