//! Per-macroblock prediction records from the first partition: intra modes of key frames
//! (section 11) and of inter frames (16.1), reference frames and motion vectors (16.2 to 17).
//!
//! Motion vectors are kept as the reference decoder keeps them: in eighths of a luma pixel
//! (the coded quarter-pixel value doubled), as `i16` with the same wrap-around.

use crate::bool_decoder::BoolDecoder;
use crate::header::FrameHeader;
use crate::tables::{
    BMODE_PROBS, BMODE_TREE, KF_BMODE_PROBS, KF_UV_MODE_PROBS, KF_YMODE_PROBS, KF_YMODE_TREE,
    MODE_CONTEXTS, MV_PARTITIONS, MV_REF_TREE, SMALL_MV_TREE, SPLIT_MV_PROBS, SPLIT_MV_TREE,
    SUB_MV_REF_PROBS, SUB_MV_REF_TREE, UV_MODE_TREE, YMODE_TREE,
};

/// A motion vector in eighths of a luma pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mv {
    /// Horizontal component.
    pub x: i16,
    /// Vertical component.
    pub y: i16,
}

impl Mv {
    /// The zero vector.
    pub const ZERO: Mv = Mv { x: 0, y: 0 };

    fn is_zero(self) -> bool {
        self == Mv::ZERO
    }

    fn wrapping_add(self, o: Mv) -> Mv {
        Mv {
            x: self.x.wrapping_add(o.x),
            y: self.y.wrapping_add(o.y),
        }
    }
}

/// A macroblock's luma prediction: the intra modes, then the inter modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LumaMode {
    /// Intra: average of the edges.
    #[default]
    Dc,
    /// Intra: copy of the row above.
    V,
    /// Intra: copy of the column to the left.
    H,
    /// Intra: "TrueMotion", left + above - corner.
    Tm,
    /// Intra: each 4x4 block has its own mode.
    B,
    /// Inter: the nearest neighbouring vector.
    Nearest,
    /// Inter: the next nearest neighbouring vector.
    Near,
    /// Inter: no motion.
    Zero,
    /// Inter: a coded vector relative to the best neighbouring one.
    New,
    /// Inter: 2, 4 or 16 vectors for parts of the macroblock.
    Split,
}

/// Intra luma and chroma modes by their coded value.
const INTRA_MODES: [LumaMode; 5] = [
    LumaMode::Dc,
    LumaMode::V,
    LumaMode::H,
    LumaMode::Tm,
    LumaMode::B,
];
/// Inter modes by their coded value (see [`MV_REF_TREE`]).
const INTER_MODES: [LumaMode; 5] = [
    LumaMode::Nearest,
    LumaMode::Near,
    LumaMode::Zero,
    LumaMode::New,
    LumaMode::Split,
];

/// The ten 4x4 intra modes, in coded order (section 11.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub enum BMode {
    #[default]
    Dc,
    Tm,
    Ve,
    He,
    Ld,
    Rd,
    Vr,
    Vl,
    Hd,
    Hu,
}

const BMODES: [BMode; 10] = [
    BMode::Dc,
    BMode::Tm,
    BMode::Ve,
    BMode::He,
    BMode::Ld,
    BMode::Rd,
    BMode::Vr,
    BMode::Vl,
    BMode::Hd,
    BMode::Hu,
];

/// The frame a macroblock is predicted from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RefFrame {
    /// The current frame (intra prediction).
    #[default]
    Intra = 0,
    /// The last frame.
    Last = 1,
    /// The golden frame.
    Golden = 2,
    /// The alternate reference frame.
    AltRef = 3,
}

/// Everything decoded about one macroblock before its coefficients.
#[derive(Debug, Clone, Copy, Default)]
pub struct MbInfo {
    /// Luma mode (intra or inter).
    pub y_mode: LumaMode,
    /// Chroma mode (intra macroblocks; one of the first four intra modes).
    pub uv_mode: LumaMode,
    /// Reference frame.
    pub ref_frame: RefFrame,
    /// The macroblock's vector (for SPLITMV, its last sub-block's, as neighbours see it).
    pub mv: Mv,
    /// Segment 0..=3.
    pub segment: u8,
    /// No coefficients are coded for it.
    pub skip: bool,
    /// Some coefficient was coded (set by the token decoder; used by the loop filter).
    pub has_coeffs: bool,
    /// Sub-block intra modes (B_PRED), or in key frames the mode the whole-block mode
    /// implies, which is what B_PRED neighbours take as context.
    pub bmodes: [BMode; 16],
    /// Sub-block vectors: all `mv` unless SPLITMV, zero for intra macroblocks.
    pub mvs: [Mv; 16],
}

