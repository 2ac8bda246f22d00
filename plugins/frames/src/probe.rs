//! Recognises the container from its first bytes and opens its video track.

use crate::media::{MediaError, Result, VideoTrack};
use std::io::{Read, Seek, SeekFrom};

/// A container family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// ISO base media / QuickTime.
    Mp4,
    /// Matroska or WebM.
    Matroska,
    /// RIFF AVI.
    Avi,
    /// MPEG transport stream (188-byte packets, or 192 in `.m2ts`).
    MpegTs,
}

/// Guesses the container from the first bytes of the file.
pub fn sniff(head: &[u8]) -> Result<Container> {
    if head.is_empty() {
        return Err(MediaError::invalid("the video is empty (0 bytes)"));
    }
    if head.len() >= 8
        && matches!(
            &head[4..8],
            b"ftyp" | b"moov" | b"mdat" | b"free" | b"wide" | b"skip"
        )
    {
        return Ok(Container::Mp4);
    }
    if head.starts_with(&[0x1a, 0x45, 0xdf, 0xa3]) {
        return Ok(Container::Matroska);
    }
    if head.len() >= 12 && &head[0..4] == b"RIFF" && &head[8..12] == b"AVI " {
        return Ok(Container::Avi);
    }
    if crate::ts::packet::Layout::detect(head).is_some_and(|l| l.base == 0) {
        return Ok(Container::MpegTs);
    }
    if head.starts_with(&[0, 0, 0, 1]) || head.starts_with(&[0, 0, 1]) {
        return Err(MediaError::unsupported(
            "raw H.264/H.265 streams without a container are not supported",
        ));
    }
    Err(MediaError::invalid(
        "not a video this plugin recognises: expected MP4/MOV, Matroska/WebM, AVI or MPEG-TS",
    ))
}

/// Sniffs the container and indexes the video track.
pub fn open<R: Read + Seek>(reader: &mut R, size: u64) -> Result<VideoTrack> {
    // Enough for three transport packets (the MPEG-TS sync pattern).
    let mut head = vec![0u8; size.min(1024) as usize];
    reader.seek(SeekFrom::Start(0))?;
    reader.read_exact(&mut head)?;
    match sniff(&head)? {
        Container::Mp4 => crate::mp4::open(reader, size),
        Container::Matroska => crate::mkv::open(reader, size),
        Container::Avi => crate::avi::open(reader, size),
        Container::MpegTs => crate::ts::open(reader, size),
    }
}

/// Indexes what the times (seconds) need, for containers indexed lazily (MPEG-TS: no
/// index in the file, read around each time instead of whole). No-op for the others.
pub fn index_around<R: Read + Seek>(
    track: &mut VideoTrack,
    reader: &mut R,
    size: u64,
    times: &[f64],
) -> Result<()> {
    if crate::ts::CONTAINERS.contains(&track.container) {
        crate::ts::index_around(track, reader, size, times)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs() {
        assert_eq!(sniff(b"\0\0\0\x18ftypmp42"), Ok(Container::Mp4));
        assert_eq!(sniff(&[0x1a, 0x45, 0xdf, 0xa3, 1]), Ok(Container::Matroska));
        assert_eq!(sniff(b"RIFF\0\0\0\0AVI LIST"), Ok(Container::Avi));
        assert!(matches!(sniff(b""), Err(MediaError::Invalid(_))));
        assert!(matches!(
            sniff(b"hello world, not a video"),
            Err(MediaError::Invalid(_))
        ));
    }
}
