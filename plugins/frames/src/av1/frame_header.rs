//! The start of each AV1 frame header, and which reference slots hold decoded frames.
//!
//! Enough of the uncompressed header (spec 5.9.2) is read to know what a frame shows and
//! which reference slots it reads and refreshes, so that a frame predicting from a slot
//! that nothing decoded since the keyframe is refused before rav1d decodes it.

use super::obu::{Bits, Obu, SELECT, SequenceHeader, Syntax, kind};

/// AV1 frame types.
pub const KEY_FRAME: u8 = 0;
/// See [`KEY_FRAME`].
pub const INTRA_ONLY_FRAME: u8 = 2;
/// See [`KEY_FRAME`].
pub const SWITCH_FRAME: u8 = 3;

/// The start of a frame header: what it shows and which reference slots it reads and fills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameStart {
    /// `frame_to_show_map_idx` of a `show_existing_frame` header.
    pub show_existing: Option<u8>,
    /// `frame_type` (not meaningful with `show_existing`).
    pub frame_type: u8,
    /// `show_frame` (true with `show_existing`).
    pub show_frame: bool,
    /// `refresh_frame_flags` (0 with `show_existing`).
    pub refresh: u8,
    /// Reference slots the frame predicts from.
    pub refs: Vec<u8>,
}

impl FrameStart {
    /// Parses the uncompressed header of `obu` (a frame or frame header OBU) up to its
    /// reference list (spec 5.9.2). A `show_existing_frame` header is read to its end.
    pub fn parse(obu: &Obu<'_>, seq: &SequenceHeader) -> Syntax<Self> {
        let mut b = Bits::new(obu.payload, "frame header");
        let mut f = FrameStart {
            show_existing: None,
            frame_type: KEY_FRAME,
            show_frame: true,
            refresh: 0xff,
            refs: Vec::new(),
        };
        if seq.reduced_still_picture_header {
            return Ok(f);
        }
        let temporal_point = |b: &mut Bits<'_>| -> Syntax<()> {
            if seq.decoder_model_info_present && !seq.equal_picture_interval {
                b.f(seq.frame_presentation_time_length)?;
            }
            Ok(())
        };
        if b.flag()? {
            let slot = b.f(3)? as u8;
            temporal_point(&mut b)?;
            if seq.frame_id_numbers_present {
                b.f(seq.frame_id_length)?;
            }
            if obu.kind == kind::FRAME {
                return Err("a frame OBU claims to show an existing frame".into());
            }
            b.trailing()?;
            f.show_existing = Some(slot);
            f.refresh = 0;
            return Ok(f);
        }
        f.frame_type = b.f(2)? as u8;
        let intra = f.frame_type == KEY_FRAME || f.frame_type == INTRA_ONLY_FRAME;
        f.show_frame = b.flag()?;
        if f.show_frame {
            temporal_point(&mut b)?;
        } else {
            b.f(1)?; // showable_frame
        }
        let shown_key = f.frame_type == KEY_FRAME && f.show_frame;
        let error_resilient = if f.frame_type == SWITCH_FRAME || shown_key {
            true
        } else {
            b.flag()?
        };
        b.f(1)?; // disable_cdf_update
        let screen_content = if seq.force_screen_content_tools == SELECT {
            b.f(1)?
        } else {
            seq.force_screen_content_tools
        };
        if screen_content > 0 && seq.force_integer_mv == SELECT {
            b.f(1)?; // force_integer_mv
        }
        if seq.frame_id_numbers_present {
            b.f(seq.frame_id_length)?; // current_frame_id
        }
        if f.frame_type != SWITCH_FRAME {
            b.f(1)?; // frame_size_override_flag
        }
        b.f(seq.order_hint_bits)?;
        if !(intra || error_resilient) {
            b.f(3)?; // primary_ref_frame: one of the seven references read below
        }
        if seq.decoder_model_info_present && b.flag()? {
            for &(idc, model) in &seq.operating_points {
                if !model {
                    continue;
                }
                let in_temporal = (idc >> obu.temporal_id) & 1 == 1;
                let in_spatial = (idc >> (u32::from(obu.spatial_id) + 8)) & 1 == 1;
                if idc == 0 || (in_temporal && in_spatial) {
                    b.f(seq.buffer_removal_time_length)?;
                }
            }
        }
        f.refresh = if f.frame_type == SWITCH_FRAME || shown_key {
            0xff
        } else {
            b.f(8)? as u8
        };
        if intra {
            if f.frame_type == INTRA_ONLY_FRAME && f.refresh == 0xff {
                return Err("an intra-only frame refreshes every reference slot".into());
            }
            return Ok(f);
        }
        if error_resilient && seq.order_hint_bits > 0 {
            for _ in 0..8 {
                b.f(seq.order_hint_bits)?; // ref_order_hint
            }
        }
        let short_signaling = seq.order_hint_bits > 0 && b.flag()?;
        if short_signaling {
            // last_frame_idx and gold_frame_idx; the other five are derived from order hints.
            f.refs.push(b.f(3)? as u8);
            f.refs.push(b.f(3)? as u8);
        }
        for _ in 0..7 {
            if !short_signaling {
                f.refs.push(b.f(3)? as u8);
            }
            if seq.frame_id_numbers_present {
                b.f(seq.delta_frame_id_length)?;
            }
        }
        f.refs.sort_unstable();
        f.refs.dedup();
        Ok(f)
    }
}

/// Which reference slots hold a frame decoded since the decoder started from a keyframe.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct References {
    /// Frame type of the frame in each slot, if any.
    slots: [Option<u8>; 8],
}

impl References {
    /// Checks that `f` only uses slots that hold a frame, then records what it refreshes.
    pub fn apply(&mut self, f: &FrameStart) -> Syntax<()> {
        if let Some(slot) = f.show_existing {
            let Some(kind) = self.slots[usize::from(slot)] else {
                return Err(format!(
                    "the frame shows reference slot {slot}, which holds no frame decoded since the keyframe"
                ));
            };
            if kind == KEY_FRAME {
                // Showing a key frame later refreshes every slot with it (spec 7.21).
                self.slots = [Some(KEY_FRAME); 8];
            }
            return Ok(());
        }
        if f.frame_type != KEY_FRAME && f.frame_type != INTRA_ONLY_FRAME {
            if self.slots.iter().all(Option::is_none) {
                return Err(
                    "the frame is not a key frame and no key frame was decoded before it (is the container's keyframe flag wrong?)"
                        .into(),
                );
            }
            if let Some(slot) = f
                .refs
                .iter()
                .find(|&&s| self.slots[usize::from(s)].is_none())
            {
                return Err(format!(
                    "the frame refers to reference slot {slot}, which holds no frame decoded since the keyframe"
                ));
            }
        }
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if f.refresh & (1 << i) != 0 {
                *slot = Some(f.frame_type);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_must_be_filled() {
        let mut refs = References::default();
        let inter = FrameStart {
            show_existing: None,
            frame_type: 1,
            show_frame: true,
            refresh: 0x01,
            refs: vec![0, 3],
        };
        assert!(refs.apply(&inter).unwrap_err().contains("not a key frame"));
        let key = FrameStart {
            frame_type: KEY_FRAME,
            refresh: 0x09,
            refs: vec![],
            ..inter.clone()
        };
        refs.apply(&key).unwrap();
        refs.apply(&inter).unwrap();
        let far = FrameStart {
            refs: vec![5],
            ..inter.clone()
        };
        assert!(refs.apply(&far).unwrap_err().contains("slot 5"));
    }
}
