//! The origin store: HLS pushed by an encoder in, per-endpoint HLS out. No I/O.
//!
//! The model: an encoder pushes HLS to a packaging channel's ingest endpoint (ffmpeg
//! `-f hls -method PUT` PUTs `channel.m3u8` and segments `channel0.ts`, `channel1.ts`, …
//! next to it). The driver hands every PUT body to [`Origin::ingest`] with the channel's
//! current origin endpoints ([`EndpointConfig`]) and the wall clock. Each ingested TS
//! segment is fed to one [`Segmenter`] per origin endpoint, which re-cuts it on IDR
//! frames at that endpoint's segment duration into a [`Rendition`], so every endpoint
//! serves its own playlists whatever the encoder's segmenting. The driver serves
//! [`Origin::multivariant`], [`Origin::media_playlist`] and [`Origin::segment`].
//!
//! Invariants:
//! - Memory is bounded: a live rendition keeps `window + startover` of media; segments
//!   held back by `time_delay` wait in a queue as long as the delay; ingested playlists
//!   and segments are not stored (bodies over [`MAX_INGEST_BODY`] are the driver's to
//!   refuse). EVENT and VOD renditions keep every segment, as RFC 8216 §6.2.1 wants.
//! - Redundant ingest: a channel has two ingest endpoints; both may receive the same
//!   stream. The first endpoint that delivers a segment becomes active; segments sent
//!   to the other are ignored while the active one has delivered within
//!   [`INGEST_STALE_AFTER`]. After that, the other takes over with a discontinuity.
//! - Only one stream is packaged per channel: segments are grouped by their name with
//!   the trailing sequence digits removed (`channel12.ts` → `channel`); the first group
//!   seen is packaged and the others (the other variants of a multivariant push) are
//!   ignored.
//! - Time is injected: every call takes `now`.
//!
//! ```
//! use std::time::Duration;
//! use package::origin::{EndpointConfig, Origin};
//! use time::OffsetDateTime;
//!
//! let mut origin = Origin::default();
//! let endpoints = [EndpointConfig::new("ep", "index", Duration::from_secs(2))];
//! let now = OffsetDateTime::UNIX_EPOCH;
//! origin.ingest("ch", "ingest-1", "channel0.ts", &[], &endpoints, now);
//! // Nothing decodable yet: the endpoint has no segment.
//! assert!(origin.segment("ch", "ep", 0, now).is_none());
//! ```

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use media::h264;
use media::pes::PesAssembler;
use media::psi::{Pat, Pmt, Section, SectionAssembler, TABLE_ID_PAT, TABLE_ID_PMT};
use media::ts::{Pid, TsPacket, PACKET_SIZE};
use time::OffsetDateTime;

use crate::hls::{MultivariantPlaylist, PlaylistType, Rendition, RenditionConfig, Variant};
use crate::segmenter::{Segment, Segmenter, SegmenterConfig, STREAM_TYPE_AAC, STREAM_TYPE_H264};

/// The largest ingest body (one playlist or segment) a driver should accept.
pub const MAX_INGEST_BODY: usize = 32 << 20;
/// The segment name [`Origin::ingest_ts`] files in-process TS under.
const IN_PROCESS_SEGMENT: &str = "in-process.ts";
/// An active ingest endpoint that delivered nothing for this long gives way to the other.
pub const INGEST_STALE_AFTER: Duration = Duration::from_secs(10);

/// How one origin endpoint packages its channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointConfig {
    /// Origin endpoint id.
    pub id: String,
    /// `manifestName`: the media playlist is `{manifest_name}_1.m3u8`, segments
    /// `{manifest_name}_1_{sequence}.ts`.
    pub manifest_name: String,
    /// Segments are cut at the first IDR at least this long after their start.
    pub segment_duration: Duration,
    /// Media time a live playlist lists.
    pub window: Duration,
    /// Media time kept before the window.
    pub startover: Duration,
    /// Live (sliding window), EVENT or VOD.
    pub playlist_type: PlaylistType,
    /// EXT-X-PROGRAM-DATE-TIME spacing; `None` writes none.
    pub program_date_time_interval: Option<Duration>,
    /// A segment is listed this long after it was cut.
    pub time_delay: Duration,
}

