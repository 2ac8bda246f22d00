//! Motion JPEG: every sample is a whole JPEG picture, decoded with `zune-jpeg`.

use crate::decode::{FrameDecoder, Want};
use crate::media::{MAX_DIMENSION, MediaError, Result, Rgb, VideoTrack};
use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

/// A stateless MJPEG decoder.
pub struct Mjpeg;

/// Decodes one JPEG image to RGB, refusing pictures over the size limit before allocating.
pub fn decode_jpeg(data: &[u8]) -> Result<Rgb> {
    let options = DecoderOptions::default()
        .set_max_width(MAX_DIMENSION as usize)
        .set_max_height(MAX_DIMENSION as usize)
        .jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(data), options);
    decoder
        .decode_headers()
        .map_err(|e| MediaError::invalid(format!("a JPEG frame is corrupt: {e:?}")))?;
    let info = decoder
        .info()
        .ok_or_else(|| MediaError::invalid("a JPEG frame has no image header"))?;
    VideoTrack::check_dimensions(u32::from(info.width), u32::from(info.height))?;
    let data = decoder
        .decode()
        .map_err(|e| MediaError::invalid(format!("a JPEG frame is corrupt: {e:?}")))?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    if data.len() != width as usize * height as usize * 3 {
        return Err(MediaError::invalid(
            "a JPEG frame decoded to an unexpected size",
        ));
    }
    Ok(Rgb {
        width,
        height,
        data,
    })
}

impl FrameDecoder for Mjpeg {
    fn decode(&mut self, sample: &[u8], want: Want) -> Result<Option<Rgb>> {
        if want.picture() {
            decode_jpeg(sample).map(Some)
        } else {
            Ok(None)
        }
    }

    fn reset(&mut self) {}
}
