//! The `framepipe` binary; everything lives in the library.

fn main() -> std::process::ExitCode {
    framepipe::cli::main()
}
