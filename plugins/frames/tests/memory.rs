//! Peak heap of whole runs, as a proxy for the guest's linear memory (the wasm allocator
//! adds fragmentation and the stack on top): sizes `min_memory_mib` and guards it.

mod common;
use common::{Discard, fixture};
use frames::config::Config;
use frames::job::run;
use std::alloc::{GlobalAlloc, Layout, System};
use std::fs::File;
use std::io::BufReader;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;
static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Runs one measurement at a time: the counters are global.
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

fn peak_mib(name: &str, config: &str) -> f64 {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let path = fixture(name);
    let size = std::fs::metadata(&path).unwrap().len();
    let config: Config = serde_json::from_str(config).unwrap();
    // The blob reader of the SDK buffers 256 KiB; BufReader's default 8 KiB is close enough.
    let reader = BufReader::with_capacity(256 << 10, File::open(path).unwrap());
    let base = NOW.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    run(reader, size, &config, &mut Discard).unwrap();
    let peak = (PEAK.load(Ordering::Relaxed) - base) as f64 / (1 << 20) as f64;
    println!("{name} {config:?}: peak heap {peak:.1} MiB");
    peak
}

#[test]
fn exact_1080p_fits_well_under_64_mib() {
    let p = peak_mib(
        "h264-high-1080p.mp4",
        r#"{"mode": "exact", "at_seconds": 9.9}"#,
    );
    assert!(p < 48.0, "1080p exact seek peaked at {p:.1} MiB");
    let p = peak_mib(
        "h264-high-1080p.mp4",
        r#"{"mode": "exact", "count": 5, "format": "png"}"#,
    );
    assert!(p < 48.0, "1080p exact PNG peaked at {p:.1} MiB");
}

#[test]
fn keyframe_720p_is_small() {
    // The decoder's state is freed before the one picture is converted to RGB: 4.7 MiB
    // (7.5 MiB when the RGB picture was allocated beside the decoder's pictures).
    let p = peak_mib("h264-high-720p.mp4", r#"{"at_seconds": 5}"#);
    assert!(p < 6.0, "720p keyframe peaked at {p:.1} MiB");
    peak_mib("vtest-h264.mp4", r#"{"mode": "exact", "at_seconds": 60}"#);
    peak_mib("mjpeg-720p.mkv", r#"{"mode": "exact", "count": 3}"#);
}

#[test]
fn av1_exact_1080p_fits_well_under_64_mib() {
    let p = peak_mib("av1-1080p.mkv", r#"{"mode": "exact", "at_seconds": 9.9}"#);
    assert!(p < 48.0, "1080p AV1 exact seek peaked at {p:.1} MiB");
    let p = peak_mib("av1-720p.mp4", r#"{"at_seconds": 5}"#);
    assert!(p < 24.0, "720p AV1 keyframe peaked at {p:.1} MiB");
}

#[test]
fn hevc_1080p_fits_under_64_mib() {
    // Pictures are 16-bit planes in rusty_h265: 6.2 MB each at 1080p, a DPB of them.
    let p = peak_mib(
        "hevc-main-1080p.mp4",
        r#"{"mode": "exact", "at_seconds": 1.9}"#,
    );
    assert!(p < 56.0, "1080p HEVC exact seek peaked at {p:.1} MiB");
    let p = peak_mib("hevc-main-720p.ts", r#"{"mode": "exact", "count": 3}"#);
    assert!(p < 40.0, "720p HEVC in MPEG-TS peaked at {p:.1} MiB");
    peak_mib("hevc-main10-720p.mkv", r#"{"at_seconds": 3}"#);
}

#[test]
fn hevc_4k_memory_is_measured() {
    // 4K HEVC needs more than the default 64 MiB cap: docs/media.md gives the cap to set.
    let p = peak_mib(
        "hevc-main-2160p.mp4",
        r#"{"mode": "exact", "at_seconds": 0.4}"#,
    );
    assert!(
        p > 64.0 && p < 320.0,
        "4K HEVC exact seek peaked at {p:.1} MiB"
    );
}

#[test]
fn vp8_720p_fits_well_under_64_mib() {
    // Three references and the frame being decoded (1.4 MiB each at 720p), the RGB picture.
    let p = peak_mib("vp8-720p.webm", r#"{"mode": "exact", "at_seconds": 9.9}"#);
    assert!(p < 16.0, "720p VP8 exact seek peaked at {p:.1} MiB");
    let p = peak_mib("vp8-720p.webm", r#"{"at_seconds": 5}"#);
    assert!(p < 12.0, "720p VP8 keyframe peaked at {p:.1} MiB");
}
