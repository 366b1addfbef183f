//! The origin store: HLS pushed by an encoder in, per-endpoint HLS out. No I/O.
//!
//! The model: an encoder pushes HLS to a packaging channel's ingest endpoint (ffmpeg
//! `-f hls -method PUT` PUTs `channel.m3u8` and segments `channel0.ts`, `channel1.ts`, …
//! next to it; with `-var_stream_map` one playlist and one segment series per
//! variant). The driver hands every PUT body to [`Origin::ingest`] with the channel's
//! current origin endpoints ([`EndpointConfig`]) and the wall clock; an encoder in this
//! process hands TS chunks to [`Origin::ingest_ts`] instead, one call per rendition
//! chunk. Every *stream* of the channel (a series of segments of one variant) becomes
//! one variant of every origin endpoint: the endpoint feeds it to its own
//! [`Segmenter`], which re-cuts it on IDR frames at the endpoint's segment duration
//! into a [`Rendition`], so every endpoint serves its own playlists whatever the
//! encoder's segmenting. The driver serves [`Origin::multivariant`],
//! [`Origin::media_playlist`], [`Origin::iframe_playlist`] and [`Origin::segment`], and
//! logs what [`Origin::take_warnings`] returns.
//!
//! Concurrency: each packaging channel is a [`ChannelOrigin`]; [`OriginStore`], the
//! store a server shares between its requests and its channel engines, is a registry
//! of them with one lock per channel ([`ChannelHandle`]), so an ingest or a busy
//! channel never holds up another channel. A GET ([`OriginStore::serve`]) takes its
//! channel's lock only to look the object up and clone its [`Served`] bytes and
//! entity tag: segment tags are computed when the segment is stored, playlists are
//! rendered (and tagged) once per change of the channel and cached. [`Origin`] is the
//! same as a plain map for single-threaded use. [`OriginStore::sync`] applies the
//! packaging channels and endpoints that exist: a deleted one's memory goes at once.
//!
//! Naming (`n` counts variants from 1 in stream order): `{manifestName}.m3u8`, media
//! playlists `{manifestName}_{n}.m3u8`, segments `{manifestName}_{n}_{seq}.ts`, I-frame
//! playlists `{manifestName}_{n}_iframe.m3u8` (AWS's names) whose entries are byte
//! ranges of those segments.
//!
//! Invariants:
//! - Streams: a pushed segment's stream is its name without the trailing sequence
//!   digits (`channel_1_12.ts` → `channel_1_`, `v0/seg3.ts` → `v0/seg`); in-process
//!   chunks of rendition `"k"` are stream `k`. Streams are ordered by name with digit
//!   runs compared as numbers, so `0, 1, 2, …, 10` and `channel_1_ … channel_10_`. At
//!   most [`MAX_STREAMS`] per channel; more are ignored.
//! - Alignment: all variants of an endpoint cut on one [`CutGrid`], so segment N of
//!   every variant starts at the same IDR PTS (within [`MATCH_TOLERANCE`](crate::grid::MATCH_TOLERANCE)) and has the
//!   same media sequence number, date-time and discontinuity, whichever variant's
//!   chunks arrive first. This needs the renditions' IDRs at the same PTS, as any ABR
//!   ladder has.
//! - A stream that stops while others go on does not hold them back. It is left out
//!   of the multivariant playlist once it has delivered nothing for
//!   [`INGEST_STALE_AFTER`] while others did, or while its newest segment is more
//!   than two sequence numbers behind the newest of any variant (its source
//!   restarted on its own and it waits to rejoin); its playlist stays served.
//! - Memory is bounded: a live rendition keeps `window + startover` of media; segments
//!   held back by `time_delay` wait in a queue as long as the delay; ingested playlists
//!   and segments are not stored (bodies over [`MAX_INGEST_BODY`] are the driver's to
//!   refuse). Every endpoint (all its variants together, any playlist type, the
//!   segments held back by `time_delay` included) keeps at most
//!   [`MAX_RETAINED_MEDIA`] of media and [`MAX_RETAINED_BYTES`], whichever comes
//!   first: past that its oldest segments go, in every variant at once (once a
//!   rendition is down to its newest segment, from the head of the delay queue: a
//!   delay longer than the bound cannot be honoured), and one warning is queued. An EVENT playlist then loses its head: it keeps
//!   `EXT-X-PLAYLIST-TYPE:EVENT` (RFC 8216 §4.3.3.5 forbids removing the tag) and its
//!   EXT-X-MEDIA-SEQUENCE moves on, as in a live playlist. Players reload it like a
//!   live playlist (hls.js, AVPlayer); a viewer seeking to the very start finds it gone.
//!   That is less harmful than the alternatives: stopping the event (every viewer
//!   stalls) or exhausting the server's memory.
//! - Redundant ingest is per channel: a channel has two ingest endpoints; both may
//!   receive the same streams. The first endpoint that delivers a segment becomes
//!   active; segments sent to the other are ignored while the active one has delivered
//!   within [`INGEST_STALE_AFTER`]. After that, the other takes over with a
//!   discontinuity in every variant (give both encoders the same segment names, so
//!   their streams map to the same variants).
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
//! assert!(origin.segment("ch", "ep", 1, 0, now).is_none());
//! ```

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

use bytes::Bytes;
use media::demux::{Demuxer, Event};
use media::h264;
use media::psi::stream_type;
use media::ts::Pid;
use time::OffsetDateTime;

use crate::body::Body;
use crate::grid::CutGrid;
pub use crate::hls::etag;
use crate::hls::{
    IFrameVariant, MultivariantPlaylist, PlaylistType, Rendition, RenditionConfig, Variant,
};
use crate::segmenter::{Segment, Segmenter, SegmenterConfig};
pub use crate::sps::sps_resolution;

/// The largest ingest body (one playlist or segment) a driver should accept.
pub const MAX_INGEST_BODY: usize = 32 << 20;
/// The segment name [`Origin::ingest_ts`] files in-process TS under.
const IN_PROCESS_SEGMENT: &str = "in-process.ts";
/// An active ingest endpoint that delivered nothing for this long gives way to the
/// other; a stream silent this long while others deliver leaves the multivariant.
pub const INGEST_STALE_AFTER: Duration = Duration::from_secs(10);
/// Streams (variants) one channel packages at most.
pub const MAX_STREAMS: usize = 16;
/// Media time one endpoint keeps at most, whatever its playlist type and start-over.
pub const MAX_RETAINED_MEDIA: Duration = Duration::from_secs(6 * 3600);
/// Segment bytes one endpoint keeps at most, all variants together.
pub const MAX_RETAINED_BYTES: usize = 1 << 30;
/// A variant whose newest segment is this many sequence numbers behind the newest of
/// any variant is left out of the multivariant playlist (its source stalled or
/// restarted on its own).
const MAX_LAG: u64 = 2;
/// Warnings queued for the driver before the oldest is dropped.
const MAX_WARNINGS: usize = 64;

