//! The 8x8 inverse DCT in fixed point, accurate to IEEE 1180-1990 (see the test).
//!
//! Rows then columns, each an even/odd butterfly with the cosines scaled by
//! `sqrt(2) * 2^14` (`W[k] = round(sqrt(2) * cos(k*pi/16) * 2^14)`; `W[4]` is one less,
//! 16383, so that the rounding term folded into the DC of the column pass stays exact
//! and the results track the common reference decoders, which use the same scale; that
//! keeps the drift of long groups of pictures against them small). The row pass keeps 3
//! fractional bits (shift 11), the column pass removes the rest (shift 20).
//! Arithmetic wraps instead of trapping: corrupt coefficients make a wrong picture, not
//! a panic.

const W1: i32 = 22725;
const W2: i32 = 21407;
const W3: i32 = 19266;
const W4: i32 = 16383;
const W5: i32 = 12873;
const W6: i32 = 8867;
const W7: i32 = 4520;
const ROW_SHIFT: u32 = 11;
const COL_SHIFT: u32 = 20;

#[inline]
fn row(r: &mut [i32]) {
    if r[1..].iter().all(|&v| v == 0) {
        let dc = r[0].wrapping_shl(3);
        r.fill(dc);
        return;
    }
    let (x0, x1, x2, x3, x4, x5, x6, x7) = (r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
    let rnd = 1 << (ROW_SHIFT - 1);
    let a0 = W4.wrapping_mul(x0).wrapping_add(rnd);
    let (e0, e1) = (
        a0.wrapping_add(W4.wrapping_mul(x4)),
        a0.wrapping_sub(W4.wrapping_mul(x4)),
    );
    let (o0, o1) = (
        W2.wrapping_mul(x2).wrapping_add(W6.wrapping_mul(x6)),
        W6.wrapping_mul(x2).wrapping_sub(W2.wrapping_mul(x6)),
    );
    let (a0, a1, a2, a3) = (
        e0.wrapping_add(o0),
        e1.wrapping_add(o1),
        e1.wrapping_sub(o1),
        e0.wrapping_sub(o0),
    );
    let (b0, b1, b2, b3) = odd(x1, x3, x5, x7);
    r[0] = a0.wrapping_add(b0) >> ROW_SHIFT;
    r[7] = a0.wrapping_sub(b0) >> ROW_SHIFT;
    r[1] = a1.wrapping_add(b1) >> ROW_SHIFT;
    r[6] = a1.wrapping_sub(b1) >> ROW_SHIFT;
    r[2] = a2.wrapping_add(b2) >> ROW_SHIFT;
    r[5] = a2.wrapping_sub(b2) >> ROW_SHIFT;
    r[3] = a3.wrapping_add(b3) >> ROW_SHIFT;
    r[4] = a3.wrapping_sub(b3) >> ROW_SHIFT;
}

#[inline]
fn odd(x1: i32, x3: i32, x5: i32, x7: i32) -> (i32, i32, i32, i32) {
    let m = |a: i32, b: i32| a.wrapping_mul(b);
    (
        m(W1, x1)
            .wrapping_add(m(W3, x3))
            .wrapping_add(m(W5, x5))
            .wrapping_add(m(W7, x7)),
        m(W3, x1)
            .wrapping_sub(m(W7, x3))
            .wrapping_sub(m(W1, x5))
            .wrapping_sub(m(W5, x7)),
        m(W5, x1)
            .wrapping_sub(m(W1, x3))
            .wrapping_add(m(W7, x5))
            .wrapping_add(m(W3, x7)),
        m(W7, x1)
            .wrapping_sub(m(W5, x3))
            .wrapping_add(m(W3, x5))
            .wrapping_sub(m(W1, x7)),
    )
}

#[inline]
fn column(b: &mut [i32; 64], c: usize) {
    let x = |i: usize| b[c + 8 * i];
    let x0 = x(0).wrapping_add((1 << (COL_SHIFT - 1)) / W4);
    let a0 = W4.wrapping_mul(x0);
    let (e0, e1) = (
        a0.wrapping_add(W4.wrapping_mul(x(4))),
        a0.wrapping_sub(W4.wrapping_mul(x(4))),
    );
    let (o0, o1) = (
        W2.wrapping_mul(x(2)).wrapping_add(W6.wrapping_mul(x(6))),
        W6.wrapping_mul(x(2)).wrapping_sub(W2.wrapping_mul(x(6))),
    );
    let (a0, a1, a2, a3) = (
        e0.wrapping_add(o0),
        e1.wrapping_add(o1),
        e1.wrapping_sub(o1),
        e0.wrapping_sub(o0),
    );
    let (b0, b1, b2, b3) = odd(x(1), x(3), x(5), x(7));
    let out = [
        a0.wrapping_add(b0),
        a1.wrapping_add(b1),
        a2.wrapping_add(b2),
        a3.wrapping_add(b3),
        a3.wrapping_sub(b3),
        a2.wrapping_sub(b2),
        a1.wrapping_sub(b1),
        a0.wrapping_sub(b0),
    ];
    for (i, v) in out.into_iter().enumerate() {
        b[c + 8 * i] = v >> COL_SHIFT;
    }
}

/// Inverse-transforms `block` (raster order) in place: coefficients in, samples out.
pub fn idct(block: &mut [i32; 64]) {
    for r in block.chunks_exact_mut(8) {
        row(r);
    }
    for c in 0..8 {
        column(block, c);
    }
}

/// Writes the inverse transform of `block` to `dst` (clamped to 0-255).
pub fn idct_put(block: &mut [i32; 64], dst: &mut [u8], stride: usize) {
    idct(block);
    for (y, r) in block.chunks_exact(8).enumerate() {
        let d = &mut dst[y * stride..y * stride + 8];
        for (p, &v) in d.iter_mut().zip(r) {
            *p = v.clamp(0, 255) as u8;
        }
    }
}

/// Adds the inverse transform of `block` to the prediction in `dst` (clamped to 0-255).
pub fn idct_add(block: &mut [i32; 64], dst: &mut [u8], stride: usize) {
    idct(block);
    for (y, r) in block.chunks_exact(8).enumerate() {
        let d = &mut dst[y * stride..y * stride + 8];
        for (p, &v) in d.iter_mut().zip(r) {
            *p = (i32::from(*p) + v).clamp(0, 255) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IEEE 1180-1990: 10 000 blocks of random coefficients from the standard's generator
    /// in each range and sign, compared with a double-precision inverse DCT.
    #[test]
    fn ieee_1180_accuracy() {
        let mut cos = [[0f64; 8]; 8];
        for (x, row) in cos.iter_mut().enumerate() {
            for (u, c) in row.iter_mut().enumerate() {
                let cu = if u == 0 { (0.5f64).sqrt() } else { 1.0 };
                *c = cu / 2.0 * (((2 * x + 1) * u) as f64 * std::f64::consts::PI / 16.0).cos();
            }
        }
        let reference = |f: &[i32; 64]| {
            let mut out = [0i32; 64];
            for y in 0..8 {
                for x in 0..8 {
                    let mut s = 0.0;
                    for v in 0..8 {
                        for u in 0..8 {
                            s += cos[x][u] * cos[y][v] * f64::from(f[v * 8 + u]);
                        }
                    }
                    out[y * 8 + x] = (s.round() as i32).clamp(-256, 255);
                }
            }
            out
        };
        // The standard's generator (a linear congruential one).
        let mut seed: i64 = 1;
        let mut random = |l: i64, h: i64| {
            seed = (seed * 1_103_515_245 + 12345) % 2_147_483_648;
            let x = seed as f64 / 2_147_483_648.0;
            let i = ((h - l + 1) as f64 * x) as i64 + l;
            i.clamp(l, h)
        };
        for (l, h) in [(-256, 255), (-5, 5), (-300, 300)] {
            for sign in [1i32, -1] {
                let mut err = [0i64; 64];
                let mut sq = [0i64; 64];
                let mut peak = 0;
                for _ in 0..10_000 {
                    // Random spatial block, forward DCT in double, rounded and clipped.
                    let mut spatial = [0f64; 64];
                    for v in spatial.iter_mut() {
                        *v = (random(l, h) as i32 * sign) as f64;
                    }
                    let mut coef = [0i32; 64];
                    for v in 0..8 {
                        for u in 0..8 {
                            let mut s = 0.0;
                            for y in 0..8 {
                                for x in 0..8 {
                                    s += cos[x][u] * cos[y][v] * spatial[y * 8 + x];
                                }
                            }
                            coef[v * 8 + u] = (s.round() as i32).clamp(-2048, 2047);
                        }
                    }
                    let want = reference(&coef);
                    let mut got = coef;
                    idct(&mut got);
                    for i in 0..64 {
                        let g = got[i].clamp(-256, 255);
                        let d = i64::from(g - want[i]);
                        peak = peak.max(d.abs());
                        err[i] += d;
                        sq[i] += d * d;
                    }
                }
                let n = 10_000.0;
                assert!(peak <= 1, "peak error {peak} in {l}..{h} sign {sign}");
                let worst_mse = sq.iter().map(|&s| s as f64 / n).fold(0.0, f64::max);
                let overall_mse = sq.iter().sum::<i64>() as f64 / n / 64.0;
                let worst_mean = err
                    .iter()
                    .map(|&e| (e as f64 / n).abs())
                    .fold(0.0, f64::max);
                let overall_mean = (err.iter().sum::<i64>() as f64 / n / 64.0).abs();
                assert!(worst_mse <= 0.06, "mse {worst_mse} in {l}..{h}");
                assert!(overall_mse <= 0.02, "overall mse {overall_mse} in {l}..{h}");
                assert!(worst_mean <= 0.015, "mean {worst_mean} in {l}..{h}");
                assert!(
                    overall_mean <= 0.0015,
                    "overall mean {overall_mean} in {l}..{h}"
                );
            }
        }
    }

    #[test]
    fn zero_in_zero_out_and_dc_is_flat() {
        let mut b = [0i32; 64];
        idct(&mut b);
        assert!(b.iter().all(|&v| v == 0));
        let mut b = [0i32; 64];
        b[0] = 80; // DC 80 is a flat 10 after the 1/8 scale.
        idct(&mut b);
        assert!(b.iter().all(|&v| v == 10), "{b:?}");
    }
}
