//! Inter prediction (RFC 6386 section 18): a block of a reference plane displaced by a
//! motion vector in eighth pixels, interpolated with the six-tap filters (version 0) or
//! the bilinear ones (versions 1 to 3).
//!
//! Two-dimensional interpolation is horizontal first (rows two above to three below the
//! block, rounded and clamped to 8 bits), then vertical, as in the reference decoder; a
//! pass whose fraction is zero is the identity and is skipped. Vectors may point anywhere:
//! a block whose source (with the filter's reach) leaves the plane is read through clamped
//! coordinates, which is the reference frame extended without end.

use crate::frame::Plane;
use crate::modes::Mv;
use crate::tables::{BILINEAR_FILTERS, SIXTAP_FILTERS};

/// The interpolation filter of the bitstream version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Six taps (version 0).
    SixTap,
    /// Two taps (versions 1 to 3).
    Bilinear,
}

/// Largest block predicted at once (a luma macroblock).
const MAX_BLOCK: usize = 16;
/// Source rows and columns around a block that six-tap filtering reads.
const REACH_BEFORE: usize = 2;
const REACH_AFTER: usize = 3;
const WINDOW: usize = MAX_BLOCK + REACH_BEFORE + REACH_AFTER;

/// Where a block is predicted into.
pub struct Target<'a> {
    /// The plane's pixels.
    pub data: &'a mut [u8],
    /// Offset of the block's top-left pixel.
    pub at: usize,
    /// Row stride.
    pub stride: usize,
}

/// Predicts the `w`x`h` block whose top-left pixel is at (`x`, `y`) from `reference`
/// displaced by `mv` (eighths of a pixel of this plane).
#[allow(clippy::too_many_arguments)]
pub fn predict(
    reference: &Plane,
    (x, y): (usize, usize),
    (w, h): (usize, usize),
    mv: Mv,
    filter: Filter,
    out: &mut Target,
) {
    debug_assert!(w <= MAX_BLOCK && h <= MAX_BLOCK);
    let fx = (mv.x & 7) as usize;
    let fy = (mv.y & 7) as usize;
    let sx = x as isize + isize::from(mv.x >> 3) - REACH_BEFORE as isize;
    let sy = y as isize + isize::from(mv.y >> 3) - REACH_BEFORE as isize;
    let (ww, wh) = (
        w + REACH_BEFORE + REACH_AFTER,
        h + REACH_BEFORE + REACH_AFTER,
    );
    let inside = sx >= 0
        && sy >= 0
        && sx as usize + ww <= reference.width
        && sy as usize + wh <= reference.height;
    let window: [u8; WINDOW * WINDOW];
    let (src, stride, origin) = if inside {
        let stride = reference.stride();
        let origin = (sy as usize + REACH_BEFORE) * stride + sx as usize + REACH_BEFORE;
        (&reference.data[..], stride, origin)
    } else {
        window = extend_window(reference, (sx, sy), (ww, wh));
        (&window[..], WINDOW, REACH_BEFORE * WINDOW + REACH_BEFORE)
    };
    let source = Source {
        data: src,
        origin,
        stride,
    };
    match filter {
        Filter::SixTap => sixtap(&source, (w, h), (fx, fy), out),
        Filter::Bilinear => bilinear(&source, (w, h), (fx, fy), out),
    }
}

/// The source pixels: `data[origin]` is the block's displaced top-left pixel.
struct Source<'a> {
    data: &'a [u8],
    origin: usize,
    stride: usize,
}

/// The `ww`x`wh` window at (`sx`, `sy`) of `plane` (rows `WINDOW` apart), repeating the
/// plane's edge pixels for positions outside it.
fn extend_window(
    plane: &Plane,
    (sx, sy): (isize, isize),
    (ww, wh): (usize, usize),
) -> [u8; WINDOW * WINDOW] {
    let mut window = [0u8; WINDOW * WINDOW];
    let max_x = plane.width as isize - 1;
    let max_y = plane.height as isize - 1;
    for r in 0..wh {
        let py = (sy + r as isize).clamp(0, max_y) as usize;
        let row = &plane.data[py * plane.stride()..][..plane.width];
        let out = &mut window[r * WINDOW..r * WINDOW + ww];
        for (c, px) in out.iter_mut().enumerate() {
            *px = row[(sx + c as isize).clamp(0, max_x) as usize];
        }
    }
    window
}

