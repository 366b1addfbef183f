//! The test pattern, drawn without FFmpeg into the planes of a YUV 4:2:0 picture
//! (ITU-R BT.709, limited range).
//!
//! ```text
//! ┌──────────────────────────────────────────────┐
//! │ 75 % colour bars: white yellow cyan green     │  45 %
//! │ magenta red blue                              │
//! ├──────────────────────────────────────────────┤
//! │ luma ramp 16 → 235                            │   5 %
//! ├──────────────────────────────────────────────┤
//! │        ██  ← white box, 2 s across and back   │  10 %
//! ├──────────────────────────────────────────────┤
//! │                 SOURCE NAME                   │
//! │                 HH:MM:SS:FF                   │  40 %
//! │              1280X720 30P 1000 HZ             │
//! └──────────────────────────────────────────────┘
//! ```
//!
//! Everything that does not move is drawn once into a background per plane; a picture is
//! that background copied row by row, the box filled at its place for the frame and the
//! timecode blitted. Captions are white on black, which differ in luma only, so the moving
//! parts touch only the luma plane past the copy. Every write is clipped to the plane: no
//! size or string makes it write outside `data`.

use crate::font;

/// A colour as (Y, Cb, Cr), BT.709 limited range.
pub type Yuv = [u8; 3];
/// Black: what the `black` impairment sends and ffmpeg's `blackdetect` finds.
pub const BLACK: Yuv = [16, 128, 128];
/// 100 % white.
pub const WHITE: Yuv = [235, 128, 128];
/// 75 % colour bars in BT.709: white, yellow, cyan, green, magenta, red, blue
/// (the upper bars of SMPTE RP 219).
pub const BARS: [Yuv; 7] = [
    [180, 128, 128],
    [168, 44, 136],
    [145, 147, 44],
    [133, 63, 52],
    [63, 193, 204],
    [51, 109, 212],
    [28, 212, 120],
];

/// One plane of a YUV 4:2:0 picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plane {
    Y,
    Cb,
    Cr,
}

impl Plane {
    /// The planes in FFmpeg's order (data[0], data[1], data[2]).
    pub const ALL: [Plane; 3] = [Plane::Y, Plane::Cb, Plane::Cr];

    /// This plane's component of `colour`.
    pub fn of(self, colour: Yuv) -> u8 {
        let [y, cb, cr] = colour;
        match self {
            Plane::Y => y,
            Plane::Cb => cb,
            Plane::Cr => cr,
        }
    }

    /// log2 of the subsampling: 0 for luma, 1 for chroma (4:2:0).
    fn shift(self) -> u32 {
        match self {
            Plane::Y => 0,
            Plane::Cb | Plane::Cr => 1,
        }
    }
}

/// A rectangle in luma pixels, `[x0, x1) × [y0, y1)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    pub x0: usize,
    pub y0: usize,
    pub x1: usize,
    pub y1: usize,
}

/// One plane's pixels, rows `stride` bytes apart; coordinates are given in luma pixels.
struct Canvas<'a> {
    data: &'a mut [u8],
    stride: usize,
    width: usize,
    height: usize,
    shift: u32,
}

impl Canvas<'_> {
    fn fill(&mut self, r: Rect, value: u8) {
        let x0 = (r.x0 >> self.shift).min(self.width);
        let x1 = (r.x1 >> self.shift).min(self.width);
        let y1 = (r.y1 >> self.shift).min(self.height);
        for y in (r.y0 >> self.shift)..y1 {
            let start = y.saturating_mul(self.stride).saturating_add(x0);
            let end = start.saturating_add(x1.saturating_sub(x0));
            if let Some(row) = self.data.get_mut(start..end) {
                row.fill(value);
            }
        }
    }

    /// Draws `text` with its top left corner at (x, y), each font pixel `scale` pixels wide.
    fn text(&mut self, x: usize, y: usize, scale: usize, text: &str, value: u8) {
        for (i, c) in text.chars().enumerate() {
            let left = x.saturating_add(i.saturating_mul(font::ADVANCE).saturating_mul(scale));
            for (row, bits) in font::glyph(c).iter().enumerate() {
                let top = y.saturating_add(row.saturating_mul(scale));
                for col in 0..font::WIDTH {
                    if bits & (0x10 >> col) != 0 {
                        let x0 = left.saturating_add(col.saturating_mul(scale));
                        self.fill(
                            Rect {
                                x0,
                                y0: top,
                                x1: x0.saturating_add(scale),
                                y1: top.saturating_add(scale),
                            },
                            value,
                        );
                    }
                }
            }
        }
    }
}

