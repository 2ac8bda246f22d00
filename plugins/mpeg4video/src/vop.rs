//! The macroblock layer of I-, P- and B-VOPs (clause 6.2.6 and 7.5-7.6): macroblock
//! types, motion vector prediction and decoding, video packets after resync markers,
//! direct-mode B macroblocks, and reconstruction.
//!
//! A macroblock that fails to decode ends the VOP: the macroblocks not decoded are
//! copied from the reference (a damaged but whole picture), and the caller is told.

use crate::bits::Bits;
use crate::coef::{self, Quantiser};
use crate::error::{Error, Result};
use crate::header::{Vol, Vop, VopType};
use crate::idct::{idct_add, idct_put};
use crate::intra::{Avail, IntraBlock, IntraStore};
use crate::picture::Picture;
use crate::predict::{MbPred, Motion};
use crate::tables::{ZIGZAG, tables};

const NO_SLICE: u32 = u32::MAX;

/// What later decoding needs of a macroblock.
#[derive(Clone, Copy, Debug)]
pub struct MbInfo {
    /// Intra coded.
    pub intra: bool,
    /// `not_coded` in a P-VOP (B-VOPs skip the co-located macroblock too).
    pub skipped: bool,
    /// Quantiser.
    pub quant: i32,
    /// Video packet number, [`NO_SLICE`] until decoded.
    pub slice: u32,
    /// Forward vectors of the four luma blocks (zero for intra and skipped).
    pub mv: [[i32; 2]; 4],
}

impl Default for MbInfo {
    fn default() -> Self {
        MbInfo {
            intra: false,
            skipped: false,
            quant: 1,
            slice: NO_SLICE,
            mv: [[0; 2]; 4],
        }
    }
}

/// A reference VOP: its picture and its macroblocks' vectors.
pub struct RefFrame {
    /// The picture.
    pub pic: Picture,
    /// Per macroblock, raster order.
    pub mbs: Vec<MbInfo>,
}

impl RefFrame {
    /// A grey reference, standing in for one the stream did not give (decoding from a
    /// point that is not a keyframe).
    pub fn blank(vol: &Vol) -> RefFrame {
        RefFrame {
            pic: Picture::new(vol.width, vol.height),
            mbs: vec![MbInfo::default(); vol.mb_width() * vol.mb_height()],
        }
    }
}

/// B-VOP timing for direct mode: `trb` past reference to B, `trd` between references.
#[derive(Clone, Copy, Debug)]
pub struct Direct {
    /// Ticks from the past reference to this B-VOP.
    pub trb: i32,
    /// Ticks between the two references.
    pub trd: i32,
}

struct Ctx<'a> {
    vol: &'a Vol,
    vop: &'a Vop,
    mbw: usize,
    mbh: usize,
    mbs: Vec<MbInfo>,
    intra: IntraStore,
    slice: u32,
    quant: i32,
    quantiser: Quantiser<'a>,
    motion: Motion,
    /// B-VOP vector predictors, forward and backward.
    pred_f: [i32; 2],
    pred_b: [i32; 2],
}

struct Neighbours<'a> {
    mbs: &'a [MbInfo],
    mbw: usize,
    mbx: usize,
    mby: usize,
    slice: u32,
}

impl Avail for Neighbours<'_> {
    fn quant(&self, dx: isize, dy: isize) -> Option<i32> {
        let x = self.mbx.checked_add_signed(dx)?;
        let y = self.mby.checked_add_signed(dy)?;
        if x >= self.mbw {
            return None;
        }
        let m = &self.mbs[y * self.mbw + x];
        (m.intra && m.slice == self.slice).then_some(m.quant)
    }
}

fn corrupt(what: &str) -> Error {
    Error::invalid(format!("MPEG-4 macroblock data is corrupt ({what})"))
}

