//! Encodes pictures as JPEG (`jpeg-encoder`) or PNG (`png`, fast compression).

use crate::media::{MediaError, Result, Rgb};

/// An output image format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Baseline JPEG, 4:2:0.
    Jpeg,
    /// 8-bit RGB PNG.
    Png,
}

impl Format {
    /// File extension of the artifacts.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Png => "png",
        }
    }
    /// Media type of the artifacts.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
        }
    }
}

/// Encodes `rgb`; `quality` (1-100) applies to JPEG only.
pub fn encode(rgb: &Rgb, format: Format, quality: u8) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(rgb.data.len() / 8);
    let fail = |e: String| MediaError::invalid(format!("encoding the frame failed: {e}"));
    match format {
        Format::Jpeg => {
            let (w, h) = (u16::try_from(rgb.width), u16::try_from(rgb.height));
            let (Ok(w), Ok(h)) = (w, h) else {
                return Err(fail("too large for JPEG".into()));
            };
            let mut enc = jpeg_encoder::Encoder::new(&mut out, quality.clamp(1, 100));
            enc.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
            enc.encode(&rgb.data, w, h, jpeg_encoder::ColorType::Rgb)
                .map_err(|e| fail(e.to_string()))?;
        }
        Format::Png => {
            let mut enc = png::Encoder::new(&mut out, rgb.width, rgb.height);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            enc.set_compression(png::Compression::Fast);
            let mut writer = enc.write_header().map_err(|e| fail(e.to_string()))?;
            writer
                .write_image_data(&rgb.data)
                .map_err(|e| fail(e.to_string()))?;
            writer.finish().map_err(|e| fail(e.to_string()))?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_have_their_magic() {
        let rgb = Rgb {
            width: 16,
            height: 8,
            data: vec![120; 16 * 8 * 3],
        };
        assert_eq!(&encode(&rgb, Format::Jpeg, 85).unwrap()[..2], &[0xff, 0xd8]);
        assert_eq!(&encode(&rgb, Format::Png, 85).unwrap()[1..4], b"PNG");
    }
}
