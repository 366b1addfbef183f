use super::{write_section, PsiError, Section, MAX_PSI_SECTION_LENGTH, TABLE_ID_PMT};
use crate::ts::Pid;

/// One elementary stream of a program.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PmtStream {
    /// Coding of the stream: one of [`super::stream_type`] (H.264, HEVC, AAC, private data, ...).
    pub stream_type: u8,
    /// PID carrying the stream.
    pub pid: Pid,
    /// Raw ES_info descriptors.
    pub es_info: Vec<u8>,
}

impl PmtStream {
    /// The ISO 639 languages of this stream's ES_info descriptors (§2.6.18), in order.
    pub fn languages(&self) -> Vec<super::descriptor::Language> {
        super::descriptor::languages(&self.es_info)
    }
}

/// Program map table (§2.4.4.8): the streams that make up one program.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pmt {
    /// Program this map describes (matches the PAT entry).
    pub program_number: u16,
    /// version_number (5 bits).
    pub version: u8,
    /// PID carrying the program clock reference.
    pub pcr_pid: Pid,
    /// Raw program_info descriptors.
    pub program_info: Vec<u8>,
    /// Elementary streams in table order.
    pub streams: Vec<PmtStream>,
}

/// Largest descriptor loop a 10-bit length field can describe.
const MAX_INFO_LENGTH: usize = 0x3FF;

fn split_info(data: &[u8]) -> Result<(&[u8], &[u8]), PsiError> {
    let Some(([hi, lo], rest)) = data.split_first_chunk::<2>() else {
        return Err(PsiError::Malformed("descriptor length missing"));
    };
    let len = usize::from(u16::from_be_bytes([hi & 0x0F, *lo]));
    rest.split_at_checked(len)
        .ok_or(PsiError::Malformed("descriptor loop runs past the section"))
}

impl Pmt {
    /// Reads a PMT from one section.
    pub fn parse(section: &Section) -> Result<Pmt, PsiError> {
        if section.table_id != TABLE_ID_PMT {
            return Err(PsiError::TableId {
                expected: TABLE_ID_PMT,
                found: section.table_id,
            });
        }
        let Some(([pcr_hi, pcr_lo], rest)) = section.body.split_first_chunk::<2>() else {
            return Err(PsiError::Malformed("pcr pid missing"));
        };
        let (program_info, mut rest) = split_info(rest)?;
        let mut streams = Vec::new();
        while !rest.is_empty() {
            let Some(([stream_type, pid_hi, pid_lo], after)) = rest.split_first_chunk::<3>() else {
                return Err(PsiError::Malformed("truncated stream entry"));
            };
            let (es_info, after) = split_info(after)?;
            streams.push(PmtStream {
                stream_type: *stream_type,
                pid: Pid(u16::from_be_bytes([pid_hi & 0x1F, *pid_lo])),
                es_info: es_info.to_vec(),
            });
            rest = after;
        }
        Ok(Pmt {
            program_number: section.table_id_extension,
            version: section.version,
            pcr_pid: Pid(u16::from_be_bytes([pcr_hi & 0x1F, *pcr_lo])),
            program_info: program_info.to_vec(),
            streams,
        })
    }

    /// Writes the PMT as one section, CRC included. Descriptor loops are cut to 1023 bytes
    /// and streams that no longer fit the 1021-byte section are left out.
    pub fn to_section_bytes(&self) -> Vec<u8> {
        // Room for the body: section_length minus long-form header and CRC.
        let room = MAX_PSI_SECTION_LENGTH - 9;
        let info = self
            .program_info
            .get(..MAX_INFO_LENGTH)
            .unwrap_or(&self.program_info);
        let info = info.get(..room.saturating_sub(4)).unwrap_or(info);
        let mut body = Vec::new();
        body.extend_from_slice(&(0xE000 | (self.pcr_pid.0 & 0x1FFF)).to_be_bytes());
        body.extend_from_slice(&(0xF000 | info.len() as u16).to_be_bytes());
        body.extend_from_slice(info);
        for stream in &self.streams {
            let es_info = stream
                .es_info
                .get(..MAX_INFO_LENGTH)
                .unwrap_or(&stream.es_info);
            if body.len() + 5 + es_info.len() > room {
                break;
            }
            body.push(stream.stream_type);
            body.extend_from_slice(&(0xE000 | (stream.pid.0 & 0x1FFF)).to_be_bytes());
            body.extend_from_slice(&(0xF000 | es_info.len() as u16).to_be_bytes());
            body.extend_from_slice(es_info);
        }
        write_section(TABLE_ID_PMT, self.program_number, self.version, &body)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_pid() -> impl Strategy<Value = Pid> {
        (0u16..0x2000).prop_map(Pid)
    }

    fn arb_stream() -> impl Strategy<Value = PmtStream> {
        (
            any::<u8>(),
            arb_pid(),
            prop::collection::vec(any::<u8>(), 0..20),
        )
            .prop_map(|(stream_type, pid, es_info)| PmtStream {
                stream_type,
                pid,
                es_info,
            })
    }

    #[test]
    fn reads_typical_pmt() {
        let pmt = Pmt {
            program_number: 1,
            version: 3,
            pcr_pid: Pid(0x100),
            program_info: vec![],
            streams: vec![
                PmtStream {
                    stream_type: crate::psi::stream_type::H264,
                    pid: Pid(0x100),
                    es_info: vec![],
                },
                PmtStream {
                    stream_type: crate::psi::stream_type::AAC_ADTS,
                    pid: Pid(0x101),
                    es_info: vec![0x0A, 0x04, b'e', b'n', b'g', 0],
                },
            ],
        };
        let bytes = pmt.to_section_bytes();
        assert_eq!(&bytes[..3], &[0x02, 0xB0, 0x1D]);
        let section = Section::parse(&bytes).unwrap();
        let parsed = Pmt::parse(&section).unwrap();
        assert_eq!(parsed, pmt);
        assert!(parsed.streams[0].languages().is_empty());
        assert_eq!(parsed.streams[1].languages()[0].code, *b"eng");
    }

    #[test]
    fn rejects_truncated_loops() {
        let mut body_section = Pmt::default().to_section_bytes();
        // Claim 5 bytes of program info that are not there, then fix the CRC.
        body_section[11] = 0x05;
        let len = body_section.len();
        body_section.truncate(len - 4);
        let crc = super::super::crc32_mpeg2(&body_section);
        body_section.extend_from_slice(&crc.to_be_bytes());
        let section = Section::parse(&body_section).unwrap();
        assert!(matches!(Pmt::parse(&section), Err(PsiError::Malformed(_))));
    }

    proptest! {
        #[test]
        fn round_trip(
            program_number in any::<u16>(),
            version in 0u8..32,
            pcr_pid in arb_pid(),
            program_info in prop::collection::vec(any::<u8>(), 0..40),
            streams in prop::collection::vec(arb_stream(), 0..30),
        ) {
            let pmt = Pmt { program_number, version, pcr_pid, program_info, streams };
            let bytes = pmt.to_section_bytes();
            let section = Section::parse(&bytes).unwrap();
            prop_assert_eq!(Pmt::parse(&section).unwrap(), pmt);
        }
    }
}