/// Rounds down to an even number (4:2:0 chroma covers 2×2 luma pixels).
fn even(v: usize) -> usize {
    v & !1
}

/// `v × num / den` for the layout's fractions.
fn part(v: usize, num: usize, den: usize) -> usize {
    v.saturating_mul(num).checked_div(den).unwrap_or(0)
}

/// A caption line: where it starts and how big it is drawn.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Caption {
    x: usize,
    y: usize,
    scale: usize,
}

/// The pattern of one source at one size. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct Pattern {
    width: usize,
    height: usize,
    fps: u32,
    /// The still parts, one tight buffer per plane (Y, Cb, Cr).
    background: [Vec<u8>; 3],
    /// The band the box moves in.
    lane: Rect,
    box_width: usize,
    timecode: Caption,
}

/// Characters of a timecode, HH:MM:SS:FF.
const TIMECODE_CHARS: usize = 11;

impl Pattern {
    /// The pattern for pictures of `width` × `height` (even, at least 64 × 64 for legible
    /// captions) at `fps` frames per second, with `name` in large letters and `info` (the
    /// format and tone, say) in small ones; both are cut to the picture's width.
    pub fn new(width: u32, height: u32, fps: u32, name: &str, info: &str) -> Self {
        let width = even(usize::try_from(width).unwrap_or(0));
        let height = even(usize::try_from(height).unwrap_or(0));
        let scale = (height / 72).max(1);
        let lane = Rect {
            x0: 0,
            y0: even(part(height, 50, 100)),
            x1: width,
            y1: even(part(height, 60, 100)),
        };
        let pad = even(lane.y1.saturating_sub(lane.y0) / 8);
        let lane = Rect {
            y0: lane.y0.saturating_add(pad),
            y1: lane.y1.saturating_sub(pad),
            ..lane
        };
        let box_width = even(lane.y1.saturating_sub(lane.y0).saturating_mul(2));
        let text_top = even(part(height, 60, 100));
        let name_at = Caption {
            x: 0,
            y: text_top.saturating_add(scale.saturating_mul(3)),
            scale,
        };
        let timecode = Caption {
            x: 0,
            y: name_at.y.saturating_add(scale.saturating_mul(10)),
            scale,
        };
        let info_at = Caption {
            x: 0,
            y: timecode.y.saturating_add(scale.saturating_mul(10)),
            scale: (scale / 2).max(1),
        };
        let mut pattern = Self {
            width,
            height,
            fps: fps.max(1),
            background: [Vec::new(), Vec::new(), Vec::new()],
            lane,
            box_width,
            timecode: Caption {
                x: centred(width, TIMECODE_CHARS, scale),
                ..timecode
            },
        };
        let name = fit(name, width, scale);
        let info = fit(info, width, info_at.scale);
        let name_at = Caption {
            x: centred(width, name.chars().count(), scale),
            ..name_at
        };
        let info_at = Caption {
            x: centred(width, info.chars().count(), info_at.scale),
            ..info_at
        };
        for (i, plane) in Plane::ALL.into_iter().enumerate() {
            let (w, h) = pattern.plane_size(plane);
            let mut data = vec![plane.of(BLACK); w.saturating_mul(h)];
            let mut canvas = Canvas {
                data: &mut data,
                stride: w,
                width: w,
                height: h,
                shift: plane.shift(),
            };
            pattern.draw_still(&mut canvas, plane, &name, &name_at, &info, &info_at);
            if let Some(slot) = pattern.background.get_mut(i) {
                *slot = data;
            }
        }
        pattern
    }

    /// Width and height of `plane` in pixels.
    pub fn plane_size(&self, plane: Plane) -> (usize, usize) {
        let s = plane.shift();
        (self.width >> s, self.height >> s)
    }

    /// Where the moving box is in picture `n`: across the picture in 2 s and back.
    pub fn box_at(&self, n: u64) -> Rect {
        let fps = u64::from(self.fps);
        let half = fps.saturating_mul(2).max(1);
        let phase = n.checked_rem(half.saturating_mul(2)).unwrap_or(0);
        let step = if phase < half {
            phase
        } else {
            half.saturating_mul(2).saturating_sub(phase)
        };
        let travel = u64::try_from(self.width.saturating_sub(self.box_width)).unwrap_or(0);
        let x = travel.saturating_mul(step).checked_div(half).unwrap_or(0);
        let x0 = even(usize::try_from(x).unwrap_or(0));
        Rect {
            x0,
            y0: self.lane.y0,
            x1: x0.saturating_add(self.box_width),
            y1: self.lane.y1,
        }
    }

