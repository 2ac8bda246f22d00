//! Indexing parts of a transport stream: a forward scan that turns the video PES packets
//! of a packet range into `Sample`s, and a bisection over byte offsets by decode time.
//!
//! A sample is one PES packet (one access unit, as muxers write video): its `offset` is
//! the file offset of the first transport packet carrying it and its `size` spans to the
//! end of the last one, other streams' packets in between included; `depacketize` takes
//! the video payload back out. Keyframes are told by NAL unit types at the start of the
//! access unit (H.264 IDR; HEVC IRAP: IDR, CRA, BLA), read while scanning.

use super::packet::{CLOCK, Layout, PTS_WRAP, Packet, PesHeader};
use crate::media::{Codec, MediaError, Result, Sample};
use std::io::{Read, Seek, SeekFrom};

/// Packets read per I/O call.
const CHUNK: u64 = 512;
/// Access-unit bytes kept per sample to find its first picture's NAL type.
const HEAD: usize = 16 << 10;
/// How far a bisection probe looks for the next video PES start, in packets (3.8 MB).
const PROBE: u64 = 20_000;
/// A bisection stops when the range is this small (packets; about 190 KB).
const CLOSE: u64 = 1024;

/// What the scans need to know about the stream.
#[derive(Debug, Clone, Copy)]
pub struct Stream {
    /// Packet layout.
    pub layout: Layout,
    /// The video PID.
    pub pid: u16,
    /// H.264 or HEVC.
    pub codec: Codec,
    /// The first video PTS: time zero.
    pub first_pts: i64,
    /// Whole packets in the file.
    pub packets: u64,
}

impl Stream {
    /// A 33-bit timestamp as ticks since `first_pts`, across one wrap-around; times just
    /// before the first (leading B-frames) come out negative.
    pub fn relative(&self, ts: i64) -> i64 {
        let d = (ts - self.first_pts).rem_euclid(PTS_WRAP);
        if d > PTS_WRAP / 2 { d - PTS_WRAP } else { d }
    }
}

/// A video PES packet being collected.
struct Pending {
    first: u64,
    last: u64,
    pts: i64,
    dts: i64,
    head: Vec<u8>,
    saw_picture: bool,
}

/// Reads packets in chunks and hands out the video ones.
pub struct Scanner<'r, R> {
    r: &'r mut R,
    stream: Stream,
    buf: Vec<u8>,
}

impl<'r, R: Read + Seek> Scanner<'r, R> {
    /// Scans `r` laid out as `stream` says.
    pub fn new(r: &'r mut R, stream: Stream) -> Self {
        Scanner {
            r,
            stream,
            buf: Vec::new(),
        }
    }

