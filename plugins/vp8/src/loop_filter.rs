//! The loop filter (RFC 6386 section 15), run one macroblock row behind reconstruction so
//! that intra prediction sees unfiltered pixels.
//!
//! Per macroblock, in raster order: its left edge, its inner vertical edges, its top edge,
//! its inner horizontal edges. Inner edges are skipped for macroblocks without
//! coefficients that are predicted whole (not B_PRED nor SPLITMV). The arithmetic works on
//! pixel values directly; it equals the RFC's signed form (values offset by 128).

use crate::frame::Frame;
use crate::header::LoopFilter;
use crate::modes::{LumaMode, MbInfo, RefFrame};

/// Filter strengths of one macroblock (section 15.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Strength {
    /// Filter level 0..=63 (0: not filtered).
    pub level: i32,
    /// Interior limit.
    pub interior: i32,
    /// High edge variance threshold.
    pub hev_threshold: i32,
}

/// The filter strength of `mb` given the frame's parameters and its segment's level.
pub fn strength(lf: &LoopFilter, segment_level: i32, mb: &MbInfo, keyframe: bool) -> Strength {
    let mut level = segment_level.clamp(0, 63);
    if lf.deltas_enabled {
        level += lf.ref_delta[mb.ref_frame as usize];
        level += match (mb.ref_frame, mb.y_mode) {
            (RefFrame::Intra, LumaMode::B) => lf.mode_delta[0],
            (RefFrame::Intra, _) => 0,
            (_, LumaMode::Zero) => lf.mode_delta[1],
            (_, LumaMode::Split) => lf.mode_delta[3],
            _ => lf.mode_delta[2],
        };
        level = level.clamp(0, 63);
    }
    let mut interior = level;
    if lf.sharpness > 0 {
        interior >>= if lf.sharpness > 4 { 2 } else { 1 };
        interior = interior.min(9 - lf.sharpness);
    }
    let interior = interior.max(1);
    let mut hev_threshold = i32::from(level >= 15) + i32::from(level >= 40);
    if level >= 20 && !keyframe {
        hev_threshold += 1;
    }
    Strength {
        level,
        interior,
        hev_threshold,
    }
}

/// Filters macroblock row `row` of `frame`; `strengths[c]` and `inner[c]` are column `c`'s
/// strength and whether its inner edges are filtered.
pub fn filter_row(
    frame: &mut Frame,
    row: usize,
    strengths: &[Strength],
    inner: &[bool],
    simple: bool,
) {
    for (col, (s, &inner)) in strengths.iter().zip(inner).enumerate() {
        if s.level == 0 {
            continue;
        }
        let limits = [(s.level + 2) * 2 + s.interior, s.level * 2 + s.interior];
        let (left, top) = (col > 0, row > 0);
        let stride = frame.y.stride();
        for (seg, kind) in segments(col * 16, row * 16, 16, stride, left, top, inner) {
            let limit = limits[kind as usize];
            if simple {
                simple_segment(&mut frame.y.data, &seg, limit);
            } else {
                normal_segment(&mut frame.y.data, &seg, limit, s, kind);
            }
        }
        if simple {
            continue;
        }
        for plane in [&mut frame.u, &mut frame.v] {
            let stride = plane.stride();
            for (seg, kind) in segments(col * 8, row * 8, 8, stride, left, top, inner) {
                normal_segment(&mut plane.data, &seg, limits[kind as usize], s, kind);
            }
        }
    }
}

/// Which edge a segment lies on (selects the edge limit and, in the normal filter, the
/// filter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EdgeKind {
    Macroblock = 0,
    Subblock = 1,
}

/// A run of pixels along one edge.
struct Segment {
    /// Index of the first pixel just past the edge (q0).
    at: usize,
    /// Distance between pixels across the edge (1 for a vertical edge).
    across: usize,
    /// Distance between pixels along the edge.
    along: usize,
    /// Pixels along the edge.
    len: usize,
}

/// The edges of the `size`x`size` block at (`x`, `y`) in a plane of row stride `stride`,
/// in the RFC's order: left, inner vertical, top, inner horizontal.
fn segments(
    x: usize,
    y: usize,
    size: usize,
    stride: usize,
    left: bool,
    top: bool,
    inner: bool,
) -> impl Iterator<Item = (Segment, EdgeKind)> {
    let origin = y * stride + x;
    let vertical = move |offset: usize| Segment {
        at: origin + offset,
        across: 1,
        along: stride,
        len: size,
    };
    let horizontal = move |offset: usize| Segment {
        at: origin + offset * stride,
        across: stride,
        along: 1,
        len: size,
    };
    let inner_offsets = move || (4..size).step_by(4).filter(move |_| inner);
    left.then(|| (vertical(0), EdgeKind::Macroblock))
        .into_iter()
        .chain(inner_offsets().map(move |o| (vertical(o), EdgeKind::Subblock)))
        .chain(top.then(|| (horizontal(0), EdgeKind::Macroblock)))
        .chain(inner_offsets().map(move |o| (horizontal(o), EdgeKind::Subblock)))
}

/// Clamps to the signed 8-bit range.
#[inline(always)]
fn s8(v: i32) -> i32 {
    v.clamp(-128, 127)
}