impl EndpointConfig {
    /// A live endpoint with a 60 s window, no start-over, date-times or delay.
    pub fn new(id: &str, manifest_name: &str, segment_duration: Duration) -> Self {
        Self {
            id: id.to_owned(),
            manifest_name: manifest_name.to_owned(),
            segment_duration,
            window: Duration::from_secs(60),
            startover: Duration::ZERO,
            playlist_type: PlaylistType::Live,
            program_date_time_interval: None,
            time_delay: Duration::ZERO,
        }
    }

    fn media_uri(&self) -> String {
        format!("{}_1.m3u8", self.manifest_name)
    }
}

/// What [`Origin::ingest`] did with a body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ingested {
    /// A TS segment fed to every endpoint.
    Segment,
    /// A playlist, read for EXT-X-ENDLIST.
    Playlist,
    /// Accepted and dropped, with why (standby ingest endpoint, other variant, …).
    Ignored(&'static str),
}

/// Codecs and picture size found in the packaged stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamInfo {
    /// RFC 6381 strings: `avc1.PPCCLL`, then `mp4a.40.2` when there is AAC audio.
    pub codecs: Vec<String>,
    /// Width × height from the SPS.
    pub resolution: Option<(u32, u32)>,
}

/// One endpoint: its segmenter, the segments held back by the delay, its rendition.
#[derive(Debug)]
struct Endpoint {
    config: EndpointConfig,
    segmenter: Option<Segmenter>,
    delayed: VecDeque<(OffsetDateTime, Segment)>,
    rendition: Rendition,
}

impl Endpoint {
    fn new(config: EndpointConfig) -> Self {
        let segment_duration = config.segment_duration.max(Duration::from_secs(1));
        let segmenter = Segmenter::new(SegmenterConfig::new(segment_duration)).ok();
        let rendition = Rendition::new(RenditionConfig {
            playlist_type: config.playlist_type,
            target_duration: segment_duration,
            window: config.window,
            startover: config.startover,
            program_date_time_interval: config.program_date_time_interval,
            segment_prefix: format!("{}_1_", config.manifest_name),
        });
        Self {
            config,
            segmenter,
            delayed: VecDeque::new(),
            rendition,
        }
    }

    /// Moves finished segments to the delay queue, and due ones to the rendition.
    fn drain(&mut self, now: OffsetDateTime) {
        if let Some(segmenter) = self.segmenter.as_mut() {
            while let Some(segment) = segmenter.poll_segment() {
                self.delayed.push_back((now, segment));
            }
        }
        self.release(now);
    }

    fn release(&mut self, now: OffsetDateTime) {
        while let Some((cut, _)) = self.delayed.front() {
            if *cut + self.config.time_delay > now {
                break;
            }
            if let Some((_, segment)) = self.delayed.pop_front() {
                self.rendition.push(segment);
            }
        }
    }
}

/// One packaging channel's ingest state and endpoints.
#[derive(Debug, Default)]
struct Channel {
    /// The ingest endpoint being packaged and when it last delivered a segment.
    active: Option<(String, OffsetDateTime)>,
    /// The segment group (name without sequence digits) being packaged.
    stream: Option<String>,
    endpoints: HashMap<String, Endpoint>,
    info: Option<StreamInfo>,
    /// The last segment ingested, and the last one an EXT-X-ENDLIST playlist lists:
    /// the segmenters are flushed once that one is in (requests may finish out of order).
    last_segment: Option<String>,
    end_after: Option<String>,
}

impl Channel {
    fn sync(&mut self, endpoints: &[EndpointConfig]) {
        self.endpoints
            .retain(|id, e| endpoints.iter().any(|c| &c.id == id && *c == e.config));
        for config in endpoints {
            if !self.endpoints.contains_key(&config.id) {
                self.endpoints
                    .insert(config.id.clone(), Endpoint::new(config.clone()));
            }
        }
    }

    fn flush_if_ended(&mut self, now: OffsetDateTime) {
        if self.end_after.is_none() || self.end_after != self.last_segment {
            return;
        }
        self.end_after = None;
        for endpoint in self.endpoints.values_mut() {
            if let Some(s) = endpoint.segmenter.as_mut() {
                s.flush();
            }
            endpoint.drain(now);
        }
    }
}

/// The origin store; see the [module docs](self).
#[derive(Debug, Default)]
pub struct Origin {
    channels: HashMap<String, Channel>,
}

/// `channel12.ts` → `channel`, `v0/seg_3.ts` → `v0/seg_`.
fn stream_key(name: &str) -> &str {
    let stem = name.strip_suffix(".ts").unwrap_or(name);
    stem.trim_end_matches(|c: char| c.is_ascii_digit())
}