/// How one origin endpoint packages its channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointConfig {
    /// Origin endpoint id.
    pub id: String,
    /// `manifestName`: media playlists are `{manifest_name}_{n}.m3u8`, segments
    /// `{manifest_name}_{n}_{sequence}.ts`.
    pub manifest_name: String,
    /// The cut grid's cell: segments are cut at the first IDR of each later cell.
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
}

/// The order of the variants in the multivariant playlist (`streamOrder`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StreamOrder {
    /// Stream order (see the module docs).
    #[default]
    Original,
    /// Lowest average video bitrate first.
    VideoBitrateAscending,
    /// Highest average video bitrate first.
    VideoBitrateDescending,
}

/// Which variants the multivariant playlist lists (`streamSelection`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamSelection {
    /// Variants whose average video bitrate is below this are left out.
    pub min_video_bits_per_second: u64,
    /// Variants whose average video bitrate is above this are left out.
    pub max_video_bits_per_second: u64,
    /// The order of those listed.
    pub order: StreamOrder,
}

impl Default for StreamSelection {
    /// AWS's defaults: 0 to 2147483647 bit/s, original order.
    fn default() -> Self {
        Self {
            min_video_bits_per_second: 0,
            max_video_bits_per_second: u64::from(i32::MAX.unsigned_abs()),
            order: StreamOrder::Original,
        }
    }
}

/// Serve-time settings of an endpoint: they change what is listed, not how it is
/// packaged, so changing them restarts nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServeOptions {
    /// `streamSelection`.
    pub selection: StreamSelection,
    /// `includeIframeOnlyStream`: list an I-frame playlist per variant.
    pub iframes: bool,
}

/// What [`Origin::ingest`] did with a body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ingested {
    /// A TS segment fed to every endpoint.
    Segment,
    /// A playlist, read for EXT-X-ENDLIST.
    Playlist,
    /// Accepted and dropped, with why (standby ingest endpoint, too many variants, …).
    Ignored(&'static str),
}

/// Codecs, picture size and frame rate found in a stream.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamInfo {
    /// RFC 6381 strings: `avc1.PPCCLL`, then `mp4a.40.2` when there is AAC audio.
    pub codecs: Vec<String>,
    /// Width × height from the SPS.
    pub resolution: Option<(u32, u32)>,
    /// Frames per second from the SPS VUI timing info.
    pub frame_rate: Option<f64>,
}

/// One variant of an endpoint: its segmenter, the segments held back by the delay,
/// its rendition.
#[derive(Debug)]
struct EndpointVariant {
    segmenter: Option<Segmenter>,
    delayed: VecDeque<(OffsetDateTime, Segment)>,
    /// Bytes and media time waiting in `delayed`.
    delayed_bytes: usize,
    delayed_media: Duration,
    rendition: Rendition,
}

impl EndpointVariant {
    fn new(config: &EndpointConfig, n: usize) -> Self {
        let segment_duration = config.segment_duration.max(Duration::from_secs(1));
        Self {
            segmenter: Segmenter::new(SegmenterConfig::new(segment_duration)).ok(),
            delayed: VecDeque::new(),
            delayed_bytes: 0,
            delayed_media: Duration::ZERO,
            rendition: Rendition::new(RenditionConfig {
                playlist_type: config.playlist_type,
                target_duration: segment_duration,
                window: config.window,
                startover: config.startover,
                program_date_time_interval: config.program_date_time_interval,
                segment_prefix: format!("{}_{n}_", config.manifest_name),
            }),
        }
    }

    /// Moves finished segments to the delay queue, and due ones to the rendition.
    fn drain(&mut self, delay: Duration, now: OffsetDateTime) {
        if let Some(segmenter) = self.segmenter.as_mut() {
            while let Some(segment) = segmenter.poll_segment() {
                self.delayed_bytes += segment.data.len();
                self.delayed_media += segment.duration();
                self.delayed.push_back((now, segment));
            }
        }
        self.release(delay, now);
    }

    fn pop_delayed(&mut self) -> Option<Segment> {
        let (_, segment) = self.delayed.pop_front()?;
        self.delayed_bytes = self.delayed_bytes.saturating_sub(segment.data.len());
        self.delayed_media = self.delayed_media.saturating_sub(segment.duration());
        Some(segment)
    }

    /// Bytes kept: the rendition's and those held back by the delay.
    fn bytes(&self) -> usize {
        self.rendition.bytes() + self.delayed_bytes
    }

    /// Media time kept: the rendition's and that held back by the delay.
    fn media(&self) -> Duration {
        self.rendition.media_time() + self.delayed_media
    }

    /// The sequence number retention drops next: the rendition's oldest while it has
    /// another, else the oldest held back by the delay.
    fn oldest(&self) -> Option<u64> {
        if self.rendition.segments().nth(1).is_some() {
            self.rendition.first_sequence()
        } else {
            self.delayed.front().map(|(_, s)| s.sequence)
        }
    }

    /// Drops the segment [`oldest`](Self::oldest) names.
    fn pop_oldest(&mut self) -> bool {
        if self.rendition.segments().nth(1).is_some() {
            self.rendition.pop_oldest()
        } else {
            self.pop_delayed().is_some()
        }
    }

    /// Moves the segments whose delay is over to the rendition; whether any moved.
    fn release(&mut self, delay: Duration, now: OffsetDateTime) -> bool {
        let mut moved = false;
        while let Some((cut, _)) = self.delayed.front() {
            if *cut + delay > now {
                break;
            }
            let Some(segment) = self.pop_delayed() else {
                break;
            };
            moved = true;
            match self.rendition.last_sequence() {
                // A cut this variant already has (cannot happen on one grid): drop it.
                Some(last) if segment.sequence <= last => continue,
                // This variant missed cuts (it stopped, or lagged past the grid's
                // memory): its playlist restarts rather than skip sequence numbers.
                Some(last) if segment.sequence > last + 1 => self.rendition.clear(),
                _ => {}
            }
            self.rendition.push(segment);
        }
        moved
    }
}

