//! The frame header: the uncompressed chunk and the start of the first partition
//! (RFC 6386 sections 9 and 19.2).
//!
//! Some header state lasts from frame to frame (segment features, loop filter deltas,
//! probabilities) and is reset by key frames: [`Persistent`] holds it and [`read_header`]
//! updates it in place. The probabilities a frame decodes with may also be thrown away
//! after the frame (`refresh_entropy_probs == 0`); the decoder keeps the copy to restore.

use crate::Error;
use crate::bool_decoder::BoolDecoder;
use crate::tables::{
    COEFF_UPDATE_PROBS, DEFAULT_COEFF_PROBS, DEFAULT_MV_PROBS, DEFAULT_UV_MODE_PROBS,
    DEFAULT_YMODE_PROBS, MV_UPDATE_PROBS,
};

/// Coefficient probabilities: `[plane type][band][context][tree node]`.
pub type CoeffProbs = [[[[u8; 11]; 3]; 8]; 4];

/// The 3-byte tag that starts every frame (section 9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameTag {
    /// A key frame (decodable on its own).
    pub keyframe: bool,
    /// Bitstream version 0..=3: filter type and full-pixel motion (section 9.1).
    pub version: u8,
    /// Whether the frame is to be shown (alt-ref frames are not).
    pub show: bool,
    /// Size of the first partition in bytes.
    pub first_partition_size: usize,
}

/// Key frame dimensions (section 9.1); the scaling bits are ignored, as by other decoders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dimensions {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// Parses the uncompressed chunk: the tag, and for key frames the start code and size.
/// Returns them and the offset of the first partition.
pub fn parse_tag(data: &[u8]) -> Result<(FrameTag, Option<Dimensions>, usize), Error> {
    if data.len() < 3 {
        return Err(Error::corrupt(format!(
            "the frame has {} bytes, fewer than its 3-byte tag",
            data.len()
        )));
    }
    let raw = u32::from(data[0]) | u32::from(data[1]) << 8 | u32::from(data[2]) << 16;
    let tag = FrameTag {
        keyframe: raw & 1 == 0,
        version: ((raw >> 1) & 7) as u8,
        show: (raw >> 4) & 1 == 1,
        first_partition_size: (raw >> 5) as usize,
    };
    if tag.version > 3 {
        return Err(Error::Unsupported(format!(
            "bitstream version {}",
            tag.version
        )));
    }
    if !tag.keyframe {
        return Ok((tag, None, 3));
    }
    if data.len() < 10 {
        return Err(Error::corrupt("the key frame header is cut short"));
    }
    if data[3..6] != [0x9d, 0x01, 0x2a] {
        return Err(Error::corrupt("the key frame start code is missing"));
    }
    let dims = Dimensions {
        width: u32::from(u16::from_le_bytes([data[6], data[7]]) & 0x3fff),
        height: u32::from(u16::from_le_bytes([data[8], data[9]]) & 0x3fff),
    };
    if dims.width == 0 || dims.height == 0 {
        return Err(Error::corrupt(format!(
            "the key frame claims {}x{} pixels",
            dims.width, dims.height
        )));
    }
    Ok((tag, Some(dims), 10))
}

/// Segment-based adjustments (sections 9.3 and 10).
#[derive(Debug, Clone, Default)]
pub struct Segmentation {
    /// Segments are in use in this frame.
    pub enabled: bool,
    /// This frame codes each macroblock's segment id.
    pub update_map: bool,
    /// Feature values are absolute rather than deltas.
    pub absolute: bool,
    /// Quantiser index (or delta) per segment.
    pub quant: [i32; 4],
    /// Loop filter level (or delta) per segment.
    pub filter_level: [i32; 4],
    /// Probabilities of the segment id tree.
    pub tree_probs: [u8; 3],
}

/// Loop filter parameters (section 9.4).
#[derive(Debug, Clone, Default)]
pub struct LoopFilter {
    /// The simple filter (luma edges only) rather than the normal one.
    pub simple: bool,
    /// Frame-level filter level 0..=63 (0: no filtering at all).
    pub level: i32,
    /// Sharpness 0..=7.
    pub sharpness: i32,
    /// Whether the per reference frame and per mode deltas apply.
    pub deltas_enabled: bool,
    /// Level delta by reference frame: intra, last, golden, alt-ref.
    pub ref_delta: [i32; 4],
    /// Level delta by mode: B_PRED, ZEROMV, other whole-macroblock MVs, SPLITMV.
    pub mode_delta: [i32; 4],
}

