//! AVI (RIFF) demuxing for Motion JPEG, MPEG-4 Part 2 and MS-MPEG4 v3.
//!
//! The `movi` lists are walked by chunk headers rather than trusting `idx1`, whose
//! offsets are relative to different places in different writers; that also covers
//! OpenDML files (`AVIX` continuation chunks) without reading their super-indexes.
//!
//! AVI has no timestamps and its keyframe flags live in that index, so for the MPEG-4
//! codecs the first bytes of each chunk are read while walking (they come in the same
//! buffered reads): the picture type there says which chunks are keyframes, whether or
//! not the file has an index (or a truthful one). For MPEG-4 with B-VOPs stored one per
//! chunk in decode order (as libavcodec writes AVI), the types also give the display
//! order; DivX/Xvid "packed" files already show one picture per chunk (see `mpeg4`).

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
    /// `strf` bytes after the BITMAPINFOHEADER (MPEG-4 headers, when the writer put
    /// them there).
    extra: Vec<u8>,
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
                let header_size = (le32(f, 0) as usize).max(40);
                return Ok(Stream {
                    index,
                    handler,
                    extra: f.get(header_size..).unwrap_or(&[]).to_vec(),
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
    let name =
        match &upper {
            b"MJPG" | b"AVRN" | b"LJPG" | b"DMB1" | b"JPEG" => return Ok(Codec::Mjpeg),
            b"DIV3" | b"MP43" | b"MPG3" | b"DIV4" | b"DIV5" | b"DIV6" | b"AP41" | b"COL1"
            | b"DVX3" => return Ok(Codec::Msmpeg4v3),
            b"XVID" | b"XVIX" | b"DIVX" | b"DX50" | b"FMP4" | b"MP4V" | b"MP4S" | b"M4S2"
            | b"UMP4" | b"RMP4" | b"3IV2" | b"DM4V" | b"BLZ0" | b"GEOV" | b"SEDG" | b"WV1F"
            | b"SMP4" => return Ok(Codec::Mpeg4),
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
    let mut heads = Heads::default();
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
                    heads.codec = codec_of(s.handler).ok();
                    index_movi(
                        r,
                        cdata + 4,
                        cdata.saturating_add(csize).min(end),
                        s.index,
                        &mut frame,
                        &mut samples,
                        &mut heads,
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
    let codec_config = heads.apply(codec, &mut samples, s.extra);
    for smp in &mut samples {
        smp.pts = smp.pts.saturating_mul(i64::from(s.scale));
    }
    Ok(VideoTrack {
        container: "avi",
        codec,
        codec_config,
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
    heads: &mut Heads,
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
                heads.read(r, data, size)?;
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

/// Bytes read at the head of each chunk of an MPEG-4 or MS-MPEG4 stream.
const HEAD_BYTES: u32 = 256;

/// The chunk heads of the video stream, for the codecs that need them.
#[derive(Default)]
struct Heads {
    codec: Option<Codec>,
    /// Per sample: the coding type of its first picture (255: none found).
    kinds: Vec<u8>,
    /// DivX/Xvid packed bitstream.
    packed: bool,
    /// The stream headers (up to the first VOP) of the first chunk that has a VOL.
    vol: Option<Vec<u8>>,
}

impl Heads {
    fn read<R: Read + Seek>(&mut self, r: &mut R, at: u64, size: u32) -> Result<()> {
        if !matches!(self.codec, Some(Codec::Mpeg4 | Codec::Msmpeg4v3)) {
            return Ok(());
        }
        let head = read(r, at, u64::from(size.min(HEAD_BYTES)))?;
        if self.codec == Some(Codec::Msmpeg4v3) {
            // The picture header opens with the 2-bit type: 0 intra, 1 predicted.
            self.kinds.push(head.first().map_or(255, |b| b >> 6));
            return Ok(());
        }
        let h = crate::mpeg4::chunk_head(&head);
        self.packed |= h.packed;
        if h.has_vol && self.vol.is_none() {
            self.vol = Some(head[..h.vop_at.unwrap_or(head.len())].to_vec());
        }
        self.kinds.push(h.first_vop.unwrap_or(255));
        Ok(())
    }

    /// Sets keyframes (and display order) from the chunk heads; returns the codec
    /// configuration (the `strf` extra data, else the first in-band VOL headers).
    fn apply(self, codec: Codec, samples: &mut [Sample], extra: Vec<u8>) -> Vec<u8> {
        if !matches!(codec, Codec::Mpeg4 | Codec::Msmpeg4v3) || self.kinds.len() != samples.len() {
            return extra;
        }
        for (s, &k) in samples.iter_mut().zip(&self.kinds) {
            s.keyframe = k == 0;
        }
        if codec == Codec::Msmpeg4v3 {
            return extra;
        }
        if !self.packed && self.kinds.contains(&2) {
            // One VOP per chunk in decode order: a B-VOP shows next, a reference shows
            // when the next reference arrives.
            let slots: Vec<i64> = samples.iter().map(|s| s.pts).collect();
            let (mut next, mut pending) = (0usize, None::<usize>);
            for (i, &k) in self.kinds.iter().enumerate() {
                if k == 2 {
                    samples[i].pts = slots[next];
                    next += 1;
                } else {
                    if let Some(p) = pending {
                        samples[p].pts = slots[next];
                        next += 1;
                    }
                    pending = Some(i);
                }
            }
            if let Some(p) = pending {
                samples[p].pts = slots[next];
            }
        }
        if extra.is_empty() {
            self.vol.unwrap_or_default()
        } else {
            extra
        }
    }
}
