//! MPEG transport stream packets and PES headers: the byte-level parsing, no I/O.
//!
//! A packet is 188 bytes (`0x47` sync byte first); BDAV/AVCHD files (`.m2ts`, `.mts`)
//! put a 4-byte arrival timestamp before each, making 192.

use crate::media::{MediaError, Result};

/// The sync byte every packet starts with.
pub const SYNC: u8 = 0x47;
/// Bytes of a transport packet proper.
pub const TS_PACKET: usize = 188;
/// PTS/DTS wrap at 2^33 ticks of the 90 kHz clock (26.5 hours).
pub const PTS_WRAP: i64 = 1 << 33;
/// Ticks per second of PTS and DTS.
pub const CLOCK: u32 = 90_000;

/// The packet layout of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// 188 or 192.
    pub size: usize,
    /// Bytes before the sync byte in each packet: 0 or 4.
    pub prefix: usize,
    /// File offset of the first packet.
    pub base: u64,
}

impl Layout {
    /// Finds the packet size from the first bytes: sync bytes at three consecutive packets.
    pub fn detect(head: &[u8]) -> Option<Layout> {
        for (size, prefix) in [(TS_PACKET, 0), (192, 4)] {
            for base in 0..size.min(head.len()) {
                let synced = (0..3).all(|k| head.get(base + prefix + k * size) == Some(&SYNC));
                if synced {
                    return Some(Layout {
                        size,
                        prefix,
                        base: base as u64,
                    });
                }
            }
        }
        None
    }

    /// File offset of packet `n` (its prefix included).
    pub fn offset(&self, n: u64) -> u64 {
        self.base + n * self.size as u64
    }

    /// Number of whole packets in a file of `file_size` bytes.
    pub fn count(&self, file_size: u64) -> u64 {
        file_size.saturating_sub(self.base) / self.size as u64
    }
}

/// One parsed transport packet.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// Packet identifier.
    pub pid: u16,
    /// `payload_unit_start_indicator`: a PES packet or section starts in this payload.
    pub start: bool,
    /// The payload after the adaptation field (may be empty).
    pub payload: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Parses the 188 bytes of a transport packet (from its sync byte).
    pub fn parse(p: &'a [u8]) -> Result<Packet<'a>> {
        if p.len() < TS_PACKET || p[0] != SYNC {
            return Err(MediaError::invalid(
                "MPEG-TS packet without its sync byte: the file is corrupt or not a transport stream",
            ));
        }
        let pid = (u16::from(p[1] & 0x1f) << 8) | u16::from(p[2]);
        let start = p[1] & 0x40 != 0;
        let control = (p[3] >> 4) & 3;
        let mut at = 4;
        if control & 2 != 0 {
            at += 1 + usize::from(p[4]);
        }
        let payload = if control & 1 != 0 && at <= TS_PACKET {
            &p[at..TS_PACKET]
        } else {
            &[]
        };
        Ok(Packet {
            pid,
            start,
            payload,
        })
    }
}

/// The fields of a PES header the demuxer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PesHeader {
    /// Presentation time, 33 bits.
    pub pts: Option<i64>,
    /// Decode time, 33 bits (absent when equal to the PTS).
    pub dts: Option<i64>,
    /// Bytes of the header, where the elementary stream starts.
    pub len: usize,
}

fn timestamp(b: &[u8]) -> i64 {
    ((i64::from(b[0] >> 1) & 7) << 30)
        | (i64::from(b[1]) << 22)
        | ((i64::from(b[2]) >> 1) << 15)
        | (i64::from(b[3]) << 7)
        | (i64::from(b[4]) >> 1)
}

impl PesHeader {
    /// Parses the PES header at the start of a payload; `None` when it is not one (or is
    /// cut inside the first packet, which muxers never do).
    pub fn parse(payload: &[u8]) -> Option<PesHeader> {
        if payload.len() < 9 || payload[..3] != [0, 0, 1] {
            return None;
        }
        let flags = payload[7] >> 6;
        let len = 9 + usize::from(payload[8]);
        if len > payload.len() {
            return None;
        }
        let pts = (flags & 2 != 0 && payload.len() >= 14).then(|| timestamp(&payload[9..14]));
        let dts = (flags == 3 && payload.len() >= 19).then(|| timestamp(&payload[14..19]));
        Some(PesHeader { pts, dts, len })
    }
}

/// The video stream types of a PMT this plugin decodes, and the names of others.
pub fn stream_kind(
    stream_type: u8,
) -> Option<std::result::Result<crate::media::Codec, &'static str>> {
    use crate::media::Codec;
    Some(match stream_type {
        0x1b => Ok(Codec::H264),
        0x24 => Ok(Codec::Hevc),
        0x01 | 0x02 => Err("mpeg2"),
        0x10 => Err("mpeg4"),
        0x20 => Err("h264 mvc"),
        0x33 => Err("vvc"),
        0xea => Err("vc1"),
        0xd1 => Err("dirac"),
        _ => return None,
    })
}

/// Iterates the sections' bodies of a PSI payload (`pointer_field` skipped); only the first
/// section of a packet is read, which is where muxers put PAT and PMT.
pub fn section(payload: &[u8]) -> Option<&[u8]> {
    let pointer = usize::from(*payload.first()?);
    let s = payload.get(1 + pointer..)?;
    if s.len() < 3 {
        return None;
    }
    let len = (usize::from(s[1] & 0x0f) << 8) | usize::from(s[2]);
    // table_id, length (3) ... CRC (4): the body between them.
    s.get(3..3 + len.checked_sub(4)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pts_and_dts() {
        // PTS 0x1_2345_6789 (33 bits) with DTS 0x0_0000_0001.
        let pts: i64 = 0x1_2345_6789;
        let enc = |marker: u8, t: i64| {
            [
                (marker << 4) | (((t >> 30) as u8 & 7) << 1) | 1,
                (t >> 22) as u8,
                (((t >> 15) as u8) << 1) | 1,
                (t >> 7) as u8,
                ((t as u8) << 1) | 1,
            ]
        };
        let mut pes = vec![0, 0, 1, 0xe0, 0, 0, 0x80, 0xc0, 10];
        pes.extend(enc(3, pts));
        pes.extend(enc(1, 1));
        let h = PesHeader::parse(&pes).unwrap();
        assert_eq!((h.pts, h.dts, h.len), (Some(pts), Some(1), 19));
        assert!(PesHeader::parse(&[0, 0, 2, 0xe0, 0, 0, 0x80, 0, 0]).is_none());
    }

    #[test]
    fn detects_both_packet_sizes() {
        let mut ts = vec![0u8; 188 * 3];
        for k in 0..3 {
            ts[k * 188] = SYNC;
        }
        assert_eq!(Layout::detect(&ts).map(|l| l.size), Some(188));
        let mut m2ts = vec![0u8; 192 * 3];
        for k in 0..3 {
            m2ts[k * 192 + 4] = SYNC;
        }
        assert_eq!(
            Layout::detect(&m2ts).map(|l| (l.size, l.prefix)),
            Some((192, 4))
        );
        assert_eq!(Layout::detect(b"not a transport stream"), None);
    }
}
