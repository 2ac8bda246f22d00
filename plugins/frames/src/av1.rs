//! AV1 in MP4 (`av01`) and Matroska/WebM (`V_AV1`), decoded by the pure-Rust rav1d 1.1
//! (8-bit 4:2:0, one thread: the only mode wasm has).
//!
//! A sample is a temporal unit: OBUs that end with exactly one shown frame (hidden
//! alt-ref frames and `show_existing_frame` included), so as with VP9 the sample's own
//! time is its picture's time and no reorder buffer is needed here.
//!
//! **rav1d's one hazard.** With one frame context, any error inside rav1d's frame decoding
//! makes rav1d 1.1 panic in an `extern "C"` function (memorysafety/rav1d#1497: `on_error`
//! unwraps a frame header its caller already took). That cannot be caught, in wasm or
//! natively: the process aborts. So, before a sample reaches rav1d:
//! - the container has checked that it lies inside the file (a cut file is named as
//!   truncated);
//! - `check_temporal_unit` checks every OBU header (forbidden and reserved bits, known
//!   types, `obu_size` inside the sample); parses sequence headers whole (trailing bits
//!   included) and compares the fields that matter with the track's `av1C` / CodecPrivate
//!   (not the bytes: libsvtav1's av1C copy differs from its in-band one in coding-tool
//!   bits); and reads each frame header far enough to refuse a frame that shows or
//!   predicts from a reference slot nothing filled since the keyframe (which also catches
//!   a wrong keyframe flag in the container). A `show_existing_frame` header is read whole.
//!
//! What these checks cannot see is damage in the rest of a frame header or in the tile
//! data: nothing short of decoding sees it. rav1d then either decodes a wrong picture or
//! fails, and failing aborts. For that case each rav1d call runs under a [`PanicNote`], so
//! the guest's last words are "the AV1 stream is damaged: rav1d failed decoding frame 151
//! at 5.033 s (…)", which the host reports as `INVALID_INPUT` rather than as a plugin
//! crash. Errors rav1d returns as values (a bad header, a missing reference) are ordinary
//! errors.

mod frame_header;
mod obu;
mod rav1d;

use crate::decode::{FrameDecoder, Want};
use crate::media::{MediaError, Result, Rgb, VideoTrack};
use frame_header::{FrameStart, References};
use framepipe_plugin_sdk::PanicNote;
use obu::{SequenceHeader, kind};

/// The parsed `av1C` record (MP4) or CodecPrivate (Matroska): the same bytes.
#[derive(Debug, Clone)]
pub struct Av1Config {
    /// `seq_profile`.
    pub profile: u8,
    /// `seq_level_idx_0`.
    pub level: u8,
    /// Bits per sample: 8, 10 or 12.
    pub bit_depth: u8,
    /// `monochrome`.
    pub monochrome: bool,
    /// `chroma_subsampling_x`, `chroma_subsampling_y`.
    pub subsampling: (bool, bool),
    /// The configuration OBUs (the sequence header, perhaps metadata), fed to rav1d first.
    pub obus: Vec<u8>,
    /// The sequence header among them, parsed.
    sequence: Option<SequenceHeader>,
}

impl Av1Config {
    /// Parses an `AV1CodecConfigurationRecord`.
    pub fn parse(record: &[u8]) -> Result<Self> {
        let bad = |why: &str| {
            MediaError::invalid(format!(
                "the AV1 decoder configuration (av1C) is corrupt: {why}"
            ))
        };
        if record.len() < 4 || record[0] != 0x81 {
            return Err(bad("no version-1 marker"));
        }
        let flags = record[2];
        let high = flags & 0x40 != 0;
        let mut config = Av1Config {
            profile: record[1] >> 5,
            level: record[1] & 31,
            bit_depth: match (high, flags & 0x20 != 0) {
                (false, _) => 8,
                (true, false) => 10,
                (true, true) => 12,
            },
            monochrome: flags & 0x10 != 0,
            subsampling: (flags & 0x08 != 0, flags & 0x04 != 0),
            obus: record[4..].to_vec(),
            sequence: None,
        };
        for o in obu::split(&config.obus).map_err(|e| bad(&e))? {
            if o.kind == kind::SEQUENCE_HEADER {
                let s = SequenceHeader::parse(o.payload).map_err(|e| bad(&e))?;
                if (s.profile, s.bit_depth, s.monochrome, s.subsampling)
                    != (
                        config.profile,
                        config.bit_depth,
                        config.monochrome,
                        config.subsampling,
                    )
                {
                    return Err(bad("its fields contradict its own sequence header"));
                }
                config.sequence.get_or_insert(s);
            }
        }
        Ok(config)
    }