/// Reads one motion vector component: `pred` plus the coded difference, wrapped into
/// the range of `fcode`.
fn read_mv_component(b: &mut Bits, fcode: u32, pred: i32) -> Result<i32> {
    let code = tables()
        .mvd
        .decode(b)
        .ok_or_else(|| corrupt("motion vector"))?;
    if code == 0 {
        return Ok(pred);
    }
    let negative = b.bit();
    let shift = fcode - 1;
    let mut v = code;
    if shift > 0 {
        v = ((v - 1) << shift) + b.read(shift) as i32 + 1;
    }
    if negative {
        v = -v;
    }
    let bits = 5 + fcode;
    let wrapped = ((pred + v) << (32 - bits)) >> (32 - bits);
    Ok(wrapped)
}

fn read_mv(b: &mut Bits, fcode: u32, pred: [i32; 2]) -> Result<[i32; 2]> {
    Ok([
        read_mv_component(b, fcode, pred[0])?,
        read_mv_component(b, fcode, pred[1])?,
    ])
}

fn median(a: i32, b: i32, c: i32) -> i32 {
    a.max(b).min(a.min(b).max(c))
}

/// Where block `n` of macroblock `(mbx, mby)` lies: plane index 0-2, x, y.
fn block_at(n: usize, mbx: usize, mby: usize) -> (usize, usize, usize) {
    match n {
        0..=3 => (0, mbx * 16 + 8 * (n & 1), mby * 16 + 8 * (n >> 1)),
        _ => (n - 3, mbx * 8, mby * 8),
    }
}

fn plane(pic: &mut Picture, p: usize) -> &mut crate::picture::Plane {
    match p {
        0 => &mut pic.y,
        1 => &mut pic.u,
        _ => &mut pic.v,
    }
}

