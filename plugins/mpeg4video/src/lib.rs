//! An MPEG-4 Part 2 Visual decoder (ISO/IEC 14496-2): the Simple and Advanced Simple
//! profiles as Xvid, DivX 4/5 and libavcodec write them: I-, P- and B-VOPs, H.263 and
//! MPEG quantisation (custom matrices included), AC/DC prediction, half- and
//! quarter-sample motion compensation, four vectors per macroblock, direct-mode B
//! macroblocks, rounding control, resync markers and video packets, packed bitstreams.
//!
//! Refused as unsupported, by name: interlaced video, global motion compensation and
//! sprites, arbitrary shapes, data partitioning, scalability, NEWPRED, reduced
//! resolution, more than 8 bits per sample, short video header (H.263) streams.
//!
//! Pure Rust, no unsafe code, no I/O: it takes the bytes of a sample and gives planes.
//! [`Decoder::decode`] takes one container sample and returns the picture it shows.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod bits;
pub mod coef;
pub mod decoder;
pub mod error;
pub mod header;
pub mod idct;
pub mod intra;
pub mod mc;
pub mod picture;
pub mod predict;
pub mod tables;
pub mod vlc;
pub mod vop;

pub use decoder::Decoder;
pub use error::{Error, Result};
pub use picture::{Picture, Plane};