/// Playlists rendered since the channel last changed (its generation), so that a GET
/// clones them instead of rendering.
#[derive(Debug, Default)]
struct ServedCache {
    generation: u64,
    /// By variant number - 1.
    media: [Option<Served>; MAX_STREAMS],
    iframes: [Option<Served>; MAX_STREAMS],
    multivariant: Option<(ServeOptions, Option<Served>)>,
}

impl ServedCache {
    /// The cache, emptied first if rendered before `generation`.
    fn at(&mut self, generation: u64) -> &mut Self {
        if self.generation != generation {
            *self = Self {
                generation,
                ..Self::default()
            };
        }
        self
    }
}

/// One endpoint: the grid its variants cut on and the variants, by stream.
#[derive(Debug)]
struct Endpoint {
    config: EndpointConfig,
    grid: CutGrid,
    variants: BTreeMap<String, EndpointVariant>,
    /// The retention bound was reached (warned once).
    trimmed: bool,
    retention: Retention,
    cache: ServedCache,
}

/// Retention bounds of every endpoint (all its variants together).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Media time kept at most.
    pub media: Duration,
    /// Segment bytes kept at most.
    pub bytes: usize,
}

impl Default for Retention {
    /// [`MAX_RETAINED_MEDIA`] and [`MAX_RETAINED_BYTES`].
    fn default() -> Self {
        Self {
            media: MAX_RETAINED_MEDIA,
            bytes: MAX_RETAINED_BYTES,
        }
    }
}

impl Endpoint {
    fn new(config: EndpointConfig, retention: Retention) -> Self {
        let grid = CutGrid::new(config.segment_duration.max(Duration::from_secs(1)));
        Self {
            config,
            grid,
            variants: BTreeMap::new(),
            trimmed: false,
            retention,
            cache: ServedCache::default(),
        }
    }

    fn push(&mut self, stream: &str, n: usize, body: &[u8], now: OffsetDateTime) {
        let Self {
            config,
            grid,
            variants,
            ..
        } = self;
        let variant = variants
            .entry(stream.to_owned())
            .or_insert_with(|| EndpointVariant::new(config, n));
        if let Some(s) = variant.segmenter.as_mut() {
            s.set_wall_clock(now);
            s.push_on(body, grid);
        }
        variant.drain(config.time_delay, now);
    }

    fn flush(&mut self, stream: &str, now: OffsetDateTime) {
        let Self {
            config,
            grid,
            variants,
            ..
        } = self;
        if let Some(variant) = variants.get_mut(stream) {
            if let Some(s) = variant.segmenter.as_mut() {
                s.flush_on(grid);
            }
            variant.drain(config.time_delay, now);
        }
    }

    /// Releases the segments whose delay is over; whether any moved.
    fn release(&mut self, now: OffsetDateTime) -> bool {
        let mut moved = false;
        for variant in self.variants.values_mut() {
            moved |= variant.release(self.config.time_delay, now);
        }
        moved
    }

    /// Segment bytes kept, all variants, delayed ones included.
    fn bytes(&self) -> usize {
        self.variants.values().map(EndpointVariant::bytes).sum()
    }

    /// Applies [`MAX_RETAINED_MEDIA`] and [`MAX_RETAINED_BYTES`] to what the endpoint
    /// keeps, segments held back by `time_delay` included: drops the oldest sequence
    /// number from every variant until within both. Returns a warning the first time it
    /// trims.
    fn enforce_retention(&mut self) -> Option<String> {
        let mut trimmed = false;
        loop {
            let bytes = self.bytes();
            let media = self
                .variants
                .values()
                .map(EndpointVariant::media)
                .max()
                .unwrap_or_default();
            if bytes <= self.retention.bytes && media <= self.retention.media {
                break;
            }
            let Some(oldest) = self
                .variants
                .values()
                .filter_map(EndpointVariant::oldest)
                .min()
            else {
                break;
            };
            let mut popped = false;
            for v in self.variants.values_mut() {
                if v.oldest() == Some(oldest) {
                    popped |= v.pop_oldest();
                }
            }
            if !popped {
                break;
            }
            trimmed = true;
        }
        if !trimmed || std::mem::replace(&mut self.trimmed, true) {
            return None;
        }
        Some(format!(
            "origin endpoint {} reached its retention bound ({} s of media or {} MiB, \
             segments held back by timeDelaySeconds included): its oldest segments are \
             dropped from now on",
            self.config.id,
            self.retention.media.as_secs(),
            self.retention.bytes >> 20
        ))
    }
}

/// One stream of a channel: what it carries and where its push stands.
#[derive(Debug)]
struct Stream {
    info: Option<StreamInfo>,
    last_ingest: OffsetDateTime,
    /// The last segment ingested, and the last one an EXT-X-ENDLIST playlist lists:
    /// the segmenters are flushed once that one is in (requests may finish out of
    /// order).
    last_segment: Option<String>,
    end_after: Option<String>,
}

/// One packaging channel's ingest state and endpoints.
#[derive(Debug, Default)]
struct Channel {
    /// The ingest endpoint being packaged and when it last delivered a segment.
    active: Option<(String, OffsetDateTime)>,
    streams: BTreeMap<String, Stream>,
    /// The stream names in variant order (see the module docs): variant `n` is
    /// `order[n - 1]`.
    order: Vec<String>,
    endpoints: HashMap<String, Endpoint>,
}

impl Channel {
    /// Drops the endpoints not in `endpoints` or configured differently now, starts
    /// the new ones; whether anything changed.
    fn sync(&mut self, endpoints: &[EndpointConfig], retention: Retention) -> bool {
        let before = self.endpoints.len();
        self.endpoints
            .retain(|id, e| endpoints.iter().any(|c| &c.id == id && *c == e.config));
        let mut changed = self.endpoints.len() != before;
        for config in endpoints {
            if !self.endpoints.contains_key(&config.id) {
                self.endpoints
                    .insert(config.id.clone(), Endpoint::new(config.clone(), retention));
                changed = true;
            }
        }
        changed
    }

