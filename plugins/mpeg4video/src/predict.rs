//! Building a macroblock's motion-compensated prediction from one reference, and
//! deriving chroma vectors from luma vectors (clause 7.6.3 and 7.6.4).

use crate::mc;
use crate::picture::Picture;

/// A macroblock's prediction: 16x16 luma and two 8x8 chroma blocks.
pub struct MbPred {
    /// Luma, row length 16.
    pub y: [u8; 256],
    /// Cb, row length 8.
    pub u: [u8; 64],
    /// Cr, row length 8.
    pub v: [u8; 64],
}

impl MbPred {
    /// An empty prediction.
    pub fn new() -> MbPred {
        MbPred {
            y: [0; 256],
            u: [0; 64],
            v: [0; 64],
        }
    }

    /// Averages `other` in (bidirectional prediction).
    pub fn average(&mut self, other: &MbPred) {
        mc::average(&mut self.y, &other.y);
        mc::average(&mut self.u, &other.u);
        mc::average(&mut self.v, &other.v);
    }

    /// Writes the prediction into macroblock `(mbx, mby)` of `pic`.
    pub fn write(&self, pic: &mut Picture, mbx: usize, mby: usize) {
        let s = pic.y.stride;
        for r in 0..16 {
            let o = (mby * 16 + r) * s + mbx * 16;
            pic.y.data[o..o + 16].copy_from_slice(&self.y[r * 16..r * 16 + 16]);
        }
        let s = pic.u.stride;
        for r in 0..8 {
            let o = (mby * 8 + r) * s + mbx * 8;
            pic.u.data[o..o + 8].copy_from_slice(&self.u[r * 8..r * 8 + 8]);
            pic.v.data[o..o + 8].copy_from_slice(&self.v[r * 8..r * 8 + 8]);
        }
    }
}

impl Default for MbPred {
    fn default() -> Self {
        Self::new()
    }
}

/// Rounds a sum of four luma half-sample vector components to a chroma half-sample
/// component (Table 7-9: sixteenths to halves).
pub fn round_chroma_sum(sum: i32) -> i32 {
    const TAB: [i32; 16] = [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2];
    let a = sum.abs();
    let v = (a >> 4) * 2 + TAB[(a & 15) as usize];
    if sum < 0 { -v } else { v }
}

/// A luma half-sample component to chroma (quarter positions go to the half).
pub fn chroma_of(m: i32) -> i32 {
    (m >> 1) | (m & 1)
}

/// How the vectors of a macroblock are applied.
#[derive(Clone, Copy)]
pub struct Motion {
    /// Vectors are in quarter samples.
    pub qpel: bool,
    /// `vop_rounding_type`.
    pub rounding: bool,
}

impl Motion {
    /// Predicts macroblock `(mbx, mby)` from `refp`: one vector (`four` false, `mv[0]`)
    /// or one per 8x8 luma block.
    pub fn predict(
        &self,
        refp: &Picture,
        mbx: usize,
        mby: usize,
        mv: &[[i32; 2]; 4],
        four: bool,
        out: &mut MbPred,
    ) {
        let (x, y) = (mbx as i32 * 16, mby as i32 * 16);
        let luma = |x, y, m: [i32; 2], w, out: &mut [u8]| {
            if self.qpel {
                mc::qpel(&refp.y, x, y, m[0], m[1], w, w, self.rounding, out);
            } else {
                mc::halfpel(&refp.y, x, y, m[0], m[1], w, w, self.rounding, out);
            }
        };
        let to_half = |m: i32| if self.qpel { m / 2 } else { m };
        let (cx, cy) = if four {
            let mut block = [0u8; 64];
            for (k, m) in mv.iter().enumerate() {
                let (bx, by) = (8 * (k & 1), 8 * (k >> 1));
                luma(x + bx as i32, y + by as i32, *m, 8, &mut block);
                for r in 0..8 {
                    out.y[(by + r) * 16 + bx..(by + r) * 16 + bx + 8]
                        .copy_from_slice(&block[r * 8..r * 8 + 8]);
                }
            }
            let sx: i32 = mv.iter().map(|m| to_half(m[0])).sum();
            let sy: i32 = mv.iter().map(|m| to_half(m[1])).sum();
            (round_chroma_sum(sx), round_chroma_sum(sy))
        } else {
            luma(x, y, mv[0], 16, &mut out.y);
            (chroma_of(to_half(mv[0][0])), chroma_of(to_half(mv[0][1])))
        };
        let (x, y) = (mbx as i32 * 8, mby as i32 * 8);
        mc::halfpel(&refp.u, x, y, cx, cy, 8, 8, self.rounding, &mut out.u);
        mc::halfpel(&refp.v, x, y, cx, cy, 8, 8, self.rounding, &mut out.v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chroma_rounding() {
        assert_eq!(chroma_of(1), 1);
        assert_eq!(chroma_of(2), 1);
        assert_eq!(chroma_of(3), 1);
        assert_eq!(chroma_of(4), 2);
        assert_eq!(chroma_of(-3), -1);
        // Four equal vectors give what one vector gives.
        for m in -40..40 {
            assert_eq!(round_chroma_sum(4 * m), chroma_of(m), "{m}");
        }
    }
}
