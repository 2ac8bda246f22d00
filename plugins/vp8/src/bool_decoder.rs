//! The boolean entropy decoder every VP8 partition is coded with (RFC 6386 section 7).
//!
//! The arithmetic is the RFC's: `split = 1 + (((range - 1) * probability) >> 8)`, a one
//! when the value is at or above `split`, then a shift until `range` is 128 or more. The
//! value is kept in a 64-bit window so that bytes are loaded several at a time rather than
//! one per eight shifts. Past the end of its data the decoder reads zeros, as the RFC's
//! reference decoder does; [`BoolDecoder::overran`] tells a caller that it used many more
//! bits than the partition holds (the data is cut or corrupt).

/// Bits a partition may be read past its end before it counts as overrun. A stream from a
/// conforming encoder ends with padding and needs none; the slack keeps odd but valid
/// streams decoding.
const OVERRUN_SLACK_BITS: usize = 64;

/// Reads bools, literals and tree-coded values from one partition.
pub struct BoolDecoder<'a> {
    data: &'a [u8],
    /// Next byte of `data` to load.
    pos: usize,
    /// Bytes loaded past the end of `data` (as zeros).
    zeros: usize,
    /// The window: its top 8 bits are compared with `split`, the bits below are lookahead.
    value: u64,
    /// Lookahead bits in `value` below its top 8 (negative: the top 8 are not all loaded).
    count: i32,
    range: u32,
}

impl<'a> BoolDecoder<'a> {
    /// Starts decoding `data`.
    pub fn new(data: &'a [u8]) -> Self {
        let mut d = BoolDecoder {
            data,
            pos: 0,
            zeros: 0,
            value: 0,
            count: -8,
            range: 255,
        };
        d.fill();
        d
    }

    /// Loads bytes until the window is full.
    #[inline(never)]
    fn fill(&mut self) {
        // Where the next byte goes: just below the loaded bits.
        let shift = 48 - self.count;
        let bytes = (shift / 8 + 1) as usize;
        if self.pos + 8 <= self.data.len() {
            let mut word = [0u8; 8];
            word.copy_from_slice(&self.data[self.pos..self.pos + 8]);
            let word = u64::from_be_bytes(word);
            self.value |= (word >> (64 - 8 * bytes)) << (shift + 8 - 8 * bytes as i32);
            self.pos += bytes;
            self.count += 8 * bytes as i32;
            return;
        }
        let mut shift = shift;
        while shift >= 0 {
            let byte = match self.data.get(self.pos) {
                Some(&b) => {
                    self.pos += 1;
                    b
                }
                None => {
                    self.zeros += 1;
                    0
                }
            };
            self.value |= u64::from(byte) << shift;
            self.count += 8;
            shift -= 8;
        }
    }

    /// Reads one bool that is zero with probability `probability / 256`.
    #[inline(always)]
    pub fn read(&mut self, probability: u8) -> bool {
        let split = 1 + (((self.range - 1) * u32::from(probability)) >> 8);
        if self.count < 0 {
            self.fill();
        }
        let big_split = u64::from(split) << 56;
        let bit = if self.value >= big_split {
            self.range -= split;
            self.value -= big_split;
            true
        } else {
            self.range = split;
            false
        };
        let shift = self.range.leading_zeros() - 24;
        self.range <<= shift;
        self.value <<= shift;
        self.count -= shift as i32;
        bit
    }

    /// Reads one bool of even odds.
    #[inline]
    pub fn read_flag(&mut self) -> bool {
        self.read(128)
    }

    /// Reads an unsigned `bits`-bit literal, most significant bit first.
    pub fn read_literal(&mut self, bits: u32) -> u32 {
        (0..bits).fold(0, |v, _| (v << 1) | u32::from(self.read_flag()))
    }

    /// Reads a `bits`-bit magnitude followed by a sign bit.
    pub fn read_signed(&mut self, bits: u32) -> i32 {
        let magnitude = self.read_literal(bits) as i32;
        if self.read_flag() {
            -magnitude
        } else {
            magnitude
        }
    }

    /// Reads a flag and, when it is set, a signed `bits`-bit value; else zero.
    pub fn read_optional_signed(&mut self, bits: u32) -> i32 {
        if self.read_flag() {
            self.read_signed(bits)
        } else {
            0
        }
    }

