//! Decoded pictures: three 8-bit planes covering whole macroblocks.
//!
//! Planes have no border: motion compensation reads outside them through clamped
//! coordinates (see `inter`), which is the RFC's picture extended without end, and intra
//! prediction gets its out-of-frame edges from the caller.

/// One 8-bit plane.
#[derive(Debug, Clone)]
pub struct Plane {
    /// Pixels, row by row.
    pub data: Vec<u8>,
    /// Width in pixels (a whole number of macroblocks), also the row stride.
    pub width: usize,
    /// Height in pixels (a whole number of macroblocks).
    pub height: usize,
}

impl Plane {
    fn new(width: usize, height: usize) -> Self {
        Plane {
            data: vec![0; width * height],
            width,
            height,
        }
    }

    /// Bytes from one row to the next.
    pub fn stride(&self) -> usize {
        self.width
    }
}

/// A picture in 4:2:0: luma and the two chroma planes.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Luma.
    pub y: Plane,
    /// Blue-difference chroma.
    pub u: Plane,
    /// Red-difference chroma.
    pub v: Plane,
}

impl Frame {
    /// A frame of `mb_cols` x `mb_rows` macroblocks.
    pub fn new(mb_cols: usize, mb_rows: usize) -> Self {
        Frame {
            y: Plane::new(mb_cols * 16, mb_rows * 16),
            u: Plane::new(mb_cols * 8, mb_rows * 8),
            v: Plane::new(mb_cols * 8, mb_rows * 8),
        }
    }
}
