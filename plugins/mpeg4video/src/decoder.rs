//! The stream-level decoder: start codes, headers, reference pictures, VOP timing, and
//! which picture a container sample shows.
//!
//! A sample (an AVI chunk, an MP4 sample) may hold headers and several VOPs. DivX and
//! Xvid "packed bitstreams" put a P-VOP and the B-VOP shown before it in one chunk, and
//! a not-coded VOP (N-VOP) placeholder in the next: the sample then shows its last VOP,
//! so the P+B chunk shows the B-VOP and the placeholder shows the P-VOP. Unpacked
//! streams (one VOP per sample) come out the same way: each sample shows its own VOP,
//! and the container's timestamps put them in display order.

use crate::bits::Bits;
use crate::error::{Error, Result};
use crate::header::{Vol, Vop, VopType};
use crate::picture::Picture;
use crate::vop::{Direct, RefFrame, decode_b, decode_reference};

/// Which picture a sample showed.
enum Shown {
    Future,
    B,
}

/// An MPEG-4 Part 2 decoder.
#[derive(Default)]
pub struct Decoder {
    vol: Option<Vol>,
    past: Option<RefFrame>,
    future: Option<RefFrame>,
    b: Option<Picture>,
    /// Seconds counted by `modulo_time_base` (of the last reference, and the one before).
    time_base: i64,
    last_time_base: i64,
    /// Time of the last reference VOP, in ticks.
    last_ref_time: i64,
    /// Ticks between the last two references.
    ref_gap: i64,
    /// Data damaged in the last sample (the picture was concealed).
    damaged: Option<Error>,
    /// Whether the encoder's user data declared a packed bitstream.
    packed: bool,
    /// Largest picture area (pixels) decoded; 0: no limit but [`crate::header::MAX_SIDE`].
    max_area: usize,
}

/// Byte positions of start codes (`00 00 01 xx`): `(position of xx, xx)`.
fn start_codes(data: &[u8]) -> Vec<(usize, u8)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 3 < data.len() {
        if data[i + 2] > 1 {
            i += 3;
        } else if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            out.push((i + 3, data[i + 3]));
            i += 4;
        } else {
            i += 1;
        }
    }
    out
}

impl Decoder {
    /// A decoder that has seen nothing yet.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Reads out-of-band headers (an MP4 `esds` decoder-specific info, AVI `strf` extra
    /// data): the VOL in them applies to the samples.
    pub fn configure(&mut self, headers: &[u8]) -> Result<()> {
        self.decode(headers).map(|_| ())
    }

    /// Refuses VOPs of more than `pixels` (a header claiming a size the container does
    /// not, before pictures of that size are allocated).
    pub fn set_max_area(&mut self, pixels: usize) {
        self.max_area = pixels;
    }

    /// The current VOL, once one was read.
    pub fn vol(&self) -> Option<&Vol> {
        self.vol.as_ref()
    }

    /// Whether the stream's user data says "packed bitstream" (DivX/Xvid).
    pub fn packed(&self) -> bool {
        self.packed
    }

    /// Damage concealed in the last sample decoded, if any.
    pub fn damage(&self) -> Option<&Error> {
        self.damaged.as_ref()
    }

    /// Forgets the reference pictures (before decoding from another keyframe); the VOL
    /// stays.
    pub fn reset(&mut self) {
        self.past = None;
        self.future = None;
        self.b = None;
    }