    /// Reads a tree-coded value: node `i` is decided with `probs[i / 2]`.
    #[inline]
    pub fn read_tree(&mut self, tree: &[i8], probs: &[u8]) -> u8 {
        let mut i = 0usize;
        loop {
            let next = tree[i + usize::from(self.read(probs[i >> 1]))];
            if next <= 0 {
                return (-next) as u8;
            }
            i = next as usize;
        }
    }

    /// Whether decoding has used clearly more bits than the partition holds.
    pub fn overran(&self) -> bool {
        // Bits loaded, less those still ahead in the window (its top 8 are in use).
        let loaded = (self.pos + self.zeros) * 8;
        let used = loaded.saturating_sub((self.count + 8).max(0) as usize);
        used > self.data.len() * 8 + OVERRUN_SLACK_BITS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RFC's boolean encoder (section 7.3), to check the decoder against.
    struct Encoder {
        out: Vec<u8>,
        range: u32,
        bottom: u32,
        bit_count: i32,
    }

    impl Encoder {
        fn new() -> Self {
            Encoder {
                out: Vec::new(),
                range: 255,
                bottom: 0,
                bit_count: 24,
            }
        }

        fn add_one_to_output(&mut self) {
            let mut i = self.out.len();
            while i > 0 {
                i -= 1;
                if self.out[i] == 255 {
                    self.out[i] = 0;
                } else {
                    self.out[i] += 1;
                    break;
                }
            }
        }

        fn write(&mut self, probability: u8, bit: bool) {
            let split = 1 + (((self.range - 1) * u32::from(probability)) >> 8);
            if bit {
                self.bottom = self.bottom.wrapping_add(split);
                self.range -= split;
            } else {
                self.range = split;
            }
            while self.range < 128 {
                self.range <<= 1;
                if self.bottom & (1 << 31) != 0 {
                    self.add_one_to_output();
                }
                self.bottom <<= 1;
                self.bit_count -= 1;
                if self.bit_count == 0 {
                    self.out.push((self.bottom >> 24) as u8);
                    self.bottom &= (1 << 24) - 1;
                    self.bit_count = 8;
                }
            }
        }

        fn finish(mut self) -> Vec<u8> {
            for _ in 0..32 {
                self.write(128, false);
            }
            self.out
        }
    }

    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn decodes_what_the_rfc_encoder_wrote() {
        let mut rng = 0x1234_5678_9abc_def1u64;
        let symbols: Vec<(u8, bool)> = (0..20_000)
            .map(|_| {
                let p = (next(&mut rng) % 255 + 1) as u8;
                let bit = (next(&mut rng) % 256) as u8 >= p;
                (p, bit)
            })
            .collect();
        let mut e = Encoder::new();
        for &(p, b) in &symbols {
            e.write(p, b);
        }
        let data = e.finish();
        let mut d = BoolDecoder::new(&data);
        for (i, &(p, b)) in symbols.iter().enumerate() {
            assert_eq!(d.read(p), b, "symbol {i}");
        }
        assert!(!d.overran());
    }

    #[test]
    fn literals_and_trees() {
        let mut e = Encoder::new();
        for bit in [true, false, true, true, true, false, true] {
            e.write(128, bit);
        }
        // SEGMENT_TREE value 2: "1" with probs[0], then "0" with probs[2].
        e.write(10, true);
        e.write(200, false);
        let data = e.finish();
        let mut d = BoolDecoder::new(&data);
        assert_eq!(d.read_literal(4), 0b1011);
        assert_eq!(d.read_signed(2), -2);
        assert_eq!(d.read_tree(&crate::tables::SEGMENT_TREE, &[10, 99, 200]), 2);
    }

    #[test]
    fn reading_far_past_the_end_is_reported() {
        let data = [0x55u8; 4];
        let mut d = BoolDecoder::new(&data);
        for _ in 0..32 {
            d.read_flag();
        }
        assert!(!d.overran());
        for _ in 0..200 {
            d.read_flag();
        }
        assert!(d.overran());
        let mut empty = BoolDecoder::new(&[]);
        assert!(!empty.read(1) || empty.read(255));
    }
}
