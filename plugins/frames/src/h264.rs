//! H.264 in MP4: the `avcC` record, length-prefixed samples to Annex-B, and decoding with
//! the pure-Rust `rusty_h264-decoder`.
//!
//! The decoder returns pictures in decode order together with nothing else we need: the
//! container already says which sample is shown when, so the extractor keeps only the
//! picture of the sample it wants and no reorder buffer is needed on our side.

use crate::decode::{FrameDecoder, Want};
use crate::media::{MediaError, Result, Rgb, VideoTrack};
use crate::nal::{self, Framing};
use crate::yuv::Yuv420;
use rusty_h264_decoder::{DecodeError, Decoder, Sps};

/// The parsed `avcC` record.
#[derive(Debug, Clone)]
pub struct AvcConfig {
    /// `profile_idc`.
    pub profile: u8,
    /// `profile_compatibility` (the constraint flags).
    pub compatibility: u8,
    /// `level_idc`.
    pub level: u8,
    /// Bytes in each NAL unit's length prefix (1, 2 or 4).
    pub length_size: usize,
    /// SPS then PPS NAL units, as Annex-B.
    pub parameter_sets: Vec<u8>,
    /// The first SPS, parsed.
    pub sps: Option<Sps>,
}

impl AvcConfig {
    /// Parses an `avcC` record.
    pub fn parse(avcc: &[u8]) -> Result<Self> {
        let bad = || MediaError::invalid("the H.264 decoder configuration (avcC) is corrupt");
        if avcc.len() < 7 || avcc[0] != 1 {
            return Err(bad());
        }
        let length_size = usize::from(avcc[4] & 3) + 1;
        if length_size == 3 {
            return Err(bad());
        }
        let mut parameter_sets = Vec::new();
        let mut sps = None;
        let mut pos = 5;
        for kind in 0..2 {
            let count =
                usize::from(*avcc.get(pos).ok_or_else(bad)? & if kind == 0 { 31 } else { 255 });
            pos += 1;
            for _ in 0..count {
                let len = usize::from(u16::from_be_bytes([
                    *avcc.get(pos).ok_or_else(bad)?,
                    *avcc.get(pos + 1).ok_or_else(bad)?,
                ]));
                let nal = avcc.get(pos + 2..pos + 2 + len).ok_or_else(bad)?;
                pos += 2 + len;
                if kind == 0 && sps.is_none() && nal.len() > 1 {
                    sps = Some(Sps::parse(&unescape(&nal[1..])).map_err(decode_error)?);
                }
                parameter_sets.extend_from_slice(&[0, 0, 0, 1]);
                parameter_sets.extend_from_slice(nal);
            }
        }
        Ok(AvcConfig {
            profile: avcc[1],
            compatibility: avcc[2],
            level: avcc[3],
            length_size,
            parameter_sets,
            sps,
        })
    }

    /// Profile name as ffprobe prints it.
    pub fn profile_name(&self) -> String {
        let constrained = self.compatibility & 0x40 != 0;
        match self.profile {
            66 if constrained => "Constrained Baseline".into(),
            66 => "Baseline".into(),
            77 => "Main".into(),
            88 => "Extended".into(),
            100 => "High".into(),
            110 => "High 10".into(),
            122 => "High 4:2:2".into(),
            244 => "High 4:4:4 Predictive".into(),
            p => format!("profile {p}"),
        }
    }

    /// Checks the stream's own idea of its picture size against the limits.
    pub fn check(&self) -> Result<()> {
        if let Some(sps) = &self.sps {
            VideoTrack::check_dimensions(sps.display_width() as u32, sps.display_height() as u32)?;
        }
        Ok(())
    }
}

