//! Panics a plugin can explain: a dependency that aborts on bad input instead of
//! returning an error.
//!
//! A panic in a guest traps the instance, and the host reports `PLUGIN_PANICKED` with the
//! message the guest printed to stderr: right for a bug in the plugin, wrong when the
//! cause is the input. Some libraries panic on damaged input where they should return an
//! error, inside `extern "C"` functions that cannot unwind even natively (rav1d 1.1 does,
//! memorysafety/rav1d#1497), so the plugin cannot catch it. While a [`PanicNote`] lives on
//! the current thread, a panic there prints the note instead of the bare message, marked
//! with [`INVALID_INPUT_MARK`]; the host reports such a run as `INVALID_INPUT` with the
//! note (the panic's own message and place included) as its message. The run still ends
//! as a trap: the instance is gone and nothing after the panic runs.
//!
//! ```ignore
//! let _note = PanicNote::invalid_input(format!("the stream is damaged at {t:.3} s"));
//! decode_with_a_library_that_may_abort(sample); // the note ends with the guard
//! ```
//!
//! Keep notes around the calls that need them only: any panic under a note is reported as
//! the input's fault.

use std::cell::RefCell;
use std::panic::{self, PanicHookInfo};
use std::sync::Once;

/// Starts the message of a panic the host reports as `INVALID_INPUT`. The host recognises
/// it at the start of a panic message (framepipe-runtime, `run.rs`); the two must agree.
pub const INVALID_INPUT_MARK: &str = "[framepipe:invalid-input] ";

thread_local! {
    /// Notes of the live guards, innermost last, each with whether it was printed already.
    static NOTES: RefCell<Vec<(String, bool)>> = const { RefCell::new(Vec::new()) };
}

static INSTALL: Once = Once::new();

/// While alive, a panic on this thread is reported as invalid input with this note.
#[must_use = "the note only applies while the guard lives"]
#[derive(Debug)]
pub struct PanicNote {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl PanicNote {
    /// Reports a panic on this thread, until the guard is dropped, as invalid input:
    /// `<note> (<panic message> at <place>)`.
    pub fn invalid_input(note: impl Into<String>) -> Self {
        INSTALL.call_once(|| {
            let previous = panic::take_hook();
            panic::set_hook(Box::new(move |info| {
                if !print_note(info) {
                    previous(info);
                }
            }));
        });
        NOTES.with(|n| n.borrow_mut().push((note.into(), false)));
        PanicNote {
            _not_send: std::marker::PhantomData,
        }
    }
}

impl Drop for PanicNote {
    fn drop(&mut self) {
        let _ = NOTES.try_with(|n| n.borrow_mut().pop());
    }
}

/// Prints the innermost note for this panic, once; false when there is none to print
/// (no guard, or a second panic such as "panic in a function that cannot unwind").
fn print_note(info: &PanicHookInfo<'_>) -> bool {
    let note = NOTES
        .try_with(|n| {
            let mut notes = n.try_borrow_mut().ok()?;
            let (note, printed) = notes.last_mut()?;
            if *printed {
                return None;
            }
            *printed = true;
            Some(note.clone())
        })
        .ok()
        .flatten();
    let Some(note) = note else {
        return false;
    };
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message");
    let place = info
        .location()
        .map(|l| format!("{}:{}:{}", short_path(l.file()), l.line(), l.column()))
        .unwrap_or_else(|| "an unknown place".into());
    let thread = std::thread::current();
    // The standard hook's layout, which the host parses: "panicked at <place>:" then the message.
    eprintln!(
        "\nthread '{}' panicked at {place}:\n{}\n",
        thread.name().unwrap_or("<unnamed>"),
        marked(&note, message, &place)
    );
    true
}

/// The message printed for a noted panic.
fn marked(note: &str, message: &str, place: &str) -> String {
    format!("{INVALID_INPUT_MARK}{note} ({message} at {place})")
}

/// A source path without the build machine's directories: `rav1d-1.1.0/src/decode.rs`
/// rather than `/root/.cargo/registry/src/index.crates.io-.../rav1d-1.1.0/src/decode.rs`.
fn short_path(file: &str) -> &str {
    match file.find("/registry/src/") {
        Some(at) => {
            let rest = &file[at + "/registry/src/".len()..];
            rest.find('/').map_or(rest, |slash| &rest[slash + 1..])
        }
        None => file,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_lose_the_build_machine() {
        assert_eq!(
            short_path(
                "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/rav1d-1.1.0/src/decode.rs"
            ),
            "rav1d-1.1.0/src/decode.rs"
        );
        assert_eq!(short_path("src/lib.rs"), "src/lib.rs");
    }

    #[test]
    fn the_mark_leads_the_message() {
        assert_eq!(
            marked("the input is damaged", "boom", "x.rs:1:2"),
            "[framepipe:invalid-input] the input is damaged (boom at x.rs:1:2)"
        );
    }

    #[test]
    fn a_noted_panic_is_printed_once_and_the_note_goes_with_its_guard() {
        let result = std::thread::spawn(|| {
            let note = PanicNote::invalid_input("outer");
            let inner = PanicNote::invalid_input("inner");
            drop(inner);
            let caught = panic::catch_unwind(|| panic!("boom"));
            assert!(caught.is_err());
            let printed = NOTES.with(|n| n.borrow().clone());
            drop(note);
            (printed, NOTES.with(|n| n.borrow().len()))
        })
        .join()
        .unwrap();
        assert_eq!(result, (vec![("outer".to_owned(), true)], 0));
    }
}
