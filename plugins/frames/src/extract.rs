//! Picks the sample for a requested time and decodes it, reading only the samples needed.
//!
//! Keyframe mode decodes one sync sample. Exact mode decodes from the last sync sample
//! (in decode order) up to the sample shown at the time, keeping only that picture; the
//! container's timestamps say which sample that is, so no reorder window is buffered.
//! Consecutive requests in the same group of pictures continue where decoding stopped.
//! On the way to the target, samples whose pictures nothing references (the decoder says
//! which: `FrameDecoder::droppable`) are read but not decoded.

use crate::config::Mode;
use crate::decode::{FrameDecoder, Want, decoder_for};
use crate::media::{MediaError, Result, Rgb, Sample, VideoTrack};
use std::io::{Read, Seek, SeekFrom};

/// Largest coded sample read (a 8192x8192 intra frame fits).
const MAX_SAMPLE: u32 = 64 << 20;

/// One extracted picture and when it is shown.
#[derive(Debug, Clone)]
pub struct Extracted {
    /// Presentation time of the picture, seconds.
    pub pts_seconds: f64,
    /// Whether the picture is a sync sample.
    pub keyframe: bool,
    /// The picture, as decoded (before rotation and scaling).
    pub rgb: Rgb,
}

/// Extracts pictures from one track.
pub struct Extractor<'t, R> {
    track: &'t VideoTrack,
    reader: R,
    file_size: u64,
    decoder: Box<dyn FrameDecoder>,
    /// Sample indices in presentation order (shown samples only).
    shown: Vec<u32>,
    /// `(keyframe the decoder started from, last sample decoded)`.
    position: Option<(usize, usize)>,
    buf: Vec<u8>,
}

impl<'t, R: Read + Seek> Extractor<'t, R> {
    /// Prepares to extract from `track`, whose bytes `reader` serves.
    pub fn new(track: &'t VideoTrack, reader: R, file_size: u64) -> Result<Self> {
        let decoder = decoder_for(track)?;
        let mut shown: Vec<u32> = (0..track.samples.len() as u32)
            .filter(|&i| track.samples[i as usize].pts >= 0)
            .collect();
        shown.sort_by_key(|&i| (track.samples[i as usize].pts, i));
        if shown.is_empty() {
            return Err(MediaError::invalid(
                "the video has no frame to show (edit list hides them all)",
            ));
        }
        Ok(Extractor {
            track,
            reader,
            file_size,
            decoder,
            shown,
            position: None,
            buf: Vec::new(),
        })
    }

    /// The sample to show for time `t` (seconds) in `mode`, and the keyframe to decode from.
    pub fn choose(&self, t: f64, mode: Mode) -> (usize, usize) {
        let samples = &self.track.samples;
        let ticks = (t * f64::from(self.track.timescale) + 0.5).floor() as i64;
        // Last shown sample with pts <= ticks (or the first one).
        let at = self
            .shown
            .partition_point(|&i| samples[i as usize].pts <= ticks)
            .saturating_sub(1);
        let target = self.shown[at] as usize;
        match mode {
            Mode::Exact => {
                // The last sync sample before the target in decode order that is not shown
                // after it: an open-GOP keyframe (HEVC CRA) does not make the leading
                // pictures that precede it in time decodable.
                let pts = samples[target].pts;
                let start = (0..=target)
                    .rev()
                    .find(|&i| samples[i].keyframe && samples[i].pts <= pts)
                    .unwrap_or(0);
                (target, start)
            }
            Mode::Keyframe => {
                let key = self.shown[..=at]
                    .iter()
                    .rev()
                    .map(|&i| i as usize)
                    .find(|&i| samples[i].keyframe)
                    .or_else(|| {
                        self.shown
                            .iter()
                            .map(|&i| i as usize)
                            .find(|&i| samples[i].keyframe)
                    })
                    .unwrap_or(target);
                (key, key)
            }
        }
    }

    /// Extracts the picture for time `t`. `last`: no extraction follows, so the decoder
    /// may free its state before the picture is converted (a lower peak in the sandbox).
    /// `cancelled` is polled while decoding long runs.
    pub fn extract(
        &mut self,
        t: f64,
        mode: Mode,
        last: bool,
        cancelled: &mut dyn FnMut() -> bool,
    ) -> Result<Extracted> {
        let (target, start) = self.choose(t, mode);
        let s = self.track.samples[target];
        let want = if last {
            Want::LastPicture
        } else {
            Want::Picture
        };
        let rgb = self.decode_until(target, start, want, cancelled)?;
        Ok(Extracted {
            pts_seconds: s.pts as f64 / f64::from(self.track.timescale),
            keyframe: s.keyframe,
            rgb,
        })
    }

    fn decode_until(
        &mut self,
        target: usize,
        start: usize,
        want_target: Want,
        cancelled: &mut dyn FnMut() -> bool,
    ) -> Result<Rgb> {
        let from = match self.position {
            Some((key, last)) if key == start && last < target => last + 1,
            _ => {
                self.decoder.reset();
                self.position = None;
                start
            }
        };
        for i in from..=target {
            if (i - from) % 8 == 7 && cancelled() {
                return Err(MediaError::Cancelled);
            }
            self.read_sample(i)?;
            let pts = self.track.samples[i].pts as f64 / f64::from(self.track.timescale);
            let want = if i == target {
                want_target
            } else {
                Want::Nothing
            };
            // Pictures nothing references are not decoded at all on the way to the target.
            if want == Want::Nothing && self.decoder.droppable(&self.buf) {
                self.position = Some((start, i));
                continue;
            }
            self.decoder.at(i, pts);
            let picture = self.decoder.decode(&self.buf, want).map_err(|e| {
                self.position = None;
                self.at_sample(i, e)
            })?;
            // After the last picture the decoder may have dropped its state.
            self.position = (want != Want::LastPicture).then_some((start, i));
            if want.picture() {
                let rgb = picture.ok_or_else(|| {
                    MediaError::invalid(format!(
                        "sample {target} did not decode to a picture (corrupt stream?)"
                    ))
                })?;
                return Ok(rgb);
            }
        }
        Err(MediaError::invalid("no sample to decode"))
    }

    /// Says which sample (and time) a decoding error belongs to.
    fn at_sample(&self, i: usize, e: MediaError) -> MediaError {
        let pts = self.track.samples[i].pts as f64 / f64::from(self.track.timescale);
        match e {
            MediaError::Invalid(m) => MediaError::Invalid(format!("{m} (frame {i} at {pts:.3} s)")),
            other => other,
        }
    }

    /// Reads sample `i` into `self.buf`, checking it lies inside the file.
    fn read_sample(&mut self, i: usize) -> Result<()> {
        let Sample { offset, size, .. } = self.track.samples[i];
        if size > MAX_SAMPLE {
            return Err(MediaError::invalid(format!(
                "sample {i} claims {size} bytes, more than {MAX_SAMPLE}"
            )));
        }
        let end = offset.saturating_add(u64::from(size));
        if end > self.file_size {
            return Err(MediaError::invalid(format!(
                "frame data of sample {i} lies at bytes {offset}..{end}, past the end of the file ({} bytes): the file is truncated",
                self.file_size
            )));
        }
        self.buf.resize(size as usize, 0);
        self.reader.seek(SeekFrom::Start(offset))?;
        self.reader.read_exact(&mut self.buf)?;
        Ok(())
    }
}