    /// Draws `plane` of picture `n` with `timecode` burnt in into `data`, whose rows are
    /// `stride` bytes apart (FFmpeg's linesize). Bytes past each row's width are untouched.
    pub fn draw(&self, plane: Plane, n: u64, timecode: &str, data: &mut [u8], stride: usize) {
        let (w, h) = self.plane_size(plane);
        let background = match plane {
            Plane::Y => self.background.first(),
            Plane::Cb => self.background.get(1),
            Plane::Cr => self.background.get(2),
        };
        let rows = background
            .into_iter()
            .flat_map(|b| b.chunks_exact(w.max(1)))
            .take(h);
        for (y, src) in rows.enumerate() {
            let start = y.saturating_mul(stride);
            if let Some(dst) = data.get_mut(start..start.saturating_add(w)) {
                dst.copy_from_slice(src);
            }
        }
        let mut canvas = Canvas {
            data,
            stride,
            width: w,
            height: h,
            shift: plane.shift(),
        };
        canvas.fill(self.box_at(n), plane.of(WHITE));
        if plane == Plane::Y {
            let t = &self.timecode;
            canvas.text(t.x, t.y, t.scale, timecode, WHITE[0]);
        }
    }

    /// Fills `plane` with black (see [`Pattern::draw`] for `data` and `stride`).
    pub fn draw_black(&self, plane: Plane, data: &mut [u8], stride: usize) {
        let (w, h) = self.plane_size(plane);
        let mut canvas = Canvas {
            data,
            stride,
            width: w,
            height: h,
            shift: 0,
        };
        canvas.fill(
            Rect {
                x0: 0,
                y0: 0,
                x1: w,
                y1: h,
            },
            plane.of(BLACK),
        );
    }

    fn draw_still(
        &self,
        canvas: &mut Canvas<'_>,
        plane: Plane,
        name: &str,
        name_at: &Caption,
        info: &str,
        info_at: &Caption,
    ) {
        let bars_end = even(part(self.height, 45, 100));
        let mut x0 = 0;
        for (i, colour) in BARS.iter().enumerate() {
            let x1 = if i.saturating_add(1) == BARS.len() {
                self.width
            } else {
                even(part(self.width, i.saturating_add(1), BARS.len()))
            };
            let r = Rect {
                x0,
                y0: 0,
                x1,
                y1: bars_end,
            };
            canvas.fill(r, plane.of(*colour));
            x0 = x1;
        }
        let ramp_end = even(part(self.height, 50, 100));
        if plane == Plane::Y {
            // Luma from 16 to 235 across the picture, one column at a time.
            let last = self.width.saturating_sub(1).max(1);
            for x in 0..self.width {
                let v = 16usize.saturating_add(part(x, 219, last));
                let r = Rect {
                    x0: x,
                    y0: bars_end,
                    x1: x.saturating_add(1),
                    y1: ramp_end,
                };
                canvas.fill(r, u8::try_from(v).unwrap_or(235));
            }
            canvas.text(name_at.x, name_at.y, name_at.scale, name, WHITE[0]);
            canvas.text(info_at.x, info_at.y, info_at.scale, info, WHITE[0]);
        }
    }
}

/// The left edge of `chars` characters drawn at `scale`, centred in `width`.
fn centred(width: usize, chars: usize, scale: usize) -> usize {
    let text = chars
        .saturating_mul(font::ADVANCE)
        .saturating_sub(1)
        .saturating_mul(scale);
    even(width.saturating_sub(text) / 2)
}

