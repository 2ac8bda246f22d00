//! EBML element headers (the binary format under Matroska and WebM), read from a stream.

use crate::media::{MediaError, Result};
use std::io::{Read, Seek, SeekFrom};

/// An element size of all ones: "unknown", the element runs until its parent ends.
pub const UNKNOWN_SIZE: u64 = u64::MAX;

/// An element header: its id, where its data starts, and its data size.
#[derive(Debug, Clone, Copy)]
pub struct Header {
    /// The element id, marker bits kept (as the spec writes ids, e.g. `0x1F43B675`).
    pub id: u32,
    /// Offset of the element's data.
    pub data: u64,
    /// Size of the data, or `UNKNOWN_SIZE`.
    pub size: u64,
}

impl Header {
    /// Offset just after the element (saturating for unknown sizes).
    pub fn end(&self) -> u64 {
        self.data.saturating_add(self.size)
    }
}

fn vint<R: Read>(r: &mut R, keep_marker: bool) -> Result<(u64, usize)> {
    let mut first = [0u8; 1];
    r.read_exact(&mut first)?;
    let len = first[0].leading_zeros() as usize + 1;
    if len > 8 {
        return Err(MediaError::invalid(
            "Matroska: invalid element header (corrupt file?)",
        ));
    }
    let mut value = u64::from(if keep_marker {
        first[0]
    } else {
        first[0] & ((0xffu16 >> len) as u8)
    });
    let mut rest = [0u8; 7];
    r.read_exact(&mut rest[..len - 1])?;
    let mut all_ones = value == u64::from((0xffu16 >> len) as u8);
    for &b in &rest[..len - 1] {
        value = (value << 8) | u64::from(b);
        all_ones &= b == 0xff;
    }
    if !keep_marker && all_ones {
        return Ok((UNKNOWN_SIZE, len));
    }
    Ok((value, len))
}

/// Reads the element header at `pos`.
pub fn header_at<R: Read + Seek>(r: &mut R, pos: u64) -> Result<Header> {
    r.seek(SeekFrom::Start(pos))?;
    let (id, id_len) = vint(r, true)?;
    if id_len > 4 {
        return Err(MediaError::invalid(
            "Matroska: invalid element id (corrupt file?)",
        ));
    }
    let (size, size_len) = vint(r, false)?;
    Ok(Header {
        id: id as u32,
        data: pos + (id_len + size_len) as u64,
        size,
    })
}

/// Reads an element's data whole; for small elements only (`max` bytes).
pub fn data<R: Read + Seek>(r: &mut R, h: &Header, max: u64) -> Result<Vec<u8>> {
    if h.size > max {
        return Err(MediaError::invalid(format!(
            "Matroska element {:#x} is {} bytes, more than the {max} expected",
            h.id, h.size
        )));
    }
    r.seek(SeekFrom::Start(h.data))?;
    let mut buf = vec![0u8; h.size as usize];
    r.read_exact(&mut buf)?;
    Ok(buf)
}

/// Iterates the children of an element held in memory: `(id, data)`.
pub fn children(mut data: &[u8]) -> impl Iterator<Item = Result<(u32, &[u8])>> {
    std::iter::from_fn(move || {
        if data.is_empty() {
            return None;
        }
        let mut cur = std::io::Cursor::new(data);
        let item = (|| {
            let (id, _) = vint(&mut cur, true)?;
            let (size, _) = vint(&mut cur, false)?;
            let start = cur.position() as usize;
            let end = start
                .checked_add(size as usize)
                .filter(|&e| size != UNKNOWN_SIZE && e <= data.len())
                .ok_or_else(|| {
                    MediaError::invalid("Matroska: an element runs past its parent (corrupt file?)")
                })?;
            Ok((id as u32, start, end))
        })();
        match item {
            Ok((id, start, end)) => {
                let body = &data[start..end];
                data = &data[end..];
                Some(Ok((id, body)))
            }
            Err(e) => {
                data = &[];
                Some(Err(e))
            }
        }
    })
}

/// A big-endian unsigned integer element.
pub fn uint(data: &[u8]) -> u64 {
    data.iter()
        .take(8)
        .fold(0, |acc, &b| (acc << 8) | u64::from(b))
}

/// A float element (4 or 8 bytes).
pub fn float(data: &[u8]) -> Option<f64> {
    match data.len() {
        4 => Some(f64::from(f32::from_be_bytes([
            data[0], data[1], data[2], data[3],
        ]))),
        8 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(data);
            Some(f64::from_be_bytes(b))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_children() {
        // Cluster id, size 0x81 = 1 (one-byte vint), then unknown size 0xff.
        let bytes = [0x1f, 0x43, 0xb6, 0x75, 0x81, 0x00, 0xe7, 0xff];
        let mut c = std::io::Cursor::new(&bytes[..]);
        let h = header_at(&mut c, 0).unwrap();
        assert_eq!((h.id, h.data, h.size), (0x1F43B675, 5, 1));
        let h = header_at(&mut c, 6).unwrap();
        assert_eq!((h.id, h.size), (0xe7, UNKNOWN_SIZE));
        let kids: Vec<_> = children(&[0xe7, 0x81, 0x05, 0xa3, 0x80])
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(kids, vec![(0xe7, &[5u8][..]), (0xa3, &[][..])]);
        assert!(children(&[0xe7, 0x85, 0x05]).next().unwrap().is_err());
    }
}