    /// A stream was added: the streams after it in order moved up one number, so
    /// their segment URIs change (requests resolve numbers the same way).
    fn renumber(&mut self) {
        let mut order: Vec<String> = self.streams.keys().cloned().collect();
        order.sort_by(|a, b| natural_cmp(a, b));
        self.order = order;
        for endpoint in self.endpoints.values_mut() {
            for (i, key) in self.order.iter().enumerate() {
                if let Some(v) = endpoint.variants.get_mut(key) {
                    let prefix = format!("{}_{}_", endpoint.config.manifest_name, i + 1);
                    v.rendition.set_segment_prefix(prefix);
                }
            }
        }
    }

    /// The variant number (from 1) of `stream`.
    fn number(&self, stream: &str) -> usize {
        self.order
            .iter()
            .position(|k| k == stream)
            .map_or(self.streams.len() + 1, |i| i + 1)
    }

    /// The stream of variant `n`.
    fn stream_of(&self, n: usize) -> Option<&str> {
        self.order.get(n.checked_sub(1)?).map(String::as_str)
    }

    fn flush_if_ended(&mut self, stream: &str, now: OffsetDateTime) {
        let Some(state) = self.streams.get_mut(stream) else {
            return;
        };
        if state.end_after.is_none() || state.end_after != state.last_segment {
            return;
        }
        state.end_after = None;
        for endpoint in self.endpoints.values_mut() {
            endpoint.flush(stream, now);
        }
    }
}

/// Orders names with digit runs compared as numbers (`a2` < `a10`).
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let run = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
                let (ra, rb) = (run(a), run(b));
                let (da, rest_a) = a.split_at(ra);
                let (db, rest_b) = b.split_at(rb);
                let strip = |d: &[u8]| -> usize { d.iter().take_while(|c| **c == b'0').count() };
                let (na, nb) = (
                    da.get(strip(da)..).unwrap_or(&[]),
                    db.get(strip(db)..).unwrap_or(&[]),
                );
                let order = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
                if order != Ordering::Equal {
                    return order;
                }
                a = rest_a;
                b = rest_b;
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = a.get(1..).unwrap_or(&[]);
                b = b.get(1..).unwrap_or(&[]);
            }
        }
    }
}

/// What a GET of an origin object gets: its bytes and their strong entity tag, both
/// shared (a clone is two reference counts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Served {
    /// The playlist text (in memory) or TS segment (in a memory file when the
    /// budget allows: [`Body`]).
    pub body: Body,
    /// Quoted strong entity tag ([`etag`]): computed once, when the segment was
    /// stored or the playlist rendered.
    pub etag: Bytes,
    /// A playlist's EXT-X-TARGETDURATION; 0 for a segment.
    pub target_duration: u64,
}

impl Served {
    fn playlist(text: String, target_duration: u64) -> Self {
        let body = Bytes::from(text);
        Self {
            etag: etag(&body),
            body: Body::Memory(body),
            target_duration,
        }
    }

    fn into_text(self) -> (String, u64) {
        (
            String::from_utf8_lossy(&self.body.to_bytes()).into_owned(),
            self.target_duration,
        )
    }
}

/// `channel12.ts` → `channel`, `v0/seg_3.ts` → `v0/seg_`.
fn stream_key(name: &str) -> &str {
    let stem = name.strip_suffix(".ts").unwrap_or(name);
    stem.trim_end_matches(|c: char| c.is_ascii_digit())
}

/// A variant's line in the multivariant playlist, before selection.
struct Listed {
    variant: Variant,
    iframe: Option<IFrameVariant>,
    video_bitrate: u64,
}

/// One packaging channel's origin: its ingest state, its endpoints and what they
/// keep. [`OriginStore`] keeps one per channel behind its own lock; [`Origin`] is a
/// map of them for single-threaded use. Every method takes `now`.
///
/// Rendered playlists are cached until the channel next changes (an ingest, a
/// delayed segment released, endpoints configured), so serving one is a clone.
#[derive(Debug)]
pub struct ChannelOrigin {
    channel: Channel,
    retention: Retention,
    warnings: VecDeque<String>,
    /// Bumped by every change of what the endpoints serve.
    generation: u64,
}

impl Default for ChannelOrigin {
    fn default() -> Self {
        Self::new(Retention::default())
    }
}

impl ChannelOrigin {
    /// An empty channel whose endpoints keep at most `retention` each.
    pub fn new(retention: Retention) -> Self {
        Self {
            channel: Channel::default(),
            retention,
            warnings: VecDeque::new(),
            generation: 0,
        }
    }

    /// Configures the channel's origin endpoints without ingesting: endpoints not in
    /// `endpoints` or configured differently are dropped with everything they keep
    /// (changed ones start again on the next ingest); new ones are created.
    pub fn configure(&mut self, endpoints: &[EndpointConfig]) {
        if self.channel.sync(endpoints, self.retention) {
            self.generation += 1;
        }
    }

    /// Handles one PUT (or POST) of `name` (path under the ingest URL's directory) to
    /// ingest endpoint `ingest_id`; see [`Origin::ingest`].
    pub fn ingest(
        &mut self,
        ingest_id: &str,
        name: &str,
        body: &[u8],
        endpoints: &[EndpointConfig],
        now: OffsetDateTime,
    ) -> Ingested {
        self.generation += 1;
        let retention = self.retention;
        let channel = &mut self.channel;
        channel.sync(endpoints, retention);
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
                for endpoint in channel.endpoints.values_mut() {
                    for variant in endpoint.variants.values_mut() {
                        if let Some(s) = variant.segmenter.as_mut() {
                            s.mark_discontinuity();
                        }
                    }
                }
                for stream in channel.streams.values_mut() {
                    stream.end_after = None;
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
            if let Some(last) = last.filter(|l| l.ends_with(".ts")) {
                let key = stream_key(last);
                let ended = text.lines().any(|l| l.trim() == "#EXT-X-ENDLIST");
                if let Some(stream) = channel.streams.get_mut(key).filter(|_| ended) {
                    stream.end_after = Some(last.to_owned());
                    channel.flush_if_ended(key, now);
                }
            }
            return Ingested::Playlist;
        }
        let key = stream_key(name);
        if !channel.streams.contains_key(key) {
            if channel.streams.len() >= MAX_STREAMS {
                return Ingested::Ignored("too many variants");
            }
            channel.streams.insert(
                key.to_owned(),
                Stream {
                    info: None,
                    last_ingest: now,
                    last_segment: None,
                    end_after: None,
                },
            );
            channel.renumber();
        }
        channel.active = Some((ingest_id.to_owned(), now));
        let n = channel.number(key);
        if let Some(stream) = channel.streams.get_mut(key) {
            stream.last_ingest = now;
            if stream.info.is_none() {
                stream.info = probe(body);
            }
            stream.last_segment = Some(name.to_owned());
        }
        for endpoint in channel.endpoints.values_mut() {
            endpoint.push(key, n, body, now);
            if let Some(warning) = endpoint.enforce_retention() {
                if self.warnings.len() >= MAX_WARNINGS {
                    self.warnings.pop_front();
                }
                self.warnings.push_back(warning);
            }
        }
        channel.flush_if_ended(key, now);
        Ingested::Segment
    }