/// Removes emulation-prevention bytes (`00 00 03` -> `00 00`) from a NAL payload.
fn unescape(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

fn decode_error(e: DecodeError) -> MediaError {
    match e {
        DecodeError::Unsupported(what) => {
            MediaError::unsupported(format!("H.264 {what} is not supported"))
        }
        DecodeError::Truncated => MediaError::invalid("the H.264 data is corrupt or cut short"),
        DecodeError::MissingParameterSet => MediaError::invalid(
            "the H.264 data refers to a parameter set (SPS/PPS) the file does not have",
        ),
        DecodeError::Internal(what) => {
            MediaError::invalid(format!("the H.264 data could not be decoded ({what})"))
        }
    }
}

/// An H.264 decoder fed MP4/Matroska samples, or MPEG-TS access units (no `avcC`: the
/// samples are Annex-B already and carry their parameter sets).
pub struct H264 {
    config: Option<AvcConfig>,
    decoder: Decoder,
    primed: bool,
    annex_b: Vec<u8>,
}

impl H264 {
    /// A decoder for the stream described by `avcc`.
    pub fn new(avcc: &[u8]) -> Result<Self> {
        let config = if avcc.is_empty() {
            None
        } else {
            let config = AvcConfig::parse(avcc)?;
            config.check()?;
            Some(config)
        };
        Ok(H264 {
            config,
            decoder: Decoder::new(),
            primed: false,
            annex_b: Vec::new(),
        })
    }

    /// Rewrites a length-prefixed sample as Annex-B into `self.annex_b`.
    fn fill_annex_b(&mut self, sample: &[u8]) -> Result<()> {
        self.annex_b.clear();
        let Some(config) = &self.config else {
            self.annex_b.extend_from_slice(sample);
            return Ok(());
        };
        if !self.primed {
            // The parameter sets live in avcC, not in the samples: give them first.
            self.annex_b.extend_from_slice(&config.parameter_sets);
            self.primed = true;
        }
        let n = config.length_size;
        let mut pos = 0;
        while pos < sample.len() {
            let head = sample
                .get(pos..pos + n)
                .ok_or_else(|| MediaError::invalid("an H.264 sample ends inside a NAL length"))?;
            let len = head
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            let nal = sample.get(pos + n..pos + n + len).ok_or_else(|| {
                MediaError::invalid("an H.264 NAL unit runs past the end of its sample")
            })?;
            self.annex_b.extend_from_slice(&[0, 0, 0, 1]);
            self.annex_b.extend_from_slice(nal);
            pos += n + len;
        }
        Ok(())
    }
}

impl FrameDecoder for H264 {
    fn decode(&mut self, sample: &[u8], want: Want) -> Result<Option<Rgb>> {
        self.fill_annex_b(sample)?;
        let Some(frame) = self.decoder.decode(&self.annex_b).map_err(decode_error)? else {
            return Ok(None);
        };
        if !want.picture() {
            return Ok(None);
        }
        if want == Want::LastPicture {
            // The frame is ours; the decoder's padded reference copy and picture pools
            // (about 3.5x a 4:2:0 picture) go before the RGB picture is allocated.
            self.reset();
        }
        VideoTrack::check_dimensions(frame.width as u32, frame.height as u32)?;
        let cw = frame.width.div_ceil(2);
        let yuv = Yuv420 {
            width: frame.width,
            height: frame.height,
            y: &frame.y,
            y_stride: frame.width,
            u: &frame.u,
            v: &frame.v,
            c_stride: cw,
            full_range: false,
        };
        yuv.to_rgb().map(Some)
    }

    fn reset(&mut self) {
        self.decoder = Decoder::new();
        self.primed = false;
    }

    fn droppable(&mut self, sample: &[u8]) -> bool {
        let framing = self
            .config
            .as_ref()
            .map_or(Framing::AnnexB, |c| Framing::Length(c.length_size));
        nal::split(sample, framing).is_ok_and(|nals| droppable(&nals))
    }
}

/// Whether an access unit's slices all have `nal_ref_idc == 0`: no picture references it.
pub fn droppable(nals: &[&[u8]]) -> bool {
    let mut slices = nals
        .iter()
        .filter(|n| matches!(n[0] & 0x1f, 1..=5))
        .peekable();
    slices.peek().is_some() && slices.all(|n| n[0] & 0x60 == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_drops_emulation_bytes() {
        assert_eq!(unescape(&[0, 0, 3, 1, 0, 0, 3]), vec![0, 0, 1, 0, 0]);
    }

    #[test]
    fn non_reference_slices_are_droppable() {
        let (b_nonref, p_ref, sei) = ([0x01u8, 0x9a], [0x41u8, 0x9a], [0x06u8, 0x05]);
        assert!(droppable(&[&sei, &b_nonref]));
        assert!(!droppable(&[&p_ref]));
        assert!(!droppable(&[&sei]));
    }

    #[test]
    fn corrupt_avcc_is_refused() {
        assert!(AvcConfig::parse(&[]).is_err());
        assert!(AvcConfig::parse(&[1, 100, 0, 31, 0xff, 0xe1, 0xff, 0xff]).is_err());
    }
}
