//! A small fixed-size colour thumbnail of each frame and the two measures taken on it.
//!
//! Comparing 64x36 area averages rather than whole frames makes the measures cheap, the
//! same for any input size, and blind to JPEG noise and fine texture. The figures quoted
//! below come from `examples/calibrate.rs` on frames sampled every 0.5 s at 320 px.

use crate::decode::Picture;

/// Thumbnail width in pixels (16:9, like most video).
pub const WIDTH: usize = 64;
/// Thumbnail height in pixels.
pub const HEIGHT: usize = 36;
const CELLS: usize = WIDTH * HEIGHT;

/// Histogram levels per colour channel: 4x4x4 = 64 bins. Few bins, because a region has
/// only 144 pixels; soft binning keeps small colour shifts from jumping a bin edge.
const LEVELS: usize = 4;
const BINS: usize = LEVELS * LEVELS * LEVELS;
/// The thumbnail is split into 4x4 regions of 16x9 pixels, each with its own histogram.
/// One global histogram misses cuts between shots of one setting (same colours, moved
/// around): on the Megamind trailer's three such cuts it scored as low as 0.05, below a hand
/// entering a still shot (0.075); per region the cuts score 0.33-0.38, that hand 0.20.
const GRID: usize = 4;
const REGIONS: usize = GRID * GRID;
const REGION_PIXELS: usize = CELLS / REGIONS;

/// A frame reduced to 64x36 RGB by area averaging.
#[derive(Debug, Clone, PartialEq)]
pub struct Thumb {
    rgb: Vec<u8>,
}

impl Thumb {
    /// Area-averages `picture` down to 64x36, whatever its size and aspect ratio.
    ///
    /// Each source pixel adds to the one cell it falls in. A picture narrower or shorter
    /// than the thumbnail leaves some cells empty; those take the cell of the source pixel
    /// they would sample (nearest neighbour), so tiny frames still compare.
    pub fn from_picture(picture: &Picture) -> Thumb {
        let (w, h, ch) = (
            picture.width as usize,
            picture.height as usize,
            picture.channels,
        );
        let col: Vec<usize> = (0..w).map(|x| x * WIDTH / w).collect();
        let mut sums = vec![[0u32; 3]; CELLS];
        let mut counts = vec![0u32; CELLS];
        for (y, row) in picture.data.chunks_exact(w * ch).enumerate() {
            let base = y * HEIGHT / h * WIDTH;
            for (px, &cx) in row.chunks_exact(ch).zip(&col) {
                // Grey (+alpha) counts as equal RGB; alpha is ignored.
                let rgb = if ch >= 3 {
                    [px[0], px[1], px[2]]
                } else {
                    [px[0]; 3]
                };
                let cell = &mut sums[base + cx];
                for c in 0..3 {
                    cell[c] += u32::from(rgb[c]);
                }
                counts[base + cx] += 1;
            }
        }
        let mut rgb = vec![0u8; CELLS * 3];
        for ty in 0..HEIGHT {
            for tx in 0..WIDTH {
                let mut cell = ty * WIDTH + tx;
                if counts[cell] == 0 {
                    let (sx, sy) = (tx * w / WIDTH, ty * h / HEIGHT);
                    cell = sy * HEIGHT / h * WIDTH + sx * WIDTH / w;
                }
                let n = counts[cell].max(1);
                for c in 0..3 {
                    rgb[(ty * WIDTH + tx) * 3 + c] = ((sums[cell][c] + n / 2) / n) as u8;
                }
            }
        }
        Thumb { rgb }
    }

    /// The RGB samples, row-major.
    pub fn rgb(&self) -> &[u8] {
        &self.rgb
    }

    /// Motion: mean absolute difference of luma to `previous`, 0 (still) to 1 (black to
    /// white everywhere).
    pub fn motion(&self, previous: &Thumb) -> f64 {
        let total: u64 = self
            .rgb
            .chunks_exact(3)
            .zip(previous.rgb.chunks_exact(3))
            .map(|(a, b)| u64::from(luma(a).abs_diff(luma(b))))
            .sum();
        total as f64 / (CELLS as f64 * 255.0 * 256.0)
    }

    /// The colour histograms of the 4x4 regions: 4 levels per channel, each summing to 1.
    pub fn histogram(&self) -> Histogram {
        let mut regions = [[0f32; BINS]; REGIONS];
        for (i, px) in self.rgb.chunks_exact(3).enumerate() {
            let (x, y) = (i % WIDTH, i / WIDTH);
            let bins = &mut regions[y * GRID / HEIGHT * GRID + x * GRID / WIDTH];
            // Soft (trilinear) binning: each channel splits its weight between the two
            // nearest level centres, so a shift of one grey level moves 1/64 of a bin,
            // never a whole one.
            let parts = [split(px[0]), split(px[1]), split(px[2])];
            for (r, wr) in parts[0] {
                for (g, wg) in parts[1] {
                    for (b, wb) in parts[2] {
                        bins[(r * LEVELS + g) * LEVELS + b] += wr * wg * wb;
                    }
                }
            }
        }
        for v in regions.iter_mut().flatten() {
            *v /= REGION_PIXELS as f32;
        }
        Histogram { regions }
    }
}

