//! MS-MPEG4 v3 (DivX 3): not yet decoded.

use crate::decode::{FrameDecoder, Want};
use crate::media::{MediaError, Result, Rgb, VideoTrack};

/// Placeholder until the decoder lands.
pub struct Msmpeg4;

impl Msmpeg4 {
    /// Refuses the track.
    pub fn new(_track: &VideoTrack) -> Result<Self> {
        Err(MediaError::unsupported("codec msmpeg4v3 is not supported"))
    }
}

impl FrameDecoder for Msmpeg4 {
    fn decode(&mut self, _sample: &[u8], _want: Want) -> Result<Option<Rgb>> {
        Ok(None)
    }
    fn reset(&mut self) {}
}