impl<'a> Ctx<'a> {
    fn new(vol: &'a Vol, vop: &'a Vop) -> Ctx<'a> {
        let (mbw, mbh) = (vol.mb_width(), vol.mb_height());
        Ctx {
            vol,
            vop,
            mbw,
            mbh,
            mbs: vec![MbInfo::default(); mbw * mbh],
            intra: IntraStore::new(mbw, mbh),
            slice: 0,
            quant: vop.quant as i32,
            quantiser: if vol.mpeg_quant {
                Quantiser::Mpeg {
                    intra: &vol.intra_matrix,
                    inter: &vol.inter_matrix,
                }
            } else {
                Quantiser::H263
            },
            motion: Motion {
                qpel: vol.quarter_sample,
                rounding: vop.rounding,
            },
            pred_f: [0; 2],
            pred_b: [0; 2],
        }
    }

    /// Zero bits before the one that ends a resync marker.
    fn resync_zeros(&self) -> u32 {
        let v = self.vop;
        match v.kind {
            VopType::I => 16,
            VopType::P => 15 + v.fcode_forward,
            VopType::B => 15 + v.fcode_forward.max(v.fcode_backward).max(2),
        }
    }

    fn mb_number_bits(&self) -> u32 {
        (32 - ((self.mbw * self.mbh - 1) as u32).leading_zeros()).max(1)
    }

    /// Skips the stuffing before a resync marker, if that is what follows.
    fn skip_stuffing(b: &mut Bits) -> bool {
        let k = match b.to_align() {
            0 => 8,
            k => k,
        };
        b.read(k) == (1 << (k - 1)) - 1
    }

    /// If stuffing and a resync marker come next, the macroblock number of the video
    /// packet it starts (checked to lie between `current` and the end, so that
    /// macroblock data that happens to look like a marker is not taken for one).
    fn resync_target(&self, b: &Bits, current: usize) -> Option<usize> {
        let mut a = b.clone();
        if !Self::skip_stuffing(&mut a) {
            return None;
        }
        let mut zeros = 0;
        while !a.bit() {
            zeros += 1;
            if zeros > 32 {
                return None;
            }
        }
        if zeros < self.resync_zeros() {
            return None;
        }
        let mb = a.read(self.mb_number_bits()) as usize;
        (mb >= current && mb < self.mbw * self.mbh && !a.overrun()).then_some(mb)
    }

    /// Reads a video packet header (stuffing, marker, then the header).
    fn packet_header(&mut self, b: &mut Bits) -> Result<usize> {
        Self::skip_stuffing(b);
        while !b.bit() {
            if b.overrun() {
                return Err(corrupt("resync marker"));
            }
        }
        let count = self.mbw * self.mbh;
        let mb = b.read(self.mb_number_bits()) as usize;
        if mb == 0 || mb >= count {
            return Err(corrupt("video packet number"));
        }
        self.quant = b.read(5) as i32;
        if self.quant == 0 {
            return Err(corrupt("video packet quantiser"));
        }
        if b.bit() {
            // header_extension_code: a copy of the VOP header's timing and types.
            let mut n = 0;
            while b.bit() {
                n += 1;
                if n > 1000 {
                    return Err(corrupt("video packet time base"));
                }
            }
            b.skip(1 + self.vol.time_bits + 1 + 2 + 3);
            if self.vop.kind != VopType::I {
                b.skip(3);
            }
            if self.vop.kind == VopType::B {
                b.skip(3);
            }
        }
        self.slice += 1;
        self.pred_f = [0; 2];
        self.pred_b = [0; 2];
        Ok(mb)
    }

    /// Decodes the macroblocks, calling `mb` for each in order (after any video packet
    /// header). `no_bits` says which macroblocks take no bits (B-VOP macroblocks whose
    /// co-located one was skipped): those before a video packet's first macroblock are
    /// still decoded. Returns the error that stopped it, if any.
    fn run(
        &mut self,
        b: &mut Bits,
        no_bits: impl Fn(usize) -> bool,
        mut mb: impl FnMut(&mut Self, &mut Bits, usize, usize) -> Result<()>,
    ) -> Option<Error> {
        let count = self.mbw * self.mbh;
        let mut i = 0;
        while i < count {
            if !self.vol.resync_disabled
                && i > 0
                && let Some(n) = self.resync_target(b, i)
            {
                while i < n {
                    if no_bits(i)
                        && let Err(e) = mb(self, b, i % self.mbw, i / self.mbw)
                    {
                        return Some(e);
                    }
                    i += 1;
                }
                if let Err(e) = self.packet_header(b) {
                    return Some(e);
                }
            }
            let (x, y) = (i % self.mbw, i / self.mbw);
            if x == 0 {
                self.pred_f = [0; 2];
                self.pred_b = [0; 2];
            }
            if let Err(e) = mb(self, b, x, y) {
                return Some(e);
            }
            if b.overrun() {
                return Some(Error::invalid("MPEG-4 VOP data is cut short"));
            }
            i += 1;
        }
        None
    }

    fn dquant(&mut self, b: &mut Bits) {
        const D: [i32; 4] = [-1, -2, 1, 2];
        self.quant = (self.quant + D[b.read(2) as usize]).clamp(1, 31);
    }

    fn intra_blocks(
        &mut self,
        b: &mut Bits,
        pic: &mut Picture,
        (mbx, mby): (usize, usize),
        cbp: u32,
        ac_pred: bool,
        dc_vlc: bool,
    ) -> Result<()> {
        for n in 0..6 {
            let blk = IntraBlock {
                n,
                mbx,
                mby,
                quant: self.quant,
                ac_pred,
                dc_vlc,
                coded: cbp & (32 >> n) != 0,
            };
            let avail = Neighbours {
                mbs: &self.mbs,
                mbw: self.mbw,
                mbx,
                mby,
                slice: self.slice,
            };
            let mut f = self.intra.decode(b, &blk, self.quantiser, &avail)?;
            let (p, x, y) = block_at(n, mbx, mby);
            let pl = plane(pic, p);
            let s = pl.stride;
            idct_put(&mut f, &mut pl.data[y * s + x..], s);
        }
        Ok(())
    }

    fn inter_blocks(
        &mut self,
        b: &mut Bits,
        pic: &mut Picture,
        (mbx, mby): (usize, usize),
        cbp: u32,
    ) -> Result<()> {
        for n in 0..6 {
            if cbp & (32 >> n) == 0 {
                continue;
            }
            let mut f = [0i32; 64];
            coef::read(b, false, 0, &ZIGZAG, &mut f)?;
            self.quantiser.dequantise(&mut f, self.quant, false);
            let (p, x, y) = block_at(n, mbx, mby);
            let pl = plane(pic, p);
            let s = pl.stride;
            idct_add(&mut f, &mut pl.data[y * s + x..], s);
        }
        Ok(())
    }

    fn i_mb(&mut self, b: &mut Bits, pic: &mut Picture, mbx: usize, mby: usize) -> Result<()> {
        let t = tables();
        let v = loop {
            let v = t.mcbpc_intra.decode(b).ok_or_else(|| corrupt("mcbpc"))?;
            if v != 8 {
                break v as u32;
            }
            if b.overrun() {
                return Err(corrupt("stuffing"));
            }
        };
        let ac_pred = b.bit();
        let cbpy = t.cbpy.decode(b).ok_or_else(|| corrupt("cbpy"))? as u32;
        let dc_vlc = self.quant < self.vop.dc_threshold as i32;
        if v >= 4 {
            self.dquant(b);
        }
        self.mbs[mby * self.mbw + mbx] = MbInfo {
            intra: true,
            skipped: false,
            quant: self.quant,
            slice: self.slice,
            mv: [[0; 2]; 4],
        };
        self.intra_blocks(b, pic, (mbx, mby), (cbpy << 2) | (v & 3), ac_pred, dc_vlc)
    }

    /// The median prediction of the vector of luma block `k` (clause 7.6.5).
    fn predict_mv(&self, mbx: usize, mby: usize, k: usize) -> [i32; 2] {
        const A: [(isize, isize, usize); 4] = [(-1, 0, 1), (0, 0, 0), (-1, 0, 3), (0, 0, 2)];
        const B: [(isize, isize, usize); 4] = [(0, -1, 2), (0, -1, 3), (0, 0, 0), (0, 0, 0)];
        const C: [(isize, isize, usize); 4] = [(1, -1, 2), (1, -1, 2), (0, 0, 1), (0, 0, 1)];
        let get = |(dx, dy, blk): (isize, isize, usize)| -> Option<[i32; 2]> {
            let x = mbx.checked_add_signed(dx)?;
            let y = mby.checked_add_signed(dy)?;
            if x >= self.mbw {
                return None;
            }
            let m = &self.mbs[y * self.mbw + x];
            (m.slice == self.slice).then_some(m.mv[blk])
        };
        let c = [get(A[k]), get(B[k]), get(C[k])];
        match c.iter().filter(|v| v.is_some()).count() {
            0 => [0, 0],
            1 => c.iter().flatten().next().copied().unwrap_or([0, 0]),
            _ => {
                let v = c.map(|v| v.unwrap_or([0, 0]));
                [
                    median(v[0][0], v[1][0], v[2][0]),
                    median(v[0][1], v[1][1], v[2][1]),
                ]
            }
        }
    }

    fn p_mb(
        &mut self,
        b: &mut Bits,
        pic: &mut Picture,
        reference: &RefFrame,
        (mbx, mby): (usize, usize),
    ) -> Result<()> {
        let t = tables();
        let idx = mby * self.mbw + mbx;
        let mut pred = MbPred::new();
        let v = loop {
            if b.bit() {
                self.mbs[idx] = MbInfo {
                    skipped: true,
                    quant: self.quant,
                    slice: self.slice,
                    ..MbInfo::default()
                };
                self.motion
                    .predict(&reference.pic, mbx, mby, &[[0; 2]; 4], false, &mut pred);
                pred.write(pic, mbx, mby);
                return Ok(());
            }
            let v = t.mcbpc_inter.decode(b).ok_or_else(|| corrupt("mcbpc"))?;
            if v != 20 {
                break v as u32;
            }
            if b.overrun() {
                return Err(corrupt("stuffing"));
            }
        };
        let (kind, cbpc) = (v / 4, v & 3);
        let intra = kind >= 3;
        let ac_pred = intra && b.bit();
        let mut cbpy = t.cbpy.decode(b).ok_or_else(|| corrupt("cbpy"))? as u32;
        if !intra {
            cbpy ^= 15;
        }
        let dc_vlc = self.quant < self.vop.dc_threshold as i32;
        if kind == 1 || kind == 4 {
            self.dquant(b);
        }
        self.mbs[idx] = MbInfo {
            intra,
            skipped: false,
            quant: self.quant,
            slice: self.slice,
            mv: [[0; 2]; 4],
        };
        let cbp = (cbpy << 2) | cbpc;
        if intra {
            return self.intra_blocks(b, pic, (mbx, mby), cbp, ac_pred, dc_vlc);
        }
        let fcode = self.vop.fcode_forward;
        let four = kind == 2;
        if four {
            for k in 0..4 {
                let p = self.predict_mv(mbx, mby, k);
                self.mbs[idx].mv[k] = read_mv(b, fcode, p)?;
            }
        } else {
            let p = self.predict_mv(mbx, mby, 0);
            self.mbs[idx].mv = [read_mv(b, fcode, p)?; 4];
        }
        let mv = self.mbs[idx].mv;
        self.motion
            .predict(&reference.pic, mbx, mby, &mv, four, &mut pred);
        pred.write(pic, mbx, mby);
        self.inter_blocks(b, pic, (mbx, mby), cbp)
    }

    #[allow(clippy::too_many_arguments)]
    fn b_mb(
        &mut self,
        b: &mut Bits,
        pic: &mut Picture,
        past: &RefFrame,
        future: &RefFrame,
        direct: Direct,
        (mbx, mby): (usize, usize),
    ) -> Result<()> {
        let t = tables();
        let idx = mby * self.mbw + mbx;
        self.mbs[idx].slice = self.slice;
        let colocated = future.mbs[idx];
        let mut fwd = MbPred::new();
        if colocated.skipped {
            self.motion
                .predict(&past.pic, mbx, mby, &[[0; 2]; 4], false, &mut fwd);
            fwd.write(pic, mbx, mby);
            return Ok(());
        }
        // 0 direct, 1 interpolate, 2 backward, 3 forward.
        let (kind, cbp, delta) = if b.bit() {
            (0, 0, false)
        } else {
            let no_cbp = b.bit();
            let kind = t.mb_type_b.decode(b).ok_or_else(|| corrupt("B mb_type"))?;
            let cbp = if no_cbp { 0 } else { b.read(6) };
            if kind != 0 && cbp != 0 && b.bit() {
                self.quant = (self.quant + if b.bit() { 2 } else { -2 }).clamp(1, 31);
            }
            (kind, cbp, true)
        };
        let mut bwd = MbPred::new();
        let (ff, fb) = (self.vop.fcode_forward, self.vop.fcode_backward);
        match kind {
            0 => {
                let d = if delta {
                    read_mv(b, 1, [0, 0])?
                } else {
                    [0, 0]
                };
                let (mvf, mvb) = direct_vectors(&colocated, d, direct);
                self.motion
                    .predict(&past.pic, mbx, mby, &mvf, true, &mut fwd);
                self.motion
                    .predict(&future.pic, mbx, mby, &mvb, true, &mut bwd);
                fwd.average(&bwd);
            }
            1 => {
                self.pred_f = read_mv(b, ff, self.pred_f)?;
                self.pred_b = read_mv(b, fb, self.pred_b)?;
                self.motion
                    .predict(&past.pic, mbx, mby, &[self.pred_f; 4], false, &mut fwd);
                self.motion
                    .predict(&future.pic, mbx, mby, &[self.pred_b; 4], false, &mut bwd);
                fwd.average(&bwd);
            }
            2 => {
                self.pred_b = read_mv(b, fb, self.pred_b)?;
                self.motion
                    .predict(&future.pic, mbx, mby, &[self.pred_b; 4], false, &mut fwd);
            }
            _ => {
                self.pred_f = read_mv(b, ff, self.pred_f)?;
                self.motion
                    .predict(&past.pic, mbx, mby, &[self.pred_f; 4], false, &mut fwd);
            }
        }
        fwd.write(pic, mbx, mby);
        self.inter_blocks(b, pic, (mbx, mby), cbp)
    }
}