    /// Profile name as ffprobe prints it.
    pub fn profile_name(&self) -> String {
        profile_name(self.profile)
    }
}

fn profile_name(profile: u8) -> String {
    match profile {
        0 => "Main".into(),
        1 => "High".into(),
        2 => "Professional".into(),
        p => format!("profile {p}"),
    }
}

/// Refuses what this build cannot turn into RGB.
fn check_supported(bit_depth: u8, monochrome: bool, subsampling: (bool, bool)) -> Result<()> {
    if bit_depth != 8 {
        return Err(MediaError::unsupported(format!(
            "AV1 at {bit_depth} bits per sample is not supported (8-bit only)"
        )));
    }
    if monochrome {
        return Err(MediaError::unsupported("monochrome AV1 is not supported"));
    }
    match subsampling {
        (true, true) => Ok(()),
        (true, false) => Err(MediaError::unsupported(
            "AV1 with 4:2:2 chroma is not supported",
        )),
        _ => Err(MediaError::unsupported(
            "AV1 with 4:4:4 chroma is not supported",
        )),
    }
}

/// What decoding a temporal unit will leave behind, if rav1d accepts it.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    sequence: Option<SequenceHeader>,
    references: References,
}

/// Checks one temporal unit before rav1d sees it (see the module docs). `sequence` is the
/// track's sequence header (None until one was seen), `references` the slots filled so far.
pub(crate) fn check_temporal_unit(
    sample: &[u8],
    sequence: Option<&SequenceHeader>,
    references: &References,
) -> std::result::Result<Checked, String> {
    if sample.is_empty() {
        return Err("the sample is empty".into());
    }
    let obus = obu::split(sample)?;
    let mut out = Checked {
        sequence: sequence.cloned(),
        references: *references,
    };
    let (mut shown, mut frame_open) = (0, false);
    for (i, o) in obus.iter().enumerate() {
        let at = |e: String| format!("OBU {}: {e}", i + 1);
        match o.kind {
            kind::SEQUENCE_HEADER => {
                let s = SequenceHeader::parse(o.payload).map_err(at)?;
                match &out.sequence {
                    Some(known) if *known != s => {
                        return Err(at(format!(
                            "the sequence header differs from the track's ({})",
                            difference(known, &s)
                        )));
                    }
                    Some(_) => {}
                    None => out.sequence = Some(s),
                }
            }
            kind::FRAME_HEADER | kind::FRAME => {
                let s = out
                    .sequence
                    .as_ref()
                    .ok_or_else(|| at("a frame comes before any sequence header".into()))?;
                if !s.selects(o) {
                    continue;
                }
                let f = FrameStart::parse(o, s).map_err(at)?;
                out.references.apply(&f).map_err(at)?;
                shown += usize::from(f.show_frame);
                frame_open = o.kind == kind::FRAME_HEADER && f.show_existing.is_none();
            }
            kind::TILE_GROUP if !frame_open => {
                return Err(at("a tile group without a frame header before it".into()));
            }
            kind::TILE_LIST => {
                return Err(at(
                    "a tile list, which only large-scale tile decoding uses".into()
                ));
            }
            kind::TILE_GROUP
            | kind::TEMPORAL_DELIMITER
            | kind::METADATA
            | kind::REDUNDANT_FRAME_HEADER
            | kind::PADDING => {}
            other => return Err(at(format!("unexpected OBU type {other}"))),
        }
    }
    if shown == 0 {
        return Err("the sample has no frame to show".into());
    }
    Ok(out)
}

