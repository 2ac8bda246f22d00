//! The decoder: frame by frame (RFC 6386 section 5); `rows` decodes a frame's rows.
//! Reference frames are shared `Rc`s: a frame that only becomes golden or alt-ref is not
//! copied, and at most four pictures exist at a time.

use std::rc::Rc;

use crate::Error;
use crate::bool_decoder::BoolDecoder;
use crate::frame::Frame;
use crate::header::{CopyFrom, FrameHeader, Persistent, Quant, parse_tag, read_header};
use crate::inter::Filter;
use crate::modes::MbInfo;
use crate::reconstruct::InterSetup;
use crate::rows::RowDecoder;
use crate::tables::{AC_Q, DC_Q};
use crate::tokens::Dequant;

/// The largest width or height VP8 can code (14 bits).
pub const MAX_SIDE: u32 = 16383;

/// A decoded picture, borrowed from the decoder: 8-bit 4:2:0 planes.
#[derive(Debug, Clone, Copy)]
pub struct Picture<'a> {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Luma rows, `y_stride` bytes apart.
    pub y: &'a [u8],
    /// Bytes from one luma row to the next.
    pub y_stride: usize,
    /// Blue-difference chroma rows, `uv_stride` apart (`(width + 1) / 2` wide).
    pub u: &'a [u8],
    /// Red-difference chroma rows.
    pub v: &'a [u8],
    /// Bytes from one chroma row to the next.
    pub uv_stride: usize,
}

/// Index of the last, golden and alt-ref frames in `refs` (as [`crate::modes::RefFrame`]).
const LAST: usize = 1;
const GOLDEN: usize = 2;
const ALTREF: usize = 3;

/// A VP8 decoder: feed it frames in order, starting with a key frame.
pub struct Decoder {
    max_side: u32,
    width: u32,
    height: u32,
    mb_cols: usize,
    mb_rows: usize,
    state: Persistent,
    /// Segment of every macroblock; kept across frames that do not update it.
    segments: Vec<u8>,
    /// This frame's macroblock records, row by row.
    mbs: Vec<MbInfo>,
    /// Last, golden and alt-ref frames at indices 1 to 3.
    refs: [Option<Rc<Frame>>; 4],
    /// Every frame buffer allocated for the current size (free when only this holds it).
    pool: Vec<Rc<Frame>>,
    /// The picture of the last frame decoded, if it is to be shown.
    shown: Option<Rc<Frame>>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder accepting any size VP8 can code.
    pub fn new() -> Self {
        Self::with_max_side(MAX_SIDE)
    }

    /// A decoder that refuses key frames wider or taller than `max_side` pixels.
    pub fn with_max_side(max_side: u32) -> Self {
        Decoder {
            max_side,
            width: 0,
            height: 0,
            mb_cols: 0,
            mb_rows: 0,
            state: Persistent::default(),
            segments: Vec::new(),
            mbs: Vec::new(),
            refs: [None, None, None, None],
            pool: Vec::new(),
            shown: None,
        }
    }

