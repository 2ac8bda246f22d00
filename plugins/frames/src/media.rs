//! Types shared by the containers, decoders and encoders: errors, tracks, pictures.
//!
//! Nothing here knows about the plugin SDK, so the media code runs in native unit tests.

use std::fmt;

/// Largest width or height accepted, in pixels (the plugin's documented limit).
pub const MAX_DIMENSION: u32 = 8192;

/// Why the media code gave up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaError {
    /// The file is corrupt, truncated or breaks a limit: retrying will not help.
    Invalid(String),
    /// The file is valid but uses something this plugin does not decode.
    Unsupported(String),
    /// The caller asked to stop.
    Cancelled,
}

impl MediaError {
    /// An `Invalid` error.
    pub fn invalid(message: impl Into<String>) -> Self {
        MediaError::Invalid(message.into())
    }
    /// An `Unsupported` error.
    pub fn unsupported(message: impl Into<String>) -> Self {
        MediaError::Unsupported(message.into())
    }
}

impl fmt::Display for MediaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MediaError::Invalid(m) | MediaError::Unsupported(m) => f.write_str(m),
            MediaError::Cancelled => f.write_str("cancelled"),
        }
    }
}

impl std::error::Error for MediaError {}

impl From<std::io::Error> for MediaError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            MediaError::invalid("the file ends early (truncated?)")
        } else {
            MediaError::invalid(format!("reading the file failed: {e}"))
        }
    }
}

/// Shorthand for media results.
pub type Result<T> = std::result::Result<T, MediaError>;

/// A video codec, by the name the result JSON reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// H.264 / AVC.
    H264,
    /// Motion JPEG: every sample is a JPEG image.
    Mjpeg,
    /// VP9.
    Vp9,
    /// AV1.
    Av1,
    /// MPEG-4 Part 2 Visual (Xvid, DivX 4/5).
    Mpeg4,
    /// Microsoft MPEG-4 version 3 (DivX 3).
    Msmpeg4v3,
    /// HEVC / H.265.
    Hevc,
    /// VP8.
    Vp8,
}

impl Codec {
    /// Lowercase name for the result JSON.
    pub fn name(self) -> &'static str {
        match self {
            Codec::H264 => "h264",
            Codec::Mjpeg => "mjpeg",
            Codec::Vp9 => "vp9",
            Codec::Av1 => "av1",
            Codec::Mpeg4 => "mpeg4",
            Codec::Msmpeg4v3 => "msmpeg4v3",
            Codec::Hevc => "hevc",
            Codec::Vp8 => "vp8",
        }
    }
}

/// Where one coded sample lies and when it is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Byte offset in the file.
    pub offset: u64,
    /// Size in bytes.
    pub size: u32,
    /// Presentation time in track ticks, edit list applied (may be negative: not shown).
    pub pts: i64,
    /// Decodable on its own (a sync sample).
    pub keyframe: bool,
}

/// The video track of a file, indexed: everything needed to seek and decode.
#[derive(Debug, Clone)]
pub struct VideoTrack {
    /// Container name for the result JSON (`mp4`, `matroska`, `avi`...).
    pub container: &'static str,
    /// The codec of the samples.
    pub codec: Codec,
    /// Codec setup bytes (the `avcC` record for H.264, `hvcC` for HEVC, `av1C` for AV1),
    /// empty when none: H.264 and HEVC samples are then Annex-B access units (MPEG-TS).
    pub codec_config: Vec<u8>,
    /// Coded width and height in pixels, as the container declares them.
    pub width: u32,
    /// See `width`.
    pub height: u32,
    /// Clockwise rotation to apply for display: 0, 90, 180 or 270.
    pub rotation: u32,
    /// Ticks per second of `Sample::pts`.
    pub timescale: u32,
    /// Presentation duration in ticks.
    pub duration: i64,
    /// The samples in decode order.
    pub samples: Vec<Sample>,
}

impl VideoTrack {
    /// Frames per second, from the median spacing of presentation times.
    pub fn fps(&self) -> f64 {
        let mut pts: Vec<i64> = self.samples.iter().map(|s| s.pts).collect();
        pts.sort_unstable();
        let mut deltas: Vec<i64> = pts
            .windows(2)
            .map(|w| w[1] - w[0])
            .filter(|d| *d > 0)
            .collect();
        if deltas.is_empty() {
            return 0.0;
        }
        let mid = deltas.len() / 2;
        let (_, median, _) = deltas.select_nth_unstable(mid);
        f64::from(self.timescale) / *median as f64
    }

    /// Duration in seconds.
    pub fn duration_seconds(&self) -> f64 {
        self.duration as f64 / f64::from(self.timescale.max(1))
    }

    /// Refuses dimensions outside 1..=`MAX_DIMENSION`.
    pub fn check_dimensions(width: u32, height: u32) -> Result<()> {
        if width == 0 || height == 0 {
            return Err(MediaError::invalid(format!(
                "the video claims {width}x{height} pixels"
            )));
        }
        if width > MAX_DIMENSION || height > MAX_DIMENSION {
            return Err(MediaError::invalid(format!(
                "the video claims {width}x{height} pixels, more than the {MAX_DIMENSION}x{MAX_DIMENSION} limit"
            )));
        }
        Ok(())
    }
}

/// A decoded picture as packed 8-bit RGB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgb {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 3` bytes, row by row.
    pub data: Vec<u8>,
}
