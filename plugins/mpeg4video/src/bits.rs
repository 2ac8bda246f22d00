//! A most-significant-bit-first reader over a byte slice.
//!
//! Reads past the end give zero bits instead of failing: the decoder checks
//! [`Bits::overrun`] at macroblock boundaries, which keeps the hot path free of error
//! handling while still refusing truncated data.

/// Bit reader over a VOP's bytes.
#[derive(Clone)]
pub struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bits<'a> {
    /// Reads `data` from its first bit.
    pub fn new(data: &'a [u8]) -> Self {
        Bits { data, pos: 0 }
    }

    /// The next `n` (at most 32) bits without consuming them.
    #[inline]
    pub fn peek(&self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        let byte = self.pos >> 3;
        let mut word = [0u8; 8];
        if byte + 8 <= self.data.len() {
            word.copy_from_slice(&self.data[byte..byte + 8]);
        } else if byte < self.data.len() {
            let tail = &self.data[byte..];
            word[..tail.len()].copy_from_slice(tail);
        }
        let w = u64::from_be_bytes(word) << (self.pos & 7);
        (w >> (64 - n)) as u32
    }

    /// Consumes `n` bits.
    #[inline]
    pub fn skip(&mut self, n: u32) {
        self.pos += n as usize;
    }

    /// Reads `n` (at most 32) bits.
    #[inline]
    pub fn read(&mut self, n: u32) -> u32 {
        let v = self.peek(n);
        self.skip(n);
        v
    }

    /// Reads one bit.
    #[inline]
    pub fn bit(&mut self) -> bool {
        self.read(1) != 0
    }

    /// Bits consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Moves to an absolute bit position.
    pub fn seek(&mut self, pos: usize) {
        self.pos = pos;
    }

    /// Total bits in the data.
    pub fn len_bits(&self) -> usize {
        self.data.len() * 8
    }

    /// Bits left (negative once reads went past the end).
    pub fn left(&self) -> isize {
        self.len_bits() as isize - self.pos as isize
    }

    /// Whether reads went past the end of the data.
    pub fn overrun(&self) -> bool {
        self.pos > self.len_bits()
    }

    /// Skips to the next byte boundary (no-op when aligned).
    pub fn align(&mut self) {
        self.pos = (self.pos + 7) & !7;
    }

    /// Bits to the next byte boundary (0 when aligned).
    pub fn to_align(&self) -> u32 {
        ((8 - (self.pos & 7)) & 7) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_msb_first_and_pads_with_zeros() {
        let mut b = Bits::new(&[0b1010_0000, 0xff]);
        assert_eq!(b.read(3), 0b101);
        assert_eq!(b.peek(8), 0b0000_0111);
        b.skip(5);
        assert_eq!(b.read(8), 0xff);
        assert!(!b.overrun());
        assert_eq!(b.read(4), 0);
        assert!(b.overrun());
    }
}
