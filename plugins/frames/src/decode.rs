//! The decoder interface the extractor drives, and the choice of decoder per codec.

use crate::media::{Codec, Result, Rgb, VideoTrack};

/// What the extractor wants of a decoded sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Nothing: the picture only feeds later ones (it is not converted).
    Nothing,
    /// Its picture, as RGB.
    Picture,
    /// Its picture, as RGB, and nothing more from this decoder before a [`FrameDecoder::reset`]:
    /// the decoder may free its state (reference pictures, pools) first, so that the RGB
    /// picture reuses that memory instead of growing the sandbox's.
    LastPicture,
}

impl Want {
    /// Whether the picture is wanted at all.
    pub fn picture(self) -> bool {
        self != Want::Nothing
    }
}

/// Decodes a track's samples in decode order.
pub trait FrameDecoder {
    /// Decodes one sample. Returns the picture it completes as RGB when `want` asks for it
    /// (conversion costs time, so skipped pictures are left in the decoder's format).
    fn decode(&mut self, sample: &[u8], want: Want) -> Result<Option<Rgb>>;

    /// Forgets all state, before decoding from another keyframe.
    fn reset(&mut self);

    /// Says which sample the next `decode` gets (index in decode order, presentation
    /// time), for decoders that must explain a failure before it happens (see `av1`).
    fn at(&mut self, _index: usize, _seconds: f64) {}

    /// Whether the sample's pictures are referenced by no other picture, so an exact seek
    /// may skip it when it is not the target (H.264 `nal_ref_idc == 0`, HEVC sub-layer
    /// non-reference pictures). `false` when unsure.
    fn droppable(&mut self, _sample: &[u8]) -> bool {
        false
    }
}

/// A decoder for the track's codec, set up from its codec configuration.
pub fn decoder_for(track: &VideoTrack) -> Result<Box<dyn FrameDecoder>> {
    if let Some(decoder) = crate::ts::decoder_for(track)? {
        return Ok(decoder);
    }
    Ok(match track.codec {
        Codec::H264 => Box::new(crate::h264::H264::new(&track.codec_config)?),
        Codec::Mjpeg => Box::new(crate::mjpeg::Mjpeg),
        Codec::Vp9 => Box::new(crate::vp9::Vp9::new()),
        Codec::Av1 => Box::new(crate::av1::Av1::new(track)?),
        Codec::Mpeg4 => Box::new(crate::mpeg4::Mpeg4::new(track)?),
        Codec::Msmpeg4v3 => Box::new(crate::msmpeg4::Msmpeg4::new(track)?),
        Codec::Hevc => Box::new(crate::hevc::Hevc::new(&track.codec_config)?),
        Codec::Vp8 => Box::new(crate::vp8::Vp8::new()),
    })
}

/// The codec profile for the result JSON, when the codec has one.
pub fn profile(track: &VideoTrack) -> Option<String> {
    match track.codec {
        Codec::H264 => crate::h264::AvcConfig::parse(&track.codec_config)
            .ok()
            .map(|c| c.profile_name()),
        Codec::Av1 if !track.codec_config.is_empty() => {
            crate::av1::Av1Config::parse(&track.codec_config)
                .ok()
                .map(|c| c.profile_name())
        }
        Codec::Hevc => crate::hevc::config::HvcConfig::parse(&track.codec_config)
            .ok()
            .and_then(|c| c.profile_name()),
        Codec::Av1 | Codec::Mjpeg | Codec::Vp9 | Codec::Mpeg4 | Codec::Msmpeg4v3 | Codec::Vp8 => {
            None
        }
    }
}
