//! The code tables and constants of ISO/IEC 14496-2 (Annex B and clause 7), as lists the
//! decoder turns into lookup tables once ([`tables`]).
//!
//! Transform-coefficient tables are given as code lists in the standard's order
//! (`last`, then `run`, then `level` ascending) together with the largest level for each
//! run (`LMAX`), from which the `(last, run, level)` of every code follows; the same
//! maxima drive escape modes 1 and 2.

use crate::vlc::Vlc;
use std::sync::OnceLock;

/// `(code, length)` of the intra-VOP `mcbpc`: symbols 0-3 intra with cbpc 0-3, 4-7
/// intra+dquant, then stuffing.
const MCBPC_INTRA: [(u32, u8); 9] = [
    (1, 1),
    (1, 3),
    (2, 3),
    (3, 3),
    (1, 4),
    (1, 6),
    (2, 6),
    (3, 6),
    (1, 9),
];

/// `(code, length)` of the P-VOP `mcbpc`, by macroblock type (inter, inter+q, inter4v,
/// intra, intra+q) then cbpc; symbol 20 is stuffing.
const MCBPC_INTER: [(u32, u8); 21] = [
    (1, 1),
    (3, 4),
    (2, 4),
    (5, 6),
    (3, 3),
    (7, 7),
    (6, 7),
    (5, 9),
    (2, 3),
    (5, 7),
    (4, 7),
    (5, 8),
    (3, 5),
    (4, 8),
    (3, 8),
    (3, 7),
    (4, 6),
    (4, 9),
    (3, 9),
    (2, 9),
    (1, 9),
];

/// `(code, length)` of `cbpy` for 0..=15 (intra meaning; inter blocks invert it).
const CBPY: [(u32, u8); 16] = [
    (3, 4),
    (5, 5),
    (4, 5),
    (9, 4),
    (3, 5),
    (7, 4),
    (2, 6),
    (11, 4),
    (2, 5),
    (3, 6),
    (5, 4),
    (10, 4),
    (4, 4),
    (8, 4),
    (6, 4),
    (3, 2),
];

/// `(code, length)` of the motion vector difference magnitude 0..=32 (a sign bit follows
/// every non-zero one).
const MVD: [(u32, u8); 33] = [
    (1, 1),
    (1, 2),
    (1, 3),
    (1, 4),
    (3, 6),
    (5, 7),
    (4, 7),
    (3, 7),
    (11, 9),
    (10, 9),
    (9, 9),
    (17, 10),
    (16, 10),
    (15, 10),
    (14, 10),
    (13, 10),
    (12, 10),
    (11, 10),
    (10, 10),
    (9, 10),
    (8, 10),
    (7, 10),
    (6, 10),
    (5, 10),
    (4, 10),
    (7, 11),
    (6, 11),
    (5, 11),
    (4, 11),
    (3, 11),
    (2, 11),
    (3, 12),
    (2, 12),
];

/// `(code, length)` of the intra DC size for luminance, sizes 0..=12.
const DC_SIZE_LUMA: [(u32, u8); 13] = [
    (3, 3),
    (3, 2),
    (2, 2),
    (2, 3),
    (1, 3),
    (1, 4),
    (1, 5),
    (1, 6),
    (1, 7),
    (1, 8),
    (1, 9),
    (1, 10),
    (1, 11),
];

/// `(code, length)` of the intra DC size for chrominance, sizes 0..=12.
const DC_SIZE_CHROMA: [(u32, u8); 13] = [
    (3, 2),
    (2, 2),
    (1, 2),
    (1, 3),
    (1, 4),
    (1, 5),
    (1, 6),
    (1, 7),
    (1, 8),
    (1, 9),
    (1, 10),
    (1, 11),
    (1, 12),
];

/// `(code, length)` of the B-VOP macroblock type: direct, interpolate, backward, forward.
const MB_TYPE_B: [(u32, u8); 4] = [(1, 1), (1, 2), (1, 3), (1, 4)];

/// Largest level per run of the intra coefficient table, for `last` 0 and 1.
pub const INTRA_LMAX: [&[u8]; 2] = [
    &[27, 10, 5, 4, 3, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1],
    &[
        8, 3, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ],
];

/// Largest level per run of the inter coefficient table, for `last` 0 and 1.
pub const INTER_LMAX: [&[u8]; 2] = [
    &[
        12, 6, 4, 3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ],
    &[
        3, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ],
];

