//! VP9 with the pure-Rust `rusty_vp9` decoder (8-bit 4:2:0).
//!
//! VP9 has no reordering: a packet (possibly a superframe with a hidden alt-ref frame)
//! shows at most one picture, so the packet's own time is the picture's time.

use crate::decode::{FrameDecoder, Want};
use crate::media::{MediaError, Result, Rgb, VideoTrack};
use crate::yuv::Yuv420;
use rusty_vp9::{DecodedFrame, Error, Vp9Decoder};

/// A VP9 decoder fed Matroska/WebM blocks.
pub struct Vp9 {
    decoder: Vp9Decoder,
}

impl Vp9 {
    /// A fresh decoder.
    pub fn new() -> Self {
        Vp9 {
            decoder: Vp9Decoder::new(),
        }
    }
}

impl Default for Vp9 {
    fn default() -> Self {
        Self::new()
    }
}

fn vp9_error(e: Error) -> MediaError {
    match e {
        Error::Unsupported(what) => MediaError::unsupported(format!("VP9 {what} is not supported")),
        Error::Unimplemented(what) => {
            MediaError::unsupported(format!("VP9 {what} is not supported"))
        }
        Error::InvalidData(what) => MediaError::invalid(format!("the VP9 data is corrupt: {what}")),
        other => MediaError::invalid(format!("the VP9 data could not be decoded: {other:?}")),
    }
}

fn to_rgb(f: &DecodedFrame) -> Result<Rgb> {
    if f.bit_depth != 8 {
        return Err(MediaError::unsupported(format!(
            "VP9 at {} bits per sample is not supported",
            f.bit_depth
        )));
    }
    if (f.subsampling_x, f.subsampling_y) != (1, 1) || f.planes.len() < 3 || f.strides.len() < 3 {
        return Err(MediaError::unsupported(
            "VP9 chroma other than 4:2:0 is not supported",
        ));
    }
    VideoTrack::check_dimensions(f.width, f.height)?;
    if f.strides[1] != f.strides[2] {
        return Err(MediaError::invalid(
            "VP9 decoder returned chroma planes of different strides",
        ));
    }
    Yuv420 {
        width: f.width as usize,
        height: f.height as usize,
        y: &f.planes[0],
        y_stride: f.strides[0],
        u: &f.planes[1],
        v: &f.planes[2],
        c_stride: f.strides[1],
        full_range: false,
    }
    .to_rgb()
}

impl FrameDecoder for Vp9 {
    fn decode(&mut self, sample: &[u8], want: Want) -> Result<Option<Rgb>> {
        self.decoder.push(sample, None).map_err(vp9_error)?;
        let mut shown = None;
        loop {
            match self.decoder.next_frame() {
                Ok(frame) => shown = Some(frame),
                Err(Error::Again | Error::Eof) => break,
                Err(e) => return Err(vp9_error(e)),
            }
        }
        match shown {
            Some(f) if want.picture() => to_rgb(&f).map(Some),
            _ => Ok(None),
        }
    }

    fn reset(&mut self) {
        self.decoder = Vp9Decoder::new();
    }
}
