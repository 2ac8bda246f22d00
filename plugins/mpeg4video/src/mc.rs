//! Motion-compensated prediction: half-sample bilinear and MPEG-4 quarter-sample
//! interpolation, with the VOP's rounding control.
//!
//! Both read a `(w+1) x (h+1)` source area (edge samples repeated outside the plane).
//! Quarter-sample prediction (clause 7.6.2.1) filters half-sample positions with the
//! 8-tap `[-1, 3, -6, 20, 20, -6, 3, -1] / 32` filter, mirroring samples at the border of
//! that area, first along rows then along columns; quarter positions average the two
//! nearest samples of the row stage, then of the column stage.

use crate::picture::Plane;

/// Largest block predicted at once (16x16) plus the extra row and column.
const AREA: usize = 17 * 17;

/// Predicts a `w` x `h` block whose top-left is at `(x, y)` in `src`, displaced by the
/// half-sample vector `(mx, my)`, into `out` (row length `w`).
#[allow(clippy::too_many_arguments)]
pub fn halfpel(
    src: &Plane,
    x: i32,
    y: i32,
    mx: i32,
    my: i32,
    w: usize,
    h: usize,
    rounding: bool,
    out: &mut [u8],
) {
    let mut area = [0u8; AREA];
    let aw = w + 1;
    src.fetch(x + (mx >> 1), y + (my >> 1), aw, h + 1, &mut area);
    let r = i32::from(rounding);
    let at = |r_: usize, c: usize| i32::from(area[r_ * aw + c]);
    match (mx & 1, my & 1) {
        (0, 0) => {
            for i in 0..h {
                out[i * w..i * w + w].copy_from_slice(&area[i * aw..i * aw + w]);
            }
        }
        (1, 0) => {
            for i in 0..h {
                for j in 0..w {
                    out[i * w + j] = ((at(i, j) + at(i, j + 1) + 1 - r) >> 1) as u8;
                }
            }
        }
        (0, 1) => {
            for i in 0..h {
                for j in 0..w {
                    out[i * w + j] = ((at(i, j) + at(i + 1, j) + 1 - r) >> 1) as u8;
                }
            }
        }
        _ => {
            for i in 0..h {
                for j in 0..w {
                    let s = at(i, j) + at(i, j + 1) + at(i + 1, j) + at(i + 1, j + 1);
                    out[i * w + j] = ((s + 2 - r) >> 2) as u8;
                }
            }
        }
    }
}

/// The 8-tap half-sample filter along a line of `n + 1` samples (`n` outputs), samples
/// beyond the line mirrored: `out[i]` lies between `line[i]` and `line[i + 1]`.
#[inline]
fn filter_line(line: &[u8], n: usize, rounding: i32, out: &mut [u8]) {
    // ext[k + 3] = line[k] for k in -3..=n + 4, mirrored outside 0..=n.
    let mut ext = [0i32; 17 + 7];
    for (k, e) in ext.iter_mut().enumerate().take(n + 8) {
        let k = k as isize - 3;
        let m = if k < 0 {
            (-k - 1) as usize
        } else if k as usize > n {
            2 * n + 1 - k as usize
        } else {
            k as usize
        };
        *e = i32::from(line[m]);
    }
    for (i, o) in out.iter_mut().enumerate().take(n) {
        let e = &ext[i..i + 8];
        let v = 20 * (e[3] + e[4]) - 6 * (e[2] + e[5]) + 3 * (e[1] + e[6]) - (e[0] + e[7]);
        *o = ((v + 16 - rounding) >> 5).clamp(0, 255) as u8;
    }
}

