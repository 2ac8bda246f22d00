//! AV1 syntax read before rav1d sees the data: OBU headers and the sequence header.
//!
//! rav1d 1.1 with one frame context (the only mode wasm has) aborts instead of returning an
//! error when a frame fails inside its decoder (memorysafety/rav1d#1497), so damage that
//! can be seen from the syntax is named here first (see `av1::check_temporal_unit`).
//! Everything is bounds-checked.

/// OBU types (AV1 spec 6.2.2).
pub mod kind {
    /// Sequence header.
    pub const SEQUENCE_HEADER: u8 = 1;
    /// Temporal delimiter.
    pub const TEMPORAL_DELIMITER: u8 = 2;
    /// Frame header (tile groups follow in their own OBUs).
    pub const FRAME_HEADER: u8 = 3;
    /// Tile group.
    pub const TILE_GROUP: u8 = 4;
    /// Metadata.
    pub const METADATA: u8 = 5;
    /// Frame header and its first tile group.
    pub const FRAME: u8 = 6;
    /// A copy of the frame header.
    pub const REDUNDANT_FRAME_HEADER: u8 = 7;
    /// Tile list (large-scale tile decoding only).
    pub const TILE_LIST: u8 = 8;
    /// Padding.
    pub const PADDING: u8 = 15;
}

/// A syntax error, as text for the user.
pub type Syntax<T> = std::result::Result<T, String>;

/// One OBU of a temporal unit.
#[derive(Debug, Clone, Copy)]
pub struct Obu<'a> {
    /// Its type (see [`kind`]).
    pub kind: u8,
    /// Temporal layer (0 without an extension header).
    pub temporal_id: u8,
    /// Spatial layer (0 without an extension header).
    pub spatial_id: u8,
    /// Whether the header had the extension byte.
    pub has_extension: bool,
    /// The payload, `obu_size` bytes.
    pub payload: &'a [u8],
}

/// Splits `data` into OBUs, checking each header and that each size fits the buffer.
pub fn split(data: &[u8]) -> Syntax<Vec<Obu<'_>>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let n = out.len() + 1;
        let head = data[pos];
        if head & 0x80 != 0 {
            return Err(format!("OBU {n} has the forbidden bit of its header set"));
        }
        if head & 1 != 0 {
            return Err(format!("OBU {n} has the reserved bit of its header set"));
        }
        let kind = (head >> 3) & 15;
        if kind == 0 || (9..=14).contains(&kind) {
            return Err(format!("OBU {n} has the reserved type {kind}"));
        }
        let has_extension = head & 4 != 0;
        pos += 1;
        let (temporal_id, spatial_id) = if has_extension {
            let ext = *data
                .get(pos)
                .ok_or_else(|| format!("OBU {n} ends inside its header"))?;
            if ext & 7 != 0 {
                return Err(format!(
                    "OBU {n} has reserved bits of its extension header set"
                ));
            }
            pos += 1;
            (ext >> 5, (ext >> 3) & 3)
        } else {
            (0, 0)
        };
        let size = if head & 2 != 0 {
            let (size, len) =
                leb128(&data[pos..]).ok_or_else(|| format!("OBU {n} has a corrupt obu_size"))?;
            pos += len;
            size
        } else {
            (data.len() - pos) as u64
        };
        let left = data.len() - pos;
        if size > left as u64 {
            return Err(format!(
                "OBU {n} claims {size} bytes but only {left} are left in the sample"
            ));
        }
        let size = size as usize;
        out.push(Obu {
            kind,
            temporal_id,
            spatial_id,
            has_extension,
            payload: &data[pos..pos + size],
        });
        pos += size;
    }
    Ok(out)
}

/// Reads a LEB128 value (at most 8 bytes, at most 32 bits of value); returns it and its length.
fn leb128(data: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &b) in data.iter().take(8).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return (value <= u64::from(u32::MAX)).then_some((value, i + 1));
        }
    }
    None
}

/// Reads bits most significant first.
pub(super) struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Bits<'a> {
    pub(super) fn new(data: &'a [u8], what: &'static str) -> Self {
        Bits { data, pos: 0, what }
    }

    pub(super) fn f(&mut self, n: u32) -> Syntax<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = self
                .data
                .get(self.pos / 8)
                .ok_or_else(|| format!("the {} ends early", self.what))?;
            v = (v << 1) | u32::from((byte >> (7 - self.pos % 8)) & 1);
            self.pos += 1;
        }
        Ok(v)
    }

    pub(super) fn flag(&mut self) -> Syntax<bool> {
        Ok(self.f(1)? == 1)
    }

    fn uvlc(&mut self) -> Syntax<()> {
        let mut zeros = 0;
        while !self.flag()? {
            zeros += 1;
            if zeros >= 32 {
                return Err(format!(
                    "the {} has a corrupt variable-length field",
                    self.what
                ));
            }
        }
        self.f(zeros).map(|_| ())
    }

    /// Checks `trailing_bits()`: a one, then zeros to the end of the payload.
    pub(super) fn trailing(&mut self) -> Syntax<()> {
        let what = self.what;
        let bad = || format!("the {what} does not end where its size says");
        if !self.flag().map_err(|_| bad())? {
            return Err(bad());
        }
        while !self.pos.is_multiple_of(8) {
            if self.flag()? {
                return Err(bad());
            }
        }
        if self.data[self.pos / 8..].iter().any(|&b| b != 0) {
            return Err(bad());
        }
        Ok(())
    }
}