/// Codes of the intra coefficient table in the standard's order (see [`INTRA_LMAX`]).
const TCOEF_INTRA: [(u32, u8); 102] = [
    (0x2, 2),
    (0x6, 3),
    (0xf, 4),
    (0xd, 5),
    (0xc, 5),
    (0x15, 6),
    (0x13, 6),
    (0x12, 6),
    (0x17, 7),
    (0x1f, 8),
    (0x1e, 8),
    (0x1d, 8),
    (0x25, 9),
    (0x24, 9),
    (0x23, 9),
    (0x21, 9),
    (0x21, 10),
    (0x20, 10),
    (0xf, 10),
    (0xe, 10),
    (0x7, 11),
    (0x6, 11),
    (0x20, 11),
    (0x21, 11),
    (0x50, 12),
    (0x51, 12),
    (0x52, 12),
    (0xe, 4),
    (0x14, 6),
    (0x16, 7),
    (0x1c, 8),
    (0x20, 9),
    (0x1f, 9),
    (0xd, 10),
    (0x22, 11),
    (0x53, 12),
    (0x55, 12),
    (0xb, 5),
    (0x15, 7),
    (0x1e, 9),
    (0xc, 10),
    (0x56, 12),
    (0x11, 6),
    (0x1b, 8),
    (0x1d, 9),
    (0xb, 10),
    (0x10, 6),
    (0x22, 9),
    (0xa, 10),
    (0xd, 6),
    (0x1c, 9),
    (0x8, 10),
    (0x12, 7),
    (0x1b, 9),
    (0x54, 12),
    (0x14, 7),
    (0x1a, 9),
    (0x57, 12),
    (0x19, 8),
    (0x9, 10),
    (0x18, 8),
    (0x23, 11),
    (0x17, 8),
    (0x19, 9),
    (0x18, 9),
    (0x7, 10),
    (0x58, 12),
    (0x7, 4),
    (0xc, 6),
    (0x16, 8),
    (0x17, 9),
    (0x6, 10),
    (0x5, 11),
    (0x4, 11),
    (0x59, 12),
    (0xf, 6),
    (0x16, 9),
    (0x5, 10),
    (0xe, 6),
    (0x4, 10),
    (0x11, 7),
    (0x24, 11),
    (0x10, 7),
    (0x25, 11),
    (0x13, 7),
    (0x5a, 12),
    (0x15, 8),
    (0x5b, 12),
    (0x14, 8),
    (0x13, 8),
    (0x1a, 8),
    (0x15, 9),
    (0x14, 9),
    (0x13, 9),
    (0x12, 9),
    (0x11, 9),
    (0x26, 11),
    (0x27, 11),
    (0x5c, 12),
    (0x5d, 12),
    (0x5e, 12),
    (0x5f, 12),
];

/// Codes of the inter coefficient table in the standard's order (see [`INTER_LMAX`]).
const TCOEF_INTER: [(u32, u8); 102] = [
    (0x2, 2),
    (0xf, 4),
    (0x15, 6),
    (0x17, 7),
    (0x1f, 8),
    (0x25, 9),
    (0x24, 9),
    (0x21, 10),
    (0x20, 10),
    (0x7, 11),
    (0x6, 11),
    (0x20, 11),
    (0x6, 3),
    (0x14, 6),
    (0x1e, 8),
    (0xf, 10),
    (0x21, 11),
    (0x50, 12),
    (0xe, 4),
    (0x1d, 8),
    (0xe, 10),
    (0x51, 12),
    (0xd, 5),
    (0x23, 9),
    (0xd, 10),
    (0xc, 5),
    (0x22, 9),
    (0x52, 12),
    (0xb, 5),
    (0xc, 10),
    (0x53, 12),
    (0x13, 6),
    (0xb, 10),
    (0x54, 12),
    (0x12, 6),
    (0xa, 10),
    (0x11, 6),
    (0x9, 10),
    (0x10, 6),
    (0x8, 10),
    (0x16, 7),
    (0x55, 12),
    (0x15, 7),
    (0x14, 7),
    (0x1c, 8),
    (0x1b, 8),
    (0x21, 9),
    (0x20, 9),
    (0x1f, 9),
    (0x1e, 9),
    (0x1d, 9),
    (0x1c, 9),
    (0x1b, 9),
    (0x1a, 9),
    (0x22, 11),
    (0x23, 11),
    (0x56, 12),
    (0x57, 12),
    (0x7, 4),
    (0x19, 9),
    (0x5, 11),
    (0xf, 6),
    (0x4, 11),
    (0xe, 6),
    (0xd, 6),
    (0xc, 6),
    (0x13, 7),
    (0x12, 7),
    (0x11, 7),
    (0x10, 7),
    (0x1a, 8),
    (0x19, 8),
    (0x18, 8),
    (0x17, 8),
    (0x16, 8),
    (0x15, 8),
    (0x14, 8),
    (0x13, 8),
    (0x18, 9),
    (0x17, 9),
    (0x16, 9),
    (0x15, 9),
    (0x14, 9),
    (0x13, 9),
    (0x12, 9),
    (0x11, 9),
    (0x7, 10),
    (0x6, 10),
    (0x5, 10),
    (0x4, 10),
    (0x24, 11),
    (0x25, 11),
    (0x26, 11),
    (0x27, 11),
    (0x58, 12),
    (0x59, 12),
    (0x5a, 12),
    (0x5b, 12),
    (0x5c, 12),
    (0x5d, 12),
    (0x5e, 12),
    (0x5f, 12),
];