/// The forward and backward vectors of a direct-mode macroblock (clause 7.6.9.5.2):
/// the co-located vectors of the future reference scaled by time, plus `delta`.
fn direct_vectors(
    colocated: &MbInfo,
    delta: [i32; 2],
    d: Direct,
) -> ([[i32; 2]; 4], [[i32; 2]; 4]) {
    let trd = if d.trd == 0 { 1 } else { d.trd };
    let trb = d.trb;
    let mut f = [[0; 2]; 4];
    let mut bk = [[0; 2]; 4];
    for k in 0..4 {
        for c in 0..2 {
            let mv = colocated.mv[k][c];
            f[k][c] = mv * trb / trd + delta[c];
            bk[k][c] = if delta[c] == 0 {
                mv * (trb - trd) / trd
            } else {
                f[k][c] - mv
            };
        }
    }
    (f, bk)
}

/// Decodes a B-VOP (`b` after the VOP header) from its two references. Returns the
/// picture and whether data was damaged.
pub fn decode_b(
    vol: &Vol,
    vop: &Vop,
    b: &mut Bits,
    past: &RefFrame,
    future: &RefFrame,
    direct: Direct,
) -> Result<(Picture, Option<Error>)> {
    if vol.data_partitioned {
        return Err(Error::unsupported(
            "MPEG-4 data partitioning is not supported",
        ));
    }
    let mut ctx = Ctx::new(vol, vop);
    ctx.motion.rounding = false;
    let mut pic = Picture::new(vol.width, vol.height);
    let damage = ctx.run(
        b,
        |i| future.mbs[i].skipped,
        |c, b, x, y| c.b_mb(b, &mut pic, past, future, direct, (x, y)),
    );
    if damage.is_some() {
        conceal(&mut ctx.mbs, &mut pic, &future.pic, ctx.mbw);
    }
    Ok((pic, damage))
}

