//! H.264 Annex B byte streams (ITU-T H.264 Annex B, §7.3.1, §7.3.2.1.1).
//!
//! [`nal_units`] splits a byte stream at its 3- or 4-byte start codes; [`NalType`] names
//! the unit types a packager cares about; [`codec_string`] builds the RFC 6381 `avc1.`
//! codec string from a sequence parameter set.

/// nal_unit_type of a coded slice of an IDR picture.
pub const NAL_IDR: u8 = 5;
/// nal_unit_type of a sequence parameter set.
pub const NAL_SPS: u8 = 7;
/// nal_unit_type of a picture parameter set.
pub const NAL_PPS: u8 = 8;
/// nal_unit_type of an access unit delimiter.
pub const NAL_AUD: u8 = 9;

/// The nal_unit_type (5 bits) of a NAL unit given without its start code.
pub fn nal_type(nal: &[u8]) -> Option<u8> {
    nal.first().map(|b| b & 0x1F)
}

/// Iterator over the NAL units of an Annex B byte stream; see [`nal_units`].
#[derive(Clone, Debug)]
pub struct NalUnits<'a> {
    rest: &'a [u8],
}

/// Position just after the next `00 00 01` start code in `data`, and where that start
/// code begins.
fn next_start(data: &[u8]) -> Option<(usize, usize)> {
    data.windows(3)
        .position(|w| w == [0, 0, 1])
        .map(|at| (at, at + 3))
}

/// Splits `data` into NAL units (without start codes). Bytes before the first start
/// code are skipped; trailing zero bytes before a start code (4-byte start codes,
/// trailing_zero_8bits) are not part of a unit; empty units are skipped.
pub fn nal_units(data: &[u8]) -> NalUnits<'_> {
    let rest = match next_start(data) {
        Some((_, after)) => data.get(after..).unwrap_or(&[]),
        None => &[],
    };
    NalUnits { rest }
}

impl<'a> Iterator for NalUnits<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        while !self.rest.is_empty() {
            let (unit, rest) = match next_start(self.rest) {
                Some((at, after)) => (
                    self.rest.get(..at).unwrap_or(&[]),
                    self.rest.get(after..).unwrap_or(&[]),
                ),
                None => (self.rest, &[][..]),
            };
            self.rest = rest;
            let end = unit.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            let unit = unit.get(..end).unwrap_or(&[]);
            if !unit.is_empty() {
                return Some(unit);
            }
        }
        None
    }
}

/// The nal_unit_types in an Annex B byte stream, in order.
pub fn nal_types(data: &[u8]) -> Vec<u8> {
    nal_units(data).filter_map(nal_type).collect()
}

/// Whether the byte stream holds a slice of an IDR picture (nal_unit_type 5).
pub fn is_idr(data: &[u8]) -> bool {
    nal_units(data).any(|n| nal_type(n) == Some(NAL_IDR))
}

/// The first sequence parameter set (nal_unit_type 7) in the byte stream, header included.
pub fn find_sps(data: &[u8]) -> Option<&[u8]> {
    nal_units(data).find(|n| nal_type(n) == Some(NAL_SPS))
}

/// RFC 6381 §3.3 codec string for an SPS NAL unit (header byte included):
/// `avc1.` then profile_idc, the constraint_set flags byte and level_idc in hex, e.g.
/// `avc1.64001F` for High profile level 3.1.
pub fn codec_string(sps: &[u8]) -> Option<String> {
    let &[header, profile, constraints, level] = sps.first_chunk::<4>()?;
    if header & 0x1F != NAL_SPS {
        return None;
    }
    Some(format!("avc1.{profile:02X}{constraints:02X}{level:02X}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SPS: [u8; 4] = [0x67, 0x64, 0x00, 0x1F];

    #[test]
    fn scans_three_and_four_byte_start_codes() {
        let mut data = vec![0xAA, 0, 0, 0, 1, 0x09, 0xF0];
        data.extend_from_slice(&[0, 0, 0, 1]);
        data.extend_from_slice(&SPS);
        data.extend_from_slice(&[0, 0, 1, 0x68, 0xEE, 0x3C, 0x80]);
        data.extend_from_slice(&[0, 0, 1, 0x65, 0x88, 0x84, 0x00, 0x00]);
        let units: Vec<&[u8]> = nal_units(&data).collect();
        assert_eq!(units.len(), 4);
        assert_eq!(units[0], &[0x09, 0xF0]);
        assert_eq!(units[1], &SPS);
        assert_eq!(units[3], &[0x65, 0x88, 0x84]);
        assert_eq!(nal_types(&data), vec![NAL_AUD, NAL_SPS, NAL_PPS, NAL_IDR]);
        assert!(is_idr(&data));
        assert_eq!(find_sps(&data), Some(&SPS[..]));
    }

    #[test]
    fn non_idr_and_empty() {
        assert!(!is_idr(&[0, 0, 1, 0x41, 0x9A, 0, 0, 1, 0x01, 0x02]));
        assert!(nal_types(&[]).is_empty());
        assert!(nal_types(&[0, 0, 1]).is_empty());
        assert!(nal_types(&[0x65, 0x88]).is_empty()); // no start code
        assert_eq!(find_sps(&[0, 0, 1, 0x65]), None);
    }

    #[test]
    fn codec_strings() {
        assert_eq!(codec_string(&SPS).as_deref(), Some("avc1.64001F"));
        assert_eq!(
            codec_string(&[0x27, 0x4D, 0x40, 0x28, 0xAA]).as_deref(),
            Some("avc1.4D4028")
        );
        assert_eq!(codec_string(&[0x67, 0x42]), None);
        assert_eq!(codec_string(&[0x68, 0x42, 0xC0, 0x1E]), None);
    }

    proptest! {
        #[test]
        fn scanner_never_panics(data in prop::collection::vec(any::<u8>(), 0..256)) {
            for unit in nal_units(&data) {
                prop_assert!(!unit.is_empty());
            }
            let _ = is_idr(&data);
            let _ = find_sps(&data).and_then(codec_string);
        }
    }
}
