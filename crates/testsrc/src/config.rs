//! What a test source sends and where: [`Config`] with its [`Format`], [`Protocol`] and
//! [`FecMatrix`].

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use crate::impair::Impairments;
use crate::Error;

/// Audio sample rate (Hz).
pub const SAMPLE_RATE: u32 = 48_000;
/// Audio channels (stereo, the tone on both).
pub const CHANNELS: u16 = 2;
/// AAC-LC bit rate (bit/s).
pub const AUDIO_BITRATE: u32 = 128_000;
/// Lowest and highest tone frequency (Hz).
pub const TONE_RANGE: std::ops::RangeInclusive<u32> = 20..=20_000;

/// Picture size and rate. Every format is progressive, 4:2:0, with a GOP of one second and
/// a constant bit rate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Format {
    /// 1920×1080, 30 fps, 6 Mb/s.
    Hd1080p30,
    /// 1280×720, 30 fps, 3 Mb/s: the default (see the crate docs for why).
    #[default]
    Hd720p30,
    /// 1280×720, 25 fps, 2.5 Mb/s.
    Hd720p25,
}

impl Format {
    /// Every format, as `--format` lists them.
    pub const ALL: [Format; 3] = [Format::Hd1080p30, Format::Hd720p30, Format::Hd720p25];

    /// The name `--format` takes: `1080p30`, `720p30`, `720p25`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Hd1080p30 => "1080p30",
            Format::Hd720p30 => "720p30",
            Format::Hd720p25 => "720p25",
        }
    }

    /// (width, height) in pixels.
    pub fn size(self) -> (u32, u32) {
        match self {
            Format::Hd1080p30 => (1920, 1080),
            Format::Hd720p30 | Format::Hd720p25 => (1280, 720),
        }
    }

    /// Frames per second (whole: no 1000/1001 rates).
    pub fn fps(self) -> u32 {
        match self {
            Format::Hd1080p30 | Format::Hd720p30 => 30,
            Format::Hd720p25 => 25,
        }
    }

    /// H.264 bit rate (bit/s), constant: x264 pads with filler data, so the stream on the
    /// wire has the rate a contribution encoder's would.
    pub fn video_bitrate(self) -> u32 {
        match self {
            Format::Hd1080p30 => 6_000_000,
            Format::Hd720p30 => 3_000_000,
            Format::Hd720p25 => 2_500_000,
        }
    }

    /// Frames per GOP: one second, so a receiver joining or a stream coming back after
    /// `stop` is decodable within a second.
    pub fn gop(self) -> u32 {
        self.fps()
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                Error::Settings(format!(
                    "unknown format '{s}' (one of 1080p30, 720p30, 720p25)"
                ))
            })
    }
}

/// How the transport stream travels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// RTP (RFC 3550) with MPEG-TS payload (payload type 33, RFC 2250), 90 kHz timestamps:
    /// what ffmpeg's `rtp_mpegts` sends and an onair flow's `rtp` source takes.
    #[default]
    Rtp,
    /// RTP as above plus SMPTE 2022-1 FEC: column FEC to port + 2, row FEC to port + 4, as
    /// an onair flow's `rtp-fec` source takes it.
    RtpFec,
    /// MPEG-TS straight in UDP datagrams.
    Udp,
}

impl Protocol {
    /// `rtp`, `rtp-fec`, `udp`: the names flows use.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Rtp => "rtp",
            Protocol::RtpFec => "rtp-fec",
            Protocol::Udp => "udp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Protocol {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Protocol::Rtp, Protocol::RtpFec, Protocol::Udp]
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                Error::Settings(format!("unknown protocol '{s}' (one of rtp, rtp-fec, udp)"))
            })
    }
}

/// The SMPTE 2022-1 FEC matrix: `columns` (L) × `rows` (D) media packets. Column FEC
/// (one packet per column) repairs bursts of up to L; row FEC repairs scattered losses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FecMatrix {
    pub columns: u8,
    pub rows: u8,
}

impl Default for FecMatrix {
    /// 5 × 5: 40 % overhead with rows, a loss in every row of a column repaired.
    fn default() -> Self {
        Self {
            columns: 5,
            rows: 5,
        }
    }
}

impl FecMatrix {
    /// SMPTE 2022-1's limits with row FEC: L and D from 4 to 20, L × D at most 100.
    pub fn validate(self) -> Result<(), Error> {
        let ok = (4..=20).contains(&self.columns)
            && (4..=20).contains(&self.rows)
            && u16::from(self.columns).saturating_mul(u16::from(self.rows)) <= 100;
        if ok {
            Ok(())
        } else {
            Err(Error::Settings(format!(
                "FEC matrix {self}: columns and rows must be 4 to 20, columns × rows at most 100"
            )))
        }
    }
}

impl fmt::Display for FecMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.columns, self.rows)
    }
}

impl FromStr for FecMatrix {
    type Err = Error;

    /// `LxD`, e.g. `5x5` or `10x10`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || Error::Settings(format!("FEC matrix '{s}': write it COLUMNSxROWS, e.g. 5x5"));
        let (l, d) = s.trim().split_once(['x', 'X']).ok_or_else(bad)?;
        let m = Self {
            columns: l.parse().map_err(|_| bad())?,
            rows: d.parse().map_err(|_| bad())?,
        };
        m.validate()?;
        Ok(m)
    }
}