/// The fields of a sequence header that the frame header syntax and the output depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceHeader {
    /// `seq_profile`: 0 Main, 1 High, 2 Professional.
    pub profile: u8,
    /// `reduced_still_picture_header`.
    pub reduced_still_picture_header: bool,
    /// `decoder_model_info_present_flag`.
    pub decoder_model_info_present: bool,
    /// `equal_picture_interval`.
    pub equal_picture_interval: bool,
    /// `buffer_removal_time_length_minus_1 + 1`.
    pub buffer_removal_time_length: u32,
    /// `frame_presentation_time_length_minus_1 + 1`.
    pub frame_presentation_time_length: u32,
    /// Per operating point: `operating_point_idc` and `decoder_model_present_for_this_op`.
    pub operating_points: Vec<(u32, bool)>,
    /// `max_frame_width_minus_1 + 1`.
    pub max_width: u32,
    /// `max_frame_height_minus_1 + 1`.
    pub max_height: u32,
    /// `frame_id_numbers_present_flag`.
    pub frame_id_numbers_present: bool,
    /// `delta_frame_id_length_minus_2 + 2`.
    pub delta_frame_id_length: u32,
    /// `idLen`: bits of a frame id.
    pub frame_id_length: u32,
    /// `seq_force_screen_content_tools` (2: chosen per frame).
    pub force_screen_content_tools: u32,
    /// `seq_force_integer_mv` (2: chosen per frame).
    pub force_integer_mv: u32,
    /// `OrderHintBits` (0: no order hints).
    pub order_hint_bits: u32,
    /// Bits per sample: 8, 10 or 12.
    pub bit_depth: u8,
    /// `mono_chrome`.
    pub monochrome: bool,
    /// `subsampling_x`, `subsampling_y`.
    pub subsampling: (bool, bool),
    /// `color_range`: full (0-255) rather than video range.
    pub full_range: bool,
}

/// `SELECT_SCREEN_CONTENT_TOOLS` / `SELECT_INTEGER_MV`: chosen per frame.
pub(super) const SELECT: u32 = 2;

impl SequenceHeader {
    /// Parses a sequence header OBU payload, trailing bits included.
    pub fn parse(payload: &[u8]) -> Syntax<Self> {
        let mut b = Bits::new(payload, "sequence header");
        let profile = b.f(3)? as u8;
        if profile > 2 {
            return Err(format!(
                "the sequence header has the reserved profile {profile}"
            ));
        }
        let _still_picture = b.flag()?;
        let reduced = b.flag()?;
        let mut s = SequenceHeader {
            profile,
            reduced_still_picture_header: reduced,
            decoder_model_info_present: false,
            equal_picture_interval: false,
            buffer_removal_time_length: 0,
            frame_presentation_time_length: 0,
            operating_points: vec![(0, false)],
            max_width: 0,
            max_height: 0,
            frame_id_numbers_present: false,
            delta_frame_id_length: 0,
            frame_id_length: 0,
            force_screen_content_tools: SELECT,
            force_integer_mv: SELECT,
            order_hint_bits: 0,
            bit_depth: 8,
            monochrome: false,
            subsampling: (true, true),
            full_range: false,
        };
        if reduced {
            b.f(5)?; // seq_level_idx[0]
        } else {
            let mut buffer_delay_length = 0;
            if b.flag()? {
                // timing_info
                b.f(32)?;
                b.f(32)?;
                s.equal_picture_interval = b.flag()?;
                if s.equal_picture_interval {
                    b.uvlc()?;
                }
                s.decoder_model_info_present = b.flag()?;
                if s.decoder_model_info_present {
                    buffer_delay_length = b.f(5)? + 1;
                    b.f(32)?;
                    s.buffer_removal_time_length = b.f(5)? + 1;
                    s.frame_presentation_time_length = b.f(5)? + 1;
                }
            }
            let initial_display_delay_present = b.flag()?;
            let count = b.f(5)? + 1;
            s.operating_points.clear();
            for _ in 0..count {
                let idc = b.f(12)?;
                if b.f(5)? > 7 {
                    b.f(1)?; // seq_tier
                }
                let mut model = false;
                if s.decoder_model_info_present {
                    model = b.flag()?;
                    if model {
                        b.f(buffer_delay_length)?;
                        b.f(buffer_delay_length)?;
                        b.f(1)?;
                    }
                }
                if initial_display_delay_present && b.flag()? {
                    b.f(4)?;
                }
                s.operating_points.push((idc, model));
            }
        }
        let width_bits = b.f(4)? + 1;
        let height_bits = b.f(4)? + 1;
        s.max_width = b.f(width_bits)? + 1;
        s.max_height = b.f(height_bits)? + 1;
        if !reduced {
            s.frame_id_numbers_present = b.flag()?;
        }
        if s.frame_id_numbers_present {
            s.delta_frame_id_length = b.f(4)? + 2;
            s.frame_id_length = b.f(3)? + 1 + s.delta_frame_id_length;
        }
        b.f(3)?; // 128x128 superblocks, filter intra, intra edge filter
        if !reduced {
            b.f(4)?; // interintra, masked compound, warped motion, dual filter
            let order_hint = b.flag()?;
            if order_hint {
                b.f(2)?; // jnt_comp, ref_frame_mvs
            }
            s.force_screen_content_tools = if b.flag()? { SELECT } else { b.f(1)? };
            s.force_integer_mv = if s.force_screen_content_tools > 0 {
                if b.flag()? { SELECT } else { b.f(1)? }
            } else {
                SELECT
            };
            if order_hint {
                s.order_hint_bits = b.f(3)? + 1;
            }
        }
        b.f(3)?; // superres, cdef, restoration
        s.read_color_config(&mut b)?;
        b.f(1)?; // film_grain_params_present
        b.trailing()?;
        Ok(s)
    }

