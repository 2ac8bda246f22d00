//! Matroska / WebM demuxing: the video track and an index of its blocks.
//!
//! Element headers are read one by one and block payloads are skipped, so indexing costs
//! a few bytes per block (the buffered blob reader turns that into sequential window
//! reads). Blocks carry presentation times and come in decode order, which is exactly
//! what the extractor's `Sample` list wants.

use crate::ebml::{self, Header, UNKNOWN_SIZE, header_at};
use crate::media::{Codec, MediaError, Result, Sample, VideoTrack};
use std::io::{Read, Seek, SeekFrom};

const EBML: u32 = 0x1A45_DFA3;
const DOC_TYPE: u32 = 0x4282;
const SEGMENT: u32 = 0x1853_8067;
const INFO: u32 = 0x1549_A966;
const TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
const DURATION: u32 = 0x4489;
const TRACKS: u32 = 0x1654_AE6B;
const TRACK_ENTRY: u32 = 0xAE;
const TRACK_NUMBER: u32 = 0xD7;
const TRACK_TYPE: u32 = 0x83;
const CODEC_ID: u32 = 0x86;
const CODEC_PRIVATE: u32 = 0x63A2;
const VIDEO: u32 = 0xE0;
const PIXEL_WIDTH: u32 = 0xB0;
const PIXEL_HEIGHT: u32 = 0xBA;
const CLUSTER: u32 = 0x1F43_B675;
const CLUSTER_TIMESTAMP: u32 = 0xE7;
const SIMPLE_BLOCK: u32 = 0xA3;
const BLOCK_GROUP: u32 = 0xA0;
const BLOCK: u32 = 0xA1;
const REFERENCE_BLOCK: u32 = 0xFB;
const DEFAULT_DURATION: u32 = 0x23_E383;
/// Top-level ids that end a cluster of unknown size.
const TOP_LEVEL: [u32; 8] = [
    CLUSTER,
    INFO,
    TRACKS,
    0x1C53_BB6B,
    0x1254_C367,
    0x1941_A469,
    0x1043_A770,
    0x114D_9B74,
];

/// Presentation times are kept in microseconds.
const TIMESCALE: u32 = 1_000_000;
/// Most blocks indexed (see the MP4 demuxer for the reasoning).
const MAX_SAMPLES: usize = 4_000_000;

struct TrackInfo {
    number: u64,
    codec: Codec,
    /// Nanoseconds per frame (`DefaultDuration`), which times the frames of a laced block.
    default_duration: Option<u64>,
    codec_config: Vec<u8>,
    width: u32,
    height: u32,
}

/// Indexes the first video track of a Matroska or WebM file.
pub fn open<R: Read + Seek>(r: &mut R, file_size: u64) -> Result<VideoTrack> {
    let head = header_at(r, 0)?;
    if head.id != EBML {
        return Err(MediaError::invalid("not a Matroska file (no EBML header)"));
    }
    let doc = ebml::data(r, &head, 4096)?;
    let webm = ebml::children(&doc)
        .filter_map(|c| c.ok())
        .any(|(id, d)| id == DOC_TYPE && d.starts_with(b"webm"));
    let segment = header_at(r, head.end())?;
    if segment.id != SEGMENT {
        return Err(MediaError::invalid("Matroska file without a segment"));
    }
    let seg_end = if segment.size == UNKNOWN_SIZE {
        file_size
    } else {
        segment.end()
    };
    if seg_end > file_size {
        return Err(MediaError::invalid(format!(
            "the Matroska segment needs bytes up to {seg_end} but the file has {file_size}: the file is truncated"
        )));
    }
    let (mut scale, mut duration, mut track) = (1_000_000u64, None, None);
    let mut samples = Vec::new();
    let mut pos = segment.data;
    while pos < seg_end {
        let h = header_at(r, pos)?;
        if h.size != UNKNOWN_SIZE && h.end() > seg_end {
            return Err(MediaError::invalid(format!(
                "Matroska element at byte {pos} runs past the end of the file: the file is truncated"
            )));
        }
        match h.id {
            INFO => {
                for c in ebml::children(&ebml::data(r, &h, 1 << 20)?) {
                    match c? {
                        (TIMESTAMP_SCALE, d) => scale = ebml::uint(d).max(1),
                        (DURATION, d) => duration = ebml::float(d),
                        _ => {}
                    }
                }
            }
            TRACKS => track = Some(video_track(&ebml::data(r, &h, 16 << 20)?)?),
            CLUSTER => {
                let t = track.as_ref().ok_or_else(|| {
                    MediaError::unsupported("Matroska clusters before the track list")
                })?;
                let end = index_cluster(r, &h, seg_end, t, scale, &mut samples)?;
                pos = end;
                continue;
            }
            _ => {}
        }
        if h.size == UNKNOWN_SIZE {
            return Err(MediaError::unsupported(
                "Matroska elements of unknown size other than clusters",
            ));
        }
        pos = h.end();
    }
    let t = track.ok_or_else(|| MediaError::invalid("the Matroska file has no video track"))?;
    if samples.is_empty() {
        return Err(MediaError::invalid(
            "the Matroska video track has no frames",
        ));
    }
    let duration = match duration {
        Some(d) if d.is_finite() && d > 0.0 => (d * scale as f64 / 1000.0) as i64,
        _ => samples.iter().map(|s: &Sample| s.pts).max().unwrap_or(0),
    };
    Ok(VideoTrack {
        container: if webm { "webm" } else { "matroska" },
        codec: t.codec,
        codec_config: t.codec_config,
        width: t.width,
        height: t.height,
        rotation: 0,
        timescale: TIMESCALE,
        duration,
        samples,
    })
}