/// The first field in which two sequence headers differ, for messages.
fn difference(a: &SequenceHeader, b: &SequenceHeader) -> &'static str {
    if a.profile != b.profile {
        "profile"
    } else if a.bit_depth != b.bit_depth {
        "bit depth"
    } else if (a.monochrome, a.subsampling) != (b.monochrome, b.subsampling) {
        "chroma format"
    } else if (a.max_width, a.max_height) != (b.max_width, b.max_height) {
        "largest frame size"
    } else {
        "coding tools"
    }
}

/// An AV1 decoder fed MP4 samples or Matroska blocks.
pub struct Av1 {
    /// Configuration OBUs, fed to each new rav1d decoder first.
    config_obus: Vec<u8>,
    /// The track's sequence header: from the configuration, else the first in the samples.
    sequence: Option<SequenceHeader>,
    references: References,
    max_pixels: u32,
    /// Opened on the first sample after a reset.
    decoder: Option<rav1d::Decoder>,
    /// Which sample the next `decode` gets, for the panic note.
    at: String,
}

impl Av1 {
    /// A decoder for `track` (its `codec_config` is the av1C record; empty when absent).
    pub fn new(track: &VideoTrack) -> Result<Self> {
        let (config_obus, sequence) = if track.codec_config.is_empty() {
            (Vec::new(), None)
        } else {
            let c = Av1Config::parse(&track.codec_config)?;
            check_supported(c.bit_depth, c.monochrome, c.subsampling)?;
            (c.obus, c.sequence)
        };
        // A frame may be up to twice as wide and high as the track says (superres, odd
        // muxers); more is damage, and refused before rav1d allocates for it.
        let declared = u64::from(track.width) * u64::from(track.height);
        let cap = u64::from(crate::media::MAX_DIMENSION).pow(2);
        Ok(Av1 {
            config_obus,
            sequence,
            references: References::default(),
            max_pixels: (declared * 4).min(cap) as u32,
            decoder: None,
            at: "a frame".into(),
        })
    }

    fn decoder(&mut self) -> Result<&mut rav1d::Decoder> {
        if self.decoder.is_none() {
            let mut d = rav1d::Decoder::open(self.max_pixels).map_err(|e| {
                MediaError::invalid(format!("the AV1 decoder did not start: {}", e.describe()))
            })?;
            let _note = PanicNote::invalid_input(
                "the AV1 decoder configuration is damaged: rav1d failed reading it",
            );
            d.decode(&self.config_obus)
                .map_err(|e| rav1d_error(e, "its configuration"))?;
            self.decoder = Some(d);
        }
        Ok(self.decoder.as_mut().expect("opened above"))
    }
}

fn rav1d_error(code: rav1d::Code, what: &str) -> MediaError {
    let message = format!(
        "the AV1 data could not be decoded: {} in {what}",
        code.describe()
    );
    if code.is_unsupported() {
        MediaError::unsupported(message)
    } else {
        MediaError::invalid(message)
    }
}

