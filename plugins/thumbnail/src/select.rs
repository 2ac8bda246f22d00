//! Choosing the thumbnail: candidates best first, the HTTP status trusted, the bytes
//! checked. Behind [`Fetch`], so the whole decision is tested natively.

use crate::config::{Candidate, Config, Format};
use crate::picture::{self, Picture};
use framepipe_plugin_sdk::{ErrorKind, StepError};
use serde::Serialize;

/// Largest thumbnail body read; YouTube's are 20-200 KB, maxres rarely over 1 MB.
pub const MAX_BODY_BYTES: usize = 8 << 20;

/// Prefix of the message when no thumbnail exists, so runners and clients can tell it
/// apart from other `unsupported` failures (the WIT `step-error` has no code field).
pub const NO_THUMBNAIL: &str = "NO_THUMBNAIL";

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// HTTP status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// The host's outbound policy refused it; the same request will be refused again.
    Refused(String),
    /// The network failed (DNS, connection, timeout, body cut): may work later.
    Failed(String),
}

/// What the selection needs from the outside world.
pub trait Fetch {
    /// GETs `url`.
    fn get(&mut self, url: &str) -> Result<Fetched, FetchError>;
    /// Records a warning in the job's log.
    fn warn(&mut self, _message: &str) {}
    /// True once the job has been cancelled.
    fn cancelled(&mut self) -> bool {
        false
    }
}

/// One URL tried and the status it answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    /// The URL.
    pub url: String,
    /// Its HTTP status.
    pub status: u16,
}

/// The chosen thumbnail.
#[derive(Debug, Clone)]
pub struct Selection {
    /// The candidate whose URL answered with an image.
    pub candidate: Candidate,
    /// The bytes, as served.
    pub bytes: Vec<u8>,
    /// The decoded picture.
    pub picture: Picture,
    /// Whether it is a 16:9 video letterboxed into 4:3.
    pub letterboxed: bool,
    /// Every URL tried, the chosen one last.
    pub tried: Vec<Attempt>,
}

impl Selection {
    /// The format of the bytes (which is what the artifact is written as).
    pub fn format(&self) -> Format {
        self.picture.format
    }

    /// The step's result document.
    pub fn result(&self) -> serde_json::Value {
        serde_json::json!({
            "method": "thumbnail",
            "size": self.candidate.size,
            "source_url": self.candidate.url,
            "format": self.format().name(),
            "width": self.picture.width,
            "height": self.picture.height,
            "letterboxed": self.letterboxed,
            "bytes": self.bytes.len(),
            "tried": self.tried,
        })
    }
}

/// Why no thumbnail was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectError {
    /// The outbound policy refused a request: a configuration error, not a skip.
    Refused {
        /// The refused URL.
        url: String,
        /// The host's reason.
        message: String,
    },
    /// A request failed on the network; the rest would likely fail the same way.
    Unreachable {
        /// The URL that failed.
        url: String,
        /// What happened.
        message: String,
    },
    /// Some URLs answered 5xx (or 429/408) and none gave an image: maybe later.
    ServerErrors {
        /// Every URL tried.
        tried: Vec<Attempt>,
    },
    /// Every URL answered "missing" (or with bytes that are not an image).
    NoThumbnail {
        /// The video.
        video_id: String,
        /// Every URL tried.
        tried: Vec<Attempt>,
        /// How many 200 answers were not images.
        undecodable: usize,
    },
    /// The job was cancelled between requests.
    Cancelled,
}

impl From<SelectError> for StepError {
    fn from(e: SelectError) -> Self {
        match e {
            SelectError::Refused { url, message } => {
                StepError::invalid_input(format!("request to {url} refused: {message}"))
            }
            SelectError::Unreachable { url, message } => {
                StepError::unavailable(format!("fetching {url} failed: {message}"))
            }
            SelectError::ServerErrors { tried } => {
                let failing: Vec<String> = tried
                    .iter()
                    .filter(|a| transient(a.status))
                    .map(|a| format!("{} ({})", a.url, a.status))
                    .collect();
                StepError::unavailable(format!(
                    "no thumbnail found and the server failed on {}: try again later",
                    failing.join(", ")
                ))
            }
            SelectError::NoThumbnail {
                video_id,
                tried,
                undecodable,
            } => {
                let not_images = if undecodable > 0 {
                    format!(" ({undecodable} answered 200 with bytes that are not an image)")
                } else {
                    String::new()
                };
                StepError::new(
                    ErrorKind::Unsupported,
                    format!(
                        "{NO_THUMBNAIL}: video {video_id} has no thumbnail: none of {} URLs served one{not_images}",
                        tried.len()
                    ),
                )
            }
            SelectError::Cancelled => StepError::cancelled(),
        }
    }
}

/// Statuses that say "not now" rather than "not here".
fn transient(status: u16) -> bool {
    status >= 500 || status == 429 || status == 408
}

/// Tries the config's candidates in order and returns the first that answers 200 with
/// bytes that decode as an image.
///
/// - a non-200 means "missing, try the next" (YouTube answers 404 with a valid 120x90
///   placeholder image, so the body of a non-200 is never looked at);
/// - a 200 whose bytes do not decode is skipped with a warning;
/// - a refused request ends the selection with [`SelectError::Refused`];
/// - a network failure ends it with [`SelectError::Unreachable`].
pub fn select(config: &Config, fetch: &mut dyn Fetch) -> Result<Selection, SelectError> {
    let mut tried = Vec::new();
    let mut undecodable = 0;
    for candidate in config.candidates() {
        if fetch.cancelled() {
            return Err(SelectError::Cancelled);
        }
        let response = match fetch.get(&candidate.url) {
            Ok(response) => response,
            Err(FetchError::Refused(message)) => {
                return Err(SelectError::Refused {
                    url: candidate.url,
                    message,
                });
            }
            Err(FetchError::Failed(message)) => {
                return Err(SelectError::Unreachable {
                    url: candidate.url,
                    message,
                });
            }
        };
        tried.push(Attempt {
            url: candidate.url.clone(),
            status: response.status,
        });
        if response.status != 200 {
            if transient(response.status) {
                fetch.warn(&format!(
                    "{} answered {}; trying the next size",
                    candidate.url, response.status
                ));
            }
            continue;
        }
        match picture::decode(&response.body) {
            Ok(picture) => {
                if picture.format != candidate.format {
                    fetch.warn(&format!(
                        "{} served {} bytes; keeping them as {}",
                        candidate.url,
                        picture.format.name(),
                        picture.format.name()
                    ));
                }
                let letterboxed = picture::is_letterboxed(&picture);
                return Ok(Selection {
                    candidate,
                    bytes: response.body,
                    picture,
                    letterboxed,
                    tried,
                });
            }
            Err(why) => {
                undecodable += 1;
                fetch.warn(&format!(
                    "{} answered 200 but is not an image ({why}); trying the next",
                    candidate.url
                ));
            }
        }
    }
    if tried.iter().any(|a| transient(a.status)) {
        return Err(SelectError::ServerErrors { tried });
    }
    Err(SelectError::NoThumbnail {
        video_id: config.video_id.clone(),
        tried,
        undecodable,
    })
}

#[cfg(test)]
#[path = "select_tests.rs"]
mod tests;