    /// In-process ingest of rendition `stream`; see [`Origin::ingest_ts`].
    pub fn ingest_ts(
        &mut self,
        source: &str,
        stream: &str,
        ts: &[u8],
        endpoints: &[EndpointConfig],
        now: OffsetDateTime,
    ) -> Ingested {
        let name = format!("{stream}/{IN_PROCESS_SEGMENT}");
        self.ingest(source, &name, ts, endpoints, now)
    }

    /// Warnings for the driver to log (retention bound reached, …), oldest first.
    pub fn take_warnings(&mut self) -> Vec<String> {
        self.warnings.drain(..).collect()
    }

    /// The ids of the endpoints the channel packages for.
    pub fn endpoint_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.channel.endpoints.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Segment bytes the channel keeps, all endpoints and variants, segments held
    /// back by `time_delay` included.
    pub fn retained_bytes(&self) -> usize {
        self.channel.endpoints.values().map(Endpoint::bytes).sum()
    }

    /// Releases the endpoint's delayed segments up to `now`; `None` for an unknown
    /// endpoint.
    fn release(&mut self, endpoint_id: &str, now: OffsetDateTime) -> Option<()> {
        if self.channel.endpoints.get_mut(endpoint_id)?.release(now) {
            self.generation += 1;
        }
        Some(())
    }

    /// What a GET of `file` under endpoint `endpoint_id` gets, or `None` (not found:
    /// unknown endpoint or variant, nothing packaged yet, outside retention, still
    /// delayed, an I-frame playlist when `options.iframes` is off).
    pub fn serve(
        &mut self,
        endpoint_id: &str,
        file: OriginFile,
        options: &ServeOptions,
        now: OffsetDateTime,
    ) -> Option<Served> {
        match file {
            OriginFile::Multivariant => self.multivariant(endpoint_id, options, now),
            OriginFile::Media(n) => self.playlist(endpoint_id, n, false, now),
            OriginFile::IFrames(n) if options.iframes => self.playlist(endpoint_id, n, true, now),
            OriginFile::IFrames(_) => None,
            OriginFile::Segment(n, sequence) => self.segment(endpoint_id, n, sequence, now),
        }
    }

    /// The endpoint's multivariant playlist; see [`Origin::multivariant`].
    pub fn multivariant(
        &mut self,
        endpoint_id: &str,
        options: &ServeOptions,
        now: OffsetDateTime,
    ) -> Option<Served> {
        self.release(endpoint_id, now)?;
        let generation = self.generation;
        let endpoint = self.channel.endpoints.get_mut(endpoint_id)?;
        if let Some((cached, served)) = &endpoint.cache.at(generation).multivariant {
            if cached == options {
                return served.clone();
            }
        }
        let endpoint = self.channel.endpoints.get(endpoint_id)?;
        let served = multivariant_text(&self.channel, endpoint, options)
            .map(|(text, target)| Served::playlist(text, target));
        let endpoint = self.channel.endpoints.get_mut(endpoint_id)?;
        endpoint.cache.multivariant = Some((*options, served.clone()));
        served
    }

    /// Variant `n`'s media playlist (or I-frame playlist), once it has a segment (one
    /// that starts with an IDR).
    fn playlist(
        &mut self,
        endpoint_id: &str,
        n: usize,
        iframes: bool,
        now: OffsetDateTime,
    ) -> Option<Served> {
        self.release(endpoint_id, now)?;
        let generation = self.generation;
        let slot = n.checked_sub(1)?;
        let Channel {
            order, endpoints, ..
        } = &mut self.channel;
        let endpoint = endpoints.get_mut(endpoint_id)?;
        let cache = endpoint.cache.at(generation);
        let cached = if iframes {
            cache.iframes.get(slot)?
        } else {
            cache.media.get(slot)?
        };
        if let Some(served) = cached {
            return Some(served.clone());
        }
        let rendition = &endpoint.variants.get(order.get(slot)?)?.rendition;
        rendition.segments().next()?;
        let served = if iframes {
            let playlist = rendition.iframe_playlist();
            playlist.segments.first()?;
            Served::playlist(playlist.render(), playlist.target_duration)
        } else {
            let playlist = rendition.media_playlist();
            Served::playlist(playlist.render(), playlist.target_duration)
        };
        let cache = if iframes {
            &mut endpoint.cache.iframes
        } else {
            &mut endpoint.cache.media
        };
        if let Some(cached) = cache.get_mut(slot) {
            *cached = Some(served.clone());
        }
        Some(served)
    }

    /// A kept segment with the entity tag computed when it was stored.
    pub fn segment(
        &mut self,
        endpoint_id: &str,
        n: usize,
        sequence: u64,
        now: OffsetDateTime,
    ) -> Option<Served> {
        self.release(endpoint_id, now)?;
        let stream = self.channel.stream_of(n)?;
        let endpoint = self.channel.endpoints.get(endpoint_id)?;
        let stored = endpoint.variants.get(stream)?.rendition.segment(sequence)?;
        Some(Served {
            body: stored.data.clone(),
            etag: stored.etag.clone(),
            target_duration: 0,
        })
    }
}