    /// The picture of the last frame decoded, unless that frame is not to be shown.
    pub fn picture(&self) -> Option<Picture<'_>> {
        let f = self.shown.as_deref()?;
        Some(Picture {
            width: self.width,
            height: self.height,
            y: &f.y.data,
            y_stride: f.y.stride(),
            u: &f.u.data,
            v: &f.v.data,
            uv_stride: f.u.stride(),
        })
    }

    /// Drops everything but the last picture (reference frames, buffers, records): the
    /// next frame must then be a key frame.
    pub fn forget_references(&mut self) {
        self.refs = [None, None, None, None];
        self.pool.clear();
        self.mbs = Vec::new();
        self.segments = Vec::new();
    }

    /// Decodes one frame. Returns whether it is to be shown (then [`Decoder::picture`]
    /// has it); alt-ref frames only update the references.
    pub fn decode(&mut self, data: &[u8]) -> Result<bool, Error> {
        self.shown = None;
        let (tag, dims, offset) = parse_tag(data)?;
        if let Some(d) = dims {
            self.resize(d.width, d.height)?;
        } else if self.refs[LAST].is_none() {
            return Err(Error::NoKeyframe);
        }
        let first_end = offset + tag.first_partition_size;
        if first_end > data.len() {
            return Err(Error::corrupt(format!(
                "the first partition needs {} bytes but the frame has {}",
                tag.first_partition_size,
                data.len() - offset
            )));
        }
        let mut d = BoolDecoder::new(&data[offset..first_end]);
        let (header, saved_probs) = read_header(&mut d, tag.keyframe, &mut self.state)?;
        let partitions = split_partitions(&data[first_end..], header.partitions)?;
        let mut cur = self.take_frame();
        let frame = Rc::get_mut(&mut cur).expect("a free frame buffer has no other owner");
        let filter = if tag.version == 0 {
            Filter::SixTap
        } else {
            Filter::Bilinear
        };
        let refs = [
            None,
            self.refs[LAST].as_deref(),
            self.refs[GOLDEN].as_deref(),
            self.refs[ALTREF].as_deref(),
        ];
        let inter = InterSetup {
            refs,
            filter,
            full_pixel: tag.version == 3,
        };
        let rows = RowDecoder {
            keyframe: tag.keyframe,
            header: &header,
            state: &self.state,
            dequant: dequant_factors(&self.state, &header.quant),
            mb_cols: self.mb_cols,
            mb_rows: self.mb_rows,
        };
        rows.decode(
            &mut d,
            partitions,
            frame,
            &mut self.mbs,
            &mut self.segments,
            &inter,
        )?;
        if let Some(probs) = saved_probs {
            self.state.probs = probs;
        }
        self.update_references(&header, &cur);
        self.pool.push(cur.clone());
        if tag.show {
            self.shown = Some(cur);
        }
        Ok(tag.show)
    }

    /// Sets the frame size from a key frame, dropping state of another size.
    fn resize(&mut self, width: u32, height: u32) -> Result<(), Error> {
        if width > self.max_side || height > self.max_side {
            return Err(Error::TooLarge {
                width,
                height,
                max: self.max_side,
            });
        }
        let (mb_cols, mb_rows) = (width.div_ceil(16) as usize, height.div_ceil(16) as usize);
        let count = mb_cols * mb_rows;
        if (width, height) == (self.width, self.height) && self.mbs.len() == count {
            return Ok(());
        }
        self.forget_references();
        self.width = width;
        self.height = height;
        self.mb_cols = mb_cols;
        self.mb_rows = mb_rows;
        self.mbs = vec![MbInfo::default(); count];
        self.segments = vec![0; count];
        Ok(())
    }

    /// A frame buffer nothing else uses (a reference or the shown picture), reused when
    /// there is one.
    fn take_frame(&mut self) -> Rc<Frame> {
        if let Some(i) = self.pool.iter().position(|f| Rc::strong_count(f) == 1) {
            return self.pool.swap_remove(i);
        }
        Rc::new(Frame::new(self.mb_cols, self.mb_rows))
    }

    /// Buffer copies first (alt-ref, then golden, as the reference decoder does), then
    /// the refreshes with the new frame (section 9.7).
    fn update_references(&mut self, h: &FrameHeader, cur: &Rc<Frame>) {
        match h.copy_to_altref {
            CopyFrom::Last => self.refs[ALTREF] = self.refs[LAST].clone(),
            CopyFrom::Other => self.refs[ALTREF] = self.refs[GOLDEN].clone(),
            CopyFrom::Nothing => {}
        }
        match h.copy_to_golden {
            CopyFrom::Last => self.refs[GOLDEN] = self.refs[LAST].clone(),
            CopyFrom::Other => self.refs[GOLDEN] = self.refs[ALTREF].clone(),
            CopyFrom::Nothing => {}
        }
        for (slot, refresh) in [
            (GOLDEN, h.refresh_golden),
            (ALTREF, h.refresh_altref),
            (LAST, h.refresh_last),
        ] {
            if refresh {
                self.refs[slot] = Some(cur.clone());
            }
        }
    }
}

/// Splits what follows the first partition into the token partitions (section 9.5).
fn split_partitions(data: &[u8], count: usize) -> Result<Vec<&[u8]>, Error> {
    let sizes_len = 3 * (count - 1);
    if data.len() < sizes_len {
        return Err(Error::corrupt(format!(
            "the frame ends inside its table of {count} token partition sizes"
        )));
    }
    let (sizes, mut rest) = data.split_at(sizes_len);
    let mut parts = Vec::with_capacity(count);
    for (i, size) in sizes.chunks_exact(3).enumerate() {
        let size = usize::from(size[0]) | usize::from(size[1]) << 8 | usize::from(size[2]) << 16;
        if size > rest.len() {
            return Err(Error::corrupt(format!(
                "token partition {i} needs {size} bytes but only {} remain in the frame",
                rest.len()
            )));
        }
        let (part, tail) = rest.split_at(size);
        parts.push(part);
        rest = tail;
    }
    parts.push(rest);
    Ok(parts)
}

/// Quantiser steps per segment (one entry when segments are off; section 14.1).
fn dequant_factors(state: &Persistent, q: &Quant) -> [Dequant; 4] {
    let seg = &state.segmentation;
    let dc = |i: i32| i32::from(DC_Q[i.clamp(0, 127) as usize]);
    let ac = |i: i32| i32::from(AC_Q[i.clamp(0, 127) as usize]);
    std::array::from_fn(|s| {
        let base = match (seg.enabled, seg.absolute) {
            (false, _) => q.index,
            (true, true) => seg.quant[s],
            (true, false) => q.index + seg.quant[s],
        };
        Dequant {
            y1: [dc(base + q.y1_dc), ac(base)],
            y2: [
                dc(base + q.y2_dc) * 2,
                (ac(base + q.y2_ac) * 155 / 100).max(8),
            ],
            uv: [dc(base + q.uv_dc).min(132), ac(base + q.uv_ac)],
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_split_by_their_size_table() {
        let data = [2, 0, 0, 1, 0, 0, 0xaa, 0xbb, 0xcc, 0xdd, 0xee];
        let parts = split_partitions(&data, 3).unwrap();
        assert_eq!(
            parts,
            vec![&[0xaa, 0xbb][..], &[0xcc][..], &[0xdd, 0xee][..]]
        );
        assert!(split_partitions(&data[..4], 3).is_err());
        let lying = [9, 0, 0, 0xaa];
        assert!(split_partitions(&lying, 2).is_err());
    }

    #[test]
    fn an_inter_frame_first_is_refused() {
        let mut d = Decoder::new();
        assert_eq!(d.decode(&[0x01, 0, 0, 0, 0]), Err(Error::NoKeyframe));
        assert!(d.picture().is_none());
    }
}
