//! One run of the step without the SDK: config in, frames to a sink, result JSON out.
//! The plugin glue gives it the host blob and artifacts; tests give it files.

use crate::config::Config;
use crate::encode::encode;
use crate::extract::Extractor;
use crate::media::{MediaError, VideoTrack};
use serde_json::{Value, json};
use std::io::{Read, Seek};

/// Where the encoded frames go, and who says stop.
pub trait Sink {
    /// The error type of the sink (the plugin's `StepError`).
    type Error: From<MediaError>;
    /// Stores frame `index` of `total` as an artifact.
    fn frame(
        &mut self,
        index: usize,
        total: usize,
        name: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<(), Self::Error>;
    /// True once the job has been cancelled.
    fn cancelled(&mut self) -> bool;
}

/// Opens the video, extracts the frames the config asks for and returns the result JSON.
pub fn run<R: Read + Seek, S: Sink>(
    mut reader: R,
    size: u64,
    config: &Config,
    sink: &mut S,
) -> Result<Value, S::Error> {
    config.validate().map_err(MediaError::invalid)?;
    let mut track = crate::probe::open(&mut reader, size)?;
    let duration = track.duration_seconds();
    let times = config.times(duration).map_err(MediaError::invalid)?;
    crate::probe::index_around(&mut track, &mut reader, size, &times)?;
    if times.len() > config.max_frames as usize {
        return Err(MediaError::invalid(format!(
            "{} frames asked, more than max_frames {}",
            times.len(),
            config.max_frames
        ))
        .into());
    }
    let mut extractor = Extractor::new(&track, reader, size)?;
    let mut frames = Vec::with_capacity(times.len());
    for (i, &t) in times.iter().enumerate() {
        if sink.cancelled() {
            return Err(MediaError::Cancelled.into());
        }
        let last = i + 1 == times.len();
        let got = extractor.extract(t, config.mode, last, &mut || sink.cancelled())?;
        let mut rgb = crate::rotate::rotate(got.rgb, track.rotation);
        if let Some(w) = config.max_width {
            rgb = crate::scale::fit_width(rgb, w);
        }
        let bytes = encode(&rgb, config.format, config.quality)?;
        let name = format!("frame-{i}.{}", config.format.extension());
        sink.frame(i, times.len(), &name, config.format.media_type(), &bytes)?;
        frames.push(json!({
            "artifact": name,
            "requested_seconds": t,
            "pts_seconds": got.pts_seconds,
            "keyframe": got.keyframe,
            "width": rgb.width,
            "height": rgb.height,
        }));
    }
    Ok(describe(&track, frames))
}

/// The result JSON: what the video is, then the frames.
fn describe(track: &VideoTrack, frames: Vec<Value>) -> Value {
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    json!({
        "container": track.container,
        "codec": track.codec.name(),
        "profile": crate::decode::profile(track),
        "duration_seconds": round(track.duration_seconds()),
        "fps": round(track.fps()),
        "width": track.width,
        "height": track.height,
        "rotation": track.rotation,
        "frames": frames,
    })
}