/// Quantiser indices (section 9.6).
#[derive(Debug, Clone, Copy, Default)]
pub struct Quant {
    /// Base index 0..=127 (luma AC).
    pub index: i32,
    /// Delta of luma DC.
    pub y1_dc: i32,
    /// Delta of the second-order (Y2) DC.
    pub y2_dc: i32,
    /// Delta of the second-order (Y2) AC.
    pub y2_ac: i32,
    /// Delta of chroma DC.
    pub uv_dc: i32,
    /// Delta of chroma AC.
    pub uv_ac: i32,
}

/// The probabilities that last from frame to frame (and are reset by key frames).
#[derive(Debug, Clone)]
pub struct Probs {
    /// DCT token probabilities.
    pub coeff: CoeffProbs,
    /// Motion vector component probabilities: row, then column.
    pub mv: [[u8; 19]; 2],
    /// Intra luma mode probabilities in inter frames.
    pub ymode: [u8; 4],
    /// Chroma mode probabilities in inter frames.
    pub uv_mode: [u8; 3],
}

impl Default for Probs {
    fn default() -> Self {
        Probs {
            coeff: DEFAULT_COEFF_PROBS,
            mv: DEFAULT_MV_PROBS,
            ymode: DEFAULT_YMODE_PROBS,
            uv_mode: DEFAULT_UV_MODE_PROBS,
        }
    }
}

/// Header state carried from one frame to the next.
#[derive(Debug, Clone, Default)]
pub struct Persistent {
    /// Segment features (the map itself is kept by the decoder).
    pub segmentation: Segmentation,
    /// Loop filter type, level and deltas.
    pub loop_filter: LoopFilter,
    /// Probabilities the next frame starts from.
    pub probs: Probs,
}

/// Where a reference buffer is copied from before the frame's own refreshes (section 9.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyFrom {
    /// No copy.
    Nothing,
    /// The last frame.
    Last,
    /// The other of golden / alt-ref.
    Other,
}

/// What the rest of one frame's header says.
#[derive(Debug, Clone)]
pub struct FrameHeader {
    /// Number of token partitions: 1, 2, 4 or 8.
    pub partitions: usize,
    /// Quantiser indices.
    pub quant: Quant,
    /// The new frame replaces the golden frame.
    pub refresh_golden: bool,
    /// The new frame replaces the alt-ref frame.
    pub refresh_altref: bool,
    /// Copy into golden (when not refreshed).
    pub copy_to_golden: CopyFrom,
    /// Copy into alt-ref (when not refreshed).
    pub copy_to_altref: CopyFrom,
    /// Motion vector sign bias of golden and alt-ref (section 9.7).
    pub sign_bias: [bool; 4],
    /// The new frame replaces the last frame.
    pub refresh_last: bool,
    /// Probability that a macroblock has no coefficients, when skipping is enabled.
    pub skip_prob: Option<u8>,
    /// Probability that a macroblock is intra (inter frames).
    pub prob_intra: u8,
    /// Probability that an inter macroblock uses the last frame.
    pub prob_last: u8,
    /// Probability that a golden/alt-ref macroblock uses golden.
    pub prob_golden: u8,
}