/// The escape code of both coefficient tables.
const TCOEF_ESCAPE: (u32, u8) = (0x3, 7);

/// Symbol of the escape code in the coefficient tables.
pub const ESCAPE: i32 = -1;

/// Packs a coefficient symbol.
pub const fn coef(last: bool, run: u32, level: u32) -> i32 {
    ((last as i32) << 16) | ((run as i32) << 8) | level as i32
}

/// Zigzag scan: coefficient index for each scan position.
pub const ZIGZAG: [u8; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// Alternate-horizontal scan (intra blocks predicted from above).
pub const ALT_HORIZONTAL: [u8; 64] = [
    0, 1, 2, 3, 8, 9, 16, 17, 10, 11, 4, 5, 6, 7, 15, 14, 13, 12, 19, 18, 24, 25, 32, 33, 26, 27,
    20, 21, 22, 23, 28, 29, 30, 31, 34, 35, 40, 41, 48, 49, 42, 43, 36, 37, 38, 39, 44, 45, 46, 47,
    50, 51, 56, 57, 58, 59, 52, 53, 54, 55, 60, 61, 62, 63,
];

/// Alternate-vertical scan (intra blocks predicted from the left).
pub const ALT_VERTICAL: [u8; 64] = [
    0, 8, 16, 24, 1, 9, 2, 10, 17, 25, 32, 40, 48, 56, 57, 49, 41, 33, 26, 18, 3, 11, 4, 12, 19,
    27, 34, 42, 50, 58, 35, 43, 51, 59, 20, 28, 5, 13, 6, 14, 21, 29, 36, 44, 52, 60, 37, 45, 53,
    61, 22, 30, 7, 15, 23, 31, 38, 46, 54, 62, 39, 47, 55, 63,
];

/// Default intra quantiser matrix, in raster order.
pub const DEFAULT_INTRA_MATRIX: [u8; 64] = [
    8, 17, 18, 19, 21, 23, 25, 27, 17, 18, 19, 21, 23, 25, 27, 28, 20, 21, 22, 23, 24, 26, 28, 30,
    21, 22, 23, 24, 26, 28, 30, 32, 22, 23, 24, 26, 28, 30, 32, 35, 23, 24, 26, 28, 30, 32, 35, 38,
    25, 26, 28, 30, 32, 35, 38, 41, 27, 28, 30, 32, 35, 38, 41, 45,
];

/// Default non-intra quantiser matrix, in raster order.
pub const DEFAULT_INTER_MATRIX: [u8; 64] = [
    16, 17, 18, 19, 20, 21, 22, 23, 17, 18, 19, 20, 21, 22, 23, 24, 18, 19, 20, 21, 22, 23, 24, 25,
    19, 20, 21, 22, 23, 24, 26, 27, 20, 21, 22, 23, 25, 26, 27, 28, 21, 22, 23, 24, 26, 27, 28, 30,
    22, 23, 24, 26, 27, 28, 30, 31, 23, 24, 25, 27, 28, 30, 31, 33,
];

/// The DC scaler for a quantiser (clause 7.4.3.2): luminance when `luma`.
pub fn dc_scaler(quant: i32, luma: bool) -> i32 {
    if luma {
        match quant {
            ..=4 => 8,
            5..=8 => 2 * quant,
            9..=24 => quant + 8,
            _ => 2 * quant - 16,
        }
    } else {
        match quant {
            ..=4 => 8,
            5..=24 => (quant + 13) / 2,
            _ => quant - 6,
        }
    }
}

/// The decoding tables, built once.
pub struct Tables {
    /// I-VOP `mcbpc`.
    pub mcbpc_intra: Vlc,
    /// P-VOP `mcbpc`.
    pub mcbpc_inter: Vlc,
    /// `cbpy`.
    pub cbpy: Vlc,
    /// Motion vector difference magnitude.
    pub mvd: Vlc,
    /// DC size, luminance.
    pub dc_luma: Vlc,
    /// DC size, chrominance.
    pub dc_chroma: Vlc,
    /// B-VOP macroblock type.
    pub mb_type_b: Vlc,
    /// Intra coefficients.
    pub tcoef_intra: Vlc,
    /// Inter coefficients.
    pub tcoef_inter: Vlc,
    /// Largest run for each level, intra, `[last][level]` (index 0 unused).
    pub intra_rmax: [[u8; 28]; 2],
    /// Largest run for each level, inter.
    pub inter_rmax: [[u8; 28]; 2],
}

fn numbered(codes: &[(u32, u8)]) -> Vec<(u32, u8, i32)> {
    codes
        .iter()
        .enumerate()
        .map(|(i, &(c, l))| (c, l, i as i32))
        .collect()
}

/// Pairs the coefficient codes with `(last, run, level)` from the maxima, plus escape.
fn coefficients(codes: &[(u32, u8)], lmax: [&[u8]; 2]) -> Vec<(u32, u8, i32)> {
    let mut out = Vec::with_capacity(codes.len() + 1);
    let mut it = codes.iter();
    for (last, maxima) in lmax.iter().enumerate() {
        for (run, &max) in maxima.iter().enumerate() {
            for level in 1..=u32::from(max) {
                let &(c, l) = it.next().expect("maxima match the code list");
                out.push((c, l, coef(last == 1, run as u32, level)));
            }
        }
    }
    assert!(it.next().is_none(), "maxima match the code list");
    out.push((TCOEF_ESCAPE.0, TCOEF_ESCAPE.1, ESCAPE));
    out
}

fn rmax(lmax: [&[u8]; 2]) -> [[u8; 28]; 2] {
    let mut out = [[0u8; 28]; 2];
    for (last, maxima) in lmax.iter().enumerate() {
        for (run, &max) in maxima.iter().enumerate() {
            for slot in &mut out[last][1..=max as usize] {
                *slot = (*slot).max(run as u8);
            }
        }
    }
    out
}

/// The shared decoding tables.
pub fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| Tables {
        mcbpc_intra: Vlc::new(&numbered(&MCBPC_INTRA)),
        mcbpc_inter: Vlc::new(&numbered(&MCBPC_INTER)),
        cbpy: Vlc::new(&numbered(&CBPY)),
        mvd: Vlc::new(&numbered(&MVD)),
        dc_luma: Vlc::new(&numbered(&DC_SIZE_LUMA)),
        dc_chroma: Vlc::new(&numbered(&DC_SIZE_CHROMA)),
        mb_type_b: Vlc::new(&numbered(&MB_TYPE_B)),
        tcoef_intra: Vlc::new(&coefficients(&TCOEF_INTRA, INTRA_LMAX)),
        tcoef_inter: Vlc::new(&coefficients(&TCOEF_INTER, INTER_LMAX)),
        intra_rmax: rmax(INTRA_LMAX),
        inter_rmax: rmax(INTER_LMAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No code is a prefix of another (a prefix code), in every table.
    #[test]
    fn tables_are_prefix_free() {
        let check = |codes: &[(u32, u8, i32)]| {
            for (i, a) in codes.iter().enumerate() {
                for b in &codes[i + 1..] {
                    let (short, long) = if a.1 <= b.1 { (a, b) } else { (b, a) };
                    assert_ne!(
                        long.0 >> (long.1 - short.1),
                        short.0,
                        "{short:?} is a prefix of {long:?}"
                    );
                }
            }
        };
        check(&numbered(&MCBPC_INTRA));
        check(&numbered(&MCBPC_INTER));
        check(&numbered(&CBPY));
        check(&numbered(&MVD));
        check(&numbered(&DC_SIZE_LUMA));
        check(&numbered(&DC_SIZE_CHROMA));
        check(&coefficients(&TCOEF_INTRA, INTRA_LMAX));
        check(&coefficients(&TCOEF_INTER, INTER_LMAX));
    }

    #[test]
    fn scans_are_permutations() {
        for scan in [ZIGZAG, ALT_HORIZONTAL, ALT_VERTICAL] {
            let mut seen = [false; 64];
            for &i in &scan {
                seen[i as usize] = true;
            }
            assert!(seen.iter().all(|&s| s));
        }
    }

    #[test]
    fn dc_scaler_matches_the_standard() {
        assert_eq!(dc_scaler(1, true), 8);
        assert_eq!(dc_scaler(6, true), 12);
        assert_eq!(dc_scaler(10, true), 18);
        assert_eq!(dc_scaler(31, true), 46);
        assert_eq!(dc_scaler(10, false), 11);
        assert_eq!(dc_scaler(31, false), 25);
        assert_eq!(tables().intra_rmax[0][1], 14);
        assert_eq!(tables().inter_rmax[1][1], 40);
    }
}