/// Predicts a `w` x `h` block at `(x, y)` in `src` displaced by the quarter-sample
/// vector `(mx, my)`, into `out` (row length `w`).
#[allow(clippy::too_many_arguments)]
pub fn qpel(
    src: &Plane,
    x: i32,
    y: i32,
    mx: i32,
    my: i32,
    w: usize,
    h: usize,
    rounding: bool,
    out: &mut [u8],
) {
    let mut area = [0u8; AREA];
    let aw = w + 1;
    src.fetch(x + (mx >> 2), y + (my >> 2), aw, h + 1, &mut area);
    let r = i32::from(rounding);
    let avg = |a: u8, b: u8| ((i32::from(a) + i32::from(b) + 1 - r) >> 1) as u8;
    let (fx, fy) = (mx & 3, my & 3);
    // Row stage: `rows` rows of `w` samples at horizontal phase fx.
    let rows = if fy == 0 { h } else { h + 1 };
    let mut row_stage = [0u8; 16 * 17];
    let mut half = [0u8; 16];
    for i in 0..rows {
        let line = &area[i * aw..i * aw + aw];
        let dst = &mut row_stage[i * w..i * w + w];
        if fx == 0 {
            dst.copy_from_slice(&line[..w]);
            continue;
        }
        filter_line(line, w, r, &mut half);
        for j in 0..w {
            dst[j] = match fx {
                2 => half[j],
                1 => avg(line[j], half[j]),
                _ => avg(line[j + 1], half[j]),
            };
        }
    }
    if fy == 0 {
        out[..w * h].copy_from_slice(&row_stage[..w * h]);
        return;
    }
    // Column stage.
    let mut column = [0u8; 17];
    for j in 0..w {
        for (i, c) in column.iter_mut().enumerate().take(h + 1) {
            *c = row_stage[i * w + j];
        }
        filter_line(&column, h, r, &mut half);
        for i in 0..h {
            out[i * w + j] = match fy {
                2 => half[i],
                1 => avg(column[i], half[i]),
                _ => avg(column[i + 1], half[i]),
            };
        }
    }
}

/// Averages a second prediction into `dst` (bidirectional prediction), rounding up.
pub fn average(dst: &mut [u8], other: &[u8]) {
    for (d, &o) in dst.iter_mut().zip(other) {
        *d = ((u16::from(*d) + u16::from(o) + 1) >> 1) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane(f: impl Fn(usize, usize) -> u8) -> Plane {
        let mut p = crate::picture::Picture::new(32, 32).y;
        for y in 0..32 {
            for x in 0..32 {
                p.data[y * p.stride + x] = f(x, y);
            }
        }
        p
    }

    #[test]
    fn whole_sample_vectors_copy() {
        let p = plane(|x, y| (x * 7 + y * 3) as u8);
        let mut a = [0u8; 64];
        let mut b = [0u8; 64];
        halfpel(&p, 8, 8, 4, -2, 8, 8, false, &mut a);
        qpel(&p, 8, 8, 8, -4, 8, 8, true, &mut b);
        assert_eq!(a, b);
        assert_eq!(a[0], (10 * 7 + 7 * 3) as u8);
    }

    #[test]
    fn flat_areas_stay_flat_and_edges_repeat() {
        let p = plane(|_, _| 77);
        let mut out = [0u8; 256];
        for (mx, my) in [(1, 3), (-70, 2), (3, -3), (2, 2)] {
            qpel(&p, 0, 0, mx, my, 16, 16, false, &mut out);
            assert!(out.iter().all(|&v| v == 77), "{mx},{my}");
            halfpel(&p, 0, 0, mx, my, 16, 16, true, &mut out);
            assert!(out.iter().all(|&v| v == 77), "{mx},{my}");
        }
    }

    #[test]
    fn half_sample_rounding_control() {
        let p = plane(|x, _| if x % 2 == 0 { 10 } else { 11 });
        let mut out = [0u8; 64];
        halfpel(&p, 0, 0, 1, 0, 8, 8, false, &mut out);
        assert_eq!(out[0], 11);
        halfpel(&p, 0, 0, 1, 0, 8, 8, true, &mut out);
        assert_eq!(out[0], 10);
    }
}
