//! Test helpers: synthetic frames encoded in memory and a source over them.

use crate::analysis::{Failure, Input, Source};

/// Size of the synthetic frames (a 320x180 frame halved).
pub const W: u32 = 160;
/// Height of the synthetic frames.
pub const H: u32 = 90;

/// `w x h` RGB of one colour.
pub fn solid(w: u32, h: u32, colour: [u8; 3]) -> Vec<u8> {
    colour.repeat(w as usize * h as usize)
}

/// A frame of `w x h`: the colour at each pixel from `paint(x, y)`.
pub fn paint(w: u32, h: u32, paint: impl Fn(u32, u32) -> [u8; 3]) -> Vec<u8> {
    (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .flat_map(|(x, y)| paint(x, y))
        .collect()
}

/// Baseline JPEG of a `w x h` RGB frame, quality 85, 4:2:0 (what `frames` writes).
pub fn jpeg(rgb: &[u8], w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut out, 85);
    enc.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
    enc.encode(rgb, w as u16, h as u16, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out
}

fn png_encode(data: &[u8], w: u32, h: u32, color: png::ColorType) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(color);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().unwrap();
    writer.write_image_data(data).unwrap();
    writer.finish().unwrap();
    out
}

/// 8-bit greyscale PNG of one level.
pub fn png_grey(w: u32, h: u32, level: u8) -> Vec<u8> {
    png_encode(
        &vec![level; (w * h) as usize],
        w,
        h,
        png::ColorType::Grayscale,
    )
}

/// 8-bit RGB PNG.
pub fn png_rgb(rgb: &[u8], w: u32, h: u32) -> Vec<u8> {
    png_encode(rgb, w, h, png::ColorType::Rgb)
}

/// Inputs held in memory, in the order given; counts progress and can cancel.
#[derive(Default)]
pub struct Memory {
    pub inputs: Vec<(String, String, Vec<u8>)>,
    pub progress: Vec<(usize, usize)>,
    pub cancel_after_reads: Option<usize>,
    pub reads: usize,
}

impl Memory {
    /// JPEG frames of `W x H` named `frame-<i>.jpg`.
    pub fn jpegs(frames: &[Vec<u8>]) -> Memory {
        let mut m = Memory::default();
        for (i, f) in frames.iter().enumerate() {
            m.add(&format!("frame-{i}.jpg"), "image/jpeg", jpeg(f, W, H));
        }
        m
    }

    pub fn add(&mut self, name: &str, media_type: &str, bytes: Vec<u8>) {
        self.inputs
            .push((name.to_owned(), media_type.to_owned(), bytes));
    }

    pub fn names(&self) -> Vec<Input> {
        self.inputs
            .iter()
            .map(|(name, media_type, _)| Input {
                name: name.clone(),
                media_type: media_type.clone(),
            })
            .collect()
    }
}

impl Source for Memory {
    type Error = Failure;

    fn read(&mut self, name: &str) -> Result<Vec<u8>, Failure> {
        self.reads += 1;
        let found = self.inputs.iter().find(|(n, _, _)| n == name);
        Ok(found.expect("read of an input not given").2.clone())
    }

    fn progress(&mut self, done: usize, total: usize) {
        self.progress.push((done, total));
    }

    fn cancelled(&mut self) -> bool {
        self.cancel_after_reads.is_some_and(|n| self.reads >= n)
    }
}