impl Origin {
    /// Handles one PUT (or POST) of `name` (path under the ingest URL's directory) to
    /// ingest endpoint `ingest_id` of `channel_id`. `endpoints` are the channel's origin
    /// endpoints now: new ones start packaging, changed ones restart, missing ones go.
    /// The driver has authenticated the request.
    pub fn ingest(
        &mut self,
        channel_id: &str,
        ingest_id: &str,
        name: &str,
        body: &[u8],
        endpoints: &[EndpointConfig],
        now: OffsetDateTime,
    ) -> Ingested {
        let channel = self.channels.entry(channel_id.to_owned()).or_default();
        channel.sync(endpoints);
        let is_segment = name.ends_with(".ts");
        if !is_segment && !name.ends_with(".m3u8") {
            return Ingested::Ignored("neither a playlist nor a TS segment");
        }
        // Redundant ingest: keep to the active endpoint while it is fresh.
        match &channel.active {
            Some((active, _)) if active == ingest_id => {}
            Some((_, last)) if now - *last < INGEST_STALE_AFTER => {
                return Ingested::Ignored("the other ingest endpoint is active");
            }
            Some(_) if !is_segment => return Ingested::Ignored("standby ingest endpoint"),
            Some(_) => {
                // Failover: the new source's timestamps do not continue the old ones.
                channel.stream = None;
                for endpoint in channel.endpoints.values_mut() {
                    if let Some(s) = endpoint.segmenter.as_mut() {
                        s.mark_discontinuity();
                    }
                }
            }
            None if !is_segment => return Ingested::Playlist,
            None => {}
        }
        if !is_segment {
            let text = String::from_utf8_lossy(body);
            let last = text
                .lines()
                .map(str::trim)
                .rfind(|l| !l.is_empty() && !l.starts_with('#'));
            let lists_stream = last.is_some_and(|l| {
                l.ends_with(".ts") && channel.stream.as_deref().is_none_or(|s| s == stream_key(l))
            });
            if lists_stream && text.lines().any(|l| l.trim() == "#EXT-X-ENDLIST") {
                channel.end_after = last.map(str::to_owned);
                channel.flush_if_ended(now);
            }
            return Ingested::Playlist;
        }
        let key = stream_key(name);
        match &channel.stream {
            Some(stream) if stream != key => return Ingested::Ignored("another variant"),
            Some(_) => {}
            None => channel.stream = Some(key.to_owned()),
        }
        channel.active = Some((ingest_id.to_owned(), now));
        if channel.info.is_none() {
            channel.info = probe(body);
        }
        for endpoint in channel.endpoints.values_mut() {
            if let Some(s) = endpoint.segmenter.as_mut() {
                s.set_wall_clock(now);
                s.push(body);
            }
            endpoint.drain(now);
        }
        channel.last_segment = Some(name.to_owned());
        channel.flush_if_ended(now);
        Ingested::Segment
    }

    /// In-process ingest: `ts` (whole 188-byte packets, best cut before an IDR access
    /// unit) of rendition `stream` from an encoder in this process, as if `source` had PUT
    /// it as a segment of that rendition to an ingest endpoint of `channel_id`. Runs what
    /// [`Origin::ingest`] does with a segment: the same redundant-ingest rule (per
    /// `source`), the same per-endpoint re-cutting.
    pub fn ingest_ts(
        &mut self,
        channel_id: &str,
        source: &str,
        stream: &str,
        ts: &[u8],
        endpoints: &[EndpointConfig],
        now: OffsetDateTime,
    ) -> Ingested {
        let name = format!("{stream}/{IN_PROCESS_SEGMENT}");
        self.ingest(channel_id, source, &name, ts, endpoints, now)
    }

    /// Whether `channel_id` has ingested anything accepted (a segment or playlist).
    pub fn has_channel(&self, channel_id: &str) -> bool {
        self.channels.contains_key(channel_id)
    }

    /// Forgets every channel not in `ids` (deleted packaging channels).
    pub fn retain_channels(&mut self, ids: &[&str]) {
        self.channels.retain(|id, _| ids.contains(&id.as_str()));
    }