/// `text` cut to what fits `width` at `scale` with a margin of a character each side.
fn fit(text: &str, width: usize, scale: usize) -> String {
    let cell = font::ADVANCE.saturating_mul(scale).max(1);
    let room = width.checked_div(cell).unwrap_or(0).saturating_sub(2);
    text.chars().take(room).collect()
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    /// Draws every plane of picture `n` into buffers with `pad` bytes past each row.
    fn render(p: &Pattern, n: u64, tc: &str, pad: usize) -> Vec<(Vec<u8>, usize)> {
        Plane::ALL
            .iter()
            .map(|&plane| {
                let (w, h) = p.plane_size(plane);
                let stride = w + pad;
                let mut data = vec![0xAA; stride * h];
                p.draw(plane, n, tc, &mut data, stride);
                (data, stride)
            })
            .collect()
    }

    fn at(planes: &[(Vec<u8>, usize)], x: usize, y: usize) -> Yuv {
        let (yd, ys) = &planes[0];
        let (ud, us) = &planes[1];
        let (vd, vs) = &planes[2];
        [
            yd[y * ys + x],
            ud[y / 2 * us + x / 2],
            vd[y / 2 * vs + x / 2],
        ]
    }

    #[test]
    fn draws_bars_ramp_box_and_captions() {
        let p = Pattern::new(1280, 720, 30, "primary", "1280X720 30P 1000 HZ");
        let planes = render(&p, 0, "12:00:00:00", 32);
        // Each bar at its centre, in all three planes.
        for (i, colour) in BARS.iter().enumerate() {
            let x = (2 * i + 1) * 1280 / 14;
            assert_eq!(at(&planes, x, 100), *colour, "bar {i}");
        }
        // The ramp rises from black to white.
        let ramp: Vec<u8> = (0..1280)
            .step_by(64)
            .map(|x| at(&planes, x, 340)[0])
            .collect();
        assert!(ramp.windows(2).all(|w| w[0] < w[1]), "{ramp:?}");
        assert_eq!(at(&planes, 0, 340)[0], 16);
        assert_eq!(at(&planes, 1279, 340)[0], 235);
        // Frame 0: the box at the left of the lane.
        assert_eq!(at(&planes, 10, 396), WHITE);
        assert_eq!(at(&planes, 1270, 396), BLACK);
        // The name and timecode are drawn in white somewhere in the caption area.
        let white_rows = |from: usize, to: usize| {
            (from..to)
                .filter(|&y| (0..1280).any(|x| at(&planes, x, y)[0] == 235))
                .count()
        };
        assert!(white_rows(440, 540) > 50, "name");
        assert!(white_rows(550, 640) > 50, "timecode");
        // Padding past each row is never written.
        for (data, stride) in &planes {
            let width = if *stride == 1280 + 32 { 1280 } else { 640 };
            assert!(data
                .chunks(*stride)
                .all(|row| row[width..].iter().all(|&b| b == 0xAA)));
        }
    }

    #[test]
    fn the_box_moves_and_the_timecode_changes_the_picture() {
        let p = Pattern::new(1280, 720, 30, "x", "");
        let xs: Vec<usize> = (0..=240).step_by(30).map(|n| p.box_at(n).x0).collect();
        // Across in 2 s (60 frames), back in 2 s, again.
        assert_eq!(xs[0], 0);
        assert_eq!(xs[2], 1280 - p.box_width);
        assert_eq!(xs[4], 0);
        assert_eq!(xs[1], xs[3]);
        assert_eq!(xs[8], 0);
        assert!(p.box_at(1).x0 > 0);
        let a = render(&p, 5, "00:00:00:05", 0);
        let b = render(&p, 5, "00:00:00:06", 0);
        let c = render(&p, 6, "00:00:00:05", 0);
        assert_ne!(a[0], b[0]);
        assert_eq!(a[1], b[1]);
        assert_ne!(a[0], c[0]);
    }

    #[test]
    fn black_is_black_everywhere() {
        let p = Pattern::new(1920, 1080, 30, "x", "");
        for plane in Plane::ALL {
            let (w, h) = p.plane_size(plane);
            let mut data = vec![7; (w + 64) * h];
            p.draw_black(plane, &mut data, w + 64);
            for row in data.chunks(w + 64) {
                assert!(row[..w].iter().all(|&v| v == plane.of(BLACK)));
                assert!(row[w..].iter().all(|&v| v == 7));
            }
        }
    }

    #[test]
    fn never_writes_outside_the_buffer() {
        // A long name, tiny and odd sizes, short buffers: clipped, no panic.
        let long = "a very long source name that cannot fit on one line of the picture";
        for (w, h) in [(1280, 720), (64, 64), (2, 2), (0, 0), (33, 17)] {
            let p = Pattern::new(w, h, 25, long, long);
            for plane in Plane::ALL {
                let (pw, ph) = p.plane_size(plane);
                let mut data = vec![0; pw * ph / 2];
                p.draw(plane, 77, "23:59:59:24", &mut data, pw);
                p.draw_black(plane, &mut data, pw);
            }
        }
        assert_eq!(fit(long, 1280, 10).chars().count(), 19);
        assert_eq!(centred(1280, 11, 10), 314);
    }
}
