//! An MS-MPEG4 version 3 (DivX 3, fourcc `DIV3`/`MP43`) decoder.
//!
//! MS-MPEG4 v3 is H.263 with Microsoft's own code tables: no start codes, a short picture
//! header (type, quantiser, table choices), macroblock rows grouped in slices, intra
//! coded-block-pattern prediction, a DC prediction of its own and MPEG-4's AC
//! prediction, three escape modes, and 16x16 half-sample motion vectors coded with
//! two large tables. The tables and the decoding rules follow FFmpeg's `msmpeg4`
//! decoder (the only description of the format); see NOTICE: LGPL-2.1-or-later.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod tables;

use mpeg4video::bits::Bits;
use mpeg4video::idct::{idct_add, idct_put};
use mpeg4video::picture::Picture;
use mpeg4video::predict::{MbPred, Motion};
use mpeg4video::tables::{ALT_HORIZONTAL, ALT_VERTICAL, ZIGZAG, dc_scaler};
use mpeg4video::vlc::Vlc;
pub use mpeg4video::{Error, Result};
use std::sync::OnceLock;
use tables::*;

/// A run/level table: codes (the last one is the escape), and its maxima.
struct Rl {
    vlc: Vlc,
    escape: i32,
    /// `(run, level, last)` per symbol.
    symbols: Vec<(u8, u8, bool)>,
    max_level: [[u8; 64]; 2],
    max_run: [[u8; 64]; 2],
}

impl Rl {
    fn new(codes: &[(u32, u8)], run: &[u8], level: &[u8], last: usize) -> Rl {
        let n = run.len();
        let list: Vec<(u32, u8, i32)> = codes
            .iter()
            .enumerate()
            .map(|(i, &(c, l))| (c, l, i as i32))
            .collect();
        let mut rl = Rl {
            vlc: Vlc::new(&list),
            escape: n as i32,
            symbols: Vec::with_capacity(n),
            max_level: [[0; 64]; 2],
            max_run: [[0; 64]; 2],
        };
        for i in 0..n {
            let l = usize::from(i >= last);
            let (r, v) = (run[i], level[i]);
            rl.symbols.push((r, v, l == 1));
            let ml = &mut rl.max_level[l][usize::from(r)];
            *ml = (*ml).max(v);
            let mr = &mut rl.max_run[l][usize::from(v)];
            *mr = (*mr).max(r);
        }
        rl
    }
}

struct Tables {
    mb_intra: Vlc,
    mb_non_intra: Vlc,
    /// `[dc table][luma 0 / chroma 1]`.
    dc: [[Vlc; 2]; 2],
    rl: [Rl; 6],
    mv: [(Vlc, &'static [u8], &'static [u8]); 2],
}

fn numbered(codes: &[(u32, u8)]) -> Vlc {
    let list: Vec<(u32, u8, i32)> = codes
        .iter()
        .enumerate()
        .map(|(i, &(c, l))| (c, l, i as i32))
        .collect();
    Vlc::new(&list)
}

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| Tables {
        mb_intra: numbered(&MB_INTRA),
        mb_non_intra: numbered(&MB_NON_INTRA),
        dc: [
            [numbered(&DC0_LUMA), numbered(&DC0_CHROMA)],
            [numbered(&DC1_LUMA), numbered(&DC1_CHROMA)],
        ],
        rl: [
            Rl::new(&RL0_CODES, &RL0_RUN, &RL0_LEVEL, RL0_LAST),
            Rl::new(&RL1_CODES, &RL1_RUN, &RL1_LEVEL, RL1_LAST),
            Rl::new(&RL2_CODES, &RL2_RUN, &RL2_LEVEL, RL2_LAST),
            Rl::new(&RL3_CODES, &RL3_RUN, &RL3_LEVEL, RL3_LAST),
            Rl::new(&RL4_CODES, &RL4_RUN, &RL4_LEVEL, RL4_LAST),
            Rl::new(&RL5_CODES, &RL5_RUN, &RL5_LEVEL, RL5_LAST),
        ],
        mv: [
            (numbered(&MV0_CODES), &MV0_X, &MV0_Y),
            (numbered(&MV1_CODES), &MV1_X, &MV1_Y),
        ],
    })
}

/// The escape symbol of the DC tables.
const DC_ESCAPE: i32 = 119;

fn corrupt(what: &str) -> Error {
    Error::invalid(format!("MS-MPEG4 data is corrupt ({what})"))
}

/// What a block leaves for its neighbours' prediction.
#[derive(Clone, Copy)]
struct BlockPred {
    /// Reconstructed DC (`level * scale`).
    dc: i32,
    /// Quantised first column (0..7) and first row (7..14), without the DC.
    ac: [i32; 14],
}