/// Reads the frame header from the first partition, updating `state`. Returns the header
/// and, when the frame's probabilities are not to be kept, the ones to restore after it.
pub fn read_header(
    d: &mut BoolDecoder,
    keyframe: bool,
    state: &mut Persistent,
) -> Result<(FrameHeader, Option<Probs>), Error> {
    if keyframe {
        // Colour space and clamping type: both values decode the same way here.
        d.read_literal(2);
        state.segmentation = Segmentation::default();
        state.loop_filter = LoopFilter::default();
        state.probs = Probs::default();
    }
    read_segmentation(d, &mut state.segmentation);
    let lf = &mut state.loop_filter;
    lf.simple = d.read_flag();
    lf.level = d.read_literal(6) as i32;
    lf.sharpness = d.read_literal(3) as i32;
    lf.deltas_enabled = d.read_flag();
    if lf.deltas_enabled && d.read_flag() {
        for delta in lf.ref_delta.iter_mut().chain(lf.mode_delta.iter_mut()) {
            if d.read_flag() {
                *delta = d.read_signed(6);
            }
        }
    }
    let partitions = 1 << d.read_literal(2);
    let quant = Quant {
        index: d.read_literal(7) as i32,
        y1_dc: d.read_optional_signed(4),
        y2_dc: d.read_optional_signed(4),
        y2_ac: d.read_optional_signed(4),
        uv_dc: d.read_optional_signed(4),
        uv_ac: d.read_optional_signed(4),
    };
    let (mut refresh_golden, mut refresh_altref) = (true, true);
    let (mut copy_to_golden, mut copy_to_altref) = (CopyFrom::Nothing, CopyFrom::Nothing);
    let mut sign_bias = [false; 4];
    if !keyframe {
        refresh_golden = d.read_flag();
        refresh_altref = d.read_flag();
        let copy = |d: &mut BoolDecoder| match d.read_literal(2) {
            1 => CopyFrom::Last,
            2 => CopyFrom::Other,
            _ => CopyFrom::Nothing,
        };
        if !refresh_golden {
            copy_to_golden = copy(d);
        }
        if !refresh_altref {
            copy_to_altref = copy(d);
        }
        sign_bias[2] = d.read_flag();
        sign_bias[3] = d.read_flag();
    }
    let refresh_entropy = d.read_flag();
    let refresh_last = keyframe || d.read_flag();
    let saved = (!refresh_entropy).then(|| state.probs.clone());
    read_coeff_updates(d, &mut state.probs.coeff);
    let skip_prob = d.read_flag().then(|| d.read_literal(8) as u8);
    let (mut prob_intra, mut prob_last, mut prob_golden) = (0, 0, 0);
    if !keyframe {
        prob_intra = d.read_literal(8) as u8;
        prob_last = d.read_literal(8) as u8;
        prob_golden = d.read_literal(8) as u8;
        let probs = &mut state.probs;
        if d.read_flag() {
            for p in probs.ymode.iter_mut() {
                *p = d.read_literal(8) as u8;
            }
        }
        if d.read_flag() {
            for p in probs.uv_mode.iter_mut() {
                *p = d.read_literal(8) as u8;
            }
        }
        for (component, updates) in probs.mv.iter_mut().zip(MV_UPDATE_PROBS.iter()) {
            for (p, &update) in component.iter_mut().zip(updates.iter()) {
                if d.read(update) {
                    let v = d.read_literal(7) as u8;
                    *p = if v == 0 { 1 } else { v << 1 };
                }
            }
        }
    }
    let header = FrameHeader {
        partitions,
        quant,
        refresh_golden,
        refresh_altref,
        copy_to_golden,
        copy_to_altref,
        sign_bias,
        refresh_last,
        skip_prob,
        prob_intra,
        prob_last,
        prob_golden,
    };
    Ok((header, saved))
}

fn read_segmentation(d: &mut BoolDecoder, seg: &mut Segmentation) {
    seg.enabled = d.read_flag();
    if !seg.enabled {
        seg.update_map = false;
        return;
    }
    seg.update_map = d.read_flag();
    let update_data = d.read_flag();
    if update_data {
        seg.absolute = d.read_flag();
        for q in seg.quant.iter_mut() {
            *q = d.read_optional_signed(7);
        }
        for l in seg.filter_level.iter_mut() {
            *l = d.read_optional_signed(6);
        }
    }
    if seg.update_map {
        for p in seg.tree_probs.iter_mut() {
            *p = if d.read_flag() {
                d.read_literal(8) as u8
            } else {
                255
            };
        }
    }
}

fn read_coeff_updates(d: &mut BoolDecoder, coeff: &mut CoeffProbs) {
    for (plane, plane_updates) in coeff.iter_mut().zip(COEFF_UPDATE_PROBS.iter()) {
        for (band, band_updates) in plane.iter_mut().zip(plane_updates.iter()) {
            for (context, context_updates) in band.iter_mut().zip(band_updates.iter()) {
                for (p, &update) in context.iter_mut().zip(context_updates.iter()) {
                    if d.read(update) {
                        *p = d.read_literal(8) as u8;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_frame_tag_and_size() {
        // 176x144 key frame, version 0, shown, first partition of 0x123 bytes.
        let size = 0x123u32;
        let raw = (size << 5) | (1 << 4);
        let mut data = vec![raw as u8, (raw >> 8) as u8, (raw >> 16) as u8];
        data.extend_from_slice(&[0x9d, 0x01, 0x2a, 176, 0, 144, 0]);
        let (tag, dims, offset) = parse_tag(&data).unwrap();
        assert!(tag.keyframe && tag.show);
        assert_eq!(
            (tag.version, tag.first_partition_size, offset),
            (0, 0x123, 10)
        );
        assert_eq!(
            dims,
            Some(Dimensions {
                width: 176,
                height: 144
            })
        );
        data[4] = 0;
        assert!(matches!(parse_tag(&data), Err(Error::Corrupt(_))));
        assert!(parse_tag(&data[..2]).is_err());
        let inter = [1u8 | 4 << 1, 0, 0];
        assert!(matches!(parse_tag(&inter), Err(Error::Unsupported(_))));
    }
}
