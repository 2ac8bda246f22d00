//! Intra prediction (RFC 6386 section 12) from the unfiltered pixels around a block.
//!
//! Callers pass the edges explicitly, with the RFC's values outside the frame already
//! filled in (127 above the frame, 129 to its left), so the predictors never look outside
//! their arguments. Whole-block DC prediction is the one mode that instead averages only
//! the edges inside the frame (and is 128 with none).

use crate::modes::{BMode, LumaMode};

/// The pixels around an `n`x`n` block (`n` = 16 luma, 8 chroma).
pub struct BlockEdges<'a> {
    /// The row above.
    pub above: &'a [u8],
    /// The column to the left.
    pub left: &'a [u8],
    /// The pixel above and to the left.
    pub above_left: u8,
    /// Whether the row above lies inside the frame.
    pub have_above: bool,
    /// Whether the column to the left lies inside the frame.
    pub have_left: bool,
}

/// Predicts an `n`x`n` block with a whole-block mode into `dst[at..]`.
pub fn predict_block(
    mode: LumaMode,
    n: usize,
    e: &BlockEdges,
    dst: &mut [u8],
    at: usize,
    stride: usize,
) {
    let rows = dst[at..].chunks_mut(stride).take(n);
    match mode {
        LumaMode::V => {
            for row in rows {
                row[..n].copy_from_slice(&e.above[..n]);
            }
        }
        LumaMode::H => {
            for (row, &l) in rows.zip(e.left) {
                row[..n].fill(l);
            }
        }
        LumaMode::Tm => {
            for (row, &l) in rows.zip(e.left) {
                let base = i32::from(l) - i32::from(e.above_left);
                for (px, &a) in row[..n].iter_mut().zip(e.above) {
                    *px = (base + i32::from(a)).clamp(0, 255) as u8;
                }
            }
        }
        _ => {
            let shift = n.trailing_zeros();
            let sum = |edge: &[u8]| edge[..n].iter().map(|&p| u32::from(p)).sum::<u32>();
            let dc = match (e.have_above, e.have_left) {
                (true, true) => (sum(e.above) + sum(e.left) + n as u32) >> (shift + 1),
                (true, false) => (sum(e.above) + (n as u32 >> 1)) >> shift,
                (false, true) => (sum(e.left) + (n as u32 >> 1)) >> shift,
                (false, false) => 128,
            };
            for row in rows {
                row[..n].fill(dc as u8);
            }
        }
    }
}

/// The pixels around a 4x4 block: `above[4..8]` are the ones above and to the right.
pub struct SubblockEdges {
    /// The row above, then the four pixels above-right.
    pub above: [u8; 8],
    /// The column to the left.
    pub left: [u8; 4],
    /// The pixel above and to the left.
    pub above_left: u8,
}

fn avg2(a: u8, b: u8) -> u8 {
    ((u16::from(a) + u16::from(b) + 1) >> 1) as u8
}

fn avg3(a: u8, b: u8, c: u8) -> u8 {
    ((u16::from(a) + 2 * u16::from(b) + u16::from(c) + 2) >> 2) as u8
}