const NO_PRED: BlockPred = BlockPred {
    dc: 1024,
    ac: [0; 14],
};

/// Per-picture state.
struct Frame {
    /// Luma blocks (2*mbw x 2*mbh), then Cb and Cr (mbw x mbh each).
    luma: Vec<BlockPred>,
    chroma: [Vec<BlockPred>; 2],
    /// Coded-block flags of luma blocks (intra pictures).
    coded: Vec<bool>,
    intra: Vec<bool>,
    mv: Vec<[i32; 2]>,
}

/// Picture-level choices.
struct Header {
    intra: bool,
    quant: i32,
    rl_luma: usize,
    rl_chroma: usize,
    dc_table: usize,
    mv_table: usize,
    skip_code: bool,
}

/// An MS-MPEG4 v3 decoder for pictures of a known size.
pub struct Decoder {
    width: usize,
    height: usize,
    mbw: usize,
    mbh: usize,
    last: Option<Picture>,
    slice_height: usize,
    flipflop: bool,
    no_rounding: bool,
}

fn decode012(b: &mut Bits) -> usize {
    if !b.bit() {
        0
    } else if !b.bit() {
        1
    } else {
        2
    }
}

impl Decoder {
    /// A decoder for `width` x `height` pictures (MS-MPEG4 has no sequence header: the
    /// container says the size).
    pub fn new(width: usize, height: usize) -> Result<Decoder> {
        if width == 0 || height == 0 || width > 8192 || height > 8192 {
            return Err(Error::invalid(format!(
                "MS-MPEG4 picture size {width}x{height} is out of range"
            )));
        }
        let (mbw, mbh) = (width.div_ceil(16), height.div_ceil(16));
        Ok(Decoder {
            width,
            height,
            mbw,
            mbh,
            last: None,
            slice_height: mbh,
            flipflop: false,
            no_rounding: false,
        })
    }

    /// Forgets the reference picture (before decoding from another keyframe).
    pub fn reset(&mut self) {
        self.last = None;
    }

