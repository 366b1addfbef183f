use super::{write_section, PsiError, Section, MAX_PSI_SECTION_LENGTH, TABLE_ID_PAT};
use crate::ts::Pid;

/// Program association table (§2.4.4.3): which PID carries each program's PMT.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pat {
    /// Identifies this multiplex among others on the network.
    pub transport_stream_id: u16,
    /// version_number (5 bits).
    pub version: u8,
    /// `(program_number, PMT PID)`; program number 0 points to the network PID instead.
    pub programs: Vec<(u16, Pid)>,
}

/// Most programs one PAT section holds.
const MAX_PROGRAMS: usize = (MAX_PSI_SECTION_LENGTH - 9) / 4;

impl Pat {
    /// Reads a PAT from one section (single-section tables; the usual case).
    pub fn parse(section: &Section) -> Result<Pat, PsiError> {
        if section.table_id != TABLE_ID_PAT {
            return Err(PsiError::TableId {
                expected: TABLE_ID_PAT,
                found: section.table_id,
            });
        }
        let entries = section.body.chunks_exact(4);
        if !entries.remainder().is_empty() {
            return Err(PsiError::Malformed(
                "pat body is not a whole number of entries",
            ));
        }
        let programs = entries
            .filter_map(|entry| entry.first_chunk::<4>())
            .map(|[pn_hi, pn_lo, pid_hi, pid_lo]| {
                (
                    u16::from_be_bytes([*pn_hi, *pn_lo]),
                    Pid(u16::from_be_bytes([pid_hi & 0x1F, *pid_lo])),
                )
            })
            .collect();
        Ok(Pat {
            transport_stream_id: section.table_id_extension,
            version: section.version,
            programs,
        })
    }

    /// Writes the PAT as one section, CRC included. Programs past the 253 that fit one
    /// section are left out; the version and PIDs are masked to their bit widths.
    pub fn to_section_bytes(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(self.programs.len().min(MAX_PROGRAMS) * 4);
        for (program_number, pid) in self.programs.iter().take(MAX_PROGRAMS) {
            body.extend_from_slice(&program_number.to_be_bytes());
            body.extend_from_slice(&(0xE000 | (pid.0 & 0x1FFF)).to_be_bytes());
        }
        write_section(TABLE_ID_PAT, self.transport_stream_id, self.version, &body)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn writes_ffmpeg_default_pat() {
        let pat = Pat {
            transport_stream_id: 1,
            version: 0,
            programs: vec![(1, Pid(0x1000))],
        };
        assert_eq!(
            pat.to_section_bytes(),
            [
                0x00, 0xB0, 0x0D, 0x00, 0x01, 0xC1, 0x00, 0x00, 0x00, 0x01, 0xF0, 0x00, 0x2A, 0xB1,
                0x04, 0xB2
            ]
        );
    }

    #[test]
    fn rejects_other_tables() {
        let bytes = Pat::default().to_section_bytes();
        let mut section = Section::parse(&bytes).unwrap();
        section.table_id = 2;
        assert_eq!(
            Pat::parse(&section),
            Err(PsiError::TableId {
                expected: 0,
                found: 2
            })
        );
    }

    proptest! {
        #[test]
        fn round_trip(
            transport_stream_id in any::<u16>(),
            version in 0u8..32,
            programs in prop::collection::vec((any::<u16>(), (0u16..0x2000).prop_map(Pid)), 0..=MAX_PROGRAMS),
        ) {
            let pat = Pat { transport_stream_id, version, programs };
            let bytes = pat.to_section_bytes();
            let section = Section::parse(&bytes).unwrap();
            prop_assert_eq!(Pat::parse(&section).unwrap(), pat);
        }
    }
}
