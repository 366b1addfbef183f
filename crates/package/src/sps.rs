//! H.264 sequence parameter sets: picture size and frame rate (ITU-T H.264
//! §7.3.2.1.1, Annex E). The parser reads bits with bounds checks only: it returns
//! `None` on anything short or inconsistent and never panics.

/// Exp-Golomb bit reader over an RBSP (emulation prevention bytes removed).
struct Bits {
    data: Vec<u8>,
    pos: usize,
}

impl Bits {
    fn bit(&mut self) -> Option<u32> {
        let byte = self.data.get(self.pos / 8)?;
        let bit = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Some(u32::from(bit))
    }

    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        let mut value = 0u32;
        for _ in 0..zeros {
            value = (value << 1) | self.bit()?;
        }
        Some((1u32 << zeros) - 1 + value)
    }

    fn bits(&mut self, n: u32) -> Option<u32> {
        let mut value = 0u64;
        for _ in 0..n {
            value = (value << 1) | u64::from(self.bit()?);
        }
        u32::try_from(value).ok()
    }

    fn se(&mut self) -> Option<i64> {
        let k = i64::from(self.ue()?);
        Some(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) })
    }
}

/// Width and height of an SPS (ITU-T H.264 §7.3.2.1.1, cropping per §7.4.2.1.1).
pub fn sps_resolution(sps: &[u8]) -> Option<(u32, u32)> {
    parse(sps).map(|s| (s.width, s.height))
}

/// What the origin reads from a sequence parameter set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpsInfo {
    /// Picture width after cropping.
    pub width: u32,
    /// Picture height after cropping.
    pub height: u32,
    /// Frames per second from the VUI timing info (`time_scale / (2 ×
    /// num_units_in_tick)`, Annex E.2.1), when present and plausible (1–300).
    pub frame_rate: Option<f64>,
}

/// Parses an SPS NAL unit (header byte included): ITU-T H.264 §7.3.2.1.1 up to the
/// VUI timing info (§E.1.1). `None` when it is too short or inconsistent; never panics.
pub fn parse(sps: &[u8]) -> Option<SpsInfo> {
    let mut data = Vec::with_capacity(sps.len());
    let mut zeros = 0;
    for &b in sps.get(1..)? {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        data.push(b);
    }
    let profile = *data.first()?;
    let mut r = Bits { data, pos: 24 };
    r.ue()?; // seq_parameter_set_id
    let mut chroma_format_idc = 1;
    if matches!(
        profile,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma_format_idc = r.ue()?;
        if chroma_format_idc == 3 {
            r.bit()?; // separate_colour_plane_flag
        }
        r.ue()?; // bit_depth_luma_minus8
        r.ue()?; // bit_depth_chroma_minus8
        r.bit()?; // qpprime_y_zero_transform_bypass_flag
        if r.bit()? == 1 {
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.bit()? == 1 {
                    let size = if i < 6 { 16 } else { 64 };
                    let (mut last, mut next) = (8i64, 8i64);
                    for _ in 0..size {
                        if next != 0 {
                            next = (last + r.se()? + 256) % 256;
                        }
                        last = if next == 0 { last } else { next };
                    }
                }
            }
        }
    }
    r.ue()?; // log2_max_frame_num_minus4
    match r.ue()? {
        0 => {
            r.ue()?;
        }
        1 => {
            r.bit()?;
            r.se()?;
            r.se()?;
            for _ in 0..r.ue()?.min(255) {
                r.se()?;
            }
        }
        _ => {}
    }
    r.ue()?; // max_num_ref_frames
    r.bit()?; // gaps_in_frame_num_value_allowed_flag
    let width_mbs = r.ue()?.checked_add(1)?;
    let height_units = r.ue()?.checked_add(1)?;
    let frame_mbs_only = r.bit()?;
    if frame_mbs_only == 0 {
        r.bit()?;
    }
    r.bit()?; // direct_8x8_inference_flag
    let (mut left, mut right, mut top, mut bottom) = (0, 0, 0, 0);
    if r.bit()? == 1 {
        left = r.ue()?;
        right = r.ue()?;
        top = r.ue()?;
        bottom = r.ue()?;
    }
    let (sub_w, sub_h) = match chroma_format_idc {
        0 => (1, 1),
        1 => (2, 2),
        2 => (2, 1),
        _ => (1, 1),
    };
    let field = 2 - frame_mbs_only;
    let width = width_mbs
        .checked_mul(16)?
        .checked_sub(left.checked_add(right)?.checked_mul(sub_w)?)?;
    let height = height_units
        .checked_mul(16 * field)?
        .checked_sub(top.checked_add(bottom)?.checked_mul(sub_h * field)?)?;
    Some(SpsInfo {
        width,
        height,
        frame_rate: vui_frame_rate(&mut r),
    })
}

/// The VUI's frame rate (§E.1.1), if `vui_parameters_present_flag` and
/// `timing_info_present_flag` are set.
fn vui_frame_rate(r: &mut Bits) -> Option<f64> {
    if r.bit()? == 0 {
        return None;
    }
    if r.bit()? == 1 {
        // aspect_ratio_info_present_flag
        if r.bits(8)? == 255 {
            r.bits(32)?; // sar_width, sar_height
        }
    }
    if r.bit()? == 1 {
        r.bit()?; // overscan_appropriate_flag
    }
    if r.bit()? == 1 {
        r.bits(4)?; // video_format, video_full_range_flag
        if r.bit()? == 1 {
            r.bits(24)?; // colour_primaries, transfer_characteristics, matrix_coefficients
        }
    }
    if r.bit()? == 1 {
        r.ue()?; // chroma_sample_loc_type_top_field
        r.ue()?;
    }
    if r.bit()? == 0 {
        return None;
    }
    let units = r.bits(32)?;
    let scale = r.bits(32)?;
    if units == 0 {
        return None;
    }
    let rate = f64::from(scale) / (2.0 * f64::from(units));
    (1.0..=300.0).contains(&rate).then_some(rate)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn x264_sps() {
        // x264 High profile 640x360 (crop 8 lines from 368), no VUI timing.
        let sps = [
            0x67, 0x64, 0x00, 0x1E, 0xAC, 0xD9, 0x40, 0xA0, 0x2F, 0xF9, 0x70, 0x11, 0x00, 0x00,
            0x03, 0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x32, 0x0F, 0x16, 0x2D, 0x96,
        ];
        let info = parse(&sps).unwrap();
        assert_eq!((info.width, info.height), (640, 360));
        assert_eq!(info.frame_rate, Some(25.0));
        assert_eq!(sps_resolution(&[0x67]), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn random_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse(&data);
        }
    }
}
