//! Transform coefficients: run/level decoding with the three escape modes (clause
//! 6.3.8, Table B-19) and inverse quantisation, H.263 style or with matrices, including
//! saturation and mismatch control (clause 7.4.4).

use crate::bits::Bits;
use crate::error::{Error, Result};
use crate::tables::{ESCAPE, INTER_LMAX, INTRA_LMAX, tables};

fn corrupt() -> Error {
    Error::invalid("MPEG-4 coefficient data is corrupt")
}

#[inline]
fn unpack(sym: i32) -> (bool, usize, i32) {
    (sym >> 16 != 0, ((sym >> 8) & 0xff) as usize, sym & 0xff)
}

/// Reads the coefficients of one block into `qf` (raster order), from scan position
/// `start`, with the intra or inter table.
pub fn read(
    b: &mut Bits,
    intra: bool,
    start: usize,
    scan: &[u8; 64],
    qf: &mut [i32; 64],
) -> Result<()> {
    let t = tables();
    let vlc = if intra {
        &t.tcoef_intra
    } else {
        &t.tcoef_inter
    };
    let lmax = if intra { INTRA_LMAX } else { INTER_LMAX };
    let rmax = if intra { &t.intra_rmax } else { &t.inter_rmax };
    let mut i = start;
    loop {
        let sym = vlc.decode(b).ok_or_else(corrupt)?;
        let (last, run, level) = if sym != ESCAPE {
            let (last, run, level) = unpack(sym);
            (last, run, if b.bit() { -level } else { level })
        } else if !b.bit() {
            // Mode 1: level offset by the largest level of this run.
            let s = vlc.decode(b).ok_or_else(corrupt)?;
            if s == ESCAPE {
                return Err(corrupt());
            }
            let (last, run, level) = unpack(s);
            let level = level + i32::from(lmax[last as usize][run]);
            (last, run, if b.bit() { -level } else { level })
        } else if !b.bit() {
            // Mode 2: run offset by the largest run of this level, plus one.
            let s = vlc.decode(b).ok_or_else(corrupt)?;
            if s == ESCAPE {
                return Err(corrupt());
            }
            let (last, run, level) = unpack(s);
            let run = run + usize::from(rmax[last as usize][level as usize]) + 1;
            (last, run, if b.bit() { -level } else { level })
        } else {
            // Mode 3: fixed length.
            let last = b.bit();
            let run = b.read(6) as usize;
            if !b.bit() {
                return Err(corrupt());
            }
            let level = ((b.read(12) as i32) << 20) >> 20;
            if !b.bit() || level == 0 {
                return Err(corrupt());
            }
            (last, run, level)
        };
        i += run;
        if i > 63 {
            return Err(corrupt());
        }
        qf[scan[i] as usize] = level;
        i += 1;
        if last {
            return Ok(());
        }
        if b.overrun() {
            return Err(Error::invalid("MPEG-4 block data is cut short"));
        }
    }
}

/// How a VOP's coefficients are inverse-quantised.
#[derive(Clone, Copy)]
pub enum Quantiser<'a> {
    /// H.263 style: uniform steps of twice the quantiser.
    H263,
    /// MPEG style, weighted by the intra and non-intra matrices (raster order).
    Mpeg {
        /// Intra matrix.
        intra: &'a [u8; 64],
        /// Non-intra matrix.
        inter: &'a [u8; 64],
    },
}

impl Quantiser<'_> {
    /// Inverse-quantises the AC coefficients of an intra block (the DC is done by the
    /// caller with its DC scaler), or all coefficients of an inter block, in place.
    pub fn dequantise(&self, qf: &mut [i32; 64], quant: i32, intra: bool) {
        let from = usize::from(intra);
        match self {
            Quantiser::H263 => {
                let add = if quant & 1 == 1 { quant } else { quant - 1 };
                for v in &mut qf[from..] {
                    if *v != 0 {
                        let m = v.abs() * 2 * quant + add;
                        *v = if *v < 0 { -m } else { m }.clamp(-2048, 2047);
                    }
                }
            }
            Quantiser::Mpeg {
                intra: wi,
                inter: wn,
            } => {
                let mut sum = if intra { qf[0] } else { 0 };
                for i in from..64 {
                    let v = qf[i];
                    if v != 0 {
                        let f = if intra {
                            v * i32::from(wi[i]) * quant / 8
                        } else {
                            (2 * v + v.signum()) * i32::from(wn[i]) * quant / 16
                        };
                        qf[i] = f.clamp(-2048, 2047);
                        sum += qf[i];
                    }
                }
                if sum & 1 == 0 {
                    qf[63] ^= 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::ZIGZAG;

    #[test]
    fn h263_dequantisation() {
        let mut qf = [0i32; 64];
        qf[1] = 1;
        qf[2] = -2;
        Quantiser::H263.dequantise(&mut qf, 4, false);
        assert_eq!(&qf[..3], &[0, 4 * 3 - 1, -(4 * 5 - 1)]);
        let mut qf = [0i32; 64];
        qf[1] = 3;
        Quantiser::H263.dequantise(&mut qf, 5, true);
        assert_eq!(qf[1], 5 * 7);
    }

    #[test]
    fn mpeg_mismatch_control_makes_the_sum_odd() {
        let m = [16u8; 64];
        let q = Quantiser::Mpeg {
            intra: &m,
            inter: &m,
        };
        let mut qf = [0i32; 64];
        qf[5] = 1; // (2+1)*16*2/16 = 6: even sum, so coefficient 63 becomes 1.
        q.dequantise(&mut qf, 2, false);
        assert_eq!((qf[5], qf[63]), (6, 1));
    }

    #[test]
    fn escape_mode_3_reads_a_fixed_length_level() {
        // escape 0000011, '11', last 1, run 000010, marker, level -3 (12 bits), marker.
        let bits = "000001111100001011111111111011";
        let mut bytes = vec![0u8; bits.len().div_ceil(8)];
        for (i, c) in bits.bytes().enumerate() {
            if c == b'1' {
                bytes[i / 8] |= 0x80 >> (i % 8);
            }
        }
        let mut b = Bits::new(&bytes);
        let mut qf = [0i32; 64];
        read(&mut b, false, 0, &ZIGZAG, &mut qf).unwrap();
        assert_eq!(qf[ZIGZAG[2] as usize], -3);
        assert_eq!(b.position(), bits.len());
    }
}
