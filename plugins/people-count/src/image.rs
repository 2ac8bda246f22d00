//! Image decoding (JPEG, PNG), resizing and the detector's input normalisation.

use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

/// Largest decoded image accepted, in pixels (about 8K x 4K). The decoded frame lives in
/// guest memory next to the model, so this bounds the memory a hostile header can demand.
pub const MAX_PIXELS: usize = 8192 * 4352;

/// An 8-bit RGB image, rows top to bottom, no padding.
#[derive(Debug, Clone)]
pub struct Rgb {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width * height * 3` bytes, R G B.
    pub data: Vec<u8>,
}

/// Why an image could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageError {
    /// Neither a JPEG nor a PNG signature.
    UnknownFormat,
    /// The file is damaged or uses a feature the decoder lacks.
    Corrupt(String),
    /// More pixels than [`MAX_PIXELS`].
    TooLarge { width: usize, height: usize },
}

impl std::fmt::Display for ImageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImageError::UnknownFormat => f.write_str("not a JPEG or PNG image"),
            ImageError::Corrupt(m) => write!(f, "cannot decode the image: {m}"),
            ImageError::TooLarge { width, height } => {
                write!(
                    f,
                    "image is {width}x{height}, more than the {MAX_PIXELS} pixels accepted"
                )
            }
        }
    }
}

impl std::error::Error for ImageError {}

/// Decodes a JPEG or PNG (chosen by its signature, not by the declared media type).
pub fn decode(bytes: &[u8]) -> Result<Rgb, ImageError> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        decode_jpeg(bytes)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        decode_png(bytes)
    } else {
        Err(ImageError::UnknownFormat)
    }
}

fn check_size(width: usize, height: usize) -> Result<(), ImageError> {
    if width == 0 || height == 0 {
        return Err(ImageError::Corrupt("image has no pixels".into()));
    }
    if width.saturating_mul(height) > MAX_PIXELS {
        return Err(ImageError::TooLarge { width, height });
    }
    Ok(())
}

fn decode_jpeg(bytes: &[u8]) -> Result<Rgb, ImageError> {
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::RGB)
        .set_max_width(1 << 16)
        .set_max_height(1 << 16);
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder
        .decode_headers()
        .map_err(|e| ImageError::Corrupt(format!("{e:?}")))?;
    let (width, height) = decoder
        .dimensions()
        .ok_or_else(|| ImageError::Corrupt("no JPEG frame header".into()))?;
    check_size(width, height)?;
    let data = decoder
        .decode()
        .map_err(|e| ImageError::Corrupt(format!("{e:?}")))?;
    if data.len() != width * height * 3 {
        return Err(ImageError::Corrupt(format!(
            "JPEG decoder returned {} bytes for {width}x{height}",
            data.len()
        )));
    }
    Ok(Rgb {
        width,
        height,
        data,
    })
}

fn decode_png(bytes: &[u8]) -> Result<Rgb, ImageError> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    // Expand palettes and low bit depths, strip 16-bit to 8: then only the colour type varies.
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder
        .read_info()
        .map_err(|e| ImageError::Corrupt(e.to_string()))?;
    let (width, height) = {
        let info = reader.info();
        (info.width as usize, info.height as usize)
    };
    check_size(width, height)?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| ImageError::Corrupt("PNG frame size overflows".into()))?;
    let mut buf = vec![0; size];
    let frame = reader
        .next_frame(&mut buf)
        .map_err(|e| ImageError::Corrupt(e.to_string()))?;
    buf.truncate(frame.buffer_size());
    let data = match frame.color_type {
        png::ColorType::Rgb => buf,
        png::ColorType::Rgba => buf
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect(),
        png::ColorType::Grayscale => buf.iter().flat_map(|&g| [g, g, g]).collect(),
        png::ColorType::GrayscaleAlpha => buf
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0]])
            .collect(),
        png::ColorType::Indexed => return Err(ImageError::Corrupt("palette not expanded".into())),
    };
    if data.len() != width * height * 3 {
        return Err(ImageError::Corrupt(format!(
            "PNG decoder returned {} bytes for {width}x{height}",
            data.len()
        )));
    }
    Ok(Rgb {
        width,
        height,
        data,
    })
}

/// Per-channel mean and standard deviation NanoDet was trained with, in B, G, R order.
const MEAN_BGR: [f32; 3] = [103.53, 116.28, 123.675];
const STD_BGR: [f32; 3] = [57.375, 57.12, 58.395];

/// Resizes `img` to `size` x `size` (stretching, as the detector's reference code does)
/// and returns the network input: planar B, G, R (NCHW, batch 1), mean/std normalised.
pub fn to_input(img: &Rgb, size: usize) -> Vec<f32> {
    let resized = resize(img, size, size);
    let plane = size * size;
    let mut out = vec![0f32; 3 * plane];
    for (i, px) in resized.chunks_exact(3).enumerate() {
        // px is R G B; channel c of the output is B, G, R.
        for c in 0..3 {
            out[c * plane + i] = (px[2 - c] - MEAN_BGR[c]) / STD_BGR[c];
        }
    }
    out
}

/// Separable resize with a triangle filter whose support widens when shrinking, so a
/// 1080p frame brought down to 416 is averaged rather than point-sampled (aliasing
/// there costs detections on small, distant people). Returns interleaved RGB floats.
pub fn resize(img: &Rgb, out_w: usize, out_h: usize) -> Vec<f32> {
    let xs = weights(img.width, out_w);
    let ys = weights(img.height, out_h);
    // Horizontal pass: height x out_w.
    let mut tmp = vec![0f32; img.height * out_w * 3];
    for y in 0..img.height {
        let row = &img.data[y * img.width * 3..(y + 1) * img.width * 3];
        let dst = &mut tmp[y * out_w * 3..(y + 1) * out_w * 3];
        for (x, (start, w)) in xs.iter().enumerate() {
            let mut acc = [0f32; 3];
            for (k, &wk) in w.iter().enumerate() {
                let p = (start + k) * 3;
                acc[0] += wk * f32::from(row[p]);
                acc[1] += wk * f32::from(row[p + 1]);
                acc[2] += wk * f32::from(row[p + 2]);
            }
            dst[x * 3..x * 3 + 3].copy_from_slice(&acc);
        }
    }
    // Vertical pass: out_h x out_w.
    let mut out = vec![0f32; out_h * out_w * 3];
    let stride = out_w * 3;
    for (y, (start, w)) in ys.iter().enumerate() {
        let dst = &mut out[y * stride..(y + 1) * stride];
        for (k, &wk) in w.iter().enumerate() {
            let src = &tmp[(start + k) * stride..(start + k + 1) * stride];
            for (d, s) in dst.iter_mut().zip(src) {
                *d += wk * s;
            }
        }
    }
    out
}

/// For each output sample: the first source index and normalised filter weights.
fn weights(src: usize, dst: usize) -> Vec<(usize, Vec<f32>)> {
    let scale = src as f32 / dst as f32;
    let support = scale.max(1.0);
    (0..dst)
        .map(|i| {
            let centre = (i as f32 + 0.5) * scale - 0.5;
            let lo = (centre - support).floor().max(0.0) as usize;
            let hi = ((centre + support).ceil() as usize).min(src - 1);
            let mut w: Vec<f32> = (lo..=hi)
                .map(|j| (1.0 - (j as f32 - centre).abs() / support).max(0.0))
                .collect();
            let sum: f32 = w.iter().sum();
            if sum > 0.0 {
                w.iter_mut().for_each(|v| *v /= sum);
            } else {
                // Only at the very edge when upscaling: take the nearest pixel.
                w.iter_mut().for_each(|v| *v = 0.0);
                let nearest = (centre.round().max(0.0) as usize).min(src - 1) - lo;
                w[nearest] = 1.0;
            }
            (lo, w)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_keeps_a_flat_colour() {
        let img = Rgb {
            width: 37,
            height: 23,
            data: [10u8, 20, 30].repeat(37 * 23),
        };
        for (w, h) in [(16, 16), (100, 50), (37, 23)] {
            let out = resize(&img, w, h);
            assert_eq!(out.len(), w * h * 3);
            for px in out.chunks_exact(3) {
                assert!(
                    (px[0] - 10.0).abs() < 1e-3
                        && (px[1] - 20.0).abs() < 1e-3
                        && (px[2] - 30.0).abs() < 1e-3
                );
            }
        }
    }

    #[test]
    fn input_is_planar_bgr_normalised() {
        let img = Rgb {
            width: 2,
            height: 2,
            data: [255u8, 0, 0].repeat(4),
        };
        let input = to_input(&img, 2);
        // Blue plane first: 0 -> (0 - 103.53) / 57.375.
        assert!((input[0] - (-103.53 / 57.375)).abs() < 1e-4);
        // Red plane last: 255.
        assert!((input[8] - (255.0 - 123.675) / 58.395).abs() < 1e-4);
    }

    #[test]
    fn rejects_unknown_formats() {
        assert_eq!(decode(b"GIF89a").unwrap_err(), ImageError::UnknownFormat);
    }
}