#[inline(always)]
fn round_clamp(sum: i32) -> u8 {
    ((sum + 64) >> 7).clamp(0, 255) as u8
}

fn sixtap(src: &Source, (w, h): (usize, usize), (fx, fy): (usize, usize), out: &mut Target) {
    let s = src.stride;
    match (fx, fy) {
        (0, 0) => {
            for r in 0..h {
                let from = src.origin + r * s;
                out.data[out.at + r * out.stride..][..w].copy_from_slice(&src.data[from..from + w]);
            }
        }
        (_, 0) => {
            let f = &SIXTAP_FILTERS[fx];
            for r in 0..h {
                let row = &src.data[src.origin + r * s - 2..][..w + 5];
                let dst = &mut out.data[out.at + r * out.stride..][..w];
                horizontal6(row, f, dst);
            }
        }
        (0, _) => {
            let f = &SIXTAP_FILTERS[fy];
            for r in 0..h {
                let top = src.origin + r * s - 2 * s;
                let dst = &mut out.data[out.at + r * out.stride..][..w];
                vertical6(src.data, top, s, f, dst);
            }
        }
        // The intermediate rows, sized to the block (zeroing a larger one costs more than
        // filtering a 4x4 block).
        _ if w <= 4 && h <= 4 => sixtap_2d(src, (w, h), (fx, fy), out, &mut [0u8; 4 * 9], 4),
        _ if w <= 8 && h <= 8 => sixtap_2d(src, (w, h), (fx, fy), out, &mut [0u8; 8 * 13], 8),
        _ => sixtap_2d(
            src,
            (w, h),
            (fx, fy),
            out,
            &mut [0u8; MAX_BLOCK * 21],
            MAX_BLOCK,
        ),
    }
}

/// Both passes: `tmp` holds `h + 5` horizontally filtered rows, `tmp_stride` apart.
fn sixtap_2d(
    src: &Source,
    (w, h): (usize, usize),
    (fx, fy): (usize, usize),
    out: &mut Target,
    tmp: &mut [u8],
    tmp_stride: usize,
) {
    let s = src.stride;
    let fh = &SIXTAP_FILTERS[fx];
    for r in 0..h + 5 {
        let row = &src.data[src.origin + r * s - 2 * s - 2..][..w + 5];
        horizontal6(row, fh, &mut tmp[r * tmp_stride..r * tmp_stride + w]);
    }
    let fv = &SIXTAP_FILTERS[fy];
    for r in 0..h {
        let dst = &mut out.data[out.at + r * out.stride..][..w];
        vertical6(tmp, r * tmp_stride, tmp_stride, fv, dst);
    }
}

/// Filters one row: `row[c..c + 6]` makes output pixel `c`.
#[inline(always)]
fn horizontal6(row: &[u8], f: &[i32; 6], dst: &mut [u8]) {
    for (c, px) in dst.iter_mut().enumerate() {
        let t = &row[c..c + 6];
        let sum = i32::from(t[0]) * f[0]
            + i32::from(t[1]) * f[1]
            + i32::from(t[2]) * f[2]
            + i32::from(t[3]) * f[3]
            + i32::from(t[4]) * f[4]
            + i32::from(t[5]) * f[5];
        *px = round_clamp(sum);
    }
}

