//! Bounds-checked readers for the MP4 boxes the demuxer needs: a box iterator, a byte
//! cursor, the visual sample entry, the edit list and the sample tables.

use crate::media::{MediaError, Result, Sample};
use crate::mp4::fourcc;

/// Most samples indexed; 4M samples is 37 hours at 30 fps and 80 MiB of index, so the
/// memory cap, not this, is the real bound.
const MAX_SAMPLES: usize = 4_000_000;

/// Iterates the child boxes of a payload: `(four-cc, body)`.
pub struct Boxes<'a> {
    data: &'a [u8],
    failed: bool,
}

impl<'a> Boxes<'a> {
    /// Children of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Boxes {
            data,
            failed: false,
        }
    }
}

impl<'a> Iterator for Boxes<'a> {
    type Item = Result<([u8; 4], &'a [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.data.len() < 8 {
            return None;
        }
        let d = self.data;
        let size32 = u32::from_be_bytes([d[0], d[1], d[2], d[3]]) as u64;
        let kind = [d[4], d[5], d[6], d[7]];
        let (size, header) = match size32 {
            0 => (d.len() as u64, 8),
            1 if d.len() >= 16 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&d[8..16]);
                (u64::from_be_bytes(b), 16)
            }
            n => (n, 8),
        };
        if size < header as u64 || size > d.len() as u64 {
            self.failed = true;
            return Some(Err(MediaError::invalid(format!(
                "MP4 box `{}` claims {size} bytes but only {} remain: the index is corrupt",
                fourcc(kind),
                d.len()
            ))));
        }
        let (this, rest) = d.split_at(size as usize);
        self.data = rest;
        Some(Ok((kind, &this[header..])))
    }
}

/// A big-endian reader over a box body that names the box when it runs out.
pub struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Cursor<'a> {
    /// Reads `data`, the body of box `what`.
    pub fn new(data: &'a [u8], what: &'static str) -> Self {
        Cursor { data, pos: 0, what }
    }
    /// Takes `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let end = end
            .ok_or_else(|| MediaError::invalid(format!("MP4 `{}` box is cut short", self.what)))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    /// Skips `n` bytes.
    pub fn skip(&mut self, n: usize) -> Result<()> {
        self.take(n).map(|_| ())
    }
    /// One byte.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    /// A big-endian u16.
    pub fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    /// A big-endian u32.
    pub fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// A big-endian u64.
    pub fn u64(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }
    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }
    /// Reads a full-box entry count and checks `count * entry_size` bytes follow.
    pub fn count(&mut self, entry_size: usize) -> Result<usize> {
        let n = self.u32()? as usize;
        if n.checked_mul(entry_size)
            .is_none_or(|b| b > self.remaining())
        {
            return Err(MediaError::invalid(format!(
                "MP4 `{}` box claims {n} entries but holds {} bytes",
                self.what,
                self.remaining()
            )));
        }
        Ok(n)
    }
}

/// The first sample description of a video track.
pub struct VisualEntry<'a> {
    /// Its four-character code (`avc1`, `hvc1`...).
    pub format: [u8; 4],
    /// Coded width.
    pub width: u16,
    /// Coded height.
    pub height: u16,
    children: &'a [u8],
}

impl<'a> VisualEntry<'a> {
    /// The body of a child box (`avcC`...), if present.
    pub fn child(&self, kind: &[u8; 4]) -> Option<&'a [u8]> {
        Boxes::new(self.children)
            .filter_map(|b| b.ok())
            .find(|(k, _)| k == kind)
            .map(|(_, body)| body)
    }
}

/// Reads the first entry of an `stsd` box as a visual sample entry.
pub fn read_visual_entry(stsd: &[u8]) -> Result<VisualEntry<'_>> {
    let mut c = Cursor::new(stsd, "stsd");
    c.skip(4)?;
    if c.u32()? == 0 {
        return Err(MediaError::invalid(
            "MP4 video track has no sample description",
        ));
    }
    let (format, body) = Boxes::new(&stsd[8..])
        .next()
        .ok_or_else(|| MediaError::invalid("MP4 `stsd` box is empty"))??;
    let mut e = Cursor::new(body, "visual sample entry");
    e.skip(24)?;
    let width = e.u16()?;
    let height = e.u16()?;
    e.skip(50)?;
    Ok(VisualEntry {
        format,
        width,
        height,
        children: &body[78..],
    })
}

/// The part of an edit list players apply: leading empty time and where the media starts.
#[derive(Debug, Clone, Copy)]
pub struct EditList {
    /// Leading empty edits, in movie ticks.
    pub empty_ticks: u64,
    /// Media time (track ticks) shown first.
    pub media_start: i64,
    /// Movie ticks of the first media edit, if stated.
    pub duration: Option<u64>,
}

/// Reads an `elst` box. Only the first media edit matters for frame extraction.
pub fn read_edit_list(elst: &[u8]) -> Result<EditList> {
    let mut c = Cursor::new(elst, "elst");
    let version = c.u8()?;
    c.skip(3)?;
    let wide = version == 1;
    let n = c.count(if wide { 20 } else { 12 })?;
    let mut out = EditList {
        empty_ticks: 0,
        media_start: 0,
        duration: None,
    };
    for _ in 0..n {
        let (dur, time) = if wide {
            (c.u64()?, c.u64()? as i64)
        } else {
            (u64::from(c.u32()?), i64::from(c.u32()? as i32))
        };
        c.skip(4)?;
        if time == -1 {
            out.empty_ticks = out.empty_ticks.saturating_add(dur);
        } else {
            out.media_start = time.max(0);
            out.duration = (dur > 0).then_some(dur);
            break;
        }
    }
    Ok(out)
}

