//! Decoding one frame's macroblock rows: modes from the first partition, coefficients
//! from token partition `row % partitions`, reconstruction as soon as a macroblock is
//! read, and the loop filter one row behind (intra prediction wants unfiltered pixels).

use crate::Error;
use crate::bool_decoder::BoolDecoder;
use crate::frame::Frame;
use crate::header::{FrameHeader, Persistent};
use crate::loop_filter::{Strength, filter_row, strength};
use crate::modes::{
    BMode, FrameModes, LumaMode, MbInfo, Mv, Neighbours, RefFrame, read_inter_frame_modes,
    read_kf_modes,
};
use crate::reconstruct::{InterSetup, reconstruct};
use crate::tables::SEGMENT_TREE;
use crate::tokens::{Dequant, EdgeContext, MbCoeffs, read_mb_coeffs, skip_mb};

/// Everything fixed while one frame's rows are decoded.
pub struct RowDecoder<'a> {
    pub keyframe: bool,
    pub header: &'a FrameHeader,
    pub state: &'a Persistent,
    pub dequant: [Dequant; 4],
    pub mb_cols: usize,
    pub mb_rows: usize,
}

/// The record of macroblocks outside the frame.
const OUTSIDE: MbInfo = MbInfo {
    y_mode: LumaMode::Dc,
    uv_mode: LumaMode::Dc,
    ref_frame: RefFrame::Intra,
    mv: Mv::ZERO,
    segment: 0,
    skip: false,
    has_coeffs: false,
    bmodes: [BMode::Dc; 16],
    mvs: [Mv::ZERO; 16],
};

impl RowDecoder<'_> {
    /// Decodes every row of the frame into `frame`.
    pub fn decode(
        &self,
        d: &mut BoolDecoder,
        partitions: Vec<&[u8]>,
        frame: &mut Frame,
        mbs: &mut [MbInfo],
        segments: &mut [u8],
        inter: &InterSetup,
    ) -> Result<(), Error> {
        let mut tokens: Vec<BoolDecoder> = partitions.iter().map(|p| BoolDecoder::new(p)).collect();
        let cols = self.mb_cols;
        let mut above_ctx: Vec<EdgeContext> = vec![[false; 9]; cols];
        let lf = &self.state.loop_filter;
        let mut strengths = vec![
            vec![
                Strength {
                    level: 0,
                    interior: 0,
                    hev_threshold: 0
                };
                cols
            ];
            2
        ];
        let mut inner = vec![vec![false; cols]; 2];
        let modes = FrameModes {
            header: self.header,
            ymode_probs: &self.state.probs.ymode,
            uv_mode_probs: &self.state.probs.uv_mode,
            mv_probs: &self.state.probs.mv,
            mb_cols: cols,
            mb_rows: self.mb_rows,
        };
        let mut coeffs = MbCoeffs::default();
        for row in 0..self.mb_rows {
            let part = row % tokens.len();
            let t = &mut tokens[part];
            let mut left_ctx: EdgeContext = [false; 9];
            let cur = row % 2;
            for col in 0..cols {
                let i = row * cols + col;
                let mut mb = self.read_modes(d, &modes, mbs, segments, (col, row))?;
                let has_y2 = !matches!(mb.y_mode, LumaMode::B | LumaMode::Split);
                coeffs.clear();
                mb.has_coeffs = if mb.skip {
                    skip_mb(has_y2, &mut above_ctx[col], &mut left_ctx);
                    false
                } else {
                    let dq = &self.dequant[usize::from(mb.segment)];
                    let probs = &self.state.probs.coeff;
                    read_mb_coeffs(
                        t,
                        probs,
                        dq,
                        has_y2,
                        &mut above_ctx[col],
                        &mut left_ctx,
                        &mut coeffs,
                    )
                };
                reconstruct(frame, (col, row), &mb, &mut coeffs, inter);
                let seg_level = self.segment_filter_level(mb.segment);
                strengths[cur][col] = strength(lf, seg_level, &mb, self.keyframe);
                inner[cur][col] =
                    mb.has_coeffs || matches!(mb.y_mode, LumaMode::B | LumaMode::Split);
                mbs[i] = mb;
            }
            if t.overran() {
                return Err(Error::corrupt(format!(
                    "token partition {part} ends before macroblock row {row}"
                )));
            }
            if d.overran() {
                return Err(Error::corrupt(format!(
                    "the first partition ends before the modes of macroblock row {row}"
                )));
            }
            if lf.level > 0 && row > 0 {
                let prev = 1 - cur;
                filter_row(frame, row - 1, &strengths[prev], &inner[prev], lf.simple);
            }
        }
        if lf.level > 0 && self.mb_rows > 0 {
            let last = (self.mb_rows - 1) % 2;
            filter_row(
                frame,
                self.mb_rows - 1,
                &strengths[last],
                &inner[last],
                lf.simple,
            );
        }
        Ok(())
    }

    /// The loop filter level of a segment before mode and reference adjustments.
    fn segment_filter_level(&self, segment: u8) -> i32 {
        let seg = &self.state.segmentation;
        let level = self.state.loop_filter.level;
        match (seg.enabled, seg.absolute) {
            (false, _) => level,
            (true, true) => seg.filter_level[usize::from(segment)],
            (true, false) => level + seg.filter_level[usize::from(segment)],
        }
    }

    /// Reads macroblock (`col`, `row`)'s segment, skip flag and modes.
    fn read_modes(
        &self,
        d: &mut BoolDecoder,
        modes: &FrameModes,
        mbs: &[MbInfo],
        segments: &mut [u8],
        (col, row): (usize, usize),
    ) -> Result<MbInfo, Error> {
        let cols = self.mb_cols;
        let i = row * cols + col;
        let seg = &self.state.segmentation;
        let mut mb = MbInfo::default();
        if seg.update_map {
            segments[i] = d.read_tree(&SEGMENT_TREE, &seg.tree_probs);
        } else if self.keyframe {
            segments[i] = 0;
        }
        mb.segment = if seg.enabled { segments[i] } else { 0 };
        mb.skip = self.header.skip_prob.is_some_and(|p| d.read(p));
        let n = Neighbours {
            above: if row > 0 { &mbs[i - cols] } else { &OUTSIDE },
            left: if col > 0 { &mbs[i - 1] } else { &OUTSIDE },
            above_left: if row > 0 && col > 0 {
                &mbs[i - cols - 1]
            } else {
                &OUTSIDE
            },
        };
        if self.keyframe {
            read_kf_modes(d, &n, &mut mb);
        } else {
            read_inter_frame_modes(d, modes, &n, (col, row), &mut mb);
        }
        Ok(mb)
    }
}
