//! DCT/WHT coefficient tokens (RFC 6386 section 13): 25 blocks per macroblock (16 luma,
//! 4 + 4 chroma, and the second-order Y2 block of the luma DCs when the mode has one),
//! dequantised as they are read.
//!
//! Each block's first token is coded in the context of whether the blocks above and to the
//! left had any coefficient; later tokens in the context of the previous token's size.
//! Values are stored as `i16` after multiplying by the quantiser step, wrapping like the
//! reference decoder's `short` arithmetic when a corrupt stream overflows them.

use crate::bool_decoder::BoolDecoder;
use crate::header::CoeffProbs;
use crate::tables::{COEFF_BANDS, DCT_CATEGORIES, ZIGZAG};

/// Index of the Y2 block among a macroblock's 25.
pub const Y2: usize = 24;

/// Quantiser steps of one segment: `[DC, AC]` for luma, Y2 and chroma (section 14.1).
#[derive(Debug, Clone, Copy, Default)]
pub struct Dequant {
    /// Luma blocks.
    pub y1: [i32; 2],
    /// The second-order block.
    pub y2: [i32; 2],
    /// Chroma blocks.
    pub uv: [i32; 2],
}

/// "Has coefficients" flags of the blocks along one macroblock edge: 4 luma, 2 U, 2 V, Y2.
pub type EdgeContext = [bool; 9];

/// One macroblock's coefficients, and how far into each block tokens went.
#[derive(Default)]
pub struct MbCoeffs {
    /// Dequantised coefficients in raster order, blocks in the order Y (raster), U, V, Y2.
    pub blocks: [[i16; 16]; 25],
    /// Per block: number of coefficient positions decoded (0: none; 1: DC at most).
    pub ends: [u8; 25],
}

impl MbCoeffs {
    /// Zeroes what a macroblock's decoding may have written: the blocks that had tokens
    /// and the luma DCs the Y2 block was spread into.
    pub fn clear(&mut self) {
        for (block, end) in self.blocks.iter_mut().zip(self.ends.iter_mut()) {
            if *end > 0 {
                *block = [0; 16];
                *end = 0;
            }
        }
        for block in &mut self.blocks[..16] {
            block[0] = 0;
        }
    }
}

/// Plane types, which select the probability tables.
const TYPE_Y_AFTER_Y2: usize = 0;
const TYPE_Y2: usize = 1;
const TYPE_CHROMA: usize = 2;
const TYPE_Y_WITH_DC: usize = 3;

/// Reads a macroblock's tokens into `out` (which must be zero), updating the edge contexts.
/// Returns whether any block had a coefficient token.
pub fn read_mb_coeffs(
    d: &mut BoolDecoder,
    probs: &CoeffProbs,
    dq: &Dequant,
    has_y2: bool,
    above: &mut EdgeContext,
    left: &mut EdgeContext,
    out: &mut MbCoeffs,
) -> bool {
    let mut any = false;
    let luma_type = if has_y2 {
        let ctx = usize::from(above[8]) + usize::from(left[8]);
        let end = read_block(d, &probs[TYPE_Y2], ctx, 0, dq.y2, &mut out.blocks[Y2]);
        out.ends[Y2] = end as u8;
        let nonzero = end > 0;
        above[8] = nonzero;
        left[8] = nonzero;
        any |= nonzero;
        TYPE_Y_AFTER_Y2
    } else {
        TYPE_Y_WITH_DC
    };
    let first = usize::from(luma_type == TYPE_Y_AFTER_Y2);
    for b in 0..16 {
        let (x, y) = (b & 3, b >> 2);
        let ctx = usize::from(above[x]) + usize::from(left[y]);
        let end = read_block(d, &probs[luma_type], ctx, first, dq.y1, &mut out.blocks[b]);
        out.ends[b] = end as u8;
        let nonzero = end > first;
        above[x] = nonzero;
        left[y] = nonzero;
        any |= nonzero;
    }
    for b in 16..24 {
        // U blocks 16..20 use context slots 4, 5; V blocks 20..24 use 6, 7.
        let base = if b < 20 { 4 } else { 6 };
        let (x, y) = (base + (b & 1), base + ((b >> 1) & 1));
        let ctx = usize::from(above[x]) + usize::from(left[y]);
        let end = read_block(d, &probs[TYPE_CHROMA], ctx, 0, dq.uv, &mut out.blocks[b]);
        out.ends[b] = end as u8;
        let nonzero = end > 0;
        above[x] = nonzero;
        left[y] = nonzero;
        any |= nonzero;
    }
    any
}

