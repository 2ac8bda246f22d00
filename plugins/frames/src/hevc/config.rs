//! The HEVC decoder configuration: the `hvcC` record of MP4 and Matroska (the same bytes),
//! or, for Annex-B streams (MPEG-TS), nothing but the parameter sets found in-band.
//!
//! Only what the plugin needs is read: the NAL length size, the parameter sets to feed the
//! decoder first, the profile for the result JSON, and from the SPS the picture size (to
//! refuse absurd sizes before the decoder allocates) and the number of temporal
//! sub-layers (to know which pictures nothing references, see `super::droppable`).

use crate::media::{MediaError, Result, VideoTrack};
use crate::nal::{Bits, unescape};

/// NAL unit types of the parameter sets.
pub const VPS: u8 = 32;
/// Sequence parameter set.
pub const SPS: u8 = 33;
/// Picture parameter set.
pub const PPS: u8 = 34;

/// What the plugin reads from an HEVC SPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpsInfo {
    /// `general_profile_idc`.
    pub profile: u8,
    /// `sps_max_sub_layers_minus1`: the highest `TemporalId` in the stream.
    pub max_sub_layer: u8,
    /// `chroma_format_idc` (1 is 4:2:0).
    pub chroma_format: u32,
    /// Luma samples per row and rows, before cropping.
    pub width: u32,
    /// See `width`.
    pub height: u32,
    /// `bit_depth_luma_minus8 + 8`.
    pub bit_depth: u32,
    /// The picture size after the conformance window's cropping.
    pub display: (u32, u32),
}

impl SpsInfo {
    /// Parses an SPS NAL unit (two header bytes, then the escaped payload).
    pub fn parse(nal: &[u8]) -> Result<Self> {
        let bad = || MediaError::invalid("the HEVC sequence parameter set (SPS) is corrupt");
        let rbsp = unescape(nal.get(2..).ok_or_else(bad)?);
        let mut b = Bits::new(&rbsp);
        b.skip(4).ok_or_else(bad)?; // sps_video_parameter_set_id
        let max_sub_layer = b.bits(3).ok_or_else(bad)? as u8;
        b.skip(1).ok_or_else(bad)?; // sps_temporal_id_nesting_flag
        // profile_tier_level(1, max_sub_layer)
        b.skip(3).ok_or_else(bad)?; // general_profile_space, general_tier_flag
        let profile = b.bits(5).ok_or_else(bad)? as u8;
        b.skip(32 + 48 + 8).ok_or_else(bad)?; // compatibility, constraints, level
        let mut present = Vec::new();
        for _ in 0..max_sub_layer {
            present.push((b.bit().ok_or_else(bad)?, b.bit().ok_or_else(bad)?));
        }
        if max_sub_layer > 0 {
            b.skip(2 * (8 - usize::from(max_sub_layer)))
                .ok_or_else(bad)?;
        }
        for (profile_present, level_present) in present {
            b.skip(88 * profile_present as usize + 8 * level_present as usize)
                .ok_or_else(bad)?;
        }
        b.ue().ok_or_else(bad)?; // sps_seq_parameter_set_id
        let chroma_format = b.ue().ok_or_else(bad)?;
        if chroma_format == 3 {
            b.skip(1).ok_or_else(bad)?;
        }
        let width = b.ue().ok_or_else(bad)?;
        let height = b.ue().ok_or_else(bad)?;
        let mut crop = [0u32; 4]; // left, right, top, bottom in chroma units
        if b.bit().ok_or_else(bad)? == 1 {
            for c in &mut crop {
                *c = b.ue().ok_or_else(bad)?;
            }
        }
        let (sub_w, sub_h) = match chroma_format {
            1 => (2, 2),
            2 => (2, 1),
            _ => (1, 1),
        };
        let display = (
            width.saturating_sub(sub_w * crop[0].saturating_add(crop[1])),
            height.saturating_sub(sub_h * crop[2].saturating_add(crop[3])),
        );
        let bit_depth = b.ue().ok_or_else(bad)?.saturating_add(8);
        Ok(SpsInfo {
            profile,
            max_sub_layer,
            chroma_format,
            width,
            height,
            bit_depth,
            display,
        })
    }
}

/// The parsed `hvcC` record, or the in-band parameter sets of an Annex-B stream.
#[derive(Debug, Clone)]
pub struct HvcConfig {
    /// Bytes in each NAL unit's length prefix (1, 2 or 4); `None` for Annex-B samples.
    pub length_size: Option<usize>,
    /// VPS, SPS and PPS NAL units, in that order, to give the decoder first.
    pub parameter_sets: Vec<Vec<u8>>,
    /// The first SPS, parsed (`None` when the record carries none: then it is in-band).
    pub sps: Option<SpsInfo>,
    /// `general_profile_idc` from the record.
    pub profile: u8,
}

