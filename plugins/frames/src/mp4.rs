//! MP4 / QuickTime demuxing: finds the video track and indexes its samples.
//!
//! Only box headers are read while scanning the top level, then the `moov` box is read
//! whole (capped), so a multi-gigabyte file costs a few reads. Every count taken from
//! the file is checked against the bytes that carry it before anything is allocated.

use crate::media::{Codec, MediaError, Result, Sample, VideoTrack};
use crate::mp4_boxes::{
    Boxes, Cursor, EditList, SampleTables, VisualEntry, read_edit_list, read_visual_entry,
};
use std::io::{Read, Seek, SeekFrom};

/// Largest `moov` box read into memory; real files stay far below (about 20 bytes a sample).
const MAX_MOOV: u64 = 48 << 20;

/// Reads the top-level boxes and indexes the first video track.
pub fn open<R: Read + Seek>(reader: &mut R, file_size: u64) -> Result<VideoTrack> {
    let (moov, moov_end) = read_moov(reader, file_size)?;
    // Fragmented files: the samples are indexed by the `moof` boxes after the `moov`.
    let mut fragments = |track_id: u32| -> Result<Vec<Sample>> {
        let mvex = find(&moov, b"mvex")?.unwrap_or(&[]);
        let defaults = crate::mp4_fragments::track_defaults(mvex, track_id)?;
        crate::mp4_fragments::index(reader, file_size, moov_end, track_id, defaults)
    };
    parse_moov(&moov, file_size, &mut fragments)
}

/// Walks the top-level boxes by their headers and returns the `moov` payload and where
/// the box ends.
fn read_moov<R: Read + Seek>(reader: &mut R, file_size: u64) -> Result<(Vec<u8>, u64)> {
    let mut pos = 0u64;
    let mut saw_moof = false;
    while pos.saturating_add(8) <= file_size {
        reader.seek(SeekFrom::Start(pos))?;
        let mut head = [0u8; 16];
        reader.read_exact(&mut head[..8])?;
        let size32 = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let kind = [head[4], head[5], head[6], head[7]];
        let (size, header) = match size32 {
            0 => (file_size - pos, 8),
            1 => {
                reader.read_exact(&mut head[8..16])?;
                let mut b = [0u8; 8];
                b.copy_from_slice(&head[8..16]);
                (u64::from_be_bytes(b), 16)
            }
            n => (u64::from(n), 8),
        };
        if size < header {
            return Err(MediaError::invalid(format!(
                "MP4 box `{}` at byte {pos} has an impossible size {size}",
                fourcc(kind)
            )));
        }
        if &kind == b"moof" {
            saw_moof = true;
        }
        if &kind == b"moov" {
            let end = pos.saturating_add(size);
            if end > file_size {
                return Err(MediaError::invalid(format!(
                    "the MP4 index (moov box) needs bytes up to {end} but the file has {file_size}: the file is truncated"
                )));
            }
            let len = size - header;
            if len > MAX_MOOV {
                return Err(MediaError::invalid(format!(
                    "the MP4 index (moov box) is {len} bytes, more than the {MAX_MOOV} this plugin reads"
                )));
            }
            let mut moov = vec![0u8; len as usize];
            reader.read_exact(&mut moov)?;
            if saw_moof {
                return Err(MediaError::invalid(
                    "MP4 fragments (moof) before the index (moov): the file is damaged",
                ));
            }
            return Ok((moov, end));
        }
        pos = pos.saturating_add(size);
    }
    if pos > file_size || saw_moof {
        return Err(MediaError::invalid(
            "no MP4 index (moov box) before the end of the file: the file is truncated or unfinished",
        ));
    }
    Err(MediaError::invalid(
        "no MP4 index (moov box) in the file: not a complete MP4",
    ))
}

