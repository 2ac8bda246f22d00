//! MPEG transport streams (`.ts`, `.m2ts`, `.mts`): H.264 and HEVC video, read by range.
//!
//! A transport stream has no index, and a DVR export can be gigabytes, so nothing scans
//! the whole file:
//! - `open` reads the PAT and PMT near the start (the first video stream of the first
//!   program), the first video PTS (time zero) and the last ones near the end (the
//!   duration), and indexes only the first seconds.
//! - `index_around` then indexes, for each requested time, the packets from the keyframe
//!   before it to the time itself: it bisects the file by decode time (each probe reads
//!   the first video PES header after a byte offset), then scans forward, looking further
//!   back (2 s, 4 s, 8 s... before the time) until the scan holds a keyframe.
//!
//! Timestamps are 33-bit 90 kHz values that wrap every 26.5 hours; they are taken relative
//! to the first video PTS across one wrap (`index::Stream::relative`). Discontinuities
//! (concatenated recordings whose clock restarts) are not followed: times after one are
//! wrong. One PES packet is taken to hold one access unit, as muxers write video.

pub mod depacketize;
pub mod index;
pub mod packet;

use crate::decode::FrameDecoder;
use crate::media::{Codec, MediaError, Result, Sample, VideoTrack};
use index::{SECOND, Scanner, Stream};
use packet::{CLOCK, Layout, PesHeader, section, stream_kind};
use std::io::{Read, Seek, SeekFrom};

/// How far from the start the PAT and PMT are looked for, in packets (1.9 MB).
const PSI_WINDOW: u64 = 10_000;
/// Bytes read at the end of the file for the last timestamps.
const TAIL: u64 = 2 << 20;
/// Result-JSON container names: plain 188-byte packets, and 192-byte BDAV packets.
pub const CONTAINERS: [&str; 2] = ["mpegts", "m2ts"];

/// Opens a transport stream: finds the video stream, its time span, and indexes the
/// first two seconds (see the module docs; `index_around` adds the parts times need).
pub fn open<R: Read + Seek>(r: &mut R, file_size: u64) -> Result<VideoTrack> {
    let stream = locate(r, file_size)?;
    let (samples, last, frame) = {
        let mut scanner = Scanner::new(r, stream);
        let samples = scanner.index(0, 2 * SECOND)?;
        let (last, frame) = tail_times(&mut scanner, &stream)?;
        (samples, last, frame)
    };
    if samples.is_empty() {
        return Err(MediaError::invalid(
            "the MPEG-TS video stream has no frames",
        ));
    }
    let (width, height) = dimensions(r, &samples, &stream)?;
    Ok(VideoTrack {
        container: CONTAINERS[usize::from(stream.layout.size != packet::TS_PACKET)],
        codec: stream.codec,
        codec_config: Vec::new(),
        width,
        height,
        rotation: 0,
        timescale: CLOCK,
        duration: last.max(0) + frame,
        samples,
    })
}

/// Replaces the track's samples with those the times (seconds) need: for each, from
/// the keyframe before it to it (see the module docs).
pub fn index_around<R: Read + Seek>(
    track: &mut VideoTrack,
    r: &mut R,
    file_size: u64,
    times: &[f64],
) -> Result<()> {
    let stream = locate(r, file_size)?;
    let mut scanner = Scanner::new(r, stream);
    let mut samples: Vec<Sample> = Vec::new();
    for &t in times {
        let target = (t * f64::from(CLOCK)).round() as i64;
        let mut back = 2 * SECOND;
        loop {
            let from = scanner.bisect(target - back)?;
            let window = scanner.index(from, target)?;
            let keyed = window.iter().any(|s| s.keyframe && s.pts <= target);
            if keyed || from == 0 {
                samples.extend(window);
                break;
            }
            back = back.saturating_mul(2);
        }
    }
    samples.sort_by_key(|s| s.offset);
    samples.dedup_by_key(|s| s.offset);
    if samples.is_empty() {
        return Err(MediaError::invalid(
            "the MPEG-TS video stream has no frames at the requested times",
        ));
    }
    track.samples = samples;
    Ok(())
}

/// Packet layout, video PID and codec (from the PAT and PMT), and the first video PTS.
fn locate<R: Read + Seek>(r: &mut R, file_size: u64) -> Result<Stream> {
    let mut head = vec![0u8; file_size.min(4096) as usize];
    r.seek(SeekFrom::Start(0))?;
    r.read_exact(&mut head)?;
    let layout = Layout::detect(&head).ok_or_else(|| {
        MediaError::invalid("not an MPEG transport stream (no packet sync bytes)")
    })?;
    let packets = layout.count(file_size);
    // PSI first: scan with a catch-all PID filter by reading packets directly.
    let mut stream = Stream {
        layout,
        pid: 0,
        codec: Codec::H264,
        first_pts: 0,
        packets: packets.min(PSI_WINDOW),
    };
    let pmt_pid = first_section(r, stream, |body| {
        body.get(5..)?
            .chunks_exact(4)
            .find(|e| u16::from_be_bytes([e[0], e[1]]) != 0)
            .map(|e| (u16::from(e[2] & 0x1f) << 8) | u16::from(e[3]))
    })?
    .ok_or_else(|| MediaError::invalid("the MPEG-TS file has no program table (PAT)"))?;
    stream.pid = pmt_pid;
    let found = first_section(r, stream, video_entry)?
        .ok_or_else(|| MediaError::invalid("the MPEG-TS file has no program map (PMT)"))?;
    let (pid, codec) = match found {
        Some((pid, Ok(codec))) => (pid, codec),
        Some((_, Err(name))) => {
            return Err(MediaError::unsupported(format!(
                "codec {name} is not supported"
            )));
        }
        None => {
            return Err(MediaError::invalid(
                "the MPEG-TS program has no video stream",
            ));
        }
    };
    stream.pid = pid;
    stream.codec = codec;
    let mut first = None;
    Scanner::new(r, stream).each(0, |_, p| {
        if p.start
            && let Some(h) = PesHeader::parse(p.payload)
        {
            first = h.pts;
        }
        first.is_none()
    })?;
    stream.first_pts =
        first.ok_or_else(|| MediaError::invalid("the MPEG-TS video stream has no timestamps"))?;
    stream.packets = packets;
    Ok(stream)
}

