//! Peak heap of whole runs, as a proxy for the guest's linear memory (the wasm allocator
//! adds fragmentation and the stack on top): sizes `min_memory_mib` and guards it.

use scene_change::analysis::{Failure, Input, Source, run};
use scene_change::config::Config;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;
static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// One measurement at a time: the counters are global.
static SERIAL: Mutex<()> = Mutex::new(());

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = NOW.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        NOW.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Frames held as encoded JPEG, handed out by name like host blobs read whole.
struct Frames(Vec<Vec<u8>>);

impl Source for Frames {
    type Error = Failure;
    fn read(&mut self, name: &str) -> Result<Vec<u8>, Failure> {
        let i: usize = name[6..name.len() - 4].parse().unwrap();
        Ok(self.0[i].clone())
    }
    fn progress(&mut self, _: usize, _: usize) {}
    fn cancelled(&mut self) -> bool {
        false
    }
}

/// A busy `w x h` frame (so the JPEG is not trivially small), shifted by `t`.
fn jpeg(w: u32, h: u32, t: u32) -> Vec<u8> {
    let rgb: Vec<u8> = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .flat_map(|(x, y)| [(x + t) as u8, (y * 3) as u8, ((x ^ y) + t) as u8])
        .collect();
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 85)
        .encode(&rgb, w as u16, h as u16, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out
}

fn peak_mib(w: u32, h: u32) -> f64 {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut frames = Frames((0..3).map(|t| jpeg(w, h, t * 7)).collect());
    let inputs: Vec<Input> = (0..3)
        .map(|i| Input {
            name: format!("frame-{i}.jpg"),
            media_type: "image/jpeg".into(),
        })
        .collect();
    let base = NOW.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    run(&inputs, &Config::default(), &mut frames).unwrap();
    let peak = (PEAK.load(Ordering::Relaxed) - base) as f64 / (1 << 20) as f64;
    println!("{w}x{h} JPEG frames: peak heap {peak:.2} MiB");
    peak
}

#[test]
fn peak_heap_fits_the_declared_memory() {
    // Measured: 0.23, 2.97 and 25.4 MiB. The pipeline's frames (320 px wide) and 720p fit
    // min_memory_mib (16) with room for the allocator and the stack; the largest picture
    // accepted (3840x2160) fits the 64 MiB that pipeline.toml grants.
    assert!(peak_mib(320, 180) < 1.0);
    assert!(peak_mib(1280, 720) < 6.0);
    assert!(peak_mib(3840, 2160) < 40.0);
}
