//! Runs the plugin's whole-video code natively on image files, printing its result JSON:
//! the native side of `bench.sh` (the same `run::run` the component runs in the sandbox).
//! `cargo run --release --target x86_64-unknown-linux-gnu --example native_run -- frame-0.jpg ...`

use std::collections::BTreeMap;

use people_count::run::{self, Config, Failure};

/// Inputs held in memory, named by their file names.
struct Files {
    inputs: BTreeMap<String, Vec<u8>>,
}

impl run::Io for Files {
    type Error = Failure;

    fn input_names(&self) -> Vec<String> {
        self.inputs.keys().cloned().collect()
    }

    fn read(&mut self, name: &str, _limit: u64) -> Result<Vec<u8>, Failure> {
        self.inputs
            .get(name)
            .cloned()
            .ok_or_else(|| Failure::InvalidInput(format!("no input {name}")))
    }

    fn write_artifact(
        &mut self,
        _name: &str,
        _media_type: &str,
        _bytes: &[u8],
    ) -> Result<(), Failure> {
        Ok(())
    }

    fn progress(&mut self, _processed: u64, _total: u64) {}

    fn cancelled(&mut self) -> bool {
        false
    }

    fn warn(&mut self, message: &str) {
        eprintln!("warning: {message}");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut inputs = BTreeMap::new();
    for path in std::env::args().skip(1) {
        let name = std::path::Path::new(&path)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        inputs.insert(name, std::fs::read(&path)?);
    }
    let result = run::run(&mut Files { inputs }, &Config::default()).map_err(|e| format!("{e}"))?;
    println!("{result}");
    Ok(())
}
