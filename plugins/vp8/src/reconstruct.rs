//! Rebuilds one macroblock in the frame being decoded: prediction (intra from the
//! unfiltered pixels around it, inter from the reference frames) plus the inverse
//! transformed residue (RFC 6386 sections 12, 14 and 18).
//!
//! Out-of-frame intra edges take the RFC's values: 127 for the row above the frame (and
//! its corner), 129 for the column left of it. The four pixels above and to the right of
//! a macroblock, which B_PRED's right-hand sub-blocks use, come from the row above; for
//! the last macroblock of a row they repeat the row's last pixel (section 12.3).

use crate::frame::{Frame, Plane};
use crate::idct::{idct_add, idct_dc_add, inverse_wht};
use crate::inter::{Filter, Target, predict};
use crate::intra::{BlockEdges, SubblockEdges, predict_block, predict_subblock};
use crate::modes::{LumaMode, MbInfo, Mv, RefFrame};
use crate::tokens::{MbCoeffs, Y2};

/// How inter prediction works in this frame.
pub struct InterSetup<'a> {
    /// Reference frames by [`RefFrame`] index (the intra slot is unused).
    pub refs: [Option<&'a Frame>; 4],
    /// Interpolation filter.
    pub filter: Filter,
    /// Version 3: chroma vectors are rounded to whole pixels.
    pub full_pixel: bool,
}

/// Reconstructs macroblock (`col`, `row`) of `frame`.
pub fn reconstruct(
    frame: &mut Frame,
    (col, row): (usize, usize),
    mb: &MbInfo,
    coeffs: &mut MbCoeffs,
    inter: &InterSetup,
) {
    if mb.ref_frame == RefFrame::Intra {
        intra_luma(&mut frame.y, (col, row), mb, coeffs);
        for (plane, first) in [(&mut frame.u, 16), (&mut frame.v, 20)] {
            let e = Edges::gather(plane, col * 8, row * 8, 8, false);
            predict_block(
                mb.uv_mode,
                8,
                &e.block(),
                &mut plane.data,
                row * 8 * plane.width + col * 8,
                plane.width,
            );
            add_residue(
                plane,
                col * 8,
                row * 8,
                2,
                &coeffs.blocks[first..first + 4],
                &coeffs.ends[first..first + 4],
            );
        }
        return;
    }
    let Some(reference) = inter.refs[mb.ref_frame as usize] else {
        return;
    };
    predict_inter(frame, reference, (col, row), mb, inter);
    if mb.y_mode != LumaMode::Split {
        spread_y2(coeffs);
    }
    add_residue(
        &mut frame.y,
        col * 16,
        row * 16,
        4,
        &coeffs.blocks[..16],
        &coeffs.ends[..16],
    );
    add_residue(
        &mut frame.u,
        col * 8,
        row * 8,
        2,
        &coeffs.blocks[16..20],
        &coeffs.ends[16..20],
    );
    add_residue(
        &mut frame.v,
        col * 8,
        row * 8,
        2,
        &coeffs.blocks[20..24],
        &coeffs.ends[20..24],
    );
}

/// Puts the inverse WHT of the Y2 block into the luma blocks' DC positions.
fn spread_y2(coeffs: &mut MbCoeffs) {
    if coeffs.ends[Y2] == 0 {
        return; // All zero.
    }
    let dcs = inverse_wht(&coeffs.blocks[Y2]);
    for (block, dc) in coeffs.blocks[..16].iter_mut().zip(dcs) {
        block[0] = dc;
    }
}

/// Adds the residue of `n`x`n` 4x4 blocks to the block at (`x`, `y`) of `plane`.
fn add_residue(plane: &mut Plane, x: usize, y: usize, n: usize, blocks: &[[i16; 16]], ends: &[u8]) {
    let stride = plane.width;
    for (b, (block, &end)) in blocks.iter().zip(ends).enumerate() {
        let at = (y + 4 * (b / n)) * stride + x + 4 * (b % n);
        add_block(block, end, &mut plane.data, at, stride);
    }
}

fn add_block(block: &[i16; 16], end: u8, data: &mut [u8], at: usize, stride: usize) {
    if end > 1 {
        idct_add(block, data, at, stride);
    } else if block[0] != 0 {
        idct_dc_add(block[0], data, at, stride);
    }
}