    /// Decodes one picture (one AVI chunk) and returns it. An empty chunk repeats the
    /// previous picture.
    pub fn decode(&mut self, data: &[u8]) -> Result<Option<&Picture>> {
        if data.is_empty() {
            return Ok(self.last.as_ref());
        }
        let mut b = Bits::new(data);
        let h = self.header(&mut b)?;
        let mut frame = Frame {
            luma: vec![NO_PRED; 4 * self.mbw * self.mbh],
            chroma: [
                vec![NO_PRED; self.mbw * self.mbh],
                vec![NO_PRED; self.mbw * self.mbh],
            ],
            coded: vec![false; 4 * self.mbw * self.mbh],
            intra: vec![false; self.mbw * self.mbh],
            mv: vec![[0; 2]; self.mbw * self.mbh],
        };
        let mut pic = Picture::new(self.width, self.height);
        let blank;
        let reference = match &self.last {
            Some(p) => p,
            None => {
                blank = Picture::new(self.width, self.height);
                &blank
            }
        };
        let motion = Motion {
            qpel: false,
            rounding: self.no_rounding,
        };
        let mut failed = None;
        'rows: for mby in 0..self.mbh {
            let first_line = mby % self.slice_height == 0;
            for mbx in 0..self.mbw {
                let r = self.macroblock(
                    &mut b,
                    &h,
                    &mut frame,
                    &mut pic,
                    reference,
                    motion,
                    (mbx, mby, first_line),
                );
                if let Err(e) = r.and_then(|_| {
                    if b.overrun() {
                        Err(Error::invalid("MS-MPEG4 picture data is cut short"))
                    } else {
                        Ok(())
                    }
                }) {
                    failed = Some((e, mby * self.mbw + mbx));
                    break 'rows;
                }
            }
        }
        if let Some((e, at)) = failed {
            if h.intra && at == 0 {
                return Err(e);
            }
            // Conceal: the rest of the picture from the reference.
            let mut pred = MbPred::new();
            let still = Motion {
                qpel: false,
                rounding: false,
            };
            for i in at..self.mbw * self.mbh {
                still.predict(
                    reference,
                    i % self.mbw,
                    i / self.mbw,
                    &[[0; 2]; 4],
                    false,
                    &mut pred,
                );
                pred.write(&mut pic, i % self.mbw, i / self.mbw);
            }
        } else if h.intra {
            // The extension header after an intra picture: frame rate, bit rate, rounding.
            let left = b.left();
            if (17..25).contains(&left) {
                b.skip(5 + 11);
                self.flipflop = b.bit();
            } else if left < 17 {
                self.flipflop = false;
            }
        }
        self.last = Some(pic);
        Ok(self.last.as_ref())
    }

    fn header(&mut self, b: &mut Bits) -> Result<Header> {
        let kind = b.read(2);
        if kind > 1 {
            return Err(Error::invalid(format!(
                "MS-MPEG4 picture type {kind} is not intra or predicted (corrupt data?)"
            )));
        }
        let quant = b.read(5) as i32;
        if quant == 0 {
            return Err(Error::invalid("MS-MPEG4 picture has quantiser 0"));
        }
        let intra = kind == 0;
        let mut h = Header {
            intra,
            quant,
            rl_luma: 0,
            rl_chroma: 0,
            dc_table: 0,
            mv_table: 0,
            skip_code: false,
        };
        if intra {
            let code = b.read(5) as usize;
            if code < 0x17 || self.mbh / (code - 0x16) == 0 {
                return Err(Error::invalid("MS-MPEG4 picture has a corrupt slice count"));
            }
            self.slice_height = self.mbh / (code - 0x16);
            h.rl_chroma = decode012(b);
            h.rl_luma = decode012(b);
            h.dc_table = usize::from(b.bit());
            self.no_rounding = true;
        } else {
            h.skip_code = b.bit();
            h.rl_luma = decode012(b);
            h.rl_chroma = h.rl_luma;
            h.dc_table = usize::from(b.bit());
            h.mv_table = usize::from(b.bit());
            self.no_rounding = self.flipflop && !self.no_rounding;
        }
        Ok(h)
    }

    #[allow(clippy::too_many_arguments)]
    fn macroblock(
        &self,
        b: &mut Bits,
        h: &Header,
        f: &mut Frame,
        pic: &mut Picture,
        reference: &Picture,
        motion: Motion,
        (mbx, mby, first_line): (usize, usize, bool),
    ) -> Result<()> {
        let t = tables();
        let idx = mby * self.mbw + mbx;
        let (intra, cbp) = if h.intra {
            let code = t
                .mb_intra
                .decode(b)
                .ok_or_else(|| corrupt("macroblock type"))? as u32;
            let mut cbp = 0;
            for i in 0..6 {
                let mut v = (code >> (5 - i)) & 1 == 1;
                if i < 4 {
                    let bw = 2 * self.mbw;
                    let (bx, by) = (2 * mbx + (i & 1), 2 * mby + (i >> 1));
                    let get = |x: isize, y: isize| -> bool {
                        if x < 0 || y < 0 {
                            false
                        } else {
                            f.coded[y as usize * bw + x as usize]
                        }
                    };
                    let (x, y) = (bx as isize, by as isize);
                    let (a, bb, c) = (get(x - 1, y), get(x - 1, y - 1), get(x, y - 1));
                    let pred = if bb == c { a } else { c };
                    v ^= pred;
                    f.coded[by * bw + bx] = v;
                }
                cbp |= u32::from(v) << (5 - i);
            }
            (true, cbp)
        } else {
            if h.skip_code && b.bit() {
                f.mv[idx] = [0, 0];
                let mut pred = MbPred::new();
                motion.predict(reference, mbx, mby, &[[0; 2]; 4], false, &mut pred);
                pred.write(pic, mbx, mby);
                return Ok(());
            }
            let code = t
                .mb_non_intra
                .decode(b)
                .ok_or_else(|| corrupt("macroblock type"))? as u32;
            (code & 0x40 == 0, code & 0x3f)
        };
        f.intra[idx] = intra;
        if !intra {
            let p = self.predict_mv(f, mbx, mby, first_line);
            let (vlc, tx, ty) = &t.mv[h.mv_table];
            let code = vlc.decode(b).ok_or_else(|| corrupt("motion vector"))? as usize;
            let (dx, dy) = if code == tx.len() {
                (b.read(6) as i32, b.read(6) as i32)
            } else {
                (i32::from(tx[code]), i32::from(ty[code]))
            };
            let wrap = |v: i32| {
                if v <= -64 {
                    v + 64
                } else if v >= 64 {
                    v - 64
                } else {
                    v
                }
            };
            let mv = [wrap(dx + p[0] - 32), wrap(dy + p[1] - 32)];
            f.mv[idx] = mv;
            let mut pred = MbPred::new();
            motion.predict(reference, mbx, mby, &[mv; 4], false, &mut pred);
            pred.write(pic, mbx, mby);
            for n in 0..6 {
                if cbp & (32 >> n) != 0 {
                    let mut c = [0i32; 64];
                    read_coefficients(b, &t.rl[3 + h.rl_luma], -1, 1, &ZIGZAG, h.quant, &mut c)?;
                    let (pl, x, y) = block_at(pic, n, mbx, mby);
                    let s = pl.stride;
                    idct_add(&mut c, &mut pl.data[y * s + x..], s);
                }
            }
            return Ok(());
        }
        f.mv[idx] = [0, 0];
        let ac_pred = b.bit();
        for n in 0..6 {
            let mut c = self.intra_block(
                b,
                h,
                f,
                n,
                (mbx, mby, first_line),
                ac_pred,
                cbp & (32 >> n) != 0,
            )?;
            let (pl, x, y) = block_at(pic, n, mbx, mby);
            let s = pl.stride;
            idct_put(&mut c, &mut pl.data[y * s + x..], s);
        }
        Ok(())
    }

    /// H.263 median prediction of a macroblock's vector; above neighbours of the first
    /// row of a slice do not count.
    fn predict_mv(&self, f: &Frame, mbx: usize, mby: usize, first_line: bool) -> [i32; 2] {
        let at = |x: usize, y: usize| f.mv[y * self.mbw + x];
        let a = if mbx > 0 { at(mbx - 1, mby) } else { [0, 0] };
        if first_line {
            return a;
        }
        let bb = at(mbx, mby - 1);
        let c = if mbx + 1 < self.mbw {
            at(mbx + 1, mby - 1)
        } else {
            [0, 0]
        };
        let med = |a: i32, b: i32, c: i32| a.max(b).min(a.min(b).max(c));
        [med(a[0], bb[0], c[0]), med(a[1], bb[1], c[1])]
    }

    #[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
    fn intra_block(
        &self,
        b: &mut Bits,
        h: &Header,
        f: &mut Frame,
        n: usize,
        (mbx, mby, first_line): (usize, usize, bool),
        ac_pred: bool,
        coded: bool,
    ) -> Result<[i32; 64]> {
        let t = tables();
        let luma = n < 4;
        let scale = dc_scaler(h.quant, luma);
        // Neighbours: (store index) of left, above-left, above; None outside or not intra.
        let (bw, bx, by) = if luma {
            (2 * self.mbw, 2 * mbx + (n & 1), 2 * mby + (n >> 1))
        } else {
            (self.mbw, mbx, mby)
        };
        let mb_of = |x: usize, y: usize| {
            if luma {
                (y / 2) * self.mbw + x / 2
            } else {
                y * self.mbw + x
            }
        };
        let store = |f: &Frame, x: isize, y: isize| -> BlockPred {
            if x < 0 || y < 0 {
                return NO_PRED;
            }
            let (x, y) = (x as usize, y as usize);
            let own = mb_of(x, y) == mby * self.mbw + mbx;
            if !own && !f.intra[mb_of(x, y)] {
                return NO_PRED;
            }
            if luma {
                f.luma[y * bw + x]
            } else {
                f.chroma[n - 4][y * bw + x]
            }
        };
        let (x, y) = (bx as isize, by as isize);
        let left = store(f, x - 1, y);
        let mut above_left = store(f, x - 1, y - 1);
        let mut above = store(f, x, y - 1);
        let top_block = n & 2 == 0;
        if first_line && top_block {
            above_left.dc = 1024;
            above = NO_PRED;
        }
        let div = |v: i32| (v + (scale >> 1)) / scale;
        let (a, bb, c) = (div(left.dc), div(above_left.dc), div(above.dc));
        let from_top = (a - bb).abs() <= (bb - c).abs();
        let pred = if from_top { c } else { a };
        // DC difference.
        let dcv = &t.dc[h.dc_table][usize::from(!luma)];
        let mut level = dcv.decode(b).ok_or_else(|| corrupt("intra DC"))?;
        if level == DC_ESCAPE {
            level = b.read(8) as i32;
            if b.bit() {
                level = -level;
            }
        } else if level != 0 && b.bit() {
            level = -level;
        }
        let level = level + pred;
        let mut q = [0i32; 64];
        q[0] = level;
        if coded {
            let scan = match (ac_pred, from_top) {
                (false, _) => &ZIGZAG,
                (true, true) => &ALT_HORIZONTAL,
                (true, false) => &ALT_VERTICAL,
            };
            let rl = if luma {
                &t.rl[h.rl_luma]
            } else {
                &t.rl[3 + h.rl_chroma]
            };
            read_coefficients(b, rl, 0, 0, scan, 0, &mut q)?;
        }
        if ac_pred {
            if from_top {
                for i in 1..8 {
                    q[i] += above.ac[7 + i - 1];
                }
            } else {
                for i in 1..8 {
                    q[i * 8] += left.ac[i - 1];
                }
            }
        }
        let mut mine = BlockPred {
            dc: level * scale,
            ac: [0; 14],
        };
        for i in 1..8 {
            mine.ac[i - 1] = q[i * 8];
            mine.ac[7 + i - 1] = q[i];
        }
        if luma {
            f.luma[by * bw + bx] = mine;
        } else {
            f.chroma[n - 4][by * bw + bx] = mine;
        }
        // H.263 inverse quantisation of the intra block.
        let add = (h.quant - 1) | 1;
        q[0] *= scale;
        for v in &mut q[1..] {
            if *v != 0 {
                *v = if *v > 0 {
                    *v * 2 * h.quant + add
                } else {
                    *v * 2 * h.quant - add
                };
            }
        }
        Ok(q)
    }
}

