//! The inverse transforms (RFC 6386 section 14): the Walsh-Hadamard transform that turns
//! the Y2 block into the luma blocks' DCs, and the 4x4 DCT added onto a prediction.
//!
//! The arithmetic is the RFC's exact integer arithmetic, intermediate rows stored as `i16`
//! as the reference decoder stores them, so every conforming decoder gets the same pixels.

const COS_PI8_SQRT2_MINUS1: i32 = 20091;
const SIN_PI8_SQRT2: i32 = 35468;

/// Inverts the WHT of `input`; returns the 16 luma DC values in block raster order.
pub fn inverse_wht(input: &[i16; 16]) -> [i16; 16] {
    let mut tmp = [0i16; 16];
    for i in 0..4 {
        let (i0, i1, i2, i3) = (
            i32::from(input[i]),
            i32::from(input[4 + i]),
            i32::from(input[8 + i]),
            i32::from(input[12 + i]),
        );
        let a1 = i0 + i3;
        let b1 = i1 + i2;
        let c1 = i1 - i2;
        let d1 = i0 - i3;
        tmp[i] = (a1 + b1) as i16;
        tmp[4 + i] = (c1 + d1) as i16;
        tmp[8 + i] = (a1 - b1) as i16;
        tmp[12 + i] = (d1 - c1) as i16;
    }
    let mut out = [0i16; 16];
    for i in 0..4 {
        let row = &tmp[4 * i..4 * i + 4];
        let a1 = i32::from(row[0]) + i32::from(row[3]);
        let b1 = i32::from(row[1]) + i32::from(row[2]);
        let c1 = i32::from(row[1]) - i32::from(row[2]);
        let d1 = i32::from(row[0]) - i32::from(row[3]);
        out[4 * i] = ((a1 + b1 + 3) >> 3) as i16;
        out[4 * i + 1] = ((c1 + d1 + 3) >> 3) as i16;
        out[4 * i + 2] = ((a1 - b1 + 3) >> 3) as i16;
        out[4 * i + 3] = ((d1 - c1 + 3) >> 3) as i16;
    }
    out
}

#[inline(always)]
fn mul_sin(x: i32) -> i32 {
    (x * SIN_PI8_SQRT2) >> 16
}

#[inline(always)]
fn mul_cos(x: i32) -> i32 {
    x + ((x * COS_PI8_SQRT2_MINUS1) >> 16)
}

/// Adds the inverse DCT of `coeffs` to the 4x4 block at `dst[at..]` (rows `stride` apart).
pub fn idct_add(coeffs: &[i16; 16], dst: &mut [u8], at: usize, stride: usize) {
    let mut tmp = [0i16; 16];
    for i in 0..4 {
        let (i0, i4, i8, i12) = (
            i32::from(coeffs[i]),
            i32::from(coeffs[4 + i]),
            i32::from(coeffs[8 + i]),
            i32::from(coeffs[12 + i]),
        );
        let a1 = i0 + i8;
        let b1 = i0 - i8;
        let c1 = mul_sin(i4) - mul_cos(i12);
        let d1 = mul_cos(i4) + mul_sin(i12);
        tmp[i] = (a1 + d1) as i16;
        tmp[12 + i] = (a1 - d1) as i16;
        tmp[4 + i] = (b1 + c1) as i16;
        tmp[8 + i] = (b1 - c1) as i16;
    }
    for i in 0..4 {
        let row = &tmp[4 * i..4 * i + 4];
        let (r0, r1, r2, r3) = (
            i32::from(row[0]),
            i32::from(row[1]),
            i32::from(row[2]),
            i32::from(row[3]),
        );
        let a1 = r0 + r2;
        let b1 = r0 - r2;
        let c1 = mul_sin(r1) - mul_cos(r3);
        let d1 = mul_cos(r1) + mul_sin(r3);
        let out = &mut dst[at + i * stride..at + i * stride + 4];
        for (px, residue) in out.iter_mut().zip([a1 + d1, b1 + c1, b1 - c1, a1 - d1]) {
            *px = (i32::from(*px) + ((residue + 4) >> 3)).clamp(0, 255) as u8;
        }
    }
}

/// Adds a DC-only inverse DCT (every pixel gets `(dc + 4) >> 3`), which equals
/// [`idct_add`] of a block whose other coefficients are zero.
pub fn idct_dc_add(dc: i16, dst: &mut [u8], at: usize, stride: usize) {
    let delta = (i32::from(dc) + 4) >> 3;
    for row in 0..4 {
        for px in &mut dst[at + row * stride..at + row * stride + 4] {
            *px = (i32::from(*px) + delta).clamp(0, 255) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dc_only_matches_the_full_transform() {
        for dc in [-2000i16, -37, -4, 0, 3, 4, 100, 2047] {
            let mut coeffs = [0i16; 16];
            coeffs[0] = dc;
            let mut a = [128u8; 4 * 5];
            let mut b = a;
            idct_add(&coeffs, &mut a, 1, 5);
            idct_dc_add(dc, &mut b, 1, 5);
            assert_eq!(a, b, "dc {dc}");
        }
    }

    #[test]
    fn wht_of_a_dc_spreads_it_evenly() {
        let mut y2 = [0i16; 16];
        y2[0] = 80;
        assert_eq!(inverse_wht(&y2), [10; 16]);
        y2[1] = 8;
        let out = inverse_wht(&y2);
        assert_eq!(out[0], 11);
        assert_eq!(out[1], 11);
        assert_eq!(out[2], 9);
        assert_eq!(out[3], 9);
    }

    #[test]
    fn transform_of_one_ac_coefficient() {
        // A lone first horizontal AC coefficient: a left-to-right ramp, symmetric.
        let mut coeffs = [0i16; 16];
        coeffs[1] = 64;
        let mut px = [128u8; 16];
        idct_add(&coeffs, &mut px, 0, 4);
        let row = &px[0..4];
        assert!(
            row[0] > row[1] && row[1] > row[2] && row[2] > row[3],
            "{row:?}"
        );
        assert_eq!(i32::from(row[0]) + i32::from(row[3]), 256);
        assert_eq!(&px[0..4], &px[12..16]);
    }
}