    fn read_color_config(&mut self, b: &mut Bits<'_>) -> Syntax<()> {
        let high_bitdepth = b.flag()?;
        self.bit_depth = match (self.profile, high_bitdepth) {
            (2, true) => {
                if b.flag()? {
                    12
                } else {
                    10
                }
            }
            (_, true) => 10,
            (_, false) => 8,
        };
        self.monochrome = self.profile != 1 && b.flag()?;
        let (mut primaries, mut transfer, mut matrix) = (2, 2, 2);
        if b.flag()? {
            primaries = b.f(8)?;
            transfer = b.f(8)?;
            matrix = b.f(8)?;
        }
        if self.monochrome {
            self.full_range = b.flag()?;
            self.subsampling = (true, true);
            return Ok(());
        }
        if (primaries, transfer, matrix) == (1, 13, 0) {
            self.full_range = true;
            self.subsampling = (false, false);
        } else {
            self.full_range = b.flag()?;
            self.subsampling = match self.profile {
                0 => (true, true),
                1 => (false, false),
                _ if self.bit_depth == 12 => {
                    let x = b.flag()?;
                    (x, x && b.flag()?)
                }
                _ => (true, false),
            };
            if self.subsampling == (true, true) {
                b.f(2)?; // chroma_sample_position
            }
        }
        b.f(1)?; // separate_uv_delta_q
        Ok(())
    }

    /// Whether an OBU with this extension belongs to operating point 0, the one decoded.
    pub fn selects(&self, obu: &Obu<'_>) -> bool {
        let idc = self.operating_points[0].0;
        if !obu.has_extension || idc == 0 {
            return true;
        }
        (idc >> obu.temporal_id) & 1 == 1 && (idc >> (u32::from(obu.spatial_id) + 8)) & 1 == 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb128_sizes() {
        assert_eq!(leb128(&[0x05]), Some((5, 1)));
        assert_eq!(leb128(&[0x80 | 0x2c, 0x02]), Some((300, 2)));
        // Padded encodings are allowed.
        assert_eq!(leb128(&[0x85, 0x80, 0x00]), Some((5, 3)));
        assert_eq!(leb128(&[0x80; 9]), None);
        assert_eq!(leb128(&[0xff, 0xff, 0xff, 0xff, 0x7f]), None);
    }

    #[test]
    fn obu_headers_are_checked() {
        // A temporal delimiter (type 2, size 0) then padding (type 15) of 2 bytes.
        let ok = [0x12, 0x00, 0x7a, 0x02, 0xaa, 0xbb];
        let obus = split(&ok).unwrap();
        assert_eq!(obus.len(), 2);
        assert_eq!(obus[1].kind, kind::PADDING);
        assert_eq!(obus[1].payload, &[0xaa, 0xbb]);
        assert!(split(&[0x92, 0x00]).unwrap_err().contains("forbidden"));
        assert!(split(&[0x13, 0x00]).unwrap_err().contains("reserved bit"));
        assert!(
            split(&[0x4a, 0x00])
                .unwrap_err()
                .contains("reserved type 9")
        );
        assert!(
            split(&[0x7a, 0x05, 0x00])
                .unwrap_err()
                .contains("claims 5 bytes")
        );
    }
}
