//! Decoded pictures: three 8-bit planes sized to whole macroblocks.

/// One plane of samples.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plane {
    /// Samples, `stride * rows`.
    pub data: Vec<u8>,
    /// Bytes per row (the macroblock-aligned width).
    pub stride: usize,
    /// Rows (the macroblock-aligned height).
    pub rows: usize,
}

impl Plane {
    fn new(stride: usize, rows: usize) -> Plane {
        Plane {
            data: vec![0; stride * rows],
            stride,
            rows,
        }
    }

    /// Copies a `w` x `h` block whose top-left is at `(x, y)` (possibly outside the
    /// plane) into `out` (row length `w`), repeating edge samples as unrestricted motion
    /// vectors require. The edge is that of the macroblock-aligned plane, as the common
    /// decoders use it.
    pub fn fetch(&self, x: i32, y: i32, w: usize, h: usize, out: &mut [u8]) {
        let (pw, ph) = (self.stride as i32, self.rows as i32);
        if x >= 0 && y >= 0 && x + w as i32 <= pw && y + h as i32 <= ph {
            for r in 0..h {
                let s = (y as usize + r) * self.stride + x as usize;
                out[r * w..r * w + w].copy_from_slice(&self.data[s..s + w]);
            }
            return;
        }
        for r in 0..h {
            let sy = (y + r as i32).clamp(0, ph - 1) as usize * self.stride;
            for c in 0..w {
                let sx = (x + c as i32).clamp(0, pw - 1) as usize;
                out[r * w + c] = self.data[sy + sx];
            }
        }
    }
}

/// A picture in 4:2:0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Picture {
    /// Luma.
    pub y: Plane,
    /// Cb.
    pub u: Plane,
    /// Cr.
    pub v: Plane,
    /// Visible width in pixels.
    pub width: usize,
    /// Visible height in pixels.
    pub height: usize,
}

impl Picture {
    /// A black picture of `width` x `height` visible pixels.
    pub fn new(width: usize, height: usize) -> Picture {
        let (mbw, mbh) = (width.div_ceil(16), height.div_ceil(16));
        let mut p = Picture {
            y: Plane::new(mbw * 16, mbh * 16),
            u: Plane::new(mbw * 8, mbh * 8),
            v: Plane::new(mbw * 8, mbh * 8),
            width,
            height,
        };
        p.y.data.fill(16);
        p.u.data.fill(128);
        p.v.data.fill(128);
        p
    }

    /// The plane for block `n` of a macroblock (0-3 luma, 4 Cb, 5 Cr).
    pub fn plane_mut(&mut self, n: usize) -> &mut Plane {
        match n {
            0..=3 => &mut self.y,
            4 => &mut self.u,
            _ => &mut self.v,
        }
    }
}
