//! What a file is by its first bytes, not its name: uploads are typed by content when
//! the content is a container the plugins read (a camcorder's `.MTS`, a `.3gp`, a file
//! named without an extension), and by the extension only when the content says nothing.

/// Bytes of the file's start that `media_type_of_content` needs (three 192-byte packets).
pub const HEAD: usize = 1024;

/// The media type of a file from its first bytes, when they are a known container.
pub fn media_type_of_content(head: &[u8]) -> Option<&'static str> {
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        return Some(match &head[8..11] {
            b"3gp" | b"3g2" => "video/3gpp",
            b"qt " => "video/quicktime",
            _ => "video/mp4",
        });
    }
    if head.len() >= 8 && matches!(&head[4..8], b"moov" | b"mdat" | b"wide" | b"free") {
        return Some("video/quicktime");
    }
    if head.starts_with(&[0x1a, 0x45, 0xdf, 0xa3]) {
        let webm = head.windows(4).any(|w| w == b"webm");
        return Some(if webm {
            "video/webm"
        } else {
            "video/x-matroska"
        });
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" {
        return match &head[8..12] {
            b"AVI " => Some("video/x-msvideo"),
            b"WEBP" => Some("image/webp"),
            _ => None,
        };
    }
    if head.starts_with(&[0xff, 0xd8, 0xff]) {
        return Some("image/jpeg");
    }
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some("image/png");
    }
    // MPEG-TS: sync bytes 188 apart, or 192 with a 4-byte timestamp before each (BDAV).
    let synced =
        |first: usize, step: usize| (0..3).all(|k| head.get(first + k * step) == Some(&0x47));
    if synced(0, 188) || synced(4, 192) {
        return Some("video/mp2t");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_by_content() {
        assert_eq!(
            media_type_of_content(b"\0\0\0\x18ftypisom\0\0\0\0"),
            Some("video/mp4")
        );
        assert_eq!(
            media_type_of_content(b"\0\0\0\x18ftyp3gp4\0\0\0\0"),
            Some("video/3gpp")
        );
        assert_eq!(
            media_type_of_content(b"\0\0\0\x14ftypqt  \0\0\0\0"),
            Some("video/quicktime")
        );
        let mut ts = vec![0u8; 600];
        for k in 0..3 {
            ts[k * 188] = 0x47;
        }
        assert_eq!(media_type_of_content(&ts), Some("video/mp2t"));
        let mut m2ts = vec![0u8; 600];
        for k in 0..3 {
            m2ts[4 + k * 192] = 0x47;
        }
        assert_eq!(media_type_of_content(&m2ts), Some("video/mp2t"));
        assert_eq!(media_type_of_content(b"MZ\x90\0 an executable"), None);
        assert_eq!(media_type_of_content(b""), None);
    }
}