/// Finds the first video `trak` and builds its sample index; `fragments(track_id)` gives
/// the samples of a fragmented file.
fn parse_moov(
    moov: &[u8],
    file_size: u64,
    fragments: &mut dyn FnMut(u32) -> Result<Vec<Sample>>,
) -> Result<VideoTrack> {
    let mvhd = find(moov, b"mvhd")?
        .ok_or_else(|| MediaError::invalid("MP4 has no movie header (mvhd)"))?;
    let movie_timescale = movie_timescale(mvhd)?;
    let mut other_kinds = Vec::new();
    for item in Boxes::new(moov) {
        let (kind, trak) = item?;
        if &kind != b"trak" {
            continue;
        }
        let mdia = require(trak, b"mdia", "trak")?;
        let hdlr = require(mdia, b"hdlr", "mdia")?;
        if hdlr.get(8..12) != Some(b"vide") {
            continue;
        }
        let tkhd = require(trak, b"tkhd", "trak")?;
        let rotation = rotation_of(tkhd)?;
        let edits = match find(trak, b"edts")? {
            Some(edts) => match find(edts, b"elst")? {
                Some(elst) => Some(read_edit_list(elst)?),
                None => None,
            },
            None => None,
        };
        let mdhd = require(mdia, b"mdhd", "mdia")?;
        let (timescale, mut media_duration) = media_header(mdhd)?;
        let minf = require(mdia, b"minf", "mdia")?;
        let stbl = require(minf, b"stbl", "minf")?;
        let stsd = require(stbl, b"stsd", "stbl")?;
        let entry = read_visual_entry(stsd)?;
        let codec = match codec_of(&entry) {
            Ok(c) => c,
            Err(e) => {
                other_kinds.push(e);
                continue;
            }
        };
        VideoTrack::check_dimensions(u32::from(entry.width), u32::from(entry.height))?;
        let tables = SampleTables::read(stbl)?;
        let mut samples = tables.samples(file_size)?;
        if find(moov, b"mvex")?.is_some() {
            // The `moov` may hold the first fragment's samples itself (ffmpeg without
            // `empty_moov`); the `moof`s hold the rest.
            samples.extend(fragments(track_id(tkhd)?)?);
            if edits.is_none() {
                // No edit list (ffmpeg's empty_moov): time zero is the first frame shown,
                // as ffmpeg's start_time makes it for `-ss`.
                let first = samples.iter().map(|s| s.pts).min().unwrap_or(0);
                samples.iter_mut().for_each(|s| s.pts -= first);
            }
            // The header's duration covers the `moov`'s samples at most.
            media_duration = media_duration.max(shown_span(&samples));
        }
        if samples.is_empty() {
            return Err(MediaError::invalid("the MP4 video track has no samples"));
        }
        let duration = apply_edits(
            &mut samples,
            edits.as_ref(),
            timescale,
            movie_timescale,
            media_duration,
        );
        let codec_config = match codec {
            Codec::H264 => entry
                .child(b"avcC")
                .ok_or_else(|| {
                    MediaError::invalid("H.264 track without its decoder configuration (avcC)")
                })?
                .to_vec(),
            Codec::Av1 => entry
                .child(b"av1C")
                .ok_or_else(|| {
                    MediaError::invalid("AV1 track without its decoder configuration (av1C)")
                })?
                .to_vec(),
            Codec::Mpeg4 => match entry.child(b"esds") {
                Some(esds) => crate::mpeg4::esds_config(esds)?,
                None => Vec::new(),
            },
            Codec::Hevc => entry
                .child(b"hvcC")
                .ok_or_else(|| {
                    MediaError::invalid("HEVC track without its decoder configuration (hvcC)")
                })?
                .to_vec(),
            Codec::Mjpeg | Codec::Vp9 | Codec::Msmpeg4v3 | Codec::Vp8 => Vec::new(),
        };
        return Ok(VideoTrack {
            container: "mp4",
            codec,
            codec_config,
            width: u32::from(entry.width),
            height: u32::from(entry.height),
            rotation,
            timescale,
            duration,
            samples,
        });
    }
    Err(other_kinds
        .into_iter()
        .next()
        .unwrap_or_else(|| MediaError::invalid("the MP4 file has no video track")))
}

/// Maps a sample entry's four-character code to a codec we decode, or says which we don't.
fn codec_of(entry: &VisualEntry) -> Result<Codec> {
    match &entry.format {
        b"avc1" | b"avc3" => Ok(Codec::H264),
        b"jpeg" | b"mjpa" | b"mjpg" | b"MJPG" => Ok(Codec::Mjpeg),
        b"vp09" => Ok(Codec::Vp9),
        b"av01" => Ok(Codec::Av1),
        b"mp4v" => Ok(Codec::Mpeg4),
        b"hvc1" | b"hev1" => Ok(Codec::Hevc),
        other => {
            let name = match other {
                b"vp08" => "vp8".to_owned(),
                b"s263" | b"h263" => "h263".to_owned(),
                b"apch" | b"apcn" | b"apcs" | b"apco" | b"ap4h" => "prores".to_owned(),
                x => format!("`{}`", fourcc(*x)),
            };
            Err(MediaError::unsupported(format!(
                "codec {name} is not supported"
            )))
        }
    }
}