impl HvcConfig {
    /// Parses an `HEVCDecoderConfigurationRecord`; empty bytes mean Annex-B samples.
    pub fn parse(record: &[u8]) -> Result<Self> {
        if record.is_empty() {
            return Ok(HvcConfig {
                length_size: None,
                parameter_sets: Vec::new(),
                sps: None,
                profile: 0,
            });
        }
        let bad = |why: &str| {
            MediaError::invalid(format!(
                "the HEVC decoder configuration (hvcC) is corrupt: {why}"
            ))
        };
        if record.len() < 23 || record[0] != 1 {
            return Err(bad("no version-1 header"));
        }
        let length_size = usize::from(record[21] & 3) + 1;
        if length_size == 3 {
            return Err(bad("a 3-byte NAL length"));
        }
        let mut parameter_sets = Vec::new();
        let mut pos = 23;
        let byte = |at: usize| record.get(at).copied().ok_or_else(|| bad("cut short"));
        for _ in 0..record[22] {
            pos += 1; // completeness and NAL type: the NAL header says the type again
            let count = usize::from(u16::from_be_bytes([byte(pos)?, byte(pos + 1)?]));
            pos += 2;
            for _ in 0..count {
                let len = usize::from(u16::from_be_bytes([byte(pos)?, byte(pos + 1)?]));
                let nal = record
                    .get(pos + 2..pos + 2 + len)
                    .ok_or_else(|| bad("a parameter set runs past its end"))?;
                pos += 2 + len;
                if nal.len() >= 2 && matches!(nal_type(nal), VPS | SPS | PPS) {
                    parameter_sets.push(nal.to_vec());
                }
            }
        }
        parameter_sets.sort_by_key(|n| nal_type(n));
        let sps = match parameter_sets.iter().find(|n| nal_type(n) == SPS) {
            Some(n) => Some(SpsInfo::parse(n)?),
            None => None,
        };
        Ok(HvcConfig {
            length_size: Some(length_size),
            parameter_sets,
            sps,
            profile: record[1] & 31,
        })
    }

    /// Profile name as ffprobe prints it, from the record or else the SPS.
    pub fn profile_name(&self) -> Option<String> {
        let profile = match (self.profile, &self.sps) {
            (0, Some(s)) => s.profile,
            (0, None) => return None,
            (p, _) => p,
        };
        Some(profile_name(profile))
    }
}

/// `general_profile_idc` as ffprobe names it.
pub fn profile_name(profile: u8) -> String {
    match profile {
        1 => "Main".into(),
        2 => "Main 10".into(),
        3 => "Main Still Picture".into(),
        4 => "Rext".into(),
        p => format!("profile {p}"),
    }
}

/// The NAL unit type of an HEVC NAL unit (its header's bits 1-6).
pub fn nal_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0xff, |b| (b >> 1) & 0x3f)
}

/// The `TemporalId` of an HEVC NAL unit.
pub fn temporal_id(nal: &[u8]) -> u8 {
    nal.get(1).map_or(0, |b| (b & 7).saturating_sub(1))
}

/// Refuses what this plugin cannot turn into RGB, and absurd sizes, before decoding.
pub fn check(sps: &SpsInfo) -> Result<()> {
    VideoTrack::check_dimensions(sps.width, sps.height)?;
    if !matches!(sps.profile, 1..=3) {
        return Err(MediaError::unsupported(format!(
            "HEVC {} profile is not supported (Main and Main 10 are)",
            profile_name(sps.profile)
        )));
    }
    if sps.chroma_format != 1 {
        return Err(MediaError::unsupported(
            "HEVC chroma other than 4:2:0 is not supported",
        ));
    }
    if sps.bit_depth > 10 {
        return Err(MediaError::unsupported(format!(
            "HEVC at {} bits per sample is not supported (8 and 10 are)",
            sps.bit_depth
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_records_are_refused() {
        assert!(HvcConfig::parse(&[2; 23]).is_err());
        let mut cut = vec![0u8; 23];
        cut[0] = 1;
        cut[21] = 3;
        cut[22] = 1; // one array promised, none present
        assert!(HvcConfig::parse(&cut).is_err());
        assert!(HvcConfig::parse(&[]).unwrap().length_size.is_none());
    }

    #[test]
    fn nal_header_fields() {
        assert_eq!(nal_type(&[0x42, 0x01]), SPS);
        assert_eq!(nal_type(&[0x26, 0x01]), 19);
        assert_eq!(temporal_id(&[0x02, 0x03]), 2);
    }
}
