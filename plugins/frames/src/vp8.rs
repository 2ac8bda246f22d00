//! VP8 with the project's own decoder, `framepipe-vp8` (written from RFC 6386; see
//! plugins/vp8): what browsers' `MediaRecorder` writes into WebM.
//!
//! VP8 has no reordering: each sample is one frame, shown or not. Alt-ref frames are not
//! shown; the Matroska demuxer indexes them as hidden samples, so they are decoded (later
//! frames predict from them) but never chosen as the picture for a time.

use crate::decode::{FrameDecoder, Want};
use crate::media::{MAX_DIMENSION, MediaError, Result, Rgb};
use crate::yuv::Yuv420;
use framepipe_vp8::{Decoder, Error};

/// A VP8 decoder fed Matroska/WebM blocks.
pub struct Vp8 {
    decoder: Decoder,
}

impl Vp8 {
    /// A fresh decoder that refuses frames larger than the plugin's limit.
    pub fn new() -> Self {
        Vp8 {
            decoder: Decoder::with_max_side(MAX_DIMENSION),
        }
    }
}

impl Default for Vp8 {
    fn default() -> Self {
        Self::new()
    }
}

fn vp8_error(e: Error) -> MediaError {
    match e {
        Error::Unsupported(_) => MediaError::unsupported(e.to_string()),
        Error::Corrupt(_) | Error::NoKeyframe | Error::TooLarge { .. } => {
            MediaError::invalid(e.to_string())
        }
    }
}

impl FrameDecoder for Vp8 {
    fn decode(&mut self, sample: &[u8], want: Want) -> Result<Option<Rgb>> {
        let shown = self.decoder.decode(sample).map_err(vp8_error)?;
        if !shown || !want.picture() {
            return Ok(None);
        }
        if want == Want::LastPicture {
            // The references can go before the RGB picture is allocated.
            self.decoder.forget_references();
        }
        let p = self
            .decoder
            .picture()
            .ok_or_else(|| MediaError::invalid("the VP8 decoder lost its picture"))?;
        Yuv420 {
            width: p.width as usize,
            height: p.height as usize,
            y: p.y,
            y_stride: p.y_stride,
            u: p.u,
            v: p.v,
            c_stride: p.uv_stride,
            full_range: false,
        }
        .to_rgb()
        .map(Some)
    }

    fn reset(&mut self) {
        self.decoder = Decoder::with_max_side(MAX_DIMENSION);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_typed() {
        let mut d = Vp8::new();
        // An inter frame first: nothing to predict from.
        let e = d.decode(&[0x01, 0, 0], Want::Picture).unwrap_err();
        assert!(
            matches!(e, MediaError::Invalid(ref m) if m.contains("key frame")),
            "{e}"
        );
        // A key frame with a lying size: 16383 x 16383 is over the plugin's limit.
        let tag = [
            0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0xff, 0x3f, 0xff, 0x3f, 0, 0, 0,
        ];
        let e = d.decode(&tag, Want::Picture).unwrap_err();
        assert!(
            matches!(e, MediaError::Invalid(ref m) if m.contains("16383x16383")),
            "{e}"
        );
        // Bitstream version 5 is not VP8 as specified.
        let e = d.decode(&[0x0b, 0, 0], Want::Picture).unwrap_err();
        assert!(matches!(e, MediaError::Unsupported(_)), "{e}");
    }
}