fn block_at(
    pic: &mut Picture,
    n: usize,
    mbx: usize,
    mby: usize,
) -> (&mut mpeg4video::Plane, usize, usize) {
    match n {
        0..=3 => (&mut pic.y, mbx * 16 + 8 * (n & 1), mby * 16 + 8 * (n >> 1)),
        4 => (&mut pic.u, mbx * 8, mby * 8),
        _ => (&mut pic.v, mbx * 8, mby * 8),
    }
}

/// Reads run/level coefficients into `q` (raster order via `scan`). `start` is the
/// position before the first coefficient (0 intra: after the DC; -1 inter). A non-zero
/// `quant` inverse-quantises (inter blocks); intra levels stay quantised.
fn read_coefficients(
    b: &mut Bits,
    rl: &Rl,
    start: i32,
    run_diff: i32,
    scan: &[u8; 64],
    quant: i32,
    q: &mut [i32; 64],
) -> Result<()> {
    let (mul, add) = if quant > 0 {
        (2 * quant, (quant - 1) | 1)
    } else {
        (1, 0)
    };
    let deq = |l: i32| if l > 0 { l * mul + add } else { l * mul - add };
    let mut pos = start;
    loop {
        let sym = rl.vlc.decode(b).ok_or_else(|| corrupt("coefficients"))?;
        let (level, last) = if sym != rl.escape {
            let (run, level, last) = rl.symbols[sym as usize];
            pos += i32::from(run) + 1;
            let l = i32::from(level);
            (if b.bit() { -l } else { l }, last)
        } else if b.bit() {
            // First escape: level beyond the largest of its run.
            let s = rl.vlc.decode(b).ok_or_else(|| corrupt("escape"))?;
            let &(run, level, last) = rl
                .symbols
                .get(s as usize)
                .ok_or_else(|| corrupt("escape"))?;
            pos += i32::from(run) + 1;
            let l = i32::from(level) + i32::from(rl.max_level[usize::from(last)][usize::from(run)]);
            (if b.bit() { -l } else { l }, last)
        } else if b.bit() {
            // Second escape: run beyond the largest of its level.
            let s = rl.vlc.decode(b).ok_or_else(|| corrupt("escape"))?;
            let &(run, level, last) = rl
                .symbols
                .get(s as usize)
                .ok_or_else(|| corrupt("escape"))?;
            pos += i32::from(run)
                + 1
                + i32::from(rl.max_run[usize::from(last)][usize::from(level)])
                + run_diff;
            let l = i32::from(level);
            (if b.bit() { -l } else { l }, last)
        } else {
            // Third escape: fixed length.
            let last = b.bit();
            let run = b.read(6) as i32;
            let level = ((b.read(8) as i32) << 24) >> 24;
            pos += run + 1;
            (level, last)
        };
        if !(0..64).contains(&pos) {
            return Err(corrupt("coefficient run"));
        }
        q[scan[pos as usize] as usize] = if quant > 0 { deq(level) } else { level };
        if last {
            return Ok(());
        }
        if b.overrun() {
            return Err(Error::invalid("MS-MPEG4 block data is cut short"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_build_and_escape_is_last() {
        let t = tables();
        assert_eq!(t.rl[0].symbols.len(), 132);
        assert_eq!(t.rl[2].max_level[0][0], 27);
        assert_eq!(t.mv[0].1.len(), 1099);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut d = Decoder::new(64, 48).unwrap();
        assert!(d.decode(&[0xff; 3]).is_err());
        for seed in 0u32..200 {
            let data: Vec<u8> = (0..64u32)
                .map(|i| (i.wrapping_mul(2654435761).wrapping_add(seed * 7919) >> 13) as u8 & 0x3f)
                .collect();
            let _ = d.decode(&data);
        }
    }
}
