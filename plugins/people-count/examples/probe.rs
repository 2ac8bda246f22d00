//! Prints the person detections for images given on the command line (native debugging aid):
//! `cargo run --release --target x86_64-unknown-linux-gnu --example probe -- [--size N] [--threshold T] [--annotate DIR] IMG...`

use people_count::model::{Detector, Params};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut take = |flag: &str, default: &str| -> String {
        match args.iter().position(|a| a == flag) {
            Some(i) => {
                let v = args.remove(i + 1);
                args.remove(i);
                v
            }
            None => default.to_owned(),
        }
    };
    let size: usize = take("--size", "416").parse()?;
    let default_threshold = people_count::run::DEFAULT_THRESHOLD.to_string();
    let threshold: f32 = take("--threshold", &default_threshold).parse()?;
    // Writes each annotated image into this directory, when given.
    let annotate = take("--annotate", "");
    let t = Instant::now();
    let detector = Detector::new(size)?;
    println!("load+optimise: {:?}", t.elapsed());
    for path in args {
        let mut img = people_count::image::decode(&std::fs::read(&path)?)?;
        let t = Instant::now();
        let found = detector.detect(
            &img,
            Params {
                threshold,
                iou: 0.5,
            },
        )?;
        println!(
            "{path}: {}x{}, {:?}, {} boxes >= {threshold}",
            img.width,
            img.height,
            t.elapsed(),
            found.len()
        );
        for d in &found {
            println!(
                "  score {:.3}  x {:.0} y {:.0} w {:.0} h {:.0}",
                d.score, d.x, d.y, d.w, d.h
            );
        }
        if !annotate.is_empty() {
            people_count::draw::draw_boxes(&mut img, &found);
            let name = std::path::Path::new(&path)
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            std::fs::write(
                format!("{annotate}/{name}.jpg"),
                people_count::draw::encode_jpeg(&img, 85)?,
            )?;
        }
    }
    Ok(())
}