/// Decodes an I- or P-VOP (`b` after the VOP header). `reference` is the previous
/// reference for a P-VOP. Returns the new reference and whether data was damaged.
pub fn decode_reference(
    vol: &Vol,
    vop: &Vop,
    b: &mut Bits,
    reference: Option<&RefFrame>,
) -> Result<(RefFrame, Option<Error>)> {
    if vol.data_partitioned {
        return Err(Error::unsupported(
            "MPEG-4 data partitioning is not supported",
        ));
    }
    let mut ctx = Ctx::new(vol, vop);
    let mut pic = Picture::new(vol.width, vol.height);
    let blank;
    let reference = match reference {
        Some(r) => r,
        None => {
            blank = RefFrame::blank(vol);
            &blank
        }
    };
    let damage = match vop.kind {
        VopType::I => ctx.run(b, |_| false, |c, b, x, y| c.i_mb(b, &mut pic, x, y)),
        _ => ctx.run(
            b,
            |_| false,
            |c, b, x, y| c.p_mb(b, &mut pic, reference, (x, y)),
        ),
    };
    if damage.is_some() {
        conceal(&mut ctx.mbs, &mut pic, &reference.pic, ctx.mbw);
    }
    Ok((RefFrame { pic, mbs: ctx.mbs }, damage))
}

/// Copies the macroblocks not decoded from `from`.
fn conceal(mbs: &mut [MbInfo], pic: &mut Picture, from: &Picture, mbw: usize) {
    let mut pred = MbPred::new();
    let still = Motion {
        qpel: false,
        rounding: false,
    };
    for (i, m) in mbs.iter_mut().enumerate() {
        if m.slice == NO_SLICE {
            *m = MbInfo::default();
            still.predict(from, i % mbw, i / mbw, &[[0; 2]; 4], false, &mut pred);
            pred.write(pic, i % mbw, i / mbw);
        }
    }
}