/// Shifts presentation times by the edit list (as players do) and returns the duration.
/// Without it, frames come out shifted by the encoder's reorder delay.
fn apply_edits(
    samples: &mut [Sample],
    edits: Option<&EditList>,
    timescale: u32,
    movie_timescale: u32,
    media_duration: u64,
) -> i64 {
    let to_media = |movie_ticks: u64| -> i64 {
        (u128::from(movie_ticks) * u128::from(timescale) / u128::from(movie_timescale.max(1)))
            .min(i64::MAX as u128) as i64
    };
    let (shift, shown) = match edits {
        Some(e) => (
            to_media(e.empty_ticks).saturating_sub(e.media_start),
            e.duration.map(to_media),
        ),
        None => (0, None),
    };
    for s in samples.iter_mut() {
        s.pts = s.pts.saturating_add(shift);
    }
    let last_end = samples.iter().map(|s| s.pts).max().unwrap_or(0);
    match shown {
        Some(d) if d > 0 => d,
        _ if media_duration > 0 => {
            (media_duration.min(i64::MAX as u64) as i64).saturating_add(shift)
        }
        _ => last_end,
    }
}

fn movie_timescale(mvhd: &[u8]) -> Result<u32> {
    let mut c = Cursor::new(mvhd, "mvhd");
    let version = c.u8()?;
    c.skip(3 + if version == 1 { 16 } else { 8 })?;
    c.u32()
}

fn media_header(mdhd: &[u8]) -> Result<(u32, u64)> {
    let mut c = Cursor::new(mdhd, "mdhd");
    let version = c.u8()?;
    c.skip(3)?;
    let (timescale, duration) = if version == 1 {
        c.skip(16)?;
        (c.u32()?, c.u64()?)
    } else {
        c.skip(8)?;
        (c.u32()?, u64::from(c.u32()?))
    };
    if timescale == 0 {
        return Err(MediaError::invalid(
            "the MP4 video track has a zero timescale",
        ));
    }
    Ok((
        timescale,
        if duration == u64::from(u32::MAX) {
            0
        } else {
            duration
        },
    ))
}

/// From the first frame shown to the end of the last: the duration of a fragmented track
/// whose header says none (the last frame lasts as long as the typical one).
fn shown_span(samples: &[Sample]) -> u64 {
    let mut pts: Vec<i64> = samples.iter().map(|s| s.pts).collect();
    pts.sort_unstable();
    let mut steps: Vec<i64> = pts
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|&d| d > 0)
        .collect();
    steps.sort_unstable();
    let step = steps.get(steps.len() / 2).copied().unwrap_or(0);
    let span = pts.last().copied().unwrap_or(0) - pts.first().copied().unwrap_or(0);
    (span + step).max(0) as u64
}

/// The track's `track_ID`, which fragments name their samples' track by.
fn track_id(tkhd: &[u8]) -> Result<u32> {
    let mut c = Cursor::new(tkhd, "tkhd");
    let version = c.u8()?;
    c.skip(3 + if version == 1 { 16 } else { 8 })?;
    c.u32()
}

/// Reads the display rotation from the track header's matrix (clockwise degrees).
fn rotation_of(tkhd: &[u8]) -> Result<u32> {
    let mut c = Cursor::new(tkhd, "tkhd");
    let version = c.u8()?;
    c.skip(3 + if version == 1 { 32 } else { 20 } + 16)?;
    let a = c.u32()? as i32;
    let b = c.u32()? as i32;
    let _u = c.u32()?;
    let cc = c.u32()? as i32;
    let d = c.u32()? as i32;
    Ok(match (a.signum(), b.signum(), cc.signum(), d.signum()) {
        (0, 1, -1, 0) => 90,
        (-1, 0, 0, -1) => 180,
        (0, -1, 1, 0) => 270,
        _ => 0,
    })
}

fn find<'a>(data: &'a [u8], kind: &[u8; 4]) -> Result<Option<&'a [u8]>> {
    for item in Boxes::new(data) {
        let (k, body) = item?;
        if &k == kind {
            return Ok(Some(body));
        }
    }
    Ok(None)
}

fn require<'a>(data: &'a [u8], kind: &[u8; 4], parent: &str) -> Result<&'a [u8]> {
    find(data, kind)?.ok_or_else(|| {
        MediaError::invalid(format!(
            "MP4 `{parent}` box lacks its `{}` box",
            fourcc(*kind)
        ))
    })
}

/// A four-character code as text, for messages.
pub fn fourcc(kind: [u8; 4]) -> String {
    kind.iter()
        .map(|&b| if b.is_ascii_graphic() { b as char } else { '?' })
        .collect()
}
