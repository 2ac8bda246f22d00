//! AVI (RIFF) demuxing for Motion JPEG.
//!
//! The `movi` lists are walked by chunk headers rather than trusting `idx1`, whose
//! offsets are relative to different places in different writers; that also covers
//! OpenDML files (`AVIX` continuation chunks) without reading their super-indexes.

use crate::media::{Codec, MediaError, Result, Sample, VideoTrack};
use crate::mp4::fourcc;
use std::io::{Read, Seek, SeekFrom};

/// Most chunks indexed (as for the other containers).
const MAX_SAMPLES: usize = 4_000_000;

fn le32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Reads a chunk header at `pos`: `(id, size, data offset)`.
fn chunk<R: Read + Seek>(r: &mut R, pos: u64) -> Result<([u8; 4], u64, u64)> {
    r.seek(SeekFrom::Start(pos))?;
    let mut h = [0u8; 8];
    r.read_exact(&mut h)?;
    Ok(([h[0], h[1], h[2], h[3]], u64::from(le32(&h, 4)), pos + 8))
}

fn read<R: Read + Seek>(r: &mut R, at: u64, len: u64) -> Result<Vec<u8>> {
    if len > 1 << 20 {
        return Err(MediaError::invalid(
            "AVI header chunk is implausibly large (corrupt file?)",
        ));
    }
    let mut buf = vec![0u8; len as usize];
    r.seek(SeekFrom::Start(at))?;
    r.read_exact(&mut buf)?;
    Ok(buf)
}

struct Stream {
    index: usize,
    handler: [u8; 4],
    scale: u32,
    rate: u32,
    width: u32,
    height: u32,
}

/// Finds the first video stream in the `hdrl` list.
fn video_stream(hdrl: &[u8]) -> Result<Stream> {
    let mut pos = 4; // after the list type `hdrl`
    let mut index = 0;
    while pos + 8 <= hdrl.len() {
        let id = &hdrl[pos..pos + 4];
        let size = le32(hdrl, pos + 4) as usize;
        let body = hdrl
            .get(pos + 8..pos + 8 + size)
            .ok_or_else(|| MediaError::invalid("AVI header list is cut short"))?;
        if id == b"LIST" && body.starts_with(b"strl") {
            let (mut strh, mut strf) = (None, None);
            let mut p = 4;
            while p + 8 <= body.len() {
                let sz = le32(body, p + 4) as usize;
                let b = body.get(p + 8..p + 8 + sz).unwrap_or(&[]);
                match &body[p..p + 4] {
                    b"strh" => strh = Some(b),
                    b"strf" => strf = Some(b),
                    _ => {}
                }
                p += 8 + sz + (sz & 1);
            }
            if let (Some(h), Some(f)) = (strh, strf)
                && h.starts_with(b"vids")
            {
                let handler = [
                    f.get(16).copied().unwrap_or(0),
                    f.get(17).copied().unwrap_or(0),
                    f.get(18).copied().unwrap_or(0),
                    f.get(19).copied().unwrap_or(0),
                ];
                let height = (le32(f, 8) as i32).unsigned_abs();
                return Ok(Stream {
                    index,
                    handler,
                    scale: le32(h, 20),
                    rate: le32(h, 24),
                    width: le32(f, 4),
                    height,
                });
            }
            index += 1;
        }
        pos += 8 + size + (size & 1);
    }
    Err(MediaError::invalid("the AVI file has no video stream"))
}

fn codec_of(handler: [u8; 4]) -> Result<Codec> {
    let mut upper = handler;
    upper.make_ascii_uppercase();
    let name = match &upper {
        b"MJPG" | b"AVRN" | b"LJPG" | b"DMB1" | b"JPEG" => return Ok(Codec::Mjpeg),
        b"DIV3" | b"MP43" => "msmpeg4v3".to_owned(),
        b"XVID" | b"DIVX" | b"DX50" | b"FMP4" | b"MP4V" => "mpeg4".to_owned(),
        b"H264" | b"X264" | b"AVC1" => "h264 in AVI".to_owned(),
        _ => format!("`{}`", fourcc(handler)),
    };
    Err(MediaError::unsupported(format!(
        "codec {name} is not supported"
    )))
}