/// Predicts a 4x4 block; returns its pixels row by row.
pub fn predict_subblock(mode: BMode, e: &SubblockEdges) -> [u8; 16] {
    let a = &e.above;
    let l = &e.left;
    let p = e.above_left;
    let mut out = [0u8; 16];
    match mode {
        BMode::Dc => {
            let sum: u32 = a[..4].iter().chain(l).map(|&v| u32::from(v)).sum();
            out = [((sum + 4) >> 3) as u8; 16];
        }
        BMode::Tm => {
            for (r, &lv) in l.iter().enumerate() {
                for c in 0..4 {
                    let v = i32::from(lv) + i32::from(a[c]) - i32::from(p);
                    out[4 * r + c] = v.clamp(0, 255) as u8;
                }
            }
        }
        BMode::Ve => {
            let row = [
                avg3(p, a[0], a[1]),
                avg3(a[0], a[1], a[2]),
                avg3(a[1], a[2], a[3]),
                avg3(a[2], a[3], a[4]),
            ];
            for r in 0..4 {
                out[4 * r..4 * r + 4].copy_from_slice(&row);
            }
        }
        BMode::He => {
            let col = [
                avg3(p, l[0], l[1]),
                avg3(l[0], l[1], l[2]),
                avg3(l[1], l[2], l[3]),
                avg3(l[2], l[3], l[3]),
            ];
            for r in 0..4 {
                out[4 * r..4 * r + 4].fill(col[r]);
            }
        }
        BMode::Ld => {
            let d: [u8; 7] = std::array::from_fn(|i| avg3(a[i], a[i + 1], a[(i + 2).min(7)]));
            for r in 0..4 {
                for c in 0..4 {
                    out[4 * r + c] = d[r + c];
                }
            }
        }
        BMode::Rd => {
            // The left column (bottom up), the corner and the row above, as one edge.
            let edge = [l[3], l[2], l[1], l[0], p, a[0], a[1], a[2], a[3]];
            for r in 0..4 {
                for c in 0..4 {
                    let i = 3 + c - r;
                    out[4 * r + c] = avg3(edge[i], edge[i + 1], edge[i + 2]);
                }
            }
        }
        BMode::Vr => {
            let top = [
                avg2(p, a[0]),
                avg2(a[0], a[1]),
                avg2(a[1], a[2]),
                avg2(a[2], a[3]),
            ];
            let second = [
                avg3(l[0], p, a[0]),
                avg3(p, a[0], a[1]),
                avg3(a[0], a[1], a[2]),
                avg3(a[1], a[2], a[3]),
            ];
            out[0..4].copy_from_slice(&top);
            out[4..8].copy_from_slice(&second);
            out[8] = avg3(l[1], l[0], p);
            out[9..12].copy_from_slice(&top[..3]);
            out[12] = avg3(l[2], l[1], l[0]);
            out[13..16].copy_from_slice(&second[..3]);
        }
        BMode::Vl => {
            let top = [
                avg2(a[0], a[1]),
                avg2(a[1], a[2]),
                avg2(a[2], a[3]),
                avg2(a[3], a[4]),
            ];
            let second = [
                avg3(a[0], a[1], a[2]),
                avg3(a[1], a[2], a[3]),
                avg3(a[2], a[3], a[4]),
                avg3(a[3], a[4], a[5]),
            ];
            out[0..4].copy_from_slice(&top);
            out[4..8].copy_from_slice(&second);
            out[8..11].copy_from_slice(&top[1..]);
            out[11] = avg3(a[4], a[5], a[6]);
            out[12..15].copy_from_slice(&second[1..]);
            out[15] = avg3(a[5], a[6], a[7]);
        }
        BMode::Hd => {
            let left_pairs = [
                [avg2(l[0], p), avg3(l[0], p, a[0])],
                [avg2(l[1], l[0]), avg3(l[1], l[0], p)],
                [avg2(l[2], l[1]), avg3(l[2], l[1], l[0])],
                [avg2(l[3], l[2]), avg3(l[3], l[2], l[1])],
            ];
            let top_right = [avg3(p, a[0], a[1]), avg3(a[0], a[1], a[2])];
            for r in 0..4 {
                out[4 * r..4 * r + 2].copy_from_slice(&left_pairs[r]);
                let right = if r == 0 { top_right } else { left_pairs[r - 1] };
                out[4 * r + 2..4 * r + 4].copy_from_slice(&right);
            }
        }
        BMode::Hu => {
            let d = [
                avg2(l[0], l[1]),
                avg3(l[0], l[1], l[2]),
                avg2(l[1], l[2]),
                avg3(l[1], l[2], l[3]),
                avg2(l[2], l[3]),
                avg3(l[2], l[3], l[3]),
            ];
            for r in 0..4 {
                for c in 0..4 {
                    let i = 2 * r + c;
                    out[4 * r + c] = if i < 6 { d[i] } else { l[3] };
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dc_uses_only_edges_inside_the_frame() {
        let above = [200u8; 16];
        let left = [100u8; 16];
        let mut e = BlockEdges {
            above: &above,
            left: &left,
            above_left: 0,
            have_above: true,
            have_left: true,
        };
        let mut dst = [0u8; 16 * 16];
        predict_block(LumaMode::Dc, 16, &e, &mut dst, 0, 16);
        assert_eq!(dst[255], 150);
        e.have_left = false;
        predict_block(LumaMode::Dc, 8, &e, &mut dst, 0, 16);
        assert_eq!(dst[7 * 16 + 7], 200);
        e.have_above = false;
        predict_block(LumaMode::Dc, 8, &e, &mut dst, 0, 16);
        assert_eq!(dst[0], 128);
        predict_block(LumaMode::Tm, 16, &e, &mut dst, 0, 16);
        assert_eq!(dst[0], 255);
    }

    #[test]
    fn subblock_modes_follow_their_edges() {
        let e = SubblockEdges {
            above: [10, 20, 30, 40, 50, 60, 70, 80],
            left: [15, 25, 35, 45],
            above_left: 5,
        };
        assert_eq!(
            predict_subblock(BMode::Dc, &e),
            [(100 + 120 + 4) as u8 >> 3; 16]
        );
        let ld = predict_subblock(BMode::Ld, &e);
        assert_eq!(ld[0], 20);
        assert_eq!(ld[15], avg3(70, 80, 80));
        assert_eq!(ld[3], ld[12]);
        let hu = predict_subblock(BMode::Hu, &e);
        assert_eq!(&hu[12..], &[45; 4]);
        assert_eq!(hu[0], 20);
        let rd = predict_subblock(BMode::Rd, &e);
        assert_eq!(rd[0], avg3(15, 5, 10));
        assert_eq!(rd[5], rd[0]);
        assert_eq!(rd[12], avg3(45, 35, 25));
    }
}