/// What mode parsing needs to know about the frame.
pub struct FrameModes<'a> {
    /// The frame header.
    pub header: &'a FrameHeader,
    /// Intra luma mode probabilities (inter frames).
    pub ymode_probs: &'a [u8; 4],
    /// Chroma mode probabilities (inter frames).
    pub uv_mode_probs: &'a [u8; 3],
    /// Motion vector probabilities.
    pub mv_probs: &'a [[u8; 19]; 2],
    /// Macroblock columns and rows.
    pub mb_cols: usize,
    /// See `mb_cols`.
    pub mb_rows: usize,
}

/// The neighbours a macroblock's modes are coded relative to (outside the frame: the
/// all-zero intra record, as in the reference decoder).
pub struct Neighbours<'a> {
    /// The macroblock above.
    pub above: &'a MbInfo,
    /// The macroblock to the left.
    pub left: &'a MbInfo,
    /// The macroblock above and to the left.
    pub above_left: &'a MbInfo,
}

/// Reads a key frame macroblock's modes (after its segment id and skip flag).
pub fn read_kf_modes(d: &mut BoolDecoder, n: &Neighbours, mb: &mut MbInfo) {
    mb.ref_frame = RefFrame::Intra;
    mb.mv = Mv::ZERO;
    mb.mvs = [Mv::ZERO; 16];
    mb.y_mode = INTRA_MODES[usize::from(d.read_tree(&KF_YMODE_TREE, &KF_YMODE_PROBS))];
    if mb.y_mode == LumaMode::B {
        for b in 0..16 {
            let above = if b < 4 {
                n.above.bmodes[b + 12]
            } else {
                mb.bmodes[b - 4]
            };
            let left = if b & 3 == 0 {
                n.left.bmodes[b + 3]
            } else {
                mb.bmodes[b - 1]
            };
            let probs = &KF_BMODE_PROBS[above as usize][left as usize];
            mb.bmodes[b] = BMODES[usize::from(d.read_tree(&BMODE_TREE, probs))];
        }
    } else {
        mb.bmodes = [implied_bmode(mb.y_mode); 16];
    }
    mb.uv_mode = INTRA_MODES[usize::from(d.read_tree(&UV_MODE_TREE, &KF_UV_MODE_PROBS))];
}

/// The sub-block mode a whole-macroblock intra mode stands for as context.
fn implied_bmode(mode: LumaMode) -> BMode {
    match mode {
        LumaMode::V => BMode::Ve,
        LumaMode::H => BMode::He,
        LumaMode::Tm => BMode::Tm,
        _ => BMode::Dc,
    }
}

/// Reads an inter frame macroblock's modes (after its segment id and skip flag).
pub fn read_inter_frame_modes(
    d: &mut BoolDecoder,
    f: &FrameModes,
    n: &Neighbours,
    (col, row): (usize, usize),
    mb: &mut MbInfo,
) {
    if !d.read(f.header.prob_intra) {
        mb.ref_frame = RefFrame::Intra;
        mb.mv = Mv::ZERO;
        mb.mvs = [Mv::ZERO; 16];
        mb.y_mode = INTRA_MODES[usize::from(d.read_tree(&YMODE_TREE, f.ymode_probs))];
        if mb.y_mode == LumaMode::B {
            for m in mb.bmodes.iter_mut() {
                *m = BMODES[usize::from(d.read_tree(&BMODE_TREE, &BMODE_PROBS))];
            }
        }
        mb.uv_mode = INTRA_MODES[usize::from(d.read_tree(&UV_MODE_TREE, f.uv_mode_probs))];
        return;
    }
    mb.ref_frame = if !d.read(f.header.prob_last) {
        RefFrame::Last
    } else if !d.read(f.header.prob_golden) {
        RefFrame::Golden
    } else {
        RefFrame::AltRef
    };
    let near = find_near_mvs(n, mb.ref_frame, &f.header.sign_bias);
    let probs: [u8; 4] = std::array::from_fn(|i| MODE_CONTEXTS[usize::from(near.counts[i])][i]);
    mb.y_mode = INTER_MODES[usize::from(d.read_tree(&MV_REF_TREE, &probs))];
    mb.uv_mode = LumaMode::Dc;
    let bounds = Bounds::of(col, row, f.mb_cols, f.mb_rows);
    mb.mv = match mb.y_mode {
        LumaMode::Nearest => bounds.clamp(near.nearest),
        LumaMode::Near => bounds.clamp(near.near),
        LumaMode::New => read_mv(d, f.mv_probs).wrapping_add(bounds.clamp(near.best)),
        LumaMode::Split => {
            read_split_mvs(d, f.mv_probs, n, bounds.clamp(near.best), mb);
            mb.mvs[15]
        }
        _ => Mv::ZERO,
    };
    if mb.y_mode != LumaMode::Split {
        mb.mvs = [mb.mv; 16];
    }
}

