//! Decodes one JPEG (`zune-jpeg`) or PNG (`png`) picture, told apart by its magic bytes.

use png::{Decoder, Limits, Transformations};
use std::io::Cursor;
use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

/// Largest picture decoded, in pixels (3840x2160). Checked from the header, before the
/// pixels are allocated, so a hostile header cannot ask for gigabytes.
pub const MAX_PIXELS: u64 = 3840 * 2160;

/// Largest side accepted, in pixels.
pub const MAX_SIDE: u32 = 8192;

/// A decoded picture: 8-bit samples, row-major, `channels` per pixel.
#[derive(Debug, Clone)]
pub struct Picture {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA).
    pub channels: usize,
    /// `width * height * channels` samples.
    pub data: Vec<u8>,
}

/// Decodes `bytes` as JPEG or PNG, whichever its first bytes say; the error says why not.
pub fn decode(bytes: &[u8]) -> Result<Picture, String> {
    if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        decode_jpeg(bytes)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        decode_png(bytes)
    } else {
        Err("not a JPEG or PNG picture".into())
    }
}

fn check_size(width: u32, height: u32) -> Result<(), String> {
    if width == 0 || height == 0 {
        return Err(format!("picture is {width}x{height}"));
    }
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(format!(
            "picture is {width}x{height}, more than the {MAX_PIXELS} pixels this step decodes; \
             scale frames down upstream (frames: max_width)"
        ));
    }
    Ok(())
}

fn decode_jpeg(bytes: &[u8]) -> Result<Picture, String> {
    let options = DecoderOptions::default()
        .set_max_width(MAX_SIDE as usize)
        .set_max_height(MAX_SIDE as usize)
        .jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder
        .decode_headers()
        .map_err(|e| corrupt("JPEG", format!("{e:?}")))?;
    let info = decoder.info().ok_or("corrupt JPEG: no image header")?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    check_size(width, height)?;
    let data = decoder
        .decode()
        .map_err(|e| corrupt("JPEG", format!("{e:?}")))?;
    picture(width, height, data)
}

fn decode_png(bytes: &[u8]) -> Result<Picture, String> {
    let limits = Limits {
        bytes: (MAX_PIXELS * 8) as usize,
    };
    let mut decoder = Decoder::new_with_limits(Cursor::new(bytes), limits);
    // Palette and low bit depths to 8-bit samples, 16-bit to 8-bit.
    decoder.set_transformations(Transformations::normalize_to_color8());
    let mut reader = decoder
        .read_info()
        .map_err(|e| corrupt("PNG", e.to_string()))?;
    let (width, height) = reader.info().size();
    check_size(width, height)?;
    let len = reader
        .output_buffer_size()
        .ok_or("PNG: picture too large")?;
    let mut data = vec![0; len];
    let out = reader
        .next_frame(&mut data)
        .map_err(|e| corrupt("PNG", e.to_string()))?;
    data.truncate(out.buffer_size());
    picture(width, height, data)
}

/// The decoders' messages end in a newline now and then; the step error should not.
fn corrupt(format: &str, detail: String) -> String {
    format!("corrupt {format}: {}", detail.trim())
}

fn picture(width: u32, height: u32, data: Vec<u8>) -> Result<Picture, String> {
    let pixels = width as usize * height as usize;
    let channels = data.len() / pixels;
    if !(1..=4).contains(&channels) || data.len() != pixels * channels {
        return Err(format!(
            "picture decoded to {} bytes, unexpected for {width}x{height}",
            data.len()
        ));
    }
    Ok(Picture {
        width,
        height,
        channels,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{jpeg, png_grey, solid};

    #[test]
    fn decodes_jpeg_and_png() {
        let rgb = solid(40, 30, [200, 30, 30]);
        let p = decode(&jpeg(&rgb, 40, 30)).unwrap();
        assert_eq!((p.width, p.height, p.channels), (40, 30, 3));
        // JPEG is lossy: close to the colour, not equal.
        assert!(p.data[0] > 180 && p.data[1] < 60);
        let p = decode(&png_grey(16, 8, 77)).unwrap();
        assert_eq!((p.width, p.height, p.channels), (16, 8, 1));
        assert!(p.data.iter().all(|&v| v == 77));
    }

    #[test]
    fn refuses_garbage_truncation_and_huge_headers() {
        assert!(decode(b"hello").unwrap_err().contains("not a JPEG or PNG"));
        let bytes = jpeg(&solid(64, 64, [1, 2, 3]), 64, 64);
        assert!(decode(&bytes[..bytes.len() / 3]).is_err());
        let err = check_size(8000, 8000).unwrap_err();
        assert!(err.contains("max_width"), "{err}");
        check_size(3840, 2160).unwrap();
    }
}