    /// Calls `f(packet index, packet)` for each video packet from packet `from` on, until
    /// it returns false or the file ends.
    pub fn each(&mut self, from: u64, mut f: impl FnMut(u64, &Packet<'_>) -> bool) -> Result<()> {
        let Layout { size, prefix, .. } = self.stream.layout;
        let mut n = from;
        while n < self.stream.packets {
            let count = CHUNK.min(self.stream.packets - n);
            self.buf.resize(count as usize * size, 0);
            self.r.seek(SeekFrom::Start(self.stream.layout.offset(n)))?;
            self.r.read_exact(&mut self.buf)?;
            for (k, raw) in self.buf.chunks_exact(size).enumerate() {
                // A packet that lost its sync byte is skipped, as players do.
                let Ok(p) = Packet::parse(&raw[prefix..]) else {
                    continue;
                };
                if p.pid == self.stream.pid && !f(n + k as u64, &p) {
                    return Ok(());
                }
            }
            n += count;
        }
        Ok(())
    }

    /// The first video PES start at or after packet `from` (within `PROBE` packets) that
    /// carries a time: its packet and decode time (relative ticks).
    pub fn pes_near(&mut self, from: u64) -> Result<Option<(u64, i64)>> {
        let mut found = None;
        let limit = from.saturating_add(PROBE);
        let stream = self.stream;
        self.each(from, |n, p| {
            if p.start
                && let Some(h) = PesHeader::parse(p.payload)
                && let Some(pts) = h.pts
            {
                found = Some((n, stream.relative(h.dts.unwrap_or(pts))));
                return false;
            }
            n < limit
        })?;
        Ok(found)
    }

    /// The packet of a video PES start with decode time at most `dts` (relative ticks),
    /// as late as bisection finds within `CLOSE` packets; 0 when none is that early.
    pub fn bisect(&mut self, dts: i64) -> Result<u64> {
        let (mut lo, mut hi) = (0u64, self.stream.packets);
        while hi - lo > CLOSE {
            let mid = lo + (hi - lo) / 2;
            match self.pes_near(mid)? {
                Some((n, d)) if d <= dts => lo = n.max(mid),
                _ => hi = mid,
            }
        }
        Ok(lo)
    }

    /// Indexes the video PES packets that start from packet `from` on, up to (not
    /// including) the first whose decode time exceeds `until` (relative ticks).
    pub fn index(&mut self, from: u64, until: i64) -> Result<Vec<Sample>> {
        let stream = self.stream;
        let mut samples = Vec::new();
        let mut cur: Option<Pending> = None;
        let mut error = None;
        self.each(from, |n, p| {
            if p.start {
                let Some(h) = PesHeader::parse(p.payload) else {
                    error = Some(MediaError::invalid(format!(
                        "MPEG-TS video packet {n} starts a PES packet without a valid header"
                    )));
                    return false;
                };
                if let Some(done) = cur.take() {
                    samples.push(finish(done, &stream));
                }
                // A PES without a time follows its predecessor (never seen from muxers).
                let pts = h
                    .pts
                    .map(|t| stream.relative(t))
                    .unwrap_or_else(|| samples.last().map_or(0, |s: &Sample| s.pts + 1));
                let dts = h.dts.map_or(pts, |t| stream.relative(t));
                if dts > until {
                    return false;
                }
                cur = Some(Pending {
                    first: n,
                    last: n,
                    pts,
                    dts,
                    head: p.payload[h.len..].to_vec(),
                    saw_picture: false,
                });
            } else if let Some(c) = &mut cur {
                c.last = n;
                if !c.saw_picture && c.head.len() < HEAD {
                    c.head.extend_from_slice(p.payload);
                    c.saw_picture = has_picture(&c.head, stream.codec);
                }
            }
            true
        })?;
        if let Some(e) = error {
            return Err(e);
        }
        if let Some(done) = cur {
            samples.push(finish(done, &stream));
        }
        Ok(samples)
    }
}

fn finish(p: Pending, stream: &Stream) -> Sample {
    let size = (p.last - p.first + 1) * stream.layout.size as u64;
    let _ = p.dts;
    Sample {
        offset: stream.layout.offset(p.first),
        size: size.min(u64::from(u32::MAX)) as u32,
        pts: p.pts,
        keyframe: is_keyframe(&p.head, stream.codec),
    }
}

/// NAL unit types of the (possibly cut) start of an access unit.
fn nal_types(head: &[u8], codec: Codec) -> impl Iterator<Item = u8> + '_ {
    crate::nal::split_annex_b(head)
        .into_iter()
        .map(move |n| match codec {
            Codec::Hevc => (n[0] >> 1) & 0x3f,
            _ => n[0] & 0x1f,
        })
}

fn is_picture(t: u8, codec: Codec) -> bool {
    match codec {
        Codec::Hevc => t < 32,
        _ => (1..=5).contains(&t),
    }
}

fn has_picture(head: &[u8], codec: Codec) -> bool {
    nal_types(head, codec).any(|t| is_picture(t, codec))
}

/// Whether the access unit starts a picture decodable on its own: an H.264 IDR or an
/// HEVC IRAP picture (BLA, IDR, CRA).
pub fn is_keyframe(head: &[u8], codec: Codec) -> bool {
    nal_types(head, codec)
        .find(|&t| is_picture(t, codec))
        .is_some_and(|t| match codec {
            Codec::Hevc => (16..=23).contains(&t),
            _ => t == 5,
        })
}

/// One second in stream ticks.
pub const SECOND: i64 = CLOCK as i64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyframes_by_nal_type() {
        let idr = [
            0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x67, 0x64, 0, 0, 1, 0x65, 0x88,
        ];
        let p = [0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x41, 0x9a];
        assert!(is_keyframe(&idr, Codec::H264));
        assert!(!is_keyframe(&p, Codec::H264));
        let cra = [
            0, 0, 1, 0x46, 0x01, 0x50, 0, 0, 1, 0x40, 0x01, 0x0c, 0, 0, 1, 0x2a, 0x01,
        ];
        let trail = [0, 0, 1, 0x46, 0x01, 0x50, 0, 0, 1, 0x02, 0x01, 0xd0];
        assert!(is_keyframe(&cra, Codec::Hevc));
        assert!(!is_keyframe(&trail, Codec::Hevc));
    }

    #[test]
    fn timestamps_wrap() {
        let s = Stream {
            layout: Layout {
                size: 188,
                prefix: 0,
                base: 0,
            },
            pid: 256,
            codec: Codec::H264,
            first_pts: PTS_WRAP - 900,
            packets: 0,
        };
        assert_eq!(s.relative(PTS_WRAP - 900), 0);
        assert_eq!(s.relative(100), 1000);
        assert_eq!(s.relative(PTS_WRAP - 1000), -100);
    }
}