/// Indexes the video stream of an AVI file.
pub fn open<R: Read + Seek>(r: &mut R, file_size: u64) -> Result<VideoTrack> {
    let (mut pos, mut stream, mut samples, mut frame) = (0u64, None, Vec::new(), 0i64);
    // Each top-level RIFF chunk (`AVI `, then `AVIX` in OpenDML files).
    while pos + 12 <= file_size {
        let (id, size, data) = chunk(r, pos)?;
        if &id != b"RIFF" {
            break;
        }
        let end = data.saturating_add(size);
        if end > file_size {
            return Err(MediaError::invalid(format!(
                "the AVI file needs bytes up to {end} but has {file_size}: the file is truncated"
            )));
        }
        let mut p = data + 4;
        while p + 8 <= end {
            let (cid, csize, cdata) = chunk(r, p)?;
            if &cid == b"LIST" {
                let kind = read(r, cdata, 4)?;
                if kind == b"hdrl" {
                    stream = Some(video_stream(&read(r, cdata, csize)?)?);
                } else if kind == b"movi" {
                    let s = stream.as_ref().ok_or_else(|| {
                        MediaError::invalid("AVI frames before the stream headers")
                    })?;
                    index_movi(
                        r,
                        cdata + 4,
                        cdata.saturating_add(csize).min(end),
                        s.index,
                        &mut frame,
                        &mut samples,
                    )?;
                }
            }
            p = cdata.saturating_add(csize + (csize & 1));
        }
        pos = end + (size & 1);
    }
    let s = stream.ok_or_else(|| MediaError::invalid("not an AVI file with a video stream"))?;
    let codec = codec_of(s.handler)?;
    VideoTrack::check_dimensions(s.width, s.height)?;
    if s.rate == 0 || s.scale == 0 {
        return Err(MediaError::invalid(
            "the AVI video stream has no frame rate",
        ));
    }
    if samples.is_empty() {
        return Err(MediaError::invalid("the AVI video stream has no frames"));
    }
    for smp in &mut samples {
        smp.pts = smp.pts.saturating_mul(i64::from(s.scale));
    }
    Ok(VideoTrack {
        container: "avi",
        codec,
        codec_config: Vec::new(),
        width: s.width,
        height: s.height,
        rotation: 0,
        timescale: s.rate,
        duration: frame.saturating_mul(i64::from(s.scale)),
        samples,
    })
}

/// Adds the video chunks (`NNdc`/`NNdb`) between `pos` and `end`; `frame` counts frames,
/// empty chunks included (they repeat the previous picture).
fn index_movi<R: Read + Seek>(
    r: &mut R,
    mut pos: u64,
    end: u64,
    stream: usize,
    frame: &mut i64,
    samples: &mut Vec<Sample>,
) -> Result<()> {
    let tag = [b'0' + (stream / 10 % 10) as u8, b'0' + (stream % 10) as u8];
    while pos + 8 <= end {
        let (id, size, data) = chunk(r, pos)?;
        if &id == b"LIST" {
            pos = data + 4; // `rec ` lists: walk into them
            continue;
        }
        if id[..2] == tag && (&id[2..] == b"dc" || &id[2..] == b"db") {
            if size > 0 {
                if samples.len() >= MAX_SAMPLES {
                    return Err(MediaError::invalid(format!(
                        "the AVI video stream has more than {MAX_SAMPLES} frames"
                    )));
                }
                let size = u32::try_from(size)
                    .map_err(|_| MediaError::invalid("AVI chunk larger than 4 GiB"))?;
                samples.push(Sample {
                    offset: data,
                    size,
                    pts: *frame,
                    keyframe: true,
                });
            }
            *frame += 1;
        }
        pos = data.saturating_add(size + (size & 1));
    }
    Ok(())
}