impl FrameDecoder for Av1 {
    fn decode(&mut self, sample: &[u8], want: Want) -> Result<Option<Rgb>> {
        let checked = check_temporal_unit(sample, self.sequence.as_ref(), &self.references)
            .map_err(|e| MediaError::invalid(format!("the AV1 data is corrupt: {e}")))?;
        if let (None, Some(s)) = (&self.sequence, &checked.sequence) {
            // No configuration record: the first sequence header in the samples decides.
            check_supported(s.bit_depth, s.monochrome, s.subsampling)?;
        }
        let note = format!(
            "the AV1 stream is damaged: rav1d failed decoding {}",
            self.at
        );
        let picture = {
            let decoder = self.decoder()?;
            let _note = PanicNote::invalid_input(note);
            decoder.decode(sample)
        }
        .map_err(|e| {
            // The decoder's state is unknown after an error: start afresh next time.
            self.reset();
            rav1d_error(e, "this frame")
        })?;
        self.sequence = checked.sequence;
        self.references = checked.references;
        let Some(picture) = picture else {
            return Ok(None);
        };
        if !want.picture() {
            return Ok(None);
        }
        let full_range = self.sequence.as_ref().is_some_and(|s| s.full_range);
        let planes = picture.planes(full_range).ok_or_else(|| {
            MediaError::unsupported(format!(
                "AV1 pictures other than 8-bit 4:2:0 are not supported (got {} bits)",
                picture.bit_depth()
            ))
        })?;
        VideoTrack::check_dimensions(planes.width as u32, planes.height as u32)?;
        planes.to_rgb().map(Some)
    }

    fn reset(&mut self) {
        self.decoder = None;
        self.references = References::default();
    }

    fn at(&mut self, index: usize, seconds: f64) {
        self.at = format!("frame {index} at {seconds:.3} s");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sequence header libsvtav1 wrote for the 1280x720 fixtures.
    const SEQUENCE_OBU: [u8; 13] = [
        0x0a, 0x0b, 0x00, 0x00, 0x00, 0x2d, 0x4c, 0xff, 0xb3, 0xcf, 0xbf, 0x90, 0x04,
    ];

    #[test]
    fn reads_av1c_and_its_sequence_header() {
        let mut record = vec![0x81, 0x05, 0x0c, 0x00];
        record.extend_from_slice(&SEQUENCE_OBU);
        let c = Av1Config::parse(&record).unwrap();
        assert_eq!((c.profile, c.level, c.bit_depth), (0, 5, 8));
        assert_eq!(c.profile_name(), "Main");
        let s = c.sequence.unwrap();
        assert_eq!((s.max_width, s.max_height), (1280, 720));
        assert_eq!(
            (s.subsampling, s.monochrome, s.full_range),
            ((true, true), false, false)
        );
        // A record whose fields contradict its sequence header, and cut ones.
        record[2] = 0x4c;
        assert!(
            Av1Config::parse(&record)
                .unwrap_err()
                .to_string()
                .contains("contradict")
        );
        assert!(Av1Config::parse(&[0x81, 0, 0]).is_err());
        assert!(Av1Config::parse(&[0x81, 0x05, 0x0c, 0x00, 0x0a, 0x0b, 0x00]).is_err());
    }

    #[test]
    fn temporal_units_need_a_sequence_header_and_a_shown_frame() {
        let refs = References::default();
        assert!(
            check_temporal_unit(&[], None, &refs)
                .unwrap_err()
                .contains("empty")
        );
        // A temporal delimiter and padding only.
        let nothing = [0x12, 0x00, 0x7a, 0x01, 0x00];
        assert!(
            check_temporal_unit(&nothing, None, &refs)
                .unwrap_err()
                .contains("no frame to show")
        );
        // A show_existing_frame header before any sequence header.
        let show = [0x1a, 0x01, 0xe8];
        assert!(
            check_temporal_unit(&show, None, &refs)
                .unwrap_err()
                .contains("before any sequence header")
        );
        // With one, it still shows a slot nothing filled.
        let s = SequenceHeader::parse(&SEQUENCE_OBU[2..]).unwrap();
        assert!(
            check_temporal_unit(&show, Some(&s), &refs)
                .unwrap_err()
                .contains("reference slot 6")
        );
        // A tile group with no frame header before it.
        let tiles = [0x22, 0x01, 0x00];
        assert!(
            check_temporal_unit(&tiles, Some(&s), &refs)
                .unwrap_err()
                .contains("tile group without a frame header")
        );
    }
}
