//! Reads its input by range from start to end and reports a checksum.
//! Shows that a small memory cap serves an input of any size.

use framepipe_plugin_sdk::{Context, Descriptor, Plugin, Port, StepError};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

struct Checksum;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// `sha256` (default), `bytesum` (a wrapping sum of the bytes), `xor64` (the XOR of
    /// the input as 64-bit little-endian words, zero-padded: touches every byte at little
    /// cost) or `length` (only reads every byte into guest memory and counts them: the read
    /// path alone). The last three are for benchmarks.
    #[serde(default = "default_algorithm")]
    algorithm: String,
    /// Bytes per host read, 4 KiB to 4 MiB.
    #[serde(default = "default_chunk")]
    chunk_bytes: u32,
}

fn default_algorithm() -> String {
    "sha256".into()
}
fn default_chunk() -> u32 {
    1 << 20
}

impl Plugin for Checksum {
    type Config = Config;

    fn describe() -> Descriptor {
        Descriptor::new(
            "checksum",
            env!("CARGO_PKG_VERSION"),
            "Reads an input by range and reports its checksum.",
        )
        .config_schema(
            r#"{"type":"object","additionalProperties":false,"properties":{
                    "algorithm":{"enum":["sha256","bytesum","xor64","length"]},
                    "chunk_bytes":{"type":"integer","minimum":4096,"maximum":4194304}}}"#,
        )
        .input(Port::new("input", &["*/*"], "The bytes to check."))
        .min_memory_mib(8)
    }

    fn run(ctx: &mut Context, config: Config) -> Result<Value, StepError> {
        if !(4096..=4 << 20).contains(&config.chunk_bytes) {
            return Err(StepError::invalid_input(
                "chunk_bytes must be from 4096 to 4194304",
            ));
        }
        let blob = ctx.input("input")?;
        let size = blob.size();
        let mut sha = Sha256::new();
        let mut sum = 0u64;
        let mut xor = 0u64;
        let mut offset = 0u64;
        let mut reads = 0u64;
        while offset < size {
            let chunk = blob.read_at(offset, config.chunk_bytes as usize)?;
            match config.algorithm.as_str() {
                "sha256" => sha.update(&chunk),
                "bytesum" => {
                    sum = chunk
                        .iter()
                        .fold(sum, |acc, &b| acc.wrapping_add(u64::from(b)))
                }
                "xor64" => xor ^= xor64(&chunk).rotate_left(8 * (offset % 8) as u32),
                "length" => {}
                other => {
                    return Err(StepError::invalid_input(format!(
                        "unknown algorithm `{other}`"
                    )));
                }
            }
            offset += chunk.len() as u64;
            reads += 1;
            if reads.is_multiple_of(64) {
                ctx.progress(offset, size);
                ctx.check_cancelled()?;
            }
        }
        let digest = match config.algorithm.as_str() {
            "sha256" => hex(&sha.finalize()),
            "xor64" => format!("{xor:016x}"),
            "length" => offset.to_string(),
            _ => sum.to_string(),
        };
        Ok(
            json!({ "algorithm": config.algorithm, "bytes": size, "reads": reads, "digest": digest }),
        )
    }
}

/// XOR of `chunk` as little-endian 64-bit words, the last one zero-padded. For a chunk at
/// an offset that is not a multiple of 8, rotating the value left by 8 x (offset mod 8)
/// bits puts every byte where folding the whole input would have put it.
fn xor64(chunk: &[u8]) -> u64 {
    // Eight independent lanes a 64-byte block: wide vector XORs, few loop iterations.
    let blocks = chunk.chunks_exact(64);
    let rest = blocks.remainder();
    let mut lanes = [0u64; 8];
    for block in blocks {
        for (lane, word) in lanes.iter_mut().zip(block.chunks_exact(8)) {
            *lane ^= u64::from_le_bytes(word.try_into().expect("8 bytes"));
        }
    }
    let mut acc = lanes.iter().fold(0, |a, l| a ^ l);
    for word in rest.chunks(8) {
        let mut padded = [0u8; 8];
        padded[..word.len()].copy_from_slice(word);
        acc ^= u64::from_le_bytes(padded);
    }
    acc
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

framepipe_plugin_sdk::export!(Checksum);