#[inline(always)]
fn u8c(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

/// Adjusts p0 and q0 by the common filter; returns the q0 adjustment (`f1`).
#[inline(always)]
fn common_adjust(px: &mut [u8], p0i: usize, q0i: usize, a: i32) -> i32 {
    let f1 = s8(a + 4) >> 3;
    let f2 = s8(a + 3) >> 3;
    px[p0i] = u8c(i32::from(px[p0i]) + f2);
    px[q0i] = u8c(i32::from(px[q0i]) - f1);
    f1
}

/// The simple filter (luma only).
fn simple_segment(px: &mut [u8], seg: &Segment, limit: i32) {
    let step = seg.across;
    for i in 0..seg.len {
        let q0i = seg.at + i * seg.along;
        let (p1, p0, q0, q1) = (
            i32::from(px[q0i - 2 * step]),
            i32::from(px[q0i - step]),
            i32::from(px[q0i]),
            i32::from(px[q0i + step]),
        );
        if (p0 - q0).abs() * 2 + ((p1 - q1).abs() >> 1) <= limit {
            common_adjust(px, q0i - step, q0i, s8(s8(p1 - q1) + 3 * (q0 - p0)));
        }
    }
}

/// The normal filter.
fn normal_segment(px: &mut [u8], seg: &Segment, limit: i32, s: &Strength, kind: EdgeKind) {
    let step = seg.across;
    let interior = s.interior;
    for i in 0..seg.len {
        let q0i = seg.at + i * seg.along;
        let base = q0i - 4 * step;
        let v: [i32; 8] = std::array::from_fn(|k| i32::from(px[base + k * step]));
        let [p3, p2, p1, p0, q0, q1, q2, q3] = v;
        if (p0 - q0).abs() * 2 + ((p1 - q1).abs() >> 1) > limit
            || (p3 - p2).abs() > interior
            || (p2 - p1).abs() > interior
            || (p1 - p0).abs() > interior
            || (q3 - q2).abs() > interior
            || (q2 - q1).abs() > interior
            || (q1 - q0).abs() > interior
        {
            continue;
        }
        let hev = (p1 - p0).abs() > s.hev_threshold || (q1 - q0).abs() > s.hev_threshold;
        let (p0i, p1i, p2i) = (q0i - step, q0i - 2 * step, q0i - 3 * step);
        let (q1i, q2i) = (q0i + step, q0i + 2 * step);
        if hev {
            common_adjust(px, p0i, q0i, s8(s8(p1 - q1) + 3 * (q0 - p0)));
        } else if kind == EdgeKind::Macroblock {
            let w = s8(s8(p1 - q1) + 3 * (q0 - p0));
            for (tap, pi, qi, p, q) in [
                (27, p0i, q0i, p0, q0),
                (18, p1i, q1i, p1, q1),
                (9, p2i, q2i, p2, q2),
            ] {
                let a = (tap * w + 63) >> 7;
                px[pi] = u8c(p + a);
                px[qi] = u8c(q - a);
            }
        } else {
            let f1 = common_adjust(px, p0i, q0i, s8(3 * (q0 - p0)));
            let a = (f1 + 1) >> 1;
            px[p1i] = u8c(p1 + a);
            px[q1i] = u8c(q1 - a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::LoopFilter;

    #[test]
    fn strengths_follow_section_15_4() {
        let lf = LoopFilter {
            sharpness: 5,
            deltas_enabled: true,
            ref_delta: [2, 0, -2, -2],
            mode_delta: [4, -2, 2, 4],
            ..LoopFilter::default()
        };
        let mb = MbInfo {
            y_mode: LumaMode::B,
            ..MbInfo::default()
        };
        let s = strength(&lf, 36, &mb, true);
        assert_eq!(
            s,
            Strength {
                level: 42,
                interior: 4,
                hev_threshold: 2
            }
        );
        let mb = MbInfo {
            y_mode: LumaMode::Zero,
            ref_frame: RefFrame::Golden,
            ..MbInfo::default()
        };
        let s = strength(&lf, 21, &mb, false);
        assert_eq!(
            s,
            Strength {
                level: 17,
                interior: 4,
                hev_threshold: 1
            }
        );
        assert_eq!(strength(&lf, -5, &mb, false).interior, 1);
    }

    #[test]
    fn a_step_edge_is_smoothed_and_a_flat_area_left_alone() {
        let mut frame = Frame::new(2, 1);
        for (i, px) in frame.y.data.iter_mut().enumerate() {
            *px = if i % 32 < 16 { 100 } else { 110 };
        }
        let flat_before = frame.u.data.clone();
        let s = Strength {
            level: 30,
            interior: 10,
            hev_threshold: 2,
        };
        filter_row(&mut frame, 0, &[s, s], &[false, false], false);
        let row = &frame.y.data[..32];
        assert!(row[15] > 100 && row[16] < 110, "{row:?}");
        assert!(row[12] == 100 && row[19] == 110, "{row:?}");
        assert_eq!(frame.u.data, flat_before);
        let mut simple = Frame::new(2, 1);
        simple.y.data.copy_from_slice(&frame.y.data);
        filter_row(&mut simple, 0, &[s, s], &[false, false], true);
    }
}
