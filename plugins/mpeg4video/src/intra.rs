//! Intra blocks: DC and AC prediction from neighbouring blocks (clause 7.4.3), the DC
//! size VLC, scan choice and reconstruction of the coefficients.
//!
//! Each block keeps its reconstructed DC and the quantised first row and column for the
//! blocks to its right and below. A neighbour in another macroblock counts only when
//! that macroblock is intra coded in the same video packet (`Avail` says so and gives its
//! quantiser); otherwise its DC counts as 1024 and its AC as zero.

use crate::bits::Bits;
use crate::coef::{self, Quantiser};
use crate::error::{Error, Result};
use crate::tables::{ALT_HORIZONTAL, ALT_VERTICAL, ZIGZAG, dc_scaler, tables};

/// What one block leaves for its neighbours' prediction.
#[derive(Clone, Copy, Default)]
pub struct Pred {
    dc: i32,
    top: [i32; 7],
    left: [i32; 7],
}

/// The prediction state of a VOP: one entry per 8x8 block.
pub struct IntraStore {
    luma: Vec<Pred>,
    chroma: [Vec<Pred>; 2],
    mb_width: usize,
}

/// The quantiser of the macroblock at an offset from the current one, if it may serve
/// as a predictor (intra, same video packet, inside the VOP).
pub trait Avail {
    /// `dx`, `dy` in macroblocks, each -1 or 0 (never both 0).
    fn quant(&self, dx: isize, dy: isize) -> Option<i32>;
}

fn rounded_div(a: i32, b: i32) -> i32 {
    (a + if a >= 0 { b / 2 } else { -(b / 2) }) / b
}

/// Reads an intra DC differential (the DC size VLC, then the value).
pub fn read_dc(b: &mut Bits, luma: bool) -> Result<i32> {
    let t = tables();
    let size = if luma { &t.dc_luma } else { &t.dc_chroma }
        .decode(b)
        .ok_or_else(|| Error::invalid("MPEG-4 intra DC size is corrupt"))? as u32;
    if size == 0 {
        return Ok(0);
    }
    let v = b.read(size) as i32;
    let v = if v < 1 << (size - 1) {
        v - (1 << size) + 1
    } else {
        v
    };
    if size > 8 && !b.bit() {
        return Err(Error::invalid("MPEG-4 intra DC marker bit missing"));
    }
    Ok(v)
}

/// How an intra block is coded.
pub struct IntraBlock {
    /// Block 0-5 of the macroblock.
    pub n: usize,
    /// Macroblock position.
    pub mbx: usize,
    /// Macroblock position.
    pub mby: usize,
    /// The macroblock's quantiser.
    pub quant: i32,
    /// `ac_pred_flag`.
    pub ac_pred: bool,
    /// DC read with its own VLC (else as the first coefficient).
    pub dc_vlc: bool,
    /// AC coefficients present (`cbp` bit).
    pub coded: bool,
}

impl IntraStore {
    /// The state for a VOP of `mb_width` x `mb_height` macroblocks.
    pub fn new(mb_width: usize, mb_height: usize) -> IntraStore {
        let n = mb_width * mb_height;
        IntraStore {
            luma: vec![Pred::default(); 4 * n],
            chroma: [vec![Pred::default(); n], vec![Pred::default(); n]],
            mb_width,
        }
    }

    /// The stored block at an offset (in blocks) from block `n` of macroblock `(mbx, mby)`,
    /// with its macroblock's quantiser, if it may be used.
    fn neighbour(
        &self,
        blk: &IntraBlock,
        dx: isize,
        dy: isize,
        avail: &dyn Avail,
    ) -> Option<(Pred, i32)> {
        let (n, mbx, mby) = (blk.n, blk.mbx as isize, blk.mby as isize);
        if n < 4 {
            let bx = 2 * mbx + (n & 1) as isize + dx;
            let by = 2 * mby + (n >> 1) as isize + dy;
            let (nmx, nmy) = (bx.div_euclid(2), by.div_euclid(2));
            let quant = if (nmx, nmy) == (mbx, mby) {
                blk.quant
            } else {
                avail.quant(nmx - mbx, nmy - mby)?
            };
            let i = by as usize * 2 * self.mb_width + bx as usize;
            Some((self.luma[i], quant))
        } else {
            let quant = avail.quant(dx, dy)?;
            let i = (mby + dy) as usize * self.mb_width + (mbx + dx) as usize;
            Some((self.chroma[n - 4][i], quant))
        }
    }

    fn slot(&mut self, blk: &IntraBlock) -> &mut Pred {
        if blk.n < 4 {
            let bx = 2 * blk.mbx + (blk.n & 1);
            let by = 2 * blk.mby + (blk.n >> 1);
            &mut self.luma[by * 2 * self.mb_width + bx]
        } else {
            &mut self.chroma[blk.n - 4][blk.mby * self.mb_width + blk.mbx]
        }
    }

    /// Decodes an intra block into inverse-quantised coefficients (raster order), and
    /// records what its neighbours need.
    #[allow(clippy::needless_range_loop)] // rows and columns of the block by index
    pub fn decode(
        &mut self,
        b: &mut Bits,
        blk: &IntraBlock,
        quantiser: Quantiser,
        avail: &dyn Avail,
    ) -> Result<[i32; 64]> {
        let a = self.neighbour(blk, -1, 0, avail);
        let bb = self.neighbour(blk, -1, -1, avail);
        let c = self.neighbour(blk, 0, -1, avail);
        let dc_of = |p: Option<(Pred, i32)>| p.map_or(1024, |p| p.0.dc);
        let (fa, fb, fc) = (dc_of(a), dc_of(bb), dc_of(c));
        let from_top = (fa - fb).abs() < (fb - fc).abs();
        let scan = match (blk.ac_pred, from_top) {
            (false, _) => &ZIGZAG,
            (true, true) => &ALT_HORIZONTAL,
            (true, false) => &ALT_VERTICAL,
        };
        let luma = blk.n < 4;
        let mut qf = [0i32; 64];
        if blk.dc_vlc {
            qf[0] = read_dc(b, luma)?;
            if blk.coded {
                coef::read(b, true, 1, scan, &mut qf)?;
            }
        } else if blk.coded {
            coef::read(b, true, 0, scan, &mut qf)?;
        }
        let scaler = dc_scaler(blk.quant, luma);
        let pred = if from_top { fc } else { fa };
        let dc = (qf[0] + (pred + (scaler >> 1)) / scaler) * scaler;
        if blk.ac_pred {
            let rescale = |v: i32, q: i32| {
                if q == blk.quant {
                    v
                } else {
                    rounded_div(v * q, blk.quant)
                }
            };
            if from_top {
                if let Some((p, q)) = c {
                    for i in 1..8 {
                        qf[i] += rescale(p.top[i - 1], q);
                    }
                }
            } else if let Some((p, q)) = a {
                for i in 1..8 {
                    qf[i * 8] += rescale(p.left[i - 1], q);
                }
            }
        }
        let slot = self.slot(blk);
        slot.dc = dc.clamp(0, 2047);
        for i in 1..8 {
            slot.top[i - 1] = qf[i];
            slot.left[i - 1] = qf[i * 8];
        }
        qf[0] = dc;
        quantiser.dequantise(&mut qf, blk.quant, true);
        Ok(qf)
    }
}
