//! A VP8 video decoder in safe Rust, written from RFC 6386 ("VP8 Data Format and Decoding
//! Guide"), for the frames plugin: browsers' `MediaRecorder` writes VP8 in WebM.
//!
//! It decodes key and inter frames of bitstream versions 0 to 3: all intra and inter
//! prediction modes (split motion vectors included), segmentation, token partitions,
//! probability updates and their per-frame save and restore, the golden and alt-ref
//! frames with sign bias and buffer copies, the six-tap and bilinear filters, the normal
//! and simple loop filters, and size changes at key frames. The arithmetic is the RFC's
//! exact integer arithmetic, so pictures match other conforming decoders bit for bit.
//!
//! Input is one frame at a time (a WebM block's payload), output a borrowed 4:2:0
//! [`Picture`]. Corrupt input gives an [`Error`] or a wrong picture, never a panic: every
//! read is bounds-checked, and partitions read past their end decode as zeros until
//! [`Error::Corrupt`] says they ran out.
//!
//! ```
//! let mut decoder = framepipe_vp8::Decoder::new();
//! // An inter frame before any key frame has nothing to be predicted from.
//! assert_eq!(decoder.decode(&[0x01, 0, 0]), Err(framepipe_vp8::Error::NoKeyframe));
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod bool_decoder;
mod decoder;
mod frame;
mod header;
mod idct;
mod inter;
mod intra;
mod loop_filter;
mod modes;
mod reconstruct;
mod rows;
mod tables;
mod tokens;

pub use decoder::{Decoder, MAX_SIDE, Picture};

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The data breaks the format (cut short, sizes that do not fit, a missing start code).
    #[error("the VP8 data is corrupt: {0}")]
    Corrupt(String),
    /// Valid VP8 this decoder does not handle (bitstream versions above 3).
    #[error("VP8 {0} is not supported")]
    Unsupported(String),
    /// An inter frame came before any key frame.
    #[error("the VP8 stream does not start with a key frame")]
    NoKeyframe,
    /// A key frame is larger than the decoder was allowed.
    #[error(
        "the VP8 key frame claims {width}x{height} pixels, more than the {max} allowed per side"
    )]
    TooLarge {
        /// Claimed width.
        width: u32,
        /// Claimed height.
        height: u32,
        /// The limit.
        max: u32,
    },
}

impl Error {
    pub(crate) fn corrupt(message: impl Into<String>) -> Self {
        Error::Corrupt(message.into())
    }
}
