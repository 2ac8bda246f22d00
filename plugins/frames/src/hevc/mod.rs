//! HEVC (H.265) Main and Main 10 in MP4/MOV (`hvc1`/`hev1`), Matroska (`V_MPEGH/ISO/HEVC`)
//! and MPEG-TS, decoded by the pure-Rust `rusty_h265` 0.6 (4:2:0, 8 and 10 bits; 10-bit
//! pictures are rounded to 8 bits before the RGB conversion, as ffmpeg's `rgb24` output
//! of a `yuv420p10` stream is 8-bit too).
//!
//! **Output order.** Unlike the H.264 decoder used here, `rusty_h265` hands pictures out
//! in output order, after its DPB "bumping", and it finishes a picture (in-loop filters,
//! into the DPB) only when the next picture's first slice arrives. The extractor wants
//! the picture of the sample it just fed, without feeding the following ones (that would
//! decode up to `max_num_reorder` extra pictures). So each sample is pushed with its index
//! as its timestamp, and when its picture is wanted a *finisher* NAL unit follows it: a
//! slice header with `first_slice_segment_in_pic_flag = 1` and an impossible PPS id (255).
//! The decoder finishes the current picture on seeing the flag, then refuses the header
//! without touching any other state, so decoding can go on with the next real sample.
//! The wanted picture is then found by its timestamp, in the output queue or still in the
//! DPB. (`tests` guard this against a decoder upgrade: PSNR against ffmpeg per frame.)
//!
//! **Damage.** `rusty_h265` forbids `unsafe` but may panic on damaged streams; each call
//! runs under the SDK's [`PanicNote`] (the guest's last words then say which frame was
//! damaged, and the host reports `INVALID_INPUT`) and, where unwinding exists (native
//! tests), under `catch_unwind`, which turns the panic into an ordinary error.

pub mod config;
mod picture;

use crate::decode::{FrameDecoder, Want};
use crate::media::{MediaError, Result, Rgb};
use crate::nal::{self, Framing};
use config::{HvcConfig, SPS, SpsInfo, nal_type, temporal_id};
use framepipe_plugin_sdk::PanicNote;
use rusty_h265::{Decoder, Error};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

/// A TRAIL_R slice header: first slice of a picture, then PPS id 255 (`ue` 00000000 1 00000000),
/// which the decoder refuses after finishing the picture before it.
const FINISHER: [u8; 5] = [0x02, 0x01, 0x80, 0x40, 0x01];

/// An HEVC decoder fed MP4/Matroska samples (length-prefixed) or MPEG-TS access units.
pub struct Hevc {
    config: HvcConfig,
    decoder: Option<Box<Decoder>>,
    /// The highest `TemporalId` the SPS allows.
    max_sub_layer: u8,
    /// Index of the sample the next `decode` gets, its timestamp inside the decoder.
    index: usize,
    /// Where the next sample is, for messages.
    at: String,
}

impl Hevc {
    /// A decoder for the stream described by `record` (`hvcC`; empty for Annex-B samples).
    pub fn new(record: &[u8]) -> Result<Self> {
        let config = HvcConfig::parse(record)?;
        if let Some(sps) = &config.sps {
            config::check(sps)?;
        }
        Ok(Hevc {
            max_sub_layer: config.sps.map_or(0, |s| s.max_sub_layer),
            config,
            decoder: None,
            index: 0,
            at: "a frame".into(),
        })
    }

    fn framing(&self) -> Framing {
        self.config
            .length_size
            .map_or(Framing::AnnexB, Framing::Length)
    }

    /// Pushes the NAL units of one sample and, when wanted, finishes its picture and
    /// returns it. Runs under `catch_unwind` (see the module docs).
    fn feed(&mut self, nals: &[&[u8]], want: bool) -> Result<Option<Arc<rusty_h265::Picture>>> {
        let decoder = match &mut self.decoder {
            Some(d) => d,
            None => {
                let mut d = Box::new(Decoder::new());
                for ps in &self.config.parameter_sets {
                    d.push_nal(ps, None).map_err(decode_error)?;
                }
                self.decoder.insert(d)
            }
        };
        let stamp = self.index as i64;
        let mut first_error = None;
        for (i, nal) in nals.iter().enumerate() {
            if let Err(e) = decoder.push_nal(nal, (i == 0).then_some(stamp)) {
                first_error.get_or_insert(e);
            }
        }
        if let Some(e) = first_error {
            return Err(decode_error(e));
        }
        let mut found = None;
        if want {
            // Refused by design (unknown PPS): only its "new picture" flag matters.
            let _ = decoder.push_nal(&FINISHER, None);
        }
        while let Ok(frame) = decoder.next_frame() {
            if want && frame.pts == Some(stamp) {
                found = Some(frame.picture);
            }
        }
        if want && found.is_none() {
            found = decoder
                .dpb()
                .iter()
                .find(|e| e.pts == Some(stamp))
                .map(|e| e.pic.clone());
        }
        Ok(found)
    }
}