/// The endpoint's multivariant playlist and the largest EXT-X-TARGETDURATION of its
/// variants (see [`Origin::multivariant`]).
fn multivariant_text(
    channel: &Channel,
    endpoint: &Endpoint,
    options: &ServeOptions,
) -> Option<(String, u64)> {
    let newest = channel.streams.values().map(|s| s.last_ingest).max()?;
    let manifest = &endpoint.config.manifest_name;
    let newest_sequence = endpoint
        .variants
        .values()
        .filter_map(|v| v.rendition.last_sequence())
        .max()?;
    let mut target = 0;
    let mut listed: Vec<Listed> = Vec::new();
    for (i, key) in channel.order.iter().enumerate() {
        let n = i + 1;
        let (Some(stream), Some(variant)) = (channel.streams.get(key), endpoint.variants.get(key))
        else {
            continue;
        };
        let rendition = &variant.rendition;
        let behind = rendition
            .last_sequence()
            .is_none_or(|last| last.saturating_add(MAX_LAG) < newest_sequence);
        if newest - stream.last_ingest > INGEST_STALE_AFTER || behind {
            continue;
        }
        let Some((peak, average)) = rendition.bitrates() else {
            continue;
        };
        target = target.max(rendition.media_playlist().target_duration);
        let info = stream.info.clone().unwrap_or_default();
        let frame_rate = info
            .frame_rate
            .or_else(|| variant.segmenter.as_ref().and_then(Segmenter::frame_rate));
        let iframe = rendition.iframe_bitrate().map(|bandwidth| IFrameVariant {
            uri: format!("{manifest}_{n}_iframe.m3u8"),
            bandwidth,
            resolution: info.resolution,
            codecs: info
                .codecs
                .iter()
                .filter(|c| c.starts_with("avc1"))
                .cloned()
                .collect(),
        });
        listed.push(Listed {
            variant: Variant {
                uri: format!("{manifest}_{n}.m3u8"),
                bandwidth: peak,
                average_bandwidth: Some(average),
                resolution: info.resolution,
                codecs: info.codecs,
                frame_rate,
            },
            iframe,
            video_bitrate: rendition.video_bitrate().unwrap_or(0),
        });
    }
    let selection = options.selection;
    listed.retain(|l| {
        (selection.min_video_bits_per_second..=selection.max_video_bits_per_second)
            .contains(&l.video_bitrate)
    });
    match selection.order {
        StreamOrder::Original => {}
        StreamOrder::VideoBitrateAscending => listed.sort_by_key(|l| l.video_bitrate),
        StreamOrder::VideoBitrateDescending => {
            listed.sort_by_key(|l| std::cmp::Reverse(l.video_bitrate));
        }
    }
    if listed.is_empty() {
        return None;
    }
    let mut playlist = MultivariantPlaylist::default();
    for l in listed {
        if options.iframes {
            playlist.iframe_variants.extend(l.iframe);
        }
        playlist.variants.push(l.variant);
    }
    Some((playlist.render(), target.max(1)))
}

/// The origin store for single-threaded use (tests, the fuzz target): a map of
/// [`ChannelOrigin`]s by packaging channel id; see the [module docs](self).
/// [`OriginStore`] is the same behind one lock per channel.
#[derive(Debug, Default)]
pub struct Origin {
    channels: HashMap<String, ChannelOrigin>,
    retention: Retention,
}

impl Origin {
    /// An origin whose endpoints keep at most `retention` (the default is
    /// [`MAX_RETAINED_MEDIA`] and [`MAX_RETAINED_BYTES`]).
    pub fn with_retention(retention: Retention) -> Self {
        Self {
            retention,
            ..Self::default()
        }
    }

    fn channel(&mut self, channel_id: &str) -> &mut ChannelOrigin {
        let retention = self.retention;
        self.channels
            .entry(channel_id.to_owned())
            .or_insert_with(|| ChannelOrigin::new(retention))
    }

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
        self.channel(channel_id)
            .ingest(ingest_id, name, body, endpoints, now)
    }

    /// In-process ingest: `ts` (whole 188-byte packets, best cut before an IDR access
    /// unit) of rendition `stream` (`"0"`, `"1"`, … in output order) from an encoder in
    /// this process, as if `source` had PUT it as a segment of that rendition to an
    /// ingest endpoint of `channel_id`. Runs what [`Origin::ingest`] does with a
    /// segment: the same redundant-ingest rule (per `source`), the same per-endpoint
    /// re-cutting on one grid per endpoint.
    pub fn ingest_ts(
        &mut self,
        channel_id: &str,
        source: &str,
        stream: &str,
        ts: &[u8],
        endpoints: &[EndpointConfig],
        now: OffsetDateTime,
    ) -> Ingested {
        self.channel(channel_id)
            .ingest_ts(source, stream, ts, endpoints, now)
    }

    /// Whether `channel_id` has ingested anything accepted (a segment or playlist).
    pub fn has_channel(&self, channel_id: &str) -> bool {
        self.channels.contains_key(channel_id)
    }

    /// Warnings for the driver to log (retention bound reached, …), oldest first
    /// within each channel.
    pub fn take_warnings(&mut self) -> Vec<String> {
        self.channels
            .values_mut()
            .flat_map(ChannelOrigin::take_warnings)
            .collect()
    }

    /// Forgets every channel not in `ids` (deleted packaging channels).
    pub fn retain_channels(&mut self, ids: &[&str]) {
        self.channels.retain(|id, _| ids.contains(&id.as_str()));
    }

    /// The endpoint's multivariant playlist and the largest EXT-X-TARGETDURATION of its
    /// variants: every fresh variant with a segment, in stream order, then filtered and
    /// ordered by `options.selection`; an I-frame playlist per variant listed when
    /// `options.iframes`. `None` before any variant has a segment or when the selection
    /// leaves none.
    pub fn multivariant(
        &mut self,
        channel_id: &str,
        endpoint_id: &str,
        options: &ServeOptions,
        now: OffsetDateTime,
    ) -> Option<(String, u64)> {
        self.channels
            .get_mut(channel_id)?
            .multivariant(endpoint_id, options, now)
            .map(Served::into_text)
    }

    /// Variant `n`'s media playlist and its EXT-X-TARGETDURATION, once it has a segment.
    pub fn media_playlist(
        &mut self,
        channel_id: &str,
        endpoint_id: &str,
        n: usize,
        now: OffsetDateTime,
    ) -> Option<(String, u64)> {
        self.channels
            .get_mut(channel_id)?
            .playlist(endpoint_id, n, false, now)
            .map(Served::into_text)
    }

    /// Variant `n`'s I-frame playlist and its EXT-X-TARGETDURATION, once it has a
    /// segment that starts with an IDR.
    pub fn iframe_playlist(
        &mut self,
        channel_id: &str,
        endpoint_id: &str,
        n: usize,
        now: OffsetDateTime,
    ) -> Option<(String, u64)> {
        self.channels
            .get_mut(channel_id)?
            .playlist(endpoint_id, n, true, now)
            .map(Served::into_text)
    }

    /// A kept segment's TS bytes; `None` outside retention or still delayed.
    pub fn segment(
        &mut self,
        channel_id: &str,
        endpoint_id: &str,
        n: usize,
        sequence: u64,
        now: OffsetDateTime,
    ) -> Option<Bytes> {
        self.channels
            .get_mut(channel_id)?
            .segment(endpoint_id, n, sequence, now)
            .map(|s| s.body.to_bytes())
    }

    /// Segment bytes every channel keeps (see [`ChannelOrigin::retained_bytes`]).
    pub fn retained_bytes(&self) -> usize {
        self.channels
            .values()
            .map(ChannelOrigin::retained_bytes)
            .sum()
    }

    /// What `file` names under an endpoint whose `manifestName` is `manifest_name`.
    pub fn parse_file(manifest_name: &str, file: &str) -> Option<OriginFile> {
        let rest = file.strip_prefix(manifest_name)?;
        if rest == ".m3u8" {
            return Some(OriginFile::Multivariant);
        }
        let number = |s: &str| -> Option<u64> {
            if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            s.parse().ok()
        };
        let rest = rest.strip_prefix('_')?;
        if let Some(n) = rest.strip_suffix("_iframe.m3u8") {
            return variant_number(number(n)?).map(OriginFile::IFrames);
        }
        if let Some(n) = rest.strip_suffix(".m3u8") {
            return variant_number(number(n)?).map(OriginFile::Media);
        }
        let (n, seq) = rest.strip_suffix(".ts")?.split_once('_')?;
        Some(OriginFile::Segment(
            variant_number(number(n)?)?,
            number(seq)?,
        ))
    }
}

