//! Fragmented MP4 (`moov` with `mvex`, then `moof`+`mdat` pairs), as browsers, OBS, screen
//! recorders and DASH/HLS packagers write it: the sample index lives in the fragments.
//!
//! The top-level boxes are walked by their headers (as for the `moov` search) and each
//! `moof` is read whole (a few hundred bytes per fragment); `mdat` payloads are skipped,
//! so indexing reads a few bytes per fragment wherever the file lies. Each `traf` of the
//! video track gives samples from its `tfdt` decode time and `trun` entries, with `tfhd`
//! and `trex` defaults filled in. `sidx` and `mfra` boxes need no special reading: the
//! walk finds every fragment they point at.

use crate::media::{MediaError, Result, Sample};
use crate::mp4::fourcc;
use crate::mp4_boxes::{Boxes, Cursor};
use std::io::{Read, Seek, SeekFrom};

/// Largest `moof` box read; real ones are kilobytes.
const MAX_MOOF: u64 = 16 << 20;
/// Most samples indexed (as for the sample tables).
const MAX_SAMPLES: usize = 4_000_000;

/// Per-sample defaults of a track (`trex` in `mvex`, overridden by `tfhd`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Defaults {
    /// Sample duration, track ticks.
    pub duration: u32,
    /// Sample size, bytes.
    pub size: u32,
    /// Sample flags (bit 16: not a sync sample).
    pub flags: u32,
}

/// The `trex` defaults for `track_id` in an `mvex` box.
pub fn track_defaults(mvex: &[u8], track_id: u32) -> Result<Defaults> {
    for item in Boxes::new(mvex) {
        let (kind, body) = item?;
        if &kind != b"trex" {
            continue;
        }
        let mut c = Cursor::new(body, "trex");
        c.skip(4)?;
        if c.u32()? != track_id {
            continue;
        }
        c.skip(4)?; // default_sample_description_index
        return Ok(Defaults {
            duration: c.u32()?,
            size: c.u32()?,
            flags: c.u32()?,
        });
    }
    Ok(Defaults::default())
}

/// Walks the top-level boxes from `from` and indexes the samples of track `track_id` in
/// every `moof`. `pts` of each sample is its composition time (before the edit list).
pub fn index<R: Read + Seek>(
    r: &mut R,
    file_size: u64,
    from: u64,
    track_id: u32,
    defaults: Defaults,
) -> Result<Vec<Sample>> {
    let mut samples = Vec::new();
    let mut next_dts = 0i64;
    let mut pos = from;
    while pos.saturating_add(8) <= file_size {
        r.seek(SeekFrom::Start(pos))?;
        let mut head = [0u8; 16];
        r.read_exact(&mut head[..8])?;
        let size32 = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let kind = [head[4], head[5], head[6], head[7]];
        let (size, header) = match size32 {
            0 => (file_size - pos, 8),
            1 => {
                r.read_exact(&mut head[8..16])?;
                let mut b = [0u8; 8];
                b.copy_from_slice(&head[8..16]);
                (u64::from_be_bytes(b), 16)
            }
            n => (u64::from(n), 8),
        };
        if size < header {
            return Err(MediaError::invalid(format!(
                "MP4 box `{}` at byte {pos} has an impossible size {size}",
                fourcc(kind)
            )));
        }
        if &kind == b"moof" {
            let len = size - header;
            if len > MAX_MOOF || pos.saturating_add(size) > file_size {
                // A cut last fragment: the fragments before it still serve.
                if pos.saturating_add(size) > file_size {
                    break;
                }
                return Err(MediaError::invalid(format!(
                    "MP4 fragment header (moof) at byte {pos} claims {len} bytes"
                )));
            }
            let mut moof = vec![0u8; len as usize];
            r.read_exact(&mut moof)?;
            read_moof(&moof, pos, track_id, defaults, &mut next_dts, &mut samples)?;
            if samples.len() > MAX_SAMPLES {
                return Err(MediaError::invalid(format!(
                    "the MP4 video track has more than {MAX_SAMPLES} samples"
                )));
            }
        }
        pos = pos.saturating_add(size);
    }
    Ok(samples)
}