/// The colour histograms of a thumbnail's regions.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    regions: [[f32; BINS]; REGIONS],
}

impl Histogram {
    /// The mean over regions of the total-variation distance (half the L1 distance)
    /// between their histograms: the share of the picture whose colour would have to
    /// change, region by region, to turn one frame into the other, 0 to 1.
    pub fn distance(&self, other: &Histogram) -> f64 {
        let l1: f64 = self
            .regions
            .iter()
            .flatten()
            .zip(other.regions.iter().flatten())
            .map(|(a, b)| f64::from((a - b).abs()))
            .sum();
        (l1 / 2.0 / REGIONS as f64).clamp(0.0, 1.0)
    }
}

/// BT.601 luma scaled by 256 (0..=65280), integer only.
fn luma(px: &[u8]) -> u32 {
    77 * u32::from(px[0]) + 150 * u32::from(px[1]) + 29 * u32::from(px[2])
}

/// The two levels nearest to `v` and their weights (summing to 1). Level centres sit at
/// 32, 96, 160 and 224; below the first or above the last, all weight goes to it.
fn split(v: u8) -> [(usize, f32); 2] {
    const STEP: f32 = 256.0 / LEVELS as f32;
    let pos = ((f32::from(v) + 0.5) / STEP - 0.5).clamp(0.0, (LEVELS - 1) as f32);
    let low = (pos.floor() as usize).min(LEVELS - 2);
    let frac = pos - low as f32;
    [(low, 1.0 - frac), (low + 1, frac)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::solid;

    fn thumb(w: u32, h: u32, colour: [u8; 3]) -> Thumb {
        let rgb = solid(w, h, colour);
        Thumb::from_picture(&Picture {
            width: w,
            height: h,
            channels: 3,
            data: rgb,
        })
    }

    #[test]
    fn area_average_of_halves() {
        // Left half black, right half white, 320x180: cells are exactly 5x5 pixels.
        let (w, h) = (320usize, 180usize);
        let mut data = vec![0u8; w * h * 3];
        for y in 0..h {
            for x in w / 2..w {
                data[(y * w + x) * 3..][..3].fill(255);
            }
        }
        let t = Thumb::from_picture(&Picture {
            width: w as u32,
            height: h as u32,
            channels: 3,
            data,
        });
        assert_eq!(t.rgb()[0], 0);
        assert_eq!(t.rgb()[(WIDTH - 1) * 3], 255);
    }

    #[test]
    fn tiny_and_grey_pictures_fill_every_cell() {
        let t = thumb(3, 2, [10, 20, 30]);
        assert!(t.rgb().chunks_exact(3).all(|p| p == [10, 20, 30]));
        let g = Thumb::from_picture(&Picture {
            width: 7,
            height: 5,
            channels: 1,
            data: vec![99; 35],
        });
        assert!(g.rgb().iter().all(|&v| v == 99));
    }

    #[test]
    fn measures_span_zero_to_one() {
        let black = thumb(64, 36, [0, 0, 0]);
        let white = thumb(64, 36, [255, 255, 255]);
        assert_eq!(black.motion(&black), 0.0);
        assert!((black.motion(&white) - 1.0).abs() < 1e-9);
        assert_eq!(black.histogram().distance(&black.histogram()), 0.0);
        assert!((black.histogram().distance(&white.histogram()) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn one_grey_level_moves_the_histogram_a_little() {
        // 95 and 96 straddle no hard edge any more: the distance stays tiny.
        let a = thumb(64, 36, [64, 95, 128]).histogram();
        let b = thumb(64, 36, [64, 96, 128]).histogram();
        assert!(a.distance(&b) < 0.02, "{}", a.distance(&b));
    }

    #[test]
    fn same_colours_moved_around_is_a_change() {
        // Left half red and right half green, then swapped: one global histogram would
        // not see it.
        let halves = |left: [u8; 3], right: [u8; 3]| {
            let data = (0..36 * 64)
                .flat_map(|i| if i % 64 < 32 { left } else { right })
                .collect();
            Thumb::from_picture(&Picture {
                width: 64,
                height: 36,
                channels: 3,
                data,
            })
        };
        let a = halves([200, 0, 0], [0, 200, 0]).histogram();
        let b = halves([0, 200, 0], [200, 0, 0]).histogram();
        assert!(a.distance(&b) > 0.9, "{}", a.distance(&b));
    }

    #[test]
    fn split_weights_sum_to_one() {
        for v in 0..=255u8 {
            let [(l0, w0), (l1, w1)] = split(v);
            assert!(l0 < LEVELS && l1 < LEVELS);
            assert!((w0 + w1 - 1.0).abs() < 1e-6);
            assert!(w0 >= 0.0 && w1 >= 0.0);
        }
    }
}
