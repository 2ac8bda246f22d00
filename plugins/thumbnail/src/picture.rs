//! Recognises and decodes a thumbnail's bytes, and tells whether it is letterboxed.
//!
//! Decoding every pixel (not only the header) is what proves a 200 response is an image:
//! a truncated or corrupt body fails here and the next candidate is tried.

use crate::config::Format;
use image_webp::WebPDecoder;
use std::io::Cursor;
use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

/// Largest width or height accepted; YouTube's largest thumbnail is 1280x720. Checked
/// before any pixel buffer is allocated, so a hostile header cannot exhaust memory.
pub const MAX_DIMENSION: u32 = 4096;

/// A decoded thumbnail: its real format (from its bytes, not its URL), size and luma.
#[derive(Debug, Clone)]
pub struct Picture {
    /// The format the bytes are in.
    pub format: Format,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// One luma byte per pixel, row-major.
    pub luma: Vec<u8>,
}

/// The format the bytes announce (magic numbers), if any.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Format::Jpg)
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(Format::Webp)
    } else {
        None
    }
}

/// Decodes the bytes as whatever image they are; the error says why they are not one.
pub fn decode(bytes: &[u8]) -> Result<Picture, String> {
    match sniff(bytes) {
        Some(Format::Jpg) => decode_jpeg(bytes),
        Some(Format::Webp) => decode_webp(bytes),
        None if bytes.is_empty() => Err("the body is empty".into()),
        None => Err(format!(
            "the body ({} bytes, starting {}) is neither JPEG nor WebP",
            bytes.len(),
            hex_prefix(bytes)
        )),
    }
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

fn check_dimensions(width: u32, height: u32) -> Result<(), String> {
    if width == 0 || height == 0 || width > MAX_DIMENSION || height > MAX_DIMENSION {
        return Err(format!(
            "{width}x{height} is not a plausible thumbnail size (1 to {MAX_DIMENSION} pixels a side)"
        ));
    }
    Ok(())
}

fn decode_jpeg(bytes: &[u8]) -> Result<Picture, String> {
    // Strict: a truncated download is an error, not a picture with a grey bottom half.
    let options = DecoderOptions::default()
        .set_strict_mode(true)
        .set_max_width(MAX_DIMENSION as usize)
        .set_max_height(MAX_DIMENSION as usize)
        .jpeg_set_out_colorspace(ColorSpace::Luma);
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder
        .decode_headers()
        .map_err(|e| format!("JPEG header: {e:?}"))?;
    let info = decoder.info().ok_or("JPEG without an image header")?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    check_dimensions(width, height)?;
    let luma = decoder.decode().map_err(|e| format!("JPEG data: {e:?}"))?;
    if luma.len() != width as usize * height as usize {
        return Err(format!(
            "JPEG decoded to {} bytes, not {width}x{height}",
            luma.len()
        ));
    }
    Ok(Picture {
        format: Format::Jpg,
        width,
        height,
        luma,
    })
}

fn decode_webp(bytes: &[u8]) -> Result<Picture, String> {
    let mut decoder = WebPDecoder::new(Cursor::new(bytes)).map_err(|e| format!("WebP: {e}"))?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height)?;
    let size = decoder
        .output_buffer_size()
        .ok_or("WebP dimensions overflow")?;
    let mut pixels = vec![0u8; size];
    decoder
        .read_image(&mut pixels)
        .map_err(|e| format!("WebP data: {e}"))?;
    let channels = if decoder.has_alpha() { 4 } else { 3 };
    let luma = pixels
        .chunks_exact(channels)
        .map(|p| luma(p[0], p[1], p[2]))
        .collect();
    Ok(Picture {
        format: Format::Webp,
        width,
        height,
        luma,
    })
}

/// BT.601 luma, in integers.
fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((77 * u32::from(r) + 150 * u32::from(g) + 29 * u32::from(b)) >> 8) as u8
}

/// Luma at or below this counts as black (JPEG leaves some noise in black areas).
const DARK: u8 = 40;
/// A band is near-black when its mean luma is at most this...
const BAND_MEAN: u32 = 20;
/// ...and at least this share (per mille) of its pixels are [`DARK`].
const BAND_DARK_PER_MILLE: u64 = 970;

/// True for a 4:3 picture holding a 16:9 video letterboxed: its top and bottom eighths
/// (where the bands of 16:9 in 4:3 fall) are near-black while the middle is not. Only the
/// inner 85% of each band is judged, so compression ringing at the edge of the picture
/// does not count against it.
pub fn is_letterboxed(p: &Picture) -> bool {
    let (w, h) = (p.width as usize, p.height as usize);
    // 4:3 within 2%.
    let (a, b) = (w * 3, h * 4);
    if h < 16 || a.abs_diff(b) * 50 > a.max(b) {
        return false;
    }
    let band = h / 8;
    let judged = band * 85 / 100;
    let margin = h / 20;
    let rows = |from: usize, to: usize| &p.luma[from * w..to * w];
    near_black(rows(0, judged))
        && near_black(rows(h - judged, h))
        && !near_black(rows(band + margin, h - band - margin))
}