    fn endpoint(
        &mut self,
        channel_id: &str,
        endpoint_id: &str,
        now: OffsetDateTime,
    ) -> Option<(&Endpoint, Option<&StreamInfo>)> {
        let channel = self.channels.get_mut(channel_id)?;
        let endpoint = channel.endpoints.get_mut(endpoint_id)?;
        endpoint.release(now);
        Some((&*endpoint, channel.info.as_ref()))
    }

    /// The endpoint's multivariant playlist (one variant), once it has a segment.
    pub fn multivariant(
        &mut self,
        channel_id: &str,
        endpoint_id: &str,
        now: OffsetDateTime,
    ) -> Option<String> {
        let (endpoint, info) = self.endpoint(channel_id, endpoint_id, now)?;
        let (peak, average) = endpoint.rendition.bitrates()?;
        let info = info.cloned().unwrap_or_default();
        let playlist = MultivariantPlaylist {
            variants: vec![Variant {
                uri: endpoint.config.media_uri(),
                bandwidth: peak,
                average_bandwidth: Some(average),
                resolution: info.resolution,
                codecs: info.codecs,
                frame_rate: None,
            }],
        };
        Some(playlist.render())
    }

    /// The endpoint's media playlist and its EXT-X-TARGETDURATION, once it has a segment.
    pub fn media_playlist(
        &mut self,
        channel_id: &str,
        endpoint_id: &str,
        now: OffsetDateTime,
    ) -> Option<(String, u64)> {
        let (endpoint, _) = self.endpoint(channel_id, endpoint_id, now)?;
        endpoint.rendition.segments().next()?;
        let playlist = endpoint.rendition.media_playlist();
        let target = playlist.target_duration;
        Some((playlist.render(), target))
    }

    /// A kept segment's TS bytes; `None` outside retention or still delayed.
    pub fn segment(
        &mut self,
        channel_id: &str,
        endpoint_id: &str,
        sequence: u64,
        now: OffsetDateTime,
    ) -> Option<Bytes> {
        let (endpoint, _) = self.endpoint(channel_id, endpoint_id, now)?;
        endpoint.rendition.segment(sequence).map(|s| s.data.clone())
    }

    /// Whether `file` names the endpoint's multivariant playlist, media playlist or a
    /// segment, as [`OriginFile`].
    pub fn parse_file(manifest_name: &str, file: &str) -> Option<OriginFile> {
        let rest = file.strip_prefix(manifest_name)?;
        match rest {
            ".m3u8" => Some(OriginFile::Multivariant),
            "_1.m3u8" => Some(OriginFile::Media),
            _ => {
                let digits = rest.strip_prefix("_1_")?.strip_suffix(".ts")?;
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                digits.parse().ok().map(OriginFile::Segment)
            }
        }
    }
}

/// What a GET under an origin endpoint asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OriginFile {
    /// `{manifestName}.m3u8`.
    Multivariant,
    /// `{manifestName}_1.m3u8`.
    Media,
    /// `{manifestName}_1_{sequence}.ts`.
    Segment(u64),
}

/// Reads codecs and resolution from the PMT and the first SPS of a TS segment.
pub fn probe(ts: &[u8]) -> Option<StreamInfo> {
    let mut pat = SectionAssembler::new();
    let mut pmt_asm = SectionAssembler::new();
    let mut pmt_pid: Option<Pid> = None;
    let mut streams: Option<(Pid, bool)> = None;
    let mut video = PesAssembler::new();
    for bytes in ts.chunks_exact(PACKET_SIZE) {
        let Ok(packet) = TsPacket::parse(bytes) else {
            continue;
        };
        let pid = packet.header.pid;
        if pid == Pid::PAT {
            pat.push_packet(&packet);
            while let Some(s) = pat.pop() {
                let parsed = Section::parse(&s)
                    .ok()
                    .filter(|s| s.table_id == TABLE_ID_PAT);
                if let Some(p) = parsed.and_then(|s| Pat::parse(&s).ok()) {
                    pmt_pid = p.programs.iter().find(|(n, _)| *n != 0).map(|p| p.1);
                }
            }
        } else if Some(pid) == pmt_pid {
            pmt_asm.push_packet(&packet);
            while let Some(s) = pmt_asm.pop() {
                let parsed = Section::parse(&s)
                    .ok()
                    .filter(|s| s.table_id == TABLE_ID_PMT);
                if let Some(p) = parsed.and_then(|s| Pmt::parse(&s).ok()) {
                    let find = |t| p.streams.iter().find(|s| s.stream_type == t);
                    if let Some(v) = find(STREAM_TYPE_H264) {
                        streams = Some((v.pid, find(STREAM_TYPE_AAC).is_some()));
                    }
                }
            }
        } else if let Some((_, audio)) = streams.filter(|(v, _)| *v == pid) {
            video.push(packet.header.pusi, packet.payload.unwrap_or(&[]));
            while let Some(pes) = video.pop() {
                if let Some(sps) = h264::find_sps(&pes.payload) {
                    let mut codecs: Vec<String> = h264::codec_string(sps).into_iter().collect();
                    if audio {
                        codecs.push("mp4a.40.2".to_owned());
                    }
                    return Some(StreamInfo {
                        codecs,
                        resolution: sps_resolution(sps),
                    });
                }
            }
        }
    }
    None
}

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

    fn se(&mut self) -> Option<i64> {
        let k = i64::from(self.ue()?);
        Some(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) })
    }
}