/// Finds the first video entry in the track list and checks its codec and size.
fn video_track(tracks: &[u8]) -> Result<TrackInfo> {
    let mut unsupported = None;
    for entry in ebml::children(tracks) {
        let (id, entry) = entry?;
        if id != TRACK_ENTRY {
            continue;
        }
        let (mut number, mut kind, mut codec_id, mut private, mut w, mut h) =
            (0, 0, String::new(), Vec::new(), 0, 0);
        let mut default_duration = None;
        for c in ebml::children(entry) {
            match c? {
                (TRACK_NUMBER, d) => number = ebml::uint(d),
                (TRACK_TYPE, d) => kind = ebml::uint(d),
                (CODEC_ID, d) => {
                    codec_id = String::from_utf8_lossy(d).trim_end_matches('\0').to_owned()
                }
                (CODEC_PRIVATE, d) => private = d.to_vec(),
                (DEFAULT_DURATION, d) => default_duration = Some(ebml::uint(d)).filter(|&d| d > 0),
                (VIDEO, d) => {
                    for v in ebml::children(d) {
                        match v? {
                            (PIXEL_WIDTH, d) => w = ebml::uint(d),
                            (PIXEL_HEIGHT, d) => h = ebml::uint(d),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if kind != 1 {
            continue;
        }
        let codec = match codec_id.as_str() {
            "V_MPEG4/ISO/AVC" => Codec::H264,
            "V_MJPEG" => Codec::Mjpeg,
            "V_VP8" => Codec::Vp8,
            "V_VP9" => Codec::Vp9,
            "V_AV1" => Codec::Av1,
            "V_MPEGH/ISO/HEVC" => Codec::Hevc,
            other => {
                let name = match other {
                    "V_VP8" => "vp8",
                    "V_MPEGH/ISO/HEVC" => "hevc",
                    "V_MPEG4/ISO/ASP" | "V_MPEG4/ISO/SP" => "mpeg4",
                    "V_MPEG2" => "mpeg2",
                    "V_THEORA" => "theora",
                    x => x,
                };
                unsupported.get_or_insert(MediaError::unsupported(format!(
                    "codec {name} is not supported"
                )));
                continue;
            }
        };
        let (w, h) = (
            u32::try_from(w).unwrap_or(u32::MAX),
            u32::try_from(h).unwrap_or(u32::MAX),
        );
        VideoTrack::check_dimensions(w, h)?;
        return Ok(TrackInfo {
            number,
            codec,
            default_duration,
            codec_config: private,
            width: w,
            height: h,
        });
    }
    Err(unsupported.unwrap_or_else(|| MediaError::invalid("the Matroska file has no video track")))
}

/// Adds the video blocks of one cluster to `samples`; returns where the cluster ends.
fn index_cluster<R: Read + Seek>(
    r: &mut R,
    cluster: &Header,
    seg_end: u64,
    track: &TrackInfo,
    scale: u64,
    samples: &mut Vec<Sample>,
) -> Result<u64> {
    let end = if cluster.size == UNKNOWN_SIZE {
        seg_end
    } else {
        cluster.end()
    };
    let mut base = 0i64;
    let mut pos = cluster.data;
    while pos < end {
        let h = header_at(r, pos)?;
        if cluster.size == UNKNOWN_SIZE && TOP_LEVEL.contains(&h.id) {
            return Ok(pos);
        }
        if h.size == UNKNOWN_SIZE || h.end() > end {
            return Err(MediaError::invalid(format!(
                "Matroska block at byte {pos} runs past its cluster: the file is corrupt or truncated"
            )));
        }
        match h.id {
            CLUSTER_TIMESTAMP => base = ebml::uint(&ebml::data(r, &h, 8)?) as i64,
            SIMPLE_BLOCK => add_block(r, &h, track, base, scale, None, samples)?,
            BLOCK_GROUP => {
                let (mut block, mut referenced) = (None, false);
                let mut p = h.data;
                while p < h.end() {
                    let c = header_at(r, p)?;
                    if c.size == UNKNOWN_SIZE || c.end() > h.end() {
                        return Err(MediaError::invalid("Matroska block group is corrupt"));
                    }
                    match c.id {
                        BLOCK => block = Some(c),
                        REFERENCE_BLOCK => referenced = true,
                        _ => {}
                    }
                    p = c.end();
                }
                if let Some(b) = block {
                    add_block(r, &b, track, base, scale, Some(!referenced), samples)?;
                }
            }
            _ => {}
        }
        pos = h.end();
    }
    Ok(end)
}

/// Reads a (Simple)Block header and records its frames when it belongs to the video track.
fn add_block<R: Read + Seek>(
    r: &mut R,
    h: &Header,
    track: &TrackInfo,
    base: i64,
    scale: u64,
    keyframe: Option<bool>,
    samples: &mut Vec<Sample>,
) -> Result<()> {
    r.seek(SeekFrom::Start(h.data))?;
    let mut head = [0u8; 12];
    let n = (h.size as usize).min(head.len());
    r.read_exact(&mut head[..n])?;
    let len = head[0].leading_zeros() as usize + 1;
    if len > 8 || n < len + 3 {
        return Err(MediaError::invalid("Matroska block header is corrupt"));
    }
    let number = head[1..len]
        .iter()
        .fold(u64::from(head[0] & ((0xffu16 >> len) as u8)), |acc, &b| {
            (acc << 8) | u64::from(b)
        });
    if number != track.number {
        return Ok(());
    }
    let timecode = i64::from(i16::from_be_bytes([head[len], head[len + 1]]));
    let flags = head[len + 2];
    let ticks = base.saturating_add(timecode);
    let pts = (i128::from(ticks) * i128::from(scale) / 1000)
        .clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
    let header = (len + 3) as u64;
    let keyframe = keyframe.unwrap_or(flags & 0x80 != 0);
    // Almost every block holds one frame: only lacing needs a list (no allocation per block).
    let (single, laced);
    let frames: &[(u64, u64)] = if flags & 0x06 == 0 {
        single = [(h.data + header, h.size - header)];
        &single
    } else {
        laced = laced_frames(r, h, header, flags)?;
        &laced
    };
    if samples.len() + frames.len() > MAX_SAMPLES {
        return Err(MediaError::invalid(format!(
            "the Matroska video track has more than {MAX_SAMPLES} frames"
        )));
    }
    let step = match (frames.len(), track.default_duration) {
        (1, _) => 0,
        (_, Some(ns)) => i64::try_from(ns / 1000).unwrap_or(i64::MAX),
        (_, None) => {
            return Err(MediaError::invalid(
                "a laced Matroska video block in a track without a DefaultDuration: its frames have no times",
            ));
        }
    };
    for (i, &(offset, size)) in frames.iter().enumerate() {
        // A VP8 frame not to be shown (an alt-ref frame) has a block of its own: it is
        // indexed as not shown, like samples an edit list hides (its frame tag's show_frame
        // bit is 0).
        let hidden = track.codec == Codec::Vp8
            && size > 0
            && if offset == h.data + header && n > len + 3 {
                head[len + 3] & 0x10 == 0
            } else {
                let mut tag = [0u8; 1];
                r.seek(SeekFrom::Start(offset))?;
                r.read_exact(&mut tag)?;
                tag[0] & 0x10 == 0
            };
        let at = pts.saturating_add(step.saturating_mul(i as i64));
        samples.push(Sample {
            offset,
            size: u32::try_from(size)
                .map_err(|_| MediaError::invalid("Matroska block larger than 4 GiB"))?,
            pts: if hidden { -1 } else { at },
            keyframe: keyframe && i == 0,
        });
    }
    Ok(())
}

/// The frames of a laced block (Xiph, fixed-size or EBML lacing) as (offset, size) pairs.
fn laced_frames<R: Read + Seek>(
    r: &mut R,
    h: &Header,
    header: u64,
    flags: u8,
) -> Result<Vec<(u64, u64)>> {
    let corrupt = || MediaError::invalid("Matroska block lacing is corrupt");
    let body = h.size.checked_sub(header).ok_or_else(corrupt)?;
    // The lace sizes come first; 1 MiB is far more than 256 sizes need.
    let mut lace = vec![0u8; body.min(1 << 20) as usize];
    r.seek(SeekFrom::Start(h.data + header))?;
    r.read_exact(&mut lace)?;
    let count = usize::from(*lace.first().ok_or_else(corrupt)?) + 1;
    let mut at = 1usize;
    let mut sizes = Vec::with_capacity(count);
    match flags & 0x06 {
        // Xiph: each size a run of 255s and a final byte below 255.
        0x02 => {
            for _ in 1..count {
                let mut size = 0u64;
                loop {
                    let b = *lace.get(at).ok_or_else(corrupt)?;
                    at += 1;
                    size += u64::from(b);
                    if b < 255 {
                        break;
                    }
                }
                sizes.push(size);
            }
        }
        // Fixed: equal sizes filling the block.
        0x04 => {
            let each = (body - 1) / count as u64;
            if each * count as u64 != body - 1 {
                return Err(corrupt());
            }
            sizes.resize(count - 1, each);
        }
        // EBML: the first size, then signed differences.
        _ => {
            let (first, used) =
                lace_vint(lace.get(at..).ok_or_else(corrupt)?).ok_or_else(corrupt)?;
            at += used;
            let mut size = first as i64;
            sizes.push(first);
            for _ in 2..count {
                let (raw, used) =
                    lace_vint(lace.get(at..).ok_or_else(corrupt)?).ok_or_else(corrupt)?;
                at += used;
                let bias = (1i64 << (7 * used - 1)) - 1;
                size = size
                    .checked_add(raw as i64 - bias)
                    .filter(|&s| s >= 0)
                    .ok_or_else(corrupt)?;
                sizes.push(size as u64);
            }
        }
    }
    let mut offset = h.data + header + at as u64;
    let end = h.data + h.size;
    let mut frames = Vec::with_capacity(count);
    for size in sizes {
        frames.push((offset, size));
        offset = offset
            .checked_add(size)
            .filter(|&o| o <= end)
            .ok_or_else(corrupt)?;
    }
    frames.push((offset, end - offset));
    Ok(frames)
}

/// An EBML variable-size integer without its length marker: (value, bytes used).
fn lace_vint(data: &[u8]) -> Option<(u64, usize)> {
    let first = *data.first()?;
    let len = first.leading_zeros() as usize + 1;
    if len > 8 || data.len() < len {
        return None;
    }
    let value = data[1..len]
        .iter()
        .fold(u64::from(first) & (0xff >> len), |acc, &b| {
            (acc << 8) | u64::from(b)
        });
    Some((value, len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A block body (after track number, timecode and flags) at offset 0 of a file.
    fn frames_of(flags: u8, lacing_and_frames: &[u8]) -> Result<Vec<(u64, u64)>> {
        let mut file = vec![0x81, 0, 0, flags];
        file.extend_from_slice(lacing_and_frames);
        let h = Header {
            id: SIMPLE_BLOCK,
            data: 0,
            size: file.len() as u64,
        };
        laced_frames(&mut Cursor::new(file), &h, 4, flags)
    }

    #[test]
    fn xiph_fixed_and_ebml_lacing_split_a_block_into_frames() {
        // Three frames of 300, 2 and 5 bytes. Xiph: 300 = 255 + 45.
        let mut xiph = vec![2, 255, 45, 2];
        xiph.resize(4 + 307, 7);
        assert_eq!(
            frames_of(0x02, &xiph).unwrap(),
            [(8, 300), (308, 2), (310, 5)]
        );
        // Fixed: two frames of 3 bytes.
        assert_eq!(
            frames_of(0x04, &[1, 1, 2, 3, 4, 5, 6]).unwrap(),
            [(5, 3), (8, 3)]
        );
        // EBML: first size 4 (0x84), then -2 as a 1-byte signed difference (0x80 | (63 - 2)).
        let mut ebml = vec![2, 0x84, 0x80 | 61];
        ebml.resize(3 + 4 + 2 + 1, 9);
        assert_eq!(frames_of(0x06, &ebml).unwrap(), [(7, 4), (11, 2), (13, 1)]);
    }

    #[test]
    fn lacing_that_runs_past_the_block_is_invalid_input() {
        for (flags, body) in [
            (0x02, &[3u8, 255, 255, 9][..]),
            (0x04, &[2, 1, 2][..]),
            (0x06, &[1, 0xff][..]),
        ] {
            let err = frames_of(flags, body).unwrap_err();
            assert!(err.to_string().contains("lacing is corrupt"), "{err}");
        }
    }
}
