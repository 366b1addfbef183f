//! Program-specific information (ISO/IEC 13818-1 §2.4.4).
//!
//! Tables travel as sections inside TS payloads. [`SectionAssembler`] rebuilds sections
//! from the packets of one PID, [`Section::parse`] checks the framing and CRC-32, and
//! [`Pat`] / [`Pmt`] read and write the two tables a receiver needs to find programs;
//! [`descriptor`] reads the descriptor loops they carry (the ISO 639 language of a stream)
//! and [`stream_type`] names the PMT stream types. [`crate::demux`] is the one reader of
//! PAT and PMT tables in a stream.

mod assembler;
pub mod descriptor;
mod pat;
mod pmt;
mod section;
pub mod stream_type;

pub use assembler::SectionAssembler;
pub use pat::Pat;
pub use pmt::{Pmt, PmtStream};
pub use section::Section;

/// Table id of the program association table.
pub const TABLE_ID_PAT: u8 = 0x00;
/// Table id of the program map table.
pub const TABLE_ID_PMT: u8 = 0x02;
/// Largest section_length of a PAT or PMT section (§2.4.4.3, §2.4.4.8).
pub const MAX_PSI_SECTION_LENGTH: usize = 1021;

/// Why a section or table could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PsiError {
    /// Not enough bytes yet for the whole section.
    #[error("section needs {need} bytes, have {have}")]
    Short { need: usize, have: usize },
    /// section_syntax_indicator is 0: not a long-form section.
    #[error("not a long-form section")]
    NotLongForm,
    /// section_length is too small to hold the long-form header and CRC.
    #[error("section length {0} invalid")]
    SectionLength(u16),
    /// CRC_32 does not match the section bytes.
    #[error("crc mismatch: section says {stated:#010x}, computed {computed:#010x}")]
    Crc { stated: u32, computed: u32 },
    /// The section belongs to another table.
    #[error("table id {found:#04x}, expected {expected:#04x}")]
    TableId { expected: u8, found: u8 },
    /// The table body does not follow its syntax.
    #[error("malformed table: {0}")]
    Malformed(&'static str),
}

/// CRC-32/MPEG-2 as used by PSI sections (Annex A): polynomial 0x04C11DB7, initial value
/// 0xFFFFFFFF, no reflection, no final xor. Over a whole section including its CRC it is 0.
pub fn crc32_mpeg2(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Writes a long-form section: header, `body`, CRC. `body` must fit in `MAX_PSI_SECTION_LENGTH - 9`.
fn write_section(table_id: u8, table_id_extension: u16, version: u8, body: &[u8]) -> Vec<u8> {
    // 5 bytes of long-form header after section_length, 4 bytes of CRC.
    let section_length = (body.len() + 9).min(MAX_PSI_SECTION_LENGTH) as u16;
    let mut out = Vec::with_capacity(body.len() + 12);
    out.push(table_id);
    out.extend_from_slice(&(0xB000 | section_length).to_be_bytes());
    out.extend_from_slice(&table_id_extension.to_be_bytes());
    // reserved '11', version (5 bits), current_next_indicator = 1.
    out.push(0xC0 | (version & 0x1F) << 1 | 0x01);
    out.push(0); // section_number
    out.push(0); // last_section_number
    out.extend_from_slice(body);
    let crc = crc32_mpeg2(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_of_ffmpeg_default_pat() {
        let pat = [
            0x00, 0xB0, 0x0D, 0x00, 0x01, 0xC1, 0x00, 0x00, 0x00, 0x01, 0xF0, 0x00,
        ];
        assert_eq!(crc32_mpeg2(&pat), 0x2AB1_04B2);
        let mut whole = pat.to_vec();
        whole.extend_from_slice(&[0x2A, 0xB1, 0x04, 0xB2]);
        assert_eq!(crc32_mpeg2(&whole), 0);
    }

    #[test]
    fn crc_check_value() {
        // CRC-32/MPEG-2 catalogue check value.
        assert_eq!(crc32_mpeg2(b"123456789"), 0x0376_E6E7);
    }
}