/// The unfiltered pixels around a block, with the out-of-frame values filled in.
struct Edges {
    /// Above-left corner, the row above, and 4 pixels above-right (luma).
    above: [u8; 21],
    left: [u8; 16],
    have_above: bool,
    have_left: bool,
}

impl Edges {
    /// Gathers the edges of the `n`x`n` block at (`x`, `y`); `above_right` also fetches
    /// the four pixels past the block's top-right corner.
    fn gather(plane: &Plane, x: usize, y: usize, n: usize, above_right: bool) -> Self {
        let stride = plane.width;
        let mut e = Edges {
            above: [127; 21],
            left: [129; 16],
            have_above: y > 0,
            have_left: x > 0,
        };
        if y > 0 {
            let row = &plane.data[(y - 1) * stride..y * stride];
            e.above[1..=n].copy_from_slice(&row[x..x + n]);
            e.above[0] = if x > 0 { row[x - 1] } else { 129 };
            if above_right {
                if x + n + 4 <= plane.width {
                    e.above[n + 1..n + 5].copy_from_slice(&row[x + n..x + n + 4]);
                } else {
                    e.above[n + 1..n + 5].fill(row[x + n - 1]);
                }
            }
        }
        if x > 0 {
            for (i, l) in e.left[..n].iter_mut().enumerate() {
                *l = plane.data[(y + i) * stride + x - 1];
            }
        }
        e
    }

    fn block(&self) -> BlockEdges<'_> {
        BlockEdges {
            above: &self.above[1..],
            left: &self.left,
            above_left: self.above[0],
            have_above: self.have_above,
            have_left: self.have_left,
        }
    }
}

fn intra_luma(plane: &mut Plane, (col, row): (usize, usize), mb: &MbInfo, coeffs: &mut MbCoeffs) {
    let (x, y) = (col * 16, row * 16);
    let stride = plane.width;
    let e = Edges::gather(plane, x, y, 16, mb.y_mode == LumaMode::B);
    if mb.y_mode != LumaMode::B {
        predict_block(
            mb.y_mode,
            16,
            &e.block(),
            &mut plane.data,
            y * stride + x,
            stride,
        );
        spread_y2(coeffs);
        add_residue(plane, x, y, 4, &coeffs.blocks[..16], &coeffs.ends[..16]);
        return;
    }
    for b in 0..16 {
        let (bx, by) = (b & 3, b >> 2);
        let (px, py) = (x + 4 * bx, y + 4 * by);
        let at = py * stride + px;
        let pixel = |dx: isize, dy: isize| {
            plane.data[((py as isize + dy) as usize) * stride + (px as isize + dx) as usize]
        };
        let mut s = SubblockEdges {
            above: [0; 8],
            left: [0; 4],
            above_left: 0,
        };
        if by == 0 {
            s.above.copy_from_slice(&e.above[1 + 4 * bx..9 + 4 * bx]);
            s.above_left = e.above[4 * bx];
        } else {
            for (i, a) in s.above[..4].iter_mut().enumerate() {
                *a = pixel(i as isize, -1);
            }
            if bx == 3 {
                // Right-hand sub-blocks all use the macroblock's above-right pixels.
                s.above[4..].copy_from_slice(&e.above[17..21]);
            } else {
                for (i, a) in s.above[4..].iter_mut().enumerate() {
                    *a = pixel(4 + i as isize, -1);
                }
            }
            s.above_left = if bx == 0 {
                e.left[4 * by - 1]
            } else {
                pixel(-1, -1)
            };
        }
        for (i, l) in s.left.iter_mut().enumerate() {
            *l = if bx == 0 {
                e.left[4 * by + i]
            } else {
                pixel(-1, i as isize)
            };
        }
        let predicted = predict_subblock(mb.bmodes[b], &s);
        for r in 0..4 {
            plane.data[at + r * stride..][..4].copy_from_slice(&predicted[4 * r..4 * r + 4]);
        }
        add_block(
            &coeffs.blocks[b],
            coeffs.ends[b],
            &mut plane.data,
            at,
            stride,
        );
    }
}

