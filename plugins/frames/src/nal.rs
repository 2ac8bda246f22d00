//! NAL units in the two framings containers use: length-prefixed (MP4 and Matroska, the
//! prefix size given by `avcC`/`hvcC`) and Annex-B start codes (MPEG-TS, raw streams).
//!
//! Both H.264 and HEVC use them, so the splitting lives here once; each codec module
//! reads the NAL header bytes it cares about.

use crate::media::{MediaError, Result};

/// How a sample's NAL units are delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Each NAL unit follows a big-endian length of this many bytes (1, 2 or 4).
    Length(usize),
    /// NAL units follow `00 00 01` or `00 00 00 01` start codes.
    AnnexB,
}

/// Splits `sample` into NAL units (header included, start code or length excluded).
pub fn split(sample: &[u8], framing: Framing) -> Result<Vec<&[u8]>> {
    match framing {
        Framing::Length(n) => split_length(sample, n),
        Framing::AnnexB => Ok(split_annex_b(sample)),
    }
}

fn split_length(sample: &[u8], n: usize) -> Result<Vec<&[u8]>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < sample.len() {
        let head = sample
            .get(pos..pos + n)
            .ok_or_else(|| MediaError::invalid("a sample ends inside a NAL unit length"))?;
        let len = head
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        let nal = sample
            .get(pos + n..pos + n + len)
            .ok_or_else(|| MediaError::invalid("a NAL unit runs past the end of its sample"))?;
        if !nal.is_empty() {
            out.push(nal);
        }
        pos += n + len;
    }
    Ok(out)
}

/// Splits an Annex-B byte stream at its start codes; trailing zero bytes of a NAL unit
/// (the `00` of a four-byte start code, `trailing_zero_8bits`) are dropped.
pub fn split_annex_b(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = None;
    let mut i = 0;
    while i + 2 < data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            if let Some(s) = start {
                push_trimmed(&mut out, &data[s..i]);
            }
            i += 3;
            start = Some(i);
        } else if data[i + 2] > 1 {
            i += 3;
        } else {
            i += 1;
        }
    }
    if let Some(s) = start {
        push_trimmed(&mut out, &data[s..]);
    }
    out
}

fn push_trimmed<'a>(out: &mut Vec<&'a [u8]>, nal: &'a [u8]) {
    let end = nal.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    if end > 0 {
        out.push(&nal[..end]);
    }
}

/// Removes emulation-prevention bytes (`00 00 03` -> `00 00`) from a NAL payload.
pub fn unescape(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// Reads bits MSB first from an unescaped payload (for the few SPS fields read here).
pub struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bits<'a> {
    /// Reads `data` from its first bit.
    pub fn new(data: &'a [u8]) -> Self {
        Bits { data, pos: 0 }
    }
    /// One bit; `None` past the end.
    pub fn bit(&mut self) -> Option<u32> {
        let byte = *self.data.get(self.pos / 8)?;
        let b = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Some(u32::from(b))
    }
    /// `n` (at most 32) bits.
    pub fn bits(&mut self, n: u32) -> Option<u32> {
        (0..n).try_fold(0u32, |acc, _| Some((acc << 1) | self.bit()?))
    }
    /// Skips `n` bits.
    pub fn skip(&mut self, n: usize) -> Option<()> {
        self.pos += n;
        (self.pos <= self.data.len() * 8).then_some(())
    }
    /// An unsigned Exp-Golomb code.
    pub fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        Some((1u32 << zeros) - 1 + self.bits(zeros)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_both_framings() {
        let annex_b = [0, 0, 0, 1, 0x40, 1, 0, 0, 1, 0x42, 2, 3, 0, 0, 0, 1, 0x26];
        assert_eq!(
            split(&annex_b, Framing::AnnexB).unwrap(),
            vec![&[0x40, 1][..], &[0x42, 2, 3][..], &[0x26][..]]
        );
        let prefixed = [0, 2, 0x40, 1, 0, 1, 0x26];
        assert_eq!(
            split(&prefixed, Framing::Length(2)).unwrap(),
            vec![&[0x40, 1][..], &[0x26][..]]
        );
        assert!(split(&[0, 9, 1], Framing::Length(2)).is_err());
        assert!(split(&[0, 0, 0], Framing::Length(4)).is_err());
    }

    #[test]
    fn exp_golomb_and_unescape() {
        assert_eq!(unescape(&[0, 0, 3, 1, 0, 0, 3]), vec![0, 0, 1, 0, 0]);
        // 1 -> 0, 010 -> 1, 011 -> 2, 00100 -> 3
        let mut b = Bits::new(&[0b1010_0110, 0b0100_0000]);
        assert_eq!(
            (b.ue(), b.ue(), b.ue(), b.ue()),
            (Some(0), Some(1), Some(2), Some(3))
        );
    }
}
