//! Input loss behaviour (`globalConfiguration.inputLossBehavior`) as the channel engine
//! takes it: what to show while the input delivers no picture. `live::loss` runs it.

use std::time::Duration;

/// `repeatFrameMsec` / `blackFrameMsec` value MediaLive reads as "for ever".
pub const INFINITE_MS: u64 = 1_000_000;

/// What follows black on input loss (`inputLossImageType`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LossImage {
    /// A solid colour, RGB (`inputLossImageColor`).
    Color([u8; 3]),
    /// A PNG or JPEG file on this machine (`inputLossImageSlate.uri`), decoded once.
    Slate(std::path::PathBuf),
}

/// Input loss behaviour of a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputLossConfig {
    /// No picture for this long is input loss.
    pub threshold: Duration,
    /// Repeat the last picture this long after the last picture (`repeatFrameMsec`).
    pub repeat: Duration,
    /// Then black this long (`blackFrameMsec`).
    pub black: Duration,
    /// Then this, until the input returns.
    pub image: LossImage,
}

impl Default for InputLossConfig {
    /// MediaLive's defaults: 1 s threshold, 1 s repeat, 10 s black, then black colour.
    fn default() -> Self {
        Self {
            threshold: Duration::from_millis(1000),
            repeat: Duration::from_millis(1000),
            black: Duration::from_millis(10_000),
            image: LossImage::Color([0, 0, 0]),
        }
    }
}

/// Parses `inputLossImageColor`: six hex digits, RGB.
pub fn parse_color(hex: &str) -> Option<[u8; 3]> {
    if hex.len() != 6 || !hex.is_ascii() {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?])
}