fn predict_inter(
    frame: &mut Frame,
    reference: &Frame,
    (col, row): (usize, usize),
    mb: &MbInfo,
    inter: &InterSetup,
) {
    let (x, y) = (col * 16, row * 16);
    let luma_stride = frame.y.width;
    if mb.y_mode != LumaMode::Split {
        let mut out = Target {
            data: &mut frame.y.data,
            at: y * luma_stride + x,
            stride: luma_stride,
        };
        predict(
            &reference.y,
            (x, y),
            (16, 16),
            mb.mv,
            inter.filter,
            &mut out,
        );
        let uv = chroma_mv(mb.mv, inter.full_pixel);
        for (plane, ref_plane) in [(&mut frame.u, &reference.u), (&mut frame.v, &reference.v)] {
            let stride = plane.width;
            let mut out = Target {
                data: &mut plane.data,
                at: (y / 2) * stride + x / 2,
                stride,
            };
            predict(
                ref_plane,
                (x / 2, y / 2),
                (8, 8),
                uv,
                inter.filter,
                &mut out,
            );
        }
        return;
    }
    for (b, &mv) in mb.mvs.iter().enumerate() {
        let (bx, by) = (x + 4 * (b & 3), y + 4 * (b >> 2));
        let mut out = Target {
            data: &mut frame.y.data,
            at: by * luma_stride + bx,
            stride: luma_stride,
        };
        predict(&reference.y, (bx, by), (4, 4), mv, inter.filter, &mut out);
    }
    for b in 0..4 {
        // Each 4x4 chroma block takes the average of the 2x2 luma blocks it covers.
        let first = (b >> 1) * 8 + (b & 1) * 2;
        let sum = |get: fn(Mv) -> i16| -> i32 {
            [first, first + 1, first + 4, first + 5]
                .iter()
                .map(|&i| i32::from(get(mb.mvs[i])))
                .sum()
        };
        let average = |s: i32| -> i16 {
            let v = (s + if s < 0 { -4 } else { 4 }) / 8;
            (if inter.full_pixel { v & !7 } else { v }) as i16
        };
        let mv = Mv {
            x: average(sum(|m| m.x)),
            y: average(sum(|m| m.y)),
        };
        let (cx, cy) = (x / 2 + 4 * (b & 1), y / 2 + 4 * (b >> 1));
        for (plane, ref_plane) in [(&mut frame.u, &reference.u), (&mut frame.v, &reference.v)] {
            let stride = plane.width;
            let mut out = Target {
                data: &mut plane.data,
                at: cy * stride + cx,
                stride,
            };
            predict(ref_plane, (cx, cy), (4, 4), mv, inter.filter, &mut out);
        }
    }
}

/// A whole-macroblock vector halved for chroma (rounding away from zero; the luma vector
/// is even, so this is exact), whole pixels only in version 3.
fn chroma_mv(mv: Mv, full_pixel: bool) -> Mv {
    let half = |v: i16| {
        let v = i32::from(v);
        let h = (v + if v < 0 { -1 } else { 1 }) / 2;
        (if full_pixel { h & !7 } else { h }) as i16
    };
    Mv {
        x: half(mv.x),
        y: half(mv.y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_outside_the_frame() {
        let mut plane = Frame::new(2, 2).y;
        for (i, px) in plane.data.iter_mut().enumerate() {
            *px = (i % 251) as u8;
        }
        let top_left = Edges::gather(&plane, 0, 0, 16, true);
        assert_eq!(top_left.above, [127; 21]);
        assert_eq!(top_left.left, [129; 16]);
        let below = Edges::gather(&plane, 0, 16, 16, true);
        assert_eq!(below.above[0], 129);
        assert_eq!(below.above[1], plane.data[15 * 32]);
        assert_eq!(below.above[17], plane.data[15 * 32 + 16]);
        let last = Edges::gather(&plane, 16, 16, 16, true);
        assert_eq!(last.above[17..21], [plane.data[15 * 32 + 31]; 4]);
        assert_eq!(last.left[3], plane.data[19 * 32 + 15]);
    }

    #[test]
    fn chroma_vectors() {
        assert_eq!(chroma_mv(Mv { x: 6, y: -6 }, false), Mv { x: 3, y: -3 });
        assert_eq!(chroma_mv(Mv { x: 22, y: -22 }, true), Mv { x: 8, y: -16 });
    }
}