/// Width and height of an SPS (ITU-T H.264 §7.3.2.1.1, cropping per §7.4.2.1.1).
pub fn sps_resolution(sps: &[u8]) -> Option<(u32, u32)> {
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
        .checked_sub(sub_w * left.checked_add(right)?)?;
    let height = height_units
        .checked_mul(16 * field)?
        .checked_sub(sub_h * field * top.checked_add(bottom)?)?;
    Some((width, height))
}

/// The package crate's synthetic TS program generator, shared with its integration tests.
#[cfg(test)]
#[path = "../tests/package/stream.rs"]
#[allow(dead_code, clippy::unwrap_used)]
mod test_stream;

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::needless_range_loop
)]
mod tests {
    use super::*;

    #[test]
    fn stream_keys() {
        assert_eq!(stream_key("channel12.ts"), "channel");
        assert_eq!(stream_key("v0/seg_3.ts"), "v0/seg_");
    }

    #[test]
    fn origin_files() {
        let f = |s| Origin::parse_file("index", s);
        assert_eq!(f("index.m3u8"), Some(OriginFile::Multivariant));
        assert_eq!(f("index_1.m3u8"), Some(OriginFile::Media));
        assert_eq!(f("index_1_42.ts"), Some(OriginFile::Segment(42)));
        assert_eq!(f("index_1_.ts"), None);
        assert_eq!(f("index_1_-1.ts"), None);
        assert_eq!(f("other.m3u8"), None);
    }

    #[test]
    fn resolution_of_x264_sps() {
        // x264 High profile 640x360 (crop 8 lines from 368).
        let sps = [
            0x67, 0x64, 0x00, 0x1E, 0xAC, 0xD9, 0x40, 0xA0, 0x2F, 0xF9, 0x70, 0x11, 0x00, 0x00,
            0x03, 0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x32, 0x0F, 0x16, 0x2D, 0x96,
        ];
        assert_eq!(sps_resolution(&sps), Some((640, 360)));
        assert_eq!(sps_resolution(&[0x67]), None);
    }

    use super::test_stream as stream;

    const SECOND: Duration = Duration::from_secs(1);

