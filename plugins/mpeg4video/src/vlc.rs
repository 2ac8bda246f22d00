//! Table-driven variable-length-code decoding.
//!
//! A code list becomes a two-level lookup table: the first `ROOT_BITS` bits index the
//! root; longer codes continue in a sub-table sized by the longest code under that
//! prefix. One peek and at most two lookups per symbol, whatever the code lengths.

use crate::bits::Bits;

const ROOT_BITS: u32 = 10;

#[derive(Clone, Copy, Default)]
struct Entry {
    /// The symbol (leaf) or the sub-table's offset.
    value: i32,
    /// `> 0`: leaf, code length; `< 0`: sub-table of `-len` bits; `0`: no such code.
    len: i8,
}

/// A decoding table for one prefix code.
pub struct Vlc {
    root: u32,
    entries: Vec<Entry>,
}

impl Vlc {
    /// Builds the table for `codes`: `(code, length in bits, symbol)`.
    ///
    /// # Panics
    /// On a code longer than 32 bits (the tables are constants, so a test catches it).
    pub fn new(codes: &[(u32, u8, i32)]) -> Vlc {
        let max = codes.iter().map(|c| u32::from(c.1)).max().unwrap_or(1);
        assert!(max <= 32, "code longer than 32 bits");
        let root = max.min(ROOT_BITS);
        let mut entries = vec![Entry::default(); 1 << root];
        // Sub-tables: for each root prefix of a long code, the longest code under it.
        let mut sub_bits = vec![0u32; 1 << root];
        for &(code, len, _) in codes {
            let len = u32::from(len);
            if len > root {
                let prefix = (code >> (len - root)) as usize;
                sub_bits[prefix] = sub_bits[prefix].max(len - root);
            }
        }
        for (prefix, &bits) in sub_bits.iter().enumerate() {
            if bits > 0 {
                let offset = entries.len();
                entries.resize(offset + (1 << bits), Entry::default());
                entries[prefix] = Entry {
                    value: offset as i32,
                    len: -(bits as i8),
                };
            }
        }
        for &(code, len, value) in codes {
            let len = u32::from(len);
            if len <= root {
                let first = (code << (root - len)) as usize;
                for e in &mut entries[first..first + (1 << (root - len))] {
                    *e = Entry {
                        value,
                        len: len as i8,
                    };
                }
            } else {
                let prefix = (code >> (len - root)) as usize;
                let bits = sub_bits[prefix];
                let offset = entries[prefix].value as usize;
                let rest = len - root;
                let low = code & ((1 << rest) - 1);
                let first = offset + ((low << (bits - rest)) as usize);
                for e in &mut entries[first..first + (1 << (bits - rest))] {
                    *e = Entry {
                        value,
                        len: rest as i8,
                    };
                }
            }
        }
        Vlc { root, entries }
    }

    /// Decodes one symbol, or `None` when the bits match no code.
    #[inline]
    pub fn decode(&self, b: &mut Bits) -> Option<i32> {
        let e = self.entries[b.peek(self.root) as usize];
        if e.len > 0 {
            b.skip(e.len as u32);
            return Some(e.value);
        }
        if e.len == 0 {
            return None;
        }
        let bits = (-e.len) as u32;
        let mut ahead = b.clone();
        ahead.skip(self.root);
        let s = self.entries[e.value as usize + ahead.peek(bits) as usize];
        if s.len > 0 {
            b.skip(self.root + s.len as u32);
            Some(s.value)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_codes() {
        // 1 -> 7, 01 -> 8, 000000000001 (12 bits) -> 9, 000000000000 1 (13 bits) -> 10
        let v = Vlc::new(&[(1, 1, 7), (1, 2, 8), (1, 12, 9), (1, 13, 10)]);
        let data = [0b1010_0000, 0b0000_0010, 0, 0b0001_0000];
        let mut b = Bits::new(&data);
        assert_eq!(v.decode(&mut b), Some(7));
        assert_eq!(v.decode(&mut b), Some(8));
        assert_eq!(v.decode(&mut b), Some(9));
        assert_eq!(v.decode(&mut b), Some(10));
        assert_eq!(b.position(), 28);
        let mut zeros = Bits::new(&[0, 0, 0]);
        assert_eq!(v.decode(&mut zeros), None);
    }
}
