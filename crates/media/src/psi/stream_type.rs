//! PMT stream_type values (ISO/IEC 13818-1 §2.4.4.9, Table 2-34): the one definition
//! every crate of the workspace uses.

/// ISO/IEC 11172-2 (MPEG-1) video.
pub const MPEG1_VIDEO: u8 = 0x01;
/// ITU-T H.262 / ISO/IEC 13818-2 (MPEG-2) video.
pub const MPEG2_VIDEO: u8 = 0x02;
/// ISO/IEC 11172-3 (MPEG-1) audio.
pub const MPEG1_AUDIO: u8 = 0x03;
/// ISO/IEC 13818-3 (MPEG-2) audio.
pub const MPEG2_AUDIO: u8 = 0x04;
/// PES packets with private data (DVB subtitles, AC-3 with a descriptor, ...).
pub const PRIVATE_PES: u8 = 0x06;
/// ISO/IEC 13818-7 AAC audio in ADTS frames.
pub const AAC_ADTS: u8 = 0x0F;
/// ITU-T H.264 / ISO/IEC 14496-10 AVC video (Annex B byte stream).
pub const H264: u8 = 0x1B;
/// ITU-T H.265 / ISO/IEC 23008-2 HEVC video.
pub const HEVC: u8 = 0x24;

/// Whether `stream_type` carries video.
pub fn is_video(stream_type: u8) -> bool {
    matches!(stream_type, MPEG1_VIDEO | MPEG2_VIDEO | H264 | HEVC)
}

/// Whether `stream_type` carries audio (by stream_type alone; private PES may too).
pub fn is_audio(stream_type: u8) -> bool {
    matches!(stream_type, MPEG1_AUDIO | MPEG2_AUDIO | AAC_ADTS)
}
