use super::{crc32_mpeg2, PsiError};

/// One long-form PSI section (§2.4.4.10 syntax with section_syntax_indicator = 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Section<'a> {
    /// Which table this section belongs to (0x00 PAT, 0x02 PMT, ...).
    pub table_id: u8,
    /// Always true for sections this type reads.
    pub section_syntax_indicator: bool,
    /// Bytes after the section_length field, CRC included.
    pub section_length: u16,
    /// transport_stream_id for a PAT, program_number for a PMT.
    pub table_id_extension: u16,
    /// version_number (5 bits); changes whenever the table content changes.
    pub version: u8,
    /// current_next_indicator: the table applies now (not the next version).
    pub current_next: bool,
    /// section_number.
    pub section_number: u8,
    /// last_section_number.
    pub last_section_number: u8,
    /// Table-specific bytes between the header and the CRC.
    pub body: &'a [u8],
    /// CRC_32 as stated in the section.
    pub crc: u32,
}

impl<'a> Section<'a> {
    /// Reads one section from the start of `data` and checks its CRC; bytes after the
    /// section (more sections, 0xFF stuffing) are ignored.
    pub fn parse(data: &'a [u8]) -> Result<Section<'a>, PsiError> {
        let short = |need: usize| PsiError::Short {
            need,
            have: data.len(),
        };
        let Some(&[table_id, b1, b2]) = data.first_chunk::<3>() else {
            return Err(short(3));
        };
        let section_syntax_indicator = b1 & 0x80 != 0;
        if !section_syntax_indicator {
            return Err(PsiError::NotLongForm);
        }
        let section_length = u16::from(b1 & 0x0F) << 8 | u16::from(b2);
        if section_length < 9 {
            return Err(PsiError::SectionLength(section_length));
        }
        let total = 3 + usize::from(section_length);
        let Some(bytes) = data.get(..total) else {
            return Err(short(total));
        };
        let Some((covered, crc_bytes)) = bytes.split_last_chunk::<4>() else {
            return Err(short(total));
        };
        let crc = u32::from_be_bytes(*crc_bytes);
        let computed = crc32_mpeg2(covered);
        if computed != crc {
            return Err(PsiError::Crc {
                stated: crc,
                computed,
            });
        }
        let Some(([_, _, _, ext_hi, ext_lo, flags, section_number, last_section_number], body)) =
            covered.split_first_chunk::<8>()
        else {
            return Err(PsiError::SectionLength(section_length));
        };
        Ok(Section {
            table_id,
            section_syntax_indicator,
            section_length,
            table_id_extension: u16::from_be_bytes([*ext_hi, *ext_lo]),
            version: (flags >> 1) & 0x1F,
            current_next: flags & 0x01 != 0,
            section_number: *section_number,
            last_section_number: *last_section_number,
            body,
            crc,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const PAT: [u8; 16] = [
        0x00, 0xB0, 0x0D, 0x00, 0x01, 0xC1, 0x00, 0x00, 0x00, 0x01, 0xF0, 0x00, 0x2A, 0xB1, 0x04,
        0xB2,
    ];

    #[test]
    fn parses_header() {
        let mut data = PAT.to_vec();
        data.extend_from_slice(&[0xFF; 10]);
        let s = Section::parse(&data).unwrap();
        assert_eq!(s.table_id, 0);
        assert_eq!(s.section_length, 13);
        assert_eq!(s.table_id_extension, 1);
        assert_eq!(s.version, 0);
        assert!(s.current_next);
        assert_eq!(s.body, &[0x00, 0x01, 0xF0, 0x00]);
        assert_eq!(s.crc, 0x2AB1_04B2);
    }

    #[test]
    fn tells_short_from_invalid() {
        assert_eq!(
            Section::parse(&PAT[..10]),
            Err(PsiError::Short { need: 16, have: 10 })
        );
        assert_eq!(
            Section::parse(&PAT[..1]),
            Err(PsiError::Short { need: 3, have: 1 })
        );
        let mut bad = PAT;
        bad[15] ^= 1;
        assert!(matches!(Section::parse(&bad), Err(PsiError::Crc { .. })));
        assert_eq!(
            Section::parse(&[0x00, 0x30, 0x05]),
            Err(PsiError::NotLongForm)
        );
        assert_eq!(
            Section::parse(&[0x00, 0xB0, 0x05]),
            Err(PsiError::SectionLength(5))
        );
    }
}
