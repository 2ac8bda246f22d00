//! The video object layer (VOL) and video object plane (VOP) headers (clause 6.2.3, 6.2.5).
//!
//! Tools this decoder does not implement are refused here, by name, before any
//! macroblock is read: non-rectangular shapes, interlaced video, sprites and global motion
//! compensation, scalability, complexity estimation headers, NEWPRED, reduced-resolution
//! VOPs and samples other than 8 bits.

use crate::bits::Bits;
use crate::error::{Error, Result};
use crate::tables::{DEFAULT_INTER_MATRIX, DEFAULT_INTRA_MATRIX, ZIGZAG};

/// Largest picture side accepted, in pixels.
pub const MAX_SIDE: usize = 8192;

/// The settings of a video object layer that the decoding of its VOPs needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vol {
    /// `video_object_layer_verid` (1 or 2).
    pub verid: u8,
    /// Picture width in pixels.
    pub width: usize,
    /// Picture height in pixels.
    pub height: usize,
    /// Ticks per second of VOP times.
    pub time_resolution: u32,
    /// Bits of `vop_time_increment`.
    pub time_bits: u32,
    /// MPEG quantisation (matrices) rather than H.263 quantisation.
    pub mpeg_quant: bool,
    /// Intra matrix, raster order.
    pub intra_matrix: [u8; 64],
    /// Non-intra matrix, raster order.
    pub inter_matrix: [u8; 64],
    /// Quarter-sample motion vectors.
    pub quarter_sample: bool,
    /// Resync markers cannot occur.
    pub resync_disabled: bool,
    /// Macroblock data is split into partitions per video packet.
    pub data_partitioned: bool,
    /// Reversible VLCs in the coefficient partition.
    pub reversible_vlc: bool,
}

fn marker(b: &mut Bits, what: &str) -> Result<()> {
    if b.bit() {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "MPEG-4 header: marker bit missing {what}"
        )))
    }
}

fn matrix(b: &mut Bits) -> [u8; 64] {
    let mut m = [0u8; 64];
    let mut last = 0u8;
    let mut i = 0;
    while i < 64 {
        let v = b.read(8) as u8;
        if v == 0 {
            break;
        }
        last = v;
        m[ZIGZAG[i] as usize] = v;
        i += 1;
    }
    for &z in &ZIGZAG[i..] {
        m[z as usize] = last;
    }
    m
}

impl Vol {
    /// Parses a VOL header, `b` just after its start code (`00 00 01 2x`).
    pub fn parse(b: &mut Bits) -> Result<Vol> {
        b.skip(1); // random_accessible_vol
        let object_type = b.read(8);
        if object_type == 0x12 {
            return Err(Error::unsupported(
                "MPEG-4 fine granularity scalable video is not supported",
            ));
        }
        let mut verid = 1;
        if b.bit() {
            verid = b.read(4) as u8;
            b.skip(3);
        }
        if b.read(4) == 15 {
            b.skip(16); // extended pixel aspect ratio
        }
        if b.bit() {
            // vol_control_parameters
            let chroma = b.read(2);
            if chroma != 1 {
                return Err(Error::unsupported(format!(
                    "MPEG-4 chroma format {chroma} (only 4:2:0) is not supported"
                )));
            }
            b.skip(1); // low_delay: the container's timestamps say the order
            if b.bit() {
                // vbv_parameters: 15+1+15+1+15+1+3+11+1+15+1 bits
                b.skip(79);
            }
        }
        let shape = b.read(2);
        if shape != 0 {
            return Err(Error::unsupported(
                "MPEG-4 video with arbitrary shape (not rectangular) is not supported",
            ));
        }
        marker(b, "before vop_time_increment_resolution")?;
        let time_resolution = b.read(16);
        if time_resolution == 0 {
            return Err(Error::invalid(
                "MPEG-4 VOL header has a zero time resolution",
            ));
        }
        let time_bits = (32 - (time_resolution - 1).leading_zeros()).max(1);
        marker(b, "after vop_time_increment_resolution")?;
        if b.bit() {
            b.skip(time_bits); // fixed_vop_time_increment
        }
        marker(b, "before the width")?;
        let width = b.read(13) as usize;
        marker(b, "before the height")?;
        let height = b.read(13) as usize;
        marker(b, "after the height")?;
        if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
            return Err(Error::invalid(format!(
                "MPEG-4 VOL header claims {width}x{height} pixels"
            )));
        }
        if b.bit() {
            return Err(Error::unsupported(
                "interlaced MPEG-4 video is not supported",
            ));
        }
        b.skip(1); // obmc_disable
        let sprite = if verid == 1 { b.read(1) } else { b.read(2) };
        if sprite != 0 {
            return Err(Error::unsupported(if sprite == 2 {
                "MPEG-4 global motion compensation (GMC) is not supported"
            } else {
                "MPEG-4 sprites are not supported"
            }));
        }
        if b.bit() {
            // not_8_bit
            let quant_precision = b.read(4);
            let bits = b.read(4);
            if bits != 8 || quant_precision != 5 {
                return Err(Error::unsupported(format!(
                    "MPEG-4 video with {bits}-bit samples or {quant_precision}-bit quantisers is not supported"
                )));
            }
        }
        let mpeg_quant = b.bit();
        let (mut intra_matrix, mut inter_matrix) = (DEFAULT_INTRA_MATRIX, DEFAULT_INTER_MATRIX);
        if mpeg_quant {
            if b.bit() {
                intra_matrix = matrix(b);
            }
            if b.bit() {
                inter_matrix = matrix(b);
            }
        }
        let quarter_sample = verid != 1 && b.bit();
        if !b.bit() {
            return Err(Error::unsupported(
                "MPEG-4 complexity estimation headers are not supported",
            ));
        }
        let resync_disabled = b.bit();
        let data_partitioned = b.bit();
        let reversible_vlc = data_partitioned && b.bit();
        if verid != 1 {
            if b.bit() {
                return Err(Error::unsupported("MPEG-4 NEWPRED is not supported"));
            }
            if b.bit() {
                return Err(Error::unsupported(
                    "MPEG-4 reduced-resolution VOPs are not supported",
                ));
            }
        }
        if b.bit() {
            return Err(Error::unsupported("scalable MPEG-4 video is not supported"));
        }
        if b.overrun() {
            return Err(Error::invalid("the MPEG-4 VOL header is cut short"));
        }
        Ok(Vol {
            verid,
            width,
            height,
            time_resolution,
            time_bits,
            mpeg_quant,
            intra_matrix,
            inter_matrix,
            quarter_sample,
            resync_disabled,
            data_partitioned,
            reversible_vlc,
        })
    }

    /// Macroblocks per row.
    pub fn mb_width(&self) -> usize {
        self.width.div_ceil(16)
    }

    /// Macroblock rows.
    pub fn mb_height(&self) -> usize {
        self.height.div_ceil(16)
    }
}

