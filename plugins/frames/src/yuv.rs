//! Planar YUV 4:2:0 to packed RGB.
//!
//! BT.601 coefficients and one chroma sample per 2x2 block of luma, as ffmpeg's swscale
//! does for an untagged `yuv420p` to `rgb24` conversion: that keeps our frames within
//! rounding of ffmpeg's, which the tests compare against.

use crate::media::{MediaError, Result, Rgb};

/// A borrowed 8-bit 4:2:0 picture.
pub struct Yuv420<'a> {
    /// Luma width.
    pub width: usize,
    /// Luma height.
    pub height: usize,
    /// Luma plane.
    pub y: &'a [u8],
    /// Bytes per luma row.
    pub y_stride: usize,
    /// Cb plane.
    pub u: &'a [u8],
    /// Cr plane.
    pub v: &'a [u8],
    /// Bytes per chroma row (both chroma planes).
    pub c_stride: usize,
    /// JPEG-style full range (0-255) rather than video range (16-235).
    pub full_range: bool,
}

// 16.16 fixed point factors.
const fn fx(v: f64) -> i32 {
    (v * 65536.0 + 0.5) as i32
}

impl Yuv420<'_> {
    /// Checks that the planes hold the picture they claim.
    fn check(&self) -> Result<()> {
        let (cw, ch) = (self.width.div_ceil(2), self.height.div_ceil(2));
        let need =
            |stride: usize, w: usize, h: usize| if h == 0 { 0 } else { stride * (h - 1) + w };
        if self.width == 0
            || self.height == 0
            || self.y_stride < self.width
            || self.c_stride < cw
            || self.y.len() < need(self.y_stride, self.width, self.height)
            || self.u.len() < need(self.c_stride, cw, ch)
            || self.v.len() < need(self.c_stride, cw, ch)
        {
            return Err(MediaError::invalid(format!(
                "decoder returned inconsistent {}x{} planes",
                self.width, self.height
            )));
        }
        Ok(())
    }

    /// Converts to packed RGB.
    pub fn to_rgb(&self) -> Result<Rgb> {
        self.check()?;
        let (ky, kr, kgu, kgv, kb, off) = if self.full_range {
            (fx(1.0), fx(1.402), fx(0.344136), fx(0.714136), fx(1.772), 0)
        } else {
            (
                fx(255.0 / 219.0),
                fx(1.596027),
                fx(0.391762),
                fx(0.812968),
                fx(2.017232),
                16,
            )
        };
        let mut data = vec![0u8; self.width * self.height * 3];
        for (row, out) in data.chunks_exact_mut(self.width * 3).enumerate() {
            let yrow = &self.y[row * self.y_stride..][..self.width];
            let crow = (row / 2) * self.c_stride;
            let urow = &self.u[crow..];
            let vrow = &self.v[crow..];
            for (x, px) in out.chunks_exact_mut(3).enumerate() {
                let l = (i32::from(yrow[x]) - off) * ky + (1 << 15);
                let u = i32::from(urow[x / 2]) - 128;
                let v = i32::from(vrow[x / 2]) - 128;
                px[0] = clamp((l + kr * v) >> 16);
                px[1] = clamp((l - kgu * u - kgv * v) >> 16);
                px[2] = clamp((l + kb * u) >> 16);
            }
        }
        Ok(Rgb {
            width: self.width as u32,
            height: self.height as u32,
            data,
        })
    }
}

fn clamp(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grey_and_red() {
        let y = [16u8, 235, 81, 81];
        let u = [128u8];
        let v = [128u8];
        let p = Yuv420 {
            width: 2,
            height: 2,
            y: &y,
            y_stride: 2,
            u: &u,
            v: &v,
            c_stride: 1,
            full_range: false,
        };
        let rgb = p.to_rgb().unwrap();
        assert_eq!(&rgb.data[0..6], &[0, 0, 0, 255, 255, 255]);
        // Pure red in BT.601 video range is Y=81 U=90 V=240.
        let (u, v) = ([90u8], [240u8]);
        let p = Yuv420 { u: &u, v: &v, ..p };
        let rgb = p.to_rgb().unwrap();
        let px = &rgb.data[6..9];
        assert!(px[0] >= 253 && px[1] <= 2 && px[2] <= 2, "{px:?}");
    }

    #[test]
    fn short_planes_are_refused() {
        let y = [0u8; 3];
        let p = Yuv420 {
            width: 2,
            height: 2,
            y: &y,
            y_stride: 2,
            u: &[0],
            v: &[0],
            c_stride: 1,
            full_range: false,
        };
        assert!(p.to_rgb().is_err());
    }
}