fn near_black(pixels: &[u8]) -> bool {
    if pixels.is_empty() {
        return false;
    }
    let n = pixels.len() as u64;
    let sum: u64 = pixels.iter().map(|&v| u64::from(v)).sum();
    let dark = pixels.iter().filter(|&&v| v <= DARK).count() as u64;
    sum <= u64::from(BAND_MEAN) * n && dark * 1000 >= BAND_DARK_PER_MILLE * n
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A picture whose pixel (x, y) has luma `f(x, y)`.
    fn picture(w: u32, h: u32, f: impl Fn(u32, u32) -> u8) -> Picture {
        let luma = (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .map(|(x, y)| f(x, y))
            .collect();
        Picture {
            format: Format::Jpg,
            width: w,
            height: h,
            luma,
        }
    }

    /// A busy, mid-grey pattern standing in for video content.
    fn content(x: u32, y: u32) -> u8 {
        (60 + (x * 7 + y * 13) % 160) as u8
    }

    /// 16:9 content letterboxed into w x h (4:3), bands of luma `band`.
    fn letterboxed(w: u32, h: u32, band: u8) -> Picture {
        let top = h / 8;
        picture(w, h, |x, y| {
            if y < top || y >= h - top {
                band
            } else {
                content(x, y)
            }
        })
    }

    #[test]
    fn black_bands_in_4_3_are_letterboxing() {
        assert!(is_letterboxed(&letterboxed(480, 360, 0)));
        assert!(is_letterboxed(&letterboxed(640, 480, 12)));
        assert!(is_letterboxed(&letterboxed(120, 90, 0)));
    }

    #[test]
    fn grey_bands_full_frames_wrong_shapes_and_black_frames_are_not() {
        assert!(!is_letterboxed(&letterboxed(480, 360, 70)));
        assert!(!is_letterboxed(&picture(480, 360, content)));
        assert!(!is_letterboxed(&picture(480, 360, |_, _| 0)));
        // A 16:9 picture with black bands is not 4:3 letterboxing.
        let wide = picture(1280, 720, |x, y| {
            if !(90..630).contains(&y) {
                0
            } else {
                content(x, y)
            }
        });
        assert!(!is_letterboxed(&wide));
        // Only the top band dark: a dark sky, not letterboxing.
        let sky = picture(480, 360, |x, y| if y < 45 { 0 } else { content(x, y) });
        assert!(!is_letterboxed(&sky));
    }

    #[test]
    fn sniffing_reads_magic_numbers_not_urls() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(Format::Jpg));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(Format::Webp));
        assert_eq!(sniff(b"<html>"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn garbage_and_truncation_do_not_decode() {
        assert!(decode(b"").unwrap_err().contains("empty"));
        assert!(
            decode(b"<html>not found</html>")
                .unwrap_err()
                .contains("neither")
        );
        let jpeg = encode_jpeg(&letterboxed(480, 360, 0));
        assert!(
            decode(&jpeg[..jpeg.len() / 2]).is_err(),
            "half a JPEG decoded"
        );
        assert!(decode(&jpeg[..40]).is_err(), "a JPEG header alone decoded");
        let mut bad_webp = b"RIFF\x10\0\0\0WEBPVP8 ".to_vec();
        bad_webp.extend_from_slice(&[0u8; 8]);
        assert!(decode(&bad_webp).is_err());
    }

    #[test]
    fn a_letterboxed_jpeg_round_trips() {
        let jpeg = encode_jpeg(&letterboxed(480, 360, 0));
        let p = decode(&jpeg).unwrap();
        assert_eq!((p.format, p.width, p.height), (Format::Jpg, 480, 360));
        assert!(is_letterboxed(&p));
        let full = decode(&encode_jpeg(&picture(480, 360, content))).unwrap();
        assert!(!is_letterboxed(&full));
    }

    #[test]
    fn a_webp_decodes_with_its_size() {
        let p = picture(320, 180, content);
        let rgb: Vec<u8> = p.luma.iter().flat_map(|&v| [v, v, v]).collect();
        let mut webp = Vec::new();
        image_webp::WebPEncoder::new(&mut webp)
            .encode(&rgb, 320, 180, image_webp::ColorType::Rgb8)
            .unwrap();
        let d = decode(&webp).unwrap();
        assert_eq!((d.format, d.width, d.height), (Format::Webp, 320, 180));
        // Lossless: the luma survives.
        assert_eq!(d.luma[1000], p.luma[1000]);
    }

    pub(crate) fn encode_jpeg(p: &Picture) -> Vec<u8> {
        let mut out = Vec::new();
        jpeg_encoder::Encoder::new(&mut out, 90)
            .encode(
                &p.luma,
                p.width as u16,
                p.height as u16,
                jpeg_encoder::ColorType::Luma,
            )
            .unwrap();
        out
    }
}