/// The first section on `stream.pid` that `parse` makes something of.
fn first_section<R: Read + Seek, T>(
    r: &mut R,
    stream: Stream,
    mut parse: impl FnMut(&[u8]) -> Option<T>,
) -> Result<Option<T>> {
    let mut out = None;
    Scanner::new(r, stream).each(0, |_, p| {
        if p.start {
            out = section(p.payload).and_then(&mut parse);
        }
        out.is_none()
    })?;
    Ok(out)
}

type VideoEntry = Option<(u16, std::result::Result<Codec, &'static str>)>;

/// The first video stream of a PMT body: its PID and codec (or the codec's name).
fn video_entry(body: &[u8]) -> Option<VideoEntry> {
    let info = (usize::from(*body.get(7)? & 0x0f) << 8) | usize::from(*body.get(8)?);
    let mut at = 9 + info;
    while at + 5 <= body.len() {
        let pid = (u16::from(body[at + 1] & 0x1f) << 8) | u16::from(body[at + 2]);
        let len = (usize::from(body[at + 3] & 0x0f) << 8) | usize::from(body[at + 4]);
        if let Some(kind) = stream_kind(body[at]) {
            return Some(Some((pid, kind)));
        }
        at += 5 + len;
    }
    Some(None)
}

/// The latest video PTS (relative ticks) in the last bytes of the file, and the frame
/// duration (the median PTS step there; one frame at 25 fps when unknown).
fn tail_times<R: Read + Seek>(scanner: &mut Scanner<'_, R>, stream: &Stream) -> Result<(i64, i64)> {
    let packets = TAIL / stream.layout.size as u64;
    let from = stream.packets.saturating_sub(packets);
    let mut pts = Vec::new();
    scanner.each(from, |_, p| {
        if p.start
            && let Some(t) = PesHeader::parse(p.payload).and_then(|h| h.pts)
        {
            pts.push(stream.relative(t));
        }
        true
    })?;
    pts.sort_unstable();
    let mut steps: Vec<i64> = pts
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|&d| d > 0)
        .collect();
    steps.sort_unstable();
    let frame = steps.get(steps.len() / 2).copied().unwrap_or(SECOND / 25);
    Ok((pts.last().copied().unwrap_or(0), frame))
}

/// The picture size from the sequence parameter set of the first keyframe.
fn dimensions<R: Read + Seek>(
    r: &mut R,
    samples: &[Sample],
    stream: &Stream,
) -> Result<(u32, u32)> {
    let s = samples.iter().find(|s| s.keyframe).unwrap_or(&samples[0]);
    let mut span = vec![0u8; (s.size as usize).min(64 << 20)];
    r.seek(SeekFrom::Start(s.offset))?;
    r.read_exact(&mut span)?;
    let mut es = Vec::new();
    depacketize::payload(&span, stream.layout.size, stream.layout.prefix, &mut es)?;
    let no_sps =
        || MediaError::invalid("the first MPEG-TS video frame has no sequence parameter set");
    let nals = crate::nal::split_annex_b(&es);
    let (w, h) = match stream.codec {
        Codec::Hevc => {
            let sps = nals
                .iter()
                .find(|n| crate::hevc::config::nal_type(n) == crate::hevc::config::SPS)
                .ok_or_else(no_sps)?;
            let info = crate::hevc::config::SpsInfo::parse(sps)?;
            crate::hevc::config::check(&info)?;
            info.display
        }
        _ => {
            let sps = nals.iter().find(|n| n[0] & 0x1f == 7).ok_or_else(no_sps)?;
            let sps = rusty_h264_decoder::Sps::parse(&crate::nal::unescape(&sps[1..]))
                .map_err(|_| MediaError::invalid("the H.264 sequence parameter set is corrupt"))?;
            (sps.display_width() as u32, sps.display_height() as u32)
        }
    };
    VideoTrack::check_dimensions(w, h)?;
    Ok((w, h))
}

/// The decoder for a transport stream's track: the codec's, fed the video payload taken
/// back out of the packets each sample spans. `None` for other containers.
pub fn decoder_for(track: &VideoTrack) -> Result<Option<Box<dyn FrameDecoder>>> {
    let Some(kind) = CONTAINERS.iter().position(|&c| c == track.container) else {
        return Ok(None);
    };
    let inner: Box<dyn FrameDecoder> = match track.codec {
        Codec::H264 => Box::new(crate::h264::H264::new(&[])?),
        Codec::Hevc => Box::new(crate::hevc::Hevc::new(&[])?),
        other => {
            return Err(MediaError::unsupported(format!(
                "codec {} in MPEG-TS is not supported",
                other.name()
            )));
        }
    };
    let (size, prefix) = if kind == 0 { (188, 0) } else { (192, 4) };
    Ok(Some(Box::new(depacketize::Depacketized::new(
        inner, size, prefix,
    ))))
}