    /// Decodes one sample and returns the picture it shows, if any (a sample with only
    /// headers shows none).
    pub fn decode(&mut self, data: &[u8]) -> Result<Option<&Picture>> {
        let codes = start_codes(data);
        if codes.is_empty() {
            if data.len() >= 3 && data[0] == 0 && data[1] == 0 && data[2] & 0xfc == 0x80 {
                return Err(Error::unsupported(
                    "MPEG-4 short video header (H.263 baseline) streams are not supported",
                ));
            }
            return Err(Error::invalid("no MPEG-4 start code in the sample"));
        }
        self.damaged = None;
        let mut shown = None;
        for (k, &(at, code)) in codes.iter().enumerate() {
            let end = codes.get(k + 1).map_or(data.len(), |&(next, _)| next - 3);
            let body = &data[(at + 1).min(end)..end];
            match code {
                0x20..=0x2f => {
                    let vol = Vol::parse(&mut Bits::new(body))?;
                    if self
                        .vol
                        .as_ref()
                        .is_some_and(|v| (v.width, v.height) != (vol.width, vol.height))
                    {
                        self.reset();
                    }
                    self.vol = Some(vol);
                }
                0xb2 => self.user_data(body),
                0xb6 => shown = self.vop(body)?.or(shown),
                _ => {}
            }
        }
        Ok(match shown {
            Some(Shown::Future) => self.future.as_ref().map(|f| &f.pic),
            Some(Shown::B) => self.b.as_ref(),
            None => None,
        })
    }

    fn user_data(&mut self, body: &[u8]) {
        // DivX writes "DivX503b1393p"; the trailing 'p' marks a packed bitstream.
        if body.starts_with(b"DivX") {
            let text: Vec<u8> = body.iter().copied().take_while(|&c| c != 0).collect();
            self.packed = text.last() == Some(&b'p');
        }
    }

    fn vop(&mut self, body: &[u8]) -> Result<Option<Shown>> {
        let vol = self.vol.clone().ok_or_else(|| {
            Error::invalid("MPEG-4 VOP before any VOL header (no decoder configuration)")
        })?;
        if self.max_area > 0 && vol.width * vol.height > self.max_area {
            return Err(Error::invalid(format!(
                "the MPEG-4 VOL header claims {}x{} pixels, far more than the container declares",
                vol.width, vol.height
            )));
        }
        let mut b = Bits::new(body);
        let vop = Vop::parse(&mut b, &vol)?;
        let resolution = i64::from(vol.time_resolution);
        let direct = if vop.kind == VopType::B {
            let time = (self.last_time_base + i64::from(vop.seconds)) * resolution
                + i64::from(vop.increment);
            let trb = self.ref_gap - (self.last_ref_time - time);
            Direct {
                trb: trb as i32,
                trd: self.ref_gap as i32,
            }
        } else {
            self.last_time_base = self.time_base;
            self.time_base += i64::from(vop.seconds);
            let time = self.time_base * resolution + i64::from(vop.increment);
            self.ref_gap = time - self.last_ref_time;
            self.last_ref_time = time;
            Direct { trb: 0, trd: 0 }
        };
        if !vop.coded {
            return Ok(self.future.is_some().then_some(Shown::Future));
        }
        match vop.kind {
            VopType::I | VopType::P => {
                let reference = if vop.kind == VopType::P {
                    self.future.as_ref()
                } else {
                    None
                };
                let (frame, damage) = decode_reference(&vol, &vop, &mut b, reference)?;
                self.damaged = damage;
                self.past = self.future.take();
                self.future = Some(frame);
                Ok(Some(Shown::Future))
            }
            VopType::B => {
                let blank;
                let future = match &self.future {
                    Some(f) => f,
                    None => {
                        blank = RefFrame::blank(&vol);
                        &blank
                    }
                };
                let past = self.past.as_ref().unwrap_or(future);
                let (pic, damage) = decode_b(&vol, &vop, &mut b, past, future, direct)?;
                self.damaged = damage;
                self.b = Some(pic);
                Ok(Some(Shown::B))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_start_codes() {
        let d = [0, 0, 1, 0xb6, 5, 0, 0, 0, 1, 0x20, 0, 0, 1];
        assert_eq!(start_codes(&d), vec![(3, 0xb6), (9, 0x20)]);
    }

    #[test]
    fn garbage_is_refused() {
        let mut d = Decoder::new();
        assert!(matches!(d.decode(b"hello"), Err(Error::Invalid(_))));
        assert!(matches!(
            d.decode(&[0, 0, 1, 0xb6, 0]),
            Err(Error::Invalid(_))
        ));
    }
}