/// Limits of a macroblock's vectors: one macroblock beyond the frame (section 18.1).
struct Bounds {
    left: i32,
    right: i32,
    top: i32,
    bottom: i32,
}

impl Bounds {
    fn of(col: usize, row: usize, mb_cols: usize, mb_rows: usize) -> Self {
        Bounds {
            left: -((col as i32 + 1) << 7),
            right: (mb_cols as i32 - col as i32) << 7,
            top: -((row as i32 + 1) << 7),
            bottom: (mb_rows as i32 - row as i32) << 7,
        }
    }

    fn clamp(&self, mv: Mv) -> Mv {
        Mv {
            x: i32::from(mv.x).clamp(self.left, self.right.max(self.left)) as i16,
            y: i32::from(mv.y).clamp(self.top, self.bottom.max(self.top)) as i16,
        }
    }
}

/// The neighbours' vectors ranked (section 16.3), and how often each was seen.
struct NearMvs {
    best: Mv,
    nearest: Mv,
    near: Mv,
    /// Weights of zero, nearest, near, and of split neighbours: the mode tree's contexts.
    counts: [u8; 4],
}

fn find_near_mvs(n: &Neighbours, ref_frame: RefFrame, sign_bias: &[bool; 4]) -> NearMvs {
    let mut mvs = [Mv::ZERO; 4];
    let mut counts = [0u8; 4];
    let mut last = 0usize;
    let biased = |mb: &MbInfo| {
        if sign_bias[mb.ref_frame as usize] != sign_bias[ref_frame as usize] {
            Mv {
                x: mb.mv.x.wrapping_neg(),
                y: mb.mv.y.wrapping_neg(),
            }
        } else {
            mb.mv
        }
    };
    for (i, (mb, weight)) in [(n.above, 2), (n.left, 2), (n.above_left, 1)]
        .into_iter()
        .enumerate()
    {
        if mb.ref_frame == RefFrame::Intra {
            continue;
        }
        if mb.mv.is_zero() {
            counts[0] += weight;
            continue;
        }
        let mv = biased(mb);
        // The first vector always starts a new entry; later ones only when they differ.
        if i == 0 || mv != mvs[last] {
            last += 1;
            mvs[last] = mv;
        }
        counts[last] += weight;
    }
    // Three different vectors: the above-left one may still match the nearest.
    if counts[3] > 0 && mvs[3] == mvs[1] {
        counts[1] += 1;
    }
    counts[3] = [n.above, n.left]
        .iter()
        .map(|mb| 2 * u8::from(mb.y_mode == LumaMode::Split))
        .sum::<u8>()
        + u8::from(n.above_left.y_mode == LumaMode::Split);
    if counts[2] > counts[1] {
        counts.swap(1, 2);
        mvs.swap(1, 2);
    }
    if counts[1] >= counts[0] {
        mvs[0] = mvs[1];
    }
    NearMvs {
        best: mvs[0],
        nearest: mvs[1],
        near: mvs[2],
        counts,
    }
}

