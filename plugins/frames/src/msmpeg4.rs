//! MS-MPEG4 v3 (DivX 3) with the `msmpeg4` crate (LGPL-2.1-or-later, derived from
//! FFmpeg; its whole source is in `plugins/msmpeg4`). The format has no sequence header:
//! the AVI stream format gives the picture size.

use crate::decode::{FrameDecoder, Want};
use crate::media::{Result, Rgb, VideoTrack};
use crate::mpeg4::{media_error, picture_to_rgb};
use msmpeg4::Decoder;

/// An MS-MPEG4 v3 decoder fed AVI chunks.
pub struct Msmpeg4 {
    decoder: Decoder,
}

impl Msmpeg4 {
    /// A decoder for `track`'s picture size.
    pub fn new(track: &VideoTrack) -> Result<Self> {
        let decoder =
            Decoder::new(track.width as usize, track.height as usize).map_err(media_error)?;
        Ok(Msmpeg4 { decoder })
    }
}

impl FrameDecoder for Msmpeg4 {
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