/// Adds the samples of `track_id` in one `moof` (which starts at file offset `moof_at`).
fn read_moof(
    moof: &[u8],
    moof_at: u64,
    track_id: u32,
    defaults: Defaults,
    next_dts: &mut i64,
    samples: &mut Vec<Sample>,
) -> Result<()> {
    for item in Boxes::new(moof) {
        let (kind, traf) = item?;
        if &kind != b"traf" {
            continue;
        }
        let mut d = defaults;
        let mut base = moof_at;
        let mut mine = false;
        for item in Boxes::new(traf) {
            let (kind, body) = item?;
            match &kind {
                b"tfhd" => {
                    let mut c = Cursor::new(body, "tfhd");
                    let flags = c.u32()? & 0x00ff_ffff;
                    mine = c.u32()? == track_id;
                    if flags & 0x01 != 0 {
                        base = c.u64()?;
                    }
                    if flags & 0x02 != 0 {
                        c.skip(4)?;
                    }
                    if flags & 0x08 != 0 {
                        d.duration = c.u32()?;
                    }
                    if flags & 0x10 != 0 {
                        d.size = c.u32()?;
                    }
                    if flags & 0x20 != 0 {
                        d.flags = c.u32()?;
                    }
                }
                _ if !mine => {}
                b"tfdt" => {
                    let mut c = Cursor::new(body, "tfdt");
                    let version = c.u8()?;
                    c.skip(3)?;
                    let t = if version == 1 {
                        c.u64()?
                    } else {
                        u64::from(c.u32()?)
                    };
                    *next_dts = t.min(i64::MAX as u64) as i64;
                }
                b"trun" => read_trun(body, base, d, next_dts, samples)?,
                _ => {}
            }
        }
    }
    Ok(())
}

/// Adds the samples of one `trun` box.
fn read_trun(
    trun: &[u8],
    base: u64,
    d: Defaults,
    next_dts: &mut i64,
    samples: &mut Vec<Sample>,
) -> Result<()> {
    let mut c = Cursor::new(trun, "trun");
    let flags = c.u32()? & 0x00ff_ffff;
    let per_sample = [0x100, 0x200, 0x400, 0x800]
        .iter()
        .filter(|&&f| flags & f != 0)
        .count()
        * 4;
    let n = c.u32()? as usize;
    let data_offset = if flags & 0x01 != 0 {
        c.u32()? as i32
    } else {
        0
    };
    let first_flags = if flags & 0x04 != 0 {
        Some(c.u32()?)
    } else {
        None
    };
    if n.checked_mul(per_sample).is_none_or(|b| b > c.remaining()) {
        return Err(MediaError::invalid(format!(
            "MP4 `trun` box claims {n} samples but holds {} bytes",
            c.remaining()
        )));
    }
    let mut offset = base
        .checked_add_signed(i64::from(data_offset))
        .ok_or_else(|| {
            MediaError::invalid("an MP4 fragment's data offset points before the file")
        })?;
    for i in 0..n {
        let duration = if flags & 0x100 != 0 {
            c.u32()?
        } else {
            d.duration
        };
        let size = if flags & 0x200 != 0 { c.u32()? } else { d.size };
        let sample_flags = if flags & 0x400 != 0 {
            c.u32()?
        } else {
            d.flags
        };
        let sample_flags = match (i, first_flags) {
            (0, Some(f)) => f,
            _ => sample_flags,
        };
        // Version 0 offsets are unsigned in the spec; read as signed, as for `ctts`.
        let cto = if flags & 0x800 != 0 {
            c.u32()? as i32
        } else {
            0
        };
        samples.push(Sample {
            offset,
            size,
            pts: next_dts.saturating_add(i64::from(cto)),
            keyframe: sample_flags & 0x0001_0000 == 0,
        });
        offset = offset.saturating_add(u64::from(size));
        *next_dts = next_dts.saturating_add(i64::from(duration));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mp4_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(body);
        b
    }

    #[test]
    fn trun_with_defaults_and_first_sample_flags() {
        // tfhd: default-base-is-moof, track 1, default duration 100, size 10, non-sync.
        let mut tfhd = 0x0002_0038u32.to_be_bytes().to_vec();
        for v in [1u32, 100, 10, 0x0001_0000] {
            tfhd.extend(v.to_be_bytes());
        }
        let mut tfdt = 0x0100_0000u32.to_be_bytes().to_vec();
        tfdt.extend(1000u64.to_be_bytes());
        // trun: data offset 64, first sample flags (sync), composition offsets, 3 samples.
        let mut trun = 0x0000_0805u32.to_be_bytes().to_vec();
        for v in [3u32, 64, 0, 200, 0, 100] {
            trun.extend(v.to_be_bytes());
        }
        let traf = [
            mp4_box(b"tfhd", &tfhd),
            mp4_box(b"tfdt", &tfdt),
            mp4_box(b"trun", &trun),
        ]
        .concat();
        let moof = mp4_box(b"traf", &traf);
        let mut samples = Vec::new();
        let mut dts = 0;
        read_moof(&moof, 5000, 1, Defaults::default(), &mut dts, &mut samples).unwrap();
        let got: Vec<_> = samples
            .iter()
            .map(|s| (s.offset, s.size, s.pts, s.keyframe))
            .collect();
        assert_eq!(
            got,
            vec![
                (5064, 10, 1200, true),
                (5074, 10, 1100, false),
                (5084, 10, 1300, false)
            ]
        );
        assert_eq!(dts, 1300);
        // Another track's fragment adds nothing.
        let mut other = Vec::new();
        read_moof(&moof, 5000, 2, Defaults::default(), &mut dts, &mut other).unwrap();
        assert!(other.is_empty());
    }
}
