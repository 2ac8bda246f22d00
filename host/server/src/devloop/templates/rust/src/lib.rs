//! {{name}}: a framepipe plugin. Counts the bytes and lines of its input, read by range.
//! `count` is the analysis (tested natively by `cargo test`); `plugin` is the glue, built
//! only for WebAssembly (its exports are component-model names a native linker refuses).

/// Byte statistics of everything seen so far.
#[derive(Debug, Default, PartialEq)]
pub struct Counts {
    /// Bytes seen.
    pub bytes: u64,
    /// Newline bytes seen.
    pub lines: u64,
    /// Sum of the byte values.
    pub sum: u64,
}

/// Adds one chunk of the input to `counts`.
pub fn count(chunk: &[u8], counts: &mut Counts) {
    counts.bytes += chunk.len() as u64;
    counts.lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
    counts.sum += chunk.iter().map(|&b| u64::from(b)).sum::<u64>();
}

#[cfg(target_arch = "wasm32")]
mod plugin {
    use super::{Counts, count};
    use framepipe_plugin_sdk::{Context, Descriptor, Plugin, Port, StepError};
    use serde::Deserialize;
    use serde_json::{Value, json};

    struct Step;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Config {
        #[serde(default = "default_chunk")]
        chunk_bytes: usize,
    }

    fn default_chunk() -> usize {
        1 << 20
    }

    impl Plugin for Step {
        type Config = Config;

        fn describe() -> Descriptor {
            Descriptor::new("{{name}}", env!("CARGO_PKG_VERSION"), "Counts the bytes and lines of its input.")
            .config_schema(
                r#"{"type": "object", "additionalProperties": false,
                    "properties": {"chunk_bytes": {"type": "integer", "minimum": 1024, "maximum": 4194304}}}"#,
            )
            .input(Port::new("input", &["*/*"], "Any file, read by range."))
            .min_memory_mib(16)
        }

        fn run(ctx: &mut Context, config: Config) -> Result<Value, StepError> {
            let blob = ctx.input("input")?;
            let (size, mut offset, mut counts) = (blob.size(), 0u64, Counts::default());
            while offset < size {
                ctx.check_cancelled()?;
                let chunk = blob.read_at(offset, config.chunk_bytes)?;
                count(&chunk, &mut counts);
                offset += chunk.len() as u64;
                ctx.progress(offset, size);
            }
            if size == 0 {
                return Err(StepError::invalid_input("EMPTY_INPUT: the input is empty"));
            }
            Ok(
                json!({"bytes": counts.bytes, "lines": counts.lines, "mean_byte": counts.sum as f64 / size as f64}),
            )
        }
    }

    framepipe_plugin_sdk::export!(Step);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_bytes_lines_and_their_sum_across_chunks() {
        let mut c = Counts::default();
        count(b"ab\n", &mut c);
        count(b"c\n", &mut c);
        assert_eq!(
            c,
            Counts {
                bytes: 5,
                lines: 2,
                sum: 97 + 98 + 10 + 99 + 10
            }
        );
    }
}