/// A variant number from a URI: 1 to [`MAX_STREAMS`].
fn variant_number(n: u64) -> Option<usize> {
    usize::try_from(n)
        .ok()
        .filter(|n| (1..=MAX_STREAMS).contains(n))
}

/// What a GET under an origin endpoint asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OriginFile {
    /// `{manifestName}.m3u8`.
    Multivariant,
    /// `{manifestName}_{n}.m3u8`.
    Media(usize),
    /// `{manifestName}_{n}_iframe.m3u8`.
    IFrames(usize),
    /// `{manifestName}_{n}_{sequence}.ts`.
    Segment(usize, u64),
}

/// One packaging channel's origin behind its own lock.
pub type ChannelHandle = Arc<Mutex<ChannelOrigin>>;

/// Locks a channel's origin (a panic while it was held does not make it unusable:
/// every method leaves it consistent).
pub fn lock_channel(handle: &Mutex<ChannelOrigin>) -> MutexGuard<'_, ChannelOrigin> {
    handle.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The origin as the HTTP front (ingest, GETs) and the channel engines (in-process
/// ingest) share it: a registry of [`ChannelHandle`]s, one per packaging channel.
///
/// There is no lock over all channels' work: the registry's lock is held only to
/// look a handle up (read) or to add or remove one (write), and everything else —
/// an ingest that demuxes and re-cuts a large segment, a GET that clones a segment or
/// a cached playlist — holds only its channel's lock. A channel removed from the
/// registry ([`sync`](Self::sync), [`remove_channel`](Self::remove_channel)) frees
/// its memory as soon as a request that holds its handle is done with it. Cloning
/// the store shares it.
#[derive(Clone, Debug, Default)]
pub struct OriginStore {
    inner: Arc<Registry>,
}

#[derive(Debug, Default)]
struct Registry {
    channels: RwLock<HashMap<String, ChannelHandle>>,
    retention: Retention,
    traffic: traffic::Traffic,
}

impl OriginStore {
    /// A store whose endpoints keep at most `retention` each.
    pub fn with_retention(retention: Retention) -> Self {
        Self {
            inner: Arc::new(Registry {
                channels: RwLock::default(),
                retention,
                traffic: traffic::Traffic::default(),
            }),
        }
    }

    /// Ingress and egress counters (the `AWS/MediaPackage` metrics).
    pub fn traffic(&self) -> &traffic::Traffic {
        &self.inner.traffic
    }

    /// The handle of `channel_id`, if it has ingested anything.
    pub fn channel(&self, channel_id: &str) -> Option<ChannelHandle> {
        self.inner
            .channels
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(channel_id)
            .cloned()
    }

    /// The handle of `channel_id`, created empty if missing.
    pub fn channel_or_insert(&self, channel_id: &str) -> ChannelHandle {
        if let Some(handle) = self.channel(channel_id) {
            return handle;
        }
        let retention = self.inner.retention;
        self.inner
            .channels
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(channel_id.to_owned())
            .or_insert_with(|| Arc::new(Mutex::new(ChannelOrigin::new(retention))))
            .clone()
    }

    /// Whether `channel_id` has ingested anything accepted.
    pub fn has_channel(&self, channel_id: &str) -> bool {
        self.channel(channel_id).is_some()
    }

    /// The ids of the channels in the store.
    pub fn channel_ids(&self) -> Vec<String> {
        self.inner
            .channels
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }

    /// Drops `channel_id` and everything it keeps; whether it was there.
    pub fn remove_channel(&self, channel_id: &str) -> bool {
        let removed = self
            .inner
            .channels
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(channel_id);
        removed.is_some()
    }

    /// Applies the packaging channels that exist and their origin endpoints now:
    /// channels not listed are dropped, and every listed channel in the store drops the
    /// endpoints not listed or configured differently ([`ChannelOrigin::configure`]).
    /// Channels are not created. Each channel is locked on its own, after the registry's
    /// lock is released.
    pub fn sync(&self, channels: &[(String, Vec<EndpointConfig>)]) {
        let ids: Vec<&str> = channels.iter().map(|(c, _)| c.as_str()).collect();
        self.inner.traffic.retain(&ids);
        let listed = |id: &String| channels.iter().any(|(c, _)| c == id);
        let stale = self
            .inner
            .channels
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .any(|id| !listed(id));
        let mut gone: Vec<ChannelHandle> = Vec::new();
        let kept: Vec<(ChannelHandle, &[EndpointConfig])> = if stale {
            let mut registry = self
                .inner
                .channels
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            registry.retain(|id, handle| {
                let keep = listed(id);
                if !keep {
                    gone.push(handle.clone());
                }
                keep
            });
            channels
                .iter()
                .filter_map(|(id, eps)| registry.get(id).map(|h| (h.clone(), eps.as_slice())))
                .collect()
        } else {
            let registry = self
                .inner
                .channels
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            channels
                .iter()
                .filter_map(|(id, eps)| registry.get(id).map(|h| (h.clone(), eps.as_slice())))
                .collect()
        };
        drop(gone);
        for (handle, endpoints) in kept {
            lock_channel(&handle).configure(endpoints);
        }
    }

    /// [`Origin::ingest`] on the channel's handle, then its warnings.
    pub fn ingest(
        &self,
        channel_id: &str,
        ingest_id: &str,
        name: &str,
        body: &[u8],
        endpoints: &[EndpointConfig],
        now: OffsetDateTime,
    ) -> (Ingested, Vec<String>) {
        self.inner.traffic.ingress(channel_id, body.len() as u64);
        let handle = self.channel_or_insert(channel_id);
        let mut channel = lock_channel(&handle);
        let outcome = channel.ingest(ingest_id, name, body, endpoints, now);
        (outcome, channel.take_warnings())
    }

    /// [`Origin::ingest_ts`] on the channel's handle, then its warnings.
    pub fn ingest_ts(
        &self,
        channel_id: &str,
        source: &str,
        stream: &str,
        ts: &[u8],
        endpoints: &[EndpointConfig],
        now: OffsetDateTime,
    ) -> (Ingested, Vec<String>) {
        self.inner.traffic.ingress(channel_id, ts.len() as u64);
        let handle = self.channel_or_insert(channel_id);
        let mut channel = lock_channel(&handle);
        let outcome = channel.ingest_ts(source, stream, ts, endpoints, now);
        (outcome, channel.take_warnings())
    }

    /// [`ChannelOrigin::serve`] on the channel's handle, held only for the lookup and
    /// the clone.
    pub fn serve(
        &self,
        channel_id: &str,
        endpoint_id: &str,
        file: OriginFile,
        options: &ServeOptions,
        now: OffsetDateTime,
    ) -> Option<Served> {
        let handle = self.channel(channel_id)?;
        let mut channel = lock_channel(&handle);
        channel.serve(endpoint_id, file, options, now)
    }

    /// Segment bytes every channel keeps (see [`ChannelOrigin::retained_bytes`]).
    pub fn retained_bytes(&self) -> usize {
        let handles: Vec<ChannelHandle> = self
            .inner
            .channels
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        handles
            .iter()
            .map(|h| lock_channel(h).retained_bytes())
            .sum()
    }
}

/// Reads codecs, resolution and frame rate from the PMT and the first SPS of a TS
/// segment: the first program's first H.264 stream (and whether it has AAC audio), found
/// by [`media::demux`].
pub fn probe(ts: &[u8]) -> Option<StreamInfo> {
    let mut demux = Demuxer::new();
    demux.push(ts);
    demux.flush();
    // The video PID and whether the program has AAC audio.
    let mut streams: Option<(Pid, bool)> = None;
    while let Some(event) = demux.poll() {
        match event {
            Event::Pat { .. } | Event::Pmt { .. } => {
                let program = demux.programs().first_program();
                let found = program.and_then(|p| {
                    let video = p.first_of_type(stream_type::H264)?.pid;
                    Some((video, p.first_of_type(stream_type::AAC_ADTS).is_some()))
                });
                if found.is_some() && found.map(|f| f.0) != streams.map(|s| s.0) {
                    if let Some((old, _)) = streams {
                        demux.deselect(old);
                    }
                    if let Some((video, _)) = found {
                        demux.select(video);
                    }
                }
                streams = found.or(streams);
            }
            Event::Pes(pes) => {
                let Some((_, audio)) = streams.filter(|(v, _)| *v == pes.pid) else {
                    continue;
                };
                if let Some(sps) = h264::find_sps(&pes.payload) {
                    let mut codecs: Vec<String> = h264::codec_string(sps).into_iter().collect();
                    if audio {
                        codecs.push("mp4a.40.2".to_owned());
                    }
                    let parsed = crate::sps::parse(sps);
                    return Some(StreamInfo {
                        codecs,
                        resolution: parsed.map(|s| (s.width, s.height)),
                        frame_rate: parsed.and_then(|s| s.frame_rate),
                    });
                }
            }
            _ => {}
        }
    }
    None
}

/// The body of the `origin` fuzz target (and of a property test): `data` split into
/// ingest calls of three in-process renditions and pushed segments and playlists,
/// time advancing, then every playlist and segment served. Never panics.
#[doc(hidden)]
pub fn fuzz_origin(data: &[u8]) {
    let eps = [
        EndpointConfig::new("a", "index", Duration::from_secs(1)),
        EndpointConfig {
            playlist_type: PlaylistType::Event,
            time_delay: Duration::from_secs(3),
            ..EndpointConfig::new("b", "main", Duration::from_secs(2))
        },
    ];
    let mut origin = Origin::with_retention(Retention {
        media: Duration::from_secs(30),
        bytes: 1 << 16,
    });
    let mut now = OffsetDateTime::UNIX_EPOCH;
    // Each call: one control byte, then up to 4 KiB.
    let mut rest = data;
    while let Some((&control, tail)) = rest.split_first() {
        let len = (usize::from(control) * 16 + 1).min(tail.len());
        let (body, tail) = tail.split_at(len);
        rest = tail;
        now += Duration::from_millis(u64::from(control % 8) * 500);
        let stream = (control % 3).to_string();
        let source = if control & 0x80 == 0 { "x" } else { "y" };
        if control & 0x40 == 0 {
            origin.ingest_ts("ch", source, &stream, body, &eps, now);
        } else if control & 0x20 == 0 {
            let name = format!("v{stream}_{}.ts", control % 5);
            origin.ingest("ch", source, &name, body, &eps, now);
        } else {
            origin.ingest("ch", source, "p.m3u8", body, &eps, now);
        }
    }
    let options = ServeOptions {
        iframes: true,
        ..ServeOptions::default()
    };
    for ep in ["a", "b"] {
        let _ = origin.multivariant("ch", ep, &options, now);
        for n in 1..=4 {
            let _ = origin.media_playlist("ch", ep, n, now);
            let _ = origin.iframe_playlist("ch", ep, n, now);
            for seq in 0..8 {
                let _ = origin.segment("ch", ep, n, seq, now);
            }
        }
    }
    let _ = origin.take_warnings();
}

pub mod traffic;

/// The package crate's synthetic TS program generator, shared with its integration tests.
#[cfg(test)]
#[path = "../../tests/package/stream.rs"]
#[allow(dead_code, clippy::unwrap_used)]
mod test_stream;

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::needless_range_loop
)]
mod tests;
