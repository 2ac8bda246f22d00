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
        let limits = Limits {
            edge: [(s.level + 2) * 2 + s.interior, s.level * 2 + s.interior],
            interior: s.interior,
            hev_threshold: s.hev_threshold,
        };
        let plane = &mut frame.y;
        let stride = plane.stride();
        filter_block(
            &mut plane.data,
            stride,
            (col * 16, row * 16),
            16,
            inner,
            &limits,
            simple,
        );
        if simple {
            continue;
        }
        for plane in [&mut frame.u, &mut frame.v] {
            let stride = plane.stride();
            filter_block(
                &mut plane.data,
                stride,
                (col * 8, row * 8),
                8,
                inner,
                &limits,
                false,
            );
        }
    }
}

/// One macroblock's limits: the edge limit of macroblock edges, then of inner edges.
struct Limits {
    edge: [i32; 2],
    interior: i32,
    hev_threshold: i32,
}

/// Filters the edges of the `size`x`size` block at (`x`, `y`) in the RFC's order: left,
/// inner vertical, top, inner horizontal.
fn filter_block(
    px: &mut [u8],
    stride: usize,
    (x, y): (usize, usize),
    size: usize,
    inner: bool,
    limits: &Limits,
    simple: bool,
) {
    let origin = y * stride + x;
    let filter = |px: &mut [u8], at: usize, across: usize, along: usize, mb_edge: bool| {
        let limit = limits.edge[usize::from(!mb_edge)];
        for i in 0..size {
            let q0 = at + i * along;
            if simple {
                simple_pixel(px, q0, across, limit);
            } else {
                normal_pixel(px, q0, across, limit, limits, mb_edge);
            }
        }
    };
    if x > 0 {
        filter(px, origin, 1, stride, true);
    }
    if inner {
        for o in (4..size).step_by(4) {
            filter(px, origin + o, 1, stride, false);
        }
    }
    if y > 0 {
        filter(px, origin, stride, 1, true);
    }
    if inner {
        for o in (4..size).step_by(4) {
            filter(px, origin + o * stride, stride, 1, false);
        }
    }
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

/// The eight pixels across an edge at `q0` (p3 p2 p1 p0 | q0 q1 q2 q3).
#[inline(always)]
fn load(px: &[u8], q0: usize, across: usize) -> [i32; 8] {
    let base = q0 - 4 * across;
    let line = &px[base..=base + 7 * across];
    std::array::from_fn(|k| i32::from(line[k * across]))
}

/// The simple filter (luma only) at one position of an edge.
#[inline(always)]
fn simple_pixel(px: &mut [u8], q0: usize, across: usize, limit: i32) {
    let line = &mut px[q0 - 2 * across..=q0 + across];
    let (p1, p0, q0v, q1) = (
        i32::from(line[0]),
        i32::from(line[across]),
        i32::from(line[2 * across]),
        i32::from(line[3 * across]),
    );
    if (p0 - q0v).abs() * 2 + ((p1 - q1).abs() >> 1) <= limit {
        let a = s8(s8(p1 - q1) + 3 * (q0v - p0));
        line[across] = u8c(p0 + (s8(a + 3) >> 3));
        line[2 * across] = u8c(q0v - (s8(a + 4) >> 3));
    }
}

/// The normal filter at one position of an edge.
#[inline(always)]
fn normal_pixel(px: &mut [u8], q0: usize, across: usize, limit: i32, l: &Limits, mb_edge: bool) {
    let [p3, p2, p1, p0, q0v, q1, q2, q3] = load(px, q0, across);
    let interior = l.interior;
    if (p0 - q0v).abs() * 2 + ((p1 - q1).abs() >> 1) > limit
        || (p3 - p2).abs() > interior
        || (p2 - p1).abs() > interior
        || (p1 - p0).abs() > interior
        || (q3 - q2).abs() > interior
        || (q2 - q1).abs() > interior
        || (q1 - q0v).abs() > interior
    {
        return;
    }
    let line = &mut px[q0 - 3 * across..=q0 + 2 * across];
    let at = |k: usize| k * across; // k = 0..6: p2 p1 p0 q0 q1 q2
    let hev = (p1 - p0).abs() > l.hev_threshold || (q1 - q0v).abs() > l.hev_threshold;
    if hev {
        // Only p0 and q0 move, with the outer taps in the filter value.
        let a = s8(s8(p1 - q1) + 3 * (q0v - p0));
        line[at(2)] = u8c(p0 + (s8(a + 3) >> 3));
        line[at(3)] = u8c(q0v - (s8(a + 4) >> 3));
    } else if mb_edge {
        let w = s8(s8(p1 - q1) + 3 * (q0v - p0));
        let a = (27 * w + 63) >> 7;
        line[at(2)] = u8c(p0 + a);
        line[at(3)] = u8c(q0v - a);
        let a = (18 * w + 63) >> 7;
        line[at(1)] = u8c(p1 + a);
        line[at(4)] = u8c(q1 - a);
        let a = (9 * w + 63) >> 7;
        line[at(0)] = u8c(p2 + a);
        line[at(5)] = u8c(q2 - a);
    } else {
        let a = s8(3 * (q0v - p0));
        let f1 = s8(a + 4) >> 3;
        line[at(2)] = u8c(p0 + (s8(a + 3) >> 3));
        line[at(3)] = u8c(q0v - f1);
        let a = (f1 + 1) >> 1;
        line[at(1)] = u8c(p1 + a);
        line[at(4)] = u8c(q1 - a);
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
