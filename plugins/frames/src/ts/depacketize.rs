//! Takes a sample's video payload back out of the transport packets it spans, for the
//! codec's decoder (which then sees Annex-B access units, as from any raw stream).

use super::packet::{Packet, PesHeader};
use crate::decode::{FrameDecoder, Want};
use crate::media::{MediaError, Result, Rgb};

/// Gathers the payload of the PES packet that starts a span of transport packets.
pub fn payload(span: &[u8], size: usize, prefix: usize, out: &mut Vec<u8>) -> Result<()> {
    out.clear();
    let mut pid = None;
    for raw in span.chunks_exact(size) {
        let Ok(p) = Packet::parse(&raw[prefix..]) else {
            continue; // lost sync byte: the packet is skipped, as when indexing
        };
        match pid {
            None if p.start => {
                let h = PesHeader::parse(p.payload).ok_or_else(|| {
                    MediaError::invalid("an MPEG-TS video sample does not start with a PES header")
                })?;
                pid = Some(p.pid);
                out.extend_from_slice(&p.payload[h.len..]);
            }
            None => {}
            Some(v) if v != p.pid => {}
            Some(_) if p.start => break, // the next access unit
            Some(_) => out.extend_from_slice(p.payload),
        }
    }
    if pid.is_none() {
        return Err(MediaError::invalid(
            "an MPEG-TS video sample has no packet of its stream (corrupt file?)",
        ));
    }
    Ok(())
}

/// A decoder fed transport packets: takes the payload out, then decodes it.
pub struct Depacketized {
    inner: Box<dyn FrameDecoder>,
    size: usize,
    prefix: usize,
    es: Vec<u8>,
}

impl Depacketized {
    /// Wraps `inner` for packets of `size` bytes with `prefix` bytes before the sync byte.
    pub fn new(inner: Box<dyn FrameDecoder>, size: usize, prefix: usize) -> Self {
        Depacketized {
            inner,
            size,
            prefix,
            es: Vec::new(),
        }
    }
}

impl FrameDecoder for Depacketized {
    fn decode(&mut self, sample: &[u8], want: Want) -> Result<Option<Rgb>> {
        payload(sample, self.size, self.prefix, &mut self.es)?;
        self.inner.decode(&self.es, want)
    }

    fn reset(&mut self) {
        self.inner.reset();
    }

    fn at(&mut self, index: usize, seconds: f64) {
        self.inner.at(index, seconds);
    }

    fn droppable(&mut self, sample: &[u8]) -> bool {
        payload(sample, self.size, self.prefix, &mut self.es).is_ok()
            && self.inner.droppable(&self.es)
    }
}