/// The raw sample tables of an `stbl` box.
pub struct SampleTables<'a> {
    stts: &'a [u8],
    ctts: Option<&'a [u8]>,
    stss: Option<&'a [u8]>,
    stsc: &'a [u8],
    stsz: &'a [u8],
    chunk_offsets: &'a [u8],
    wide_offsets: bool,
}

impl<'a> SampleTables<'a> {
    /// Finds the tables in `stbl`.
    pub fn read(stbl: &'a [u8]) -> Result<Self> {
        let (mut stts, mut ctts, mut stss, mut stsc, mut stsz, mut stco, mut co64) =
            (None, None, None, None, None, None, None);
        for item in Boxes::new(stbl) {
            let (kind, body) = item?;
            match &kind {
                b"stts" => stts = Some(body),
                b"ctts" => ctts = Some(body),
                b"stss" => stss = Some(body),
                b"stsc" => stsc = Some(body),
                b"stsz" => stsz = Some(body),
                b"stco" => stco = Some(body),
                b"co64" => co64 = Some(body),
                _ => {}
            }
        }
        let missing =
            |name: &str| MediaError::invalid(format!("MP4 sample table lacks its `{name}` box"));
        Ok(SampleTables {
            stts: stts.ok_or_else(|| missing("stts"))?,
            ctts,
            stss,
            stsc: stsc.ok_or_else(|| missing("stsc"))?,
            stsz: stsz.ok_or_else(|| missing("stsz"))?,
            chunk_offsets: co64.or(stco).ok_or_else(|| missing("stco"))?,
            wide_offsets: co64.is_some(),
        })
    }

    /// Expands the tables into one `Sample` per coded frame, in decode order.
    /// `pts` is the composition time before the edit list.
    pub fn samples(&self, file_size: u64) -> Result<Vec<Sample>> {
        // Sizes.
        let mut c = Cursor::new(self.stsz, "stsz");
        c.skip(4)?;
        let uniform = c.u32()?;
        let n = if uniform == 0 {
            c.count(4)?
        } else {
            c.u32()? as usize
        };
        if n > MAX_SAMPLES {
            return Err(MediaError::invalid(format!(
                "MP4 video track claims {n} samples, more than {MAX_SAMPLES}"
            )));
        }
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let size = if uniform == 0 { c.u32()? } else { uniform };
            samples.push(Sample {
                offset: 0,
                size,
                pts: 0,
                keyframe: self.stss.is_none(),
            });
        }
        // Decode times, then composition offsets.
        let mut c = Cursor::new(self.stts, "stts");
        c.skip(4)?;
        let runs = c.count(8)?;
        let (mut i, mut dts) = (0usize, 0i64);
        for _ in 0..runs {
            let (count, delta) = (c.u32()? as usize, c.u32()?);
            for _ in 0..count.min(n - i) {
                samples[i].pts = dts;
                dts = dts.saturating_add(i64::from(delta));
                i += 1;
            }
        }
        if i < n {
            return Err(MediaError::invalid(format!(
                "MP4 `stts` box times {i} of {n} samples"
            )));
        }
        if let Some(ctts) = self.ctts {
            let mut c = Cursor::new(ctts, "ctts");
            c.skip(4)?;
            let runs = c.count(8)?;
            let mut i = 0usize;
            for _ in 0..runs {
                // Version 0 offsets are unsigned in the spec, but writers put negative
                // ones there too; reading them as signed is what players do.
                let (count, offset) = (c.u32()? as usize, c.u32()? as i32);
                for _ in 0..count.min(n - i) {
                    samples[i].pts = samples[i].pts.saturating_add(i64::from(offset));
                    i += 1;
                }
            }
        }
        if let Some(stss) = self.stss {
            let mut c = Cursor::new(stss, "stss");
            c.skip(4)?;
            for _ in 0..c.count(4)? {
                let k = c.u32()? as usize;
                if let Some(s) = k.checked_sub(1).and_then(|k| samples.get_mut(k)) {
                    s.keyframe = true;
                }
            }
        }
        self.place(&mut samples, file_size)?;
        Ok(samples)
    }

    /// Sets each sample's byte offset from the chunk tables and checks it lies in the file.
    fn place(&self, samples: &mut [Sample], file_size: u64) -> Result<()> {
        let mut co = Cursor::new(self.chunk_offsets, "stco");
        co.skip(4)?;
        let chunks = co.count(if self.wide_offsets { 8 } else { 4 })?;
        let mut sc = Cursor::new(self.stsc, "stsc");
        sc.skip(4)?;
        let runs = sc.count(12)?;
        let mut run_table = Vec::with_capacity(runs);
        for _ in 0..runs {
            let first = sc.u32()?;
            let per_chunk = sc.u32()?;
            sc.skip(4)?;
            run_table.push((first.max(1) as usize - 1, per_chunk as usize));
        }
        let (mut i, mut run) = (0usize, 0usize);
        for chunk in 0..chunks {
            let mut offset = if self.wide_offsets {
                co.u64()?
            } else {
                u64::from(co.u32()?)
            };
            while run + 1 < run_table.len() && run_table[run + 1].0 <= chunk {
                run += 1;
            }
            let per_chunk = run_table.get(run).map_or(0, |r| r.1);
            for _ in 0..per_chunk {
                let Some(s) = samples.get_mut(i) else { break };
                s.offset = offset;
                offset = offset.saturating_add(u64::from(s.size));
                i += 1;
            }
        }
        if i < samples.len() {
            return Err(MediaError::invalid(format!(
                "MP4 chunk tables place {i} of {} samples: the index is corrupt",
                samples.len()
            )));
        }
        // Samples past the end are reported when read, so a cut file still serves its start.
        let _ = file_size;
        Ok(())
    }
}