/// Reads one motion vector component (section 17.1), in eighth pixels.
fn read_mv_component(d: &mut BoolDecoder, p: &[u8; 19]) -> i16 {
    const IS_SHORT: usize = 0;
    const SIGN: usize = 1;
    const SHORT: usize = 2;
    const LONG: usize = 9;
    let mut x = if d.read(p[IS_SHORT]) {
        let mut x = 0i32;
        for i in 0..3 {
            x += i32::from(d.read(p[LONG + i])) << i;
        }
        for i in (4..10).rev() {
            x += i32::from(d.read(p[LONG + i])) << i;
        }
        // Bit 3 is implied when no higher bit is set (the value is at least 8).
        if x & 0xfff0 == 0 || d.read(p[LONG + 3]) {
            x += 8;
        }
        x
    } else {
        i32::from(d.read_tree(&SMALL_MV_TREE, &p[SHORT..LONG]))
    };
    if x != 0 && d.read(p[SIGN]) {
        x = -x;
    }
    (x << 1) as i16
}

fn read_mv(d: &mut BoolDecoder, probs: &[[u8; 19]; 2]) -> Mv {
    let y = read_mv_component(d, &probs[0]);
    let x = read_mv_component(d, &probs[1]);
    Mv { x, y }
}

/// Reads SPLITMV's layout and vectors into `mb.mvs` (section 16.4).
fn read_split_mvs(
    d: &mut BoolDecoder,
    probs: &[[u8; 19]; 2],
    n: &Neighbours,
    best: Mv,
    mb: &mut MbInfo,
) {
    let layout = &MV_PARTITIONS[usize::from(d.read_tree(&SPLIT_MV_TREE, &SPLIT_MV_PROBS))];
    let parts = 1 + usize::from(*layout.iter().max().unwrap_or(&0));
    for part in 0..parts as u8 {
        let Some(k) = layout.iter().position(|&p| p == part) else {
            continue;
        };
        let left = if k & 3 == 0 {
            n.left.mvs[k + 3]
        } else {
            mb.mvs[k - 1]
        };
        let above = if k < 4 {
            n.above.mvs[k + 12]
        } else {
            mb.mvs[k - 4]
        };
        let context = match (left == above, left.is_zero(), above.is_zero()) {
            (true, true, _) => 4,
            (true, false, _) => 3,
            (false, _, true) => 2,
            (false, true, false) => 1,
            (false, false, false) => 0,
        };
        let mv = match d.read_tree(&SUB_MV_REF_TREE, &SUB_MV_REF_PROBS[context]) {
            0 => left,
            1 => above,
            2 => Mv::ZERO,
            _ => read_mv(d, probs).wrapping_add(best),
        };
        for (slot, _) in mb.mvs.iter_mut().zip(layout).filter(|(_, p)| **p == part) {
            *slot = mv;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inter(mv: Mv, ref_frame: RefFrame) -> MbInfo {
        MbInfo {
            y_mode: LumaMode::New,
            ref_frame,
            mv,
            mvs: [mv; 16],
            ..MbInfo::default()
        }
    }

    #[test]
    fn near_mvs_rank_and_merge() {
        let a = Mv { x: 4, y: -2 };
        let b = Mv { x: 8, y: 8 };
        let above = inter(a, RefFrame::Last);
        let left = inter(b, RefFrame::Last);
        let above_left = inter(b, RefFrame::Last);
        let n = Neighbours {
            above: &above,
            left: &left,
            above_left: &above_left,
        };
        let near = find_near_mvs(&n, RefFrame::Last, &[false; 4]);
        // b (left 2 + above-left 1) outweighs a (above 2): they swap.
        assert_eq!((near.nearest, near.near, near.best), (b, a, b));
        assert_eq!(near.counts, [0, 3, 2, 0]);
        // Golden with a sign bias flips the last-frame neighbours' vectors.
        let near = find_near_mvs(&n, RefFrame::Golden, &[false, false, true, false]);
        assert_eq!(near.nearest, Mv { x: -8, y: -8 });
        let intra = MbInfo::default();
        let n = Neighbours {
            above: &intra,
            left: &intra,
            above_left: &intra,
        };
        let near = find_near_mvs(&n, RefFrame::Last, &[false; 4]);
        assert_eq!(near.counts, [0; 4]);
        assert_eq!(near.best, Mv::ZERO);
    }

    #[test]
    fn vectors_are_clamped_one_macroblock_past_the_frame() {
        let b = Bounds::of(0, 0, 10, 5);
        let far = Mv { x: -2000, y: 3000 };
        assert_eq!(b.clamp(far), Mv { x: -128, y: 640 });
    }
}