/// The coding type of a VOP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VopType {
    /// Intra.
    I,
    /// Predicted from the previous reference.
    P,
    /// Bidirectionally predicted.
    B,
}

/// A parsed VOP header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vop {
    /// Coding type.
    pub kind: VopType,
    /// Whole seconds since the previous reference's time base (`modulo_time_base`).
    pub seconds: u32,
    /// `vop_time_increment`.
    pub increment: u32,
    /// False for a "not coded" VOP (the previous picture repeats).
    pub coded: bool,
    /// `vop_rounding_type`.
    pub rounding: bool,
    /// `intra_dc_vlc_thr`: intra DC uses its own VLC while the quantiser is below this.
    pub dc_threshold: u32,
    /// `vop_quant`.
    pub quant: u32,
    /// `vop_fcode_forward`.
    pub fcode_forward: u32,
    /// `vop_fcode_backward`.
    pub fcode_backward: u32,
}

/// The quantiser below which intra DC has its own VLC, per `intra_dc_vlc_thr`.
const DC_THRESHOLD: [u32; 8] = [32, 13, 15, 17, 19, 21, 23, 0];

impl Vop {
    /// Parses a VOP header, `b` just after its start code (`00 00 01 b6`).
    pub fn parse(b: &mut Bits, vol: &Vol) -> Result<Vop> {
        let kind = match b.read(2) {
            0 => VopType::I,
            1 => VopType::P,
            2 => VopType::B,
            _ => {
                return Err(Error::unsupported(
                    "MPEG-4 sprite VOPs (S-VOP, GMC) are not supported",
                ));
            }
        };
        let mut seconds = 0;
        while b.bit() {
            seconds += 1;
            if seconds > 60 * 60 * 24 || b.overrun() {
                return Err(Error::invalid("MPEG-4 VOP header has a corrupt time base"));
            }
        }
        marker(b, "before vop_time_increment")?;
        let increment = b.read(vol.time_bits);
        marker(b, "after vop_time_increment")?;
        let mut vop = Vop {
            kind,
            seconds,
            increment,
            coded: b.bit(),
            rounding: false,
            dc_threshold: 32,
            quant: 1,
            fcode_forward: 1,
            fcode_backward: 1,
        };
        if !vop.coded {
            return Ok(vop);
        }
        if kind == VopType::P {
            vop.rounding = b.bit();
        }
        vop.dc_threshold = DC_THRESHOLD[b.read(3) as usize];
        vop.quant = b.read(5);
        if vop.quant == 0 {
            return Err(Error::invalid("MPEG-4 VOP header has quantiser 0"));
        }
        if kind != VopType::I {
            vop.fcode_forward = b.read(3);
            if vop.fcode_forward == 0 {
                return Err(Error::invalid("MPEG-4 VOP header has fcode 0"));
            }
        }
        if kind == VopType::B {
            vop.fcode_backward = b.read(3);
            if vop.fcode_backward == 0 {
                return Err(Error::invalid("MPEG-4 VOP header has fcode 0"));
            }
        }
        if b.overrun() {
            return Err(Error::invalid("the MPEG-4 VOP header is cut short"));
        }
        Ok(vop)
    }
}
