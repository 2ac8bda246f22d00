//! MPEG-4 Part 2 (Xvid, DivX 4/5, libavcodec `mpeg4`) with the project's own
//! `mpeg4video` decoder, and what the containers need to know of its bitstream: the
//! decoder configuration in an MP4 `esds` box, and the VOP types at the head of AVI
//! chunks (AVI has no timestamps, so keyframes and display order come from them).

use crate::decode::{FrameDecoder, Want};
use crate::media::{MediaError, Result, Rgb, VideoTrack};
use crate::yuv::Yuv420;
use mpeg4video::{Decoder, Error, Picture};

/// An MPEG-4 Part 2 decoder fed container samples.
pub struct Mpeg4 {
    decoder: Decoder,
}

/// How much larger than the container says a VOL may claim to be (area): more is taken
/// for a lying header, refused before pictures of that size are allocated.
const AREA_SLACK: usize = 4;

/// The decoder's errors as media errors.
pub fn media_error(e: Error) -> MediaError {
    match e {
        Error::Invalid(m) => MediaError::invalid(m),
        Error::Unsupported(m) => MediaError::unsupported(m),
    }
}

/// Converts a decoded picture to RGB.
pub fn picture_to_rgb(p: &Picture) -> Result<Rgb> {
    VideoTrack::check_dimensions(p.width as u32, p.height as u32)?;
    Yuv420 {
        width: p.width,
        height: p.height,
        y: &p.y.data,
        y_stride: p.y.stride,
        u: &p.u.data,
        v: &p.v.data,
        c_stride: p.u.stride,
        full_range: false,
    }
    .to_rgb()
}

impl Mpeg4 {
    /// A decoder for `track`, set up with the stream's out-of-band headers (VOL), if any.
    pub fn new(track: &VideoTrack) -> Result<Self> {
        let config = &track.codec_config;
        let mut decoder = Decoder::new();
        decoder.set_max_area(track.width as usize * track.height as usize * AREA_SLACK);
        if !config.is_empty() {
            decoder.configure(config).map_err(media_error)?;
        }
        Ok(Mpeg4 { decoder })
    }
}

impl FrameDecoder for Mpeg4 {
    fn decode(&mut self, sample: &[u8], want: Want) -> Result<Option<Rgb>> {
        let picture = self.decoder.decode(sample).map_err(media_error)?;
        match picture {
            Some(p) if want.picture() => picture_to_rgb(p).map(Some),
            _ => Ok(None),
        }
    }

    fn reset(&mut self) {
        self.decoder.reset();
    }
}

/// Reads an MPEG-4 descriptor header (tag, then a length of 1-4 bytes of 7 bits).
fn descriptor(data: &[u8], pos: &mut usize) -> Option<(u8, usize)> {
    let tag = *data.get(*pos)?;
    *pos += 1;
    let mut len = 0usize;
    for _ in 0..4 {
        let b = *data.get(*pos)?;
        *pos += 1;
        len = (len << 7) | usize::from(b & 0x7f);
        if b & 0x80 == 0 {
            break;
        }
    }
    Some((tag, len))
}

/// The decoder-specific info (VOS/VOL headers) of an `esds` box body, after checking
/// that the stream is MPEG-4 Visual (object type 0x20).
pub fn esds_config(esds: &[u8]) -> Result<Vec<u8>> {
    let bad = || MediaError::invalid("the MP4 `esds` box of the mp4v track is corrupt");
    let mut pos = 4; // version and flags
    let (tag, _) = descriptor(esds, &mut pos).ok_or_else(bad)?;
    if tag != 3 {
        return Err(bad());
    }
    let flags = *esds.get(pos + 2).ok_or_else(bad)?;
    pos += 3;
    if flags & 0x80 != 0 {
        pos += 2;
    }
    if flags & 0x40 != 0 {
        pos += 1 + usize::from(*esds.get(pos).ok_or_else(bad)?);
    }
    if flags & 0x20 != 0 {
        pos += 2;
    }
    let (tag, _) = descriptor(esds, &mut pos).ok_or_else(bad)?;
    if tag != 4 {
        return Err(bad());
    }
    let object_type = *esds.get(pos).ok_or_else(bad)?;
    if object_type != 0x20 {
        let name = match object_type {
            0x60..=0x65 => "mpeg2video".to_owned(),
            0x6a => "mpeg1video".to_owned(),
            0x6c => "mjpeg".to_owned(),
            t => format!("with MP4 object type 0x{t:02x}"),
        };
        return Err(MediaError::unsupported(format!(
            "codec {name} is not supported"
        )));
    }
    pos += 13;
    match descriptor(esds, &mut pos) {
        Some((5, len)) => Ok(esds.get(pos..pos + len).ok_or_else(bad)?.to_vec()),
        _ => Ok(Vec::new()),
    }
}

/// What the first bytes of an AVI chunk say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChunkHead {
    /// Coding type of the first VOP (0 I, 1 P, 2 B, 3 S), if one starts in the bytes.
    pub first_vop: Option<u8>,
    /// The chunk carries a VOL header (the stream's configuration).
    pub has_vol: bool,
    /// Byte offset of the first VOP start code, when found.
    pub vop_at: Option<usize>,
    /// User data marks a DivX/Xvid packed bitstream ("DivX...p").
    pub packed: bool,
}

/// Looks at the start codes in the first bytes of a chunk.
pub fn chunk_head(head: &[u8]) -> ChunkHead {
    let mut out = ChunkHead::default();
    let mut i = 0;
    while i + 4 < head.len() {
        if head[i] == 0 && head[i + 1] == 0 && head[i + 2] == 1 {
            match head[i + 3] {
                0x20..=0x2f => out.has_vol = true,
                0xb2 => {
                    let text: Vec<u8> = head[i + 4..]
                        .iter()
                        .copied()
                        .take_while(|&c| c != 0)
                        .collect();
                    if text.starts_with(b"DivX") && text.last() == Some(&b'p') {
                        out.packed = true;
                    }
                }
                0xb6 => {
                    out.first_vop = Some(head[i + 4] >> 6);
                    out.vop_at = Some(i);
                    return out;
                }
                _ => {}
            }
            i += 4;
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_heads() {
        let mut d = vec![0, 0, 1, 0xb2];
        d.extend_from_slice(b"DivX503b1393p\0");
        d.extend_from_slice(&[0, 0, 1, 0x20, 0, 0, 0, 1, 0xb6, 0x40, 0]);
        let h = chunk_head(&d);
        assert!(h.packed && h.has_vol);
        assert_eq!(h.first_vop, Some(1));
        assert_eq!(chunk_head(&[1, 2, 3]), ChunkHead::default());
    }

    #[test]
    fn esds_object_types() {
        // version/flags, ES_Descriptor(3), DecoderConfig(4) type 0x20, DecSpecificInfo(5).
        let mut e = vec![0, 0, 0, 0, 3, 25, 0, 1, 0, 4, 17, 0x20, 0x11];
        e.extend_from_slice(&[0; 11]);
        e.extend_from_slice(&[5, 2, 0xab, 0xcd]);
        assert_eq!(esds_config(&e).unwrap(), vec![0xab, 0xcd]);
        e[11] = 0x61;
        assert!(
            matches!(esds_config(&e), Err(MediaError::Unsupported(m)) if m.contains("mpeg2video"))
        );
        assert!(esds_config(&[0, 0]).is_err());
    }
}