/// Filters one output row from the six source rows starting at `data[top..]`.
#[inline(always)]
fn vertical6(data: &[u8], top: usize, stride: usize, f: &[i32; 6], dst: &mut [u8]) {
    let w = dst.len();
    let rows: [&[u8]; 6] = std::array::from_fn(|k| &data[top + k * stride..][..w]);
    for (c, px) in dst.iter_mut().enumerate() {
        let sum = i32::from(rows[0][c]) * f[0]
            + i32::from(rows[1][c]) * f[1]
            + i32::from(rows[2][c]) * f[2]
            + i32::from(rows[3][c]) * f[3]
            + i32::from(rows[4][c]) * f[4]
            + i32::from(rows[5][c]) * f[5];
        *px = round_clamp(sum);
    }
}

fn bilinear(src: &Source, (w, h): (usize, usize), (fx, fy): (usize, usize), out: &mut Target) {
    let s = src.stride;
    // Horizontal pass over h + 1 rows (h when there is no vertical pass).
    let rows = if fy == 0 { h } else { h + 1 };
    let mut tmp = [0u8; MAX_BLOCK * (MAX_BLOCK + 1)];
    let [h0, h1] = BILINEAR_FILTERS[fx];
    for r in 0..rows {
        let row = &src.data[src.origin + r * s..][..w + 1];
        let dst = &mut tmp[r * MAX_BLOCK..r * MAX_BLOCK + w];
        for (c, px) in dst.iter_mut().enumerate() {
            *px = if fx == 0 {
                row[c]
            } else {
                round_clamp(i32::from(row[c]) * h0 + i32::from(row[c + 1]) * h1)
            };
        }
    }
    let [v0, v1] = BILINEAR_FILTERS[fy];
    for r in 0..h {
        let dst = &mut out.data[out.at + r * out.stride..][..w];
        for (c, px) in dst.iter_mut().enumerate() {
            let a = tmp[r * MAX_BLOCK + c];
            *px = if fy == 0 {
                a
            } else {
                round_clamp(i32::from(a) * v0 + i32::from(tmp[(r + 1) * MAX_BLOCK + c]) * v1)
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(width: usize, height: usize) -> Plane {
        let data = (0..width * height)
            .map(|i| ((i % width) * 4 + (i / width)) as u8)
            .collect();
        Plane {
            data,
            width,
            height,
        }
    }

    fn run(p: &Plane, pos: (usize, usize), mv: Mv, filter: Filter) -> [u8; 16] {
        let mut out = [0u8; 16];
        predict(
            p,
            pos,
            (4, 4),
            mv,
            filter,
            &mut Target {
                data: &mut out,
                at: 0,
                stride: 4,
            },
        );
        out
    }

    #[test]
    fn whole_pixel_vectors_copy() {
        let p = ramp(32, 32);
        let got = run(&p, (8, 8), Mv { x: 16, y: -8 }, Filter::SixTap);
        assert_eq!(got[0], p.data[7 * 32 + 10]);
        assert_eq!(got[15], p.data[10 * 32 + 13]);
    }

    #[test]
    fn half_pixel_on_a_linear_ramp_is_the_midpoint() {
        // Both filters are exact on linear data: the half-pixel sample is the average.
        let p = ramp(32, 32);
        for filter in [Filter::SixTap, Filter::Bilinear] {
            let got = run(&p, (8, 8), Mv { x: 4, y: 0 }, filter);
            let want = (u16::from(p.data[8 * 32 + 8]) + u16::from(p.data[8 * 32 + 9])) / 2;
            assert_eq!(u16::from(got[0]), want, "{filter:?}");
        }
    }

    #[test]
    fn vectors_far_outside_repeat_the_edge() {
        let p = ramp(32, 32);
        let got = run(&p, (0, 0), Mv { x: -800, y: -800 }, Filter::SixTap);
        assert_eq!(got, [p.data[0]; 16]);
        let got = run(&p, (28, 28), Mv { x: 803, y: 5 }, Filter::SixTap);
        // Every column is the right edge; rows still differ vertically.
        assert_eq!(got[0], got[3]);
        let inside = run(&p, (28, 28), Mv { x: 0, y: 5 }, Filter::SixTap);
        assert_eq!(got[12], inside[15]);
    }
}
