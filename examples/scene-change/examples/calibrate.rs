//! Prints the histogram distance and motion of every pair of consecutive frames in
//! directories of JPEG/PNG frames, to choose the default threshold on real pictures.
//!
//! ```text
//! cargo run --release --target x86_64-unknown-linux-gnu --example calibrate -- DIR...
//! ```
//! Frames are named like the `frames` step names them (`frame-0.jpg`, ...); make some
//! with e.g. `ffmpeg -i in.mp4 -vf fps=2,scale=320:-2 -q:v 3 DIR/frame-%d.jpg`
//! (ffmpeg counts from 1; the order is what matters).

use scene_change::analysis::{Failure, Input, Source, run};
use scene_change::config::Config;
use std::path::{Path, PathBuf};

struct Dir(PathBuf);

impl Source for Dir {
    type Error = Failure;
    fn read(&mut self, name: &str) -> Result<Vec<u8>, Failure> {
        std::fs::read(self.0.join(name)).map_err(|e| Failure::Invalid(format!("{name}: {e}")))
    }
    fn progress(&mut self, _: usize, _: usize) {}
    fn cancelled(&mut self) -> bool {
        false
    }
}

fn scores(dir: &Path) -> Vec<(String, f64, f64)> {
    let inputs: Vec<Input> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| Input {
            name: e.unwrap().file_name().to_string_lossy().into_owned(),
            media_type: String::new(),
        })
        .collect();
    // Threshold 0: every pair that differs at all is listed as a "cut" with its distance.
    let config = Config {
        threshold: 0.0,
        ..Config::default()
    };
    let result = run(&inputs, &config, &mut Dir(dir.to_owned())).unwrap();
    let distance = |name: &str| {
        result["cuts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["artifact"] == name)
            .map_or(0.0, |c| c["score"].as_f64().unwrap())
    };
    result["motion"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let name = m["artifact"].as_str().unwrap();
            (
                name.to_owned(),
                distance(name),
                m["score"].as_f64().unwrap(),
            )
        })
        .collect()
}

fn main() {
    for dir in std::env::args().skip(1) {
        let pairs = scores(Path::new(&dir));
        println!("== {dir}: {} frames", pairs.len() + 1);
        for (name, distance, motion) in &pairs {
            println!("{name:>16}  histogram {distance:.4}  motion {motion:.4}");
        }
        let mut sorted: Vec<f64> = pairs.iter().map(|p| p.1).collect();
        sorted.sort_by(f64::total_cmp);
        let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
        println!(
            "histogram distance: median {:.4}, p95 {:.4}, max {:.4}",
            at(0.5),
            at(0.95),
            at(1.0)
        );
    }
}