/// Resets the contexts of a macroblock that codes no coefficients (the Y2 slot only when
/// its mode has a Y2 block: otherwise the neighbours' Y2 context passes through it).
pub fn skip_mb(has_y2: bool, above: &mut EdgeContext, left: &mut EdgeContext) {
    let n = if has_y2 { 9 } else { 8 };
    above[..n].fill(false);
    left[..n].fill(false);
}

/// Reads one block's tokens starting at position `first`; returns the position after the
/// last token (`first` when the block is empty).
fn read_block(
    d: &mut BoolDecoder,
    probs: &[[[u8; 11]; 3]; 8],
    context: usize,
    first: usize,
    dq: [i32; 2],
    out: &mut [i16; 16],
) -> usize {
    let mut i = first;
    let mut p = &probs[COEFF_BANDS[i]][context];
    // After a zero token the next one cannot be end-of-block.
    let mut check_eob = true;
    while i < 16 {
        if check_eob && !d.read(p[0]) {
            break;
        }
        if !d.read(p[1]) {
            // ZERO token.
            i += 1;
            check_eob = false;
            p = &probs[COEFF_BANDS[i]][0];
            continue;
        }
        check_eob = true;
        let (value, next_context) = if !d.read(p[2]) {
            (1, 1)
        } else {
            (read_large(d, p), 2)
        };
        let v = if d.read_flag() { -value } else { value };
        let step = if i > 0 { dq[1] } else { dq[0] };
        out[ZIGZAG[i]] = (v * step) as i16;
        i += 1;
        p = &probs[COEFF_BANDS[i]][next_context];
    }
    i
}

/// Reads a token of magnitude 2 or more (its tree below the ONE node) and its extra bits.
fn read_large(d: &mut BoolDecoder, p: &[u8; 11]) -> i32 {
    if !d.read(p[3]) {
        if !d.read(p[4]) {
            return 2;
        }
        return 3 + i32::from(d.read(p[5]));
    }
    let category = if !d.read(p[6]) {
        usize::from(d.read(p[7]))
    } else if !d.read(p[8]) {
        2 + usize::from(d.read(p[9]))
    } else {
        4 + usize::from(d.read(p[10]))
    };
    let (base, extra) = DCT_CATEGORIES[category];
    let bits = extra
        .iter()
        .fold(0i32, |v, &prob| (v << 1) | i32::from(d.read(prob)));
    i32::from(base) + bits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_all_zero_stream_ends_every_block_at_once() {
        // Zero bytes decode as zeros with every probability: end-of-block first.
        let data = [0u8; 64];
        let mut d = BoolDecoder::new(&data);
        let probs = crate::tables::DEFAULT_COEFF_PROBS;
        let dq = Dequant {
            y1: [1, 1],
            y2: [1, 1],
            uv: [1, 1],
        };
        let (mut above, mut left) = ([true; 9], [true; 9]);
        let mut out = MbCoeffs::default();
        let any = read_mb_coeffs(&mut d, &probs, &dq, true, &mut above, &mut left, &mut out);
        assert!(!any);
        assert_eq!(above, [false; 9]);
        assert_eq!(out.ends[..16], [1; 16]);
        assert_eq!(out.ends[16..], [0; 9]);
    }
}