fn decode_error(e: Error) -> MediaError {
    match e {
        Error::Unsupported(what) => {
            MediaError::unsupported(format!("HEVC {what} is not supported"))
        }
        Error::Unimplemented(what) => {
            MediaError::unsupported(format!("HEVC {what} is not supported"))
        }
        other => MediaError::invalid(format!("the HEVC data could not be decoded: {other}")),
    }
}

/// Whether a sample holds only pictures no other picture references: sub-layer
/// non-reference slices (TRAIL_N, TSA_N, STSA_N, RADL_N, RASL_N) in the highest temporal
/// sub-layer, so no higher sub-layer can use them either.
pub fn droppable(nals: &[&[u8]], max_sub_layer: u8) -> bool {
    let mut slices = nals.iter().filter(|n| nal_type(n) < 32).peekable();
    slices.peek().is_some()
        && slices.all(|n| {
            let t = nal_type(n);
            t <= 14 && t.is_multiple_of(2) && temporal_id(n) >= max_sub_layer
        })
}

impl FrameDecoder for Hevc {
    fn decode(&mut self, sample: &[u8], want: Want) -> Result<Option<Rgb>> {
        let nals = nal::split(sample, self.framing())?;
        for n in nals.iter().filter(|n| nal_type(n) == SPS) {
            let sps = SpsInfo::parse(n)?;
            config::check(&sps)?;
            self.max_sub_layer = sps.max_sub_layer;
        }
        let fed = {
            let _note = PanicNote::invalid_input(format!(
                "the HEVC stream is damaged: the decoder failed on {}",
                self.at
            ));
            catch_unwind(AssertUnwindSafe(|| self.feed(&nals, want.picture())))
        };
        let picture = match fed {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => {
                // The decoder's state is unknown after an error: start afresh next time.
                self.reset();
                return Err(e);
            }
            Err(_) => {
                self.reset();
                return Err(MediaError::invalid(format!(
                    "the HEVC stream is damaged: the decoder failed on {}",
                    self.at
                )));
            }
        };
        let Some(picture) = picture else {
            return Ok(None);
        };
        if want == Want::LastPicture {
            // The picture is ours now: the DPB and picture pools go before the RGB is made.
            self.reset();
        }
        picture::to_rgb(&picture).map(Some)
    }

    fn reset(&mut self) {
        self.decoder = None;
    }

    fn at(&mut self, index: usize, seconds: f64) {
        self.index = index;
        self.at = format!("frame {index} at {seconds:.3} s");
    }

    fn droppable(&mut self, sample: &[u8]) -> bool {
        nal::split(sample, self.framing())
            .map(|nals| droppable(&nals, self.max_sub_layer))
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn droppable_pictures() {
        let trail_n = [0x00u8, 0x01, 0xaf];
        let trail_r = [0x02u8, 0x01, 0xaf];
        let sei = [0x4eu8, 0x01, 0x05];
        assert!(droppable(&[&sei, &trail_n], 0));
        assert!(!droppable(&[&trail_n, &trail_r], 0));
        assert!(!droppable(&[&sei], 0));
        // A TRAIL_N in sub-layer 0 of a stream with two sub-layers may be referenced.
        assert!(!droppable(&[&trail_n], 1));
    }

    #[test]
    fn finisher_is_a_first_slice_with_an_impossible_pps() {
        assert_eq!(nal_type(&FINISHER), 1);
        let mut b = nal::Bits::new(&FINISHER[2..]);
        assert_eq!(b.bit(), Some(1));
        assert_eq!(b.ue(), Some(255));
    }
}