    fn at(secs: u64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    /// `secs` seconds of synthetic stream (IDR every second) cut into 2 s encoder
    /// segments, as ffmpeg `-hls_time 2` would PUT them.
    fn encoder_segments(secs: u64) -> Vec<Vec<u8>> {
        let per_segment = 50; // frames
        (0..secs / 2)
            .map(|i| {
                // Each chunk is its own program run starting where the last ended.
                let start = 90_000 + i * per_segment * stream::FRAME;
                stream::program(per_segment, start, |f| f % 25 == 0)
            })
            .collect()
    }

    fn endpoint(segment_secs: u64, window_secs: u64) -> EndpointConfig {
        EndpointConfig {
            window: SECOND * u32::try_from(window_secs).unwrap(),
            ..EndpointConfig::new("ep", "index", SECOND * u32::try_from(segment_secs).unwrap())
        }
    }

    fn media_sequence(playlist: &str) -> u64 {
        playlist
            .lines()
            .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
            .unwrap()
            .parse()
            .unwrap()
    }

    fn extinfs(playlist: &str) -> Vec<f64> {
        playlist
            .lines()
            .filter_map(|l| l.strip_prefix("#EXTINF:"))
            .map(|l| l.trim_end_matches(',').parse().unwrap())
            .collect()
    }

    #[test]
    fn in_process_ts_is_packaged_like_pushed_segments() {
        let mut origin = Origin::default();
        let eps = [endpoint(2, 60)];
        for (i, chunk) in encoder_segments(12).iter().enumerate() {
            let t = 2 * u64::try_from(i).unwrap();
            assert_eq!(
                origin.ingest_ts("ch", "medialive", "0", chunk, &eps, at(t)),
                Ingested::Segment
            );
        }
        let playlist = origin.media_playlist("ch", "ep", at(12)).unwrap().0;
        assert!(extinfs(&playlist).len() >= 4, "{playlist}");
        assert!(origin.segment("ch", "ep", 0, at(12)).is_some());
    }

    #[test]
    fn recuts_at_the_endpoint_duration_and_bounds_retention() {
        let mut origin = Origin::default();
        let eps = [endpoint(4, 12)];
        let mut t = 0;
        for (i, seg) in encoder_segments(60).iter().enumerate() {
            let name = format!("channel{i}.ts");
            assert_eq!(
                origin.ingest("ch", "a", &name, seg, &eps, at(t)),
                Ingested::Segment
            );
            let playlist = format!("#EXTM3U\n#EXTINF:2.0,\nchannel{i}.ts\n");
            assert_eq!(
                origin.ingest("ch", "a", "channel.m3u8", playlist.as_bytes(), &eps, at(t)),
                Ingested::Playlist
            );
            t += 2;
        }
        let (playlist, target) = origin.media_playlist("ch", "ep", at(t)).unwrap();
        assert_eq!(target, 4);
        let durations = extinfs(&playlist);
        assert!(durations.len() >= 3 && durations.len() <= 4, "{playlist}");
        assert!(
            durations.iter().all(|d| (*d - 4.0).abs() < 0.01),
            "{playlist}"
        );
        assert!(playlist.contains("#EXT-X-TARGETDURATION:4\n"));
        let first = media_sequence(&playlist);
        assert!(first > 0, "{playlist}");
        assert!(playlist.contains(&format!("\nindex_1_{first}.ts\n")));
        // Retention is the window: the first segments are gone, listed ones are served.
        assert!(origin.segment("ch", "ep", 0, at(t)).is_none());
        assert!(origin
            .segment("ch", "ep", first, at(t))
            .is_some_and(|b| b.len() % 188 == 0));
        assert!(origin.segment("ch", "ep", first + 100, at(t)).is_none());
        // Unknown endpoint or channel.
        assert!(origin.media_playlist("ch", "other", at(t)).is_none());
        assert!(origin.multivariant("nope", "ep", at(t)).is_none());

        let master = origin.multivariant("ch", "ep", at(t)).unwrap();
        assert!(master.contains("BANDWIDTH="), "{master}");
        assert!(master.contains("AVERAGE-BANDWIDTH="), "{master}");
        assert!(
            master.contains("CODECS=\"avc1.64001F,mp4a.40.2\""),
            "{master}"
        );
        assert!(master.ends_with("\nindex_1.m3u8\n"), "{master}");
    }

    #[test]
    fn endlist_flushes_the_last_segment() {
        let mut origin = Origin::default();
        let eps = [endpoint(2, 60)];
        for (i, seg) in encoder_segments(10).iter().enumerate() {
            origin.ingest("ch", "a", &format!("channel{i}.ts"), seg, &eps, at(0));
        }
        let before = extinfs(&origin.media_playlist("ch", "ep", at(0)).unwrap().0).len();
        let end = "#EXTM3U\n#EXTINF:2.0,\nchannel4.ts\n#EXT-X-ENDLIST\n";
        origin.ingest("ch", "a", "channel.m3u8", end.as_bytes(), &eps, at(0));
        let after = extinfs(&origin.media_playlist("ch", "ep", at(0)).unwrap().0);
        assert_eq!(after.len(), before + 1);
        let total: f64 = after.iter().sum();
        assert!((total - 10.0).abs() < 0.01, "{after:?}");
    }

    #[test]
    fn endlist_before_its_last_segment_flushes_when_that_segment_arrives() {
        let mut origin = Origin::default();
        let eps = [endpoint(2, 60)];
        let segs = encoder_segments(10);
        for (i, seg) in segs.iter().enumerate().take(4) {
            origin.ingest("ch", "a", &format!("channel{i}.ts"), seg, &eps, at(0));
        }
        let end = "#EXTM3U\n#EXTINF:2.0,\nchannel4.ts\n#EXT-X-ENDLIST\n";
        origin.ingest("ch", "a", "channel.m3u8", end.as_bytes(), &eps, at(0));
        let before = extinfs(&origin.media_playlist("ch", "ep", at(0)).unwrap().0).len();
        origin.ingest("ch", "a", "channel4.ts", &segs[4], &eps, at(0));
        let after = extinfs(&origin.media_playlist("ch", "ep", at(0)).unwrap().0);
        assert_eq!(after.len(), before + 2, "{after:?}");
    }

    #[test]
    fn standby_ingest_is_ignored_while_the_active_one_is_fresh() {
        let mut origin = Origin::default();
        let eps = [endpoint(2, 60)];
        let segs = encoder_segments(40);
        assert_eq!(
            origin.ingest("ch", "a", "channel0.ts", &segs[0], &eps, at(0)),
            Ingested::Segment
        );
        assert!(matches!(
            origin.ingest("ch", "b", "channel0.ts", &segs[0], &eps, at(1)),
            Ingested::Ignored(_)
        ));
        assert!(matches!(
            origin.ingest("ch", "b", "channel.m3u8", b"#EXTM3U\n", &eps, at(1)),
            Ingested::Ignored(_)
        ));
        // Another variant of the same push is not mixed in.
        assert!(matches!(
            origin.ingest("ch", "a", "channel_1_0.ts", &segs[1], &eps, at(2)),
            Ingested::Ignored(_)
        ));
        for i in 1..5 {
            assert_eq!(
                origin.ingest(
                    "ch",
                    "a",
                    &format!("channel{i}.ts"),
                    &segs[i],
                    &eps,
                    at(2 * i as u64)
                ),
                Ingested::Segment
            );
        }
        // `a` stops; `b` takes over once `a` is stale.
        assert!(matches!(
            origin.ingest("ch", "b", "x5.ts", &segs[5], &eps, at(12)),
            Ingested::Ignored(_)
        ));
        let later = 8 + INGEST_STALE_AFTER.as_secs();
        for i in 5..10 {
            assert_eq!(
                origin.ingest(
                    "ch",
                    "b",
                    &format!("x{i}.ts"),
                    &segs[i],
                    &eps,
                    at(later + i as u64)
                ),
                Ingested::Segment
            );
        }
        let (playlist, _) = origin.media_playlist("ch", "ep", at(40)).unwrap();
        assert!(playlist.contains("#EXT-X-DISCONTINUITY\n"), "{playlist}");
        // Now `a` is the standby.
        assert!(matches!(
            origin.ingest("ch", "a", "channel5.ts", &segs[5], &eps, at(later + 10)),
            Ingested::Ignored(_)
        ));
    }

    #[test]
    fn time_delay_holds_segments_back() {
        let mut origin = Origin::default();
        let eps = [EndpointConfig {
            time_delay: SECOND * 20,
            ..endpoint(2, 60)
        }];
        for (i, seg) in encoder_segments(10).iter().enumerate() {
            origin.ingest(
                "ch",
                "a",
                &format!("channel{i}.ts"),
                seg,
                &eps,
                at(2 * i as u64),
            );
        }
        assert!(origin.media_playlist("ch", "ep", at(10)).is_none());
        assert!(origin.segment("ch", "ep", 0, at(10)).is_none());
        let (playlist, _) = origin.media_playlist("ch", "ep", at(24)).unwrap();
        assert!(!extinfs(&playlist).is_empty());
        let shown_late = extinfs(&origin.media_playlist("ch", "ep", at(60)).unwrap().0).len();
        assert!(shown_late > extinfs(&playlist).len());
    }

    #[test]
    fn changed_endpoint_restarts_and_removed_endpoint_goes() {
        let mut origin = Origin::default();
        let segs = encoder_segments(20);
        let eps = [endpoint(2, 60)];
        for i in 0..4 {
            origin.ingest(
                "ch",
                "a",
                &format!("channel{i}.ts"),
                &segs[i],
                &eps,
                at(2 * i as u64),
            );
        }
        assert!(origin.media_playlist("ch", "ep", at(8)).is_some());
        origin.ingest("ch", "a", "channel4.ts", &segs[4], &[], at(8));
        assert!(origin.media_playlist("ch", "ep", at(8)).is_none());
        origin.retain_channels(&[]);
        assert!(origin.channels.is_empty());
    }
}