/// Everything a test source needs. [`Config::new`] fills in the defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Drawn large on the picture (cut to the picture's width).
    pub name: String,
    pub format: Format,
    /// Frequency of the tone in Hz ([`TONE_RANGE`]); give each source its own.
    pub tone_hz: u32,
    /// Where the media goes; FEC goes to its port + 2 and + 4. IPv4 or IPv6, unicast or
    /// multicast.
    pub destination: SocketAddr,
    pub protocol: Protocol,
    /// Used with [`Protocol::RtpFec`] only.
    pub fec: FecMatrix,
    /// In effect from the first frame.
    pub impairments: Impairments,
    /// Seed of the `drop` impairment's draws, for a repeatable loss pattern (None: random).
    pub seed: Option<u64>,
}

impl Config {
    /// 720p30 with a 1 kHz tone over RTP to `destination`, nothing impaired.
    pub fn new(name: impl Into<String>, destination: SocketAddr) -> Self {
        Self {
            name: name.into(),
            format: Format::default(),
            tone_hz: 1000,
            destination,
            protocol: Protocol::default(),
            fec: FecMatrix::default(),
            impairments: Impairments::none(),
            seed: None,
        }
    }

    /// Checks the settings: tone range, FEC matrix, destination port (and port + 4 for
    /// FEC), drop percentage.
    pub fn validate(&self) -> Result<(), Error> {
        if !TONE_RANGE.contains(&self.tone_hz) {
            return Err(Error::Settings(format!(
                "tone {} Hz: must be {} to {} Hz",
                self.tone_hz,
                TONE_RANGE.start(),
                TONE_RANGE.end()
            )));
        }
        let port = self.destination.port();
        if port == 0 {
            return Err(Error::Settings("destination port 0".into()));
        }
        if self.protocol == Protocol::RtpFec {
            self.fec.validate()?;
            if port > u16::MAX.saturating_sub(4) {
                return Err(Error::Settings(format!(
                    "destination port {port}: rtp-fec also uses port + 2 and port + 4"
                )));
            }
        }
        let drop = self.impairments.drop_percent;
        if drop.is_nan() || !(0.0..=100.0).contains(&drop) {
            return Err(Error::Settings(format!("drop {drop}%: must be 0 to 100")));
        }
        Ok(())
    }

    /// One line saying what is sent where, e.g. `1280x720 30 fps H.264 3.0 Mb/s CBR + AAC
    /// 48 kHz stereo 128 kb/s, 1000 Hz tone, to rtp-fec 127.0.0.1:5000 (FEC 5x5: columns
    /// to port 5002, rows to port 5004)`.
    pub fn describe(&self) -> String {
        let (w, h) = self.format.size();
        let mut s = format!(
            "{w}x{h} {} fps H.264 {:.1} Mb/s CBR + AAC {} kHz stereo {} kb/s, {} Hz tone, to {} {}",
            self.format.fps(),
            f64::from(self.format.video_bitrate()) / 1e6,
            SAMPLE_RATE / 1000,
            AUDIO_BITRATE / 1000,
            self.tone_hz,
            self.protocol,
            self.destination,
        );
        if self.protocol == Protocol::RtpFec {
            let port = self.destination.port();
            s.push_str(&format!(
                " (FEC {}: columns to port {}, rows to port {})",
                self.fec,
                port.saturating_add(2),
                port.saturating_add(4)
            ));
        }
        s
    }

    /// The small caption under the timecode: size, rate and tone.
    pub(crate) fn caption(&self) -> String {
        let (w, h) = self.format.size();
        format!("{w}x{h} {}P  {} HZ", self.format.fps(), self.tone_hz)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_print() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>().unwrap(), f);
        }
        assert_eq!("720P25".parse::<Format>().unwrap(), Format::Hd720p25);
        assert!("576i".parse::<Format>().is_err());
        assert_eq!("rtp-fec".parse::<Protocol>().unwrap(), Protocol::RtpFec);
        assert!("srt".parse::<Protocol>().is_err());
        assert_eq!(
            "10x10".parse::<FecMatrix>().unwrap(),
            FecMatrix {
                columns: 10,
                rows: 10
            }
        );
        for bad in ["20x20", "3x5", "5", "ax5", "5x21"] {
            assert!(bad.parse::<FecMatrix>().is_err(), "{bad}");
        }
    }

    #[test]
    fn validates_and_describes() {
        let mut c = Config::new("cam", "127.0.0.1:5000".parse().unwrap());
        c.validate().unwrap();
        c.protocol = Protocol::RtpFec;
        assert_eq!(
            c.describe(),
            "1280x720 30 fps H.264 3.0 Mb/s CBR + AAC 48 kHz stereo 128 kb/s, 1000 Hz tone, \
             to rtp-fec 127.0.0.1:5000 (FEC 5x5: columns to port 5002, rows to port 5004)"
        );
        c.destination = "[::1]:65534".parse().unwrap();
        assert!(c.validate().is_err());
        c.protocol = Protocol::Udp;
        c.validate().unwrap();
        c.tone_hz = 30_000;
        assert!(c.validate().is_err());
        c.tone_hz = 440;
        c.impairments.drop_percent = f64::NAN;
        assert!(c.validate().is_err());
        c.impairments.drop_percent = 100.0;
        c.validate().unwrap();
        assert_eq!(c.caption(), "1280x720 30P  440 HZ");
    }
}
